# The shared tables across graceful restarts (src/httpd/apikey_shm.c): the
# limit table and the failure table are found again and keep their counts;
# a changed AuthAPIKeyLimitSlots gives the limit table a segment of its own
# (the old one stays with the old generation's children), says so
# (APIKEY00026) and starts the counts afresh; a restart after that keeps
# the new one.  The same when a server starts keeping quotas in the store
# (AuthAPIKeyQuotaStore dbd), which lays leases out beside the slots
# (APIKEY00090).
#
# Nothing depends on speed: a restart is waited for in the error log, the
# quota is per day and the failure limit per hour.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use ApiKeyTest qw(create_key random_wellformed_key);
use ApiKeyServer;
use ApiKeyWait qw(patience wait_for);

plan tests => 16, need(need_module('authn_apikey', 'dbd'),
                       ApiKeyServer::need_many_processes());

my $conf = "AuthAPIKeyCacheTimeout 60\nAuthAPIKeyFailureLimit 5/h burst=5\n";
my $srv = ApiKeyServer->new(name => 'shm-restart', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => $conf);
ok t_cmp($srv->start ? 1 : 0, 1, 'started');

sub said {
    my $re = shift;
    my $n = () = $srv->error_log =~ /$re/g;
    return $n;
}
# The parent's children now.
sub children {
    my $parent = $srv->pid or return ();
    my @c;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open(my $fh, '<', $stat) or next;
        my ($pid, $ppid) = (<$fh> // '') =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @c, $pid if $ppid == $parent;
    }
    return @c;
}
# A graceful restart, returning once the parent has resumed and the old
# generation's children are gone: until then one of them may still take a
# connection and answer from the table of its own generation.
sub graceful {
    my $before = said(qr/resuming normal operations/);
    my @old = children();
    $srv->graceful or return 0;
    return wait_for(sub { said(qr/resuming normal operations/) > $before
                          && !grep { kill 0, $_ } @old },
                    timeout => patience(60)) ? 1 : 0;
}
# Statuses of n requests with key, from 127.0.0.1 or, with from, another
# loopback address (the failures' client, which the failure limit blocks:
# the key's requests come from elsewhere).
sub codes {
    my ($key, $n, $from) = @_;
    my $if = $from ? "--interface $from" : '';
    return join ' ', map {
        `curl -s $if -o /dev/null -w '%{http_code}' -H 'X-API-Key: $key' ${\ $srv->url}`
    } 1 .. $n;
}

my $k = create_key(owner => 'shm-restart', quota => '10/day');
my $bad = random_wellformed_key();
ok t_cmp(codes($k->{key}, 3), '200 200 200', 'three of ten spent');
ok t_cmp(codes($bad, 3, '127.0.0.2'), '401 401 401', 'three failures of five');

ok t_cmp(graceful(), 1, 'a graceful restart');
ok t_cmp(codes($bad, 3, '127.0.0.2'), '401 401 429',
         'the failure table kept its counts: two more failures, then 429');
ok t_cmp(codes($k->{key}, 8), '200 200 200 200 200 200 200 429',
         'the limit table kept its counts: seven left');

# Another slot count: a table of its own, the counts afresh.
$srv->{conf} = "$conf\nAuthAPIKeyLimitSlots 512\n";
$srv->write_conf;
ok t_cmp(graceful(), 1, 'a graceful restart with AuthAPIKeyLimitSlots 512');
ok t_cmp(said(qr/APIKEY00026: AuthAPIKeyLimitSlots changed from 65536 to 512: limit counters start afresh/),
         1, 'which says the counts start afresh');
ok t_cmp(codes($k->{key}, 3), '200 200 200', 'and they do');

ok t_cmp(graceful(), 1, 'a graceful restart with the same slots');
ok t_cmp(codes($k->{key}, 8), '200 200 200 200 200 200 200 429',
         'the new table kept its counts (no second APIKEY00026: '
         . said(qr/APIKEY00026/) . ')');

# A server that keeps quotas in the store: the table makes room for leases
# beside its slots, a layout of its own (a virtual host nobody asks: the
# key's quota stays this server's own).
my $leased = "$conf\nAuthAPIKeyLimitSlots 512\n"
             . "<VirtualHost 127.0.0.9:9>\n    ServerName leases.invalid\n"
             . "    AuthAPIKeyQuotaStore dbd\n</VirtualHost>\n";
$srv->{conf} = $leased;
$srv->write_conf;
ok t_cmp(graceful(), 1, 'a graceful restart with AuthAPIKeyQuotaStore dbd');
ok t_cmp(said(qr/APIKEY00090: AuthAPIKeyQuotaStore dbd is now used: the limit table makes room for leases/),
         1, 'which says the table makes room for leases');
ok t_cmp(codes($k->{key}, 3), '200 200 200',
         'and the counts start afresh (no APIKEY00026: '
         . said(qr/APIKEY00026/) . ')');
ok t_cmp(graceful(), 1, 'a graceful restart with the same configuration');
ok t_cmp(codes($k->{key}, 8), '200 200 200 200 200 200 200 429',
         'the table with leases kept its counts');
$srv->stop;
