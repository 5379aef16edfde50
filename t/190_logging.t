# %{FIELD}K log fields, checked in a custom access log for every outcome,
# after an internal redirect to an ErrorDocument, and %{request}K masking
# query-string keys; then the metrics (Prometheus and ?auto).
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use File::Spec;
use MIME::Base64 qw(encode_base64);
use ApiKeyTest qw(create_key htapikey random_wellformed_key);
use ApiKeyWait qw(wait_for);

plan tests => 38, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $log = File::Spec->catfile(Apache::Test::vars('t_logs'), 'apikey_fields.log');
my @names = qw(tag id owner scopes result limit remaining reset source grace
               request status);

# The fields of the line logged for a tag (waiting for httpd to write it:
# after the answer, and later the slower the machine).
sub fields_of {
    my $tag = shift;
    my $f = wait_for(sub {
        for my $line (reverse split /\n/, ApiKeyTest::read_file($log)) {
            my @v = split /\|/, $line, -1;
            next unless $v[0] eq $tag;
            my %f;
            @f{@names} = @v;
            return \%f;
        }
        return;
    });
    return $f || {};
}
sub req {
    my ($tag, $path, @h) = @_;
    GET $path, 'X-Test-Tag' => $tag, @h;
    return fields_of($tag);
}
sub summary { my $f = shift; join ' ', map { $f->{$_} // 'undef' } @_ }

my $ok = create_key(owner => 'logger', scopes => 'a b', quota => '10/day');
my $f = req('ok', '/logf/index.txt', 'X-API-Key' => $ok->{key});
ok t_cmp(summary($f, qw(id owner scopes result source status)),
         "$ok->{id} logger a b ok header 200", 'success: id owner scopes result source');
ok t_cmp(summary($f, qw(limit remaining)), '10 9', 'success: limit, remaining');
ok t_cmp($f->{reset} =~ /^\d+$/ && $f->{reset} <= 86400 ? 1 : 0, 1,
         'success: reset in seconds');
ok t_cmp($f->{grace}, '-', 'unset fields print -');

# Each failure reason.
my $revoked  = create_key(owner => 'logger');
my $disabled = create_key(owner => 'logger');
my $expired  = create_key(owner => 'logger', expires => '2099-01-01');
my $ipk      = create_key(owner => 'logger', 'allow-ip' => '10.0.0.0/8');
my $refk     = create_key(owner => 'logger', 'allow-referer' => 'example.com');
my $ratek    = create_key(owner => 'logger', rate => '1/h', burst => 1);
my $quotak   = create_key(owner => 'logger', quota => '1/day');
htapikey('revoke', $revoked->{id});
htapikey('disable', $disabled->{id});
system('sqlite3', ApiKeyTest::key_store(),
       "UPDATE apikey SET expires = 1000 WHERE id = '$expired->{id}'");
GET '/logf/index.txt', 'X-API-Key' => $ratek->{key};
GET '/logf/index.txt', 'X-API-Key' => $quotak->{key};

my @cases = (
    ['missing',  [],                                        'missing 401'],
    ['malformed', ['X-API-Key' => 'nope'],                  'malformed 401'],
    ['unknown',  ['X-API-Key' => random_wellformed_key()],  'unknown 401'],
    ['expired',  ['X-API-Key' => $expired->{key}],          'expired 401'],
    ['revoked',  ['X-API-Key' => $revoked->{key}],          'revoked 401'],
    ['disabled', ['X-API-Key' => $disabled->{key}],         'disabled 401'],
    ['ip',       ['X-API-Key' => $ipk->{key}],              'ip_denied 403'],
    ['referer',  ['X-API-Key' => $refk->{key}, Referer => 'https://x.org/'],
                                                            'referer_denied 403'],
    ['rate',     ['X-API-Key' => $ratek->{key}],            'rate_limited 429'],
    ['quota',    ['X-API-Key' => $quotak->{key}],           'quota_exceeded 429'],
);
for my $c (@cases) {
    my ($tag, $h, $want) = @$c;
    $f = req($tag, '/logf/index.txt', @$h);
    ok t_cmp(summary($f, qw(result status)), $want, "result: $want");
}
ok t_cmp(summary($f, qw(id limit remaining)), "$quotak->{id} 1 0",
         'a 429 logs the key, its limit and what is left');
$f = req('revoked-id', '/logf/index.txt', 'X-API-Key' => $revoked->{key});
ok t_cmp($f->{id}, '-', 'a refused key\'s id is not logged as the identity');

# error: the store cannot answer (a virtual host inherits the log).
Apache::TestRequest::module('apikey_nodb');
$f = req('error', '/dbfail/index.txt', 'X-API-Key' => $ok->{key});
Apache::TestRequest::module('default');
ok t_cmp(summary($f, qw(result status)), 'error 503', 'result: error 503');

# insufficient_scope, through an ErrorDocument (an internal redirect).
$f = req('scope', '/logf-scope/index.txt', 'X-API-Key' => $ok->{key});
ok t_cmp(summary($f, qw(id result status)),
         "$ok->{id} insufficient_scope 403",
         'after the internal redirect to the ErrorDocument: the original request\'s fields');

# Sources.
$f = req('bearer', '/logf/index.txt', Authorization => "Bearer $ok->{key}");
ok t_cmp($f->{source}, 'bearer', 'source: bearer');
$f = req('basic', '/logf/index.txt',
         Authorization => 'Basic ' . encode_base64("$ok->{key}:", ''));
ok t_cmp($f->{source}, 'basic', 'source: basic');

# The query string: %{request}K masks the key where it is kept...
$f = req('query', "/logf/index.txt?x=1&api_key=$ok->{key}&y=2");
ok t_cmp($f->{source}, 'query', 'source: query');
ok t_cmp($f->{request}, 'GET /logf/index.txt?x=1&api_key=[REDACTED]&y=2 HTTP/1.1',
         '%{request}K masks the key');
# ...and with AuthAPIKeyHideCredentials On it is gone from the request.
$f = req('hidden', "/logf-hidden/index.txt?api_key=$ok->{key}&z=3");
ok t_cmp($f->{request}, 'GET /logf-hidden/index.txt?z=3 HTTP/1.1',
         'hidden: the key is not in the request line at all');

# A key where the query is not read is masked too, by its shape.
$f = req('stray', "/authn/index.txt?token=$ok->{key}&n=1");
ok t_cmp($f->{request}, 'GET /authn/index.txt?token=[REDACTED]&n=1 HTTP/1.1',
         '%{request}K masks a well-formed key in any parameter');

# grace: a key being rotated.
my ($rc, $out) = htapikey('--json', 'rotate', $ok->{id}, '--grace', '1h');
my ($until) = $out =~ /"grace_until":"([^"]+)"/;
$f = req('grace', '/logf/index.txt', 'X-API-Key' => $ok->{key});
ok t_cmp($f->{grace}, $until, 'grace: when the rotated key stops');

# Values are escaped as every field is.
my $odd = create_key(owner => 'quo"te\\back');
$f = req('escape', '/logf/index.txt', 'X-API-Key' => $odd->{key});
ok t_cmp($f->{owner}, 'quo\\"te\\\\back', 'owner escaped like %u');

# Metrics.
sub metrics {
    my %m;
    for (split /\n/, (GET '/apikey-status?format=prometheus')->content) {
        $m{$1} = $2 if /^(apikey_\S+) (\d+)$/;
    }
    return \%m;
}
my $r = GET '/apikey-status?format=prometheus';
ok t_cmp($r->header('Content-Type'), qr{^text/plain; version=0\.0\.4},
         'Prometheus content type');
# A label's value is any string, its quote, backslash and line break
# escaped (the text format's rule): apikey_build_info's version has dots.
my @bad = grep { !/^(# (HELP|TYPE) apikey_\w+ .+|apikey_\w+(\{\w+="(?:[^"\\\n]|\\.)*"\})? \d+)$/ }
          split /\n/, $r->content;
ok t_cmp(join("\n", @bad), '', 'every line is HELP, TYPE or a sample');
ok t_cmp(scalar(() = $r->content =~ /^# TYPE apikey_requests_total counter$/mg), 1,
         'requests_total is a counter');
# The counters of a request's result grow when it is logged, after its
# answer: wait until they have grown by at least what is expected (more
# fails below).
sub grown {
    my ($from, %by) = @_;
    my $m;
    wait_for(sub {
        $m = metrics();
        return !grep { ($m->{$_} // 0) - ($from->{$_} // 0) < $by{$_} } keys %by;
    });
    return $m;
}
my $before = metrics();
my $k2 = create_key(owner => 'metrics');
GET '/logf/index.txt', 'X-API-Key' => $k2->{key} for 1..3;
GET '/logf/index.txt', 'X-API-Key' => 'garbage' for 1..2;
my $after = grown($before, 'apikey_requests_total{result="ok"}' => 3,
                  'apikey_requests_total{result="malformed"}' => 2);
ok t_cmp($after->{'apikey_requests_total{result="ok"}'}
         - $before->{'apikey_requests_total{result="ok"}'}, 3,
         'requests_total{result="ok"} counts 3 more');
ok t_cmp($after->{'apikey_requests_total{result="malformed"}'}
         - $before->{'apikey_requests_total{result="malformed"}'}, 2,
         'requests_total{result="malformed"} counts 2 more');
Apache::TestRequest::module('apikey_nodb');
GET '/dbfail/index.txt', 'X-API-Key' => $k2->{key};
Apache::TestRequest::module('default');
my $later = grown($after, apikey_db_errors_total => 1);
ok t_cmp($later->{apikey_db_errors_total} - $after->{apikey_db_errors_total}, 1,
         'db_errors_total counts a failed look-up');
Apache::TestRequest::module('apikey_cached');
my $ck = ApiKeyTest::htapikey('-p', File::Spec->catfile(Apache::Test::vars('serverroot'),
                              'data', 'cache.db'), '--json', 'create', '--owner', 'm');
my ($ckey) = (ApiKeyTest::htapikey('-p', File::Spec->catfile(Apache::Test::vars('serverroot'),
              'data', 'cache.db'), '--json', 'create', '--owner', 'm2'))[1] =~ /"key":"([^"]+)"/;
$before = metrics();
GET '/cached/index.txt', 'X-API-Key' => $ckey for 1..3;
Apache::TestRequest::module('default');
$after = metrics();
my $looked = ($after->{'apikey_cache_lookups_total{answer="hit"}'}
              - $before->{'apikey_cache_lookups_total{answer="hit"}'})
           + ($after->{'apikey_cache_lookups_total{answer="miss"}'}
              - $before->{'apikey_cache_lookups_total{answer="miss"}'});
ok t_cmp($looked, 3, 'cache look-ups: 3 more (hits and misses)');
ok t_cmp($after->{'apikey_limit_slots{state="used"}'}
         + $after->{'apikey_limit_slots{state="free"}'}, 65536,
         'limit slots used + free = AuthAPIKeyLimitSlots');
ok t_cmp($after->{'apikey_limit_slots{state="used"}'} >= 1 ? 1 : 0, 1,
         'some slots used');

$r = GET '/apikey-status?auto';
ok t_cmp($r->content, qr/^Requests_ok: \d+$/m, '?auto: Requests_ok');
ok t_cmp($r->content, qr/^LimitSlotsFree: \d+$/m, '?auto: LimitSlotsFree');
ok t_cmp($r->content, qr/^CacheHits: \d+$/m, '?auto: CacheHits');
