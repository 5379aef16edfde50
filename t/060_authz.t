# Require apikey beside httpd's own providers: RequireAny with Require ip
# never asks for a key, RequireAll with Require method refuses before any
# key is read, a valid key refused after authentication gets 403, a Basic
# user is not a key, aliases and AuthMerging work.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use ApiKeyTest qw(create_key);

plan tests => 19, need(need_module('authn_apikey', 'dbd', 'authz_host',
                                   'auth_basic', 'authn_file', 'alias'),
                       need_lwp);

my $k = create_key(owner => 'authz');
my %h = ('X-API-Key' => $k->{key});

# RequireAny: Require ip grants in httpd's user-less pass.
my $r = GET '/authz/any-ip/index.txt';
ok t_cmp($r->code, 200, 'RequireAny with Require ip: no key needed');
$r = GET '/authz/any-ip/index.txt', 'X-API-Key' => 'junk';
ok t_cmp($r->code, 200, 'and a bad key is never even looked at');

# RequireAll: the key and the method.  Require method is decided in
# httpd's user-less pass, so a POST is refused (403) before any key is
# asked for, with or without one.
$r = GET '/authz/get-only/index.txt', %h;
ok t_cmp($r->code, 200, 'RequireAll: key and GET');
$r = POST '/authz/get-only/index.txt', %h, content => 'x=1';
ok t_cmp($r->code, 403, 'RequireAll: key but POST is refused (403)');
$r = POST '/authz/get-only/index.txt', content => 'x=1';
ok t_cmp($r->code, 403, 'RequireAll: POST without a key (403)');

# A condition on REMOTE_USER is decided after authentication: a valid
# key refused there gets 403 (sending it again cannot help), without a
# challenge.
$r = GET '/authz/not-this-key/index.txt', %h, 'X-Forbidden-Id' => 'other';
ok t_cmp($r->code, 200, 'Require expr on REMOTE_USER grants');
t_start_error_log_watch();
$r = GET '/authz/not-this-key/index.txt', %h, 'X-Forbidden-Id' => $k->{id};
ok t_cmp($r->code, 403, 'Require expr on REMOTE_USER refuses the key: 403');
ok t_cmp($r->header('WWW-Authenticate'), undef,
         'no challenge: the key itself was fine');
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /AH00571/ } @log), 0,
         'httpd finds our challenge for AuthType APIKey (no AH00571)');

# A Basic user satisfies authentication but is not an API key.
$r = GET '/authz/basic/index.txt', username => 'basicuser',
                                   password => 'secret';
ok t_cmp($r->code, 401, 'Require apikey refuses a user from AuthType Basic');
$r = GET '/authz/basic/index.txt', %h;
ok t_cmp($r->code, 401, 'and AuthType Basic does not read X-API-Key');

# <AuthzProviderAlias apikey any-valid-key>
$r = GET '/authz/alias/index.txt', %h;
ok t_cmp($r->code, 200, 'an alias of apikey grants a key');
$r = GET '/authz/alias/index.txt';
ok t_cmp($r->code, 401, 'an alias of apikey asks for a key');
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer realm="authz"',
         'with our challenge');

# AuthMerging And.
$r = GET '/authz/merge/index.txt', %h;
ok t_cmp($r->code, 200, 'parent: any key');
$r = GET '/authz/merge/strict/index.txt', %h;
ok t_cmp($r->code, 200, 'child with AuthMerging And: key and GET');
$r = POST '/authz/merge/strict/index.txt', %h, content => 'x=1';
ok t_cmp($r->code, 403, 'child with AuthMerging And: POST refused');
$r = GET '/authz/merge/strict/index.txt';
ok t_cmp($r->code, 401, 'child with AuthMerging And: no key refused');
$r = GET '/authz/merge/strict/index.txt', 'X-API-Key' => 'junk';
ok t_cmp($r->header('WWW-Authenticate'),
         'Bearer realm="authz", error="invalid_token"',
         'a bad key under AuthMerging And: invalid_token');
