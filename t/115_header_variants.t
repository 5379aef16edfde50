# The CVE-2016-5387 class: headers that backends fold together.  A client
# sending X_APIKey_Owner (or x-apikey_id, X_API_Key...) must not reach a
# proxied backend, which turns "_" and "-" alike into HTTP_X_APIKEY_OWNER;
# nor may a query parameter whose name is spelt otherwise than configured
# (percent-encoded, '.' for '_' as PHP reads it) carry a key past the module.
# The backend is a real one behind mod_proxy_http that answers with the raw
# request it received, header names as they came.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use IO::Socket::INET;
use POSIX ();
use ApiKeyTest qw(create_key);
use ApiKeyServer;

plan tests => 34, need(need_module('authn_apikey', 'dbd', 'proxy',
                                   'proxy_http', 'auth_basic'));

my $k     = create_key(owner => 'alice', scopes => 'read');
my $other = create_key(owner => 'mallory');

# The backend: every request's head, as received, is the response body.
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
my $bport = $listen->sockport;
my $backend = fork // die "fork: $!";
if (!$backend) {
    while (my $c = $listen->accept) {
        my $head = '';
        while (defined(my $line = <$c>)) {
            last if $line =~ /^\r?\n$/;
            $head .= $line;
        }
        print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
               . "Content-Length: " . length($head) . "\r\n"
               . "Connection: close\r\n\r\n$head";
        close $c;
    }
    POSIX::_exit(0);
}
close $listen;

my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
my $srv = ApiKeyServer->new(name => 'variants', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => <<"CONF");
LoadModule proxy_module $lib/mod_proxy.so
LoadModule proxy_http_module $lib/mod_proxy_http.so
LoadModule auth_basic_module $lib/mod_auth_basic.so
<Location /b>
    AuthType Basic
    AuthName "variants basic"
    AuthBasicProvider apikey
    AuthAPIKeyIdentityHeaders On
    Require apikey
    ProxyPass http://127.0.0.1:$bport/echo
</Location>
<Location /p40>
    AuthType APIKey
    AuthName "variants"
    AuthAPIKeySource header:X-A-B-C-D-E-F bearer
    AuthAPIKeyIdentityHeaders On
    Require apikey
    ProxyPass http://127.0.0.1:$bport/echo
</Location>
<Location /p16>
    AuthType APIKey
    AuthName "variants"
    AuthAPIKeySource header:X-My-Api-Key-Id bearer
    AuthAPIKeyIdentityHeaders On
    Require apikey
    ProxyPass http://127.0.0.1:$bport/echo
</Location>
<Location /p>
    AuthType APIKey
    AuthName "variants"
    AuthAPIKeySource header:X-API-Key bearer query:api_key
    AuthAPIKeyIdentityHeaders On
    Require apikey
    ProxyPass http://127.0.0.1:$bport/echo
</Location>
CONF
ok $srv->start;

# A request written byte for byte: header names exactly as given.
sub raw {
    my ($target, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $srv->{port}, Timeout => 30)
        or die "connect: $!";
    my $req = "GET $target HTTP/1.1\r\nHost: localhost\r\n";
    while (my ($h, $v) = splice(@headers, 0, 2)) {
        $req .= "$h: $v\r\n";
    }
    print $s "$req" . "Connection: close\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($code) = $resp =~ m{^HTTP/1\.\d (\d{3})};
    my (undef, $body) = split /\r\n\r\n/, $resp, 2;
    return ($code // 0, $body // '');
}

# Header lines of the backend's request whose names fold to $name.
sub lines_named {
    my ($body, $name) = @_;
    (my $re = quotemeta $name) =~ s/\\-/[-_]/g;
    return grep { /^$re\s*:/i } split /\r?\n/, $body;
}

my ($code, $body) = raw('/p', 'X-API-Key' => $k->{key},
                        'X_APIKey_Owner' => 'bigbank',
                        'x_apikey_id' => 'forged-id',
                        'X-APIKEY_SCOPES' => 'admin');
ok t_cmp($code, 200, 'a valid key with forged identity headers: 200');
my @owner = lines_named($body, 'X-APIKey-Owner');
ok t_cmp(scalar(@owner), 1, 'one owner header reaches the backend');
ok t_cmp($owner[0], qr/^X-APIKey-Owner: alice$/,
         'the module\'s, with the true owner');
ok $body !~ /bigbank/;
ok t_cmp(join('|', lines_named($body, 'X-APIKey-Id')),
         "X-APIKey-Id: $k->{id}", 'the id: only the module\'s');
ok $body !~ /forged-id/;
ok t_cmp(join('|', lines_named($body, 'X-APIKey-Scopes')),
         'X-APIKey-Scopes: read', 'the scopes: only the module\'s');
ok $body !~ /admin/;

# More spellings than one pass of the module holds at once (16), each its
# own to apr_table_unset ('-' and '_' are not alike to it), the forged
# owner last: all go.
my @junk;
for my $bits (1 .. 15) {   # (0: the source itself, read as a key)
    my @sep = map { $bits & (1 << $_) ? '_' : '-' } 0 .. 3;
    push @junk, "X$sep[0]My$sep[1]Api$sep[2]Key$sep[3]Id" => 'junk';
}
push @junk, map { ($_ => 'junk') } qw(X_APIKey_Id X-APIKey_Id X_APIKey-Id);
($code, $body) = raw('/p16', Authorization => "Bearer $k->{key}", @junk,
                     'X_APIKey_Owner' => 'bigbank');
ok t_cmp($code, 200, scalar(@junk) / 2 + 1 . ' forged spellings: 200');
ok t_cmp(join('|', lines_named($body, 'X-APIKey-Owner')),
         'X-APIKey-Owner: alice', 'none of them reaches the backend');

# More than two passes' worth (40 spellings of a header source, each its own
# to apr_table_unset, and the forged owner): the one pass that read the key
# removes 16, and passes of their own the rest, until one finds fewer.
@junk = ();
for my $bits (1 .. 40) {   # (0: the source itself, read as a key)
    my @sep = map { $bits & (1 << $_) ? '_' : '-' } 0 .. 5;
    push @junk, 'X' . join('', map { $sep[$_ - 1] . chr(64 + $_) } 1 .. 6)
        => "junk$bits";
}
($code, $body) = raw('/p40', Authorization => "Bearer $k->{key}", @junk,
                     'X_APIKey_Owner' => 'bigbank');
ok t_cmp($code, 200, scalar(@junk) / 2 + 1 . ' forged spellings: 200');
ok t_cmp(scalar(lines_named($body, 'X-A-B-C-D-E-F')), 0,
         'no spelling of the source reaches the backend');
ok $body !~ /junk/;
ok t_cmp(join('|', lines_named($body, 'X-APIKey-Owner')),
         'X-APIKey-Owner: alice', 'nor the forged owner');

# Under AuthBasicProvider apikey too.
use MIME::Base64 qw(encode_base64);
($code, $body) = raw('/b', Authorization => 'Basic '
                               . encode_base64("u:$k->{key}", ''),
                     'X_APIKey_Owner' => 'bigbank');
ok t_cmp($code, 200, 'the Basic provider, with a forged X_APIKey_Owner');
ok t_cmp(join('|', lines_named($body, 'X-APIKey-Owner')),
         'X-APIKey-Owner: alice', 'the backend sees the module\'s only');

($code, $body) = raw('/p', 'X-API-Key' => $k->{key},
                     'X_API_Key' => $other->{key});
ok t_cmp($code, 200, 'the key, and another one as X_API_Key: 200');
ok t_cmp(scalar(lines_named($body, 'X-API-Key')), 0,
         'no spelling of X-API-Key reaches the backend');
ok index($body, $other->{key}) < 0;
ok index($body, $k->{key}) < 0;

($code, $body) = raw('/p', 'x-api_KEY' => $k->{key});
ok t_cmp($code, 401, 'a key only in x-api_KEY is not read (401)');

# Query parameters: names decoded as application/x-www-form-urlencoded.
($code, $body) = raw("/p?a=1&api%5Fkey=$k->{key}&b=2");
ok t_cmp($code, 200, 'a key under a percent-encoded name is read');
my ($line) = split /\r?\n/, $body;
ok t_cmp($line, 'GET /echo?a=1&b=2 HTTP/1.1',
         'and hidden from the backend\'s request line');

($code, $body) = raw("/p?api.key=$k->{key}");
ok t_cmp($code, 200, 'api.key (PHP reads it as api_key) is read too');
ok index($body, $k->{key}) < 0;

($code, $body) = raw("/p?API_KEY=$other->{key}", 'X-API-Key' => $k->{key});
ok t_cmp($code, 400, 'a second key under another spelling: 400, '
                     . 'two different keys');

($code, $body) = raw("/p?api_key%5B%5D=$other->{key}",
                     'X-API-Key' => $k->{key});
ok t_cmp($code, 400, 'and as a PHP array api_key[]: 400');

# What PHP reads as api_key: a NUL cuts the name, leading blanks go, an
# unclosed '[' is '_'.
for my $spelling ('api_key%00x', '+api_key', 'api[key') {
    ($code, $body) = raw("/p?$spelling=$other->{key}", 'X-API-Key' => $k->{key});
    ok t_cmp($code, 400, "$spelling=(another key) beside the header: 400");
}

($code, $body) = raw("/p?api_key=$k->{key}&api%5fkey=$k->{key}");
ok t_cmp($code, 200, 'the same key under two spellings: one key');
($line) = split /\r?\n/, $body;
ok t_cmp($line, 'GET /echo HTTP/1.1', 'both hidden');
ok index($body, $k->{key}) < 0;

$srv->stop;
kill 'TERM', $backend;
waitpid($backend, 0);
