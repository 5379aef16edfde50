# Rate limits and quotas: exactly N admitted then 429 with Retry-After and
# RateLimit headers; bursts; location defaults and per-key values; report
# mode; refused requests (401, 403) cost nothing; a subrequest or an SSI
# include does not charge again.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key);

plan tests => 32, need(need_module('authn_apikey', 'dbd', 'include'),
                       need_lwp);

sub get { my ($path, $key) = @_; GET "/limits/$path", 'X-API-Key' => $key }
sub codes {
    my ($path, $key, $n) = @_;
    return join ' ', map { get($path, $key)->code } 1..$n;
}
my $now = time;
my $to_midnight = 86400 - (int($now) % 86400);

# A quota of the key's own: exactly 5, then 429.
my $k = create_key(owner => 'lim', quota => '5/day');
my @remaining;
for (1..5) {
    my $r = get('index.txt', $k->{key});
    push @remaining, $r->header('RateLimit-Remaining');
}
ok t_cmp(join(' ', @remaining), '4 3 2 1 0', '5 admitted, remaining counts down');
my $r = get('index.txt', $k->{key});
ok t_cmp($r->code, 429, 'the 6th: 429');
ok t_cmp(abs($r->header('Retry-After') - $to_midnight) <= 2 ? 1 : 0, 1,
         'Retry-After: until the next UTC midnight');
ok t_cmp($r->content, qr/quota is used up/, 'a small body says why');
ok t_cmp($r->header('RateLimit-Policy'), '"quota";q=5;w=86400',
         'RateLimit-Policy (IETF draft)');
ok t_cmp($r->header('RateLimit'), qr/^"quota";r=0;t=\d+$/, 'RateLimit');
ok t_cmp($r->header('RateLimit-Limit'), 5, 'RateLimit-Limit');
ok t_cmp($r->header('RateLimit-Remaining'), 0, 'RateLimit-Remaining');

# A rate limit with a burst: 3 at once, then one per 0.5 s.
my $fast = create_key(owner => 'lim', rate => '2/s', burst => 3);
ok t_cmp(codes('index.txt', $fast->{key}, 4), '200 200 200 429',
         'burst of 3, the 4th refused');
$r = get('index.txt', $fast->{key});
ok t_cmp($r->header('Retry-After'), 1, 'Retry-After rounds up to 1 s');
ok t_cmp($r->header('RateLimit-Policy'), '"rate";q=3;w=2',
         'rate policy: the burst over its window');
sleep 0.6;
ok t_cmp(get('index.txt', $fast->{key})->code, 200,
         'one more after one interval');
ok t_cmp(get('index.txt', $fast->{key})->code, 429, 'and not two');

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
$r = get('hourly/index.txt', $h->{key});
ok t_cmp($r->code, 429, '1/hour: the second is refused');
my $to_hour = 3600 - (int(time) % 3600);
ok t_cmp(abs($r->header('Retry-After') - $to_hour) <= 2 ? 1 : 0, 1,
         'Retry-After: until the next UTC hour');

# A 429 is logged, and keeps the connection usable.
t_start_error_log_watch();
get('index.txt', $k->{key});
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00034: API key \Q$k->{id}\E refused: quota exceeded/ } @log),
         1, 'the error log says why');
ok t_cmp(get('index.txt', $plain->{key})->code, 200,
         'other keys are not affected');
