# Per-key restrictions stored with the key (client networks v4 and v6,
# referer host patterns, methods) refuse a valid key with 403 and a log
# line naming the reason; AuthAPIKeyRequireTLS refuses plain HTTP with 403
# before any look-up.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use ApiKeyTest qw(create_key htapikey);

plan tests => 39, need(need_module('authn_apikey', 'dbd', 'remoteip',
                                   'setenvif', 'ssl'),
                       need_lwp);

my $loop   = create_key(owner => 'r', 'allow-ip' => '127.0.0.0/8, ::1');
my $ten    = create_key(owner => 'r', 'allow-ip' => '10.0.0.0/8');
my $v4     = create_key(owner => 'r', 'allow-ip' => '203.0.113.0/24');
my $v6     = create_key(owner => 'r', 'allow-ip' => '2001:db8::/32');
my $sub    = create_key(owner => 'r', 'allow-referer' => '*.example.com');
my $apex   = create_key(owner => 'r',
                        'allow-referer' => 'example.com, *.example.com');
my $getter = create_key(owner => 'r', 'allow-method' => 'GET,HEAD');
my $plain  = create_key(owner => 'r');

my $url = '/restrict/index.txt';
sub code { my ($k, @h) = @_; (GET $url, 'X-API-Key' => $k->{key}, @h)->code }

# Client networks, direct connections from loopback.
ok t_cmp(code($loop), 200, 'allow-ip: loopback allowed');
t_start_error_log_watch();
my $r = GET $url, 'X-API-Key' => $ten->{key};
ok t_cmp($r->code, 403, 'allow-ip: 10/8 refuses loopback: 403');
ok t_cmp($r->header('WWW-Authenticate'), undef, 'no challenge');
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00014: API key \Q$ten->{id}\E refused: ip_denied/ } @log),
         1, 'the error log names ip_denied');

# Behind a trusted proxy: X-Forwarded-For as mod_remoteip leaves it.
Apache::TestRequest::module('apikey_remoteip');
ok t_cmp(code($v4, 'X-Forwarded-For' => '203.0.113.9'), 200,
         'IPv4 client via mod_remoteip: allowed');
ok t_cmp(code($v4, 'X-Forwarded-For' => '198.51.100.9'), 403,
         'IPv4 client via mod_remoteip: refused');
ok t_cmp(code($v6, 'X-Forwarded-For' => '2001:db8:1::5'), 200,
         'IPv6 client via mod_remoteip: allowed');
ok t_cmp(code($v6, 'X-Forwarded-For' => '2001:db9::5'), 403,
         'IPv6 client via mod_remoteip: refused');
ok t_cmp(code($v4, 'X-Forwarded-For' => '2001:db8::5'), 403,
         'an IPv6 client against an IPv4-only list: refused');
ok t_cmp(code($plain, 'X-Forwarded-For' => '198.51.100.9'), 200,
         'a key without restrictions: any client');
Apache::TestRequest::module('default');

# Referers.
ok t_cmp(code($sub, Referer => 'https://app.example.com/page'), 200,
         'referer *.example.com: a subdomain');
ok t_cmp(code($sub, Referer => 'https://a.b.example.com:8443/'), 200,
         'referer *.example.com: deeper, with a port');
ok t_cmp(code($sub, Referer => 'https://example.com/'), 403,
         'referer *.example.com: not the apex');
ok t_cmp(code($sub, Referer => 'https://evil-example.com/'), 403,
         'referer *.example.com: not a look-alike');
ok t_cmp(code($sub, Referer => 'https://example.com.evil.net/'), 403,
         'referer *.example.com: not a suffix trick');
ok t_cmp(code($sub, Referer => 'https://user@app.example.com/'), 200,
         'referer: userinfo ignored');
ok t_cmp(code($sub, Referer => 'https://app.example.com@evil.net/'), 403,
         'referer: host after userinfo is what counts');
ok t_cmp(code($sub), 403, 'referer restricted: no Referer is refused');
ok t_cmp(code($apex, Referer => 'http://EXAMPLE.com/x'), 200,
         'referer: apex listed, case-insensitive');
t_start_error_log_watch();
code($sub, Referer => 'https://other.org/');
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /refused: referer_denied/ } @log), 1,
         'the error log names referer_denied');

# Methods.
ok t_cmp(code($getter), 200, 'allow-method GET: GET');
ok t_cmp((HEAD $url, 'X-API-Key' => $getter->{key})->code, 200,
         'allow-method GET,HEAD: HEAD');
ok t_cmp((POST $url, 'X-API-Key' => $getter->{key}, content => 'a=1')->code,
         403, 'allow-method GET,HEAD: POST refused');

# A restriction changed with htapikey update applies at once.
my ($rc) = htapikey('update', $ten->{id}, '--allow-ip', 'none');
ok t_cmp($rc, 0, 'update --allow-ip none');
ok t_cmp(code($ten), 200, 'the key works from anywhere again');

# AuthAPIKeyRequireTLS over plain HTTP: 403 with a clear body.
$r = GET '/tls/index.txt', 'X-API-Key' => $plain->{key};
ok t_cmp($r->code, 403, 'RequireTLS over HTTP: 403');
ok t_cmp($r->content, qr/must be sent over HTTPS/, 'with a clear body');
ok t_cmp((GET '/tls/index.txt')->code, 403, 'RequireTLS over HTTP, no key');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key},
              'X-Forwarded-Proto' => 'https')->code,
         403, 'HTTPS=on in the environment is no TLS');

# A TLS-terminating proxy the server trusts (AuthAPIKeyTrustedProxy), and
# AuthAPIKeyRequireTLS for a whole virtual host.
Apache::TestRequest::module('apikey_tls_proxy');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key},
              'X-Forwarded-Proto' => 'https')->code,
         200, 'from a trusted proxy, X-Forwarded-Proto: https is TLS');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key},
              'X-Forwarded-Proto' => 'http, https')->code,
         200, 'the proxy\'s own (last) element counts');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key},
              'X-Forwarded-Proto' => 'https, http')->code,
         403, 'a client\'s https before the proxy\'s http does not');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key})->code,
         403, 'without it, refused');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key},
              'X-Forwarded-Proto' => 'httpsx')->code,
         403, 'httpsx is not https');
Apache::TestRequest::module('apikey_tls_untrusted');
ok t_cmp((GET '/tls-proxied/index.txt', 'X-API-Key' => $plain->{key},
              'X-Forwarded-Proto' => 'https')->code,
         403, 'from a peer that is not a trusted proxy: refused');
Apache::TestRequest::module('default');

# Before any look-up: a store that cannot answer is never asked.
Apache::TestRequest::module('apikey_tls_nodb');
ok t_cmp((GET '/tls/index.txt', 'X-API-Key' => $plain->{key})->code, 403,
         'RequireTLS refuses before the look-up (403, not 503)');

# Over real TLS (an absolute URL: Apache::Test's https scheme expects its
# own mod_ssl virtual host).
my $tls = 'https://' . Apache::Test::config()->{vhosts}->{apikey_tls}->{hostport};
Apache::TestRequest::user_agent(reset => 1,
    ssl_opts => { verify_hostname => 0, SSL_verify_mode => 0 });
$r = GET "$tls/tls/index.txt", 'X-API-Key' => $plain->{key};
ok t_cmp($r->code, 200, 'RequireTLS over HTTPS: 200');
ok t_cmp($r->content, "authn ok\n", 'the file is served');
ok t_cmp((GET "$tls/tls/index.txt")->code, 401, 'over HTTPS without a key: 401');
Apache::TestRequest::module('default');
