# Helpers shared by the Apache::Test files: run htapikey against the test
# key store, create keys, forge malformed ones, run SQL on the store.
#
# The main store's backend is $APIKEY_TEST_BACKEND (sqlite3 by default; pgsql
# or mysql on a private server that scripts/run-tests.sh started, reached
# through $APIKEY_TEST_DBPARAMS, its DBDParams).  SQL goes through that
# backend's own command-line client, so nothing here needs a Perl DBD.
package ApiKeyTest;

use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Exporter 'import';
use File::Spec;

our @EXPORT_OK = qw(htapikey create_key insert_key key_store top_dir
                    bad_checksum random_wellformed_key read_file run_httpd
                    backend store_sql scratch_store drop_store);

sub top_dir {
    return $ENV{APIKEY_TOP}
        || File::Spec->rel2abs(File::Spec->catdir(
               Apache::Test::vars('serverroot'), File::Spec->updir));
}

# The main store's DBDriver: sqlite3, pgsql or mysql.
sub backend {
    return $ENV{APIKEY_TEST_BACKEND} || 'sqlite3';
}

# The main store's DBDParams (for sqlite3, the file).
sub key_store {
    return $ENV{APIKEY_TEST_DBPARAMS} if backend() ne 'sqlite3';
    return File::Spec->catfile(Apache::Test::vars('serverroot'), 'data',
                               'keys.db');
}

# Runs htapikey with the given arguments against the test store (or the
# store given as -p in the arguments, sqlite3 unless -d says otherwise).
# Returns (exit status, stdout, stderr).
sub htapikey {
    my @args = @_;
    my $bin = File::Spec->catfile(top_dir(), 'htapikey');
    unshift @args, '-d', backend(), '-p', key_store()
        unless grep { $_ eq '-p' } @args;
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
    store_sql($sql);
    return $key;
}

# DBDParams "k=v k=v" (the mysql driver also takes , ; | as separators).
sub params_hash {
    return map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () }
           split /[\s,;|]+/, shift;
}

# The command-line client running $sql on a store of the backend.
sub sql_client {
    my ($driver, $params, $sql) = @_;
    # A writer elsewhere (a server's quota sync, a look-up) may hold the
    # lock for a moment: wait for it rather than fail at once.
    return ('sqlite3', '-cmd', '.timeout 30000', $params, $sql)
        if $driver eq 'sqlite3';
    return ('psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
            '-d', $params, '-c', $sql) if $driver eq 'pgsql';
    if ($driver eq 'mysql') {
        my %p = params_hash($params);
        return ('mariadb', '--no-defaults', '-N', '-B',
                ($p{sock} ? "--socket=$p{sock}" : ()),
                ($p{host} ? "--host=$p{host}" : ()),
                ($p{port} ? "--port=$p{port}" : ()),
                ($p{user} ? "--user=$p{user}" : ()),
                (defined $p{pass} ? "--password=$p{pass}" : ()),
                '-e', $sql, $p{dbname});
    }
    die "no SQL client for the '$driver' driver";
}

# Runs SQL (several statements, ';'-separated) on the main store, or on
# (driver => D, params => P); returns what it printed (rows, tab-separated,
# no headers).  Dies when the client fails.
sub store_sql {
    my ($sql, %o) = @_;
    my @cmd = sql_client($o{driver} // backend(), $o{params} // key_store(),
                         $sql);
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        exec(@cmd) or die "exec $cmd[0]: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "$cmd[0] failed ($?): $sql\n" if $?;
    return $out;
}

# A new, empty store of the main backend, not yet initialised: returns its
# (driver, params).  sqlite3: a file in t/logs; pgsql and mysql: a database
# on the same server.
my $scratch_n = 0;
sub scratch_store {
    my $name = 'apikey_scratch_' . $$ . '_' . $scratch_n++;
    my $driver = backend();
    if ($driver eq 'sqlite3') {
        my $f = File::Spec->catfile(Apache::Test::vars('t_logs'), "$name.db");
        unlink $f;
        return ($driver, $f);
    }
    store_sql("CREATE DATABASE $name");
    (my $params = key_store()) =~ s/\bdbname=\S+/dbname=$name/
        or die 'DBDParams without dbname';
    return ($driver, $params);
}

# Removes a scratch store.
sub drop_store {
    my ($driver, $params) = @_;
    return unlink $params if $driver eq 'sqlite3';
    my %p = params_hash($params);
    store_sql("DROP DATABASE $p{dbname}");
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
