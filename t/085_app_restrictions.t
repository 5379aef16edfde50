# A key's application restrictions: allow_android (X-Android-Package, and
# X-Android-Cert when the package is pinned to a signing certificate) and
# allow_ios (X-Ios-Bundle-Identifier), either app admitting a key that has
# both; and allow_cert, the SHA-256 fingerprints of TLS client
# certificates that mod_ssl verified.  A refusal is 403 without a
# challenge, app_denied or cert_denied in %{result}K.  The certificates
# are made for the run by scripts/run-tests.sh (a CA, client1 and client2
# it signed, a self-signed one).
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_start_error_log_watch t_finish_error_log_watch);
use File::Spec;
use LWP::UserAgent ();
use ApiKeyTest qw(create_key htapikey top_dir);
use ApiKeyServer;
use ApiKeyWait qw(wait_for);

plan tests => 54, need(need_module('authn_apikey', 'dbd', 'ssl'), need_lwp);

my $log = File::Spec->catfile(Apache::Test::vars('t_logs'), 'apikey_app.log');
my $tls = File::Spec->catdir(top_dir(), 't', 'data', 'tls');
my $tag = 0;

# The id, result and status that the access log has for a request.
sub logged {
    my $t = shift;
    my $f = wait_for(sub {
        for my $line (reverse split /\n/, ApiKeyTest::read_file($log)) {
            my @v = split /\|/, $line, -1;
            return "$v[1] $v[2] $v[3]" if $v[0] eq $t;
        }
        return;
    });
    return $f // 'not logged';
}

# A request to /app with the key and headers: "STATUS ID RESULT STATUS" as
# the response and the access log have it.
sub app {
    my ($k, @h) = @_;
    my $t = 'app' . ++$tag;
    my $r = GET '/app/index.txt', 'X-API-Key' => $k->{key}, 'X-Test-Tag' => $t, @h;
    return $r->code . ' ' . logged($t);
}

sub fingerprint {
    my ($file, $alg) = @_;
    my $out = `openssl x509 -in '$file' -noout -fingerprint -$alg`;
    my ($fp) = $out =~ /=([0-9A-F:]+)/;
    die "no $alg fingerprint of $file: $out" unless $fp;
    return $fp;
}

my $sha1 = fingerprint("$tls/client1.pem", 'sha1');   # any 20 bytes will do
(my $sha1_plain = lc $sha1) =~ s/://g;
(my $sha1_other = $sha1_plain) =~ tr/0-9a-f/1-9a-f0/;

my $and   = create_key(owner => 'app', 'allow-android' => 'com.example.app');
my $pin   = create_key(owner => 'app',
                       'allow-android' => "com.example.pinned:$sha1");
my $ios   = create_key(owner => 'app', 'allow-ios' => 'com.example.iosapp');
my $both  = create_key(owner => 'app', 'allow-android' => 'com.example.app',
                       'allow-ios' => 'com.example.iosapp');
my $plain = create_key(owner => 'app');

# Android.
ok t_cmp(app($and, 'X-Android-Package' => 'com.example.app'),
         "200 $and->{id} ok 200", 'android: the package matches');
ok t_cmp(app($and, ':x-android-package' => 'com.example.app'),
         "200 $and->{id} ok 200", 'android: the header name in lower case');
t_start_error_log_watch();
my $r = GET '/app/index.txt', 'X-API-Key' => $and->{key},
    'X-Android-Package' => 'com.example.other';
ok t_cmp($r->code, 403, 'android: another package: 403');
ok t_cmp($r->header('WWW-Authenticate'), undef, 'no challenge');
my @log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00014: API key \Q$and->{id}\E refused: app_denied/ } @log),
         1, 'the error log names app_denied');
ok t_cmp(app($and, 'X-Android-Package' => 'com.example.other'),
         "403 - app_denied 403", 'android: another package: app_denied');
ok t_cmp(app($and), "403 - app_denied 403", 'android: no header: app_denied');
ok t_cmp(app($and, 'X-Android-Package' => 'com.example.App'),
         "403 - app_denied 403", 'android: package names compared exactly');
ok t_cmp(app($and, 'X-Android-Package' => 'com.example.app, com.example.app'),
         "403 - app_denied 403", 'android: two package headers are none');
ok t_cmp(app($and, 'X-Ios-Bundle-Identifier' => 'com.example.app'),
         "403 - app_denied 403", 'android only: an iOS bundle id of that name does not do');

# Android, pinned to a signing certificate.
ok t_cmp(app($pin, 'X-Android-Package' => 'com.example.pinned',
             'X-Android-Cert' => $sha1_plain),
         "200 $pin->{id} ok 200", 'android pinned: the certificate matches');
ok t_cmp(app($pin, 'X-Android-Package' => 'com.example.pinned',
             'X-Android-Cert' => $sha1),
         "200 $pin->{id} ok 200", 'android pinned: with colons, in capitals');
ok t_cmp(app($pin, 'X-Android-Package' => 'com.example.pinned',
             'X-Android-Cert' => $sha1_other),
         "403 - app_denied 403", 'android pinned: another certificate');
ok t_cmp(app($pin, 'X-Android-Package' => 'com.example.pinned'),
         "403 - app_denied 403", 'android pinned: no certificate header');
ok t_cmp(app($pin, 'X-Android-Package' => 'com.example.other',
             'X-Android-Cert' => $sha1_plain),
         "403 - app_denied 403", 'android pinned: the certificate, another package');

# iOS.
ok t_cmp(app($ios, 'X-Ios-Bundle-Identifier' => 'com.example.iosapp'),
         "200 $ios->{id} ok 200", 'ios: the bundle id matches');
ok t_cmp(app($ios, ':X-iOS-Bundle-Identifier' => 'com.example.iosapp'),
         "200 $ios->{id} ok 200", 'ios: the header name in other capitals');
ok t_cmp(app($ios, 'X-Ios-Bundle-Identifier' => 'com.example.other'),
         "403 - app_denied 403", 'ios: another bundle id');
ok t_cmp(app($ios), "403 - app_denied 403", 'ios: no header');
ok t_cmp(app($ios, 'X-Android-Package' => 'com.example.iosapp'),
         "403 - app_denied 403", 'ios only: an Android package of that name does not do');

# Both: either app.
ok t_cmp(app($both, 'X-Android-Package' => 'com.example.app'),
         "200 $both->{id} ok 200", 'android and ios: the Android app');
ok t_cmp(app($both, 'X-Ios-Bundle-Identifier' => 'com.example.iosapp'),
         "200 $both->{id} ok 200", 'android and ios: the iOS app');
ok t_cmp(app($both), "403 - app_denied 403", 'android and ios: neither');

# A key without restrictions, with or without the headers.
ok t_cmp(app($plain), "200 $plain->{id} ok 200", 'no app restriction: no headers');
ok t_cmp(app($plain, 'X-Android-Package' => 'com.example.other',
             'X-Ios-Bundle-Identifier' => 'x'),
         "200 $plain->{id} ok 200", 'no app restriction: any headers');

# htapikey: what is stored, and what is refused.
my ($rc, $out) = htapikey('--json', 'show', $pin->{id});
ok t_cmp($out, qr/"allow_android":"com\.example\.pinned:\Q$sha1_plain\E"/,
         'the certificate fingerprint stored in lower case, without colons');
($rc) = htapikey('update', $ios->{id}, '--allow-ios', 'none');
($rc, $out) = htapikey('--json', 'show', $ios->{id});
ok t_cmp($out, qr/"allow_ios":null/, 'update --allow-ios none clears it');
my @bad = (['--allow-android', 'app'], ['--allow-android', '1com.example'],
           ['--allow-android', 'com.example.app:abcd'],
           ['--allow-ios', 'com.example_app'], ['--allow-cert', 'ab:cd']);
my @codes = map { (htapikey('create', '--owner', 'app', @$_))[0] } @bad;
ok t_cmp("@codes", join(' ', (2) x @bad),
         'a package, bundle id or fingerprint of the wrong shape: exit 2');

# TLS client certificates.
my $fp1 = fingerprint("$tls/client1.pem", 'sha256');
my $fp2 = fingerprint("$tls/client2.pem", 'sha256');
my $fps = fingerprint("$tls/self.pem", 'sha256');
my $c1   = create_key(owner => 'app', 'allow-cert' => $fp1);
my $c12  = create_key(owner => 'app', 'allow-cert' => lc("$fp1, $fp2"));
my $self = create_key(owner => 'app', 'allow-cert' => $fps);

sub ua {
    my ($cert, %o) = @_;
    my %ssl = (verify_hostname => 0, SSL_verify_mode => 0);
    if ($cert) {
        $ssl{SSL_cert_file} = "$tls/$cert.pem";
        $ssl{SSL_key_file} = "$tls/$cert.key";
    }
    return LWP::UserAgent->new(ssl_opts => \%ssl, timeout => 30, %o);
}

# Over TLS to a virtual host: "STATUS ID RESULT STATUS".
sub over {
    my ($vhost, $ua, $k) = @_;
    my $url = 'https://' . Apache::Test::config()->{vhosts}->{$vhost}->{hostport}
        . '/app/index.txt';
    my $t = 'cert' . ++$tag;
    my $r = $ua->get($url, 'X-API-Key' => $k->{key}, 'X-Test-Tag' => $t);
    return $r->code . ' ' . logged($t);
}

my ($ua1, $ua2, $none, $uas) = (ua('client1'), ua('client2'), ua(), ua('self'));
ok t_cmp(over('apikey_cert', $ua1, $c1), "200 $c1->{id} ok 200",
         'cert: the pinned client certificate');
ok t_cmp(over('apikey_cert', $ua2, $c1), "403 - cert_denied 403",
         'cert: another certificate of the same CA');
t_start_error_log_watch();
ok t_cmp(over('apikey_cert', $none, $c1), "403 - cert_denied 403",
         'cert: no client certificate');
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00073: no verified TLS client certificate: SSL_CLIENT_VERIFY is 'NONE'/ } @log),
         1, 'no client certificate: the error log says so');
ok t_cmp(over('apikey_cert', $ua2, $c12), "200 $c12->{id} ok 200",
         'cert: the second of two pinned');
ok t_cmp(over('apikey_cert', $ua1, $c12), "200 $c12->{id} ok 200",
         'cert: the first of two pinned');
ok t_cmp(over('apikey_cert', $none, $plain), "200 $plain->{id} ok 200",
         'cert: a key without allow_cert, no certificate');
ok t_cmp(over('apikey_cert', $ua2, $plain), "200 $plain->{id} ok 200",
         'cert: a key without allow_cert, a certificate');
t_start_error_log_watch();
$r = $ua2->get('https://' . Apache::Test::config()->{vhosts}->{apikey_cert}->{hostport}
               . '/app/index.txt', 'X-API-Key' => $c1->{key});
ok t_cmp($r->code, 403, 'cert: refused with 403');
ok t_cmp($r->header('WWW-Authenticate'), undef, 'cert: no challenge');
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00014: API key \Q$c1->{id}\E refused: cert_denied/ } @log),
         1, 'the error log names cert_denied');

# One connection, several requests: the fingerprint the connection keeps
# is the one of its certificate, for each key alike.
my $keep = ua('client1', keep_alive => 1);
ok t_cmp(join(' ', map { over('apikey_cert', $keep, $_) } $c1, $c1, $self, $plain, $c1),
         "200 $c1->{id} ok 200 200 $c1->{id} ok 200 403 - cert_denied 403 "
         . "200 $plain->{id} ok 200 200 $c1->{id} ok 200",
         'cert: several requests over one connection');
$keep = ua(undef, keep_alive => 1);
ok t_cmp(join(' ', map { over('apikey_cert', $keep, $_) } $plain, $c1),
         "200 $plain->{id} ok 200 403 - cert_denied 403",
         'cert: one connection without a certificate');

# A certificate mod_ssl did not verify (SSLVerifyClient optional_no_ca lets
# it through, SSL_CLIENT_VERIFY GENEROUS or FAILED:...) does not count,
# pinned or not.
t_start_error_log_watch();
ok t_cmp(over('apikey_cert_noca', $uas, $self), "403 - cert_denied 403",
         'cert: a pinned certificate that mod_ssl did not verify');
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00073: no verified TLS client certificate: SSL_CLIENT_VERIFY is '(?:GENEROUS|FAILED:[^']+)'/ } @log),
         1, 'the error log says why');
ok t_cmp(over('apikey_cert_noca', $ua1, $c1), "200 $c1->{id} ok 200",
         'cert: optional_no_ca, a certificate of the CA is verified');
ok t_cmp(over('apikey_cert_noca', $uas, $plain), "200 $plain->{id} ok 200",
         'cert: optional_no_ca, a key without allow_cert');

# Plain HTTP: no certificate at all.
t_start_error_log_watch();
ok t_cmp(app($c1), "403 - cert_denied 403", 'cert: over plain HTTP');
@log = t_finish_error_log_watch();
ok t_cmp(scalar(grep { /APIKEY00074: no verified TLS client certificate: the connection is not TLS/ } @log),
         1, 'plain HTTP: the error log says so');

# A server without mod_ssl: no certificate can be had; other keys work.
my $srv = ApiKeyServer->new(name => 'no-ssl', mpm => 'event', conf => '');
ok t_cmp($srv->start ? 1 : 0, 1, 'a server without mod_ssl');
my $bare = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
ok t_cmp($bare->get($srv->url, 'X-API-Key' => $c12->{key})->code, 403,
         'without mod_ssl: a key with allow_cert gets 403');
ok t_cmp($bare->get($srv->url, 'X-API-Key' => $plain->{key})->code, 200,
         'without mod_ssl: a key without it, 200');
ok t_cmp(scalar(() = $srv->error_log
                    =~ /APIKEY00074: no verified TLS client certificate: the connection is not TLS.*\n.*APIKEY00014: API key \Q$c12->{id}\E refused: cert_denied/g),
         1, 'without mod_ssl: the error log says why');
$srv->stop;

# What is stored.
($rc, $out) = htapikey('--json', 'show', $c12->{id});
(my $want = lc "$fp1,$fp2") =~ s/://g;
ok t_cmp($out, qr/"allow_cert":"\Q$want\E"/,
         'the certificate fingerprints stored in lower case, without colons');
($rc, $out) = htapikey('show', $c1->{id});
(my $one = lc $fp1) =~ s/://g;
ok t_cmp($out, qr/^allow cert: \Q$one\E$/m, 'show prints allow_cert');
($rc) = htapikey('update', $c1->{id}, '--allow-cert', 'none');
($rc, $out) = htapikey('--json', 'show', $c1->{id});
ok t_cmp($out, qr/"allow_cert":null/, 'update --allow-cert none clears it');
