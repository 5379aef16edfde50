# Shared hosting: a tenant's .htaccess sets AuthType APIKey, its sources
# and Require apikey-scope; the server's AuthAPIKeyTenant limits the keys a
# directory accepts to its tenant's owners; a tenant can neither change
# that, nor waive TLS, nor repoint the key store; a virtual host with its
# own store never sees another's keys.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use File::Spec;
use ApiKeyTest qw(create_key htapikey);

plan tests => 21, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $a_read  = create_key(owner => 'tenant-a', scopes => 'shop:read');
my $a_other = create_key(owner => 'tenant-a', scopes => 'shop:write');
my $b_read  = create_key(owner => 'tenant-b', scopes => 'shop:read');
my $b_shop2 = create_key(owner => 'tenant-b-shop2');
my $c_read  = create_key(owner => 'tenant-c', scopes => 'shop:read');
my $a2_read = create_key(owner => 'tenant-a2', scopes => 'shop:read');

sub code {
    my ($path, @h) = @_;
    return (GET "/tenants/$path/index.txt", @h)->code;
}

# Tenant A's .htaccess: its own header, its scope.
ok t_cmp(code('a', 'X-Tenant-Key' => $a_read->{key}), 200,
         'tenant A key with the scope, in the tenant\'s header: 200');
ok t_cmp(code('a', Authorization => "Bearer $a_read->{key}"), 200,
         'and as Bearer');
ok t_cmp(code('a', 'X-API-Key' => $a_read->{key}), 401,
         'the tenant chose its sources: X-API-Key is not read there');
my $r = GET '/tenants/a/index.txt', 'X-Tenant-Key' => $a_other->{key};
ok t_cmp($r->code, 403, 'tenant A key without the scope: 403');
ok t_cmp($r->header('WWW-Authenticate'),
         'Bearer realm="tenant-a", error="insufficient_scope", '
         . 'scope="shop:read"', 'insufficient_scope');

# Another tenant's key, even with the right scope, is no key here.
t_start_error_log_watch();
$r = GET '/tenants/a/index.txt', 'X-Tenant-Key' => $b_read->{key};
ok t_cmp($r->code, 401, 'tenant B key in tenant A: 401');
ok t_cmp($r->header('WWW-Authenticate'),
         'Bearer realm="tenant-a", error="invalid_token"',
         'the same answer as an unknown key');
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00017/ } @log), 1,
         'the error log says the owner is outside AuthAPIKeyTenant');

# A near name is another owner: AuthAPIKeyTenant tenant-a is no prefix.
ok t_cmp(code('a', 'X-Tenant-Key' => $a2_read->{key}), 401,
         'tenant-a2\'s key in tenant A (AuthAPIKeyTenant tenant-a): 401');

# Owner prefixes.
ok t_cmp(code('b', 'X-API-Key' => $b_shop2->{key}), 200,
         'tenant-b-* admits tenant-b-shop2');
ok t_cmp(code('b', 'X-API-Key' => $c_read->{key}), 401,
         'tenant-c is not tenant-b-*');

# What a tenant cannot do in .htaccess: 500, and the reason logged.
for my $case (['tenant', qr/AuthAPIKeyTenant not allowed here/],
              ['tls', qr/AuthAPIKeyRequireTLS Off is not allowed in .htaccess/],
              ['dbd', qr/DBDParams not allowed here/]) {
    my ($dir, $why) = @$case;
    t_start_error_log_watch();
    ok t_cmp(code("evil/$dir", 'X-API-Key' => $a_read->{key}), 500,
             "evil/$dir: refused");
    @log = t_finish_error_log_watch();
    ok t_cmp(scalar(grep { $_ =~ $why } @log), 1, "evil/$dir: logged");
}

# A tenant may require TLS.
ok t_cmp(code('strict', 'X-API-Key' => $a_read->{key}), 403,
         'a tenant\'s own AuthAPIKeyRequireTLS On applies');

# A virtual host with its own key store.
my $tenant_db = File::Spec->catfile(Apache::Test::vars('serverroot'),
                                    'data', 'tenant.db');
my ($rc, $out) = htapikey('-p', $tenant_db, '--json', 'create',
                          '--owner', 'own');
my ($own) = $out =~ /"key":"([^"]+)"/;
Apache::TestRequest::module('apikey_tenant_vhost');
ok t_cmp((GET '/own/index.txt', 'X-API-Key' => $own)->code, 200,
         'own store: its key works');
ok t_cmp((GET '/own/index.txt', 'X-API-Key' => $a_read->{key})->code, 401,
         'own store: a key of the main store is unknown');
Apache::TestRequest::module('default');
ok t_cmp((GET '/tenants/b/index.txt', 'X-API-Key' => $own)->code, 401,
         'main store: the own store\'s key is unknown');
