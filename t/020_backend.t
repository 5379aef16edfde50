# What a CGI or SSI backend behind AuthType APIKey sees: the key's id as
# REMOTE_USER and its attributes as APIKEY_* variables.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use ApiKeyTest qw(create_key);

plan tests => 13, need(need_module('authn_apikey', 'dbd', 'include'),
                       need_cgi, need_lwp);

my $k = create_key(owner => 'acme', scopes => 'orders:read orders:write');

sub env_of {
    my %env = map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () } split /\n/, shift;
    return \%env;
}

my $r = GET '/backend/cgi/env.pl', 'X-API-Key' => $k->{key};
ok t_cmp($r->code, 200, 'CGI behind AuthType APIKey runs');
my $env = env_of($r->content);
ok t_cmp($env->{REMOTE_USER}, $k->{id}, 'CGI: REMOTE_USER is the key id');
ok t_cmp($env->{APIKEY_ID}, $k->{id}, 'CGI: APIKEY_ID');
ok t_cmp($env->{APIKEY_OWNER}, 'acme', 'CGI: APIKEY_OWNER');
ok t_cmp($env->{APIKEY_SCOPES}, 'orders:read orders:write',
         'CGI: APIKEY_SCOPES');
ok t_cmp($env->{AUTH_TYPE}, 'APIKey', 'CGI: AUTH_TYPE');

$r = GET '/backend/cgi/env.pl';
ok t_cmp($r->code, 401, 'CGI is not run without a key');

$r = GET '/backend/ssi/env.shtml', Authorization => "Bearer $k->{key}";
ok t_cmp($r->code, 200, 'SSI page behind AuthType APIKey');
$env = env_of($r->content);
ok t_cmp($env->{REMOTE_USER}, $k->{id}, 'SSI: REMOTE_USER is the key id');
ok t_cmp($env->{APIKEY_ID}, $k->{id}, 'SSI: APIKEY_ID');
ok t_cmp($env->{APIKEY_OWNER}, 'acme', 'SSI: APIKEY_OWNER');
ok t_cmp($env->{APIKEY_SCOPES}, 'orders:read orders:write',
         'SSI: APIKEY_SCOPES');
ok t_cmp($env->{AUTH_TYPE}, 'APIKey', 'SSI: AUTH_TYPE');
