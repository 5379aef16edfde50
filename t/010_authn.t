# AuthType APIKey end to end: key sources, every rejection reason, and
# the responses a client sees.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use ApiKeyTest qw(create_key htapikey bad_checksum random_wellformed_key
                  store_sql);

plan tests => 32, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $url    = '/authn/index.txt';
my $good   = create_key(owner => 'alice', scopes => 'read write');
my $other  = create_key(owner => 'bob');
my $revoked  = create_key(owner => 'carol');
my $disabled = create_key(owner => 'carol');
my $expiring = create_key(owner => 'dave', expires => '2099-01-01');
my $future   = create_key(owner => 'erin', 'not-before' => '2099-01-01');
(htapikey('revoke', $revoked->{id}))[0] == 0 or die 'revoke failed';
(htapikey('disable', $disabled->{id}))[0] == 0 or die 'disable failed';
# Expire a key by moving its expiry into the past behind htapikey's back
# (htapikey refuses to create an expired key).
store_sql("UPDATE apikey SET expires = 1000 WHERE id = '$expiring->{id}'");

# Accepted keys.
my $r = GET $url, 'X-API-Key' => $good->{key};
ok t_cmp($r->code, 200, 'key in X-API-Key');
ok t_cmp($r->content, "authn ok\n", 'the protected file is served');

$r = GET $url, Authorization => "Bearer $good->{key}";
ok t_cmp($r->code, 200, 'key as Bearer token');

$r = GET $url, Authorization => "bearer $good->{key}";
ok t_cmp($r->code, 200, 'Bearer scheme is case-insensitive');

$r = GET $url, 'X-API-Key' => $good->{key},
               Authorization => "Bearer $good->{key}";
ok t_cmp($r->code, 200, 'the same key in two sources is fine');

# No key: a challenge without an error code (RFC 6750 section 3.1).
$r = GET $url;
ok t_cmp($r->code, 401, 'no key: 401');
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer realm="apikey-test"',
         'no key: Bearer challenge with the AuthName realm');

# Every bad key gets the same response.
my %bad = (
    unknown      => random_wellformed_key(),
    bad_checksum => bad_checksum($good->{key}),
    malformed    => 'not-a-key',
    wrong_length => substr($good->{key}, 0, -1),
    revoked      => $revoked->{key},
    disabled     => $disabled->{key},
    expired      => $expiring->{key},
    not_yet      => $future->{key},
);
my %body;
for my $why (sort keys %bad) {
    my $r = GET $url, 'X-API-Key' => $bad{$why};
    ok t_cmp($r->code, 401, "$why key: 401");
    ok t_cmp($r->header('WWW-Authenticate'),
             'Bearer realm="apikey-test", error="invalid_token"',
             "$why key: invalid_token challenge");
    $body{$why} = $r->content;
}
my @bodies = values %body;
ok t_cmp(scalar(grep { $_ eq $bodies[0] } @bodies), scalar(@bodies),
         'identical bodies whatever the reason');

# Two different keys in one request.
$r = GET $url, 'X-API-Key' => $good->{key},
               Authorization => "Bearer $other->{key}";
ok t_cmp($r->code, 400, 'two different keys: 400');
ok t_cmp($r->header('WWW-Authenticate'),
         'Bearer realm="apikey-test", error="invalid_request"',
         'two different keys: invalid_request');

# "Bearer" without a token is a bad key, not a missing one.
$r = GET $url, Authorization => 'Bearer';
ok t_cmp($r->code, 401, 'Bearer without a token: 401');

# Another scheme is not a key.
$r = GET $url, Authorization => 'Basic dXNlcjpwYXNz';
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer realm="apikey-test"',
         'Basic credentials are not read as a key');

# AuthAPIKeySource header:X-Custom-Key replaces the defaults there.
$r = GET '/authn/custom/index.txt', 'X-Custom-Key' => $good->{key};
ok t_cmp($r->code, 200, 'custom header source');
$r = GET '/authn/custom/index.txt', 'X-API-Key' => $good->{key};
ok t_cmp($r->code, 401, 'default header not read where sources are set');

# No AuthName: no realm in the challenge.
$r = GET '/norealm/index.txt', 'X-API-Key' => 'junk';
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer error="invalid_token"',
         'challenge without AuthName');

# Quotes in AuthName are escaped exactly once.
$r = GET '/quoted/index.txt';
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer realm="say \\"hi\\""',
         'quotes in AuthName escaped once');
