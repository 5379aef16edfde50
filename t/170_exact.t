# Quotas are exact under concurrency, for each of prefork, worker and event:
# 200 clients firing 2,000 keep-alive requests at a key with quota 500 get
# exactly 500 answers 200 and 1,500 answers 429.  Counts survive a graceful
# restart (also in the middle of the load) and, with AuthAPIKeyStateFile, a
# stop and start.
#
# Nothing waits a fixed time: a graceful restart is done when the error log
# says "resuming normal operations" again, the load under which the
# restarts come runs until they are done and the quota is spent, and the
# access log is read once the server has stopped.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Spec;
use ApiKeyTest qw(create_key read_file);
use ApiKeyServer;
use ApiKeyFault qw(background finish load_until touch);
use ApiKeyWait qw(patience wait_for);

my @mpms = qw(prefork worker event);
plan tests => 3 * 6 + 9, need(need_module('authn_apikey', 'dbd'),
                              { 'curl' => -x '/usr/bin/curl' },
                              ApiKeyServer::need_many_processes());

# Fires n requests through c parallel keep-alive connections (curl retries
# a request whose reused connection the server closed, as HTTP clients do;
# ab does not, and loses requests under the event MPM with or without this
# module).  Returns the count of each status, as "200" => n.
sub load {
    my ($url, $key, $c, $n) = @_;
    my $cfg = File::Spec->catfile(Apache::Test::vars('t_logs'), "load-$$.cfg");
    open(my $fh, '>', $cfg) or die "$cfg: $!";
    print $fh qq{url = "$url"\noutput = "/dev/null"\n} for 1..$n;
    close $fh;
    my %n;
    $n{$_}++ for split /\n/,
        `curl -s --parallel --parallel-max $c @{[ defined $key ? "-H 'X-API-Key: $key'" : '' ]} -w '%{http_code}\\n' -K $cfg`;
    unlink $cfg;
    return \%n;
}

for my $mpm (@mpms) {
    # /anon: the anonymous tier, its quota per client address.
    my $srv = ApiKeyServer->new(name => "exact-$mpm", mpm => $mpm,
                                conf => "AuthAPIKeyCacheTimeout 60\n");
    mkdir "$srv->{dir}/htdocs/anon";
    touch("$srv->{dir}/htdocs/anon/index.txt");
    $srv->{conf} .= "<Directory $srv->{dir}/htdocs/anon>\n"
        . "    AuthAPIKeyAnonymous On\n    AuthAPIKeyAnonymousQuota 500/day\n"
        . "    Require apikey-anonymous\n</Directory>\n";
    # /owner: two keys of one owner, one named budget, two windows (the
    # day's refuses, after the hour's counted: refunds under load).
    mkdir "$srv->{dir}/htdocs/owner";
    touch("$srv->{dir}/htdocs/owner/index.txt");
    $srv->{conf} .= "<Directory $srv->{dir}/htdocs/owner>\n"
        . "    AuthAPIKeyLimitBy owner\n    AuthAPIKeyLimitName bulk\n"
        . "    AuthAPIKeyQuota 1000/hour 500/day\n    AuthAPIKeyLimitHeaders On\n"
        . "</Directory>\n";
    $srv->write_conf;
    ok t_cmp($srv->start ? 1 : 0, 1, "$mpm: server up");
    my $k = create_key(owner => "exact-$mpm", quota => '500/day');
    my $st = load($srv->url, $k->{key}, 200, 2000);
    my $anon = load($srv->url('/anon/index.txt'), undef, 200, 2000);
    # Two keys of one owner at once, 1000 requests each.
    my @two = map { create_key(owner => "exact-owner-$mpm") } 1 .. 2;
    my @pids = map {
        my $key = $_->{key};
        background(sub {
            my $n = load($srv->url('/owner/index.txt'), $key, 100, 1000);
            return [map { $n->{$_} // 0 } qw(200 429)];
        });
    } @two;
    my @owner = map { my $r = finish($_); ref $r eq 'ARRAY' ? $r : [0, 0] } @pids;
    my $after = `curl -s -D - -o /dev/null -H 'X-API-Key: $two[0]{key}' @{[ $srv->url('/owner/index.txt') ]}`;
    # httpd logs a request after answering it: read the log once stopped.
    $srv->stop;
    my $logged = $srv->statuses;
    ok t_cmp(join(' ', map { $_ // 0 } @$st{qw(200 429)}),
             '500 1500',
             "$mpm: 200 clients, 2000 requests, quota 500: exactly 500 and "
             . "1500 refused");
    ok t_cmp(join(' ', map { $_ // 0 } @$anon{qw(200 429)}),
             '500 1500',
             "$mpm: the same without a key, AuthAPIKeyAnonymousQuota 500: "
             . "exactly 500 and 1500 refused");
    ok t_cmp(join(' ', $owner[0][0] + $owner[1][0], $owner[0][1] + $owner[1][1],
                  map { $_ // 0 } @$logged{qw(200 429)}),
             '500 1500 1500 4501', "$mpm: two keys of one owner at once, 2000 "
             . "requests, 1000/hour 500/day by owner: exactly 500 admitted (as "
             . "the clients count; the access log has the three loads and one "
             . "request more)");
    my ($hour) = $after =~ /"bulk\.quota-hour";r=(\d+)/;
    ok t_cmp($hour // 'none', 500, "$mpm: and the hour's window counts those "
             . "500 only: every refused request gave its unit back");
    ok t_cmp(scalar(() = $srv->error_log =~ /\[(?:\w+:)?(?:crit|alert|emerg)\]|segfault|exit signal/g), 0,
             "$mpm: no crash or critical error in the error log");
}

# Graceful restarts: counts carry over, also under load.
my $srv = ApiKeyServer->new(name => 'graceful', mpm => 'event',
                            conf => "AuthAPIKeyCacheTimeout 60");
$srv->start or die 'server did not start';
# A graceful restart, returning once the parent has logged that it resumed
# (the listeners stay open throughout: a request then waits for a child of
# the new generation at worst).
sub restarts {
    my $n = () = $srv->error_log =~ /resuming normal operations/g;
    return $n;
}
sub graceful {
    my $before = restarts();
    $srv->graceful or return 0;
    return wait_for(sub { restarts() > $before }, timeout => patience(60)) ? 1 : 0;
}
# How many of the access log's lines say status for key id.
sub logged {
    my ($status, $id) = @_;
    my $n = () = read_file($srv->dir . '/access_log') =~ /^$status \Q$id\E$/mg;
    return $n;
}
my $k = create_key(owner => 'graceful', quota => '10/day');
system("curl -s -o /dev/null -H 'X-API-Key: $k->{key}' " . $srv->url) for 1..6;
ok t_cmp(graceful(), 1, 'graceful restart');
my $codes = join ' ', map {
    `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $k->{key}' ${\ $srv->url}`
} 1..6;
ok t_cmp($codes, '200 200 200 200 429 429',
         'after a graceful restart: the 6 used count, 4 left');

# Two restarts while a load runs that goes on until both are done and the
# quota is spent: admissions before, between and after them.
my $load = create_key(owner => 'graceful-load', quota => '3000/day');
my $stop = $srv->dir . '/load-over';
my $bg = background(sub {
    load_until(url => $srv->url, key => $load->{key}, c => 100, batch => 500,
               stop => $stop, max => patience(300));
});
my @at;
wait_for(sub { logged(200, $load->{id}) >= 100 }, timeout => patience(60));
push @at, logged(200, $load->{id});
my $restarted = graceful();
push @at, logged(200, $load->{id});
$restarted += graceful();
push @at, logged(200, $load->{id});
wait_for(sub { logged(429, $load->{id}) > 0 }, timeout => patience(300));
touch($stop);
my $got = finish($bg);
t_debug("admitted before the first restart: $at[0]; before its end: $at[1]; "
        . "by the end of the second: $at[2]; the load: "
        . join(',', map { "$_=$got->{$_}" } sort keys %$got));
$codes = join ' ', map {
    `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $load->{key}' ${\ $srv->url}`
} 1..3;
# httpd logs a request after answering it: read the log once stopped.
$srv->stop;
ok t_cmp(logged(200, $load->{id}) . " ($restarted restarts)", '3000 (2 restarts)',
         'two graceful restarts under load: exactly the quota admitted');
ok t_cmp($codes, '429 429 429', 'and nothing more after');

# A stop and start keeps the counts with AuthAPIKeyStateFile.
$srv = ApiKeyServer->new(name => 'state', mpm => 'event',
                         conf => "AuthAPIKeyCacheTimeout 60\n"
                               . "AuthAPIKeyStateFile limits.state");
$srv->start or die 'server did not start';
$k = create_key(owner => 'state', quota => '10/day');
system("curl -s -o /dev/null -H 'X-API-Key: $k->{key}' " . $srv->url) for 1..7;
ok t_cmp($srv->stop ? 1 : 0, 1, 'stopped');
ok t_cmp(-s $srv->dir . '/limits.state' ? 1 : 0, 1, 'the state file is written');
ok t_cmp($srv->start ? 1 : 0, 1, 'started again');
$codes = join ' ', map {
    `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $k->{key}' ${\ $srv->url}`
} 1..5;
ok t_cmp($codes, '200 200 200 429 429',
         'after a stop and start: the 7 used count, 3 left');
ok t_cmp($srv->error_log, qr/APIKEY00028: limit counters restored/,
         'the error log says the counters were restored');
$srv->stop;
