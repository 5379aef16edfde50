# htapikey rotate: a new key with the old one's settings; both work during
# the grace period, the old one's responses saying it is being replaced;
# only the new one after it.
#
# The grace period is real time, so the checks made during one use a grace
# of an hour, which no slow machine outlasts, and the check after one waits
# until a grace of 2 s has run out by the clock, however long that takes.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key htapikey store_sql);

plan tests => 20, need(need_module('authn_apikey', 'dbd'), need_lwp);

# A key's grace_until (seconds since the epoch) as the store holds it.
sub grace_until {
    my $id = shift;
    my ($v) = store_sql("SELECT grace_until FROM apikey WHERE id = '$id'")
              =~ /(\d+)/;
    return $v;
}

my $url = '/authn/index.txt';
my $old = create_key(owner => 'rot', scopes => 'x y',
                     'allow-method' => 'GET,HEAD');

my $t0 = time;
my ($rc, $out, $err) = htapikey('--json', 'rotate', $old->{id},
                                '--grace', '1h');
my $t1 = time;
ok t_cmp($rc, 0, 'rotate --grace 1h');
my ($new_id)  = $out =~ /"id":"([^"]+)"/;
my ($new_key) = $out =~ /"key":"([^"]+)"/;
ok t_cmp($out, qr/"replaces":"\Q$old->{id}\E"/, 'names the key it replaces');
my $until = grace_until($old->{id}) // -1;
ok t_cmp($until >= int($t0) + 3600 && $until <= int($t1) + 3600 ? 1 : 0, 1,
         "the old key's grace ends an hour after the rotation ($until, "
         . 'rotated at ' . int($t0) . ')');

# A second key rotated with a short grace, for after it ends.
my $short = create_key(owner => 'rot-short');
($rc, $out) = htapikey('--json', 'rotate', $short->{id}, '--grace', '2s');
my ($short_new) = $out =~ /"key":"([^"]+)"/;
my $short_until = grace_until($short->{id});
die "rotate --grace 2s: $out" unless $rc == 0 && $short_new && $short_until;

($rc, $out) = htapikey('--json', 'show', $new_id);
ok t_cmp($out, qr/"owner":"rot".*"scopes":"x y".*"allow_method":"GET,HEAD"/,
         'the new key has the old one\'s settings');
($rc, $out) = htapikey('--json', 'show', $old->{id});
ok t_cmp($out, qr/"replaced_by":"\Q$new_id\E"/, 'the old key says by which');

my $r = GET $url, 'X-API-Key' => $old->{key};
ok t_cmp($r->code, 200, 'during the grace period: the old key works');
ok t_cmp($r->header('API-Key-Rotation'),
         qr/^replaced-by="\Q$new_id\E", sunset="\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT"$/,
         'and its responses carry API-Key-Rotation');
$r = GET $url, 'X-API-Key' => $new_key;
ok t_cmp($r->code, 200, 'the new key works');
ok t_cmp($r->header('API-Key-Rotation'), undef, 'without that header');
ok t_cmp((POST $url, 'X-API-Key' => $new_key, content => 'a')->code, 403,
         'and with the old one\'s restrictions (GET,HEAD only)');

# Both keys, one owner: many keys per owner; list shows the old one as
# replaced, with the end of its grace, not as plain active.
($rc, $out) = htapikey('list', '--owner', 'rot');
ok t_cmp(scalar(() = $out =~ /^\Q$new_id\E\s+rot\s+active\s/mg)
         + scalar(() = $out =~ /^\Q$old->{id}\E\s+rot\s+replaced \(grace until \d{4}-\d\d-\d\dT[\d:]{8}Z\)\s/mg),
         2, 'the owner has two keys: the new one active, the old one '
         . 'replaced (grace until TIME)');

# Refusals: rotating twice, a revoked key, no --grace.
($rc, $out, $err) = htapikey('rotate', $old->{id}, '--grace', '1h');
ok t_cmp($rc, 2, 'an already rotated key is not rotated again');
ok t_cmp($err, qr/already rotated into '\Q$new_id\E'/, 'and says into which');
($rc, $out, $err) = htapikey('rotate', $new_id);
ok t_cmp($err, qr/rotate needs --grace/, 'rotate needs --grace');
my $gone = create_key(owner => 'rot');
htapikey('revoke', $gone->{id});
($rc, $out, $err) = htapikey('rotate', $gone->{id}, '--grace', '1h');
ok t_cmp($rc, 2, 'a revoked key is not rotated');

# After the grace period: only the new key.  The server judges a request
# by the second it came in: once the clock reaches grace_until, the old
# key is over, whatever the time the steps above took.
my $left = $short_until - time;
sleep $left + 0.05 if $left > -0.05;
ok t_cmp((GET $url, 'X-API-Key' => $short->{key})->code, 401,
         'after the grace period (2 s): the old key is refused');
ok t_cmp((GET $url, 'X-API-Key' => $short_new)->code, 200,
         'the new key still works');

# --grace 0: the old key stops at once.
my $now = create_key(owner => 'rot0');
($rc, $out) = htapikey('--json', 'rotate', $now->{id}, '--grace', '0');
my ($now_new) = $out =~ /"key":"([^"]+)"/;
ok t_cmp((GET $url, 'X-API-Key' => $now->{key})->code, 401,
         '--grace 0: the old key stops at once');
ok t_cmp((GET $url, 'X-API-Key' => $now_new)->code, 200,
         '--grace 0: the new key works');
ok t_cmp($rc, 0, 'rotate --grace 0 exits 0');
