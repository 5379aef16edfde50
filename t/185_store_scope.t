# Shared state is scoped by the key's store, never by its id alone.  Two
# virtual hosts, each with a legacy table of its own (AuthAPIKeyQuery) whose
# ids are integers: both have a key 1.  Alpha's client spending its 3/day
# must not lock out beta's client; a third host on alpha's database shares
# alpha's counter (one store, one key); each host's status page shows its
# own store's keys only; a tenant's SetHandler apikey-status in .htaccess
# serves nothing.  Then the cluster-wide quota store: two statements over
# one database keep rows of their own in apikey_quota.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use LWP::UserAgent;
use ApiKeyTest qw(backend scratch_store drop_store store_sql htapikey);
use ApiKeyServer;

plan tests => 20, need(need_module('authn_apikey', 'dbd'), need_lwp);

my %key = (alpha => 'alpha-client-key-0001', beta => 'beta-client-key-0001');
my %store;
for my $host (qw(alpha beta)) {
    my ($driver, $params) = scratch_store();
    store_sql("CREATE TABLE clients (client_id INTEGER, company VARCHAR(64), "
              . "key_sha256 VARCHAR(64)); INSERT INTO clients VALUES (1, "
              . "'$host co', '" . sha256_hex($key{$host}) . "')",
              driver => $driver, params => $params);
    $store{$host} = $params;
}
my $driver = backend();
my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
my $name = 'scope';
my $docs = Apache::Test::vars('t_logs') . "/srv-$name/htdocs";
make_path("$docs/tenant");
open(my $fh, '>', "$docs/tenant/.htaccess") or die $!;
print $fh "SetHandler apikey-status\n";
close $fh;

sub host {
    my ($host, $params, $extra) = @_;
    return <<"CONF";
<VirtualHost *:\${PORT}>
    ServerName $host
    DBDriver $driver
    DBDParams "$params"
    DocumentRoot $docs
    $extra
    <Location /index.txt>
        AuthType APIKey
        AuthName "$host"
        AuthAPIKeyFormat any
        AuthAPIKeyQuery "SELECT client_id AS id, company AS owner, \\
            'active' AS status, key_sha256 AS digest FROM \${TABLE} \\
            WHERE key_sha256 = %s"
        AuthAPIKeyQuota 3/day
        Require apikey
    </Location>
    <Location /apikey-status>
        SetHandler apikey-status
        AuthAPIKeyStatus On
        Require all granted
    </Location>
    <Directory $docs/tenant>
        AllowOverride FileInfo
        Require all granted
    </Directory>
</VirtualHost>
CONF
}

sub server {
    my ($sname, $conf) = @_;
    my $srv = ApiKeyServer->new(name => $sname, mpm => 'event',
                                mpm_conf => "StartServers 1\n", conf => '');
    $conf =~ s/\$\{PORT\}/$srv->{port}/g;
    $srv->{conf} = $conf;
    $srv->write_conf;
    return $srv;
}

my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 60);
sub code {
    my ($srv, $host, $path, $k) = @_;
    return $ua->get($srv->url($path), Host => $host,
                    ($k ? ('X-API-Key' => $k) : ()))->code;
}
sub codes {
    my ($srv, $host, $k, $n) = @_;
    return join ' ', map { code($srv, $host, '/index.txt', $k) } 1 .. $n;
}

(my $conf = join '', host('alpha', $store{alpha}, ''),
                     host('beta', $store{beta}, ''),
                     host('alpha2', $store{alpha}, '')) =~ s/\$\{TABLE\}/clients/g;
my $srv = server($name, $conf);
ok $srv->start;

ok t_cmp(codes($srv, 'alpha', $key{alpha}, 4), '200 200 200 429',
         'alpha\'s key 1: 3 of 3/day, then 429');
ok t_cmp(codes($srv, 'beta', $key{beta}, 3), '200 200 200',
         'beta\'s key 1, in another store: a counter of its own');
ok t_cmp(code($srv, 'beta', '/index.txt', $key{beta}), 429,
         'and its own limit');
ok t_cmp(code($srv, 'alpha2', '/index.txt', $key{alpha}), 429,
         'a host on alpha\'s database shares alpha\'s counter');

my %page;
for my $host (qw(alpha beta)) {
    my $r = $ua->get($srv->url('/apikey-status?format=json'), Host => $host);
    $page{$host} = $r->content;
}
ok t_cmp($page{alpha}, qr/"owner":"alpha co"/, 'alpha\'s page: its key');
ok $page{alpha} !~ /beta co/;
ok t_cmp($page{alpha}, qr/"used":3\b/, 'with its count');
ok t_cmp($page{beta}, qr/"owner":"beta co"/, 'beta\'s page: its key');
ok $page{beta} !~ /alpha co/;

my $r = $ua->get($srv->url('/tenant/x'), Host => 'alpha');
ok t_cmp($r->code, 404, 'SetHandler apikey-status in a tenant\'s .htaccess: '
                        . 'nothing served');
ok $r->content !~ /alpha co|beta co/;
ok t_cmp($srv->error_log, qr/APIKEY00052: SetHandler apikey-status refused/,
         'and logged');
$srv->stop;

# The cluster-wide quota store: one database, two legacy tables, both with
# a key 1.  Their rows in apikey_quota are apart.
my ($d2, $shared) = scratch_store();
htapikey('-d', $d2, '-p', $shared, 'init');
store_sql("CREATE TABLE clients_a (client_id INTEGER, company VARCHAR(64), "
          . "key_sha256 VARCHAR(64)); CREATE TABLE clients_b (client_id "
          . "INTEGER, company VARCHAR(64), key_sha256 VARCHAR(64)); "
          . "INSERT INTO clients_a VALUES (1, 'a co', '"
          . sha256_hex($key{alpha}) . "'); INSERT INTO clients_b VALUES (1, "
          . "'b co', '" . sha256_hex($key{beta}) . "')",
          driver => $d2, params => $shared);
(my $ca = host('alpha', $shared, 'AuthAPIKeyQuotaStore dbd'))
    =~ s/\$\{TABLE\}/clients_a/g;
(my $cb = host('beta', $shared, 'AuthAPIKeyQuotaStore dbd'))
    =~ s/\$\{TABLE\}/clients_b/g;
$srv = server("${name}db", "AuthAPIKeyQuotaSync 100ms\n$ca$cb");
ok $srv->start;
ok t_cmp(codes($srv, 'alpha', $key{alpha}, 4), '200 200 200 429',
         'dbd quota store: table a\'s key 1, 3 of 3/day');
ok t_cmp(codes($srv, 'beta', $key{beta}, 3), '200 200 200',
         'table b\'s key 1 in the same database: its own 3');
$srv->stop;
my @rows = grep { /\S/ } split /\n/, store_sql(
    "SELECT key_id FROM apikey_quota ORDER BY key_id",
    driver => $d2, params => $shared);
ok t_cmp(scalar(@rows), 2, 'two rows in apikey_quota');
ok t_cmp(join(' ', map { /^q[0-9a-f]{8}:1$/ ? 'ok' : $_ } @rows), 'ok ok',
         'each named by its statement and the id');
ok $rows[0] ne $rows[1];
my $claimed = store_sql("SELECT SUM(claimed) FROM apikey_quota",
                        driver => $d2, params => $shared);
ok t_cmp($claimed + 0 <= 6 && $claimed + 0 >= 6 ? 1 : 0, 1,
         "the store counts 6 claimed in all ($claimed)");

drop_store($driver, $store{$_}) for qw(alpha beta);
drop_store($d2, $shared);
