# The look-up cache: a cached key costs no database query and keeps working
# while the database is unreadable or locked (uncached keys get 503 with
# Retry-After, quickly); a flood of one unknown key costs one query per
# negative TTL; a key revoked with htapikey stops on every child within the
# refresh interval + 1 s, without a per-request query.
#
# Nothing here counts on the machine's speed: the poller's runs are waited
# for (it says when it takes in a change, APIKEY00022), bounds are stated
# for the instant a request was sent, whenever it was answered, and the
# cache's 300 s TTLs are far beyond any wait.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_debug t_start_error_log_watch
                        t_finish_error_log_watch);
use File::Spec;
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key htapikey insert_key random_wellformed_key);
use ApiKeyFault qw(sqlite_locker);
use ApiKeyWait qw(patience size_of text_since wait_text);

plan tests => 24, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $cache_db = File::Spec->catfile(Apache::Test::vars('serverroot'), 'data',
                                   'cache.db');
sub cached_key {
    my ($rc, $out) = htapikey('-p', $cache_db, '--json', 'create',
                              '--owner', shift);
    my ($key) = $out =~ /"key":"([^"]+)"/ or die "create: $out";
    return $key;
}
# Status of a request, how many store look-ups it took, and when it was
# sent and answered.
sub probe {
    my ($host, $path, $key) = @_;
    Apache::TestRequest::module($host);
    t_start_error_log_watch();
    my $t0 = time;
    my $r = GET $path, 'X-API-Key' => $key;
    my $t1 = time;
    my $queries = grep { /looking the key up in the store/ }
                  t_finish_error_log_watch();
    Apache::TestRequest::module('default');
    return ($r, $queries, $t0, $t1);
}

# The poller's runs, seen through this test's own store: cache.db's marker
# set to a value no store has, the poller says when it has read it
# ("APIKEY00022: key store of server N changed (marker M)").  Since every
# change empties the whole cache, only where nothing cached matters.
my $elog = File::Spec->catfile(Apache::Test::vars('t_logs'), 'error_log');
my $refresh = 1;    # AuthAPIKeyRefresh (extra.conf.in)
my $witness = 0;
sub poll_seen {
    my $mark = 7_000_000_000_000 + $$ * 1000 + $witness++;
    my $off = size_of($elog);
    system('sqlite3', $cache_db, "UPDATE apikey_meta SET value = $mark "
                                 . "WHERE name = 'version'") == 0
        or die "sqlite3 $cache_db: $?";
    return defined wait_text($elog, $off,
                             qr/APIKEY00022: key store of server \d+ changed \(marker $mark\)/);
}
# Returns once every poll run under way at the call has ended and a whole
# run has begun and ended since (three runs seen in turn: each begins after
# the one before has read cache.db), so that whatever a run would do about
# changes and first looks before the call is done, the cache emptied for
# them.  0 if the poller said nothing within the deadline.
sub settle {
    for (1 .. 3) {
        poll_seen() or return 0;
    }
    return 1;
}
# Probes with key on the refresh host, new connections each (they land on
# different children), until $o{until} answered $o{n} times in a row (or
# the deadline, well under the cache's 300 s).  Returns the probes, each
# [sent, answered, code, queries].
sub probe_until {
    my ($key, %o) = @_;
    my ($deadline, $run, @p) = (time + patience(), 0);
    while (time < $deadline && $run < $o{n}) {
        my ($r, $q, $t0, $t1) = probe('apikey_refresh', '/refresh/index.txt',
                                      $key);
        push @p, [$t0, $t1, $r->code, $q];
        $run = $r->code == $o{until} ? $run + 1 : 0;
    }
    return @p;
}
# Of probes before and after a change made at $at that turns answer $old
# into $new: when the last $old was sent and the first $new answered
# (seconds after $at), and whether an $old came after a $new.
sub turned {
    my ($at, $old, $new, @p) = @_;
    my ($last_old, $first_new, $back);
    for (@p) {
        if ($_->[2] == $old) {
            $last_old = $_->[0] - $at;
            $back = 1 if defined $first_new;
        }
        elsif ($_->[2] == $new) {
            $first_new //= $_->[1] - $at;
        }
    }
    return ($last_old, $first_new, $back);
}

my $a = cached_key('a');
my $b = cached_key('b');
my $c = cached_key('c');

# The poller's first look at a store that requests start using empties the
# cache once (a change made before that look could not be told apart):
# use each host's store, then wait until those looks are done.
probe('apikey_cached', '/cached/index.txt', random_wellformed_key());
probe('apikey_refresh', '/refresh/index.txt', random_wellformed_key());
my $poller = settle()
    or t_debug('the change-marker poller said nothing within ' . patience()
               . ' s');

my ($r, $q, $t0, $t1) = probe('apikey_cached', '/cached/index.txt', $a);
# How long a request with a look-up takes here: the bounds below allow for
# it (a slow machine or valgrind makes every request slower).
my $slowest = $t1 - $t0;
ok t_cmp($r->code, 200, 'first use of a key');
ok t_cmp($q, 1, 'one store query');
($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'second use');
ok t_cmp($q, 0, 'answered from the cache: no query');

# A flood of one unknown key: one query per negative TTL.
my $unknown = random_wellformed_key();
my ($total, $codes) = (0, '');
for (1..20) {
    ($r, $q, $t0, $t1) = probe('apikey_cached', '/cached/index.txt', $unknown);
    $slowest = $t1 - $t0 if $t1 - $t0 > $slowest;
    $total += $q;
    $codes .= $r->code == 401 ? '' : $r->code;
}
ok t_cmp($codes, '', '20 requests with an unknown key: all 401');
ok t_cmp($total, 1, 'and one store query in all');

# The database made unreadable: cached keys keep working, others get 503,
# quickly: within 5 s (the driver's patience with a busy store is 1.5 s),
# and ten times the slowest ordinary request above more where requests are
# slow.
my $bound = 5 + 10 * $slowest;
chmod 0000, $cache_db or die "chmod: $!";
my $elog_off = size_of($elog);
($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'database unreadable: a cached key still works');
($r, $q, $t0, $t1) = probe('apikey_cached', '/cached/index.txt', $b);
my $took = $t1 - $t0;
ok t_cmp($r->code, 503, 'database unreadable: an uncached key gets 503');
ok t_cmp($r->header('Retry-After'), '5', 'with Retry-After');
my $user = getpwuid($<) // '';
my ($said) = text_since($elog, $elog_off) =~ /(APIKEY00004: [^\n]*)/;
ok t_cmp($said // 'nothing',
         qr/can \Q$user\E, the user httpd's children run as, read and write the SQLite file \S*cache\.db\b/,
         'the error log names the SQLite file and the user that could not open it');
ok t_cmp($took < $bound ? 1 : 0, 1,
         sprintf('within a bounded time (%.2f s, bound %.2f s)', $took, $bound));
chmod 0600, $cache_db or die "chmod: $!";

# The database locked by another writer (busy): the same, bounded.
my $locker = sqlite_locker($cache_db);
$locker->{lock}->() or die 'sqlite3: no lock';
($r, $q, $t0, $t1) = probe('apikey_cached', '/cached/index.txt', $c);
$took = $t1 - $t0;
ok t_cmp($r->code, 503, 'database locked: an uncached key gets 503');
ok t_cmp($took < $bound ? 1 : 0, 1,
         sprintf('within a bounded time (%.2f s, bound %.2f s)', $took, $bound));
($r, $q) = probe('apikey_cached', '/cached/index.txt', $a);
ok t_cmp($r->code, 200, 'database locked: a cached key still works');
$locker->{unlock}->();
$locker->{close}->();
($r, $q) = probe('apikey_cached', '/cached/index.txt', $c);
ok t_cmp($r->code, 200, 'database back: the uncached key works');

# Revocation through the change marker, on every child.  Creating the key
# moved the marker: wait until the poller has taken that in (and emptied
# the cache for it).
my $k = create_key(owner => 'revocable');
$poller &&= settle();
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $k->{key});
ok t_cmp($r->code, 200, 'a key used on the refresh host');
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $k->{key});
ok t_cmp($q, 0, 'and served from the cache');
# The bound holds for the instant a request is sent: one sent later than
# refresh + 1 s after the revocation must be refused, however long it then
# takes.  Probes go on until 16 in a row were refused.
htapikey('revoke', $k->{id});
my $revoked = time;
my @p = probe_until($k->{key}, until => 401, n => 16);
my ($last_ok, $first_no, $back) = turned($revoked, 200, 401, @p);
my ($requests, $queries) = (scalar @p, 0);
$queries += $_->[3] for @p;
my $tail = 0;
$tail++ while $tail < @p && $p[-1 - $tail][2] == 401;
ok t_cmp(defined $first_no && !$back && $tail >= 16 ? 1 : 0, 1,
         sprintf('the revoked key is refused (first at %s), and so are the '
                 . '%d requests after', defined $first_no
                 ? sprintf('%.2f s', $first_no) : 'none',
                 $tail ? $tail - 1 : 0));
ok t_cmp(($last_ok // 0) <= $refresh + 1 ? 1 : 0, 1,
         sprintf('on every child within refresh + 1 s: no request sent later '
                 . 'was admitted (the last admitted was sent at %s)',
                 defined $last_ok ? sprintf('%.2f s', $last_ok) : 'none'));
ok t_cmp($queries < $requests / 4 ? 1 : 0, 1,
         "without a query per request ($queries queries for $requests requests)");

# A key added behind the cache's back stays unknown (negative entry) until
# the marker moves; then it works.
my $late = random_wellformed_key();
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $late);
ok t_cmp($r->code, 401, 'an unknown key, remembered as unknown');
insert_key('late-0001', owner => 'late', key => $late);
# Time for a poll or two, had the poller a reason to empty the cache.  (A
# poll that finds nothing changed leaves no trace to wait for; on a slow
# machine fewer polls run here, which makes this check weaker, never
# wrong: nothing but the marker or the 300 s TTL ends the negative entry.)
sleep 2 * $refresh + 0.5;
($r, $q) = probe('apikey_refresh', '/refresh/index.txt', $late);
ok t_cmp($r->code, 401, 'inserted without the marker: still unknown');
my $other = create_key(owner => 'bump');    # htapikey bumps the marker
my $bumped = time;
@p = probe_until($late, until => 200, n => 8);
my ($last_no, $first_ok);
($last_no, $first_ok, $back) = turned($bumped, 401, 200, @p);
ok t_cmp(defined $first_ok && !$back ? 1 : 0, 1,
         sprintf('the marker moved: the key is found (first at %s), and '
                 . 'from then on', defined $first_ok
                 ? sprintf('%.2f s', $first_ok) : 'never'));
ok t_cmp(($last_no // 0) <= $refresh + 1 ? 1 : 0, 1,
         sprintf('within refresh + 1 s: no request sent later was refused '
                 . '(the last refused was sent at %s)',
                 defined $last_no ? sprintf('%.2f s', $last_no) : 'none'));
