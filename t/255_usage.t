# Usage in the store (apikey_usage).  First what htapikey reads of it,
# against a scratch store of the suite's backend (SQLite, and PostgreSQL
# and MariaDB under scripts/test-backends.sh) with rows written by SQL as
# several nodes would write them: usage ID sums the nodes a day (text,
# JSON, and bars on a terminal), show names the last use and its node, list
# --unused-for and --expiring pick the stale and the expiring keys.  Then
# what servers write (AuthAPIKeyUsageSync): two nodes on the suite's store
# answer requests of a key with a quota and of one without limits; their
# rows add up to exactly the requests each node admitted and refused, and
# htapikey reads them back; a store without the table (made by an older
# htapikey) keeps a node's counts until 'htapikey init' adds it, then gets
# them all, once.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use File::Spec;
use JSON::PP ();
use LWP::UserAgent ();
use ApiKeyTest qw(htapikey store_sql scratch_store drop_store run_httpd
                  backend);
use ApiKeyServer;
use ApiKeyWait qw(wait_for);

plan tests => 26 + 19, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $json = JSON::PP->new->utf8->canonical;
my ($driver, $params) = scratch_store();
my @s = ('-d', $driver, '-p', $params);
my %sql = (driver => $driver, params => $params);
my ($rc, $out, $err);

sub create {
    my ($r, $o, $e) = htapikey(@s, '--json', 'create', @_);
    die "create failed ($r): $e" if $r;
    return $json->decode($o)->{id};
}

sub day_text {
    my @t = gmtime(shift() * 86400);
    return sprintf '%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3];
}

ok t_cmp((htapikey(@s, 'init'))[0], 0, 'init');
ok t_cmp(store_sql('SELECT COUNT(*) FROM apikey_usage', %sql) =~ /^0\s*$/
         ? 1 : 0, 1, 'init made an empty apikey_usage table');
# init again on a store that has it: idempotent.
ok t_cmp((htapikey(@s, 'init'))[0], 0, 'init again keeps the store');

my $busy  = create('--owner', 'u');
my $idle  = create('--owner', 'u');
my $fresh = create('--owner', 'u', '--expires',
                   do { my @t = gmtime(time + 5 * 86400);
                        sprintf '%04d-%02d-%02dT00:00:00Z', $t[5] + 1900,
                            $t[4] + 1, $t[3] });
my $later = create('--owner', 'u', '--expires', '2099-01-01');
my $now = time;
my $today = int($now / 86400);
# busy: two nodes today, one of them also two days ago; its last use by
# node-b.  idle: used 100 days ago.  The others: made 200 days ago (idle's
# and busy's creation time too), never used.
store_sql(join(';',
    "UPDATE apikey SET created = created - 200 * 86400",
    "INSERT INTO apikey_usage (key_id, day, node, admitted, refused, last_used)"
    . " VALUES ('$busy', $today, 'node-a', 10, 2, " . ($now - 100) . ")",
    "INSERT INTO apikey_usage (key_id, day, node, admitted, refused, last_used)"
    . " VALUES ('$busy', $today, 'node-b', 5, 1, " . ($now - 50) . ")",
    "INSERT INTO apikey_usage (key_id, day, node, admitted, refused, last_used)"
    . " VALUES ('$busy', " . ($today - 2) . ", 'node-a', 3, 0, "
    . ($now - 2 * 86400) . ")",
    "INSERT INTO apikey_usage (key_id, day, node, admitted, refused, last_used)"
    . " VALUES ('$idle', " . ($today - 100) . ", 'node-a', 7, 0, "
    . ($now - 100 * 86400) . ")"), %sql);

# ---- usage ----
($rc, $out, $err) = htapikey(@s, '--json', 'usage', $busy, '--days', '3');
ok t_cmp($rc, 0, 'usage --json') or print STDERR "# $err\n";
my $u = eval { $json->decode($out) } || {};
ok t_cmp(scalar @{ $u->{days} || [] }, 3, 'usage --days 3: three days');
ok t_cmp(join(' ', map { "$_->{day}=$_->{admitted}/$_->{refused}" }
                   @{ $u->{days} || [] }),
         join(' ', day_text($today - 2) . '=3/0', day_text($today - 1) . '=0/0',
              day_text($today) . '=15/3'),
         'the days oldest first, the nodes summed, a day without requests 0');
ok t_cmp("$u->{admitted}/$u->{refused}", '18/3', 'the totals of the range');
ok t_cmp($u->{last_used_node} // '', 'node-b', 'last use: the latest node');
my @lt = gmtime($now - 50);
ok t_cmp($u->{last_used} // '',
         sprintf('%04d-%02d-%02dT%02d:%02d:%02dZ', $lt[5] + 1900, $lt[4] + 1,
                 @lt[3, 2, 1, 0]),
         'last use: its time, ISO-8601');

($rc, $out) = htapikey(@s, 'usage', $busy, '--days', '1');
ok t_cmp($out =~ /^\Q@{[day_text($today)]}\E\s+15\s+3$/m ? 1 : 0, 1,
         'usage piped: plain columns, today 15 admitted and 3 refused')
    or print STDERR "# $out\n";
ok t_cmp($out =~ /[\x{80}-\x{ff}]/ ? 1 : 0, 0, 'usage piped: no bars');

($rc, $out) = htapikey(@s, '--json', 'usage', $busy);
ok t_cmp(scalar @{ ($json->decode($out))->{days} }, 30,
         'usage: 30 days by default');

SKIP: {
    my $script = -x '/usr/bin/script' ? '/usr/bin/script' : undef;
    skip 'no script(1) for a terminal', 2 unless $script;
    my $bin = join ' ', map { "'$_'" }
        (File::Spec->catfile(ApiKeyTest::top_dir(), 'htapikey'), @s,
         'usage', $busy, '--days', '3');
    my $tty = `$script -qec "$bin" /dev/null`;
    my $full = "\xe2\x96\x88";    # U+2588 FULL BLOCK
    my $shade = "\xe2\x96\x91";   # U+2591 LIGHT SHADE
    my ($line) = $tty =~ /^(\Q@{[day_text($today)]}\E[^\n]*)/m;
    $line //= '';
    # The widest day: 40 cells, 15/18 of them admitted (33 full and a
    # partial), the refused 3/18 after them (6 shaded).
    my $nfull = () = $line =~ /$full/g;
    my $nshade = () = $line =~ /$shade/g;
    ok t_cmp("$nfull/$nshade", '33/6',
             'usage on a terminal: the widest day is a bar of 40 cells, '
             . 'admitted then refused') or print STDERR "# $tty\n";
    ok t_cmp($line =~ / 15 \(3 refused\)\r?$/ ? 1 : 0, 1,
             'the bar is followed by its numbers') or print STDERR "# $line\n";
}

($rc, $out, $err) = htapikey(@s, 'usage', 'NoSuchKey123');
ok t_cmp($rc, 3, 'usage of an unknown key: exit status 3');
($rc, $out, $err) = htapikey(@s, 'usage', $busy, '--days', '0');
ok t_cmp($rc == 2 && $err =~ /--days '0'/ ? 1 : 0, 1, '--days 0 refused');
($rc, $out, $err) = htapikey(@s, 'list', '--days', '3');
ok t_cmp($rc == 2 && $err =~ /does not take --days/ ? 1 : 0, 1,
         'list does not take --days');

# ---- show ----
($rc, $out) = htapikey(@s, 'show', $busy);
ok t_cmp($out =~ /^last used:\s+\Q$u->{last_used}\E \(node node-b\)$/m ? 1 : 0,
         1, 'show: the last use and its node') or print STDERR "# $out\n";
($rc, $out) = htapikey(@s, 'show', $fresh);
ok t_cmp($out =~ /^last used:\s+never/m ? 1 : 0, 1, 'show: never used');

# ---- list --unused-for, --expiring ----
sub ids {
    my ($r, $o, $e) = htapikey(@s, '--json', 'list', @_);
    return "exit $r: $e" if $r;
    return join ' ', sort map { $_->{id} } @{ $json->decode($o) };
}
ok t_cmp(ids('--unused-for', '90d'), join(' ', sort $idle, $fresh, $later),
         '--unused-for 90d: used 100 days ago, or made 200 days ago and '
         . 'never used; not the key used today');
ok t_cmp(ids('--unused-for', '101d'), join(' ', sort $fresh, $later),
         '--unused-for 101d: not the key used 100 days ago');
ok t_cmp(ids('--unused-for', '1d'), join(' ', sort $idle, $fresh, $later),
         '--unused-for 1d: not the key used a minute ago');
ok t_cmp(ids('--expiring', '14d'), $fresh,
         '--expiring 14d: the key that expires in 5 days only');
ok t_cmp(ids('--expiring', '4d'), '', '--expiring 4d: none');
ok t_cmp(ids('--expiring', '14d', '--unused-for', '1d'), $fresh,
         'both: the keys that match both');
($rc, $out, $err) = htapikey(@s, 'list', '--unused-for', 'soon');
ok t_cmp($rc == 2 && $err =~ /--unused-for 'soon'/ ? 1 : 0, 1,
         'a duration that is none refused');

drop_store($driver, $params);

# ---- the servers' side ----
my @bad = (
    ['AuthAPIKeyUsageSync 10ms',
     qr/AuthAPIKeyUsageSync '10ms': expected 0 \(off\) or from 1s to 1d/,
     'a usage sync under a second'],
    ["<VirtualHost 127.0.0.1:80>\nAuthAPIKeyUsageSync 1\n</VirtualHost>",
     qr/AuthAPIKeyUsageSync cannot occur within <VirtualHost> section/,
     'AuthAPIKeyUsageSync in a virtual host'],
    ['AuthAPIKeyUsageNode "a b"', qr/AuthAPIKeyUsageNode 'a b': expected/,
     'a node name with a blank'],
);
for my $b (@bad) {
    my ($brc, $bout) = run_httpd($b->[0]);
    ok t_cmp($brc != 0 && $bout =~ $b->[1] ? 1 : 0, 1, "$b->[2] stops httpd")
        or print STDERR "# $bout\n";
}

sub create_main {
    my ($r, $o, $e) = htapikey('--json', 'create', '--owner', 'usage', @_);
    die "create failed ($r): $e" if $r;
    return $json->decode($o);
}
my $limited = create_main('--quota', '5/day');
my $plain = create_main();
my @nodes = map {
    ApiKeyServer->new(
        name => "usage-$_", mpm => 'event',
        conf => "LogLevel info\nAuthAPIKeyUsageSync 1\n"
              . "AuthAPIKeyUsageNode usage-$_\n"
              . "<Location /apikey-status>\n    SetHandler apikey-status\n"
              . "    AuthAPIKeyStatus On\n    Require all granted\n"
              . "</Location>\n")
} qw(a b);
my $up = 0;
$up += $_->start ? 1 : 0 for @nodes;
ok t_cmp($up, 2, 'two nodes with AuthAPIKeyUsageSync 1 start on one store');

my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 20);
# What each node answered, by key and status: the numbers the rows must
# reach, whatever the quota's day.
my %answered;
for my $i (0 .. 1) {
    for (1 .. 8) {
        my $c = $ua->get($nodes[$i]->url, 'X-API-Key' => $limited->{key})->code;
        $answered{$i}{limited}{$c}++;
    }
    for (1 .. 3 + $i) {
        my $c = $ua->get($nodes[$i]->url, 'X-API-Key' => $plain->{key})->code;
        $answered{$i}{plain}{$c}++;
    }
}
my ($adm, $ref) = (0, 0);
for my $i (0 .. 1) {
    $adm += $answered{$i}{limited}{200} // 0;
    $ref += $answered{$i}{limited}{429} // 0;
}
ok t_cmp($adm + $ref, 16, 'the keyed requests were answered 200 or 429 only')
    or print STDERR "# ", $json->encode(\%answered), "\n";
ok t_cmp($ref > 0 ? 1 : 0, 1, 'the quota refused some (429)');

sub sums {
    my ($id, $by_node) = @_;
    my $v = store_sql("SELECT node, SUM(admitted), SUM(refused) FROM "
                      . "apikey_usage WHERE key_id = '$id' GROUP BY node "
                      . "ORDER BY node");
    my %n;
    $n{$1} = [$2, $3] while $v =~ /^([^\s|]+)[\t|](\d+)[\t|](\d+)\s*$/mg;
    return \%n;
}
sub want {
    my $which = shift;
    my %w;
    for my $i (0 .. 1) {
        $w{'usage-' . (qw(a b))[$i]} = [$answered{$i}{$which}{200} // 0,
                                        $answered{$i}{$which}{429} // 0];
    }
    return \%w;
}
sub text {
    my $h = shift;
    return join ' ', map { "$_=" . join('/', @{ $h->{$_} }) } sort keys %$h;
}
my $want_l = text(want('limited'));
my $want_p = text(want('plain'));
my $got_l = wait_for(sub { my $g = text(sums($limited->{id}));
                           $g eq $want_l ? $g : '' });
ok t_cmp($got_l || text(sums($limited->{id})), $want_l,
         'the key with a quota: each node\'s rows reach exactly what it '
         . 'admitted and refused');
my $got_p = wait_for(sub { my $g = text(sums($plain->{id}));
                           $g eq $want_p ? $g : '' });
ok t_cmp($got_p || text(sums($plain->{id})), $want_p,
         'the key without limits: counted too');

($rc, $out, $err) = htapikey('--json', 'usage', $limited->{id}, '--days', '2');
$u = eval { $json->decode($out) } || {};
ok t_cmp("$u->{admitted}/$u->{refused}", "$adm/$ref",
         'htapikey usage: the nodes summed') or print STDERR "# $out $err\n";
ok t_cmp(($u->{last_used_node} // '') =~ /^usage-[ab]$/ ? 1 : 0, 1,
         'htapikey usage: the last use by one of the nodes');
($rc, $out) = htapikey('show', $plain->{id});
ok t_cmp($out =~ /^last used:\s+\d{4}-\d\d-\d\dT[\d:]+Z \(node usage-[ab]\)$/m
         ? 1 : 0, 1, 'htapikey show: the last use and its node')
    or print STDERR "# $out\n";

# Once more on node a: its rows grow by exactly that, nothing counted twice.
$ua->get($nodes[0]->url, 'X-API-Key' => $plain->{key}) for 1 .. 2;
my $more = want('plain');
$more->{'usage-a'}[0] += 2;
my $want_more = text($more);
ok t_cmp(wait_for(sub { text(sums($plain->{id})) eq $want_more })
         ? $want_more : text(sums($plain->{id})), $want_more,
         'two requests more: added to node a\'s row, once');

# Node a's status page: every key it has seen, limits or none, with its
# requests since the start; the limited key's quota as a bar.
my $st = eval { $json->decode($ua->get($nodes[0]->url('/apikey-status?format=json'))
                                ->content) } || {};
my %seen = map { $_->{id} => "$_->{admitted}/$_->{refused}" }
           @{ $st->{seen} || [] };
ok t_cmp(join(' ', map { $seen{$_} // 'absent' } $limited->{id}, $plain->{id}),
         join(' ', ($answered{0}{limited}{200} // 0) . '/'
                   . ($answered{0}{limited}{429} // 0),
              (($answered{0}{plain}{200} // 0) + 2) . '/0'),
         'status page (JSON): both keys seen, the one without limits too, '
         . 'with what node a answered');
my $html = $ua->get($nodes[0]->url('/apikey-status'))->content;
my $a200 = $answered{0}{limited}{200} // 0;
ok t_cmp($html =~ /<td>\Q$limited->{id}\E<\/td>.*<meter min="0" max="5" value="$a200">quota used<\/meter>/
         ? 1 : 0, 1, 'status page (HTML): the quota used as a bar')
    or print STDERR "# $html\n";
ok t_cmp($html =~ /<tr><td>\Q$plain->{id}\E<\/td><td>[\d:TZ-]+<\/td><td>\d+<\/td><td>0<\/td><\/tr>/
         ? 1 : 0, 1, 'status page (HTML): the key without limits among the '
                     . 'keys seen');

# A store made by an older htapikey: no apikey_usage table.
my $olddb = File::Spec->catfile($nodes[0]->dir, 'old.db');
my @old = ('-d', 'sqlite3', '-p', $olddb);
htapikey(@old, 'init');
store_sql('DROP TABLE apikey_usage', driver => 'sqlite3', params => $olddb);
my ($orc, $oout) = htapikey(@old, '--json', 'create', '--owner', 'old');
my $ok = $json->decode($oout);
my $oldnode = ApiKeyServer->new(
    name => 'usage-old', mpm => 'event', db => $olddb,
    conf => "LogLevel info\nAuthAPIKeyUsageSync 1\nAuthAPIKeyUsageNode old\n");
ok t_cmp($oldnode->start ? 1 : 0, 1, 'a node on a store without apikey_usage '
                                     . 'starts');
my $n200 = 0;
$n200 += $ua->get($oldnode->url, 'X-API-Key' => $ok->{key})->code == 200
    for 1 .. 4;
ok t_cmp(wait_for(sub { $oldnode->error_log =~ /APIKEY00081/ }) ? 1 : 0, 1,
         'the write it cannot make is logged (APIKEY00081)');
htapikey(@old, 'init');
my $oldsum = sub {
    store_sql("SELECT SUM(admitted), SUM(refused) FROM apikey_usage",
              driver => 'sqlite3', params => $olddb) =~ /^(\d+)[\t|](\d+)/
        ? "$1/$2" : '';
};
ok t_cmp(wait_for(sub { $oldsum->() eq "$n200/0" }) ? "$n200/0" : $oldsum->(),
         "$n200/0", 'after htapikey init the kept counts reach the store, all '
         . 'of them, once');
ok t_cmp(wait_for(sub { $oldnode->error_log =~ /APIKEY00082/ }) ? 1 : 0, 1,
         'and that it takes usage again is logged (APIKEY00082)');
$_->stop for @nodes, $oldnode;
