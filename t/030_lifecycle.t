# A key's life through htapikey, seen by a running httpd: created, listed,
# disabled, enabled, revoked (for good), deleted; and htapikey's own
# refusals, which must leave the store untouched.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use File::Spec;
use ApiKeyTest qw(htapikey key_store backend store_sql scratch_store
                  drop_store);

plan tests => 37, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $url = '/lifecycle/index.txt';
sub code_with { (GET $url, 'X-API-Key' => shift)->code }

my ($rc, $out, $err) = htapikey('--json', 'create', '--owner', 'lc-owner',
                                '--scopes', 'a, b', '--name', 'life cycle');
ok t_cmp($rc, 0, 'create exits 0');
my ($id)  = $out =~ /"id":"([^"]+)"/;
my ($key) = $out =~ /"key":"([^"]+)"/;
ok t_cmp((defined $id && defined $key ? 1 : 0), 1, 'create --json gives id and key');
ok t_cmp($out, qr/"scopes":"a b"/, 'scopes normalised to single spaces');
ok t_cmp(code_with($key), 200, 'a new key works at once');

# A change that leaves the row as it was is no error (MySQL counts the rows
# an UPDATE changed, not those it matched, unless told otherwise): three in
# a row, so that two fall within one second and change not even "updated".
my @rcs = map { (htapikey('enable', $id))[0] } 1..3;
ok t_cmp("@rcs", '0 0 0', 'enable of an active key, thrice: exit 0');
@rcs = map { (htapikey('update', $id, '--name', 'life cycle'))[0] } 1..3;
ok t_cmp("@rcs", '0 0 0', 'update to the same name, thrice: exit 0');

($rc, $out) = htapikey('list');
ok t_cmp($out, qr/^\Q$id\E\s+lc-owner\s+active/m, 'list shows the key');
ok t_cmp(($out =~ /\Q$key\E/ ? 1 : 0), 0, 'list never shows the key itself');
($rc, $out) = htapikey('--json', 'list', '--owner', 'lc-owner');
ok t_cmp($out, qr/^\[\{"id":"\Q$id\E".*"status":"active"/, 'list --json');

($rc, $out) = htapikey('show', $id);
ok t_cmp($out, qr/^name:\s+life cycle$/m, 'show prints the name');

($rc) = htapikey('disable', $id);
ok t_cmp($rc, 0, 'disable exits 0');
ok t_cmp(code_with($key), 401, 'a disabled key is refused');
($rc) = htapikey('enable', $id);
ok t_cmp(code_with($key), 200, 'an enabled key works again');

($rc, $out) = htapikey('revoke', $id);
ok t_cmp($rc, 0, 'revoke exits 0');
ok t_cmp(code_with($key), 401, 'a revoked key is refused');
($rc, $out, $err) = htapikey('enable', $id);
ok t_cmp($rc, 2, 'enable refuses a revoked key');
ok t_cmp($err, qr/revocation is final/, 'and says why');
ok t_cmp(code_with($key), 401, 'the revoked key stays refused');
($rc, $out) = htapikey('--json', 'show', $id);
ok t_cmp($out, qr/"status":"revoked"/, 'show --json: revoked');

($rc) = htapikey('delete', $id);
ok t_cmp($rc, 0, 'delete exits 0');
($rc, $out, $err) = htapikey('show', $id);
ok t_cmp($rc, 3, 'show of a deleted key exits 3');
ok t_cmp(code_with($key), 401, 'a deleted key is refused');

# Refusals: a message, a non-zero status and nothing written.
my ($before) = (htapikey('--json', 'list'))[1];
($rc, $out, $err) = htapikey('create');
ok t_cmp($rc, 2, 'create without --owner: usage error');
ok t_cmp($err, qr/--owner/, 'the message names --owner');
($rc, $out, $err) = htapikey('create', '--owner', 'x', '--expires', 'soon');
ok t_cmp($rc, 2, 'bad --expires: usage error');
ok t_cmp($out, '', 'no key printed on a refused create');
($rc, $out, $err) = htapikey('create', '--owner', 'x', '--expires',
                             '2001-01-01');
ok t_cmp($rc, 2, 'an expiry in the past is refused');
($rc, $out, $err) = htapikey('create', '--owner', "a\tb");
ok t_cmp($rc, 2, 'control characters in the owner are refused');
($rc, $out, $err) = htapikey('frobnicate');
ok t_cmp($rc, 2, 'unknown command: usage error');
ok t_cmp((htapikey('--json', 'list'))[1], $before,
         'refused commands changed nothing');

# A missing database is an error, not a new empty store.
if (backend() eq 'sqlite3') {
    my $missing = File::Spec->catfile(File::Spec->tmpdir,
                                      "apikey-missing-$$.db");
    ($rc, $out, $err) = htapikey('-p', $missing, 'list');
    ok t_cmp($rc, 1, 'list on a missing database exits 1');
    ok t_cmp((-e $missing ? 1 : 0), 0, 'and creates no file');
}
else {
    my $name = "apikey_missing_$$";
    (my $missing = key_store()) =~ s/\bdbname=\S+/dbname=$name/;
    ($rc, $out, $err) = htapikey('-d', backend(), '-p', $missing, 'list');
    ok t_cmp($rc, 1, 'list on a missing database exits 1');
    my $exists = backend() eq 'pgsql'
        ? "SELECT count(*) FROM pg_database WHERE datname = '$name'"
        : "SELECT count(*) FROM information_schema.schemata "
          . "WHERE schema_name = '$name'";
    ok t_cmp(store_sql($exists), "0\n", 'and creates no database');
}

# Without its change marker a store refuses changes (servers could not see
# them) and keeps none: the transaction is rolled back.  init restores the
# marker.
my ($drv, $scratch) = scratch_store();
my @scratch = ('-d', $drv, '-p', $scratch);
htapikey(@scratch, 'init');
store_sql('DELETE FROM apikey_meta', driver => $drv, params => $scratch);
($rc, $out, $err) = htapikey(@scratch, '--json', 'create', '--owner', 'm');
ok t_cmp($rc, 1, 'create without the change marker fails');
ok t_cmp($out, '', 'and prints no key');
ok t_cmp($err, qr/change marker/, 'and says why');
ok t_cmp((htapikey(@scratch, '--json', 'list'))[1], "[]\n",
         'and leaves no row behind');
htapikey(@scratch, 'init');
($rc) = htapikey(@scratch, 'create', '--owner', 'm');
ok t_cmp($rc, 0, 'init restores the marker');
drop_store($drv, $scratch);
