# Bandwidth per key: htapikey --bandwidth stores it (bad values refused,
# nothing written), htapikey init adds the column to an older store, and
# the module hands it to mod_ratelimit as the request's rate-limit in KiB/s:
# a real transfer takes at least the time the bandwidth implies; a key
# without one, or granted by another provider, gets no rate-limit; a
# section's own rate-limit is a ceiling; internal redirects keep it; a
# custom query's bandwidth column works; a bad value in the store is logged
# and not applied; the look-up cache keeps it.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_debug t_start_error_log_watch
                        t_finish_error_log_watch);
use File::Path qw(make_path);
use File::Spec;
use LWP::UserAgent;
use Time::HiRes qw(time);
use ApiKeyTest qw(create_key htapikey store_sql scratch_store drop_store);
use ApiKeyServer;

plan tests => 40, need(need_module('authn_apikey', 'dbd', 'ratelimit',
                                   'headers', 'rewrite', 'authz_user'),
                       need_lwp);

# The files served: one small enough for mod_ratelimit's first chunk, one
# of 64 KiB.
my $dir = File::Spec->catdir(Apache::Test::vars('documentroot'), 'bandwidth');
make_path("$dir/capped", "$dir/loose", "$dir/anyuser");
for my $f (['small.txt', "small\n"], ['big.bin', 'x' x 65536],
           ['capped/small.txt', "small\n"], ['loose/small.txt', "small\n"],
           ['anyuser/small.txt', "small\n"]) {
    open(my $fh, '>', "$dir/$f->[0]") or die "$dir/$f->[0]: $!";
    print $fh $f->[1];
    close $fh;
}

sub get {
    my ($path, $key) = @_;
    return GET $path, ($key ? ('X-API-Key' => $key) : ());
}
sub rate_of {
    my $r = get(@_);
    return $r->code != 200 ? 'status ' . $r->code
                           : $r->header('X-Rate-Limit') // 'none';
}
sub count_keys {
    my ($rc, $out) = htapikey('--json', 'list');
    die "list: $rc" if $rc;
    return scalar(() = $out =~ /"id":/g);
}

# ---- htapikey: values stored as given, bad ones refused ----
my $k16 = create_key(owner => 'bw', bandwidth => '16KiB/s');
my ($rc, $out, $err) = htapikey('--json', 'show', $k16->{id});
ok t_cmp($out, qr/"bandwidth":"16KiB\/s"/, 'show --json: the bandwidth');

my $before = count_keys();
my @refused;
for my $bad ('1000B/s', '0KiB/s', '64kB/s', '2GiB/s', '16 KiB/s', '16kib/s',
             'none', '16') {
    ($rc, $out, $err) = htapikey('create', '--owner', 'bw',
                                 '--bandwidth', $bad);
    push @refused, "$bad: exit $rc, $err"
        unless $rc == 2 && index($err, "--bandwidth '$bad'") >= 0;
}
ok t_cmp("@refused", '', 'create refuses each bad bandwidth, exit 2, '
         . 'naming the value');
ok t_cmp(count_keys(), $before, '... and writes nothing');
($rc, $out, $err) = htapikey('create', '--owner', 'bw', '--bandwidth',
                             '1023B/s');
ok t_cmp($err, qr/less than 1 KiB\/s/,
         'under 1 KiB/s: refused, the message says so');
($rc, $out, $err) = htapikey('update', $k16->{id}, '--bandwidth', '3GiB/s');
ok t_cmp($rc, 2, 'update with a bad bandwidth: exit 2');
($rc, $out) = htapikey('--json', 'show', $k16->{id});
ok t_cmp($out, qr/"bandwidth":"16KiB\/s"/, '... the key unchanged');
($rc, $out, $err) = htapikey('list', '--bandwidth', '16KiB/s');
ok t_cmp($rc, 2, 'list does not take --bandwidth');

my $rounded = create_key(owner => 'bw', bandwidth => '2047B/s');
($rc, $out) = htapikey('show', $rounded->{id});
ok t_cmp($out, qr/^bandwidth:  2047B\/s \(1 KiB\/s to mod_ratelimit\)$/m,
         'show: what a rounded value becomes');
($rc, $out) = htapikey('--format', 'tsv', 'show', $rounded->{id});
my ($hdr, $line) = split /\n/, $out;
my %tsv;
@tsv{split /\t/, $hdr, -1} = split /\t/, $line, -1;
ok t_cmp($tsv{bandwidth}, '2047B/s', 'show --format tsv: the bandwidth');

# ---- a real transfer: 64 KiB at 16 KiB/s ----
# mod_ratelimit sends a chunk of a fifth of the rate, then sleeps 200 ms
# before each next one (no rate-initial-burst here): 64 KiB at 16 KiB/s
# takes at least 64/16 s less one interval.  A lower bound only: a slow
# machine is only slower.
my $t0 = time;
my $r = get('/bandwidth/big.bin', $k16->{key});
my $took = time - $t0;
t_debug(sprintf('64 KiB at 16 KiB/s took %.2f s', $took));
ok t_cmp($r->code, 200, 'the big file with a 16 KiB/s key');
ok t_cmp(length($r->content), 65536, '... whole');
ok t_cmp($r->header('X-Rate-Limit'), 16, '... rate-limit 16');
my $least = 65536 / (16 * 1024) - 0.2 - 0.05;
ok t_cmp($took >= $least ? 1 : sprintf('%.2f s', $took), 1,
         "... and took at least $least s");

my $free = create_key(owner => 'bw');
$r = get('/bandwidth/big.bin', $free->{key});
ok t_cmp($r->code, 200, 'the big file with a key without bandwidth');
ok t_cmp(length($r->content), 65536, '... whole');
ok t_cmp($r->header('X-Rate-Limit') // 'none', 'none',
         '... and no rate-limit set');

# ---- which value: rounding, the section's own rate-limit ----
ok t_cmp(rate_of('/bandwidth/small.txt', $rounded->{key}), 1,
         '2047B/s: rate-limit 1, rounded down');
my $k2 = create_key(owner => 'bw', bandwidth => '2KiB/s');
my $k1m = create_key(owner => 'bw', bandwidth => '1MiB/s');
ok t_cmp(rate_of('/bandwidth/small.txt', $k1m->{key}), 1024,
         '1MiB/s: rate-limit 1024');
ok t_cmp(rate_of('/bandwidth/capped/small.txt', $k16->{key}), 4,
         'SetEnv rate-limit 4 is a ceiling: a 16 KiB/s key gets 4');
ok t_cmp(rate_of('/bandwidth/capped/small.txt', $k2->{key}), 2,
         '... a 2 KiB/s key lowers it to 2');
ok t_cmp(rate_of('/bandwidth/loose/small.txt', $k16->{key}), 16,
         'SetEnv rate-limit 1024: a 16 KiB/s key gets 16');
ok t_cmp(rate_of('/bandwidth/loose/small.txt', $free->{key}), 1024,
         '... a key without bandwidth the section\'s 1024');
ok t_cmp(rate_of('/bandwidth/anyuser/small.txt', $k16->{key}), 'none',
         'Require valid-user, not an apikey provider: no rate-limit (as no '
         . 'rate limit or quota)');
ok t_cmp(rate_of('/bandwidth/small.txt', undef), 'status 401',
         'no key: 401, no rate-limit to speak of');

# ---- internal redirects ----
ok t_cmp(rate_of('/bandwidth/', $k16->{key}), 16,
         'DirectoryIndex (a fast redirect): the key\'s rate-limit');
ok t_cmp(rate_of('/bandwidth/again', $k16->{key}), 16,
         'a RewriteRule in the directory (an internal redirect): the same');

# ---- an internal redirect httpd does not authenticate again ----
# The main server's modules (mod_perl among them) register auth hooks per
# URI, so httpd judges every internal redirect again.  On a server whose
# hooks are all per configuration, a redirect to the same configuration
# copies r->user and runs no auth hook: the key's bandwidth must follow.
my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
my $docs = Apache::Test::vars('t_logs') . '/srv-bandwidth/htdocs';
my $srv = ApiKeyServer->new(name => 'bandwidth', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => <<"CONF");
LoadModule ratelimit_module $lib/mod_ratelimit.so
LoadModule headers_module $lib/mod_headers.so
LoadModule rewrite_module $lib/mod_rewrite.so
<Directory $docs>
    SetOutputFilter RATE_LIMIT
    Header always set X-Rate-Limit "%{rate-limit}e" env=rate-limit
    RewriteEngine On
    RewriteRule ^again\\.txt\$ index.txt
</Directory>
CONF
ok $srv->start;
my $ua = LWP::UserAgent->new(timeout => 30);
my @got = map {
    my $r = $ua->get($srv->url($_), 'X-API-Key' => $k16->{key});
    $r->code . ' ' . ($r->header('X-Rate-Limit') // 'none')
} '/index.txt', '/again.txt';
ok t_cmp($got[0], '200 16', 'a private server: the key\'s rate-limit');
ok t_cmp($got[1], '200 16', '... and after a RewriteRule\'s internal '
         . 'redirect to the same configuration');
$srv->stop;

# ---- update: change and clear ----
my $ku = create_key(owner => 'bw', bandwidth => '8KiB/s');
($rc) = htapikey('update', $ku->{id}, '--bandwidth', '3MiB/s');
ok t_cmp(rate_of('/bandwidth/small.txt', $ku->{key}), 3072,
         'update --bandwidth 3MiB/s: rate-limit 3072');
($rc, $out) = htapikey('update', $ku->{id}, '--bandwidth', 'none');
ok t_cmp($out, qr/^bandwidth:  none$/m, 'update --bandwidth none clears it');
ok t_cmp(rate_of('/bandwidth/small.txt', $ku->{key}), 'none',
         '... and the key gets no rate-limit');

# ---- a bad value in the store: logged, not applied ----
my $kbad = create_key(owner => 'bw');
store_sql("UPDATE apikey SET bandwidth = '500B/s' WHERE id = '$kbad->{id}'");
t_start_error_log_watch();
my $rate = rate_of('/bandwidth/small.txt', $kbad->{key});
my @log = grep { /APIKEY00070/ } t_finish_error_log_watch();
ok t_cmp($rate, 'none', 'a bandwidth of 500B/s from the store: served, '
         . 'no rate-limit');
ok t_cmp(scalar(@log) && $log[0] =~ /key \Q$kbad->{id}\E: unreadable bandwidth '500B\/s'/
         ? 1 : "@log", 1, '... APIKEY00070 names the key and the value');

# ---- a custom AuthAPIKeyQuery's bandwidth column ----
my $kq = create_key(owner => 'bw', name => '32KiB/s');
ok t_cmp(rate_of('/bandwidth-query/small.txt', $kq->{key}), 32,
         'AuthAPIKeyQuery: a column named bandwidth');
my $kqbad = create_key(owner => 'bw', name => 'fast');
t_start_error_log_watch();
$rate = rate_of('/bandwidth-query/small.txt', $kqbad->{key});
@log = grep { /APIKEY00070/ } t_finish_error_log_watch();
ok t_cmp("$rate " . scalar(@log), 'none 1',
         '... one it cannot read: served, no rate-limit, APIKEY00070');

# ---- from the look-up cache ----
# Changed behind the cache's back (no change marker moved): a cached record
# still says what the store said when it was cached, which only a record
# that kept the bandwidth can.  The poller may still be taking in the
# marker that creating the key moved (up to two emptyings, each at most
# once), so a round the cache was emptied in is tried again, with a new
# value; a record that does not keep the bandwidth fails every round.
my $kc = create_key(owner => 'bw', bandwidth => '16KiB/s');
Apache::TestRequest::module('apikey_bandwidth_cache');
my ($kept, @rounds);
for my $next (32, 48, 64, 80) {
    my $first = rate_of('/bwcache/small.txt', $kc->{key});
    store_sql("UPDATE apikey SET bandwidth = '${next}KiB/s' "
              . "WHERE id = '$kc->{id}'");
    my $second = rate_of('/bwcache/small.txt', $kc->{key});
    push @rounds, "$first->$second (store $next)";
    if ($first =~ /^\d+$/ && $second eq $first && $first != $next) {
        $kept = 1;
        last;
    }
}
Apache::TestRequest::module('default');
t_debug("look-up cache rounds: @rounds");
ok t_cmp($kept ? 'kept' : "@rounds", 'kept',
         'the look-up cache keeps the bandwidth');

# ---- htapikey init adds the column to an older store ----
my ($drv, $params) = scratch_store();
my @s = ('-d', $drv, '-p', $params);
($rc) = htapikey(@s, 'init');
store_sql('ALTER TABLE apikey DROP COLUMN bandwidth', driver => $drv,
          params => $params);
# (The client's complaint about the missing column is expected.)
my $has = eval { store_sql('SELECT bandwidth FROM apikey', driver => $drv,
                           params => $params); 1 };
ok t_cmp($has ? 'has it' : 'lacks it', 'lacks it',
         'an older store: no bandwidth column');
($rc, $out, $err) = htapikey(@s, 'init');
ok t_cmp($rc, 0, 'htapikey init on it: exit 0');
($rc, $out, $err) = htapikey(@s, '--json', 'create', '--owner', 'old',
                             '--bandwidth', '8KiB/s');
my ($oid) = $out =~ /"id":"([^"]+)"/;
($rc, $out) = htapikey(@s, '--json', 'show', $oid // 'none');
ok t_cmp($out, qr/"bandwidth":"8KiB\/s"/,
         '... which then stores a bandwidth');
drop_store($drv, $params);
