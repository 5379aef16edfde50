# A key store that cannot answer gives 503 with Retry-After, never 401
# (the key may be good) and never 200; the error log says why.  Malformed
# keys are still refused with 401 there, since they need no look-up.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use ApiKeyTest qw(create_key key_store);

plan tests => 18, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $k = create_key(owner => 'dbfail');

for my $vhost (qw(apikey_nodb apikey_notable)) {
    Apache::TestRequest::module($vhost);
    t_start_error_log_watch();
    my $r = GET '/dbfail/index.txt', 'X-API-Key' => $k->{key};
    ok t_cmp($r->code, 503, "$vhost: 503 for a well-formed key");
    ok t_cmp($r->header('Retry-After'), '5', "$vhost: Retry-After");
    ok t_cmp($r->header('WWW-Authenticate'), undef,
             "$vhost: no challenge (the key was not refused)");
    my @log = grep { /APIKEY0000[14]/ } t_finish_error_log_watch();
    ok t_cmp(scalar(@log) > 0, 1, "$vhost: the error log says why");

    $r = GET '/dbfail/index.txt', 'X-API-Key' => 'garbage';
    ok t_cmp($r->code, 401, "$vhost: a malformed key needs no look-up: 401");

    $r = GET '/dbfail/index.txt';
    ok t_cmp($r->code, 401, "$vhost: no key: 401");
}
# The verdict is reused by an internal redirect to an ErrorDocument in
# another AuthType APIKey section: still 503, never a 401.
Apache::TestRequest::module('apikey_nodb');
my $r = GET '/dbfail/with-errdoc/index.txt', 'X-API-Key' => $k->{key};
ok t_cmp($r->code, 503, 'ErrorDocument under AuthType APIKey: still 503');
ok t_cmp($r->header('Retry-After'), '5', 'with Retry-After');
ok t_cmp($r->header('WWW-Authenticate'), undef, 'and no challenge');
Apache::TestRequest::module('default');

# A schema change under pooled connections (an upgrade adding a column,
# say) must not leave their prepared look-ups failing: APR's sqlite3
# driver keeps statements that fail for good after one.
my $url = '/authn/index.txt';
my $fresh = create_key(owner => 'schema');
my $codes = '';
$codes .= (GET $url, 'X-API-Key' => $fresh->{key})->code for 1..6;
ok t_cmp($codes, '200' x 6, 'keys work over the pooled connections');
system('sqlite3', key_store(),
       'CREATE TABLE IF NOT EXISTS schema_change_probe (x INTEGER); '
       . 'ALTER TABLE schema_change_probe ADD COLUMN y INTEGER;') == 0
    or die 'sqlite3 failed';
$codes = '';
$codes .= (GET $url, 'X-API-Key' => $fresh->{key})->code for 1..6;
ok t_cmp($codes, '200' x 6, 'and still after a schema change');
system('sqlite3', key_store(), 'DROP TABLE schema_change_probe;') == 0
    or die 'sqlite3 failed';
$codes = '';
$codes .= (GET $url, 'X-API-Key' => $fresh->{key})->code for 1..6;
ok t_cmp($codes, '200' x 6, 'and after another');
