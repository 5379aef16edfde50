# No key reaches the error log or the access log through another module,
# whatever the LogLevel: a server at LogLevel trace8 with mod_rewrite
# (conditions on %{QUERY_STRING} and %{HTTP:X-API-Key}, which it traces
# from trace2), mod_http2 (request headers at trace2, over h2c), mod_ssl
# (the decrypted bytes at trace7), mod_dumpio, mod_proxy (a nocanon URL at
# trace1) and mod_auth_basic (which logs a refused Basic user, and leaves it
# in %u, at the default level).  Every key of every request is then looked
# for, in pieces, in both logs.  The caps are announced at start-up.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use MIME::Base64 qw(encode_base64);
use ApiKeyTest qw(create_key random_wellformed_key read_file);
use ApiKeyServer;

plan tests => 18, need(need_module('authn_apikey', 'dbd', 'rewrite', 'ssl',
                                   'proxy', 'proxy_http', 'auth_basic'));

my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
my $data = Apache::Test::vars('serverroot') . '/data';
my $good = create_key(owner => 'quiet', scopes => 'read');
my @keys = ($good->{key}, map { random_wellformed_key() } 1 .. 8);
my $tls_port = ApiKeyServer::free_port();

# A backend that holds its answer until told: a request in flight, for the
# server-status page to show.
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
my $hold = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 4, ReuseAddr => 1) or die $!;
my $hold_port = $hold->sockport;
pipe(my $go_r, my $go_w) or die $!;
my $backend = fork // die $!;
if (!$backend) {
    close $go_w;
    while (my $c = $hold->accept) {
        while (defined(my $l = <$c>)) { last if $l =~ /^\r?\n$/ }
        my $go = <$go_r>;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
        close $c;
    }
    POSIX::_exit(0);
}
close $go_r;
close $hold;
my $srv = ApiKeyServer->new(name => 'quiet', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => <<"CONF");
LoadModule rewrite_module $lib/mod_rewrite.so
LoadModule http2_module $lib/mod_http2.so
LoadModule ssl_module $lib/mod_ssl.so
LoadModule dumpio_module $lib/mod_dumpio.so
LoadModule proxy_module $lib/mod_proxy.so
LoadModule proxy_http_module $lib/mod_proxy_http.so
LoadModule auth_basic_module $lib/mod_auth_basic.so
LoadModule alias_module $lib/mod_alias.so
LoadModule status_module $lib/mod_status.so
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
LogLevel trace8
LogFormat "%>s %u \\"%r\\" %q %{X-API-Key}i %{Authorization}i %{result}K" quiet
CustomLog quiet_log quiet
DumpIOInput On
Protocols h2c http/1.1
RewriteEngine On
RewriteCond %{QUERY_STRING} api_key=(.+)
RewriteRule ^/rw\$ /index.txt [PT]
RewriteCond %{HTTP:X-API-Key} (.+)
RewriteRule ^/rwh\$ /index.txt [PT]
# mod_rewrite says "go-ahead with proxy request ...?query" at trace1.
RewriteRule ^/rwp\$ http://127.0.0.1:$hold_port/ [P,NE]
<Location /rwp>
    AuthType APIKey
    AuthName "rwp"
    AuthAPIKeySource query:api_key
    Require apikey
</Location>
<Location /index.txt>
    AuthAPIKeySource header:X-API-Key bearer query:api_key
</Location>
Alias /basic \${DOCS}
<Location /basic>
    AuthType Basic
    AuthName "quiet basic"
    AuthBasicProvider apikey
    Require apikey
</Location>
<Location /slow>
    AuthType APIKey
    AuthName "slow"
    AuthAPIKeySource query:api_key
    Require apikey
    ProxyPass http://127.0.0.1:$hold_port/
</Location>
<Location /nc>
    AuthType APIKey
    AuthName "nocanon"
    AuthAPIKeySource query:api_key
    Require apikey
    ProxyPass http://127.0.0.1:1/ nocanon
</Location>
Listen 127.0.0.1:$tls_port
<VirtualHost 127.0.0.1:$tls_port>
    SSLEngine on
    SSLCertificateFile $data/tls/cert.pem
    SSLCertificateKeyFile $data/tls/key.pem
    DocumentRoot \${DOCS}
</VirtualHost>
CONF
ok $srv->start;

sub curl {
    my @args = @_;
    my $code = `curl -s -k -o /dev/null -w '%{http_code}' @args`;
    return $code;
}
my $base = 'http://127.0.0.1:' . $srv->{port};
my ($k0, @bad) = @keys;
my @codes;
push @codes, curl("-H 'X-API-Key: $k0'", "$base/index.txt");
push @codes, curl("'$base/rw?api_key=$k0'");
push @codes, curl("-H 'X-API-Key: $bad[0]'", "$base/rwh");
push @codes, curl("'$base/index.txt?api_key=$bad[1]'");
push @codes, curl("-H 'Authorization: Bearer $bad[2]'", "$base/index.txt");
push @codes, curl('--http2-prior-knowledge', "-H 'X-API-Key: $k0'",
                  "$base/index.txt");
push @codes, curl('--http2-prior-knowledge', "-H 'X-API-Key: $bad[3]'",
                  "$base/index.txt");
push @codes, curl("-H 'X-API-Key: $bad[4]'",
                  "https://127.0.0.1:$tls_port/index.txt");
push @codes, curl("-u '$bad[5]:'", "$base/basic/index.txt");
push @codes, curl("-u '$k0:'", "$base/basic/index.txt");
push @codes, curl("-u 'someone:$bad[6]'", "$base/basic/index.txt");
push @codes, curl("'$base/nc/x?api_key=$bad[7]'");
push @codes, curl("'$base/rwp?api_key=$bad[0]'");
ok t_cmp("@codes", '200 200 401 401 401 200 401 401 401 200 401 401 401',
         'every request answered as expected');
# mod_status shows what each worker is doing (ExtendedStatus): a request in
# flight, held by the backend, with its request line.
my $slow = fork // die $!;
if (!$slow) {
    exec('curl', '-s', '-o', '/dev/null', "$base/slow/x?a=1&api_key=$k0")
        or POSIX::_exit(127);
}
my ($status, $t0) = ('', time);
while (time - $t0 < 60) {
    $status = `curl -s '$base/server-status'`;
    last if $status =~ m{GET /slow/x};
    sleep 0.1;
}
ok t_cmp($status, qr{GET /slow/x\?a=1 HTTP/1\.1},
         'server-status shows the request in flight, its key gone');
print $go_w "go\n";
close $go_w;
waitpid($slow, 0);
kill 'TERM', $backend;
waitpid($backend, 0);
$srv->stop;

my $elog = $srv->error_log;
my $alog = read_file($srv->dir . '/quiet_log');

# Pieces of 12 characters of each key's random part: a key cut short or
# escaped still shows.
sub leaks {
    my $text = shift;
    my @found;
    for my $k (@keys) {
        for (my $i = 3; $i + 12 <= length $k; $i += 4) {
            if (index($text, substr($k, $i, 12)) >= 0) {
                push @found, substr($k, 0, 8) . '...';
                last;
            }
        }
    }
    return join(' ', @found);
}
ok t_cmp(leaks($elog), '', 'no key in the error log at LogLevel trace8');
ok t_cmp(leaks($alog), '', 'no key in the access log');
ok t_cmp(leaks($status), '', 'no key on mod_status\'s page');
ok t_cmp(scalar(() = $alog =~ /^401 \[api-key\] /mg), 1,
         '%u of a refused key sent as the Basic user: a marker');
ok t_cmp($alog, qr/^200 \Q$good->{id}\E "GET \/basic\/index\.txt HTTP\/1\.1"/m,
         '%u of an accepted one: its id');
ok t_cmp($elog, qr/AH01618: user \[api-key\] not found/,
         'mod_auth_basic logs the marker, not the key');
for my $m (qw(core rewrite http2 ssl dumpio proxy)) {
    ok t_cmp($elog, qr/APIKEY00053: LogLevel $m:trace8 would write API keys/,
             "the cap of $m is announced at start-up");
}
# What the caps leave: the module's own traces, mod_http2's first level;
# mod_rewrite traces URLs with their query from trace1 on: none of it.
ok t_cmp($elog, qr/\[authn_apikey:trace1\]/, 'authn_apikey still traces');
ok t_cmp($elog, qr/APIKEY00053: LogLevel rewrite:trace8 would write API keys to the error log \(rewritten and proxied URLs[^)]*\)[^:]*: capped at debug/,
         'mod_rewrite capped at debug');
ok $elog !~ /\[rewrite:trace[1-8]\]/;
