# The Require apikey family: scopes, ids and owners, alone and combined
# with RequireAll/Any/None, Require not, Require ip, aliases, AuthMerging,
# AuthzSendForbiddenOnFailure, expressions and mod_rewrite.  A valid key
# without the scope gets 403 with error="insufficient_scope".
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use ApiKeyTest qw(create_key insert_key);

plan tests => 43, need(need_module('authn_apikey', 'dbd', 'authz_host',
                                   'rewrite'),
                       need_lwp);

my $reader = create_key(owner => 'acme', scopes => 'orders:read');
my $writer = create_key(owner => 'beta corp', scopes => 'orders:write');
my $both   = create_key(owner => 'acme', scopes => 'orders:read orders:write');
my $ro     = create_key(owner => 'gamma', scopes => 'readonly orders:read');
my $banned = create_key(owner => 'delta', scopes => 'banned');
my $admin  = create_key(owner => 'ops', scopes => 'admin orders:read');
my $none   = create_key(owner => 'epsilon');
my $fixed1 = insert_key('fixed-id-0001', owner => 'x');
my $fixed3 = insert_key('fixed-id-0003', owner => 'x');

sub req {
    my ($path, $key, @more) = @_;
    return GET "/scope/$path/index.txt",
        (defined $key ? ('X-API-Key' => (ref $key ? $key->{key} : $key)) : ()),
        @more;
}
sub code { req(@_)->code }

my $insufficient = 'Bearer realm="scope", error="insufficient_scope", '
                 . 'scope="orders:read"';

# apikey-scope: one scope.
ok t_cmp(code('read', $reader), 200, 'scope held: 200');
my $r = req('read', $writer);
ok t_cmp($r->code, 403, 'scope missing: 403');
ok t_cmp($r->header('WWW-Authenticate'), $insufficient,
         'insufficient_scope challenge naming the scope');
$r = req('read');
ok t_cmp($r->code, 401, 'no key: 401');
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer realm="scope"',
         'no key: plain challenge');
ok t_cmp(code('read', 'junk'), 401, 'bad key: 401, not 403');
$r = req('read', $none);
ok t_cmp($r->code, 403, 'a key with no scopes at all: 403');
ok t_cmp($r->header('WWW-Authenticate'), $insufficient,
         'insufficient_scope, as for a key with other scopes');

# apikey-scope with several scopes: any one of them.
ok t_cmp(code('any-of', $reader), 200, 'any-of: first scope');
ok t_cmp(code('any-of', $writer), 200, 'any-of: second scope');
ok t_cmp(code('any-of', $banned), 403, 'any-of: neither');

# RequireAll of two scopes.
ok t_cmp(code('all', $both), 200, 'RequireAll: both scopes');
$r = req('all', $reader);
ok t_cmp($r->code, 403, 'RequireAll: one scope of two');
ok t_cmp($r->header('WWW-Authenticate'),
         'Bearer realm="scope", error="insufficient_scope", '
         . 'scope="orders:write"', 'the challenge names the missing one');

# Require not apikey-scope.
ok t_cmp(code('not', $reader), 200, 'Require not: scope absent');
ok t_cmp(code('not', $ro), 403, 'Require not: scope present');

# RequireNone.
ok t_cmp(code('none', $reader), 200, 'RequireNone: nothing matched');
ok t_cmp(code('none', $banned), 403, 'RequireNone: a banned scope');

# apikey-id.
ok t_cmp(code('id', $fixed1), 200, 'apikey-id: listed id');
ok t_cmp(code('id', $fixed3), 403, 'apikey-id: another id');
ok t_cmp(req('id', $fixed3)->header('WWW-Authenticate'), undef,
         'apikey-id refusal: no challenge');

# apikey-owner, with a quoted owner holding a space.
ok t_cmp(code('owner', $reader), 200, 'apikey-owner: acme');
ok t_cmp(code('owner', $writer), 200, 'apikey-owner: "beta corp"');
ok t_cmp(code('owner', $ro), 403, 'apikey-owner: another owner');

# RequireAny with Require ip: neither the address nor the scope.
ok t_cmp(code('ip-or-scope', $admin), 200, 'RequireAny: scope wins');
ok t_cmp(code('ip-or-scope', $reader), 403, 'RequireAny: neither');
ok t_cmp(code('ip-or-scope'), 401, 'RequireAny: no key asks for one');

# <AuthzProviderAlias apikey-scope order-writers orders:write>
ok t_cmp(code('alias', $writer), 200, 'alias: scope held');
ok t_cmp(code('alias', $reader), 403, 'alias: scope missing');

# AuthMerging And.
ok t_cmp(code('merge', $reader), 200, 'parent: orders:read');
ok t_cmp(code('merge/admin', $reader), 403, 'child: also admin needed');
ok t_cmp(code('merge/admin', $admin), 200, 'child: both held');

# AuthzSendForbiddenOnFailure On: the same answer.
$r = req('forbidden-on-failure', $writer);
ok t_cmp($r->code, 403, 'AuthzSendForbiddenOnFailure On: 403');
ok t_cmp($r->header('WWW-Authenticate'), $insufficient,
         'AuthzSendForbiddenOnFailure On: insufficient_scope challenge');

# Key attributes in Require expr.
ok t_cmp(code('expr', $reader), 200, 'Require expr on APIKEY_OWNER: acme');
ok t_cmp(code('expr', $ro), 403, 'Require expr on APIKEY_OWNER: other');
ok t_cmp(code('expr'), 401, 'Require expr: no key asks for one');

# mod_rewrite in a directory context sees the key's environment.
$r = req('rewrite', $reader);
ok t_cmp($r->content, "acme only\n", 'mod_rewrite: acme is rewritten');
$r = req('rewrite', $ro);
ok t_cmp($r->content, "rewrite ok\n", 'mod_rewrite: others are not');

# The key sent as Bearer behaves the same.
$r = GET '/scope/read/index.txt', Authorization => "Bearer $writer->{key}";
ok t_cmp($r->code, 403, 'Bearer key without the scope: 403');
ok t_cmp($r->header('WWW-Authenticate'), $insufficient,
         'Bearer: insufficient_scope challenge');
$r = GET '/scope/read/index.txt', Authorization => "Bearer $reader->{key}";
ok t_cmp($r->code, 200, 'Bearer key with the scope: 200');
ok t_cmp($r->header('WWW-Authenticate'), undef, 'no challenge on success');
