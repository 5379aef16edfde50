# Helpers shared by the Apache::Test files: run htapikey against the test
# key store, create keys, forge malformed ones.
package ApiKeyTest;

use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Exporter 'import';
use File::Spec;

our @EXPORT_OK = qw(htapikey create_key insert_key key_store top_dir
                    bad_checksum random_wellformed_key read_file run_httpd);

sub top_dir {
    return $ENV{APIKEY_TOP}
        || File::Spec->rel2abs(File::Spec->catdir(
               Apache::Test::vars('serverroot'), File::Spec->updir));
}

sub key_store {
    return File::Spec->catfile(Apache::Test::vars('serverroot'), 'data',
                               'keys.db');
}

# Runs htapikey with the given arguments against the test store (or the
# store given as -p in the arguments).  Returns (exit status, stdout,
# stderr).
sub htapikey {
    my @args = @_;
    my $bin = File::Spec->catfile(top_dir(), 'htapikey');
    unshift @args, '-p', key_store() unless grep { $_ eq '-p' } @args;
    my $err = File::Spec->catfile(Apache::Test::vars('t_logs'),
                                  "htapikey.$$.err");
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open(STDERR, '>', $err) or die "$err: $!";
        exec($bin, @args) or die "exec $bin: $!";
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    my $rc = $? >> 8;
    my $stderr = read_file($err);
    unlink $err;
    return ($rc, $out // '', $stderr);
}

# Runs httpd on a configuration made of a small preamble (our module, mod_dbd
# unless no_dbd, lines in extra) and $body, with flags (default -t).
# Returns (exit status, output and error log, line number of $body's first
# line).
sub run_httpd {
    my ($body, %o) = @_;
    my $logs    = Apache::Test::vars('t_logs');
    my $libexec = Apache::Test::config()->apxs('LIBEXECDIR')
        or die 'apxs -q LIBEXECDIR gave nothing';
    my $module  = File::Spec->catfile(top_dir(), '.libs',
                                      'mod_authn_apikey.so');
    my $conf = File::Spec->catfile($logs, "config-$$.conf");
    my $log  = File::Spec->catfile($logs, "config-$$.log");
    my @head = (
        "ServerRoot $logs",
        "ServerName localhost",
        "PidFile $logs/config-$$.pid",
        "ErrorLog $log",
        "LoadModule mpm_event_module $libexec/mod_mpm_event.so",
        "LoadModule authn_core_module $libexec/mod_authn_core.so",
        "LoadModule authz_core_module $libexec/mod_authz_core.so",
    );
    push @head, "LoadModule dbd_module $libexec/mod_dbd.so" unless $o{no_dbd};
    push @head, "LoadModule authn_apikey_module $module";
    push @head, @{ $o{extra} || [] };
    open(my $fh, '>', $conf) or die "$conf: $!";
    print $fh join("\n", @head, $body), "\n";
    close $fh;
    my @cmd = (Apache::Test::vars('httpd'), '-f', $conf,
               @{ $o{flags} || ['-t'] });
    my $out = `@cmd 2>&1`;
    my $rc = $? >> 8;
    $out .= read_file($log);
    unlink $conf, $log;
    return ($rc, $out, scalar(@head) + 1);
}

sub read_file {
    my $path = shift;
    open(my $fh, '<', $path) or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

# Creates a key; returns a hash with id and key.  Options are htapikey's
# create options without dashes: owner, scopes, name, expires, not-before.
sub create_key {
    my %o = (owner => 'test', @_);
    my @args = ('--json', 'create');
    push @args, "--$_", $o{$_} for sort keys %o;
    my ($rc, $out, $err) = htapikey(@args);
    die "htapikey create failed ($rc): $err" if $rc;
    my ($id)  = $out =~ /"id":"([^"]+)"/;
    my ($key) = $out =~ /"key":"([^"]+)"/;
    die "unexpected htapikey output: $out" unless $id && $key;
    return { id => $id, key => $key };
}

# Stores a fresh well-formed key under a fixed id (for Require apikey-id
# lines, which are fixed when httpd starts), as htapikey would: the digest
# only.  Columns are given as a hash (owner, scopes, ...); key => K stores
# that key instead (a legacy one, say).  Returns the key.
sub insert_key {
    my ($id, %col) = @_;
    require Digest::SHA;
    my $key = delete $col{key} // random_wellformed_key();
    %col = (owner => 'test', scopes => '', status => 'active', %col,
            id => $id, digest => Digest::SHA::sha256_hex($key),
            created => time, updated => time);
    my @names = sort keys %col;
    my $sql = sprintf("DELETE FROM apikey WHERE id = '%s'; "
                      . "INSERT INTO apikey (%s) VALUES (%s)", $id,
                      join(',', @names),
                      join(',', map { "'" . $col{$_} . "'" } @names));
    system('sqlite3', key_store(), $sql) == 0 or die "sqlite3: $sql";
    return $key;
}

# The key with one checksum character changed.
sub bad_checksum {
    my $key = shift;
    my $last = substr($key, -1);
    substr($key, -1) = $last eq 'A' ? 'B' : 'A';
    return $key;
}

my @B62 = ('0'..'9', 'A'..'Z', 'a'..'z');

# CRC32 as zlib computes it, for forging well-formed keys that no store
# holds.
sub crc32 {
    my $s = shift;
    my $crc = 0xffffffff;
    for my $c (unpack('C*', $s)) {
        $crc ^= $c;
        for (1..8) {
            $crc = ($crc & 1) ? (($crc >> 1) ^ 0xEDB88320) : ($crc >> 1);
        }
    }
    return $crc ^ 0xffffffff;
}

sub random_wellformed_key {
    my $prefix = shift // 'ak';
    my $body = join '', map { $B62[int rand 62] } 1..32;
    my $head = "${prefix}_$body";
    my $v = crc32($head);
    my $sum = '';
    for (1..6) { $sum = $B62[$v % 62] . $sum; $v = int($v / 62); }
    return $head . $sum;
}

1;
