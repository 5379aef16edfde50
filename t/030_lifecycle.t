# A key's life through htapikey, seen by a running httpd: created, listed,
# disabled, enabled, revoked (for good), deleted; and htapikey's own
# refusals, which must leave the store untouched.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use File::Spec;
use ApiKeyTest qw(htapikey key_store);

plan tests => 35, need(need_module('authn_apikey', 'dbd'), need_lwp);

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
my $missing = File::Spec->catfile(File::Spec->tmpdir, "apikey-missing-$$.db");
($rc, $out, $err) = htapikey('-p', $missing, 'list');
ok t_cmp($rc, 1, 'list on a missing database exits 1');
ok t_cmp((-e $missing ? 1 : 0), 0, 'and creates no file');

# Without its change marker a store refuses changes (servers could not see
# them) and keeps none; init restores the marker.
my $scratch = File::Spec->catfile(Apache::Test::vars('t_logs'),
                                  "marker-$$.db");
htapikey('-p', $scratch, 'init');
system('sqlite3', $scratch, 'DELETE FROM apikey_meta') == 0
    or die 'sqlite3 failed';
($rc, $out, $err) = htapikey('-p', $scratch, '--json', 'create',
                             '--owner', 'm');
ok t_cmp($rc, 1, 'create without the change marker fails');
ok t_cmp($out, '', 'and prints no key');
ok t_cmp($err, qr/change marker/, 'and says why');
ok t_cmp((htapikey('-p', $scratch, '--json', 'list'))[1], "[]\n",
         'and leaves no row behind');
htapikey('-p', $scratch, 'init');
($rc) = htapikey('-p', $scratch, 'create', '--owner', 'm');
ok t_cmp($rc, 0, 'init restores the marker');
unlink $scratch;
