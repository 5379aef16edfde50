# AuthAPIKeyFailureLimit is on by default (120/m burst=60): a client that
# forges well-formed keys (valid checksums, so each one would cost a
# database query) is refused without a look-up once its budget is spent,
# on a server whose configuration never mentions the directive.  What is
# asserted holds whatever the speed of the machine: the burst always
# passes, no more than the burst plus what the refill (2/s) gave for the
# time the requests took, and the refusal comes unless the requests were so
# slow that the refill kept up with them.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use LWP::UserAgent;
use Time::HiRes qw(time);
use ApiKeyTest qw(create_key random_wellformed_key);
use ApiKeyServer;

plan tests => 10, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $burst = 60;
my $per_s = 2;
my $docs = Apache::Test::vars('t_logs') . '/srv-faildefault/htdocs';
my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
my $srv = ApiKeyServer->new(name => 'faildefault', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => <<"CONF");
LoadModule alias_module $lib/mod_alias.so
AuthAPIKeyCacheTimeout 60
# No change-marker poll: its first reading would empty the cache.
AuthAPIKeyRefresh 0
Alias /off $docs
<Location /off>
    AuthAPIKeyFailureLimit off
</Location>
CONF
ok $srv->start;
my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 60);
# A client's own key, known to the look-up cache before the forgeries.
my $own = create_key(owner => 'faildefault');
my $fresh = create_key(owner => 'faildefault');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $own->{key})->code, 200,
         'a good key, now cached');

my ($n401, $first429, $t0) = (0, 0, time);
my $max = 400;
for (1 .. $max) {
    my $r = $ua->get($srv->url, 'X-API-Key' => random_wellformed_key());
    if ($r->code == 429) {
        $first429 = $r;
        last;
    }
    $n401++ if $r->code == 401;
}
my $took = time - $t0;
ok t_cmp($n401 >= $burst ? 1 : 0, 1,
         "the burst of $burst failures is let through (got $n401)");
ok t_cmp($n401 <= $burst + $per_s * $took + 1 ? 1 : 0, 1,
         "no more failures than the burst plus the refill of "
         . sprintf('%.1f s', $took) . " ($n401)");
ok t_cmp($first429 || $max <= $burst + $per_s * $took + 1 ? 1 : 0, 1,
         'then 429, without a look-up (or the requests were too slow for '
         . 'the budget to run out)');
ok t_cmp($first429 ? ($first429->header('Retry-After') // '') : 1,
         qr/^\d+$/, 'with Retry-After');
my $log = $srv->error_log;
ok t_cmp(scalar(() = $log =~ /APIKEY00037: client 127\.0\.0\.1 reached AuthAPIKeyFailureLimit/g),
         $first429 ? 1 : 0, 'logged once');

# While blocked: a key the cache knows costs no look-up and gets in (an
# attacker behind the same NAT or proxy does not lock out its clients);
# one it does not know is refused like any other.
if ($first429) {
    ok t_cmp($ua->get($srv->url, 'X-API-Key' => $own->{key})->code, 200,
             'blocked, a key the look-up cache knows: 200');
    ok t_cmp($ua->get($srv->url, 'X-API-Key' => $fresh->{key})->code, 429,
             'blocked, a good key the cache does not know: 429');
}
else {
    # Too slow for the budget to run out: the refill let everything in.
    ok t_cmp($ua->get($srv->url, 'X-API-Key' => $own->{key})->code, 200,
             'not blocked: the cached key gets in');
    ok t_cmp($ua->get($srv->url, 'X-API-Key' => $fresh->{key})->code, 200,
             'not blocked: the other key too');
}

# Off where the admin says so.
my $r = $ua->get($srv->url('/off/index.txt'), 'X-API-Key' => random_wellformed_key());
ok t_cmp($r->code, 401, 'AuthAPIKeyFailureLimit off: the same client is '
                        . 'looked up again (401)');
$srv->stop;
