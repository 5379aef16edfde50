#!/usr/bin/perl
# Data for make bench, in DIR: an API key store with 10,000 real keys
# (keys.db, and keys.txt with the keys for wrk), the same with 990,000 more
# for the 1 M run (keys-1m.db), and a mod_authn_dbd user store with 10,000
# users and {SHA} passwords (users.db); with "million", also a store of
# 1,000,000 real keys (keys-m5.db, the keys in keys-m5.txt) for M5.
# Usage: make-data.pl TOP DIR [million]
use strict;
use warnings;
use Digest::SHA qw(sha256_hex sha1_base64);
use Compress::Zlib ();

my ($top, $dir, $million) = @ARGV;
my @b62 = ('0'..'9', 'A'..'Z', 'a'..'z');

# zlib's CRC-32, as the module's checksum (src/core/apikey_key.c).
sub crc32 { return Compress::Zlib::crc32(shift) }
sub new_key {
    my $head = 'ak_' . join('', map { $b62[int rand 62] } 1..32);
    my ($v, $sum) = (crc32($head), '');
    for (1..6) { $sum = $b62[$v % 62] . $sum; $v = int($v / 62); }
    return $head . $sum;
}

sub sqlite {
    my ($db, $sql) = @_;
    open(my $fh, '|-', 'sqlite3', $db) or die "sqlite3: $!";
    print $fh $sql;
    close $fh or die "sqlite3 failed on $db";
}

system("$top/htapikey", '-p', "$dir/keys.db", 'init') == 0 or die 'init';
open(my $kf, '>', "$dir/keys.txt") or die $!;
my $sql = "BEGIN;\n";
for my $i (1..10000) {
    my $key = new_key();
    print $kf "$key\n";
    $sql .= sprintf("INSERT INTO apikey (id, digest, owner, scopes, status, "
                    . "created, updated) VALUES ('b%05d', '%s', 'bench', "
                    . "'api', 'active', 0, 0);\n", $i, sha256_hex($key));
}
close $kf;
sqlite("$dir/keys.db", "$sql COMMIT;\n");

system('cp', "$dir/keys.db", "$dir/keys-1m.db") == 0 or die 'cp';
sqlite("$dir/keys-1m.db", <<'SQL');
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 990000)
INSERT INTO apikey (id, digest, owner, scopes, status, created, updated)
SELECT 'f' || i, lower(hex(randomblob(32))), 'filler', 'api', 'active', 0, 0
FROM n;
COMMIT;
SQL

$sql = "CREATE TABLE users (user VARCHAR(64) PRIMARY KEY, password VARCHAR(64));\nBEGIN;\n";
$sql .= sprintf("INSERT INTO users VALUES ('user%05d', '{SHA}%s=');\n", $_,
                sha1_base64("secret$_")) for 1..10000;
sqlite("$dir/users.db", "$sql COMMIT;\n");

exit 0 unless $million;
# A million real keys, made as htapikey makes them (the prefix, 32 random
# base62 digits, the CRC-32 checksum in 6 base62 digits; the SHA-256
# digest stored), written as one SQL script and run in one transaction.
system('cp', "$dir/keys.db", "$dir/keys-m5.db") == 0 or die 'cp';
open($kf, '>', "$dir/keys-m5.txt") or die $!;
open(my $sf, '>', "$dir/keys-m5.sql") or die $!;
print $sf "BEGIN;\nDELETE FROM apikey;\n";
for my $i (1..1000000) {
    my $key = new_key();
    print $kf "$key\n";
    printf $sf "INSERT INTO apikey (id, digest, owner, scopes, status, created, "
              . "updated) VALUES ('m%07d', '%s', 'bench', 'api', 'active', 0, 0);\n",
              $i, sha256_hex($key);
}
print $sf "COMMIT;\n";
close $kf;
close $sf;
system("sqlite3 '$dir/keys-m5.db' < '$dir/keys-m5.sql'") == 0 or die 'sqlite3 m5';
unlink "$dir/keys-m5.sql";
