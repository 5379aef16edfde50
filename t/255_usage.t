# Usage in the store (apikey_usage): what htapikey reads of it, against a
# scratch store of the suite's backend (SQLite, and PostgreSQL and MariaDB
# under scripts/test-backends.sh) with rows written by SQL as several nodes
# would write them: usage ID sums the nodes a day (text, JSON, and bars on a
# terminal), show names the last use and its node, list --unused-for and
# --expiring pick the stale and the expiring keys.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use File::Spec;
use JSON::PP ();
use ApiKeyTest qw(htapikey store_sql scratch_store drop_store);

plan tests => 26, need(need_module('authn_apikey', 'dbd'));

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
