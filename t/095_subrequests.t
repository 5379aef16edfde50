# Subrequests and internal redirects: a key admitted by one section is
# judged again by every subrequest and internal redirect into a section
# configured otherwise, against that section's tenant, TLS, store, format
# and source, and gets the answer a direct request would get there.  Shop42's
# key may not reach the bakery's files through shop42's own .htaccess
# (RewriteRule, ErrorDocument, SSI include virtual, DirectoryIndex), nor
# skip another section's AuthAPIKeyRequireTLS, AuthAPIKeyQuery or
# AuthAPIKeyFormat; nor through the Basic provider.  And a key first used by
# an internal redirect is charged there.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(encode_base64);
use LWP::UserAgent;
use ApiKeyTest qw(create_key insert_key store_sql);
use ApiKeyServer;

plan tests => 45, need(need_module('authn_apikey', 'dbd', 'rewrite',
                                   'include', 'auth_basic', 'setenvif'),
                       need_lwp);

my $shop   = create_key(owner => 'shop42', scopes => 'orders:read');
my $bakery = create_key(owner => 'bakery', scopes => 'orders:read');
my $legacy = 'legacy-shop42-0123456789';
insert_key('boundary-legacy-1', owner => 'shop42', key => $legacy);
store_sql("CREATE TABLE IF NOT EXISTS boundary_legacy (client_id TEXT, "
          . "company TEXT, key_sha256 TEXT); DELETE FROM boundary_legacy; "
          . "INSERT INTO boundary_legacy VALUES ('L-1', 'legacy co', '"
          . sha256_hex('not-the-shop-key-0123') . "')");
my @shop = ('X-API-Key' => $shop->{key});

sub get { my ($url, @h) = @_; return GET($url, @h) }

# The direct answers, which the indirect ones must equal.
ok t_cmp(get('/boundary/bakery/api/secret.txt', @shop)->code, 401,
         'direct: shop42\'s key on the bakery\'s file: 401');
ok t_cmp(get('/boundary/bakery/api/secret.txt',
             'X-API-Key' => $bakery->{key})->content, "bakery's secret\n",
         'direct: the bakery\'s own key reads it');
ok t_cmp(get('/boundary/shop42/data.txt', @shop)->code, 200,
         'direct: shop42\'s key in shop42: 200');
ok t_cmp(get('/boundary/tlsonly/secret.txt', @shop)->code, 403,
         'direct: over plain HTTP where TLS is required: 403');
ok t_cmp(get('/boundary/legacy/secret.txt', @shop)->code, 401,
         'direct: a section with another store (AuthAPIKeyQuery): 401');

# A tenant's SetEnvIf HTTPS=on does not waive the server's TLS rule.
ok t_cmp(get('/boundary/settls/index.txt', @shop)->code, 403,
         'SetEnvIf HTTPS=on in .htaccess: still 403 over plain HTTP');

# RewriteRule in shop42's own .htaccess.
t_start_error_log_watch();
my $r = get('/boundary/shop42/steal', @shop);
ok t_cmp($r->code, 401, 'RewriteRule into the bakery: 401, as direct');
ok $r->content !~ /bakery's secret/;
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00051: API key \Q$shop->{id}\E refused for this internal redirect: its owner is not among this AuthAPIKeyTenant/ } @log),
         1, 'the error log says why, with the key id');
ok t_cmp($r->header('WWW-Authenticate'),
         'Bearer realm="bakery", error="invalid_token"',
         'the challenge a direct request gets');

$r = get('/boundary/shop42/tls', @shop);
ok t_cmp($r->code, 403, 'RewriteRule into a TLS-only section: 403, as direct');
ok $r->content !~ /tls secret/;

$r = get('/boundary/shop42/legacy', @shop);
ok t_cmp($r->code, 401,
         'RewriteRule into a section of another store: 401, as direct');
ok $r->content !~ /legacy secret/;

$r = get('/boundary/shop42/open', @shop);
ok t_cmp($r->code, 200,
         'RewriteRule into a section whose policy the key passes: 200');
ok t_cmp($r->content, "open data\n", 'and its content');

# ErrorDocument 404 in shop42's .htaccess pointing at the bakery's file.
$r = get('/boundary/shop42/no-such-file', @shop);
ok t_cmp($r->code, 404, 'ErrorDocument into the bakery: still the 404');
ok $r->content !~ /bakery's secret/;
ok t_cmp(get('/boundary/shop42/no-such-file',
             'X-API-Key' => $bakery->{key})->code, 401,
         'and the bakery\'s key is no key in shop42 to begin with');

# SSI: include virtual of the bakery's file from shop42's page.
$r = get('/boundary/shop42/page.shtml', @shop);
ok t_cmp($r->code, 200, 'SSI page of shop42: 200');
ok $r->content !~ /bakery's secret/;
ok t_cmp($r->content, qr/open data/,
         'an include the key may read is included');

# DirectoryIndex in shop42's .htaccess naming the bakery's file.
$r = get('/boundary/shop42/idx/', @shop);
ok $r->code != 200;
ok $r->content !~ /bakery's secret/;

# AuthAPIKeyFormat: a legacy key, admitted where any format goes,
# redirected into a checksum-only section.
ok t_cmp(get('/boundary/anyfmt/index.txt', 'X-API-Key' => $legacy)->code,
         200, 'a legacy key where AuthAPIKeyFormat any: 200');
ok t_cmp(get('/boundary/shop42/data.txt', 'X-API-Key' => $legacy)->code,
         401, 'direct in the checksum section: 401');
ok t_cmp(get('/boundary/anyfmt/strict', 'X-API-Key' => $legacy)->code, 401,
         'redirected into the checksum section: 401, as direct');

# The Basic provider.
my $basic = 'Basic ' . encode_base64("x:$shop->{key}", '');
ok t_cmp(get('/boundary/basic-shop/data.txt', Authorization => $basic)->code,
         200, 'Basic provider: shop42\'s key in shop42');
ok t_cmp(get('/boundary/basic-bakery/secret.txt',
             Authorization => $basic)->code, 401,
         'direct: in the bakery: 401');
$r = get('/boundary/basic-shop/steal', Authorization => $basic);
ok t_cmp($r->code, 401, 'Basic, redirected into the bakery: 401, as direct');
ok $r->content !~ /basic bakery secret/;
ok t_cmp(get('/boundary/basic-shop/header', Authorization => $basic)->code,
         401, 'Basic, redirected into a section that reads no Basic '
              . 'credential: 401, as direct');

# Limits: the redirect from a free page is where the key is used, and
# charged (AuthAPIKeyQuota 1/day there).
my $lim = create_key(owner => 'shop42');
ok t_cmp(get('/boundary/free/go', 'X-API-Key' => $lim->{key})->code, 200,
         'through a free page\'s redirect: the first of 1/day');
$r = get('/boundary/free/go', 'X-API-Key' => $lim->{key});
ok t_cmp($r->code, 429, 'the second: 429, charged in the redirect');
ok t_cmp(get('/boundary/limited/data.txt', 'X-API-Key' => $lim->{key})->code,
         429, 'and directly: the same counter');

# A subrequest's pool is gone when the next one reads the client request's
# record (mod_include frees #fsize's look-up at once): the key must not be
# read from it.  On a server of its own whose memory goes back to the
# system at once (MaxMemFree 1: a read of freed memory then crashes the
# child; mod_perl, loaded in the suite's server, does not survive that).
my $pub = create_key(owner => 'shop42', scopes => 'orders:read');
my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
my $docs = Apache::Test::vars('t_logs') . '/srv-freed/htdocs';
my $srv = ApiKeyServer->new(name => 'freed', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => <<"CONF");
LoadModule include_module $lib/mod_include.so
LoadModule mime_module $lib/mod_mime.so
MaxMemFree 1
TypesConfig /dev/null
<Directory $docs>
    Require all granted
    Options +Includes
    AddType text/html .shtml
    AddOutputFilter INCLUDES .shtml
</Directory>
<Directory $docs/shop42>
    AuthType APIKey
    AuthName "shop42"
    AuthAPIKeyTenant shop42
    Require apikey
</Directory>
CONF
mkdir "$docs/shop42";
for (["$docs/shop42/data.txt", "shop42 data\n"],
     ["$docs/size.shtml", "<!--#fsize virtual=\"/shop42/data.txt\" -->\n"
                          . "<!--#include virtual=\"/shop42/data.txt\" -->\n"]) {
    open(my $fh, '>', $_->[0]) or die $!;
    print $fh $_->[1];
    close $fh;
}
ok $srv->start;
my $ua = LWP::UserAgent->new(timeout => 30);
$r = $ua->get($srv->url('/size.shtml'), 'X-API-Key' => $pub->{key});
ok t_cmp($r->content, qr/shop42 data/,
         'a public page whose #fsize and include need a key: included');
ok t_cmp(join(' ', map { $ua->get($srv->url('/size.shtml'),
                                  'X-API-Key' => $pub->{key})->code } 1 .. 5),
         '200 200 200 200 200', 'and again: the child lives');
ok $srv->error_log !~ /Segmentation fault|exit signal/;
$srv->stop;

# A refused subrequest does not refuse the next one: the bakery's file is
# not shop42's, shop42's own is.
$r = get('/boundary/pub/mixed.shtml', @shop);
ok $r->content !~ /bakery's secret/;
ok t_cmp($r->content, qr/shop42 data/,
         'after a refused include, the next one is judged on its own');

# Limits through includes: a client request is charged once per key and
# limits, and a refusal stands for the rest of it.
my $two = create_key(owner => 'shop42');
$r = get('/boundary/pub/two.shtml', 'X-API-Key' => $two->{key});
ok t_cmp(scalar(() = $r->content =~ /limited data/g), 2,
         'two includes of a 1/day section: one request, both included');
$r = get('/boundary/pub/two.shtml', 'X-API-Key' => $two->{key});
ok t_cmp(scalar(() = $r->content =~ /limited data/g), 0,
         'the next request: neither (the second is not free)');

# A lenient section that rewrites into a stricter one is charged there too.
my $rated = create_key(owner => 'shop42');
ok t_cmp(get('/boundary/rated/go', 'X-API-Key' => $rated->{key})->code, 200,
         'through a lenient section\'s redirect: the first of 1/day');
ok t_cmp(get('/boundary/rated/go', 'X-API-Key' => $rated->{key})->code, 429,
         'the second: 429, the stricter section\'s quota applies');
