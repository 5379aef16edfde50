# The change-marker poller's first run (src/httpd/apikey_refresh.c): it
# reads each cached store's marker when it starts, so its first interval
# finds the marker unchanged and leaves a freshly warmed cache alone (it
# used to take the first marker it saw for a change and empty the cache a
# second after start-up, so that every key was looked up twice).  A real
# change is still seen.  And a server with no key store at all is never
# asked for a marker (mod_dbd would log "AH02654: not configured" at every
# try).
#
# Nothing depends on speed: the poller's runs are waited for in the error
# log (a trace line per store and one per run), with a deadline; the check
# of an absence waits for three whole runs of the poller, not for a time.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use LWP::UserAgent;
use ApiKeyTest qw(htapikey);
use ApiKeyServer;
use ApiKeyWait qw(patience size_of text_since wait_for);

plan tests => 12, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $srv = ApiKeyServer->new(
    name => 'first-poll', mpm => 'event',
    mpm_conf => "StartServers 1\nServerLimit 2\nThreadLimit 8\n"
              . "ThreadsPerChild 8\nMaxRequestWorkers 16\n"
              . "MinSpareThreads 1\nMaxSpareThreads 16\n", conf => '');
my $db = $srv->dir . '/first-poll.db';
unlink $db;
my ($rc) = htapikey('-d', 'sqlite3', '-p', $db, 'init');
ok t_cmp($rc, 0, 'a store of its own');
my (undef, $out) = htapikey('-d', 'sqlite3', '-p', $db, '--json', 'create',
                            '--owner', 'first-poll');
my ($key) = $out =~ /"key":"([^"]+)"/;
my ($id) = $out =~ /"id":"([^"]+)"/;
$srv->{db} = $db;
my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
$srv->{conf} = <<"CONF";
<IfModule !mod_watchdog.c>
    LoadModule watchdog_module $lib/mod_watchdog.so
</IfModule>
LogLevel info authn_apikey:trace2
AuthAPIKeyRefresh 1
AuthAPIKeyCacheTimeout 300 negative=300
CONF
$srv->write_conf;
ok t_cmp($srv->start ? 1 : 0, 1, 'started');

my $elog = $srv->dir . '/error_log';
my $poll = qr/change marker of server \d+ \([^)]*\): -?\d+, ([a-z ]+)/;
# Waits until the poller has read the marker n times since offset $off;
# returns their verdicts.
sub polls_since {
    my ($off, $n) = @_;
    my @v;
    wait_for(sub { @v = text_since($elog, $off) =~ /$poll/g; @v >= $n },
             timeout => patience(60));
    return @v;
}
my $ua = LWP::UserAgent->new(keep_alive => 0);
# Status and store look-ups of one request.
sub probe {
    my $off = size_of($elog);
    my $r = $ua->get($srv->url, 'X-API-Key' => $key);
    # The look-up is logged before the answer is sent.
    my $lookups = () = text_since($elog, $off) =~ /looking the key up in the store/g;
    return ($r->code, $lookups);
}

my @first = polls_since(0, 1);
ok t_cmp($first[0] // 'none', 'read as the baseline',
         'the poller reads the marker when it starts, before any request');
my ($code, $lookups) = probe();
ok t_cmp("$code $lookups", '200 1', 'the first request looks the key up');
my $off = size_of($elog);
my @after = polls_since($off, 2);
ok t_cmp(join(',', @after), 'unchanged,unchanged',
         'the two runs after it find the marker unchanged');
ok t_cmp(scalar(() = text_since($elog, $off) =~ /APIKEY00022/g), 0,
         'and empty nothing');
($code, $lookups) = probe();
ok t_cmp("$code $lookups", '200 0', 'so the key is still cached');

# A change is still taken in: the key revoked, the cache emptied.
$off = size_of($elog);
($rc) = htapikey('-d', 'sqlite3', '-p', $db, 'revoke', $id);
ok t_cmp(wait_for(sub { text_since($elog, $off) =~ /APIKEY00022/ },
                          timeout => patience(60)) ? 1 : 0, 1,
         'a revocation is seen by the poller (APIKEY00022)');
($code, $lookups) = probe();
ok t_cmp("$code $lookups", '401 1', 'and the revoked key is refused');
$srv->stop;

my $bare = ApiKeyServer->new(
    name => 'first-poll-bare', mpm => 'event', no_dbd => 1,
    mpm_conf => "StartServers 1\nServerLimit 2\nThreadLimit 8\n"
              . "ThreadsPerChild 8\nMaxRequestWorkers 16\n"
              . "MinSpareThreads 1\nMaxSpareThreads 16\n", conf => <<"CONF");
<IfModule !mod_watchdog.c>
    LoadModule watchdog_module $lib/mod_watchdog.so
</IfModule>
LogLevel info authn_apikey:trace2
AuthAPIKeyRefresh 1
CONF
ok t_cmp($bare->start ? 1 : 0, 1, 'a server with no DBDriver at all started');
my $blog = $bare->dir . '/error_log';
# The run at its start (the baseline's) and two more.
my @runs;
wait_for(sub { @runs = text_since($blog, 0) =~ /change-marker poll run: (\d+) store/g;
               @runs >= 3 }, timeout => patience(60));
ok t_cmp(join(' ', map { $_ // 'none' } @runs[0 .. 2]), '0 0 0',
         'its poller runs, three times, asking for no marker');
my @dbd = text_since($blog, 0) =~ /(AH02654[^\n]*|change marker of[^\n]*)/g;
ok t_cmp(join("\n", @dbd), '', 'and asks mod_dbd for nothing (no "not configured")');
$bare->stop;
