# Configuration mistakes stop httpd at start-up with a message naming the
# directive and the line, as "apachectl configtest" shows them.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET;
use ApiKeyTest qw(run_httpd);

plan tests => 69, need_module('authn_apikey', 'dbd');

# A well-formed configuration passes.
my ($rc, $out) = run_httpd(<<'CONF');
<Location /api>
    AuthType APIKey
    AuthAPIKeySource header:X-API-Key bearer
    Require apikey
</Location>
CONF
ok t_cmp($rc, 0, 'a valid configuration passes configtest');
ok t_cmp($out, qr/Syntax OK/, 'Syntax OK');

# Each mistake: the status, the directive named, the line named.
my @bad = (
    ['AuthAPIKeySource header:X-API-Key cookie:sid',
     qr/AuthAPIKeySource 'cookie:sid': unknown key source/],
    ['AuthAPIKeySource bearer header:X-Key BEARER',
     qr/AuthAPIKeySource: 'BEARER' is listed twice/],
    ['AuthAPIKeySource header:',
     qr/AuthAPIKeySource 'header:': header: needs a header name/],
    ['AuthAPIKeySource header:X(Key)',
     qr/AuthAPIKeySource 'header:X\(Key\)': header name contains/],
    ['AuthAPIKeySource header:Authorization',
     qr/use 'bearer' to read keys from the Authorization header/],
    ['AuthAPIKeySource header:proxy-authorization',
     qr/use 'bearer' to read keys from the Authorization header/],
    ['AuthAPIKeySource',
     qr/AuthAPIKeySource needs at least one source: header:NAME, bearer, query:NAME or basic/],
    ['Require apikey-scope',
     qr/Require apikey-scope needs at least one scope/],
    ['Require apikey-scope orders:read a,b',
     qr/Require apikey-scope 'a,b': a scope is printable ASCII without blanks/],
    ['Require apikey-owner',
     qr/Require apikey-owner needs at least one owner/],
    ['Require apikey-id',
     qr/Require apikey-id needs at least one id/],
    ['AuthAPIKeyTenant *',
     qr/AuthAPIKeyTenant '\*' would admit every owner/],
    ['AuthAPIKeyTenant shop*42',
     qr/AuthAPIKeyTenant 'shop\*42': '\*' may only end an owner prefix/],
    ['AuthAPIKeyRequireTLS maybe',
     qr/AuthAPIKeyRequireTLS must be On or Off/],
    ['AuthAPIKeyFailureLimit 3/x',
     qr/AuthAPIKeyFailureLimit '3\/x': the unit of a rate is s, m or h/],
    ['AuthAPIKeyFailureLimit off burst=2',
     qr/AuthAPIKeyFailureLimit off takes no burst/],
    ['AuthAPIKeyFailureLimit 10/m many',
     qr/AuthAPIKeyFailureLimit 'many': expected burst=N/],
    ['Require apikey orders:read',
     qr/'Require apikey' takes no arguments \(got 'orders:read'\); for scopes use 'Require apikey-scope'/],
);
for my $case (@bad) {
    my ($line, $msg) = @$case;
    my ($rc, $out, $n) = run_httpd("<Location /api>\n$line\n</Location>\n");
    my $at = $n + 1;
    ok t_cmp($rc, 1, "refused: $line");
    ok t_cmp($out, $msg, "message for: $line");
    ok t_cmp($out, qr/Syntax error on line $at of /, "line $at named");
}

# Server-level directives: where they may stand, and their mistakes.
($rc, $out) = run_httpd(<<'CONF');
AuthAPIKeyRequireTLS On
AuthAPIKeyTrustedProxy 10.0.0.0/8 192.0.2.1 ::1
<VirtualHost 127.0.0.1:80>
    AuthAPIKeyRequireTLS On
    AuthAPIKeyTrustedProxy fd00::/8
</VirtualHost>
CONF
ok t_cmp($rc, 0, 'AuthAPIKeyRequireTLS and AuthAPIKeyTrustedProxy at server '
                 . 'and virtual host level');
for my $case (['AuthAPIKeyTrustedProxy proxy.example.com',
               qr/AuthAPIKeyTrustedProxy 'proxy.example.com': not an IP address or network/],
              ['AuthAPIKeyTrustedProxy 10.0.0.0/99',
               qr/AuthAPIKeyTrustedProxy '10.0.0.0\/99': not an IP address or network/],
              ['AuthAPIKeyTrustedProxy',
               qr/AuthAPIKeyTrustedProxy needs at least one address/]) {
    my ($line, $msg) = @$case;
    my ($rc, $out, $n) = run_httpd("$line\n");
    ok t_cmp($rc, 1, "refused: $line");
    ok t_cmp($out, $msg, "message for: $line");
    ok t_cmp($out, qr/Syntax error on line $n of /, "line $n named");
}
($rc, $out) = run_httpd("<Location /api>\nAuthAPIKeyTrustedProxy 10.0.0.1\n"
                        . "</Location>\n");
ok t_cmp($out, qr/AuthAPIKeyTrustedProxy not allowed in <Location> context/,
         'AuthAPIKeyTrustedProxy is refused in <Location>');

# Without mod_dbd the module refuses to start (post_config runs only on a
# real start, so this starts httpd on a free loopback port).
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 1) or die "socket: $!";
my $port = $sock->sockport;
close $sock;
($rc, $out) = run_httpd("Listen 127.0.0.1:$port\n", no_dbd => 1,
                        flags => ['-DFOREGROUND']);
ok t_cmp($rc != 0 ? 1 : 0, 1, 'httpd does not start without mod_dbd');
ok t_cmp($out, qr/APIKEY00009: mod_authn_apikey needs mod_dbd/,
         'and says mod_dbd is needed');
