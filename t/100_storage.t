# Storage options: AuthAPIKeyHash hmac-sha256 with a pepper file (httpd
# and htapikey agree; httpd refuses a missing or exposed pepper at
# start-up), and AuthAPIKeyFormat any for legacy keys.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use Apache::TestUtil qw(t_start_error_log_watch t_finish_error_log_watch);
use File::Spec;
use ApiKeyTest qw(create_key htapikey insert_key run_httpd);

plan tests => 26, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $data   = File::Spec->catfile(Apache::Test::vars('serverroot'), 'data');
my $pepper = File::Spec->catfile($data, 'pepper');

# A key digested with the pepper, and one without.
my ($rc, $out, $err) = htapikey('--pepper', $pepper, '--json', 'create',
                                '--owner', 'peppered');
ok t_cmp($rc, 0, 'htapikey --pepper create');
my ($hkey) = $out =~ /"key":"([^"]+)"/;
my $plain = create_key(owner => 'plain');

Apache::TestRequest::module('apikey_pepper');
ok t_cmp((GET '/pepper/index.txt', 'X-API-Key' => $hkey)->code, 200,
         'hmac-sha256 server: a peppered key works');
ok t_cmp((GET '/pepper/index.txt', 'X-API-Key' => $plain->{key})->code, 401,
         'hmac-sha256 server: a SHA-256 key is unknown');
Apache::TestRequest::module('default');
ok t_cmp((GET '/pepper/index.txt', 'X-API-Key' => $hkey)->code, 401,
         'sha256 server: a peppered key is unknown');
ok t_cmp((GET '/pepper/index.txt', 'X-API-Key' => $plain->{key})->code, 200,
         'sha256 server: a SHA-256 key works');

# htapikey refuses an exposed or short pepper, and makes no key.
my $exposed = File::Spec->catfile($data, "exposed-pepper-$$");
open(my $fh, '>', $exposed) or die $!;
print $fh "0123456789abcdef0123456789abcdef\n";
close $fh;
chmod 0644, $exposed;
($rc, $out, $err) = htapikey('--pepper', $exposed, 'create', '--owner', 'x');
ok t_cmp($rc, 2, 'htapikey: a world-readable pepper is refused');
ok t_cmp($err, qr/readable or writable by others \(mode 0644\)/,
         'and says why');
ok t_cmp($out, '', 'no key printed');

# httpd refuses the same at start-up, naming the line.
for my $case (
    ["AuthAPIKeyHash hmac-sha256 $exposed",
     qr/readable or writable by others/],
    ["AuthAPIKeyHash hmac-sha256 $data/no-such-pepper",
     qr/cannot open the pepper file .*no-such-pepper: No such file/],
    ["AuthAPIKeyHash hmac-sha256", qr/needs the pepper FILE/],
    ["AuthAPIKeyHash md5", qr/AuthAPIKeyHash 'md5': expected sha256/],
    ["<Location /x>\nAuthAPIKeyFormat loose\n</Location>",
     qr/AuthAPIKeyFormat 'loose': expected checksum or any/],
) {
    my ($line, $why) = @$case;
    my ($rc, $out, $n) = run_httpd($line);
    ok t_cmp($rc, 1, "refused at start-up: $line");
    ok t_cmp($out, $why, "message for: $line");
}
unlink $exposed;

# Legacy keys: any visible ASCII, looked up by digest.
my $legacy = insert_key('legacy-0001', owner => 'old-system',
                        key => 'LEGACY-Key.2015/abc=');
ok t_cmp((GET '/legacy/index.txt', 'X-API-Key' => $legacy)->code, 200,
         'AuthAPIKeyFormat any: a legacy key works');
ok t_cmp((GET '/authn/index.txt', 'X-API-Key' => $legacy)->code, 401,
         'AuthAPIKeyFormat checksum (default): refused before any look-up');

# With the look-up cache on, once it knows the key (found under "any"), a
# section that wants checksums still refuses it as malformed.
Apache::TestRequest::module('apikey_legacy_cache');
ok t_cmp((GET '/legacy/index.txt', 'X-API-Key' => $legacy)->code, 200,
         'cached: the legacy key where AuthAPIKeyFormat any');
t_start_error_log_watch();
ok t_cmp((GET '/strict/index.txt', 'X-API-Key' => $legacy)->code, 401,
         'cached under "any", refused where the checksum format is wanted');
ok t_cmp(scalar(grep { /APIKEY00011: malformed API key/ } t_finish_error_log_watch()),
         1, 'as malformed, although the look-up cache holds it');

# The cache names a key by a keyed hash of it: a key longer than any
# format takes never reaches it, so one that starts with a cached key of
# the longest length is refused, not taken for it.  (Still on the server
# with the cache.)
my $long = 'L' x 512;
insert_key('legacy-0002', owner => 'old-system', key => $long);
ok t_cmp((GET '/legacy/index.txt', 'X-API-Key' => $long)->code, 200,
         'a legacy key of 512 bytes works (and is cached)');
t_start_error_log_watch();
ok t_cmp((GET '/legacy/index.txt', 'X-API-Key' => $long . 'x')->code, 401,
         'the same and one byte more: 401');
ok t_cmp(scalar(grep { /APIKEY00011: malformed API key.*too long/ } t_finish_error_log_watch()),
         1, 'refused as too long, before the cache');
Apache::TestRequest::module('default');
