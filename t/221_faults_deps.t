# Faults in what the server depends on: the key store and the clock.
#
# Store (SQLite, a private copy per server), while one key's load runs:
# held under an exclusive lock (every look-up then gets SQLITE_BUSY, and
# APR's driver retries for 1.5 s), locked on and off (look-ups slow), made
# unreadable (chmod 000) and taken away (renamed).  What docs/directives.md
# promises: a key the cache holds keeps working; a key it does not gets 503
# with Retry-After, never 401 (it may be good) and an unknown key never
# 200; all is well again once the store is back.
#
# Clock (libfaketime preloaded into the private httpd only, its offset
# moved while it runs): a spent quota and a spent burst are not granted
# again when the clock steps back a minute, an hour or a day; a quota
# comes back in the next period; a request refused by the rate limit costs
# no quota with the clock back either; counts ahead of the clock by more
# than the tolerance of a day are taken for a wrong clock's: reset, logged.
#
# Nothing waits a fixed time: a load is known to run when the server has
# logged its answers, a lock when the locker says so; the fake clock's
# steps are judged against the time the requests really took.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(sleep time);
use ApiKeyTest qw(create_key key_store random_wellformed_key read_file);
use ApiKeyWait qw(patience wait_for);
use ApiKeyServer;
use ApiKeyFault qw(background finish curl_codes load_until faketime_env
                   set_clock sqlite_locker code codes quota_row bad_lines
                   touch);

plan tests => 17 + 19,
    need(need_module('authn_apikey', 'dbd'),
         { 'curl' => -x '/usr/bin/curl', 'sqlite3' => -x '/usr/bin/sqlite3' },
         ApiKeyServer::need_many_processes());

my $small = "StartServers 2\nServerLimit 4\nThreadLimit 16\nThreadsPerChild 16\n"
          . "MaxRequestWorkers 64\nMinSpareThreads 8\nMaxSpareThreads 64\n";
my $status_loc = "<Location /apikey-status>\n    SetHandler apikey-status\n    AuthAPIKeyStatus On\n"
               . "    Require all granted\n</Location>\n";

sub counts { my $n = shift; join ',', map { "$_=$n->{$_}" } sort keys %$n }

# A private server on its own copy of the key store (made once the keys
# exist), started.
sub store_server {
    my ($name, $conf) = @_;
    my $db = Apache::Test::vars('t_logs') . "/srv-$name/keys.db";
    my $srv = ApiKeyServer->new(name => $name, mpm => 'event', db => $db,
                                mpm_conf => $small, conf => $conf);
    unlink $db;
    system('sqlite3', key_store(), ".backup '$db'") == 0 or die 'sqlite3 .backup';
    $srv->start or die "$name: the server did not start:\n" . $srv->error_log;
    return ($srv, $db);
}

# How many requests with key id the server has logged as admitted.
sub admitted {
    my ($srv, $id) = @_;
    my $n = () = read_file($srv->dir . '/access_log') =~ /^200 \Q$id\E$/mg;
    return $n;
}

# Runs fault (a code ref) while a load of key warm (create_key's hash)
# runs, and loads of the keys in %during (name => [key, n, c]) while the
# fault holds; cure ends it.  The fault comes once the server has answered
# a batch of the load, and the load goes on until it has answered another
# after the cure.  Returns (counts of warm, { name => counts }).
sub under_load {
    my ($srv, $warm, $fault, $cure, %during) = @_;
    my $stop = $srv->dir . '/load-over';
    unlink $stop;
    my $bg = background(sub { load_until(url => $srv->url, key => $warm->{key},
                                         c => 8, batch => 50, stop => $stop,
                                         max => patience(60)) });
    my $n0 = admitted($srv, $warm->{id});
    wait_for(sub { admitted($srv, $warm->{id}) >= $n0 + 50 })
        or t_debug('the warm load was not answered within ' . patience() . ' s');
    $fault->();
    my %jobs = map {
        my ($key, $n, $c) = @{ $during{$_} };
        ($_ => background(sub { curl_codes(url => $srv->url, key => $key,
                                           n => $n, c => $c) }))
    } keys %during;
    my %got = map { $_ => finish($jobs{$_}) } keys %jobs;
    $cure->();
    my $n1 = admitted($srv, $warm->{id});
    wait_for(sub { admitted($srv, $warm->{id}) >= $n1 + 50 })
        or t_debug('the warm load was not answered after the cure');
    touch($stop);
    return (finish($bg), \%got);
}

# 1. The store locked, then locked on and off, under pooled connections.
# The warm key, cached once, stays cached all through the faults: its 600 s
# outlast them however slow the machine (each takes seconds).
my %k = map { $_ => create_key(owner => "store-$_") }
        qw(warm cold), map { "flap$_" } 1 .. 6;
my $unknown = random_wellformed_key();
my ($srv, $db) = store_server('store-lock',
                              "AuthAPIKeyCacheTimeout 600 negative=10");
ok t_cmp(code($srv, $k{warm}{key}), '200', 'the warm key is served (and cached)');

my $locker = sqlite_locker($db);
my ($warm, $got) = under_load($srv, $k{warm},
                              sub { $locker->{lock}->() or die 'no lock' },
                              sub { $locker->{unlock}->() },
                              cold => [$k{cold}{key}, 6, 3],
                              unknown => [$unknown, 3, 3]);
my ($cold, $unk) = @$got{qw(cold unknown)};
t_debug('locked: warm ' . counts($warm) . '; cold ' . counts($cold)
        . '; unknown ' . counts($unk));
ok t_cmp(($warm->{200} // 0) > 0 && $warm->{200} == $warm->{batches} * 50 ? 1 : 0, 1,
         "store locked: the cached key's load is all 200 ($warm->{200})");
ok t_cmp("${\ ($cold->{503} // 0)} ${\ ($cold->{'503-retry-after'} // 0)}", '6 6',
         'an uncached key: 503 with Retry-After, every time');
ok t_cmp($unk->{503} // 0, 3, 'an unknown key: 503 (never 200, never 401)');
ok t_cmp(codes($srv, $k{cold}{key}, 3), '200 200 200', 'unlocked: the key is served');
ok t_cmp(code($srv, $unknown), '401', 'and the unknown key refused with 401');
ok t_cmp(code($srv, 'garbage'), '401', 'a malformed key: 401 (needs no look-up)');

# On and off, each lock shorter than the driver's patience: slow look-ups.
my $stop = $srv->dir . '/flap-over';
my $flapper;
my ($flap_warm, $flap) = under_load($srv, $k{warm},
    sub {
        $flapper = background(sub {
            my $l = sqlite_locker($db);
            my $n = 0;
            until (-e $stop) {
                $l->{lock}->() and $n++;
                touch("$stop.locked") if $n == 1;
                sleep 0.3;
                $l->{unlock}->();
                sleep 0.3;
            }
            $l->{close}->();
            return { locks => $n };
        });
        # The uncached keys' requests start once the store was locked.
        wait_for(sub { -e "$stop.locked" })
            or t_debug('the flapper took no lock within ' . patience() . ' s');
    },
    sub { touch($stop); finish($flapper) },
    map { ("flap$_" => [$k{"flap$_"}{key}, 1, 1]) } 1 .. 6);
my %flaps;
for my $n (values %$flap) {
    $flaps{$_} += $n->{$_} for grep { /^\d+$/ } keys %$n;
    $flaps{slowest} = $n->{slowest} if $n->{slowest} > ($flaps{slowest} // 0);
}
t_debug('locked on and off: warm ' . counts($flap_warm) . '; six uncached keys '
        . counts(\%flaps));
ok t_cmp(($flap_warm->{200} // 0) == $flap_warm->{batches} * 50 ? 1 : 0, 1,
         'the cached key meanwhile: all 200');
ok t_cmp(($flaps{200} // 0) + ($flaps{503} // 0), 6,
         'store locked on and off: six uncached keys get 200 (or 503), '
         . 'never 401');
$locker->{close}->();
my $log = $srv->error_log;
# (On a connection whose statement is not prepared yet the lock shows when
# preparing it, APIKEY00001; on one whose is, when running it.)
ok t_cmp(($log =~ /APIKEY0000[15]: .*: database is locked/) ? 1 : 0, 1,
         'the error log says the store was locked');
ok t_cmp(bad_lines($log), '', 'no crash, no critical error');
$srv->stop;

# 2. The store unreadable, then gone, with a connection per look-up.
%k = map { $_ => create_key(owner => "gone-$_") } qw(warm mode name);
$unknown = random_wellformed_key();
($srv, $db) = store_server('store-gone',
                           "AuthAPIKeyCacheTimeout 600 negative=10\nDBDPersist Off");
code($srv, $k{warm}{key});
my %gone;
($gone{warm_mode}, $got) = under_load($srv, $k{warm},
                                      sub { chmod 0, $db },
                                      sub { chmod 0644, $db },
                                      mode => [$k{mode}{key}, 6, 3],
                                      unknown => [$unknown, 3, 3]);
t_debug('unreadable: warm ' . counts($gone{warm_mode}) . '; cold '
        . counts($got->{mode}) . '; unknown ' . counts($got->{unknown}));
ok t_cmp("${\ ($got->{mode}{503} // 0)} ${\ ($got->{mode}{'503-retry-after'} // 0)} "
         . ($got->{unknown}{503} // 0), '6 6 3',
         'store unreadable (chmod 000): uncached and unknown keys get 503');
ok t_cmp(codes($srv, $k{mode}{key}, 2) . ' ' . code($srv, $unknown),
         '200 200 401', 'readable again: served, and the unknown one 401');
($gone{warm_name}, $got) = under_load($srv, $k{warm},
                                      sub { rename $db, "$db.away" },
                                      sub { rename "$db.away", $db },
                                      name => [$k{name}{key}, 6, 3]);
t_debug('renamed: warm ' . counts($gone{warm_name}) . '; cold '
        . counts($got->{name}));
ok t_cmp($got->{name}{503} // 0, 6,
         'store renamed away (sqlite opens an empty one): 503');
ok t_cmp(codes($srv, $k{name}{key}, 2), '200 200', 'back: served');
ok t_cmp(join(' ', map { ($_->{200} // 0) == $_->{batches} * 50 ? 'all' : counts($_) }
                   @gone{qw(warm_mode warm_name)}), 'all all',
         'the cached key meanwhile: all 200');
$log = $srv->error_log;
ok t_cmp(bad_lines($log), '', 'no crash, no critical error');
$srv->stop;

# 3. The clock stepped back and forth under a running httpd.
my $clock = Apache::Test::vars('t_logs') . '/fake-clock';
my $env = faketime_env($clock);
# Preloaded beside ASan's runtime (make test-asan), libfaketime recurses
# into clock_gettime before either is ready and httpd hangs at start-up.
my $no_clock = !$env ? 'libfaketime (Debian package faketime) is not installed'
             : $ENV{APIKEY_ASAN} ? 'libfaketime cannot be preloaded beside '
                                   . 'ASan\'s runtime (it hangs httpd)'
             : '';
if ($no_clock) {
    skip($no_clock, 0) for 1 .. 19;
    exit 0;
}
my %c = (
    day  => create_key(owner => 'clock-day', quota => '5/day'),
    hour => create_key(owner => 'clock-hour', quota => '3/hour'),
    rate => create_key(owner => 'clock-rate', rate => '3/h'),
    both => create_key(owner => 'clock-both', quota => '10/day', rate => '3/h'),
);
$srv = ApiKeyServer->new(name => 'clock', mpm => 'prefork', env => $env,
                         mpm_conf => "StartServers 3\nMinSpareServers 2\n"
                                   . "MaxSpareServers 5\nMaxRequestWorkers 10\n",
                         conf => "AuthAPIKeyCacheTimeout 60\n$status_loc");
$srv->start or die 'server did not start';
# The server's clock, as its Date header says (whole seconds), and the
# real time before and after the request.
my $date = sub {
    my $t0 = time;
    my ($d) = `curl -s -m 10 -D - -o /dev/null '${\ $srv->url('/apikey-status')}'`
        =~ /^Date: (.*?)\r?$/mi;
    return (HTTP::Date::str2time($d) // 0, $t0, time);
};
require HTTP::Date;
my %spent = (day => 5, hour => 3, rate => 3, both => 3);
for my $which (sort keys %c) {
    ok t_cmp(codes($srv, $c{$which}{key}, $spent{$which} + 1),
             join(' ', ('200') x $spent{$which}, '429'),
             "clock right: the $which key spends its $spent{$which}");
}
for my $back ([60, 'a minute'], [3600, 'an hour'], [86400, 'a day']) {
    set_clock($clock, -$back->[0]);
    # The Date header is the second of some instant between the two reads
    # of the real clock, moved back.
    my ($d, $t0, $t1) = $date->();
    my ($lo, $hi) = (int($t0) - $back->[0], int($t1) - $back->[0]);
    ok t_cmp($d >= $lo && $d <= $hi ? 1 : 0, 1,
             "the server's clock is $back->[1] behind (Date: "
             . ($d - int $t0) . " s; [$lo, $hi] allowed)");
    ok t_cmp(join(' ', map { codes($srv, $c{$_}{key}, 2) } sort keys %c),
             join(' ', ('429') x 8),
             "$back->[1] back: nothing granted again (both, day, hour, rate)");
}
# Still a day back: the status page shows the counts that apply.
my %used = map { $_ => (quota_row($srv, $c{$_}{id}) || {})->{quota}{used} // -1 }
           qw(day both);
ok t_cmp($used{day}, 5, 'the status page, a day back: the day key used 5');
ok t_cmp($used{both}, 3,
         'and the other 3: refusals by the rate limit with the clock back '
         . 'cost no quota');
# Forward to a minute into the next UTC day, and at least two hours on, so
# that the rate keys (3 an hour) have their bursts again whatever the time
# of day: the day after tomorrow when midnight is less than two hours away.
my $tomorrow = 86400 - time % 86400 + 60;
$tomorrow += 86400 if $tomorrow < 7200;
set_clock($clock, $tomorrow);
for my $which (sort keys %c) {
    ok t_cmp(codes($srv, $c{$which}{key}, $spent{$which} + 1),
             join(' ', ('200') x $spent{$which}, '429'),
             "next day: the $which key has its $spent{$which} again");
}
set_clock($clock, $tomorrow - 3 * 86400);
ok t_cmp(code($srv, $c{day}{key}), '200',
         'counts more than a day ahead of the clock: taken for a wrong clock\'s');
ok t_cmp(($srv->error_log =~ /APIKEY00032: key \Q$c{day}{id}\E: its limit counters were not valid and were reset/)
         ? 1 : 0, 1, 'reset, and the error log says so');
set_clock($clock, 0);
ok t_cmp(bad_lines($srv->error_log), '', 'no crash, no critical error');
$srv->stop;
