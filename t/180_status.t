# SetHandler apikey-status shows per-key usage from shared memory, as HTML
# and as JSON; and a full limit table fails closed (503, one log line).
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use JSON::PP ();
use ApiKeyTest qw(create_key htapikey insert_key);
use ApiKeyServer;

plan tests => 30, need(need_module('authn_apikey', 'dbd'), need_lwp,
                       { 'curl' => -x '/usr/bin/curl' });

my $k = create_key(owner => '<b>acme</b>', quota => '5/day',
                   rate => '10/s', burst => 20);
GET '/limits/index.txt', 'X-API-Key' => $k->{key} for 1..2;

my $r = GET '/apikey-status?format=json';
ok t_cmp($r->code, 200, 'the JSON page');
ok t_cmp($r->header('Content-Type'), qr{^application/json}, 'is JSON');
my $doc = eval { JSON::PP::decode_json($r->content) };
ok t_cmp(ref $doc, 'HASH', 'and parses') or diag($r->content);
my ($row) = grep { $_->{id} eq $k->{id} } @{ $doc->{keys} || [] };
ok t_cmp(ref $row, 'HASH', 'the key is listed');
ok t_cmp($row->{owner}, '<b>acme</b>', 'with its owner');
ok t_cmp("$row->{quota}{used} $row->{quota}{remaining} $row->{quota}{limit} "
         . "$row->{quota}{period}", '2 3 5 day', 'quota used, left, limit, period');
ok t_cmp($row->{quota}{reset} > 0 && $row->{quota}{reset} <= 86400 ? 1 : 0, 1,
         'the quota\'s reset is within a day');
ok t_cmp("$row->{rate}{burst} $row->{rate}{interval_ms}", '20 100',
         'the rate limit');
ok t_cmp($row->{rate}{remaining} >= 18 ? 1 : 0, 1, 'and what is left of the burst');

# The version, from its one place (src/core/apikey_version.h), everywhere
# an administrator looks for it.
my ($version) = ApiKeyTest::read_file(ApiKeyTest::top_dir()
                                      . '/src/core/apikey_version.h')
                =~ /#define APIKEY_VERSION "([^"]+)"/;
ok t_cmp($doc->{version} // 'none', $version, "the JSON names the version ($version)");
ok t_cmp(GET_BODY('/apikey-status?auto'), qr/^Version: \Q$version\E$/m,
         '?auto has a Version line');
ok t_cmp(GET_BODY('/apikey-status?format=prometheus'),
         qr/^apikey_build_info\{version="\Q$version\E"\} 1$/m,
         'Prometheus has apikey_build_info');
# httpd -X (the valgrind pass) never logs its "resuming normal operations".
if ($ENV{APIKEY_VALGRIND}) {
    skip('httpd -X logs no start-up line (AH00489)');
}
else {
    ok t_cmp(ApiKeyTest::read_file(Apache::Test::vars('t_logs') . '/error_log'),
             qr{AH00489: .*mod_authn_apikey/\Q$version\E}, 'the start-up line names it');
}

# Owners that are not valid UTF-8 as shown: a long one the slot cuts in
# the middle of a character (30 bytes of "\xc3\xa9"), and one with bytes
# that are no UTF-8 at all.  The JSON stays valid, U+FFFD in their place.
my $long = create_key(owner => "\xc3\xa9" x 20, quota => '5/day');
my $bad_id = "status-bad-$$";
my $bad = insert_key($bad_id, owner => "bad\xff\xfe", quota => '5/day');
GET '/limits/index.txt', 'X-API-Key' => $_ for $long->{key}, $bad;
$r = GET '/apikey-status?format=json';
$doc = eval { JSON::PP::decode_json($r->content) };
ok t_cmp(ref $doc, 'HASH', 'owners cut mid-character or not UTF-8: the JSON '
         . 'still parses') or diag($@);
my %owner = map { $_->{id} => $_->{owner} } @{ $doc->{keys} || [] };
ok t_cmp($owner{$long->{id}} // 'unlisted', qr/^\x{e9}+\x{fffd}?$/,
         'the cut owner: whole characters, the cut one U+FFFD');
ok t_cmp($owner{$bad_id} // 'unlisted', "bad\x{fffd}\x{fffd}",
         'the bytes that are no UTF-8: U+FFFD each');
my ($rc, $out) = htapikey('--json', 'show', $bad_id);
my $shown = eval { JSON::PP::decode_json($out) };
ok t_cmp(ref $shown eq 'HASH' ? $shown->{owner} : "not JSON: $out",
         "bad\x{fffd}\x{fffd}", 'htapikey --json writes it so too');

$r = GET '/apikey-status';
ok t_cmp($r->header('Content-Type'), qr{^text/html}, 'the HTML page');
ok t_cmp(index($r->content, $k->{id}) >= 0 ? 1 : 0, 1, 'lists the key');
ok t_cmp(index($r->content, "<td>bad\xef\xbf\xbd\xef\xbf\xbd</td>") >= 0
         ? 1 : 0, 1, 'the HTML page writes bytes that are no UTF-8 as U+FFFD');
ok t_cmp(index($r->content, '&lt;b&gt;acme&lt;/b&gt;') >= 0
         && index($r->content, '<b>acme</b>') < 0 ? 1 : 0, 1,
         'with the owner escaped');
ok t_cmp((POST '/apikey-status', content => 'x')->code, 405, 'GET only');

# A full table fails closed: 503 for a key that finds no slot, one log
# line per minute however many.
my $srv = ApiKeyServer->new(name => 'full', mpm => 'event',
                            conf => "AuthAPIKeyLimitSlots 2\n"
                                  . "AuthAPIKeyCacheTimeout 0\n"
                                  . "AuthAPIKeyQuota 100/day");
$srv->start or die 'server did not start';
my @keys = map { create_key(owner => "full$_") } 1..3;
my $code = sub {
    my $key = shift;
    `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $key' ${\ $srv->url}`;
};
ok t_cmp(join(' ', map { $code->($_->{key}) } @keys[0, 1]), '200 200',
         'two keys fill a table of two');
ok t_cmp(join(' ', map { $code->($keys[2]{key}) } 1..3), '503 503 503',
         'a third key gets 503, never a pass without limits');
ok t_cmp($code->($keys[0]{key}), '200', 'the first two keep working');
$srv->stop;
ok t_cmp(scalar(() = $srv->error_log =~ /APIKEY00033: the limit table is full/g),
         1, 'one error-log line for the three refusals');

# Well before it is full, one warning that names the directive: at 80 %
# (4 keys of 5 slots), not before, and not again at 100 %.
$srv = ApiKeyServer->new(name => 'filling', mpm => 'event',
                         conf => "AuthAPIKeyLimitSlots 5\n"
                               . "AuthAPIKeyCacheTimeout 0\n"
                               . "AuthAPIKeyQuota 100/day");
$srv->start or die 'server did not start';
@keys = map { create_key(owner => "filling$_") } 1..5;
ok t_cmp(join(' ', map { $code->($_->{key}) } @keys[0 .. 2]), '200 200 200',
         'three keys in a table of five');
my $warned = sub { scalar(() = $srv->error_log =~ /APIKEY00057: the limit table is \d+% full/g) };
ok t_cmp($warned->(), 0, 'at 60 %: no warning');
ok t_cmp(join(' ', map { ($code->($_->{key}), $code->($_->{key})) } @keys[3, 4]),
         '200 200 200 200', 'the fourth and fifth keys, twice each');
$srv->stop;
ok t_cmp([$srv->error_log =~ /(APIKEY00057: .*)/g],
         ['APIKEY00057: the limit table is 80% full (4 of AuthAPIKeyLimitSlots 5): '
          . 'once it is full, requests of keys new to it get 503; raise AuthAPIKeyLimitSlots'],
         'one warning, at 80 %, naming the directive');
