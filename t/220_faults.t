# Faults inside the server: children killed with SIGKILL at random under
# load, and the limit table's shared memory scribbled over.
#
# Kills (prefork and event): keys with quota 500/day (one after the other,
# each until refused, so that admissions go on all through the storm) and
# an unlimited one are loaded in parallel while a killer SIGKILLs random
# children of the test's private server, every other one among those on a
# CPU (APIKEY_FAULT_KILLS of them per MPM, default 60; `make test-faults`
# sends 1,000).  The limit table charges a request by
# compare-and-swap before it is answered, so what is exact is this: the
# requests charged never exceed the quota; every 200 a client receives was
# charged; a request whose child died after its charge and before its
# answer is charged but never answered (under-admission, never over).
# After the storm the server answers, the rest of the quota is admitted
# and no more: clients' 200s + charges lost with their child = the quota
# exactly, and the status page shows the quota used.
#
# Scribbles: garbage written through /proc/PID/mem into one key's slot of
# the anonymous shared mapping (the test runs as the server's user).  The
# key's next request is answered sanely (its counters reset, with
# APIKEY00032 in the error log, or refused), other keys are untouched, and
# no child crashes.  Then the table's header: restored from the copy each
# process keeps (APIKEY00038), the counts kept, no child crashes.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use ApiKeyTest qw(create_key read_file);
use ApiKeyServer;
use ApiKeyFault qw(children_of background finish curl_codes load_until
                   load_keys kill_storm quota_slot mem_write code codes
                   $SLOT_SIZE $SLOT_TEXT $SLOT_TEXT_LEN
                   quota_row bad_lines);
use ApiKeyWait qw(patience timed);

my $KILLS = $ENV{APIKEY_FAULT_KILLS} || 60;
my $QUOTA = 500;
my %sizing = (
    prefork => "StartServers 10\nMinSpareServers 5\nMaxSpareServers 20\n"
             . "ServerLimit 64\nMaxRequestWorkers 64\n",
    event   => "StartServers 2\nServerLimit 16\nThreadLimit 16\n"
             . "ThreadsPerChild 16\nMaxRequestWorkers 256\n"
             . "MinSpareThreads 16\nMaxSpareThreads 64\n",
);
my %threads = (prefork => 1, event => 16);
my @mpms = qw(prefork event);
my $status_loc = "<Location /apikey-status>\n    SetHandler apikey-status\n    AuthAPIKeyStatus On\n"
               . "    Require all granted\n</Location>\n";

plan tests => 10 * @mpms + 22,
    need(need_module('authn_apikey', 'dbd'),
         { 'curl' => -x '/usr/bin/curl' },
         { '/proc/PID/mem' => -r "/proc/$$/mem" },
         ApiKeyServer::need_many_processes());

# 1. Children killed at random under load.
for my $mpm (@mpms) {
    my $srv = ApiKeyServer->new(name => "kill-$mpm", mpm => $mpm,
                                mpm_conf => $sizing{$mpm},
                                conf => $status_loc);
    ok t_cmp($srv->start ? 1 : 0, 1, "$mpm: server up")
        or die "$mpm: the server did not start:\n" . $srv->error_log;
    my $ppid = $srv->pid;
    # Enough keys for admissions all through the storm: each spends its
    # quota in turn (in two to four seconds here, as kills go every 0.12 s).
    my @q = map { create_key(owner => "kill-$mpm-$_", quota => "$QUOTA/day") }
            1 .. 3 + int($KILLS / 10);
    my $f = create_key(owner => "kill-filler-$mpm");
    # How long 50 requests take on this server before the storm: after it
    # they may take no longer than 15 s, or ten times that on a machine so
    # slow that it is more.
    my $before = timed(sub { curl_codes(url => $srv->url, key => $f->{key},
                                        n => 50, c => 5, timeout => patience()) });
    my $bound = 15 + 10 * ($before->[1] - $before->[0]);
    my $stop = $srv->dir . '/storm-over';
    my $t0 = time;
    my $max = patience(30) + $KILLS;
    my @load = (
        background(sub { load_keys(url => $srv->url, keys => [map { $_->{key} } @q],
                                   c => 2, batch => 50, stop => $stop,
                                   max => $max) }),
        background(sub { load_until(url => $srv->url, key => $f->{key},
                                    c => 16, batch => 200, stop => $stop,
                                    max => $max) }),
    );
    my $storm = kill_storm(ppid => $ppid, kills => $KILLS, interval => 0.12,
                           stop => $stop, max => $max);
    my ($ql, $fl) = map { finish($_) } @load;
    my $storm_secs = time - $t0;
    ok t_cmp($storm->{kills}, $KILLS, "$mpm: $KILLS children killed");

    # No deadlock: the server answers, promptly, from the same parent.
    my $t = timed(sub { curl_codes(url => $srv->url, key => $f->{key}, n => 50,
                                   c => 5, timeout => patience()) });
    my ($after, $took) = ($t->[2], $t->[1] - $t->[0]);
    ok t_cmp($after->{200} // 0, 50,
             "$mpm: after the storm all of 50 requests answered 200");
    ok t_cmp($took < $bound ? 1 : 0, 1,
             sprintf('%s: within %.1f s (%.2f s; %.2f s before the storm)',
                     $mpm, $bound, $took, $before->[1] - $before->[0]));
    ok t_cmp(kill(0, $ppid) && $srv->pid == $ppid ? 1 : 0, 1,
             "$mpm: the parent survived");

    # Exactness, for each key the load used: never more than the quota
    # during the storm; then the rest of it, and no more.
    my $used = $ql->{used} // 0;
    t_debug("the quota keys' load failed: $ql->{error}") if $ql->{error};
    my %bad;
    my %sum = (lost => 0, 200 => 0, 429 => 0, '000' => 0);
    for my $i (0 .. $used - 1) {
        my $n = $ql->{per}{$i};
        my $ok = $n->{200} // 0;
        $bad{storm}++ if $ok > $QUOTA;
        my $probe = curl_codes(url => $srv->url, key => $q[$i]{key},
                               n => $QUOTA - $ok + 1, c => 1);
        my $total = $ok + ($probe->{200} // 0);
        $bad{probe}++ unless $total <= $QUOTA && ($probe->{429} // 0) >= 1;
        my $row = quota_row($srv, $q[$i]{id}) || {};
        $bad{page}++ unless ($row->{quota}{used} // -1) == $QUOTA
                            && ($row->{quota}{remaining} // -1) == 0;
        $sum{$_} += $n->{$_} // 0 for qw(200 429 000);
        $sum{lost} += $QUOTA - $total;
    }
    ok t_cmp($used > 0 && !$bad{storm} ? 1 : 0, 1,
             "$mpm: each of $used quota keys: 200s during the storm <= $QUOTA");
    ok t_cmp($bad{probe} // 0, 0,
             "$mpm: then the rest of the quota admitted and no more");
    ok t_cmp($bad{page} // 0, 0, "$mpm: the status page shows each one's "
                                 . "quota used");
    ok t_cmp($sum{lost} <= $storm->{kills} * $threads{$mpm} ? 1 : 0, 1,
             "$mpm: charges lost with a killed child ($sum{lost}) <= kills x "
             . "threads per child");
    $srv->stop;
    my $access = read_file($srv->dir . '/access_log');
    my %logged;
    $logged{$1}++ while $access =~ /^200 (\S+)$/mg;
    my @over = grep { ($logged{$_->{id}} // 0) > $QUOTA } @q;
    my $log = $srv->error_log;
    ok t_cmp(bad_lines($log) . join('', map { "$_->{id} over\n" } @over), '',
             "$mpm: no crash (httpd logs no SIGKILL), no critical error; "
             . "no key's 200s in the access log over its quota");
    t_debug(sprintf "%s: %d kills (%d of children on a CPU) in %.1f s; %d "
                    . "quota keys of %d spent in turn: 200=%d 429=%d 000=%d, "
                    . "lost %d; filler: %s",
                    $mpm, $storm->{kills}, $storm->{running}, $storm_secs,
                    $used, $QUOTA, @sum{qw(200 429 000 lost)},
                    join(',', map { "$_=$fl->{$_}" } sort keys %$fl));
}

# 2. The limit table scribbled over.
my $srv = ApiKeyServer->new(name => 'scribble', mpm => 'prefork',
                            mpm_conf => $sizing{prefork},
                            conf => "AuthAPIKeyLimitSlots 64\n$status_loc");
$srv->start or die 'server did not start';
my $ppid = $srv->pid;
my %k = map { $_ => create_key(owner => "scribble-$_", quota => '5/day') }
        qw(whole quota bystander shown random);
$k{tat} = create_key(owner => 'scribble-tat', rate => '3/h');
codes($srv, $k{$_}{key}, 3) for qw(whole quota bystander shown random tat);

my $table = quota_slot($ppid);
ok t_cmp(defined $table ? 1 : 0, 1,
         'the limit table is found in the parent\'s shared mappings');
my %slot = map { $_ => quota_slot($ppid, $k{$_}{id}) } keys %k;
ok t_cmp(scalar(grep { defined } values %slot), scalar(keys %k),
         'and each key\'s slot in it');

# The whole slot: the owner word fails its check.
mem_write($ppid, $slot{whole}, "\xff" x $SLOT_SIZE);
ok t_cmp(codes($srv, $k{whole}{key}, 6), '200 200 200 200 200 429',
         'slot filled with 0xff: counters reset, the quota counts afresh');
# The quota word only: a count for a day 1000 days ahead.
my $day = int(time / 86400);
mem_write($ppid, $slot{quota} + 16,
          pack('Q<', (((2 << 30) | ($day + 1000)) << 32) | 5));
ok t_cmp(codes($srv, $k{quota}{key}, 6), '200 200 200 200 200 429',
         'a quota count of a day 1000 days ahead: reset');
# The rate limit's TAT, ten years ahead.
ok t_cmp(code($srv, $k{tat}{key}), '429', 'the rate key spent its burst');
mem_write($ppid, $slot{tat} + 8,
          pack('q<', int((time + 10 * 365 * 86400) * 1e6)));
ok t_cmp(codes($srv, $k{tat}{key}, 4), '200 200 200 429',
         'a TAT ten years ahead: reset, a burst again');
# Random bytes over a whole slot: a sane answer, whatever they are.
open(my $rnd, '<:raw', '/dev/urandom') or die $!;
read($rnd, my $garbage, $SLOT_SIZE);
mem_write($ppid, $slot{random}, $garbage);
ok t_cmp(code($srv, $k{random}{key}), qr/^(?:200|429)$/,
         'random bytes over a slot: the key is answered 200 or 429');
# The display strings: no NUL, nothing printable.
mem_write($ppid, $slot{shown} + $SLOT_TEXT,
          "\x01\xfe" x (($SLOT_TEXT_LEN - 1) / 2) . "\x7f");
my $json = `curl -s -m 10 '${\ $srv->url('/apikey-status?format=json')}'`;
my $doc = eval { JSON::PP::decode_json($json) };
ok t_cmp(ref $doc, 'HASH', 'the status page still gives JSON');
# An id is ASCII; an owner may be UTF-8 (docs/directives.md), so its bytes
# that are not come out as U+FFFD, and no control character gets through.
ok t_cmp(scalar(grep { $_->{id} =~ /[^ -~]/ || $_->{owner} =~ /[\x00-\x1f\x7f]/ }
                @{ $doc->{keys} || [] }),
         0, 'with printable ASCII ids and no control characters in owners');
ok t_cmp(scalar(grep { $_->{owner} =~ /\x{fffd}/ } @{ $doc->{keys} || [] }),
         1, 'the scribbled owner\'s bytes that are not UTF-8 shown as U+FFFD');
ok t_cmp(code($srv, $k{shown}{key}), '200', 'the key behind them is served');
ok t_cmp(defined quota_row($srv, $k{shown}{id}) ? 1 : 0, 1,
         'and shown under its id again');
ok t_cmp((quota_row($srv, $k{bystander}{id}) || {})->{quota}{used} // -1, 3,
         'another key\'s count is untouched');

# The table's header: the slot count zeroed (the next charge would divide
# by it) and the seed of the keys' hashes written over (every key would
# lose its slot).
mem_write($ppid, $table + 8, pack('L<', 0));
mem_write($ppid, $table + 24, "\x5a" x 16);
ok t_cmp(codes($srv, $k{bystander}{key}, 3), '200 200 429',
         'the header scribbled over: restored, the key\'s count kept '
         . '(3 used before, 2 left)');

# The log says what was reset; nothing crashed.
my $log = $srv->error_log;
ok t_cmp(($log =~ /APIKEY00038: the limit table's header was not valid and was restored/)
         ? 1 : 0, 1, 'the error log says the header was restored');
for my $which (qw(whole quota tat)) {
    my ($line) = $log =~ /^(.*APIKEY00032: key \Q$k{$which}{id}\E: .*)$/m;
    ok t_cmp($line // '', qr/its limit counters were not valid and were reset/,
             "the error log names the $which key as reset");
}
ok t_cmp(code($srv, create_key(owner => 'scribble-late')->{key}), '200',
         'the server keeps answering');
ok t_cmp(kill(0, $ppid) && $srv->pid == $ppid ? 1 : 0, 1,
         'the parent survived');
my @kids = children_of($ppid);
ok t_cmp(scalar(@kids) > 0 ? 1 : 0, 1, 'with its children');
ok t_cmp(bad_lines($srv->error_log), '',
         'no child crashed (no "exit signal" line), no critical error');
$srv->stop;
