# AuthAPIKeyQuery: a legacy table's columns matched by name (aliases),
# missing ones defaulted, unknown ones exported as APIKEY_<COLUMN>; a bad
# query gives 503 and the driver's message, not a silent 401; malformed
# SQL is refused at start-up.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use Digest::SHA qw(sha256_hex);
use ApiKeyTest qw(run_httpd backend store_sql);

plan tests => 17, need(need_module('authn_apikey', 'dbd'), need_cgi,
                       need_lwp);

my %keys = (good => 'legacy-good-0123456789', off => 'legacy-off-0123456789',
            old => 'legacy-old-0123456789');
my $sql = "CREATE TABLE IF NOT EXISTS legacy_clients (client_id TEXT, "
        . "key_sha256 TEXT, company TEXT, plan TEXT, active INTEGER, "
        . "valid_until TEXT); DELETE FROM legacy_clients;"
        . "INSERT INTO legacy_clients VALUES ('C-17', '" . sha256_hex($keys{good})
        . "', 'Acme Ltd', 'gold', 1, '2099-01-01 00:00:00');"
        . "INSERT INTO legacy_clients VALUES ('C-18', '" . sha256_hex($keys{off})
        . "', 'Beta', 'free', 0, NULL);"
        . "INSERT INTO legacy_clients VALUES ('C-19', '" . sha256_hex($keys{old})
        . "', 'Gamma', 'free', 1, '2001-01-01 00:00:00');";
store_sql($sql);

sub env_of {
    return { map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () }
             split /\n/, shift->content };
}

my $r = GET '/legacy-schema/env.pl', 'X-API-Key' => $keys{good};
ok t_cmp($r->code, 200, 'a legacy key through AuthAPIKeyQuery');
my $env = env_of($r);
ok t_cmp($env->{REMOTE_USER}, 'C-17', 'id from client_id AS id');
ok t_cmp($env->{APIKEY_OWNER}, 'Acme Ltd', 'owner from company AS owner');
ok t_cmp($env->{APIKEY_SCOPES}, '', 'no scopes column: empty scopes');
ok t_cmp($env->{APIKEY_PLAN}, 'gold', 'an unknown column: APIKEY_PLAN');
ok t_cmp((GET '/legacy-schema/env.pl', 'X-API-Key' => $keys{off})->code, 401,
         'status derived by CASE: disabled');
ok t_cmp((GET '/legacy-schema/env.pl', 'X-API-Key' => $keys{old})->code, 401,
         'expires as "YYYY-MM-DD HH:MM:SS": expired');
ok t_cmp((GET '/legacy-schema/env.pl', 'X-API-Key' => 'nope-0123')->code, 401,
         'unknown legacy key');

# A query that cannot be prepared: 503 and the SQL's error in the log.
t_start_error_log_watch();
$r = GET '/legacy-bad/index.txt', 'X-API-Key' => ApiKeyTest::random_wellformed_key();
ok t_cmp($r->code, 503, 'a bad AuthAPIKeyQuery: 503, not 401');
my @log = t_finish_error_log_watch();
my %no_table = (sqlite3 => qr/no such table: missing_table/,
                pgsql   => qr/relation "missing_table" does not exist/,
                mysql   => qr/Table '\w+\.missing_table' doesn't exist/);
ok t_cmp(scalar(grep { /APIKEY00001: cannot prepare the key look-up \(SELECT nope FROM missing_table.*$no_table{backend()}/ } @log),
         1, 'the error log has the SQL and the driver\'s message');
# PostgreSQL's message has line breaks ("LINE 1: ..."), which httpd's log
# escaped as a literal \n: they are joined with "; " instead.
my ($prep) = grep { /APIKEY00001/ } @log;
ok t_cmp(defined $prep && $prep !~ /\\n/ ? 'one line' : $prep // 'not logged',
         'one line', 'and the message is on one line, with no escaped line break');

# Malformed SQL is refused when the configuration is read.
for my $case (["SELECT id FROM t WHERE d = 'x'", 'no placeholder'],
              ['SELECT id FROM t WHERE d = %s OR e = %s', 'two placeholders'],
              ["SELECT id FROM t WHERE d = %s AND o LIKE 'a%'",
               'a bare % (LIKE)']) {
    my ($q, $what) = @$case;
    my ($rc, $out) = run_httpd("<Location /x>\nAuthAPIKeyQuery \"$q\"\n</Location>\n");
    ok t_cmp($rc, 1, "refused at start-up: $what");
    ok t_cmp($out, qr/AuthAPIKeyQuery needs exactly one %s/, "message: $what");
}
