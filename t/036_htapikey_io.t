# htapikey's audit trail, export and import, import --plaintext and
# create --count, against real stores: a SQLite store of its own (the
# source) and a scratch store of the suite's backend (the target: SQLite,
# or PostgreSQL and MariaDB under scripts/test-backends.sh, so that the
# round trip moves a store from SQLite to another driver).  Keys exported
# from the source authenticate against a real httpd reading the target;
# every refusal leaves both stores as they were; no audit row holds a key
# or a digest.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path remove_tree);
use File::Spec;
use JSON::PP ();
use LWP::UserAgent;
use ApiKeyTest qw(htapikey top_dir store_sql scratch_store drop_store);
use ApiKeyServer;

plan tests => 84, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $json = JSON::PP->new->utf8->canonical;
my $dir = File::Spec->catdir(Apache::Test::vars('t_logs'), "io-$$");
remove_tree($dir);
make_path($dir);
my $srcdb = File::Spec->catfile($dir, 'src.db');
my @src = ('-d', 'sqlite3', '-p', $srcdb);
my ($dst_driver, $dst_params) = scratch_store();
my @dst = ('-d', $dst_driver, '-p', $dst_params);
my %srcsql = (driver => 'sqlite3', params => $srcdb);
my %dstsql = (driver => $dst_driver, params => $dst_params);
my ($rc, $out, $err);

sub rows {
    my ($table, %o) = @_;
    my ($n) = store_sql("SELECT COUNT(*) FROM $table", %o) =~ /(\d+)/;
    return $n;
}

sub write_file {
    my ($name, $text) = @_;
    my $f = File::Spec->catfile($dir, $name);
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh $text;
    close $fh;
    return $f;
}

sub create {
    my (@args) = @_;
    my ($r, $o, $e) = htapikey(@src, '--json', 'create', @args);
    die "create failed ($r): $e" if $r;
    return $json->decode($o);
}

# The audit rows of a key, oldest first: "action fields" each.
sub trail {
    my ($store, $id) = @_;
    my ($r, $o, $e) = htapikey(@$store, '--json', 'log', $id);
    die "log failed ($r): $e" if $r;
    return join ' | ', map { "$_->{action} $_->{fields}" } @{ $json->decode($o) };
}

ok t_cmp((htapikey(@src, 'init'))[0], 0, 'init of the source store');
ok t_cmp((htapikey(@dst, 'init'))[0], 0, 'init of the target store');
ok t_cmp(store_sql('SELECT COUNT(*) FROM apikey_audit', %dstsql) =~ /^0\s*$/
         ? 1 : 0, 1, 'init made the target\'s empty apikey_audit');

# ---- 1. the audit trail: a row for every change, none for a refusal ----
my @keys;    # every key made, to look for in the stores' tables
my $ka = create('--owner', 'audit', '--name', 'first', '--scopes', 'x y');
push @keys, $ka->{key};
htapikey(@src, 'update', $ka->{id}, '--rate', '20/s', '--burst', '40',
         '--quota', '1000/day');
htapikey(@src, 'disable', $ka->{id});
htapikey(@src, 'enable', $ka->{id});
($rc, $out) = htapikey(@src, '--json', 'rotate', $ka->{id}, '--grace', '1h');
my $rot = $json->decode($out);
push @keys, $rot->{key};
ok t_cmp(trail(\@src, $ka->{id}),
         'create owner,scopes,name | update rate,burst,quota | disable status'
         . ' | enable status | rotate grace_until,replaced_by',
         'log ID: create, update, disable, enable and rotate, with the '
         . 'fields each set');
ok t_cmp(trail(\@src, $rot->{id}), qr/^create owner,scopes,status,.*name/,
         'the new key of a rotation: a create row');

# list: the rotated key is replaced, with the end of its grace.
($rc, $out) = htapikey(@src, 'list', '--owner', 'audit');
ok t_cmp($out, qr/^\Q$ka->{id}\E\s+audit\s+replaced \(grace until \d{4}-\d\d-\d\dT[\d:]{8}Z\)\s/m,
         'list: a rotated key shows as replaced (grace until TIME)');
ok t_cmp($out, qr/^\Q$rot->{id}\E\s+audit\s+active\s/m,
         'and its replacement as active');
($rc, $out) = htapikey(@src, '--json', 'list', '--owner', 'audit');
my %byid = map { $_->{id} => $_ } @{ $json->decode($out) };
ok t_cmp(join(' ', map { $byid{$ka->{id}}{$_} // 'null' }
                   qw(status state replaced_by)),
         "active replaced $rot->{id}",
         'list --json: status as stored, state replaced, replaced_by');
ok t_cmp($byid{$rot->{id}}{state}, 'active', 'state of a plain key: its status');

my $kb = create('--owner', 'audit');
push @keys, $kb->{key};
htapikey(@src, 'revoke', $kb->{id});
my $kc = create('--owner', 'audit');
push @keys, $kc->{key};
htapikey(@src, 'delete', $kc->{id});
ok t_cmp(trail(\@src, $kb->{id}), 'create owner,scopes | revoke status',
         'revoke: its row');
ok t_cmp(trail(\@src, $kc->{id}), 'create owner,scopes | delete ',
         'delete: its row, which outlives the key');

# Who: the OS user (and SUDO_USER), the host.
my $me = getpwuid($>) // "uid $>";
($rc, $out) = htapikey(@src, '--json', 'log', $kc->{id});
my $last = $json->decode($out)->[-1];
ok t_cmp($last->{os_user}, $me, 'the row names the OS user');
ok t_cmp($last->{host} ne '' ? 1 : 0, 1, 'and a host');
ok t_cmp($last->{time}, qr/^\d{4}-\d\d-\d\dT[\d:]{8}Z$/, 'and when');
{
    local $ENV{SUDO_USER} = 'alice';
    htapikey(@src, 'update', $rot->{id}, '--name', 'sudo');
}
($rc, $out) = htapikey(@src, '--json', 'log', $rot->{id}, '--limit', '1');
my $sudo = $json->decode($out);
ok t_cmp(scalar(@$sudo), 1, 'log --limit 1: one row');
ok t_cmp("$sudo->[0]{action} $sudo->[0]{os_user}", "update $me (sudo: alice)",
         'the newest, naming the sudo user too');
($rc, $out) = htapikey(@src, 'log');
ok t_cmp(scalar(() = $out =~ /\n/g), rows('apikey_audit', %srcsql),
         'log: a line a row');
ok t_cmp($out, qr/^\S+Z  update   \Q$rot->{id}\E  by \Q$me\E \(sudo: alice\) on \S+: name$/m,
         'a text line: time, action, key, who, where, fields');

# Refusals and changes that find nothing write no row.
my $n = rows('apikey_audit', %srcsql);
($rc) = htapikey(@src, 'update', 'NoSuchKey', '--name', 'x');
ok t_cmp($rc, 3, 'update of an unknown key: exit 3');
($rc) = htapikey(@src, 'enable', $kb->{id});
ok t_cmp($rc, 2, 'enable of a revoked key: exit 2');
($rc) = htapikey(@src, 'create', '--owner', 'x', '--rate', 'fast');
ok t_cmp($rc, 2, 'a bad --rate: exit 2');
ok t_cmp(rows('apikey_audit', %srcsql), $n, 'and none of them wrote a row');
($rc, $out, $err) = htapikey(@src, 'log', '--limit', '0');
ok t_cmp("$rc $err", qr/^2 .*--limit '0'/, 'log --limit 0: exit 2, named');
($rc, $out, $err) = htapikey(@src, 'list', '--limit', '3');
ok t_cmp("$rc $err", qr/^2 .*does not take --limit/, 'list --limit: exit 2');

# ---- 2. create --count ----
my $before = rows('apikey', %srcsql);
($rc, $out, $err) = htapikey(@src, 'create', '--owner', 'bulk', '--scopes',
                             'b', '--bandwidth', '512KiB/s', '--count', '5');
ok t_cmp($rc, 0, 'create --count 5');
my @bulk = map { $json->decode($_) } split /\n/, $out;
ok t_cmp(scalar(@bulk), 5, 'five JSON lines');
my %distinct = map { $_->{key} => 1 } @bulk;
ok t_cmp(scalar(keys %distinct), 5, 'of five distinct keys');
ok t_cmp(scalar(grep { $_->{key} =~ /^ak_\w{38}$/ && $_->{id} =~ /^\w{12}$/
                       && $_->{owner} eq 'bulk' && $_->{scopes} eq 'b' } @bulk),
         5, 'each with its id, key, owner and scopes');
ok t_cmp(rows('apikey', %srcsql), $before + 5, 'five rows more in the store');
ok t_cmp(trail(\@src, $bulk[4]{id}), 'create owner,scopes,bandwidth',
         'each with its audit row');
push @keys, map { $_->{key} } @bulk;
for my $bad ('0', '10001', 'x', '') {
    ($rc, $out, $err) = htapikey(@src, 'create', '--owner', 'bulk',
                                 '--count', $bad);
    ok t_cmp("$rc $out", '2 ', "--count '$bad': exit 2, no key");
}
($rc, $out) = htapikey(@src, 'create', '--owner', "a\nb", '--count', '2');
ok t_cmp("$rc $out", '2 ', '--count with a bad owner: exit 2, no key');
($rc, $out, $err) = htapikey(@src, 'list', '--count', '2');
ok t_cmp($rc, 2, 'list --count: exit 2');
ok t_cmp(rows('apikey', %srcsql), $before + 5, 'the refusals wrote nothing');

# ---- 3. export, then import into the target ----
($rc, $out, $err) = htapikey(@src, 'export');
ok t_cmp($rc, 0, 'export');
my $export = $out;
my @records = map { $json->decode($_) } split /\n/, $export;
ok t_cmp(scalar(@records), rows('apikey', %srcsql), 'a line a key');
my @cols = sort keys %{ $records[0] };
my @schema_cols = sort map { /^\s*X\((\w+),/ ? $1 : () }
    split /\n/, ApiKeyTest::read_file(File::Spec->catfile(top_dir(), 'src',
                                      'core', 'apikey_record.h'));
ok t_cmp("@cols", "@schema_cols", 'every column of the key record\'s list');
my %digest = map { $_->{id} => $_->{digest} } @records;
ok t_cmp($digest{$ka->{id}}, sha256_hex($ka->{key}),
         'with the digest (never the key)');
ok t_cmp(scalar(grep { index($export, $_) >= 0 } @keys), 0,
         'no key anywhere in the export');

my $f = write_file('export.jsonl', $export);
$before = rows('apikey', %dstsql);
($rc, $out, $err) = htapikey(@dst, 'import', $f);
ok t_cmp("$rc $err", '0 ', 'import into the target');
ok t_cmp($out, "Imported " . scalar(@records) . " keys.\n", 'says how many');
($rc, $out) = htapikey(@dst, 'export');
ok t_cmp(join("\n", sort split /\n/, $out), join("\n", sort split /\n/, $export),
         'the target exports what the source did, column for column');
($rc, $out) = htapikey(@dst, '--json', 'show', $bulk[0]{id});
ok t_cmp($json->decode($out)->{bandwidth}, '512KiB/s',
         'a key\'s bandwidth comes along');
ok t_cmp(trail(\@dst, $ka->{id}), qr/^import owner,scopes,status,/,
         'an audit row "import" a key in the target');
($rc, $out, $err) = htapikey(@dst, 'import', $f);
ok t_cmp("$rc $err", qr/^2 .*export\.jsonl:1: key id '\w+' is already in the store/,
         'importing again: exit 2, line 1 named');

# ---- 4. a bad line in the middle: nothing written ----
my @fresh = map { { %$_ } } @records[0 .. 2];
for my $i (0 .. 2) {
    $fresh[$i]{id} = "Fresh$i";
    $fresh[$i]{digest} = sha256_hex("fresh-$i-$$");
}
my $good = join '', map { $json->encode($_) . "\n" } @fresh;
my @bad = (
    ['{"id":"Broken",', 'not a JSON object'],
    [$json->encode({ %{ $fresh[1] }, status => 'frozen' }), "field status 'frozen'"],
    [$json->encode({ %{ $fresh[1] }, colour => 'red' }), "unknown field 'colour'"],
    [$json->encode({ %{ $fresh[1] }, digest => 'ABC' }), 'field digest'],
    [$json->encode({ %{ $fresh[1] }, owner => "a\x01b" }), 'owner contains a control character'],
    [$json->encode({ %{ $fresh[1] }, rate => 'fast' }), "rate 'fast'"],
    [$json->encode({ %{ $fresh[1] }, bandwidth => '5 fast' }), "bandwidth '5 fast'"],
    [$json->encode({ %{ $fresh[1] }, expires => '2027-01-01' }), 'field expires: expected an integer'],
    [$json->encode({ %{ $fresh[1] }, id => 'Fresh0' }), "key id 'Fresh0' is already on line 1"],
    [$json->encode({ %{ $fresh[1] }, digest => $fresh[0]{digest} }), 'the same key (digest) as line 1'],
    [$json->encode({ %{ $fresh[1] }, id => $ka->{id} }), 'already in the store'],
);
my ($nkeys, $naudit) = (rows('apikey', %dstsql), rows('apikey_audit', %dstsql));
my @wrong;
for my $bl (@bad) {
    my @l = split /\n/, $good;
    $l[1] = $bl->[0];
    my $bf = write_file('bad.jsonl', join("\n", @l) . "\n");
    ($rc, $out, $err) = htapikey(@dst, 'import', $bf);
    push @wrong, $bl->[1]
        unless $rc == 2 && $err =~ /bad\.jsonl:2: .*\Q$bl->[1]\E.*nothing was written/
            && $out eq '';
}
ok t_cmp("@wrong", '', 'every bad line 2: exit 2, its number and why named');
ok t_cmp(rows('apikey', %dstsql) . ' ' . rows('apikey_audit', %dstsql),
         "$nkeys $naudit", 'and neither a key nor an audit row written');
# The good lines are good: the same file without the bad one goes in.
($rc, $out, $err) = htapikey(@dst, 'import', write_file('good.jsonl', $good));
ok t_cmp("$rc $out", "0 Imported 3 keys.\n", 'the good lines alone: imported');
($rc, $out, $err) = htapikey(@dst, 'import', File::Spec->catfile($dir, 'none'));
ok t_cmp("$rc $err", qr/^2 .*cannot open .*none/, 'a missing file: exit 2');
($rc, $out, $err) = htapikey(@dst, 'import');
ok t_cmp($rc, 2, 'import without FILE: exit 2');

# export | import -, through standard input.
my ($pipe_driver, $pipe_params) = scratch_store();
my $bin = File::Spec->catfile(top_dir(), 'htapikey');
htapikey('-d', $pipe_driver, '-p', $pipe_params, 'init');
my $q = sub { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" };
system("$bin -d sqlite3 -p " . $q->($srcdb) . " export | $bin -d $pipe_driver -p "
       . $q->($pipe_params) . " import - >/dev/null");
ok t_cmp($? >> 8, 0, 'export | import -: standard input');
ok t_cmp(rows('apikey', driver => $pipe_driver, params => $pipe_params),
         scalar(@records), 'every key arrived');
drop_store($pipe_driver, $pipe_params);

# ---- 5. import --plaintext: legacy keys in clear ----
my @legacy = ("legacy-$$-alpha-0123456789", "LEGACY.$$.beta/xyz=",
              "legacy-$$-gamma");
push @keys, @legacy;
my $plain = write_file('legacy.txt',
    "$legacy[0]\n\n  $legacy[1]\r\n"
    . $json->encode({ key => $legacy[2], owner => 'gamma co',
                      scopes => ['orders:read', 'orders:write'],
                      id => "Gamma$$" }) . "\n");
($rc, $out, $err) = htapikey(@dst, 'import', '--plaintext', $plain,
                             '--owner', 'legacy', '--scopes', 'legacy');
ok t_cmp("$rc $err", '0 ', 'import --plaintext');
ok t_cmp($out, qr/\Aline 1: \w{12}\nline 3: \w{12}\nline 4: Gamma$$\nImported 3 keys\.\n\z/,
         'prints the id each line got, and nothing else');
ok t_cmp(scalar(grep { index("$out$err", $_) >= 0 } @legacy), 0,
         'never a key');
($rc, $out) = htapikey(@dst, '--json', 'show', "Gamma$$");
my $g = $json->decode($out);
ok t_cmp("$g->{owner}|$g->{scopes}", 'gamma co|orders:read orders:write',
         'a JSON line\'s owner and scopes');
my ($l1) = (htapikey(@dst, '--json', 'list', '--owner', 'legacy'))[1];
ok t_cmp(join(' ', sort map { $_->{scopes} } @{ $json->decode($l1) }),
         'legacy legacy', 'the others: --owner and --scopes');
ok t_cmp(store_sql("SELECT COUNT(*) FROM apikey WHERE digest IN ('"
                   . join("','", map { sha256_hex($_) } @legacy) . "')",
                   %dstsql) =~ /^3\s*$/ ? 1 : 0, 1,
         'stored as their SHA-256 digests');

($nkeys, $naudit) = (rows('apikey', %dstsql), rows('apikey_audit', %dstsql));
my $secret = "secret-$$-with a blank";
($rc, $out, $err) = htapikey(@dst, 'import', '--plaintext', '--owner', 'x',
                             write_file('p2.txt', "ok-$$-1\n$secret\nok-$$-2\n"));
ok t_cmp("$rc $out", '2 ', 'a key with a blank on line 2: exit 2');
ok t_cmp($err, qr/p2\.txt:2: not a key/, 'names line 2');
ok t_cmp(index($err, 'secret') < 0 ? 1 : 0, 1, 'and not the key');
($rc, $out, $err) = htapikey(@dst, 'import', '--plaintext', '--owner', 'x',
                             write_file('p3.txt', "dup-$$\nother-$$\ndup-$$\n"));
ok t_cmp("$rc $err", qr/^2 .*p3\.txt:3: the same key \(digest\) as line 1/,
         'a key given twice: exit 2, both lines named');
($rc, $out, $err) = htapikey(@dst, 'import', '--plaintext',
                             write_file('p4.txt', "no-owner-$$\n"));
ok t_cmp("$rc $err", qr/^2 .*p4\.txt:1: no owner/, 'no owner: exit 2');
($rc, $out, $err) = htapikey(@dst, 'import', '--plaintext', '--owner', 'x',
                             write_file('p5.txt', "$legacy[0]\n"));
ok t_cmp("$rc $err", qr/^2 .*p5\.txt:1: the store holds that key/,
         'a key the store holds: exit 2');
ok t_cmp(rows('apikey', %dstsql) . ' ' . rows('apikey_audit', %dstsql),
         "$nkeys $naudit", 'none of them wrote anything');
($rc, $out, $err) = htapikey(@dst, 'import', $f, '--owner', 'x');
ok t_cmp($rc, 2, 'import of records takes no --owner');

# With --pepper: the HMAC-SHA-256 that AuthAPIKeyHash hmac-sha256 expects.
my $pepper = write_file('pepper', "pepper-$$-0123456789abcdef\n");
chmod 0600, $pepper;
my $hkey = "peppered-legacy-$$";
push @keys, $hkey;
($rc, $out, $err) = htapikey(@src, '--pepper', $pepper, 'import',
                             '--plaintext', '--owner', 'pep',
                             write_file('p6.txt', "$hkey\n"));
ok t_cmp("$rc $err", '0 ', 'import --plaintext --pepper');
my ($hid) = $out =~ /^line 1: (\w+)$/m;
$digest{$hid} = Digest::SHA::hmac_sha256_hex($hkey, "pepper-$$-0123456789abcdef");
ok t_cmp(store_sql("SELECT digest FROM apikey WHERE id = '$hid'", %srcsql)
         =~ /^(\w+)/ ? $1 : '', $digest{$hid},
         'stored as HMAC-SHA-256 keyed with the pepper');

# ---- 6. the target serves the keys ----
my $docs = Apache::Test::vars('t_logs') . '/srv-io/htdocs';
my $srv = ApiKeyServer->new(
    name => 'io', mpm => 'event', mpm_conf => "StartServers 1\n",
    ($dst_driver eq 'sqlite3' ? (db => $dst_params)
                              : (dbd_params => $dst_params)),
    conf => "<Location /legacy>\n    AuthAPIKeyFormat any\n</Location>\n");
make_path("$docs/legacy");
write_file('../srv-io/htdocs/legacy/index.txt', "ok\n");
ok $srv->start;
my $ua = LWP::UserAgent->new(timeout => 60);
my $code = sub {
    my ($path, $k) = @_;
    return $ua->get($srv->url($path), 'X-API-Key' => $k)->code;
};
ok t_cmp($code->('/index.txt', $rot->{key}), 200,
         'a key made in the source authenticates against the target');
ok t_cmp($code->('/index.txt', $bulk[0]{key}), 200, 'one of create --count\'s too');
ok t_cmp($code->('/index.txt', $kb->{key}), 401, 'a revoked one stays revoked');
ok t_cmp(join(' ', map { $code->('/legacy/index.txt', $_) } @legacy),
         '200 200 200', 'the legacy keys, under AuthAPIKeyFormat any');
ok t_cmp($code->('/index.txt', $legacy[0]), 401,
         'and not where keys need their checksum');
$srv->stop;

# ---- 7. no key and no digest in any audit row ----
my $dump = store_sql('SELECT * FROM apikey_audit', %srcsql)
         . store_sql('SELECT * FROM apikey_audit', %dstsql);
my @digests = (values %digest, map { sha256_hex($_) } @keys);
ok t_cmp(scalar(grep { index($dump, $_) >= 0 } @keys, @digests), 0,
         'the audit tables hold no key and no digest');
ok t_cmp(scalar(() = $dump =~ /\n/g) >= rows('apikey_audit', %srcsql) ? 1 : 0,
         1, 'and the dump looked at every row');

# ---- 8. a store without apikey_audit (not yet upgraded) ----
store_sql('DROP TABLE apikey_audit', %srcsql);
($rc, $out, $err) = htapikey(@src, 'disable', $rot->{id});
ok t_cmp($rc, 1, 'no apikey_audit: a change fails, exit 1');
ok t_cmp($err, qr/cannot write the audit row .*'htapikey init'/,
         'and says to run htapikey init');
($rc, $out) = htapikey(@src, '--json', 'show', $rot->{id});
ok t_cmp($json->decode($out)->{status}, 'active', 'the change was undone');
ok t_cmp((htapikey(@src, 'init'))[0], 0, 'init adds the table');
ok t_cmp((htapikey(@src, 'disable', $rot->{id}))[0], 0, 'and the change works');

drop_store($dst_driver, $dst_params);
remove_tree($dir);
