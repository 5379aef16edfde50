# Rate limits and quotas: exactly N admitted then 429 with Retry-After and
# RateLimit headers; bursts; location defaults and per-key values; report
# mode; refused requests (401, 403) cost nothing; a subrequest or an SSI
# include does not charge again.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use POSIX qw(ceil);
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key);
use ApiKeyWait qw(gcra_check timed);

plan tests => 32, need(need_module('authn_apikey', 'dbd', 'include'),
                       need_lwp);

sub get { my ($path, $key) = @_; GET "/limits/$path", 'X-API-Key' => $key }
sub codes {
    my ($path, $key, $n) = @_;
    return join ' ', map { get($path, $key)->code } 1..$n;
}
# A 429 of a quota says when its period ends: Retry-After is the seconds
# from the server's instant of the charge, rounded up, to the end of the
# UTC period (86400 or 3600 s long).  That instant lies between sending the
# request and reading its answer: the range of Retry-After allowed by the
# times the request really took.
sub period_left {
    my ($t, $period) = @_;
    my $end = (int($t->[0] / $period) + 1) * $period;
    return (ceil($end - $t->[1] - 1e-6), ceil($end - $t->[0] + 1e-6));
}
sub retry_after_ok {
    my ($t, $period) = @_;
    my $ra = $t->[2]->header('Retry-After') // -1;
    my ($min, $max) = period_left($t, $period);
    return $ra >= $min && $ra <= $max ? 1 : "Retry-After $ra, not in [$min, $max]";
}

# A quota of the key's own: exactly 5, then 429.
my $k = create_key(owner => 'lim', quota => '5/day');
my @remaining;
for (1..5) {
    my $r = get('index.txt', $k->{key});
    push @remaining, $r->header('RateLimit-Remaining');
}
ok t_cmp(join(' ', @remaining), '4 3 2 1 0', '5 admitted, remaining counts down');
my $t = timed(sub { get('index.txt', $k->{key}) });
my $r = $t->[2];
ok t_cmp($r->code, 429, 'the 6th: 429');
ok t_cmp(retry_after_ok($t, 86400), 1,
         'Retry-After: until the next UTC midnight (from the instant of the '
         . 'request, whenever it reached the server)');
ok t_cmp($r->content, qr/quota is used up/, 'a small body says why');
ok t_cmp($r->header('RateLimit-Policy'), '"quota";q=5;w=86400',
         'RateLimit-Policy (IETF draft)');
ok t_cmp($r->header('RateLimit'), qr/^"quota";r=0;t=\d+$/, 'RateLimit');
ok t_cmp($r->header('RateLimit-Limit'), 5, 'RateLimit-Limit');
ok t_cmp($r->header('RateLimit-Remaining'), 0, 'RateLimit-Remaining');

# A rate limit with a burst: 3 at once, then one per 0.5 s.  Its answers
# depend on when the requests reached the server: each is timed, and the
# answers are judged by what the GCRA gives for those times (gcra_check:
# when the requests come within a few milliseconds, as on any machine but
# a crawling one, exactly "200 200 200 429" and so on).
my $fast = create_key(owner => 'lim', rate => '2/s', burst => 3);
my ($interval, $burst) = (0.5, 3);
my @fast;
sub fast {
    my $t = timed(sub { get('index.txt', $fast->{key}) });
    push @fast, [$t->[0], $t->[1], $t->[2]->code];
    return $t->[2];
}
sub fast_codes { join ' ', map { $_->[2] } @_ }
fast() for 1 .. 4;
ok t_cmp(gcra_check($interval, $burst, \@fast), '',
         sprintf('burst of 3, then refused: %s in %.3f s, as the GCRA has it '
                 . '(within 0.5 s: 200 200 200 429)', fast_codes(@fast),
                 $fast[-1][1] - $fast[0][0]));
# A refused request: until one is (the next, unless the machine took the
# interval over each request).
my $refused;
for (1 .. 8) {
    $r = fast();
    if ($r->code == 429) { $refused = $r; last }
}
if ($refused) {
    ok t_cmp($refused->header('Retry-After'), 1,
             'Retry-After rounds up to 1 s (the wait is under 0.5 s)');
}
else {
    skip('no request was refused: each took longer than the interval '
         . '(' . fast_codes(@fast) . ')', 1);
}
ok t_cmp($r->header('RateLimit-Policy'), '"rate";q=3;w=2',
         'rate policy: the burst over its window');
# Once the instant the GCRA admits the next one has passed for every TAT
# the key may have: one more, and then (within the interval) not two.
# (Answers the GCRA does not allow, failed above, leave no TAT to go by:
# then wait for the whole burst to come back.)
my (undef, undef, $tat) = gcra_check($interval, $burst, \@fast);
$tat //= time + $burst * $interval;
my $wait = $tat - ($burst - 1) * $interval + 0.01 - time;
sleep $wait if $wait > 0;
my $n0 = @fast;
ok t_cmp(fast()->code, 200, 'one more once the interval passed');
fast();
ok t_cmp(gcra_check($interval, $burst, \@fast), '',
         sprintf('and not two: %s, %.3f s apart, as the GCRA has it (under '
                 . '0.5 s: 200 429)', fast_codes(@fast[$n0 .. $#fast]),
                 $fast[-1][0] - $fast[$n0][0]));

# Location defaults for keys without their own; the key's own win.
my $plain = create_key(owner => 'lim');
my $own   = create_key(owner => 'lim', quota => '6/day');
ok t_cmp(codes('default/index.txt', $plain->{key}, 4), '200 200 200 429',
         'AuthAPIKeyQuota 3/day for a key without its own');
ok t_cmp(codes('default/index.txt', $own->{key}, 7),
         '200 200 200 200 200 200 429', 'the key\'s own 6/day wins');
ok t_cmp(codes('index.txt', $plain->{key}, 5), '200 200 200 200 200',
         'no limit where none is set');
ok t_cmp(get('index.txt', $plain->{key})->header('RateLimit-Policy'), undef,
         'and no RateLimit headers then');

# Report mode: counts and logs, never refuses.
my $rep = create_key(owner => 'lim');
t_start_error_log_watch();
ok t_cmp(codes('report/index.txt', $rep->{key}, 4), '200 200 200 200',
         'report mode: never 429');
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00034: API key \Q$rep->{id}\E would be refused: quota exceeded/ } @log),
         2, 'but logs the 2 it would have refused');
ok t_cmp(get('report/index.txt', $rep->{key})->header('RateLimit-Remaining'),
         0, 'and reports the quota as spent');

# Refused requests cost nothing: 401 and 403.
my $two = create_key(owner => 'lim', quota => '2/day');
get('scoped/index.txt', $two->{key}) for 1..3;              # 403
GET '/limits/index.txt', 'X-API-Key' => 'junk' for 1..3;   # 401
ok t_cmp(get('scoped/index.txt', $two->{key})->code, 403, '403 for the scope');
ok t_cmp(codes('index.txt', $two->{key}, 3), '200 200 429',
         '403s and 401s charged nothing: 2 admitted');

# Subrequests charge once: DirectoryIndex and SSI includes.
my $dir = create_key(owner => 'lim', quota => '2/day');
ok t_cmp(codes('dir/', $dir->{key}, 3), '200 200 429',
         'DirectoryIndex (a subrequest) charges once');
my $ssi = create_key(owner => 'lim', quota => '2/day');
$r = get('ssi/page.shtml', $ssi->{key});
ok t_cmp($r->code, 200, 'an SSI page with three includes');
ok t_cmp($r->content, ("a\nb\nc\n" x 3) . "\n", 'the includes are served');
ok t_cmp(get('ssi/page.shtml', $ssi->{key})->code, 200,
         'a second page: the includes did not charge');
ok t_cmp(get('ssi/page.shtml', $ssi->{key})->code, 429,
         'a third page is over the quota');

# An hourly quota resets at the next UTC hour.
my $h = create_key(owner => 'lim');
ok t_cmp(get('hourly/index.txt', $h->{key})->code, 200, '1/hour: the first');
$t = timed(sub { get('hourly/index.txt', $h->{key}) });
ok t_cmp($t->[2]->code, 429, '1/hour: the second is refused');
ok t_cmp(retry_after_ok($t, 3600), 1, 'Retry-After: until the next UTC hour');

# A 429 is logged, and keeps the connection usable.
t_start_error_log_watch();
get('index.txt', $k->{key});
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00034: API key \Q$k->{id}\E refused: quota exceeded/ } @log),
         1, 'the error log says why');
ok t_cmp(get('index.txt', $plain->{key})->code, 200,
         'other keys are not affected');
