# Every key source (header, Bearer, query, Basic as password or as user),
# two different keys in one request (400), and hiding: a CGI and a proxied
# backend never see the key, in headers, query string or REQUEST_URI, and a
# client cannot forge the identity the module passes on.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use HTTP::Request;
use MIME::Base64 qw(encode_base64);
use File::Spec;
use ApiKeyTest qw(create_key);

plan tests => 52, need(need_module('authn_apikey', 'dbd', 'proxy',
                                   'proxy_http', 'rewrite'),
                       need_cgi, need_lwp);

my $k     = create_key(owner => 'src', scopes => 'a b');
my $other = create_key(owner => 'src');
my $key   = $k->{key};

sub env_of {
    my $r = shift;
    return { map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () }
             split /\n/, $r->content };
}
sub no_key_in {
    my ($env, $what) = @_;
    my @leaks = grep { defined $env->{$_} && index($env->{$_}, $key) >= 0 }
                keys %$env;
    ok t_cmp(join(',', sort @leaks), '', "$what: the key is nowhere");
}
# Sends a request with repeated headers, which GET's list form merges.
sub raw {
    my ($url, @headers) = @_;
    my $req = HTTP::Request->new(GET => Apache::TestRequest::resolve_url($url));
    while (my ($h, $v) = splice(@headers, 0, 2)) {
        $req->push_header($h => $v);
    }
    return Apache::TestRequest::user_agent()->request($req);
}

my $cgi = '/src/cgi/env.pl';

# Each source.
my $r = GET $cgi, 'X-API-Key' => $key;
ok t_cmp($r->code, 200, 'header source');
my $env = env_of($r);
ok t_cmp($env->{HTTP_X_API_KEY}, undef, 'header: hidden from the CGI');
no_key_in($env, 'header');

$r = GET $cgi, Authorization => "Bearer $key";
ok t_cmp($r->code, 200, 'bearer source');
$env = env_of($r);
ok t_cmp($env->{HTTP_AUTHORIZATION}, undef, 'bearer: Authorization hidden');
no_key_in($env, 'bearer');

$r = GET "$cgi?a=1&api_key=$key&b=2";
ok t_cmp($r->code, 200, 'query source');
$env = env_of($r);
ok t_cmp($env->{QUERY_STRING}, 'a=1&b=2', 'query: QUERY_STRING without it');
ok t_cmp($env->{REQUEST_URI}, '/src/cgi/env.pl?a=1&b=2',
         'query: REQUEST_URI without it');
no_key_in($env, 'query');
$r = GET "$cgi?api_key=$key";
ok t_cmp(env_of($r)->{REQUEST_URI}, '/src/cgi/env.pl',
         'query: the only parameter leaves no "?"');

(my $encoded = $key) =~ s/_/%5F/;
ok t_cmp((GET "$cgi?api_key=$encoded")->code, 200, 'query: URL-encoded key');
ok t_cmp((GET "$cgi?api_key=$key%00")->code, 401, 'query: %00 is malformed');
ok t_cmp((GET "$cgi?api_key=%zz")->code, 401, 'query: a bad escape is malformed');
ok t_cmp((GET "$cgi?api_key=$key&api_key=$key")->code, 200,
         'query: the same key twice');
ok t_cmp((GET "$cgi?api_key=$key&api_key=$other->{key}")->code, 400,
         'query: two different keys: 400');

$r = GET $cgi, Authorization => 'Basic ' . encode_base64("$key:", '');
ok t_cmp($r->code, 200, 'basic: the key as user, empty password');
$env = env_of($r);
no_key_in($env, 'basic as user');
# (Base64: no_key_in cannot see the key in a leaked Basic header.)
ok t_cmp($env->{HTTP_AUTHORIZATION}, undef, 'basic: Authorization hidden');
$r = GET $cgi, Authorization => 'Basic ' . encode_base64("any:$key", '');
ok t_cmp($r->code, 200, 'basic: the key as password');
$env = env_of($r);
ok t_cmp($env->{HTTP_AUTHORIZATION}, undef,
         'basic as password: Authorization hidden');
ok t_cmp($env->{REMOTE_USER}, $k->{id}, 'basic: REMOTE_USER is the key id');
no_key_in($env, 'basic as password');
ok t_cmp((GET $cgi, Authorization => 'Basic ' . encode_base64('a:b', ''))->code,
         401, 'basic: not a key');

# Two different keys in one request; the same key twice is fine.
ok t_cmp((GET $cgi, 'X-API-Key' => $key,
                    Authorization => "Bearer $other->{key}")->code,
         400, 'two sources, two keys: 400');
ok t_cmp(raw($cgi, 'X-API-Key' => $key, 'X-API-Key' => $other->{key})->code,
         400, 'header sent twice with two keys: 400');
ok t_cmp(raw($cgi, 'X-API-Key' => $key, 'X-API-Key' => $key)->code, 200,
         'header sent twice with the same key: 200');
ok t_cmp(raw($cgi, Authorization => "Bearer $key",
                   Authorization => "Bearer $other->{key}")->code,
         400, 'Authorization sent twice with two keys: 400');
ok t_cmp((GET "$cgi?api_key=$other->{key}", 'X-API-Key' => $key)->code, 400,
         'query and header disagree: 400');

# Empty and over-long keys: 401 without any look-up.
ok t_cmp((GET $cgi, 'X-API-Key' => '')->code, 401, 'an empty key: 401');
ok t_cmp((GET $cgi, 'X-API-Key' => 'ak_' . ('a' x 8000))->code, 401,
         'an over-long key: 401');

# AuthAPIKeyHideCredentials Off shows them (a key of its own, since the
# access log then holds it too).
my $shown = create_key(owner => 'shown')->{key};
$env = env_of(GET "/src/shown/env.pl?api_key=$shown", 'X-API-Key' => $shown);
ok t_cmp($env->{HTTP_X_API_KEY}, $shown, 'HideCredentials Off: header kept');
ok t_cmp($env->{QUERY_STRING}, "api_key=$shown",
         'HideCredentials Off: query kept');
# The CGI sees Authorization (CGIPassAuth On): the hidden-Authorization
# checks above can see a leak.
$env = env_of(GET '/src/shown/env.pl', Authorization => "Bearer $shown");
ok t_cmp($env->{HTTP_AUTHORIZATION}, "Bearer $shown",
         'HideCredentials Off: Authorization kept, and the CGI sees it');

# A client cannot forge the identity headers.
$env = env_of(GET $cgi, 'X-API-Key' => $key, 'X-APIKey-Id' => 'forged',
                        'X-APIKey-Owner' => 'forged');
ok t_cmp($env->{HTTP_X_APIKEY_ID}, undef, 'a forged X-APIKey-Id is dropped');
ok t_cmp($env->{HTTP_X_APIKEY_OWNER}, undef, 'a forged X-APIKey-Owner too');
ok t_cmp($env->{APIKEY_ID}, $k->{id}, 'APIKEY_ID is the real one');

# A proxied backend: no key, and the identity from the module only.
$r = GET "/src/proxied?x=1&api_key=$key", 'X-API-Key' => $key,
         'X-APIKey-Id' => 'forged';
ok t_cmp($r->code, 200, 'proxied request');
$env = env_of($r);
no_key_in($env, 'proxied backend');
ok t_cmp($env->{QUERY_STRING}, 'x=1', 'proxied: the query without the key');
ok t_cmp($env->{HTTP_X_API_KEY}, undef, 'proxied: no key header');
ok t_cmp($env->{HTTP_X_APIKEY_ID}, $k->{id},
         'proxied: X-APIKey-Id is the real key id');
ok t_cmp($env->{HTTP_X_APIKEY_OWNER}, 'src', 'proxied: X-APIKey-Owner');
ok t_cmp($env->{HTTP_X_APIKEY_SCOPES}, 'a b', 'proxied: X-APIKey-Scopes');
$r = GET '/src/proxied', Authorization => "Bearer $key";
$env = env_of($r);
ok t_cmp($env->{HTTP_AUTHORIZATION}, undef, 'proxied: no Authorization');
no_key_in($env, 'proxied backend, Bearer');
$env = env_of(GET '/backend-echo/env.pl', Authorization => 'Bearer not-a-key');
ok t_cmp($env->{HTTP_AUTHORIZATION}, 'Bearer not-a-key',
         'the echo backend does see an Authorization header it is sent');

# A route proxied by RewriteRule [P]: the backend's URL has no key.
$r = GET "/src/rw-proxied?x=1&api_key=$key";
ok t_cmp($r->code, 200, 'RewriteRule [P] with a query key: 200');
$env = env_of($r);
ok t_cmp($env->{QUERY_STRING}, 'x=1', 'RewriteRule [P]: the backend\'s '
                                      . 'query without the key');
no_key_in($env, 'RewriteRule [P] backend');

$env = env_of(GET '/src/proxied-plain', 'X-API-Key' => $key,
                  'X-APIKey-Id' => 'forged');
ok t_cmp($env->{HTTP_X_APIKEY_ID}, undef,
         'IdentityHeaders Off: no X-APIKey-Id, not even a forged one');

# The access log line (%r) holds no key either.
my $log = ApiKeyTest::read_file(
    File::Spec->catfile(Apache::Test::vars('t_logs'), 'access_log'));
ok t_cmp(index($log, $key) >= 0 ? 'key in access_log' : 'clean', 'clean',
         'the access log (%r) never holds the key');
