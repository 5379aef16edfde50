# AuthBasicProvider apikey: the key as Basic password (or as user with an
# empty password) under plain AuthType Basic, with curl -u, in a provider
# chain, and through <AuthnProviderAlias>.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use ApiKeyTest qw(create_key htapikey);

plan tests => 17, need(need_module('authn_apikey', 'dbd', 'auth_basic',
                                   'authn_file'),
                       need_cgi, need_lwp);

my $k       = create_key(owner => 'basic', scopes => 'reports');
my $noscope = create_key(owner => 'basic');
my $partner = create_key(owner => 'partner');
my $revoked = create_key(owner => 'basic');
htapikey('revoke', $revoked->{id});

sub env_of {
    return { map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () }
             split /\n/, shift->content };
}

my $cgi = '/basic/cgi/env.pl';
my $r = GET $cgi, username => 'anyone', password => $k->{key};
ok t_cmp($r->code, 200, 'key as the password');
my $env = env_of($r);
ok t_cmp($env->{REMOTE_USER}, $k->{id}, 'REMOTE_USER is the key id');
ok t_cmp($env->{APIKEY_OWNER}, 'basic', 'APIKEY_OWNER is set');
ok t_cmp($env->{HTTP_AUTHORIZATION}, undef, 'Authorization hidden');
ok t_cmp($env->{AUTH_TYPE}, 'Basic', 'AUTH_TYPE stays Basic');

$r = GET $cgi, username => 'x', password => 'not-a-key';
ok t_cmp($r->code, 401, 'not a key: 401');
ok t_cmp($r->header('WWW-Authenticate'), 'Basic realm="basic keys"',
         'with the Basic challenge');
ok t_cmp((GET $cgi, username => 'x', password => $revoked->{key})->code, 401,
         'a revoked key: 401');

# curl -u KEY: (the key as user, empty password), as Stripe's clients do.
my $url = 'http://' . Apache::TestRequest::hostport() . $cgi;
my $out = `curl -s -o /dev/null -w '%{http_code}' -u '$k->{key}:' '$url'`;
ok t_cmp($out, '200', 'curl -u KEY:');
$out = `curl -s -o /dev/null -w '%{http_code}' -u 'x:$k->{key}' '$url'`;
ok t_cmp($out, '200', 'curl -u user:KEY');
$out = `curl -s -o /dev/null -w '%{http_code}' -u 'x:nope' '$url'`;
ok t_cmp($out, '401', 'curl -u with a wrong key');

# A chain: keys, then the password file.
ok t_cmp((GET '/basic/chain/index.txt', username => 'u',
          password => $k->{key})->code, 200, 'chain: a key');
ok t_cmp((GET '/basic/chain/index.txt', username => 'basicuser',
          password => 'secret')->code, 200, 'chain: a password-file user');

# <AuthnProviderAlias apikey partner-keys> with AuthAPIKeyTenant partner.
ok t_cmp((GET '/basic/partner/index.txt', username => 'p',
          password => $partner->{key})->code, 200, 'alias: a partner key');
ok t_cmp((GET '/basic/partner/index.txt', username => 'p',
          password => $k->{key})->code, 401, 'alias: another owner\'s key');

# The Require apikey family works with the provider too.
ok t_cmp((GET '/basic/scope/index.txt', username => 'u',
          password => $k->{key})->code, 200, 'apikey-scope: held');
ok t_cmp((GET '/basic/scope/index.txt', username => 'u',
          password => $noscope->{key})->code, 401,
         'apikey-scope: missing (AuthType Basic answers 401)');
