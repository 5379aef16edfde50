# Several nodes, one database: three private httpds share the suite's
# PostgreSQL (or MariaDB) key store, as a read-only database user, and
# htapikey changes it as a user with only the privileges it needs.  A key
# created with htapikey works on every node; one revoked with htapikey stops
# on every node within AuthAPIKeyRefresh + 1 s although each node's cache
# would keep it for 60 s (a fourth node without the marker poll shows that
# it does); the nodes do not query the store per request; and when the
# database server goes away and comes back, nodes answer 503 (never 401)
# for keys they have not cached, and recover without a restart.
#
# Nothing counts on the machine's speed: each node's poller says when it
# has taken in a change (APIKEY00022 with the store's marker) or failed to
# read the marker (APIKEY00021), and the tests wait for that; the
# revocation bound holds for the instant a request is sent, whenever it is
# answered; what the nodes' 60 s cache should answer is judged by the time
# that really passed since a key was cached.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Spec;
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(htapikey backend key_store store_sql random_wellformed_key
                  top_dir);
use ApiKeyServer;
use ApiKeyWait qw(patience wait_for timed);

my $refresh = 1;    # AuthAPIKeyRefresh on the fleet
my $nodes   = 3;
my $ttl     = 60;   # AuthAPIKeyCacheTimeout on every node

plan tests => 20, need(need_module('authn_apikey', 'dbd'), need_lwp,
    { 'one database server shared by several nodes: run with '
      . 'APIKEY_TEST_BACKEND=pgsql or mysql (scripts/test-backends.sh)'
      => backend() ne 'sqlite3' });

# Database users with the privileges docs/fleet.md lists: the nodes may
# only read the two tables; htapikey may change keys, bump the marker and
# write the audit trail.
my %grants = (
    apikey_httpd => [[apikey => 'SELECT'], [apikey_meta => 'SELECT']],
    apikey_admin => [[apikey => 'SELECT, INSERT, UPDATE, DELETE'],
                     [apikey_meta => 'SELECT, UPDATE'],
                     [apikey_audit => 'SELECT, INSERT'],
                     (backend() eq 'pgsql'
                      ? (['SEQUENCE apikey_audit_id_seq' => 'USAGE']) : ())],
);
my %params;
for my $user (sort keys %grants) {
    my $who = backend() eq 'pgsql' ? $user : "'$user'\@'localhost'";
    store_sql((backend() eq 'pgsql' ? "CREATE ROLE $who LOGIN; "
                                    : "CREATE USER $who; ")
              . join('; ', map { "GRANT $_->[1] ON "
                                 . (backend() eq 'mysql' ? 'apikey.' : '')
                                 . "$_->[0] TO $who" } @{ $grants{$user} }));
    ($params{$user} = key_store()) =~ s/\buser=\S+/user=$user/
        or die 'DBDParams without user';
}
my $ro_params = $params{apikey_httpd};
my @admin = ('-d', backend(), '-p', $params{apikey_admin});
sub create {
    my ($rc, $out, $err) = htapikey(@admin, '--json', 'create', '--owner',
                                    shift);
    die "htapikey create failed ($rc): $err" if $rc;
    my ($id)  = $out =~ /"id":"([^"]+)"/;
    my ($key) = $out =~ /"key":"([^"]+)"/;
    return { id => $id, key => $key };
}

# Small children (2 per node, each with its own DBD pool); the pool sized as
# docs/fleet.md suggests for a cached look-up.
my $mpm = "StartServers 2\nServerLimit 4\nThreadLimit 16\n"
        . "ThreadsPerChild 16\nMaxRequestWorkers 64\n"
        . "MinSpareThreads 16\nMaxSpareThreads 64\n";
my $common = "LogLevel info authn_apikey:trace1\n"
           . "AuthAPIKeyCacheTimeout 60\n"
           . "DBDMin 0\nDBDKeep 1\nDBDMax 4\nDBDExptime 60\n"
           . "<Location /apikey-status>\n"
           . "    SetHandler apikey-status\n    AuthAPIKeyStatus On\n"
           . "    Require all granted\n"
           . "</Location>\n";
my @fleet = map {
    ApiKeyServer->new(name => "fleet$_", mpm => 'event', mpm_conf => $mpm,
                      dbd_params => $ro_params,
                      conf => "AuthAPIKeyRefresh $refresh\n$common")
} 1..$nodes;
# The control: the same cache, no marker poll.
my $still = ApiKeyServer->new(name => 'fleet-nopoll', mpm => 'event',
                              mpm_conf => $mpm, dbd_params => $ro_params,
                              conf => "AuthAPIKeyRefresh 0\n$common");
my $up = 0;
$up += $_->start ? 1 : 0 for @fleet, $still;
ok t_cmp($up, $nodes + 1, 'every node starts, reading the store as a '
                          . 'SELECT-only database user');

# A new connection per request: requests spread over a node's children.
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 10);
sub code {
    my ($node, $key) = @_;
    return $ua->get($node->url, 'X-API-Key' => $key)->code;
}
sub lookups {
    my $node = shift;
    my $n = () = $node->error_log =~ /looking the key up in the store/g;
    return $n;
}
sub misses {
    my $node = shift;
    my $c = $ua->get($node->url('/apikey-status?auto'))->content;
    return $c =~ /^CacheMisses: (\d+)$/m ? $1 : -1;
}
# Waits until every node's poller has taken in the store's marker as it is
# now (and so emptied its cache for the changes before): 1, or 0 when the
# deadline passed.
sub all_seen {
    my ($m) = store_sql("SELECT value FROM apikey_meta WHERE name = 'version'")
              =~ /(\d+)/;
    return wait_for(sub {
        !grep { $_->error_log !~ /APIKEY00022: .*\(marker \Q$m\E\)/ } @fleet
    }) ? 1 : 0;
}
# What a node's cache must answer for a key it cached during window [t0,
# t1] (then answering $cached) when asked during window $w: $cached while
# the TTL cannot have run out, $expired once it must have, and either in
# between (the code got).
sub by_ttl {
    my ($cached_at, $w, $cached, $expired) = @_;
    return $w->[1] < $cached_at->[0] + $ttl ? $cached
         : $w->[0] > $cached_at->[1] + $ttl ? $expired
         :                                    $w->[2];
}
# After a change made at $at that stops key: requests to every node (new
# connections, so over its children) until each refused $n in a row (401),
# or the deadline.  For each node: when the last admitted request was sent
# and the first refusal answered (seconds after $at, undef if none),
# whether an admission came after a refusal, and how many refusals end
# the series.
sub stopped {
    my ($at, $key, $n) = @_;
    my @st = map { { tail => 0 } } @fleet;
    my $deadline = time + patience(30);
    while (time < $deadline && grep { $_->{tail} < $n } @st) {
        for my $i (0 .. $#fleet) {
            my $st = $st[$i];
            next if $st->{tail} >= $n;
            my $t = timed(sub { code($fleet[$i], $key) });
            if ($t->[2] == 200) {
                $st->{last_ok} = $t->[0] - $at;
                $st->{back} = 1 if defined $st->{first_no};
                $st->{tail} = 0;
            }
            elsif ($t->[2] == 401) {
                $st->{first_no} //= $t->[1] - $at;
                $st->{tail}++;
            }
            else {
                $st->{tail} = 0;
            }
        }
    }
    return @st;
}
sub secs { defined $_[0] ? sprintf('%.2f s', $_[0]) : 'never' }

# A key made with htapikey, against the shared database, works everywhere.
my ($rc, $out, $err) = htapikey(@admin, '--json', 'create', '--owner', 'fleet');
ok t_cmp($rc, 0, 'htapikey creates a key as a database user with SELECT, '
                 . 'INSERT, UPDATE, DELETE on apikey, SELECT, UPDATE on '
                 . 'apikey_meta') or print STDERR "# $err";
my $k = { id  => ($out =~ /"id":"([^"]+)"/)[0],
          key => ($out =~ /"key":"([^"]+)"/)[0] // 'none' };
for my $i (1..$nodes) {
    ok t_cmp(code($fleet[$i - 1], $k->{key}), 200,
             "a key created with htapikey works on node $i");
}
my $unknown = random_wellformed_key();
ok t_cmp(join(' ', map { code($_, $unknown) } @fleet), '401 401 401',
         'an unknown key is refused on every node');
# Each a look-up that finds nothing: APR's pgsql driver, streaming a result,
# sleeps 0.1 s on an empty one (the store reads results whole).  Measured
# against requests that need no look-up (a malformed key), in turn with
# them, the fastest of seven of each: the look-up may cost its query, not
# a tenth of a second more, however fast the machine.
my (@lookup, @none);
for (1 .. 7) {
    my $t = timed(sub { code($fleet[0], random_wellformed_key()) });
    push @lookup, $t->[1] - $t->[0];
    $t = timed(sub { code($fleet[0], 'malformed') });
    push @none, $t->[1] - $t->[0];
}
my ($fast_lookup) = sort { $a <=> $b } @lookup;
my ($fast_none) = sort { $a <=> $b } @none;
ok t_cmp($fast_lookup - $fast_none < 0.08 ? 1 : 0, 1,
         'a look-up that finds nothing is not slowed down (fastest of 7: '
         . sprintf('%.3f s; without a look-up %.3f s', $fast_lookup, $fast_none)
         . ')');

# No look-up per request: a fresh key, once every node's poller has taken in
# the change that created it, costs one look-up per node however many
# requests follow (the cache is shared by a node's children).
my $busy = create('fleet-busy');
all_seen() or t_debug('not every poller reported the change');
my @before = map { lookups($_) } @fleet;
my @misses_before = map { misses($_) } @fleet;
my %codes;
my $n = 300;
my $t0 = time;
$codes{ code($fleet[$_ % $nodes], $busy->{key}) }++ for 0..$n - 1;
my $took = time - $t0;
ok t_cmp(join(',', map { "$_:$codes{$_}" } sort keys %codes), "200:$n",
         "$n requests over the nodes: all 200");
my @per_node = map { lookups($fleet[$_]) - $before[$_] } 0..$nodes - 1;
my @misses = map { misses($fleet[$_]) - $misses_before[$_] } 0..$nodes - 1;
my $total = 0;
$total += $_ for @per_node;
my $total_misses = 0;
$total_misses += $_ for @misses;
# The connections the nodes hold now (for pool sizing; not a test).
my $conns = store_sql(backend() eq 'pgsql'
    ? "SELECT count(*) FROM pg_stat_activity WHERE usename = 'apikey_httpd'"
    : "SELECT count(*) FROM information_schema.processlist "
      . "WHERE user = 'apikey_httpd'");
chomp $conns;
print STDERR "# fleet: $n requests in ${\ sprintf('%.2f', $took)} s cost "
           . "$total store look-ups (per node: @per_node; CacheMisses "
           . "@misses); the nodes hold $conns database connections\n";
# Two children may race to the first look-up; one more for each time the
# 60 s TTL may have run out on the way.
my $most = 2 + int($took / $ttl);
ok t_cmp((grep { $_ < 1 || $_ > $most } @per_node) ? 0 : 1, 1,
         "$n requests: one look-up a node, $most at most (got @per_node, "
         . sprintf('in %.1f s)', $took));
ok t_cmp($total_misses, $total, 'the status page counts the same misses');

# Revocation.  Every node has the key cached for 60 s; the marker poll
# must still stop it within AuthAPIKeyRefresh + 1 s.
# The bound holds for the instant a request is sent: none sent later than
# AuthAPIKeyRefresh + 1 s after the revocation may be admitted, however
# long it then takes; and once refused, the key stays refused.
my @warm = map { my $node = $_; timed(sub { code($node, $k->{key}) }) }
           @fleet, $still;
($rc) = htapikey(@admin, 'revoke', $k->{id});
die 'revoke failed' if $rc;
my $revoked_at = time;
my @st = stopped($revoked_at, $k->{key}, 8);
print STDERR "# fleet: revocation: last admitted request sent after "
           . join(', ', map { secs($_->{last_ok}) } @st)
           . '; first refusal answered after '
           . join(', ', map { secs($_->{first_no}) } @st)
           . " (nodes 1-$nodes, AuthAPIKeyRefresh $refresh)\n";
for my $i (1..$nodes) {
    my $st = $st[$i - 1];
    ok t_cmp($warm[$i - 1][2] == 200 && defined $st->{first_no}
             && !$st->{back} && $st->{tail} >= 8
             && ($st->{last_ok} // 0) <= $refresh + 1 ? 1 : 0, 1,
             "node $i refuses the revoked key within AuthAPIKeyRefresh + 1 s "
             . '(last admitted sent at ' . secs($st->{last_ok})
             . ', refused from ' . secs($st->{first_no}) . ' on)');
}
my $control = timed(sub { code($still, $k->{key}) });
ok t_cmp("$warm[$nodes][2] $control->[2]",
         '200 ' . by_ttl($warm[$nodes], $control, 200, 401),
         'a node without the marker poll still serves it from its cache '
         . sprintf('(%.1f s after it was cached; the TTL is %d s)',
                   $control->[0] - $warm[$nodes][1], $ttl));
$still->stop;

# The database goes away.  Keys in a node's cache keep working (a failed
# marker poll empties no cache); a key no node has seen gets 503 with
# Retry-After, never 401; each node says that it cannot read the marker.
my $ctl = File::Spec->catfile(top_dir(), 'scripts', 'db-server.sh');
my $dbdir = $ENV{APIKEY_TEST_DBDIR} or die 'APIKEY_TEST_DBDIR is not set';
my $unseen = create('fleet-unseen');
all_seen() or t_debug('not every poller reported the change');
my @cached = map { my $node = $_; timed(sub { code($node, $busy->{key}) }) }
             @fleet;
my @log_at = map { length $_->error_log } @fleet;
system('sh', $ctl, 'stop', backend(), $dbdir) == 0 or die 'db-server stop';
# Until every node's poller has failed to read the marker (a failed poll
# must empty no cache).
my $marker_failed = sub {
    scalar grep {
        substr($fleet[$_]->error_log, $log_at[$_])
            =~ /APIKEY00021: cannot read the key store's change marker/
    } 0 .. $#fleet;
};
wait_for(sub { $marker_failed->() == $nodes })
    or t_debug('not every node failed to read the marker');
my @down = map { my $node = $_; timed(sub { code($node, $busy->{key}) }) }
           @fleet;
ok t_cmp(join(' ', map { $_->[2] } @down),
         join(' ', map { by_ttl($cached[$_], $down[$_], 200, 503) } 0 .. $#fleet),
         'database down: a cached key still works on every node (while '
         . "its $ttl s in the cache last)");
my @r = map { $ua->get($_->url, 'X-API-Key' => $unseen->{key}) } @fleet;
ok t_cmp(join(' ', map { $_->code . ' ' . ($_->header('Retry-After') // '-') }
                   @r), qr/^(503 \d+ ?){3}$/,
         'database down: an uncached key gets 503 and Retry-After, not 401');
ok t_cmp($marker_failed->(), $nodes,
         'database down: every node logs that it cannot read the marker');

# The database comes back: the key works on every node without a restart
# (a pooled connection that died with the server may fail one look-up
# first: 503, never 401), and the marker poll carries changes again.
`sh $ctl start ${\ backend()} $dbdir`;
die 'db-server start' if $?;
my $back_at = time;
my (@recovered, %seen);
while (grep { !defined } @recovered[0..$nodes - 1]) {
    last if time - $back_at > patience(30);
    for my $i (0..$nodes - 1) {
        next if defined $recovered[$i];
        my $c = code($fleet[$i], $unseen->{key});
        $seen{$c}++;
        $recovered[$i] = time - $back_at if $c == 200;
    }
    sleep 0.05;
}
print STDERR "# fleet: database back; the uncached key works after "
           . join(', ', map { defined $_ ? sprintf('%.2f s', $_) : 'never' }
                            @recovered[0..$nodes - 1])
           . " (answers meanwhile: "
           . join(', ', map { "$_ x$seen{$_}" } sort keys %seen) . ")\n";
ok t_cmp((grep { !defined } @recovered[0..$nodes - 1]) ? 0 : 1, 1,
         'database back: the uncached key works on every node');
ok t_cmp(join(' ', sort keys %seen), qr/^(200|200 503)$/,
         'and the answers on the way were 503 or 200, never 401');

my @before_disable = map { code($_, $busy->{key}) } @fleet;
(htapikey(@admin, 'disable', $busy->{id}))[0] == 0 or die 'disable failed';
my $disabled_at = time;
@st = stopped($disabled_at, $busy->{key}, 8);
print STDERR "# fleet: after the outage, a key disabled: last admitted "
           . 'request sent after ' . join(', ', map { secs($_->{last_ok}) } @st)
           . '; first refusal answered after '
           . join(', ', map { secs($_->{first_no}) } @st) . "\n";
ok t_cmp("@before_disable "
         . ((grep { !defined $_->{first_no} || $_->{back} || $_->{tail} < 8
                    || ($_->{last_ok} // 0) > $refresh + 1 } @st)
            ? 'late' : 'in time'), '200 200 200 in time',
         'after the outage, a change reaches every node within '
         . 'AuthAPIKeyRefresh + 1 s again (no request sent later admitted)');

$_->stop for @fleet;
