# A store that the module's upgrade left behind (htapikey init not run
# since): its keys still work, looked up with the columns it has (a column
# it lacks holds no restriction to leave out), the error log says once
# which columns are missing and how to add them; after htapikey init the
# new columns are read at once, restrictions among them.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use Digest::SHA qw(sha256_hex);
use LWP::UserAgent ();
use ApiKeyTest qw(backend htapikey store_sql scratch_store drop_store
                  random_wellformed_key);
use ApiKeyServer;
use ApiKeyWait qw(wait_for);
use Time::HiRes qw(sleep);

plan tests => 13, need(need_module('authn_apikey', 'dbd'), need_lwp);

my ($drv, $params) = scratch_store();
# The first schema: no restriction, rotation or limit columns.
store_sql('CREATE TABLE apikey (id VARCHAR(64) NOT NULL PRIMARY KEY, '
          . 'digest CHAR(64) NOT NULL UNIQUE, owner VARCHAR(255) NOT NULL, '
          . "name VARCHAR(255), scopes VARCHAR(1024) NOT NULL DEFAULT '', "
          . "status VARCHAR(16) NOT NULL DEFAULT 'active', "
          . 'created BIGINT NOT NULL, updated BIGINT NOT NULL, '
          . 'expires BIGINT, not_before BIGINT); '
          . 'CREATE TABLE apikey_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, '
          . 'value BIGINT NOT NULL); '
          . "INSERT INTO apikey_meta (name, value) VALUES ('version', 0)",
          driver => $drv, params => $params);
my $key = random_wellformed_key();
my $now = time;
store_sql("INSERT INTO apikey (id, digest, owner, created, updated) VALUES "
          . "('oldkey', '" . sha256_hex($key) . "', 'old', $now, $now)",
          driver => $drv, params => $params);

my $srv = ApiKeyServer->new(
    name => 'store-upgrade', mpm => 'event',
    ($drv eq 'sqlite3' ? (db => $params) : (dbd_params => $params)),
    conf => "AuthAPIKeyCacheTimeout 0\nLogLevel info\n");
ok t_cmp($srv->start ? 1 : 0, 1, 'a server on a store of the first schema');
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 10);
my $codes = join ' ', map { $ua->get($srv->url, 'X-API-Key' => $key)->code } 1 .. 3;
ok t_cmp($codes, '200 200 200', 'its key works (was 503: the look-up named '
                                . 'columns the store lacks)');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => random_wellformed_key())->code,
         401, 'an unknown key is still 401');
# Past a connection's recheck (every 5 s), the store still lacking the
# columns: its keys still work (PostgreSQL's driver "prepares" the whole
# look-up without asking the server, which proved nothing).  The wait is
# the least time the recheck needs: a slower machine only waits longer.
sleep 6;
$codes = join ' ', map { $ua->get($srv->url, 'X-API-Key' => $key)->code } 1 .. 4;
ok t_cmp($codes, '200 200 200 200', 'and still after the recheck, not yet upgraded');
my $warned = wait_for(sub { $srv->error_log =~ /APIKEY00071/ ? 1 : undef });
my @lines = $srv->error_log =~ /^.*APIKEY00071.*$/mg;
ok t_cmp($lines[0] // '', qr/no column allow_ip, allow_referer, allow_method, .*bandwidth, allow_android, allow_ios, allow_cert, .*run 'htapikey init'/,
         'the error log names the missing columns and the way to add them');
ok t_cmp(scalar(grep { !/APIKEY00071/ } grep { /APIKEY0000[1-8]/ } split /\n/, $srv->error_log), 0,
         'and no look-up error');

# The upgrade: htapikey init adds the columns; a restriction set then is
# read by the next look-up.
my ($rc, $out, $err) = htapikey('-d', $drv, '-p', $params, 'init');
ok t_cmp($rc, 0, 'htapikey init upgrades the store') or print STDERR "# $err\n";
($rc, $out, $err) = htapikey('-d', $drv, '-p', $params, 'update', 'oldkey',
                             '--allow-method', 'GET');
ok t_cmp($rc, 0, 'htapikey update --allow-method GET') or print STDERR "# $err\n";
# Each connection tries the whole look-up again every 5 s: soon, on every
# driver (PostgreSQL's statement of the columns it had goes on working).
my $post = wait_for(sub {
    my $c = $ua->post($srv->url, 'X-API-Key' => $key)->code;
    return $c == 403 ? $c : undef;
}, every => 0.25) // 'never 403';
ok t_cmp($post, 403, 'a POST is refused soon after: the new column is read');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $key)->code, 200, 'a GET is not');
# A column added later than the others: a key bound to a client
# certificate is refused over plain HTTP as soon as it is read.
($rc, $out, $err) = htapikey('-d', $drv, '-p', $params, 'update', 'oldkey',
                             '--allow-cert', 'ab' x 32);
ok t_cmp($rc, 0, 'htapikey update --allow-cert') or print STDERR "# $err\n";
my $get = wait_for(sub {
    my $c = $ua->get($srv->url, 'X-API-Key' => $key)->code;
    return $c == 403 ? $c : undef;
}, every => 0.25) // 'never 403';
ok t_cmp($get, 403, 'then a GET without the certificate is refused');
$srv->stop;
# The statements swapped under the connections (reduced, then whole) must
# not bring a child down (an unset statement pointer crashed every child
# on MariaDB, whose driver fills the statement it is given).
ok t_cmp(scalar(() = $srv->error_log =~ /exit signal|segfault/g), 0,
         'no child crashed');
drop_store($drv, $params);
