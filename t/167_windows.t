# Several quota windows at once (AuthAPIKeyQuota 3/hour 5/day, a key's
# "10/hour,2/day"): each enforced, each in the RateLimit headers and on
# the status page; a window that refuses gives back what the others took,
# so a refused request costs nothing; Retry-After is the refusing
# window's; cluster-wide with AuthAPIKeyQuotaStore dbd too.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use File::Spec;
use JSON::PP ();
use LWP::UserAgent ();
use POSIX qw(ceil);
use ApiKeyTest qw(create_key htapikey run_httpd store_sql);
use ApiKeyServer;
use ApiKeyWait qw(timed wait_for);

plan tests => 22, need(need_module('authn_apikey', 'dbd'), need_lwp,
                       ApiKeyServer::need_many_processes());

my $log = File::Spec->catfile(Apache::Test::vars('t_logs'), 'apikey_windows.log');
sub fields_of {
    my $tag = shift;
    my $f = wait_for(sub {
        for my $line (reverse split /\n/, ApiKeyTest::read_file($log)) {
            my @v = split /\|/, $line, -1;
            return { result => $v[1], limit => $v[2], remaining => $v[3],
                     reset => $v[4] } if $v[0] eq $tag;
        }
        return;
    });
    return $f || {};
}
sub codes {
    my ($key, $n) = @_;
    return join ' ', map { (GET '/windows/index.txt', 'X-API-Key' => $key)->code } 1 .. $n;
}
# Retry-After within the end of the UTC period seen from the request's
# sending and from its answer.
sub until_end_ok {
    my ($t, $len) = @_;
    my $ra = $t->[2]->header('Retry-After') // -1;
    my $end = (int($t->[0] / $len) + 1) * $len;
    my ($min, $max) = (ceil($end - $t->[1] - 1e-6), ceil($end - $t->[0] + 1e-6));
    return $ra >= $min && $ra <= $max ? 1 : "$ra not in [$min, $max]";
}
sub items { my %i = ($_[0] // '') =~ /"([\w-]+)";r=(\d+)/g; \%i }

# 1. The location's windows: the hour's refuses first.
my $k = create_key(owner => 'windows');
ok t_cmp(codes($k->{key}, 3), '200 200 200', '3/hour 5/day: three admitted');
my $t = timed(sub { GET '/windows/index.txt', 'X-API-Key' => $k->{key},
                        'X-Test-Tag' => 'hour' });
my $r = $t->[2];
ok t_cmp($r->code, 429, 'the fourth: 429');
ok t_cmp(until_end_ok($t, 3600), 1, 'Retry-After: until the hour ends');
ok t_cmp($r->header('RateLimit-Policy'),
         '"quota-hour";q=3;w=3600, "quota-day";q=5;w=86400',
         'a policy per window, named for its period');
my $i = items($r->header('RateLimit'));
ok t_cmp("$i->{'quota-hour'} $i->{'quota-day'}", '0 2',
         'each window its own state (the day has 2 left)');
ok t_cmp(join(' ', map { $r->header("RateLimit-$_") } qw(Limit Remaining)), '3 0',
         'the legacy headers describe the window that refused');
my $f = fields_of('hour');
ok t_cmp("$f->{result} $f->{limit} $f->{remaining}", 'quota_exceeded 3 0',
         'and so do the log fields');

# 2. The key's own windows: the day's refuses, after the hour counted.
my $own = create_key(owner => 'windows', quota => '10/hour,2/day');
ok t_cmp(codes($own->{key}, 2), '200 200', '10/hour,2/day: two admitted');
$t = timed(sub { GET '/windows/index.txt', 'X-API-Key' => $own->{key},
                     'X-Test-Tag' => 'day' });
$r = $t->[2];
ok t_cmp($r->code, 429, 'the third: 429, of the day');
ok t_cmp(until_end_ok($t, 86400), 1, 'Retry-After: until midnight UTC');
$i = items($r->header('RateLimit'));
ok t_cmp("$i->{'quota-hour'} $i->{'quota-day'}", '8 0',
         'the hour gave its unit back: 8 left, as before the request');
GET '/windows/index.txt', 'X-API-Key' => $own->{key} for 1 .. 5;
$r = GET '/windows/index.txt', 'X-API-Key' => $own->{key};
$i = items($r->header('RateLimit'));
ok t_cmp($r->code . ' ' . $i->{'quota-hour'}, '429 8',
         'six refused requests later the hour still has 8: refusals cost nothing');
ok t_cmp(fields_of('day')->{limit}, 2, '%{limit}K is the day\'s');

# A location of one window and one of two, alternated: neither resets the
# other's counts (each would read the other's word, of another period, as
# unused, and neither limit would hold).
my $alt = create_key(owner => 'windows');
my (%ok);
for (1 .. 6) {
    for my $where ('windows', 'windows/dayonly') {
        $ok{$where}++ if (GET "/$where/index.txt", 'X-API-Key' => $alt->{key})->code == 200;
    }
}
ok t_cmp("$ok{'windows'} $ok{'windows/dayonly'}", '3 4',
         'alternating /windows (3/hour 5/day) and /windows/dayonly (4/day): 3 and 4 admitted');

# 3. The status page shows each window.
$r = GET '/apikey-status?format=json';
my $doc = eval { JSON::PP::decode_json($r->content) } || {};
my %rows;
for my $row (@{ $doc->{keys} || [] }) {
    next unless $row->{id} eq $own->{id} && $row->{quota};
    $rows{ $row->{quota}{period} } = "$row->{quota}{used}/$row->{quota}{limit}";
}
ok t_cmp(join(' ', map { $rows{$_} // '-' } qw(hour day)), '2/10 2/2',
         'the status page has a row per window, with its count');

# 4. Bad values.
my ($rc, $out, $line) = run_httpd('AuthAPIKeyQuota 1/day 2/day');
ok t_cmp($rc != 0 && $out =~ /AuthAPIKeyQuota '1\/day 2\/day': two quotas of the same period/
         && $out =~ /line $line\b/ ? 1 : 0, 1, 'two windows of a period stop httpd, naming the line')
    or print STDERR "# $out\n";
($rc, $out) = run_httpd('AuthAPIKeyQuota 1/hour 1/day 1/month 1/week');
ok t_cmp($rc != 0 && $out =~ /AuthAPIKeyQuota/ ? 1 : 0, 1, 'four windows stop httpd');
my ($hrc, $hout, $herr) = htapikey('create', '--owner', 'windows', '--quota', '5/day,6/day');
ok t_cmp("$hrc " . ($herr =~ /--quota '5\/day,6\/day': two quotas of the same period/ ? 1 : 0),
         '2 1', 'htapikey refuses two windows of a period, naming the value');
($hrc, $hout) = htapikey('--json', 'create', '--owner', 'windows', '--quota', '20000/day 1000/hour');
my ($id) = $hout =~ /"id":"([^"]+)"/;
($hrc, $hout) = htapikey('--json', 'show', $id // 'none');
ok t_cmp($hout, qr{"quota":"1000/hour,20000/day"}, 'and stores the windows in order');

# 5. Cluster-wide: the windows' units leased from the store, each its own rows.
my $node = ApiKeyServer->new(name => 'windows-dbd', mpm => 'event',
                             conf => "AuthAPIKeyQuotaStore dbd\nAuthAPIKeyQuotaSync 1\n");
ok t_cmp($node->start ? 1 : 0, 1, 'a server with AuthAPIKeyQuotaStore dbd');
my $fleet = create_key(owner => 'windows', quota => '100/hour,3/day');
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 10);
my @got = map { $ua->get($node->url, 'X-API-Key' => $fleet->{key})->code } 1 .. 6;
ok t_cmp("@got", '200 200 200 429 429 429', '100/hour,3/day in the store: 3 admitted');
$node->stop;
# Stopped: the units a node held went back; the rows say what was spent.
my $rows = store_sql("SELECT claimed FROM apikey_quota WHERE key_id LIKE '%$fleet->{id}' ORDER BY claimed");
$rows =~ s/\s+/ /g; $rows =~ s/^ | $//g;
ok t_cmp($rows, '3 3', 'a row per window, each with the 3 admitted');
