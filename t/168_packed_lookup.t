# The default look-up reads the columns added since the first schema
# (restrictions, limits, rotation) as one value, joined by the byte 0x1f,
# on SQLite, PostgreSQL and MySQL/MariaDB.  Here: a key with every one of
# them set is read whole (its values land where they belong), keys with one
# restriction each are refused by it (the last column, allow_cert, among
# them), a row of empty strings is no restriction; a value
# holding the separator is refused with 503 and APIKEY00091, never read
# shifted; and a store that lacks all but one of those columns, whose
# reduced look-up has as many columns as the packed one, is read by name.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use Digest::SHA qw(sha256_hex);
use LWP::UserAgent ();
use ApiKeyTest qw(backend create_key store_sql scratch_store drop_store
                  random_wellformed_key);
use ApiKeyServer;

plan tests => 20, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $drv = backend();
# The separator as each dialect writes it.
my $sep = { sqlite3 => 'char(31)', pgsql => 'chr(31)',
            mysql => 'CHAR(31)' }->{$drv} // 'char(31)';
my $cat = sub {
    my @p = @_;
    return $drv eq 'mysql' ? 'CONCAT(' . join(', ', @p) . ')'
                           : join(' || ', @p);
};

# Every packed column set, each to a value that shows where it landed: a
# method list that refuses POST, a client network that lets 127.0.0.1 in,
# a rotation with its successor, a rate with its burst, a quota and a
# bandwidth.
my $full = create_key(owner => 'packed', scopes => 'read',
                      'allow-method' => 'GET,HEAD',
                      'allow-ip' => '127.0.0.0/8',
                      rate => '100/s', burst => 7, quota => '5/day',
                      bandwidth => '1MiB/s');
# Long values: near the 1,024 bytes a column holds, the last host of the
# list still read (a driver's buffer for the packed value must hold all).
my @hosts = map { sprintf('host%02d.example.com', $_) } 1 .. 48;
my $long = create_key(owner => 'packed', 'allow-referer' => join(',', @hosts),
                      'allow-ip' => join(',', map { "10.0.$_.0/24" } 1 .. 40)
                                    . ',127.0.0.1');
# One restriction each, none of which this client meets, the last packed
# column (allow_cert) among them: each refuses, so each is read.
my $far = create_key(owner => 'packed', 'allow-ip' => '192.0.2.0/24');
my $ios = create_key(owner => 'packed', 'allow-ios' => 'com.example.app');
my $cert = create_key(owner => 'packed', 'allow-cert' => 'ab' x 32);
my $rotated = create_key(owner => 'packed');
store_sql('UPDATE apikey SET grace_until = ' . (time - 60)
          . ", replaced_by = 'next' WHERE id = '$rotated->{id}'");
# Every packed column '' rather than NULL: nothing set.
my $empty = create_key(owner => 'packed');
store_sql("UPDATE apikey SET allow_ip = '', allow_referer = '', "
          . "allow_method = '', replaced_by = '', rate = '', quota = '', "
          . "bandwidth = '', allow_android = '', allow_ios = '', "
          . "allow_cert = '' WHERE id = '$empty->{id}'");
my $sep_key = create_key(owner => 'packed');
store_sql('UPDATE apikey SET allow_referer = '
          . $cat->("'https://a.example/'", $sep, "'x'")
          . " WHERE id = '$sep_key->{id}'");

my $srv = ApiKeyServer->new(
    name => 'packed', mpm => 'event',
    conf => "AuthAPIKeyCacheTimeout 0\nAuthAPIKeyLimitHeaders On\n");
ok $srv->start;
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 10);
my $r = $ua->get($srv->url, 'X-API-Key' => $full->{key});
ok t_cmp($r->code, 200, 'a key with every packed column set: in');
ok t_cmp($r->header('RateLimit-Policy') // '', qr/"quota";q=5;w=86400\b/,
         'its quota is read (5/day)');
ok t_cmp($r->header('RateLimit-Policy') // '', qr/"rate";q=7;w=\d+/,
         'and its burst');
ok t_cmp($ua->post($srv->url, 'X-API-Key' => $full->{key})->code, 403,
         'its method list is read: POST refused');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $long->{key},
                 Referer => "http://$hosts[-1]/page")->code,
         200, 'long values: the last host of a long referer list is read');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $long->{key},
                 Referer => 'http://other.example.net/')->code,
         403, 'and another host is refused');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $far->{key})->code, 403,
         'allow_ip of another network: 403');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $ios->{key})->code, 403,
         'allow_ios without the app: 403');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $ios->{key},
                  'X-Ios-Bundle-Identifier' => 'com.example.app')->code, 200,
         'and with it: in');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $cert->{key})->code, 403,
         'allow_cert, the last packed column, without a certificate: 403');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $rotated->{key})->code, 401,
         'a rotated key past its grace_until: 401');
ok t_cmp($ua->get($srv->url, 'X-API-Key' => $empty->{key})->code, 200,
         'every packed column empty rather than NULL: in, unrestricted');
$r = $ua->get($srv->url, 'X-API-Key' => $sep_key->{key});
ok t_cmp($r->code, 503, 'a value holding the separator: 503, not read shifted');
$srv->stop;
ok t_cmp($srv->error_log,
         qr/APIKEY00091: key \Q$sep_key->{id}\E: the look-up's packed restriction, limit and rotation columns do not read back/,
         'the error log names the key');

# A store of the first schema plus allow_ip only: its look-up has the
# first schema's seven columns and allow_ip, as many as the packed one.
my ($sdrv, $params) = scratch_store();
store_sql('CREATE TABLE apikey (id VARCHAR(64) NOT NULL PRIMARY KEY, '
          . 'digest CHAR(64) NOT NULL UNIQUE, owner VARCHAR(255) NOT NULL, '
          . "name VARCHAR(255), scopes VARCHAR(1024) NOT NULL DEFAULT '', "
          . "status VARCHAR(16) NOT NULL DEFAULT 'active', "
          . 'created BIGINT NOT NULL, updated BIGINT NOT NULL, '
          . 'expires BIGINT, not_before BIGINT, allow_ip VARCHAR(1024)); '
          . 'CREATE TABLE apikey_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, '
          . 'value BIGINT NOT NULL); '
          . "INSERT INTO apikey_meta (name, value) VALUES ('version', 0)",
          driver => $sdrv, params => $params);
my ($in, $out) = (random_wellformed_key(), random_wellformed_key());
my $now = time;
store_sql("INSERT INTO apikey (id, digest, owner, created, updated, allow_ip) "
          . "VALUES ('near', '" . sha256_hex($in) . "', 'o', $now, $now, "
          . "'127.0.0.0/8'), ('far', '" . sha256_hex($out) . "', 'o', $now, "
          . "$now, '192.0.2.0/24')",
          driver => $sdrv, params => $params);
my $old = ApiKeyServer->new(
    name => 'packed-old', mpm => 'event',
    ($sdrv eq 'sqlite3' ? (db => $params) : (dbd_params => $params)),
    conf => "AuthAPIKeyCacheTimeout 0\nLogLevel info\n");
ok $old->start;
ok t_cmp($ua->get($old->url, 'X-API-Key' => $in)->code, 200,
         'one added column only: a key allowed from here is in');
ok t_cmp($ua->get($old->url, 'X-API-Key' => $out)->code, 403,
         'a key allowed from elsewhere is refused: allow_ip read by name');
$old->stop;
ok t_cmp($old->error_log, qr/APIKEY00071/,
         'the store is known to lack columns');
ok t_cmp(scalar(() = $old->error_log =~ /APIKEY00091/g), 0,
         'and its look-up is never taken for the packed one');
drop_store($sdrv, $params);
