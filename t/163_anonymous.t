# AuthAPIKeyAnonymous: a request with no key at all is let through as
# anonymous (r->user "anonymous", APIKEY_ANONYMOUS=1, %{result}K
# anonymous) for Require apikey-anonymous to grant; a bad key is still
# 401, never anonymous; anonymous requests have limits of their own per
# client address (the /64 for IPv6), apart from every key's.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use File::Spec;
use POSIX qw(ceil);
use ApiKeyTest qw(create_key insert_key random_wellformed_key run_httpd);
use ApiKeyWait qw(timed wait_for);
use ApiKeyServer;
use LWP::UserAgent ();

plan tests => 49, need(need_module('authn_apikey', 'dbd', 'remoteip', 'cgi'),
                       need_lwp);

Apache::TestRequest::module('apikey_anonymous');
my $log = File::Spec->catfile(Apache::Test::vars('t_logs'), 'apikey_anon.log');
sub fields_of {
    my $tag = shift;
    my $f = wait_for(sub {
        for my $line (reverse split /\n/, ApiKeyTest::read_file($log)) {
            my @v = split /\|/, $line, -1;
            return { user => $v[1], id => $v[2], result => $v[3],
                     status => $v[4] } if $v[0] eq $tag;
        }
        return;
    });
    return $f || {};
}
my $n = 0;
sub from {    # a request from a client address of its own
    my ($addr, $path, @h) = @_;
    return GET $path, 'X-Forwarded-For' => $addr, @h;
}
sub codes {
    my ($addr, $path, $k, @h) = @_;
    return join ' ', map { from($addr, $path, @h)->code } 1 .. $k;
}
sub env_of {
    my %e = map { /^([^=]+)=(.*)$/ ? ($1, $2) : () } split /\n/, shift->content;
    return \%e;
}

# 1. No key at all: in, as anonymous.
my $r = from('198.51.100.1', '/anon/index.txt', 'X-Test-Tag' => 'anon');
ok t_cmp($r->code, 200, 'no key: 200 as anonymous');
my $f = fields_of('anon');
ok t_cmp("$f->{user}|$f->{id}|$f->{result}", 'anonymous|-|anonymous',
         '%u anonymous, no %{id}K, %{result}K anonymous');
$r = from('198.51.100.1', '/anon/cgi/env.pl');
my $e = env_of($r);
ok t_cmp($r->code, 200, 'a CGI, anonymous');
ok t_cmp(($e->{REMOTE_USER} // '-') . ' ' . ($e->{APIKEY_ANONYMOUS} // '-')
         . ' ' . ($e->{APIKEY_ID} // '-'), 'anonymous 1 -',
         'REMOTE_USER=anonymous, APIKEY_ANONYMOUS=1, no APIKEY_ID');
ok t_cmp($r->header('RateLimit-Policy'), undef,
         'no anonymous limits here: no RateLimit headers');

# 2. A key, good or bad, is judged as a key.
my $paid = create_key(owner => 'anon', scopes => 'paid');
my $free = create_key(owner => 'anon', scopes => 'other');
$r = from('198.51.100.2', '/anon/cgi/env.pl', 'X-API-Key' => $paid->{key});
$e = env_of($r);
ok t_cmp($r->code . ' ' . ($e->{REMOTE_USER} // '-') . ' '
         . ($e->{APIKEY_ANONYMOUS} // '-'), "200 $paid->{id} -",
         'a paid key: 200, its id, not anonymous');
$r = from('198.51.100.2', '/anon/index.txt', 'X-API-Key' => random_wellformed_key(),
          'X-Test-Tag' => 'unknown');
ok t_cmp($r->code, 401, 'an unknown key: 401, never anonymous');
ok t_cmp($r->header('WWW-Authenticate') // '', qr/error="invalid_token"/,
         'with invalid_token');
ok t_cmp(fields_of('unknown')->{result}, 'unknown', '%{result}K unknown');
ok t_cmp(from('198.51.100.2', '/anon/index.txt', 'X-API-Key' => 'not a key')->code,
         401, 'a malformed key: 401');
ok t_cmp(from('198.51.100.2', '/anon/index.txt', 'X-API-Key' => $paid->{key},
              'Authorization' => "Bearer $free->{key}")->code,
         400, 'two keys: 400');
$r = from('198.51.100.2', '/anon/index.txt', 'X-API-Key' => $free->{key});
ok t_cmp($r->code, 403, 'a key without the scope: 403 (not the free tier: '
                        . 'the key is not anonymous)');
ok t_cmp($r->header('WWW-Authenticate') // '', qr/insufficient_scope/,
         'insufficient_scope');
# Identity headers a client sends are dropped for anonymous requests too.
$r = from('198.51.100.2', '/anon/cgi/env.pl', 'X-APIKey-Id' => $paid->{id});
ok t_cmp(env_of($r)->{HTTP_X_APIKEY_ID} // 'dropped', 'dropped',
         'a forged X-APIKey-Id does not reach the backend');

# 3. Where anonymous is not granted, or not on: 401 asking for a key.
$r = from('198.51.100.3', '/anon/keyonly/index.txt', 'X-Test-Tag' => 'keyonly');
ok t_cmp($r->code, 401, 'Require apikey, no key: 401');
ok t_cmp($r->header('WWW-Authenticate'), 'Bearer realm="anon"',
         'the challenge names no error (no token was sent)');
ok t_cmp(fields_of('keyonly')->{result}, 'missing', '%{result}K missing');
ok t_cmp(from('198.51.100.3', '/anon/keyonly/index.txt',
              'X-API-Key' => $paid->{key})->code, 200,
         'and a key is let in there');
ok t_cmp(from('198.51.100.3', '/anon/off/index.txt')->code, 401,
         'AuthAPIKeyAnonymous Off in a subsection: 401');
$r = from('198.51.100.3', '/anon/json/index.txt');
ok t_cmp($r->code . ' ' . ($r->header('Content-Type') // ''),
         '401 application/problem+json', 'the 401 as problem+json');
ok t_cmp($r->content, qr/"detail":"This resource needs an API key\."/,
         'saying a key is needed');

# 4. Anonymous limits, per client address.
ok t_cmp(codes('198.51.100.10', '/anon/rate/index.txt', 4), '200 200 200 429',
         'AuthAPIKeyAnonymousRateLimit 1/h burst=3: 3, then 429');
$r = from('198.51.100.10', '/anon/rate/index.txt', 'X-Test-Tag' => 'rate');
ok t_cmp($r->code, 429, 'still refused');
ok t_cmp(($r->header('Retry-After') // 0) > 1 ? 1 : 0, 1, 'with Retry-After');
ok t_cmp($r->header('RateLimit-Policy'), '"rate";q=3;w=10800',
         'RateLimit-Policy of the anonymous tier');
ok t_cmp(fields_of('rate')->{result}, 'rate_limited', '%{result}K rate_limited');
ok t_cmp(codes('198.51.100.11', '/anon/rate/index.txt', 1), '200',
         'another address has a budget of its own');
ok t_cmp(from('198.51.100.10', '/anon/rate/index.txt',
              'X-API-Key' => $paid->{key})->code, 200,
         'a key from the refused address is not charged anonymous limits');

ok t_cmp(codes('198.51.100.20', '/anon/quota/index.txt', 3), '200 200 429',
         'AuthAPIKeyAnonymousQuota 2/day: 2, then 429');
my $t = timed(sub { from('198.51.100.20', '/anon/quota/index.txt') });
my $end = (int($t->[0] / 86400) + 1) * 86400;
my $ra = $t->[2]->header('Retry-After') // -1;
ok t_cmp($ra >= ceil($end - $t->[1] - 1e-6) && $ra <= ceil($end - $t->[0] + 1e-6)
         ? 1 : 0, 1, "Retry-After until midnight UTC ($ra)");
ok t_cmp($t->[2]->content, qr/quota is used up/, 'the quota\'s body');
ok t_cmp(codes('198.51.100.21', '/anon/quota/index.txt', 1), '200',
         'another IPv4 address: its own quota');
ok t_cmp(codes('2001:db8:1:2::1', '/anon/quota/index.txt', 2), '200 200',
         'an IPv6 client: 2');
ok t_cmp(codes('2001:db8:1:2::ffff', '/anon/quota/index.txt', 1), '429',
         'another address of the same /64 shares them');
ok t_cmp(codes('2001:db8:1:3::1', '/anon/quota/index.txt', 1), '200',
         'another /64 has its own');
ok t_cmp(codes('198.51.100.20', '/anon/quota/index.txt', 3,
               'X-API-Key' => $paid->{key}), '200 200 200',
         'a key without limits is not held to the anonymous quota');

# A key whose id is an address does not share its counters with the
# anonymous clients of that address.
ok t_cmp(codes('198.51.100.30', '/anon/quota/index.txt', 3), '200 200 429',
         'the anonymous clients of 198.51.100.30 spend their quota');
my $twin = insert_key('198.51.100.30', owner => 'anon', scopes => 'paid',
                      quota => '2/day');
ok t_cmp(codes('198.51.100.31', '/anon/quota/index.txt', 3, 'X-API-Key' => $twin),
         '200 200 429', 'a key with that id has a quota of its own');

# Anonymous clients take no more than half the limit table: many addresses
# (a /48 holds 65,536 /64s) must not crowd the keys out.
{
    my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
    my $srv = ApiKeyServer->new(
        name => 'anon-spare', mpm => 'event',
        conf => "LoadModule remoteip_module $lib/mod_remoteip.so\n"
              . "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"
              . "AuthAPIKeyLimitSlots 8\nAuthAPIKeyAnonymous On\n"
              . "AuthAPIKeyAnonymousQuota 100/day\nAuthAPIKeyQuota 100/day\n"
              );
    $srv->{conf} .= "<Location />\n    <RequireAny>\n        Require apikey\n"
                  . "        Require apikey-anonymous\n    </RequireAny>\n</Location>\n";
    $srv->write_conf;
    ok t_cmp($srv->start ? 1 : 0, 1, 'a server with AuthAPIKeyLimitSlots 8');
    my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 10);
    my $get = sub { $ua->get($srv->url, @_)->code };
    my $four = join ' ', map { $get->('X-Forwarded-For' => "203.0.113.$_") } 1 .. 4;
    ok t_cmp($four, '200 200 200 200', 'four anonymous clients fill half of it');
    ok t_cmp($get->('X-Forwarded-For' => '203.0.113.5'), 503,
             'a fifth address gets 503');
    ok t_cmp(join(' ', $get->('X-Forwarded-For' => '203.0.113.1'),
                  map { $get->('X-API-Key' => create_key(owner => 'spare')->{key}) } 1 .. 3),
             '200 200 200 200', 'a counted client still gets in, and so do new keys');
    ok t_cmp($srv->error_log, qr/APIKEY00089: the limit table is half full \(\d+ of 8 slots\)/,
             'the error log says why');
    $srv->stop;
}

# 5. Bad values stop httpd, naming the directive, the value and the line.
my @bad = (
    ['AuthAPIKeyAnonymous maybe', qr/AuthAPIKeyAnonymous must be On or Off/],
    ['AuthAPIKeyAnonymousRateLimit fast',
     qr/AuthAPIKeyAnonymousRateLimit 'fast':/],
    ['AuthAPIKeyAnonymousRateLimit 10/s burst=0',
     qr/AuthAPIKeyAnonymousRateLimit 'burst=0': the burst is a number, at least 1/],
    ['AuthAPIKeyAnonymousQuota 5/week', qr/AuthAPIKeyAnonymousQuota '5\/week':/],
    ["<Location /x>\nRequire apikey-anonymous please\n</Location>",
     qr/'Require apikey-anonymous' takes no arguments \(got 'please'\)/],
);
for my $b (@bad) {
    my ($rc, $out, $line) = run_httpd($b->[0]);
    my $at = $line + ($b->[0] =~ /^</ ? 1 : 0);
    ok t_cmp($rc != 0 && $out =~ $b->[1] && $out =~ /line $at\b/ ? 1 : 0, 1,
             "'$b->[0]' stops httpd, naming line $at")
        or print STDERR "# $out\n";
}
my ($rc, $out) = run_httpd("<Location /x>\nAuthType APIKey\nAuthName x\n"
                           . "AuthAPIKeyAnonymous On\n"
                           . "AuthAPIKeyAnonymousRateLimit 10/s burst=20\n"
                           . "AuthAPIKeyAnonymousQuota 1000/day\n"
                           . "Require apikey-anonymous\n</Location>");
ok t_cmp($rc, 0, 'the anonymous tier\'s directives in a <Location>: accepted')
    or print STDERR "# $out\n";
