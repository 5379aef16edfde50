# The key, its digest and the pepper never reach any log file, at any log
# level: requests of every kind run here under the suite's LogLevel trace8,
# and every file under t/logs is searched for every 12-character piece of
# each key, each digest and the pepper.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use Digest::SHA qw(sha256_hex hmac_sha256_hex);
use File::Find;
use File::Spec;
use MIME::Base64 qw(encode_base64);
use ApiKeyTest qw(create_key htapikey read_file store_sql);
use ApiKeyWait qw(patience wait_for size_of wait_text);

plan tests => 4, need(need_module('authn_apikey', 'dbd'), need_lwp);

my $data = File::Spec->catfile(Apache::Test::vars('serverroot'), 'data');
my $pepper = read_file("$data/pepper");
$pepper =~ s/\r?\n\z//;

my @keys;
sub k { my $k = create_key(@_); push @keys, $k->{key}; return $k }

# Every request is counted, to wait for its access-log lines below.
my $logs = Apache::Test::vars('t_logs');
my @per_request = map { File::Spec->catfile($logs, $_) }
                  qw(access_log apikey_fields.log);
sub lines { my $n = () = read_file(shift) =~ /\n/g; return $n }
my %lines0 = map { $_ => lines($_) } @per_request;
my $elog = File::Spec->catfile($logs, 'error_log');
my $elog0 = size_of($elog);
my $sent = 0;
sub req { $sent++; return GET(@_) }

# Requests of every kind, with keys of this test only.
my $a = k(owner => 's', scopes => 'x', quota => '3/day', rate => '5/s');
my $b = k(owner => 's');
htapikey('revoke', $b->{id});
for my $path ('/authn/index.txt', '/logf-hidden/index.txt', '/limits/index.txt',
              '/scope/read/index.txt', '/backend/cgi/env.pl',
              '/src/cgi/env.pl') {
    req $path, 'X-API-Key' => $a->{key};
    req $path, Authorization => "Bearer $a->{key}";
    # In the query only where the query is read (and so hidden): a key
    # elsewhere in a URL is, to the server, just a parameter (plain %r logs
    # it; %{request}K masks it, see 190_logging.t).
    req "$path?api_key=$a->{key}" if $path =~ m{^/(logf-hidden|src)/};
    req $path, 'X-API-Key' => $b->{key};
    req $path, 'X-API-Key' => $a->{key}, Authorization => "Bearer $b->{key}";
}
req '/src/cgi/env.pl', Authorization => 'Basic ' . encode_base64("$a->{key}:", '');
req '/basic/cgi/env.pl', Authorization => 'Basic ' . encode_base64("u:$a->{key}", '');
req '/limits/index.txt', 'X-API-Key' => $a->{key} for 1..5;     # 429s
my ($rc, $out) = htapikey('--pepper', "$data/pepper", '--json', 'create',
                          '--owner', 'pep');
my ($hkey) = $out =~ /"key":"([^"]+)"/;
push @keys, $hkey;
Apache::TestRequest::module('apikey_pepper');
req '/pepper/index.txt', 'X-API-Key' => $hkey;
req '/pepper/index.txt', 'X-API-Key' => $a->{key};
Apache::TestRequest::module('apikey_refresh');
req '/refresh/index.txt', 'X-API-Key' => $a->{key} for 1..2;
Apache::TestRequest::module('default');
($rc, $out) = htapikey('--json', 'rotate', $a->{id}, '--grace', '1h');
my ($rot) = $out =~ /"key":"([^"]+)"/;
push @keys, $rot;
req '/authn/index.txt', 'X-API-Key' => $rot;
req '/authn/index.txt', 'X-API-Key' => $a->{key};
# The logs written: httpd logs a request after answering it, so wait for
# each request's line in each per-request log; and the poller has taken in
# the last change (the rotation), saying so in the error log with the
# store's marker.
wait_for(sub { !grep { lines($_) < $lines0{$_} + $sent } @per_request })
    or t_debug('not every request was logged within ' . patience() . ' s');
my ($marker) = store_sql("SELECT value FROM apikey_meta WHERE name = 'version'")
               =~ /(\d+)/;
defined wait_text($elog, $elog0, qr/APIKEY00022: .*\(marker \Q$marker\E\)/)
    or t_debug("the poller did not report marker $marker");

# What must never be written.
my %secret;
for my $key (@keys) {
    $secret{substr($key, $_, 12)} = "a piece of a key"
        for 0 .. length($key) - 12;
    $secret{sha256_hex($key)} = 'a key\'s SHA-256 digest';
    $secret{hmac_sha256_hex($key, $pepper)} = 'a key\'s HMAC digest';
}
$secret{$pepper} = 'the pepper';

my (@files, @found);
find(sub { push @files, $File::Find::name if -f $_ }, Apache::Test::vars('t_logs'));
for my $file (@files) {
    next if $file =~ /\.(state|db|cfg)$/;
    my $text = read_file($file);
    for my $s (keys %secret) {
        push @found, "$secret{$s} in $file" if index($text, $s) >= 0;
    }
}
ok t_cmp(scalar(@keys) >= 4 ? 1 : 0, 1, scalar(@keys) . ' keys used');
ok t_cmp(scalar(@files) >= 3 ? 1 : 0, 1, scalar(@files) . ' log files searched');
ok t_cmp(scalar(keys %secret) > 100 ? 1 : 0, 1,
         scalar(keys %secret) . ' secrets searched for');
ok t_cmp(join("\n", @found[0 .. ($#found > 9 ? 9 : $#found)]), '',
         'no key, digest or pepper in any log');
