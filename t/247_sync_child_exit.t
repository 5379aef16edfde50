# SQLite's lock at the two ends of a child's life.
#
# 1. A child that exits while its background thread is using the database.
#
# mod_watchdog's threads live in the process's pool, not the child's: when
# a child exits (a graceful restart, MaxConnectionsPerChild) its thread
# runs on while the MPM destroys the child's pool and, with it, mod_dbd's
# connections.  The quota sync giving units back at that moment held a
# connection, and APR's reslist aborted the child ("Assertion
# `rl->ntotal == 0' failed", SIGABRT, a core; seen in 245 on CI), losing
# the units in flight.  Here the store is locked so that every give-back
# waits in SQLite's busy loop (1.5 s), and the server restarts gracefully
# while one waits: no child may die of a signal, and once the lock is gone
# the store counts exactly what was admitted plus what is held.
#
# 2. A new child's first look-up prepares its statement (once a connection)
# while another connection holds the lock: htapikey writing, another
# child's sync.  APR's driver waits out a busy step, not a busy prepare,
# and the request got 503 ("APIKEY00001: cannot prepare the key look-up
# ...: database is locked", seen in 245 on CI right after a graceful
# restart); it waits as a step would (15 x 0.1 s).
#
# 3. And so a stop gives back what the server holds: its last sync runs as
# its child exits (before, mod_watchdog's own last run was not seen at
# "httpd -k stop", and the units stayed claimed till the period ended).
#
# SQLite only: the lock is SQLite's (BEGIN EXCLUSIVE from the sqlite3
# client).  Nothing here depends on the machine's speed: on a slow one the
# restart may miss the wait (the test then proves less, never fails).
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key store_sql backend key_store);
use ApiKeyServer;
use ApiKeyWait qw(wait_for);

plan tests => 9, need(need_module('authn_apikey', 'dbd'), need_lwp,
                      ApiKeyServer::need_many_processes(),
                      { 'a SQLite key store (the lock is SQLite\'s)'
                            => backend() eq 'sqlite3' });

my $srv = ApiKeyServer->new(
    name => 'sync-child-exit', mpm => 'event',
    conf => "LogLevel info authn_apikey:trace1\n"
          . "AuthAPIKeyQuotaStore dbd\nAuthAPIKeyQuotaSync 200ms\n"
          . "<Location /apikey-status>\n    SetHandler apikey-status\n"
          . "    AuthAPIKeyStatus On\n    Require all granted\n</Location>\n");
$srv->start or die 'server did not start';
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
my $k = create_key(owner => 'sync-exit', quota => '100000/day');

sub claimed {
    my $v = store_sql("SELECT claimed FROM apikey_quota WHERE key_id = '$k->{id}'");
    return $v =~ /(\d+)/ ? $1 : 0;
}
sub held {
    my $json = $ua->get($srv->url('/apikey-status?format=json'))->content;
    return $json =~ /"id":"\Q$k->{id}\E".*?"held":(\d+)/s ? $1 : -1;
}

# Requests in a burst: leases grow while the key runs dry between syncs,
# so some units are held when the lock comes.
my $admitted = 0;
for (1..40) {
    $admitted++ if $ua->get($srv->url, 'X-API-Key' => $k->{key})->code == 200;
}
ok t_cmp($admitted, 40, '40 requests admitted');

# Hold the store's lock from another connection: each sync's give-back now
# waits for it.  The client waits for the lock itself (.timeout): a sync
# or look-up of the server may hold it at that instant (on a busy machine
# the client's BEGIN failed at once, "database is locked", and the test
# went on without the lock).
open(my $lock, '|-', 'sqlite3', key_store()) or die "sqlite3: $!";
select((select($lock), $| = 1)[0]);
print $lock ".timeout 30000\nBEGIN EXCLUSIVE;\n";
my $locked = wait_for(sub {
    system('sqlite3', key_store(), 'BEGIN IMMEDIATE; ROLLBACK;') != 0 });
ok t_cmp($locked ? 1 : 0, 1, 'the store is locked by another connection');
my ($log0) = length($srv->error_log // '');
# A sync has come and waits on the lock (its trace line says it is giving
# units back); restart while it does.
my $waiting = wait_for(sub {
    substr($srv->error_log // '', $log0) =~ /giving \d+ quota units of key \Q$k->{id}\E back/ },
    timeout => 10);
print STDERR "# a give-back was ", ($waiting ? '' : 'not '),
             "seen waiting on the lock before the restart\n";
# The children of this generation, which the restart makes exit.
my @old = map { /(\d+)/ ? $1 : () } `ps -o pid= --ppid ${\ $srv->pid}`;
$srv->graceful or die 'graceful';
$srv->wait_up;
# The lock goes only once they have exited (each waits out the give-back
# in progress, and its own last one, first): their exit is what is tested.
my $gone = wait_for(sub { !grep { kill 0, $_ } @old });
print STDERR "# the old generation's ", scalar(@old), " children ",
             ($gone ? 'exited' : 'did not exit'), " while the store was locked\n";
print $lock "COMMIT;\n";
close $lock;

my $after = 0;
for (1..5) {
    $after++ if $ua->get($srv->url, 'X-API-Key' => $k->{key})->code == 200;
}
ok t_cmp($after, 5, 'after the restart and the lock: 5 more admitted');
# The old generation's units are given back (or spent) by now or soon.
my ($c, $h);
wait_for(sub { ($c, $h) = (claimed(), held()); $c == $admitted + $after + $h });
ok t_cmp($c - $h, $admitted + $after,
         "the store counts what was admitted plus what is held ($c claimed, "
         . "$h held)");
my $log = $srv->error_log // '';
my @died = $log =~ /(AH00051[^\n]*|Assertion[^\n]*)/g;
ok t_cmp(scalar(@died), 0, 'no child died of a signal')
    or print STDERR map { "# $_\n" } @died;
$srv->stop;

# 2.  A fresh server: its child has no statement prepared yet.
my $fresh = ApiKeyServer->new(name => 'prepare-locked', mpm => 'event',
                              conf => "LogLevel info authn_apikey:trace1\n");
$fresh->start or die 'server did not start';
my $k2 = create_key(owner => 'prepare-locked');
open($lock, '|-', 'sqlite3', key_store()) or die "sqlite3: $!";
select((select($lock), $| = 1)[0]);
print $lock ".timeout 30000\nBEGIN EXCLUSIVE;\n";
wait_for(sub { system('sqlite3', key_store(), 'BEGIN IMMEDIATE; ROLLBACK;') != 0 })
    or die 'the store did not lock';
# The request goes out now; the lock goes as soon as its look-up has
# begun (its trace line comes just before the prepare), well within the
# prepare's 1.5 s of waiting, however slow the machine.
my $flog0 = length($fresh->error_log // '');
my $pid = open(my $req, '-|') // die "fork: $!";
if (!$pid) {
    exec('curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '30',
         '-H', "X-API-Key: $k2->{key}", $fresh->url) or die "curl: $!";
}
my $began = wait_for(sub {
    substr($fresh->error_log // '', $flog0) =~ /looking the key up in the store/ });
print STDERR "# the look-up ", ($began ? 'began' : 'was not seen to begin'),
             " while the store was locked\n";
print $lock "COMMIT;\n";
close $lock;
my $code = do { local $/; <$req> } // '';
close $req;
ok t_cmp($code, '200', 'a look-up that must prepare while the store is '
                       . 'locked for 0.5 s: 200');
my $flog = $fresh->error_log // '';
my ($prep) = $flog =~ /(APIKEY00001[^\n]*)/;
ok t_cmp(defined $prep ? 1 : 0, 0, 'and no APIKEY00001 logged')
    or print STDERR "# $prep\n";
$fresh->stop;

# 3.  No sync in sight: only the child's exit can give the units back.
my $held_srv = ApiKeyServer->new(
    name => 'stop-gives-back', mpm => 'event',
    conf => "AuthAPIKeyQuotaStore dbd\nAuthAPIKeyQuotaSync 1h\n");
$held_srv->start or die 'server did not start';
my $k3 = create_key(owner => 'stop-gives-back', quota => '100000/day');
my $n3 = grep { $_ == 200 }
         map { $ua->get($held_srv->url, 'X-API-Key' => $k3->{key})->code } 1..20;
my $c3 = store_sql("SELECT claimed FROM apikey_quota WHERE key_id = '$k3->{id}'");
$c3 = $c3 =~ /(\d+)/ ? $1 : 0;
print STDERR "# before the stop: $n3 admitted, $c3 claimed\n";
ok t_cmp($n3, 20, '20 requests admitted, with no sync');
$held_srv->stop;
my $c4 = store_sql("SELECT claimed FROM apikey_quota WHERE key_id = '$k3->{id}'");
ok t_cmp($c4 =~ /(\d+)/ ? $1 : 0, 20,
         "after httpd -k stop the store counts the 20 admitted ($c3 claimed "
         . 'before)');
