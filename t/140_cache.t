# The look-up cache: a cached key costs no database query and keeps working
# while the database is unreadable or locked (uncached keys get 503 with
# Retry-After, quickly); a flood of one unknown key costs one query per
# negative TTL; a key revoked with htapikey stops on every child within the
# refresh interval + 1 s, without a per-request query.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use File::Spec;
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key htapikey insert_key random_wellformed_key);

plan tests => 23, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $cache_db = File::Spec->catfile(Apache::Test::vars('serverroot'), 'data',
                                   'cache.db');
sub cached_key {
    my ($rc, $out) = htapikey('-p', $cache_db, '--json', 'create',
                              '--owner', shift);
    my ($key) = $out =~ /"key":"([^"]+)"/ or die "create: $out";
    return $key;
}
# Status of a request, and how many store look-ups it took.
sub probe {
    my ($host, $path, $key) = @_;
    Apache::TestRequest::module($host);
    t_start_error_log_watch();
    my $r = GET $path, 'X-API-Key' => $key;
    my $queries = grep { /looking the key up in the store/ }
                  t_finish_error_log_watch();
    Apache::TestRequest::module('default');
    return ($r, $queries);
}

my $a = cached_key('a');
my $b = cached_key('b');
my $c = cached_key('c');

# The poller's first look at a store that requests start using empties the
# cache once (a change made before that look could not be told apart):
# use each host's store, then let that look happen.
probe('apikey_cached', '/cached/index.txt', random_wellformed_key());
probe('apikey_refresh', '/refresh/index.txt', random_wellformed_key());
sleep 1.5;

my ($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'first use of a key');
ok t_cmp($q, 1, 'one store query');
($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'second use');
ok t_cmp($q, 0, 'answered from the cache: no query');

# A flood of one unknown key: one query per negative TTL.
my $unknown = random_wellformed_key();
my ($total, $codes) = (0, '');
for (1..20) {
    ($r, $q) = probe('apikey_cached', '/cached/index.txt', $unknown);
    $total += $q;
    $codes .= $r->code == 401 ? '' : $r->code;
}
ok t_cmp($codes, '', '20 requests with an unknown key: all 401');
ok t_cmp($total, 1, 'and one store query in all');

# The database made unreadable: cached keys keep working, others get 503.
chmod 0000, $cache_db or die "chmod: $!";
($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'database unreadable: a cached key still works');
my $t0 = time;
($r, $q) = probe('apikey_cached', '/cached/index.txt', $b);
my $took = time - $t0;
ok t_cmp($r->code, 503, 'database unreadable: an uncached key gets 503');
ok t_cmp($r->header('Retry-After'), '5', 'with Retry-After');
ok t_cmp($took < 5 ? 1 : 0, 1, sprintf('within a bounded time (%.2fs)', $took));
chmod 0600, $cache_db or die "chmod: $!";

# The database locked by another writer (busy): the same, bounded.
open(my $lock, '|-', 'sqlite3', $cache_db) or die "sqlite3: $!";
print $lock "BEGIN EXCLUSIVE;\nSELECT 1;\n";
$lock->flush;
sleep 0.3;
$t0 = time;
($r, $q) = probe('apikey_cached', '/cached/index.txt', $c);
$took = time - $t0;
ok t_cmp($r->code, 503, 'database locked: an uncached key gets 503');
ok t_cmp($took < 5 ? 1 : 0, 1, sprintf('within a bounded time (%.2fs)', $took));
($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'database locked: a cached key still works');
print $lock "COMMIT;\n";
close $lock;
($r, $q) = probe('apikey_cached', '/cached/index.txt', $c);
ok t_cmp($r->code, 200, 'database back: the uncached key works');

# Revocation through the change marker, on every child.  Creating the key
# moved the marker: let the poller see that first.
my $k = create_key(owner => 'revocable');
sleep 1.5;
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $k->{key});
ok t_cmp($r->code, 200, 'a key used on the refresh host');
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $k->{key});
ok t_cmp($q, 0, 'and served from the cache');
htapikey('revoke', $k->{id});
$t0 = time;
my ($ok_after, $requests, $queries) = (undef, 0, 0);
while (time - $t0 < 4) {
    # Fresh connections land on different children.
    my $all = 1;
    for (1..8) {
        ($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $k->{key});
        $all &&= $r->code == 401;
        $requests++;
        $queries += $q;
    }
    if ($all) { $ok_after = time - $t0; last; }
    sleep 0.1;
}
ok t_cmp(defined $ok_after ? 1 : 0, 1, 'the revoked key is refused');
ok t_cmp(defined $ok_after && $ok_after <= 2.0 ? 1 : 0, 1,
         sprintf('on every child within refresh + 1 s (%.2fs)',
                 $ok_after // -1));
ok t_cmp($queries < $requests / 4 ? 1 : 0, 1,
         "without a query per request ($queries queries for $requests requests)");

# A key added behind the cache's back stays unknown (negative entry) until
# the marker moves; then it works.
my $late = random_wellformed_key();
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $late);
ok t_cmp($r->code, 401, 'an unknown key, remembered as unknown');
insert_key('late-0001', owner => 'late', key => $late);
sleep 1.5;
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $late);
ok t_cmp($r->code, 401, 'inserted without the marker: still unknown');
my $other = create_key(owner => 'bump');    # htapikey bumps the marker
$t0 = time;
my $seen;
while (time - $t0 < 4) {
    ($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $late);
    if ($r->code == 200) { $seen = time - $t0; last; }
    sleep 0.1;
}
ok t_cmp(defined $seen ? 1 : 0, 1, 'the marker moved: the key is found');
ok t_cmp(defined $seen && $seen <= 2.0 ? 1 : 0, 1,
         sprintf('within refresh + 1 s (%.2fs)', $seen // -1));
