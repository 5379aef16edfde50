# A cluster-wide quota (AuthAPIKeyQuotaStore dbd): three private httpds
# share one PostgreSQL (or MariaDB) key store; a key of 1,000 a day under
# parallel load spread over the nodes (1,500 requests) is never admitted
# more than 1,000 times; after one AuthAPIKeyQuotaSync the units the nodes
# held are back in the store and further requests bring the total to
# exactly 1,000, no more.  The database round trips per 1,000 requests are
# printed.  With the database down a node fails closed (503 with
# Retry-After, never 200 beyond what it holds, never 401), and it recovers
# without a restart; a fourth node with fallback=local counts on its own
# meanwhile, never past the quota, and adds what it admitted to the store's
# count when the database is back.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Spec;
use IO::Handle;
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(htapikey backend key_store store_sql top_dir);
use ApiKeyServer;

my $sync   = 0.5; # AuthAPIKeyQuotaSync on the fleet (seconds)
my $refresh = 0.5; # AuthAPIKeyRefresh: a new key reaches every node
my $nodes  = 3;
my $quota  = 1000;
my $load   = 1500;
my $workers = 12;

plan tests => 24, need(need_module('authn_apikey', 'dbd'), need_lwp,
    ApiKeyServer::need_many_processes(),
    { 'one database server shared by several nodes: run with '
      . 'APIKEY_TEST_BACKEND=pgsql or mysql (scripts/test-backends.sh)'
      => backend() ne 'sqlite3' });

# The nodes' database user: read keys, count quotas (docs/fleet.md).
my $user = 'apikey_quota_node';
my $who = backend() eq 'pgsql' ? $user : "'$user'\@'localhost'";
my $db = backend() eq 'mysql' ? 'apikey.' : '';
store_sql((backend() eq 'pgsql' ? "CREATE ROLE $who LOGIN; "
                                : "CREATE USER $who; ")
          . "GRANT SELECT ON ${db}apikey TO $who; "
          . "GRANT SELECT ON ${db}apikey_meta TO $who; "
          . "GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}apikey_quota TO $who");
(my $params = key_store()) =~ s/\buser=\S+/user=$user/
    or die 'DBDParams without user';

my $mpm = "StartServers 2\nServerLimit 4\nThreadLimit 16\n"
        . "ThreadsPerChild 16\nMaxRequestWorkers 64\n"
        . "MinSpareThreads 16\nMaxSpareThreads 64\n";
my @fleet = map {
    ApiKeyServer->new(
        name => "quota$_", mpm => 'event', mpm_conf => $mpm,
        dbd_params => $params,
        conf => "LogLevel info\n"
              . "AuthAPIKeyCacheTimeout 60\nAuthAPIKeyRefresh ${\ ($refresh * 1000)}ms\n"
              . "AuthAPIKeyQuotaStore dbd\nAuthAPIKeyQuotaSync ${\ ($sync * 1000)}ms\n"
              . "DBDMin 0\nDBDKeep 2\nDBDMax 8\nDBDExptime 60\n"
              . "<Location /apikey-status>\n    SetHandler apikey-status\n    AuthAPIKeyStatus On\n"
              . "    Require all granted\n</Location>\n")
} 1..$nodes;
my $fb = ApiKeyServer->new(
    name => 'quota-fallback', mpm => 'event', mpm_conf => $mpm,
    dbd_params => $params,
    conf => "AuthAPIKeyCacheTimeout 60\nAuthAPIKeyRefresh ${\ ($refresh * 1000)}ms\n"
          . "AuthAPIKeyQuotaStore dbd fallback=local\n"
          . "AuthAPIKeyQuotaSync ${\ ($sync * 1000)}ms\n");
ok t_cmp($fb->start ? 1 : 0, 1, 'a node with AuthAPIKeyQuotaStore dbd '
                                . 'fallback=local starts');
my $up = 0;
$up += $_->start ? 1 : 0 for @fleet;
ok t_cmp($up, $nodes, "$nodes nodes with AuthAPIKeyQuotaStore dbd start, "
                      . 'as a database user with SELECT, INSERT, UPDATE, '
                      . 'DELETE on apikey_quota only');

sub create {
    my ($rc, $out, $err) = htapikey('--json', 'create', '--owner', 'fleet',
                                    '--quota', shift);
    die "htapikey create failed ($rc): $err" if $rc;
    return { id  => ($out =~ /"id":"([^"]+)"/)[0],
             key => ($out =~ /"key":"([^"]+)"/)[0] };
}
sub claimed {
    my $id = shift;
    my $v = store_sql("SELECT claimed FROM apikey_quota WHERE key_id = '$id'");
    return $v =~ /(\d+)/ ? $1 : 0;
}
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 20);
sub counters {
    my %sum;
    for my $n (@fleet) {
        my %v = $ua->get($n->url('/apikey-status?auto'))->content
                   =~ /^(QuotaStore\w+): (\d+)$/mg;
        $sum{$_} += $v{$_} for keys %v;
    }
    return \%sum;
}
# Requests spread over the nodes by $w workers at once; returns the count of
# each status.
sub load {
    my ($key, $n, $w) = @_;
    my @kids;
    for my $i (0..$w - 1) {
        pipe(my $r, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 20);
            my %c;
            for (my $j = $i; $j < $n; $j += $w) {
                $c{ $ua->get($fleet[$j % $nodes]->url, 'X-API-Key' => $key)
                       ->code }++;
            }
            print $wr join(' ', map { "$_=$c{$_}" } keys %c), "\n";
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $r];
    }
    my %codes;
    for my $k (@kids) {
        my $line = readline($k->[1]) // '';
        close $k->[1];
        waitpid($k->[0], 0);
        $codes{$1} += $2 while $line =~ /(\d+)=(\d+)/g;
    }
    return \%codes;
}
sub show { my $c = shift; join(' ', map { "$_:$c->{$_}" } sort keys %$c) }

# Waits until $cond holds, for as long as a slow or busy machine may need
# (the sync runs every $sync s, but late when the machine is busy).
# Returns whether it did.
sub wait_for {
    my $cond = shift;
    my $t0 = time;
    while (time - $t0 < 2 * ApiKeyServer::patience()) {
        return 1 if $cond->();
        sleep 0.1;
    }
    return $cond->();
}

my $k = create("$quota/day");
# Every node knows the key (a look-up each), once the marker poll has seen
# it; the quota is not touched yet.
sleep($refresh + 0.5);
my $before = counters();
my $t0 = time;
my $first = load($k->{key}, $load, $workers);
my $took = time - $t0;
my $after = counters();
my $admitted = $first->{200} // 0;
my $statements = $after->{QuotaStoreStatements} - $before->{QuotaStoreStatements};
my $claims = $after->{QuotaStoreClaims} - $before->{QuotaStoreClaims};
print STDERR "# fleet quota: $load requests by $workers workers over $nodes "
    . "nodes in ${\ sprintf('%.2f', $took)} s: ${\ show($first)}; "
    . "$claims claims in $statements statements, "
    . sprintf('%.1f', 1000 * $statements / $load)
    . " database round trips per 1000 requests\n";
ok t_cmp($admitted <= $quota ? 1 : 0, 1,
         "$load requests at once over $nodes nodes: $admitted admitted, "
         . "never more than $quota");
ok t_cmp(($first->{200} // 0) + ($first->{429} // 0), $load,
         'every other request got 429 (no 5xx)');
my $claimed_now = claimed($k->{id});
print STDERR "# fleet quota: the store has $claimed_now claimed right after, "
    . ($claimed_now - $admitted) . " of them held by the nodes\n";
ok t_cmp($claimed_now <= $quota ? 1 : 0, 1,
         'the store never has more than the quota claimed');
# Leases make the round trips far fewer than the requests.  How few depends
# on how many syncs the load spanned (each resizes a lease to what its node
# spent since the last, and gives back what it holds): a tenth of the
# requests when the load took two syncs or less; else what leases allow
# for the syncs it really took, per node and sync a claim (two statements)
# at each size up to the cap and a give-back, plus one claim of the cap per
# quota/cap admissions.
my $syncs = int($took / $sync) + 1;
my $cap = int($quota / 16);
my $bound = $took <= 2 * $sync ? $load / 10
          : 2 * ($quota / $cap + $nodes * ($syncs + 1) * (log($cap) / log(2) + 1))
            + $nodes * ($syncs + 1);
ok t_cmp($statements < $bound ? 1 : 0, 1,
         "far fewer database round trips than requests ($statements for "
         . "$load in $syncs syncs; fewer than ${\ int($bound)})");

# One sync later every unit the nodes held is back: the store counts
# exactly what was admitted.
wait_for(sub { claimed($k->{id}) == $admitted });
ok t_cmp(claimed($k->{id}), $admitted,
         'after one AuthAPIKeyQuotaSync the store counts exactly the '
         . "$admitted admitted");

# Further requests bring the total to exactly the quota, and no further:
# the admissions of rounds of load, a sync apart, added to $total.
sub top_up {
    my ($kk, $total) = @_;
    my $key = $kk->{key};
    my $t0 = time;
    # Rounds until the quota is spent, however many a slow machine needs: a
    # node the store answered "none left" asks again only after its own
    # sync, so a quick round may find every node waiting for theirs.
    while (time - $t0 < 2 * ApiKeyServer::patience()) {
        last if $total >= $quota;
        my $more = load($key, 2 * ($quota - $total) + 30, 3);
        $total += $more->{200} // 0;
        sleep($sync) unless $more->{200};
        # What the nodes held back goes to the store at the sync.
        wait_for(sub { claimed($kk->{id}) == $total }) if $total < $quota;
    }
    return $total;
}
my $total = top_up($k, $admitted);
ok t_cmp($total, $quota, "further requests bring the total to exactly $quota");
my $after_all = load($k->{key}, 60, 3);
ok t_cmp(show($after_all), '429:60', 'and every request after that gets 429');
wait_for(sub { claimed($k->{id}) == $quota });
ok t_cmp(claimed($k->{id}), $quota, "the store counts $quota claimed");

# Load that stops while the nodes hold units: the store has more claimed
# than admitted until the sync, then exactly what was admitted; further
# load takes exactly the rest.
my $k4 = create("$quota/day");
sleep($refresh + 0.5);
my $part = load($k4->{key}, 600, $workers);
my $held_after = claimed($k4->{id}) - ($part->{200} // 0);
wait_for(sub { claimed($k4->{id}) == 600 });
my $c4 = claimed($k4->{id});
print STDERR "# fleet quota: 600 requests: ${\ show($part)}; the nodes held "
    . "$held_after units when the load stopped; $c4 claimed after the sync\n";
ok t_cmp(show($part), '200:600', '600 requests of another key of '
                                 . "$quota/day: all admitted");
ok t_cmp($c4, 600, "one sync later the store counts exactly 600 (the nodes "
                   . "had held $held_after more)");
my $rest = load($k4->{key}, 600, $workers);
# Fewer than the 400 may be admitted until the next sync: units other nodes
# held when the store ran out (at most a lease, quota/16, per node) come
# back with it (docs/fleet.md).
print STDERR "# fleet quota: 600 more: ${\ show($rest)}; "
    . (400 - ($rest->{200} // 0)) . " units held by the nodes, at most "
    . $nodes * int($quota / 16) . "\n";
ok t_cmp(($rest->{200} // 0) <= 400
         && ($rest->{200} // 0) >= 400 - $nodes * int($quota / 16) ? 1 : 0, 1,
         '600 more: no more than the 400 left admitted, no fewer than 400 '
         . 'less a lease a node');
wait_for(sub { claimed($k4->{id}) == 600 + ($rest->{200} // 0) });
ok t_cmp(top_up($k4, 600 + ($rest->{200} // 0)), $quota,
         "and with what the nodes held back after a sync, exactly $quota");

# The database goes away.  A key every node has cached, with no units
# held: 503 with Retry-After (never 401, never 200), logged; one failed
# claim per node and sync interval, not one per request.
# (Both keys made first: a change to the store empties the nodes' caches.)
# The fallback node knows a key of 10 a day and has admitted one.
my $k2 = create("$quota/day");
my $k3 = create('10/day');
sleep($refresh + 0.5);
$ua->get($_->url, 'X-API-Key' => $k2->{key}) for @fleet;
# (Twice: the marker poll of a node starts with its first look-up, and its
# first reading empties the cache once.)
my $fb_first = $ua->get($fb->url, 'X-API-Key' => $k3->{key})->code;
sleep($refresh + 0.5);
$fb_first .= ' ' . $ua->get($fb->url, 'X-API-Key' => $k3->{key})->code;
wait_for(sub { claimed($k2->{id}) == $nodes });   # none held
my $ctl = File::Spec->catfile(top_dir(), 'scripts', 'db-server.sh');
my $dbdir = $ENV{APIKEY_TEST_DBDIR} or die 'APIKEY_TEST_DBDIR is not set';
system('sh', $ctl, 'stop', backend(), $dbdir) == 0 or die 'db-server stop';
my $e0 = counters()->{QuotaStoreErrors};
my $t_down = time;
my @r = map { my $n = $_; map { $ua->get($n->url, 'X-API-Key' => $k2->{key}) }
                                1..5 } @fleet;
my $e1 = counters()->{QuotaStoreErrors};
# The store is asked again after each sync: at most one failure per node
# and sync interval begun meanwhile.
my $per_sync = $nodes * (1 + int((time - $t_down) / $sync + 1));
ok t_cmp(join(' ', map { $_->code } @r), join(' ', ('503') x (5 * $nodes)),
         'database down: 503 on every node');
ok t_cmp((grep { ($_->header('Retry-After') // '') !~ /^\d+$/ } @r) ? 0 : 1, 1,
         'each with Retry-After');
ok t_cmp($e1 - $e0 <= $per_sync && $e1 - $e0 < @r ? 1 : 0, 1,
         'and a failed claim per node and sync, not per request ('
         . ($e1 - $e0) . ' for ' . scalar(@r) . " requests; at most $per_sync)");
ok t_cmp(scalar(grep { $_->error_log =~ /APIKEY00045: key \Q$k2->{id}\E: cannot claim quota units/ }
                @fleet), $nodes, 'every node logs it (APIKEY00045)');

my %fbc;
$fbc{ $ua->get($fb->url, 'X-API-Key' => $k3->{key})->code }++ for 1..12;
ok t_cmp("$fb_first; " . show(\%fbc), '200 200; 200:8 429:4',
         'database down, fallback=local: the node admits up to the quota on '
         . 'its own count (2 before, 8 now), then 429');
ok t_cmp($fb->error_log, qr/APIKEY00045: key \Q$k3->{id}\E: cannot claim .*counting on this server \(fallback=local\)/,
         'and says so in its log');

`sh $ctl start ${\ backend()} $dbdir`;
die 'db-server start' if $?;
my $back = time;
my @ok = (undef) x $nodes;
while (grep { !defined } @ok) {
    last if time - $back > 2 * ApiKeyServer::patience();
    for my $i (0..$nodes - 1) {
        next if defined $ok[$i];
        $ok[$i] = time - $back
            if $ua->get($fleet[$i]->url, 'X-API-Key' => $k2->{key})->code == 200;
    }
    sleep 0.1;
}
print STDERR "# fleet quota: database back; the key is admitted again after "
    . join(', ', map { defined $_ ? sprintf('%.2f s', $_) : 'never' } @ok)
    . "\n";
ok t_cmp((grep { !defined } @ok) ? 0 : 1, 1,
         'database back: every node admits the key again, without a restart');

# What the fallback node admitted meanwhile is added to the store's count.
my $t1 = time;
my $c3 = 0;
while (time - $t1 < 2 * ApiKeyServer::patience()) {
    $c3 = claimed($k3->{id});
    last if $c3 == 10;
    sleep 0.2;
}
ok t_cmp($c3, 10, 'database back: the store counts the 8 units admitted '
                  . 'on the fallback node\'s count (10 in all, after '
                  . sprintf('%.2f s', time - $t1) . ')');
ok t_cmp($fb->error_log, qr/APIKEY00046: key \Q$k3->{id}\E: 8 quota units admitted while/,
         'and logs it (APIKEY00046)');
# (A pooled connection that died with the server fails once: 503, again.)
sub code_after_503 {
    my $n = shift;
    my $c = $ua->get($n->url, 'X-API-Key' => $k3->{key})->code;
    return $c == 503 ? $ua->get($n->url, 'X-API-Key' => $k3->{key})->code : $c;
}
ok t_cmp(join(' ', map { code_after_503($_) } $fb, @fleet), '429 429 429 429',
         'the key is spent on every node');

$_->stop for @fleet, $fb;
