# The status page's counters are per process, summed (src/httpd/
# apikey_counters.c): exact and never going back while children come and
# go (MaxConnectionsPerChild retires them after a few connections), when a
# child is killed (its row, never released, is taken over with its
# totals), and across graceful restarts (the old generation's children
# count on in their rows while the new one's take others).  Nothing
# depends on speed: counts are waited for with a deadline (a request is
# counted when it is logged, after the client has its answer).
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use ApiKeyTest qw(create_key random_wellformed_key read_file);
use ApiKeyServer;
use ApiKeyWait qw(patience wait_for);

plan tests => 12, need(need_module('authn_apikey', 'dbd'),
                       ApiKeyServer::need_many_processes());

my $srv = ApiKeyServer->new(
    name => 'counters', mpm => 'event',
    mpm_conf => "StartServers 2\nServerLimit 4\nThreadLimit 8\n"
              . "ThreadsPerChild 8\nMaxRequestWorkers 32\n"
              . "MinSpareThreads 8\nMaxSpareThreads 32\n"
              . "MaxConnectionsPerChild 5\n", conf => "");
my $pidlog = $srv->dir . '/pid_log';
$srv->{conf} = <<"CONF";
LogFormat "%P" pid
CustomLog $pidlog pid
AuthAPIKeyCacheTimeout 60
AuthAPIKeyFailureLimit off
<Location /apikey-status>
    SetHandler apikey-status
    AuthAPIKeyStatus On
    Require all granted
</Location>
CONF
$srv->write_conf;
ok t_cmp($srv->start ? 1 : 0, 1, 'started');

my $went_back = 0;
my %last;
sub counters {
    my %c = `curl -s ${\ $srv->url('/apikey-status?auto')}` =~ /^(\w+): (\d+)$/mg;
    for (keys %c) {
        $went_back++ if defined $last{$_} && $c{$_} < $last{$_};
        $last{$_} = $c{$_};
    }
    return \%c;
}
# One connection a request: every few, a child retires.
sub send_n {
    my ($key, $n) = @_;
    my $codes = join ' ', map {
        `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $key' ${\ $srv->url}`
    } 1 .. $n;
    return $codes;
}
# Waits until name has grown by want since c0; returns the growth seen.
sub grown {
    my ($c0, $name, $want) = @_;
    my $got;
    wait_for(sub { $got = (counters()->{$name} // 0) - ($c0->{$name} // 0);
                   $got >= $want }, timeout => patience(60));
    # A count past want would show later: look once more.
    return (counters()->{$name} // 0) - ($c0->{$name} // 0);
}
sub pids { my %p = map { $_ => 1 } read_file($pidlog) =~ /(\d+)/g; return keys %p }

my $k = create_key(owner => 'counters');
my $bad = random_wellformed_key();
my $c0 = counters();
ok t_cmp(send_n($k->{key}, 20), join(' ', ('200') x 20), '20 requests');
ok t_cmp(send_n($bad, 6), join(' ', ('401') x 6), '6 with an unknown key');
ok t_cmp(grown($c0, 'Requests_ok', 20), 20, 'Requests_ok: exactly 20 more');
ok t_cmp(grown($c0, 'Requests_unknown', 6), 6, 'Requests_unknown: exactly 6');
my @seen = pids();
ok t_cmp(scalar(@seen) > 2, 1,
         'served by ' . scalar(@seen) . ' children, retired as they went');

# A child killed (no cleanup: its row stays claimed by a dead pid).
my ($victim) = grep { kill 0, $_ } reverse @seen;
ok t_cmp($victim && kill('KILL', $victim) ? 1 : 0, 1, 'a child killed');
ok t_cmp(send_n($k->{key}, 10), join(' ', ('200') x 10), '10 more requests');
ok t_cmp(grown($c0, 'Requests_ok', 30), 30,
         'Requests_ok: exactly 30 more; nothing of the killed child lost');

# A graceful restart: the old children's rows are kept, new ones claimed.
my $said = () = $srv->error_log =~ /resuming normal operations/g;
$srv->graceful;
wait_for(sub { (() = $srv->error_log =~ /resuming normal operations/g) > $said },
         timeout => patience(60));
ok t_cmp(send_n($k->{key}, 15), join(' ', ('200') x 15),
         '15 requests after a graceful restart');
ok t_cmp(grown($c0, 'Requests_ok', 45), 45,
         'Requests_ok: exactly 45 more across the restart');
ok t_cmp("went back $went_back times; "
         . (() = $srv->error_log =~ /APIKEY00055/g) . " overflows",
         'went back 0 times; 0 overflows',
         'no counter ever went back; every child had a row of its own');
$srv->stop;
