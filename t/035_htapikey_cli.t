# htapikey's own interface, run for real against SQLite stores of its own:
# --version, help, list's table and TSV, the refusal of owners and names
# that are not UTF-8, plain messages for a missing or unwritable directory,
# and a misspelt or missing DBD driver named with its Debian package.
# Every refusal must leave the store as it was.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Path qw(make_path remove_tree);
use File::Spec;
use JSON::PP ();
use ApiKeyTest qw(htapikey top_dir store_sql read_file);

plan tests => 80, need_module('authn_apikey');

my $dir = File::Spec->catdir(Apache::Test::vars('t_logs'), "cli-$$");
remove_tree($dir);
make_path($dir);
my $db = File::Spec->catfile($dir, 'keys.db');
my @s = ('-d', 'sqlite3', '-p', $db);
my ($rc, $out, $err);

# ---- 1. --version and help ----
my ($version) = read_file(File::Spec->catfile(top_dir(), 'src', 'core',
                                              'apikey_version.h'))
    =~ /^#define APIKEY_VERSION "([^"]+)"/m;
($rc, $out, $err) = htapikey('--version');
ok t_cmp($rc, 0, '--version exits 0');
ok t_cmp($out, "htapikey $version (mod_authn_apikey)\n",
         '--version prints APIKEY_VERSION');
my ($usage) = (htapikey('--help'))[1];
($rc, $out) = htapikey('help');
ok t_cmp($rc, 0, 'help exits 0');
ok t_cmp($out, $usage, 'help alone prints what --help does');
my @commands = qw(init create update rotate list show revoke disable enable
                  log export import
                  delete help);
my @bad;
for my $c (@commands) {
    my ($r, $o) = htapikey('help', $c);
    push @bad, $c unless $r == 0 && $o =~ /^Usage: htapikey .*\b\Q$c\E\b/
                          && $o =~ /\nExample:\n  htapikey /;
}
ok t_cmp("@bad", '', 'help COMMAND: usage and an example for every command');
ok t_cmp(join(' ', grep { $usage !~ /^  \Q$_\E\b|\| \Q$_\E\b/m } @commands),
         '', 'and every command is in --help');
($rc, $out) = htapikey('help', 'create');
ok t_cmp($out, qr/--owner OWNER.*--scopes.*--rate.*--prefix/s,
         'help create lists its options');
ok t_cmp((htapikey('create', '--help'))[1], $out,
         'create --help prints the same');
($rc, $out, $err) = htapikey('help', 'frobnicate');
ok t_cmp($rc, 2, 'help of an unknown command exits 2');
ok t_cmp($err, qr/unknown command 'frobnicate'/, 'and says so');
ok t_cmp($out, '', 'and prints no help');
($rc, $out, $err) = htapikey('frobnicate', '--help');
ok t_cmp($rc, 2, 'frobnicate --help: exit 2 too');
($rc, $out, $err) = htapikey('help', 'create', 'list');
ok t_cmp($rc, 2, 'help takes one command');

# ---- 2. list: a table sized to its rows, TSV, JSON ----
($rc) = htapikey(@s, 'init');
ok t_cmp($rc, 0, 'init of a scratch store');
my %made;
for my $k (['Jürgen Müller-Lüdenscheid GmbH & Co. KG', 'invoice sync, nightly',
            'orders:read invoices:write'],
           ['b', undef, ''],
           ['日本語の所有者', '名前', 'a'],
           ['x' x 120, 'y' x 80, 'long:scope']) {
    my @a = (@s, '--json', 'create', '--owner', $k->[0],
             '--scopes', $k->[2]);
    push @a, '--name', $k->[1] if defined $k->[1];
    my ($r, $o, $e) = htapikey(@a);
    die "create: $e" if $r;
    my ($id) = $o =~ /"id":"([^"]+)"/;
    $made{$id} = $k;
}
ok t_cmp(scalar(keys %made), 4, 'four keys with long, spaced and wide '
         . 'owners and names');

# The columns a terminal shows: East Asian characters take two.
sub cols {
    my $s = shift;
    utf8::decode($s);
    $s =~ s/[\x{1100}-\x{115f}\x{2e80}-\x{a4cf}\x{ac00}-\x{d7a3}\x{ff00}-\x{ff60}]/##/g;
    return $s;
}
($rc, $out) = htapikey(@s, 'list');
ok t_cmp($rc, 0, 'list exits 0');
my @lines = map { cols($_) } split /\n/, $out;
ok t_cmp(scalar(@lines), 5, 'a header and a line a key');
my $head = shift @lines;
my @heads = qw(OWNER STATUS EXPIRES NAME SCOPES);
my %at = map { $_ => index($head, $_) } @heads;
ok t_cmp(join(' ', map { $at{$_} > 0 ? 1 : 0 } @heads), '1 1 1 1 1',
         'the header names every column');
my @misaligned;
for my $l (@lines) {
    my ($id) = $l =~ /^(\S+)/;
    my $k = $made{$id} or next;
    my $name = cols($k->[1] // '-');
    my $owner = cols($k->[0]);
    my $scopes = $k->[2] eq '' ? '-' : $k->[2];
    push @misaligned, $id
        unless substr($l, $at{OWNER}, length $owner) eq $owner
            && substr($l, $at{STATUS}, 6) eq 'active'
            && substr($l, $at{EXPIRES}, 5) eq 'never'
            && substr($l, $at{NAME}, length $name) eq $name
            && substr($l, $at{SCOPES}) eq $scopes;
}
ok t_cmp("@misaligned", '', 'every value starts under its header, however '
         . 'long or wide the owners and names');
ok t_cmp(scalar(grep { /\s$/ } split /\n/, $out), 0, 'no trailing blanks');

($rc, $out) = htapikey(@s, 'list', '--format', 'tsv');
ok t_cmp($rc, 0, 'list --format tsv exits 0');
@lines = split /\n/, $out, -1;
pop @lines;
my @fields = qw(id owner name scopes status created updated expires
                not_before allow_ip allow_referer allow_method rate burst
                quota grace_until replaced_by bandwidth allow_android
                allow_ios allow_cert);
ok t_cmp(shift(@lines), join("\t", @fields),
         'tsv: a header of the JSON field names');
ok t_cmp(scalar(@lines), 4, 'tsv: a line a key');
ok t_cmp(join(' ', map { scalar(my @f = split /\t/, $_, -1) } @lines),
         '21 21 21 21', 'tsv: every line has every field');
my ($jp) = grep { /^\S+\tJürgen/ } @lines;
ok t_cmp((split /\t/, $jp, -1)[2], 'invoice sync, nightly',
         'tsv: a value with blanks and commas as it is');
ok t_cmp((split /\t/, (grep { /^\S+\tb\t/ } @lines)[0], -1)[2], '',
         'tsv: null as an empty field');

# A value written by another tool with a tab, a newline and a backslash.
my ($odd) = grep { $made{$_}[0] eq 'b' } keys %made;
store_sql("UPDATE apikey SET name = 'a' || char(9) || 'b' || char(10) "
          . "|| 'c\\d' WHERE id = '$odd'", driver => 'sqlite3',
          params => $db);
($rc, $out) = htapikey(@s, 'list', '--format', 'tsv');
ok t_cmp(scalar(() = $out =~ /\n/g), 5, 'tsv: still a line a key');
ok t_cmp($out, qr/^\Q$odd\E\tb\ta\\tb\\nc\\\\d\t/m,
         'tsv: tab, newline and backslash escaped as \\t \\n \\\\');
($rc, $out) = htapikey(@s, 'show', $odd, '--format', 'tsv');
ok t_cmp($out, qr/\Aid\towner\t.*\n\Q$odd\E\tb\ta\\tb\\nc/,
         'show --format tsv: the header and the key');
($rc, $out) = htapikey(@s, 'list');
ok t_cmp(scalar(() = $out =~ /\n/g), 5, 'text: still a line a key');
ok t_cmp($out, qr/^\Q$odd\E\s+b\s+active\s+never\s+a\\x09b\\x0ac\\d\s/m,
         'text: control characters shown as \\xNN');

($rc, $out) = htapikey(@s, '--json', 'list');
my $list = eval { JSON::PP->new->utf8->decode($out) };
ok t_cmp(ref $list, 'ARRAY', '--json list is still a JSON array');
ok t_cmp(join(' ', sort map { $_->{id} } @$list), join(' ', sort keys %made),
         'of every key');
($rc, $out) = htapikey(@s, 'list', '--format', 'json');
ok t_cmp(ref(eval { JSON::PP->new->utf8->decode($out) }), 'ARRAY',
         '--format json is --json');
my $before = (htapikey(@s, '--json', 'list'))[1];

($rc, $out, $err) = htapikey(@s, 'list', '--format', 'csv');
ok t_cmp($rc, 2, '--format csv: usage error');
ok t_cmp($err, qr/--format 'csv': expected text, tsv or json/,
         'and names the formats');
($rc, $out, $err) = htapikey(@s, '--json', 'list', '--format', 'tsv');
ok t_cmp($rc, 2, '--json with --format tsv: usage error');
($rc, $out, $err) = htapikey(@s, 'create', '--owner', 'x', '--format', 'tsv');
ok t_cmp($rc, 2, 'create --format tsv: usage error');
ok t_cmp($out, '', 'and no key');

# ---- 3. owners, names and scopes: UTF-8, no control characters ----
my @refused = (
    ['--owner', "\xff", 'not valid UTF-8', 'a byte that is never UTF-8'],
    ['--owner', "ab\xc3", 'not valid UTF-8', 'a sequence cut short'],
    ['--owner', "\xc0\xaf", 'not valid UTF-8', 'an overlong form'],
    ['--name', "\xed\xa0\x80", 'not valid UTF-8', 'a surrogate'],
    ['--name', "\xf4\x90\x80\x80", 'not valid UTF-8', 'past U+10FFFF'],
    ['--owner', "a\nb", 'control character', 'a newline'],
    ['--name', "a\x7fb", 'control character', 'DEL'],
    ['--owner', "a\xc2\x85b", 'control character', 'C1 (U+0085)'],
    ['--scopes', "caf\xc3\xa9", 'printable ASCII', 'a scope not ASCII'],
    ['--scopes', "a\xff", 'printable ASCII', 'a scope not UTF-8'],
);
for my $r (@refused) {
    my ($opt, $v, $why, $what) = @$r;
    my @a = (@s, '--json', 'create');
    push @a, '--owner', 'ok' unless $opt eq '--owner';
    ($rc, $out, $err) = htapikey(@a, $opt, $v);
    ok t_cmp("$rc $out", '2 ', "create $opt with $what: exit 2, no key");
    ok t_cmp($err, qr/\Q$opt\E.*\Q$why\E/, "and the message names $opt");
}
($rc, $out, $err) = htapikey(@s, 'update', $odd, '--name', "\xe2\x82");
ok t_cmp($rc, 2, 'update --name with a cut-short sequence: exit 2');
ok t_cmp($err, qr/--name is not valid UTF-8/, 'and says why');
($rc, $out, $err) = htapikey(@s, 'update', $odd, '--owner', "x\ty");
ok t_cmp($rc, 2, 'update --owner with a tab: exit 2');
ok t_cmp((htapikey(@s, '--json', 'list'))[1], $before,
         'refused creates and updates changed nothing');
($rc, $out) = htapikey(@s, '--json', 'create', '--owner', "Zoë \xe2\x82\xac",
                       '--name', "\xf0\x9f\x94\x91 key");
ok t_cmp($rc, 0, 'well-formed UTF-8 of 2, 3 and 4 bytes is taken');
ok t_cmp(eval { JSON::PP->new->utf8->decode($out)->{owner} }, "Zo\x{eb} \x{20ac}",
         'and its --json is valid JSON with the owner as given');

# ---- 4. init: a missing or unwritable directory, said plainly ----
my $nodir = File::Spec->catdir($dir, 'no', 'such');
($rc, $out, $err) = htapikey('-d', 'sqlite3', '-p', "$nodir/keys.db", 'init');
ok t_cmp($rc, 1, 'init into a missing directory exits 1');
ok t_cmp($err, qr/directory \Q$nodir\E does not exist: create it first, e\.g\. install -d .*\Q$nodir\E$/m,
         'and says to create it, and how');
ok t_cmp((-e "$nodir/keys.db" ? 1 : 0), 0, 'and creates nothing');
($rc, $out, $err) = htapikey('-d', 'sqlite3', '-p', "$db/keys.db", 'init');
ok t_cmp($err, qr/\Q$db\E is not a directory/,
         'a file where the directory should be: said so');
if ($> == 0) {
    skip 'root writes in any directory' for 1..4;
}
else {
    my $ro = File::Spec->catdir($dir, 'ro');
    make_path($ro);
    htapikey('-d', 'sqlite3', '-p', "$ro/keys.db", 'init');
    chmod 0555, $ro;
    ($rc, $out, $err) = htapikey('-d', 'sqlite3', '-p', "$ro/new.db", 'init');
    ok t_cmp($rc, 1, 'init into a directory this user cannot write: exit 1');
    ok t_cmp($err, qr/directory \Q$ro\E is not writable by this user/,
             'and says so, not SQLite\'s "unable to open database file"');
    ($rc, $out, $err) = htapikey('-d', 'sqlite3', '-p', "$ro/keys.db",
                                 'create', '--owner', 'x');
    ok t_cmp("$rc $out", '1 ', 'create in it: exit 1, no key');
    ($rc, $out, $err) = htapikey('-d', 'sqlite3', '-p', "$ro/keys.db", 'list');
    ok t_cmp($rc, 0, 'list, which only reads, still works there');
    chmod 0755, $ro;
}

# ---- 5. drivers: a misspelt one, and one whose package is missing ----
for my $d (['sqlite', 'sqlite3'], ['postgres', 'pgsql'],
           ['PostgreSQL', 'pgsql'], ['mariadb', 'mysql'],
           ['MySQL', 'mysql']) {
    ($rc, $out, $err) = htapikey('-d', $d->[0], '-p', $db, 'list');
    ok t_cmp("$rc $err", qr/^1 .*did you mean $d->[1]\? \(package libaprutil1-dbd-$d->[1]\)/,
             "-d $d->[0]: did you mean $d->[1], and its package");
}
($rc, $out, $err) = htapikey('-d', 'nosuchdb', '-p', $db, 'list');
ok t_cmp("$rc $err", qr/^1 .*no APR DBD driver 'nosuchdb': APR's drivers are sqlite3, pgsql, mysql, odbc/,
         'an unknown driver: the drivers APR has');
my @odbc = glob('/usr/lib/*/apr-util-1/apr_dbd_odbc*.so /usr/lib/apr-util-1/apr_dbd_odbc*.so');
if (@odbc) {
    skip 'the odbc driver is installed here' for 1;
}
else {
    ($rc, $out, $err) = htapikey('-d', 'odbc', '-p', 'DSN=x', 'list');
    ok t_cmp("$rc $err", qr/^1 .*driver 'odbc' is not installed \(on Debian, install libaprutil1-dbd-odbc\)/,
             'a right name whose package is missing: the package');
}

remove_tree($dir);
