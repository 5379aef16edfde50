# AuthAPIKeyFailureLimit: a client address that fails authentication too
# often gets 429 with Retry-After for every request, whatever key it sends,
# and nothing is looked up for it; other clients are unaffected; requests
# without a key, good keys and refusals by authorization cost nothing; an
# IPv6 client is its /64; the budget refills; under AuthBasicProvider the
# refusal is mod_auth_basic's 401 with Retry-After.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use MIME::Base64 qw(encode_base64);
use POSIX qw(ceil);
use Time::HiRes qw(sleep time);
use ApiKeyTest qw(create_key random_wellformed_key bad_checksum);

plan tests => 33, need(need_module('authn_apikey', 'dbd', 'remoteip'),
                       need_lwp);

# The status page of the main server counts the look-up cache's answers
# (hits, negative hits, misses): every key that gets as far as a look-up
# adds one, since the test host has the cache on.
my $main = Apache::TestRequest::hostport();
sub lookups {
    my $c = (GET "http://$main/apikey-status?auto")->content;
    my $n = 0;
    $n += $1 while $c =~ /^Cache(?:Hits|NegativeHits|Misses): (\d+)$/mg;
    return $n;
}

Apache::TestRequest::module('apikey_failures');
my $good = create_key(owner => 'fail');
# Good keys the look-up cache has never seen: a blocked client is refused
# with them (with a key the cache knows it gets in, see
# 235_failure_default.t).  Made at the start: a change to the store may
# empty the cache, never fill it.
my @strangers = map { create_key(owner => 'fail')->{key} } 1 .. 6;
sub stranger { shift @strangers }

sub req {
    my ($ip, $key, $path) = @_;
    $path //= '/fail/index.txt';
    return GET $path, 'X-Forwarded-For' => $ip,
               defined $key ? ('X-API-Key' => $key) : ();
}
sub codes {
    my ($ip, $n, $keyf, $path) = @_;
    return join ' ', map { req($ip, $keyf->(), $path)->code } 1..$n;
}

# What holds whatever the speed of the machine.  A client blocked at its
# first failure's time $t0 (taken before it was sent) under a budget that
# gives one failure back every $every seconds is still blocked unless that
# long has passed since: then a refill may have let this request in.
sub ok_blocked {
    my ($code, $t0, $every, $msg) = @_;
    my $took = time - $t0;
    return ok t_cmp($code, 429, $msg) if $took < $every;
    return ok t_cmp($code, qr/^(?:429|200|401)$/,
                    sprintf('%s (%.1f s since the first failure: a refill '
                            . 'may have come)', $msg, $took));
}

# Three unknown keys, then even the good key is refused.  3/m gives one
# failure back every 20 s.
t_start_error_log_watch();
my $t0 = time;
ok t_cmp(codes('203.0.113.1', 3, \&random_wellformed_key), '401 401 401',
         'three unknown keys: 401 each');
my $before = lookups();
ok t_cmp(req('203.0.113.20', $good->{key})->code, 200,
         'another client\'s good key: 200');
ok t_cmp(lookups(), $before + 1, 'it went through the look-up cache');
$before = lookups();
my $r = req('203.0.113.1', stranger());
ok_blocked($r->code, $t0, 20, 'the fourth request, with a good key: 429');
# The block ends 20 s after the first failure: Retry-After is that, less
# the time gone since, rounded up.
my $ra = $r->header('Retry-After') // -1;
ok t_cmp($ra <= 20 && $ra >= 20 - ceil(time - $t0) ? 1 : 0, 1,
         "Retry-After $ra: one failure's worth of 3/m (20 s) less the "
         . 'time since the first failure');
ok t_cmp($r->header('WWW-Authenticate'), undef, 'no challenge with the 429');
$r = req('203.0.113.1', random_wellformed_key());
ok_blocked($r->code, $t0, 20, 'another unknown key: 429');
ok t_cmp(lookups(), $before, 'nothing was looked up for the blocked client');
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00037: client 203\.0\.113\.1 reached AuthAPIKeyFailureLimit/ } @log),
         1, 'one warning when the client reached the limit');
ok t_cmp(scalar(grep { /APIKEY00036: refused without a look-up: client 203\.0\.113\.1 has too many failed/ } @log),
         2, 'an info line for each refused request');
ok t_cmp(scalar(grep { /\Q$good->{key}\E/ } @log), 0, 'no key in the log');

# Other clients, and other settings.
ok t_cmp(req('203.0.113.2', $good->{key})->code, 200,
         'another client is unaffected');
ok t_cmp(req('203.0.113.1', $good->{key}, '/fail/off/index.txt')->code, 200,
         'AuthAPIKeyFailureLimit off in a sub-location: the blocked client '
         . 'gets in there');

# What does not count.
ok t_cmp(codes('203.0.113.3', 6, sub { undef }), '401 401 401 401 401 401',
         'six requests without a key: 401 each');
ok t_cmp(req('203.0.113.3', $good->{key})->code, 200,
         'and they did not count');
ok t_cmp(codes('203.0.113.4', 6, sub { $good->{key} }),
         '200 200 200 200 200 200', 'a good key, six times');
ok t_cmp(codes('203.0.113.4', 2, \&random_wellformed_key), '401 401',
         'then two unknown keys');
ok t_cmp(req('203.0.113.4', $good->{key})->code, 200,
         'successes did not count: one failure left');

# Malformed keys (bad checksum: no look-up at all) count too.
$t0 = time;
ok t_cmp(codes('203.0.113.5', 3, sub { bad_checksum(random_wellformed_key()) }),
         '401 401 401', 'three keys with a bad checksum');
ok_blocked(req('203.0.113.5', stranger())->code, $t0, 20, 'then 429');

# Two different keys in one request (400) count.
$t0 = time;
ok t_cmp(join(' ', map {
    (GET '/fail/index.txt', 'X-Forwarded-For' => '203.0.113.6',
         'X-API-Key' => $good->{key},
         'Authorization' => 'Bearer ' . random_wellformed_key())->code } 1..3),
    '400 400 400', 'two different keys: 400, three times');
ok_blocked(req('203.0.113.6', stranger())->code, $t0, 20, 'then 429');

# IPv6: the /64 is the client.
$t0 = time;
ok t_cmp(join(' ', map { req("2001:db8::$_", random_wellformed_key())->code } 1..3),
         '401 401 401', 'three failures from three addresses of one /64');
ok_blocked(req('2001:db8::ffff', stranger())->code, $t0, 20,
           'a fourth address of the /64: 429');
ok t_cmp(req('2001:db8:0:1::1', $good->{key})->code, 200,
         'the next /64 is another client');

# The budget refills: 12/m burst=2 gives one failure back every 5 s.  The
# client is let in again, and never before 5 s after its first failure:
# the GCRA's answer for the time the requests really took.
my $fast = '/fail/fast/index.txt';
my $late = stranger();
$t0 = time;
ok t_cmp(codes('203.0.113.7', 2, \&random_wellformed_key, $fast),
         '401 401', '12/m burst=2: two failures');
ok_blocked(req('203.0.113.7', $late, $fast)->code, $t0, 5,
           'then 429');
my $back;
while (time - $t0 < 120) {
    if (req('203.0.113.7', $late, $fast)->code == 200) {
        $back = time - $t0;
        last;
    }
    sleep 0.25;
}
ok t_cmp(defined $back ? 1 : 0, 1, 'the good key gets in again');
ok t_cmp(defined $back && $back >= 5 ? 1 : 0, 1,
         sprintf('not before one failure\'s worth, 5 s (%.2f s)',
                 $back // -1));

# AuthBasicProvider apikey: key-shaped passwords count; the refusal is 401.
sub basic {
    my ($ip, $pw) = @_;
    return GET '/fail/basic/index.txt', 'X-Forwarded-For' => $ip,
        Authorization => 'Basic ' . encode_base64("user:$pw", '');
}
$t0 = time;
ok t_cmp(join(' ', map { basic('203.0.113.8', random_wellformed_key())->code } 1..3),
         '401 401 401', 'Basic: three unknown keys as passwords');
$r = basic('203.0.113.8', stranger());
if (time - $t0 < 20) {
    ok t_cmp($r->code, 401, 'Basic: then the good key is refused too (401: '
             . 'mod_auth_basic\'s answer)');
    ok t_cmp($r->header('Retry-After') ? 1 : 0, 1, 'with Retry-After');
}
else {
    # Over 20 s since the first failure: a refill may have let it in.
    ok t_cmp($r->code, qr/^(?:401|200)$/,
             'Basic: the good key, after a refill may have come');
    ok t_cmp($r->code == 200 || $r->header('Retry-After') ? 1 : 0, 1,
             'a refusal still says when to retry');
}
ok t_cmp(basic('203.0.113.9', $good->{key})->code, 200,
         'Basic: another client with the good key: 200');
