# The answers of the module's refusals: every header and log field
# describes the limit that refused (and each RateLimit item its own
# limit); bodies that are text say so in their Content-Type; with
# AuthAPIKeyErrorFormat json, RFC 9457 problem+json for 400, 401, 403, 429
# and 503 that tells no more than the status and RFC 6750's code; the
# admin's ErrorDocument and `Header always unset` win over the module.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use File::Spec;
use JSON::PP ();
use POSIX qw(ceil);
use ApiKeyTest qw(create_key htapikey random_wellformed_key run_httpd);
use ApiKeyWait qw(timed wait_for);

plan tests => 54, need(need_module('authn_apikey', 'dbd', 'headers'),
                       need_lwp);

my $log = File::Spec->catfile(Apache::Test::vars('t_logs'),
                              'apikey_errors.log');
# The fields logged for a tag (once httpd has written them).
sub fields_of {
    my $tag = shift;
    my $f = wait_for(sub {
        for my $line (reverse split /\n/, ApiKeyTest::read_file($log)) {
            my @v = split /\|/, $line, -1;
            return { result => $v[1], limit => $v[2], remaining => $v[3],
                     reset => $v[4], status => $v[5] } if $v[0] eq $tag;
        }
        return;
    });
    return $f || {};
}
# Retry-After of a quota's 429 lies between the end of the UTC period
# seen from when the request was sent and from when its answer came.
sub until_midnight_ok {
    my ($t, $ra) = @_;
    my $end = (int($t->[0] / 86400) + 1) * 86400;
    my ($min, $max) = (ceil($end - $t->[1] - 1e-6), ceil($end - $t->[0] + 1e-6));
    return $ra >= $min && $ra <= $max ? 1 : "$ra not in [$min, $max]";
}
sub json_of {
    my $r = shift;
    my $v = eval { JSON::PP::decode_json($r->content) };
    return $v || { unparsed => $r->content };
}
sub ctype { ($_[0]->header('Content-Type') // '') }

# 1. The rate limit refuses while the quota is spent too: the quota is
# what the client must wait for, and every header and field says so.
# (Whether the third request comes within the minute or not, the quota
# refuses it: the answer does not depend on the machine's speed.)
my $both = create_key(owner => 'err', rate => '1/m', burst => 2,
                      quota => '2/day');
my $codes = join ' ', map {
    (GET '/errors/index.txt', 'X-API-Key' => $both->{key})->code } 1 .. 2;
ok t_cmp($codes, '200 200', 'a burst of 2 and a quota of 2: two admitted');
my $t = timed(sub { GET '/errors/index.txt', 'X-API-Key' => $both->{key},
                        'X-Test-Tag' => 'both' });
my $r = $t->[2];
ok t_cmp($r->code, 429, 'the third: 429');
my $ra = $r->header('Retry-After') // -1;
ok t_cmp(until_midnight_ok($t, $ra), 1,
         'Retry-After: until the quota\'s period ends, not the rate\'s minute');
ok t_cmp($r->header('RateLimit-Reset'), $ra,
         'RateLimit-Reset says the same as Retry-After');
ok t_cmp($r->header('RateLimit-Remaining'), 0, 'RateLimit-Remaining: 0');
ok t_cmp($r->header('RateLimit'), qr/"quota";r=0;t=\Q$ra\E$/,
         'the quota item: none left, reset at the period\'s end');
ok t_cmp($r->content, qr/quota is used up/, 'the body names the quota');
my $f = fields_of('both');
ok t_cmp("$f->{result} $f->{limit} $f->{remaining} $f->{reset}",
         "quota_exceeded 2 0 $ra",
         '%{result}K %{limit}K %{remaining}K %{reset}K describe the quota');

# 2. The quota refuses, the rate has room: each item its own state.
my $room = create_key(owner => 'err', rate => '10/s', burst => 5,
                      quota => '2/day');
GET '/errors/index.txt', 'X-API-Key' => $room->{key} for 1 .. 2;
$t = timed(sub { GET '/errors/index.txt', 'X-API-Key' => $room->{key},
                     'X-Test-Tag' => 'room' });
$r = $t->[2];
$ra = $r->header('Retry-After') // -1;
ok t_cmp($r->code, 429, 'a quota of 2: the third is 429');
my ($rr, $rt) = ($r->header('RateLimit') // '') =~ /"rate";r=(\d+);t=(\d+)/;
ok t_cmp(defined $rr && $rr >= 3 && $rr <= 5 ? 1 : 0, 1,
         "the rate item keeps its room (r=" . ($rr // '?') . ", 3 to 5: "
         . 'the refused request gave its unit back)');
ok t_cmp(defined $rt && $rt <= 1 ? 1 : 0, 1,
         'and resets within its burst\'s half second (t=' . ($rt // '?') . ')');
ok t_cmp(until_midnight_ok($t, $ra), 1, 'Retry-After: the quota\'s');
ok t_cmp(join(' ', map { $r->header("RateLimit-$_") // '-' } qw(Limit Remaining Reset)),
         "2 0 $ra", 'the legacy headers describe the quota, not the burst');
$f = fields_of('room');
ok t_cmp("$f->{result} $f->{limit} $f->{remaining} $f->{reset}",
         "quota_exceeded 2 0 $ra", 'and so do the log fields');

# 3. Text bodies say they are text; httpd's own pages stay HTML.
ok t_cmp(ctype($r), qr{^text/plain; charset=utf-8$}i,
         'the 429 sentence goes out as text/plain');
my $k = create_key(owner => 'err');
$r = GET '/errors/tls/index.txt', 'X-API-Key' => $k->{key};
ok t_cmp($r->code, 403, 'a key over plain HTTP where TLS is required: 403');
ok t_cmp(ctype($r), qr{^text/plain; charset=utf-8$}i, 'text/plain');
ok t_cmp($r->content, qr/must be sent over HTTPS/, 'the sentence says why');
$r = GET '/errors/index.txt';
ok t_cmp($r->code . ' ' . ctype($r), qr{^401 text/html},
         'a 401 keeps httpd\'s own HTML page');

# 4. The admin's ErrorDocument wins.
my $one = create_key(owner => 'err', quota => '1/day');
GET '/errors/errdoc-text/index.txt', 'X-API-Key' => $one->{key};
$r = GET '/errors/errdoc-text/index.txt', 'X-API-Key' => $one->{key};
ok t_cmp($r->code, 429, 'ErrorDocument 429 "text": still 429');
ok t_cmp($r->content, qr/the admin's words for 429/, 'with the admin\'s text');
ok t_cmp(defined $r->header('Retry-After') ? 1 : 0, 1, 'and Retry-After');
$r = GET '/errors/errdoc-tls/index.txt', 'X-API-Key' => $k->{key};
ok t_cmp($r->code . ' ' . $r->content, qr/^403 .*the admin's words for 403/s,
         'ErrorDocument 403 "text" wins over the TLS sentence');
$one = create_key(owner => 'err', quota => '1/day');
GET '/errors/errdoc-page/index.txt', 'X-API-Key' => $one->{key};
$r = GET '/errors/errdoc-page/index.txt', 'X-API-Key' => $one->{key};
ok t_cmp($r->code, 429, 'ErrorDocument 429 /errpages/429.txt: 429');
ok t_cmp($r->content, qr/the admin page for 429/, 'with the admin\'s page');
ok t_cmp(join(' ', map { defined $r->header($_) ? 1 : 0 }
                  qw(Retry-After RateLimit-Policy RateLimit-Limit)),
         '1 1 1', 'and the limit headers');
$one = create_key(owner => 'err', quota => '1/day');
GET '/errors/errdoc-inside/index.txt', 'X-API-Key' => $one->{key};
$r = GET '/errors/errdoc-inside/index.txt', 'X-API-Key' => $one->{key};
ok t_cmp($r->code . ' ' . $r->content, qr/^429 the admin page for 429, inside/,
         'an ErrorDocument inside the limited section is served, not refused '
         . 'again');

# 5. Header always unset reaches the module's headers on a 429.
$one = create_key(owner => 'err', quota => '1/day');
$r = GET '/errors/unset/index.txt', 'X-API-Key' => $one->{key};
ok t_cmp(($r->header('RateLimit-Limit') // 'unset') . ' '
         . (defined $r->header('RateLimit-Policy') ? 'policy' : '-'),
         'unset policy', 'a 200: RateLimit-Limit unset, the others kept');
$r = GET '/errors/unset/index.txt', 'X-API-Key' => $one->{key};
ok t_cmp($r->code, 429, 'a 429 under Header always unset');
ok t_cmp($r->header('Retry-After') // 'unset', 'unset',
         'Header always unset Retry-After works');
ok t_cmp($r->header('RateLimit-Limit') // 'unset', 'unset',
         'and RateLimit-Limit');
ok t_cmp(defined $r->header('RateLimit-Policy') ? 1 : 0, 1,
         'the headers not unset are kept');

# 6. AuthAPIKeyErrorFormat json: problem+json for every status.
sub problem_ok {
    my ($r, $status, $error, $what) = @_;
    my $p = json_of($r);
    my $got = join ' ', $r->code, ctype($r), $p->{type} // '-',
        $p->{status} // '-', $p->{error} // '-',
        (defined $p->{title} && length $p->{title} ? 'title' : '-'),
        (defined $p->{detail} && length $p->{detail} ? 'detail' : '-');
    return t_cmp($got, join(' ', $status, 'application/problem+json',
                            'about:blank', $status, $error // '-', 'title',
                            'detail'), $what);
}
$r = GET '/problems/index.txt';
ok problem_ok($r, 401, undef, 'no key: 401 problem+json, no error code');
ok t_cmp(json_of($r)->{title}, 'Unauthorized', 'titled with the status phrase');
ok t_cmp($r->header('WWW-Authenticate'), qr/^Bearer realm="problems"$/,
         'the challenge is still sent');
my $unknown = GET '/problems/index.txt', 'X-API-Key' => random_wellformed_key();
ok problem_ok($unknown, 401, 'invalid_token', 'an unknown key: invalid_token');
my $rev = create_key(owner => 'err');
htapikey('revoke', $rev->{id});
my $revoked = GET '/problems/index.txt', 'X-API-Key' => $rev->{key};
ok t_cmp($revoked->code . ' ' . $revoked->content,
         $unknown->code . ' ' . $unknown->content,
         'a revoked key gets the very body of an unknown one');
ok t_cmp(index($revoked->content, $rev->{key}) < 0
         && index($revoked->content, $rev->{id}) < 0 ? 1 : 0, 1,
         'which names neither the key nor its id');
$r = GET '/problems/index.txt', 'X-API-Key' => $k->{key},
         'Authorization' => 'Bearer ' . random_wellformed_key();
ok problem_ok($r, 400, 'invalid_request', 'two keys: 400 invalid_request');
$r = GET '/problems/scoped/index.txt', 'X-API-Key' => $k->{key};
ok problem_ok($r, 403, 'insufficient_scope', 'a missing scope: 403');
ok t_cmp(json_of($r)->{scope}, 'needed', 'naming the scope, as the '
                                         . 'challenge does');
$r = GET '/problems/tls/index.txt', 'X-API-Key' => $k->{key};
ok problem_ok($r, 403, undef, 'plain HTTP where TLS is required: 403');
ok t_cmp(json_of($r)->{detail}, qr/HTTPS/, 'the detail says HTTPS');
$one = create_key(owner => 'err', quota => '1/day');
GET '/problems/index.txt', 'X-API-Key' => $one->{key};
$r = GET '/problems/index.txt', 'X-API-Key' => $one->{key};
ok problem_ok($r, 429, undef, 'over the quota: 429 problem+json');
ok t_cmp(json_of($r)->{retry_after}, $r->header('Retry-After'),
         'retry_after is Retry-After');
ok t_cmp(json_of($r)->{detail}, qr/quota/, 'the detail names the quota');
my $fast = create_key(owner => 'err', rate => '1/h');
GET '/problems/index.txt', 'X-API-Key' => $fast->{key};
$r = GET '/problems/index.txt', 'X-API-Key' => $fast->{key};
ok problem_ok($r, 429, undef, 'over the rate: 429 problem+json');
ok t_cmp(json_of($r)->{detail}, qr/Too many requests/, 'the detail says so');
$r = GET '/problems/errdoc/index.txt';
ok t_cmp($r->code . ' ' . $r->content, qr/^401 the admin's words for 401/,
         'an ErrorDocument wins over problem+json too');
Apache::TestRequest::module('apikey_errors_nodb');
$r = GET '/problems/index.txt', 'X-API-Key' => $k->{key};
Apache::TestRequest::module('default');
ok problem_ok($r, 503, undef, 'a store that cannot answer: 503 problem+json');
ok t_cmp(json_of($r)->{retry_after}, 5, 'retry_after: 5');
$r = HEAD '/problems/index.txt';
ok t_cmp($r->code . ' ' . ctype($r), '401 application/problem+json',
         'HEAD: the Content-Type of the body it would have');

# 7. Bad values stop httpd, naming the line.
my ($rc, $out, $line) = run_httpd('AuthAPIKeyErrorFormat xml');
ok t_cmp($rc != 0 && $out =~ /AuthAPIKeyErrorFormat 'xml': expected text or json/
         && $out =~ /line $line\b/ ? 1 : 0, 1,
         'AuthAPIKeyErrorFormat xml stops httpd, naming the line')
    or print STDERR "# $out\n";
($rc, $out) = run_httpd("<Location /x>\nAuthAPIKeyErrorFormat json\n</Location>");
ok t_cmp($rc, 0, 'AuthAPIKeyErrorFormat json in a <Location>: accepted')
    or print STDERR "# $out\n";
