# Hostile requests, written by hand on raw sockets where LWP would refuse or
# normalise them: keys of 0 to 8192+ bytes, NUL, CR/LF, tabs and UTF-8 in
# every source, %00 and double encoding, repeated and folded headers, odd
# Authorization schemes, SQL.  Each gets the status the module promises (or
# httpd's own 400/414 before the module runs), never a 5xx, an error-log
# line and an access-log line.  Then 10,000 distinct garbage keys fired
# fast: all 401, no database look-up for a malformed one (the module's own
# counters and its trace of store queries say so), one for each unknown
# well-formed one and none when it comes again (the negative cache), and
# the children's private memory flat.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil;
use File::Path qw(make_path);
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);
use ApiKeyTest qw(create_key bad_checksum random_wellformed_key read_file
                  key_store);
use ApiKeyServer;
use ApiKeyWait qw(patience);

my $libexec = Apache::Test::config()->apxs('LIBEXECDIR') // '';
my $FLOOD_TESTS = 10;

sub b64 { encode_base64(shift, '') }
sub hdr { my $path = shift; req("GET $path HTTP/1.1", @_) }
sub req {
    my ($line, @h) = @_;
    return join("\r\n", $line, 'Host: localhost', @h, 'Connection: close',
                '', '');
}
sub qesc { (my $s = shift) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge; $s }

# What a refusal by the module looks like: status, the challenge's error,
# the access log's status, result and source, the error log's line, and
# the number of store queries (trace1).
sub module {
    my ($status, $chal, $result, $source, $log, $db) = @_;
    return "$status $chal | $status $result $source | $log | db=" . ($db // 0);
}
sub malformed {
    my ($source, $why) = @_;
    my $log = $why eq 'decode'
        ? "APIKEY00018: malformed API key from $source: it does not URL-decode"
        : "APIKEY00011: malformed API key from $source: $why";
    return module(401, 'invalid_token', 'malformed', $source, $log);
}
sub accepted {
    my ($source, $db) = @_;
    return module(200, '-', 'ok', $source, "accepted from $source", $db);
}
sub conflict {
    my $source = shift;
    return module(400, 'invalid_request', 'conflict', $source,
                  'APIKEY00015: the request carries two different API keys');
}
sub missing {
    return module(401, 'challenge', 'missing', '-',
                  'APIKEY00010: no API key in the request');
}
sub unknown {
    my ($source, $db) = @_;
    return module(401, 'invalid_token', 'unknown', $source,
                  "APIKEY00013: unknown API key from $source", $db);
}
# httpd's own refusal, before any module runs: no challenge, no result.
sub core {
    my ($status, $log) = @_;
    return qr/^$status - \| $status - - \| .*\Q$log\E.* \| db=0$/;
}

# The hand-written requests, each with what must become of it.
sub cases {
    my ($G, $other) = @_;
    my $A = '/all/index.txt';
    my $Q = "$A?api_key=";
    (my $enc1 = $G) =~ s/_/%5F/;
    (my $enc2 = $G) =~ s/_/%255F/;
    my $hmax = 8190 - length('X-API-Key: ');            # LimitRequestFieldSize
    my $qmax = 8190 - length("GET $Q HTTP/1.1");         # LimitRequestLine
    my $unknown = random_wellformed_key();

    return (
        # Lengths.  httpd refuses a header line over LimitRequestFieldSize (8190)
        # with 400 and a request line over LimitRequestLine with 414 before any
        # module runs; the longest key it lets through the module refuses as
        # too long, before any I/O.
        ['header key of 0 bytes',
         hdr($A, 'X-API-Key: '),
         malformed('header', 'empty key')],
        ['header key of 1 byte',
         hdr($A, 'X-API-Key: a'),
         malformed('header', 'not in the key format')],
        ["header key of $hmax bytes (the line is 8190)",
         hdr($A, 'X-API-Key: ' . 'a' x $hmax),
         malformed('header', 'key too long')],
        ['header key of 8191 bytes',
         hdr($A, 'X-API-Key: ' . 'a' x 8191),
         core(400, 'AH00561: Request header exceeds LimitRequestFieldSize')],
        ['header key of 8192 bytes',
         hdr($A, 'X-API-Key: ' . 'a' x 8192),
         core(400, 'AH00561: Request header exceeds LimitRequestFieldSize')],
        ['header key of 65536 bytes',
         hdr($A, 'X-API-Key: ' . 'a' x 65536),
         core(400, 'AH00561: Request header exceeds LimitRequestFieldSize')],
        ['Bearer token of 8191 bytes',
         hdr($A, 'Authorization: Bearer ' . 'a' x 8191),
         core(400, 'AH00561: Request header exceeds LimitRequestFieldSize')],
        ['Basic password of 6000 bytes',
         hdr($A, 'Authorization: Basic ' . b64('u:' . 'a' x 6000)),
         malformed('basic', 'key too long')],
        ['Basic password of 8191 bytes',
         hdr($A, 'Authorization: Basic ' . b64('u:' . 'a' x 8191)),
         core(400, 'AH00561: Request header exceeds LimitRequestFieldSize')],
        ['query key of 0 bytes', hdr($Q), malformed('query', 'empty key')],
        ['query key of 1 byte',
         hdr("${Q}a"),
         malformed('query', 'not in the key format')],
        ["query key of $qmax bytes (the line is 8190)",
         hdr($Q . 'a' x $qmax),
         malformed('query', 'key too long')],
        ['query key of 8191 bytes',
         hdr($Q . 'a' x 8191),
         core(414, 'AH00565: request failed')],
        ['query key of 8192 bytes',
         hdr($Q . 'a' x 8192),
         core(414, 'AH00565: request failed')],

        # NUL.  httpd refuses a NUL byte anywhere in the head itself, even after
        # a valid key; %00 in the query and a NUL inside Basic credentials reach
        # the module, which refuses them.
        ['NUL in a header key',
         hdr($A, "X-API-Key: ak_ab\0cd"),
         core(400, 'core: NULL bytes in header')],
        ['NUL after a valid header key',
         hdr($A, "X-API-Key: $G\0"),
         core(400, 'core: NULL bytes in header')],
        ['NUL after a valid Bearer token',
         hdr($A, "Authorization: Bearer $G\0x"),
         core(400, 'core: NULL bytes in header')],
        ['raw NUL in the query',
         hdr("${Q}ak\0x"),
         core(400, 'core: NULL bytes in header')],
        ['%00 after a valid query key', hdr("$Q$G%00"), malformed('query', 'decode')],
        ['%00 alone in the query', hdr("${Q}%00"), malformed('query', 'decode')],
        ['NUL inside Basic credentials after a valid key (password)',
         hdr($A, 'Authorization: Basic ' . b64("u:$G\0x")),
         malformed('basic', 'not in the key format')],
        ['NUL inside Basic credentials after a valid key (user)',
         hdr($A, 'Authorization: Basic ' . b64("$G\0x:")),
         malformed('basic', 'not in the key format')],

        # CR and LF: header injection.  httpd refuses a bare CR or LF inside a
        # field (strict HTTP parsing); decoded from the query or from Basic they
        # are just bytes of a malformed key.
        ['CR inside a header key',
         hdr($A, "X-API-Key: ak_ab\rcd"),
         core(400, 'AH02427: Request header value is malformed')],
        ['bare LF: a second header smuggled after a valid key',
         hdr($A, "X-API-Key: $G\nX-API-Key: junk"),
         core(400, 'core: Failed to read request header line')],
        ['bare LF: a header smuggled after a junk key',
         hdr($A, "X-API-Key: ak_ab\nX-Injected: 1"),
         core(400, 'core: Failed to read request header line')],
        ['%0D%0A in a query key',
         hdr("${Q}ak%0D%0AX-Injected:%201"),
         malformed('query', 'not in the key format')],
        ['CR LF inside Basic credentials',
         hdr($A, 'Authorization: Basic ' . b64("u:ak\r\nX-Injected: 1")),
         malformed('basic', 'not in the key format')],

        # Tabs.  Leading and trailing ones are httpd's optional whitespace, and
        # the module accepts a tab after "Bearer" (blanks, as documented);
        # inside a key a tab is malformed; raw in the request line, httpd's 400.
        ['tab inside a header key',
         hdr($A, "X-API-Key: ak_ab\tcd"),
         malformed('header', 'not in the key format')],
        ['tabs around a valid header key',
         hdr($A, "X-API-Key: \t$G\t"),
         accepted('header', 1)],
        ['tab between Bearer and a valid token',
         hdr($A, "Authorization: Bearer\t$G"),
         accepted('bearer')],
        ['tab inside a Bearer token',
         hdr($A, "Authorization: Bearer ak_a\tb"),
         malformed('bearer', 'not in the key format')],
        ['%09 in a query key',
         hdr("${Q}ak%09x"),
         malformed('query', 'not in the key format')],
        ['raw tab in the query',
         hdr("${Q}a\tb"),
         core(400, 'AH03448: HTTP Request Line; Excess whitespace')],
        ['tab inside Basic credentials',
         hdr($A, 'Authorization: Basic ' . b64("u:a\tb")),
         malformed('basic', 'not in the key format')],

        # UTF-8.
        ['UTF-8 in a header key',
         hdr($A, "X-API-Key: ak_\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"),
         malformed('header', 'not in the key format')],
        ['UTF-8 before a valid Bearer token',
         hdr($A, "Authorization: Bearer \xe2\x82\xac$G"),
         malformed('bearer', 'not in the key format')],
        ['UTF-8 percent-encoded in the query',
         hdr("${Q}ak_%D0%BA%D0%BB"),
         malformed('query', 'not in the key format')],
        ['UTF-8 raw in the query',
         hdr("${Q}ak_\xd0\xba\xd0\xbb"),
         malformed('query', 'not in the key format')],
        ['UTF-8 inside Basic credentials',
         hdr($A, 'Authorization: Basic ' . b64("u:\xd0\xba\xd0\xbb")),
         malformed('basic', 'not in the key format')],

        # Percent-encoding is undone once, never twice.
        ['%2541 in the query',
         hdr("${Q}%2541"),
         malformed('query', 'not in the key format')],
        ['a valid key with its _ double-encoded (%255F)',
         hdr("$Q$enc2"),
         malformed('query', 'not in the key format')],
        ['the same key encoded once (%5F)', hdr("$Q$enc1"), accepted('query')],
        ['a dangling % in the query', hdr("${Q}ak%"), malformed('query', 'decode')],
        ['a bad escape in the query', hdr("${Q}ak%zz"), malformed('query', 'decode')],

        # Repeated headers (httpd joins them with ", "), obsolete line folding
        # (httpd 2.4 joins the continuation to the field, so a key split by a
        # fold is no key, and junk folded after a valid key spoils it), two
        # Authorization headers, Bearer and X-API-Key both.
        ['X-API-Key twice, the same key',
         hdr($A, "X-API-Key: $G", "X-API-Key: $G"),
         accepted('header')],
        ['X-API-Key twice, two keys',
         hdr($A, "X-API-Key: $G", "X-API-Key: $other"),
         conflict('header')],
        ['X-API-Key twice, a key and junk',
         hdr($A, "X-API-Key: $G", 'X-API-Key: junk'),
         conflict('header')],
        ['X-API-Key twice, the second empty',
         hdr($A, "X-API-Key: $G", 'X-API-Key: '),
         conflict('header')],
        ['a valid key split by an obs-fold',
         hdr($A, 'X-API-Key: ' . substr($G, 0, 10), ' ' . substr($G, 10)),
         malformed('header', 'not in the key format')],
        ['junk folded after a valid key',
         hdr($A, "X-API-Key: $G", "\tjunk"),
         malformed('header', 'not in the key format')],
        ['Authorization twice, the same Bearer token',
         hdr($A, "Authorization: Bearer $G", "Authorization: Bearer $G"),
         accepted('bearer')],
        ['Authorization twice, two Bearer tokens',
         hdr($A, "Authorization: Bearer $G", "Authorization: Bearer $other"),
         conflict('bearer')],
        ['Authorization twice, Bearer and Basic',
         hdr($A, "Authorization: Bearer $G", 'Authorization: Basic ' . b64('u:p')),
         conflict('bearer')],
        ['Bearer and X-API-Key, the same key',
         hdr($A, "Authorization: Bearer $G", "X-API-Key: $G"),
         accepted('header')],
        ['Bearer and X-API-Key, two keys',
         hdr($A, "Authorization: Bearer $other", "X-API-Key: $G"),
         conflict('bearer')],
        ['the query parameter twice, two keys',
         hdr("$Q$G&api_key=$other"),
         conflict('query')],

        # Authorization schemes (where the defaults, X-API-Key and Bearer, are
        # read).  "Bearer" without a token is a bad key (RFC 6750 invalid_token),
        # another scheme is no key at all (a challenge without an error).
        ['Bearer without a token',
         hdr('/index.txt', 'Authorization: Bearer'),
         malformed('bearer', 'empty key')],
        ['Bearer and spaces only',
         hdr('/index.txt', 'Authorization: Bearer      '),
         malformed('bearer', 'empty key')],
        ['Bearer and blanks only',
         hdr('/index.txt', "Authorization: Bearer \t \t"),
         malformed('bearer', 'empty key')],
        ['lower-case bearer',
         hdr('/index.txt', "Authorization: bearer $G"),
         accepted('bearer')],
        ['upper-case BEARER',
         hdr('/index.txt', "Authorization: BEARER $G"),
         accepted('bearer')],
        ['Bearerx, a scheme of its own',
         hdr('/index.txt', "Authorization: Bearerx $G"),
         missing()],
        ['Token scheme', hdr('/index.txt', "Authorization: Token $G"), missing()],
        ['Digest scheme',
         hdr('/index.txt', "Authorization: Digest username=\"$G\""),
         missing()],
        ['Basic where basic is not a source',
         hdr('/index.txt', 'Authorization: Basic ' . b64("u:$G")),
         missing()],

        # SQL.  The checksum format has no room for it (base62 after the
        # prefix), so every such key is malformed, without a query.  Where
        # legacy keys are accepted (AuthAPIKeyFormat any) it is looked up, by
        # its digest, and unknown.  A comma in a Bearer token reads as a second
        # token (httpd joins a repeated header with ", "): 400 invalid_request.
        ['SQL in a header key',
         hdr($A, "X-API-Key: ' OR 1=1 --"),
         malformed('header', 'not in the key format')],
        ['SQL after a key prefix',
         hdr($A, "X-API-Key: ak_'; DROP TABLE apikey; --"),
         malformed('header', 'not in the key format')],
        ['SQL in a key of the valid length',
         hdr($A, 'X-API-Key: ' . substr("ak_' OR '1'='1' --" . 'x' x 40, 0, length $G)),
         malformed('header', 'not in the key format')],
        ['SQL in a query key',
         hdr("${Q}%27%20OR%201%3D1%20--"),
         malformed('query', 'not in the key format')],
        ['SQL in Basic credentials',
         hdr($A, 'Authorization: Basic ' . b64("u:' OR 1=1 --")),
         malformed('basic', 'not in the key format')],
        ['SQL with a comma in a Bearer token',
         hdr($A, "Authorization: Bearer ' UNION SELECT 1,2,3 --"),
         conflict('bearer')],
        ['SQL as a legacy header key',
         hdr('/legacy/index.txt', "X-API-Key: x'OR'1'='1'--"),
         unknown('header', 1)],
        ['SQL as a legacy query key',
         hdr('/legacy/index.txt?api_key=' . qesc("x'OR'1'='1")),
         unknown('query', 1)],
        ['DROP TABLE as a legacy Bearer token',
         hdr('/legacy/index.txt', "Authorization: Bearer x');DROP/**/TABLE/**/apikey;--"),
         unknown('bearer', 1)],
        ['a legacy key over 512 bytes',
         hdr('/legacy/index.txt', 'X-API-Key: ' . 'a' x 513),
         malformed('header', 'key too long')],

        # The table is intact: a key the server has not seen yet is looked up
        # and accepted.  Then a well-formed unknown key: one query, and none
        # the second time (the negative cache); a bad checksum: none at all.
        ['a key not yet seen, after the SQL',
         hdr($A, "X-API-Key: $other"),
         accepted('header', 1)],
        ['a well-formed unknown key',
         hdr($A, "X-API-Key: $unknown"),
         unknown('header', 1)],
        ['the same unknown key again',
         hdr($A, "X-API-Key: $unknown"),
         unknown('header', 0)],
        ['a bad checksum',
         hdr($A, 'X-API-Key: ' . bad_checksum($G)),
         malformed('header', 'bad checksum')],
        ['101 request headers (LimitRequestFields)',
         hdr($A, map { "X-H$_: 1" } 1..101),
         core(400, 'AH00563: Number of request headers exceeds LimitRequestFields')],
    );
}

my @count = cases(random_wellformed_key(), random_wellformed_key());
plan tests => @count + 3 + $FLOOD_TESTS,
    need(need_module('authn_apikey', 'dbd'),
         { 'curl' => -x '/usr/bin/curl' },
         { 'the prefork MPM' => -e "$libexec/mod_mpm_prefork.so" });

# A private prefork server of exactly four children (none is ever started
# or stopped: MaxSpareServers is the total), so that the memory of the
# children that served the flood can be read from /proc.  The cache holds
# every unknown key of the test (negative entries for 300 s); no change
# poller, so nothing empties it behind the test's back.
my $srv = ApiKeyServer->new(name => 'hostile', mpm => 'prefork', conf => <<'CONF');
StartServers 4
MinSpareServers 1
MaxSpareServers 4
ServerLimit 4
MaxRequestWorkers 4
KeepAliveTimeout 2
# The module's refusals are logged at info, each store query at trace1;
# httpd's own refusals of bad characters at debug (core).
LogLevel info core:debug authn_apikey:trace1
LogFormat "%>s %{result}K %{source}K" hostile
CustomLog hostile_log hostile
AuthAPIKeyCacheTimeout 300 negative=300
AuthAPIKeyCacheSize 16384
AuthAPIKeyRefresh 0
# One client sends all the garbage: the default failure limit would soon
# refuse it without a look-up, which 235_failure_default.t tests.
AuthAPIKeyFailureLimit off
<Location /all>
    AuthName "hostile"
    AuthAPIKeySource header:X-API-Key bearer query:api_key basic
</Location>
<Location /legacy>
    AuthName "hostile"
    AuthAPIKeyFormat any
    AuthAPIKeySource header:X-API-Key bearer query:api_key basic
</Location>
<Location /apikey-status>
    SetHandler apikey-status
    AuthAPIKeyStatus On
    Require all granted
</Location>
CONF
my $dir = $srv->dir;
for my $d (qw(all legacy)) {
    make_path("$dir/htdocs/$d");
    open(my $fh, '>', "$dir/htdocs/$d/index.txt") or die $!;
    print $fh "ok\n";
    close $fh;
}

my $good  = create_key(owner => 'hostile')->{key};
my $other = create_key(owner => 'hostile')->{key};
my $G = $good;
my @cases = cases($good, $other);

my $t_start = time;
my $rows = `sqlite3 ${\ key_store()} 'SELECT count(*) FROM apikey'`;
chomp $rows;
$srv->start or die 'server did not start';

my $elog = "$dir/error_log";
my $alog = "$dir/hostile_log";
sub size { -s $_[0] // 0 }
sub since {
    my ($file, $off) = @_;
    open(my $fh, '<', $file) or return '';
    seek($fh, $off, 0);
    local $/;
    return <$fh> // '';
}

# Sends raw bytes, reads the answer to its end (the server closes after
# logging the request).  Deadlines here and below are what a slow machine
# may need (patience(), longer under valgrind); they end as soon as what
# they wait for is there.
sub raw {
    my $bytes = shift;
    local $SIG{PIPE} = 'IGNORE';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $srv->{port},
                                  Timeout => patience(10))
        or die "connect: $!";
    $s->autoflush(1);
    print $s $bytes;
    my ($resp, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(patience(10))) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }
    close $s;
    return $resp;
}

# The error-log lines of one request, condensed: the module's tagged
# messages, its trace of accepted keys and store queries, and httpd's own
# refusals (their tag and message, not the value they quote).
sub condense {
    my $text = shift;
    my ($db, @m) = (0);
    for (split /\n/, $text) {
        if (/looking the key up in the store/) { $db++ }
        elsif (/(APIKEY\d+: .*)$/) { push @m, $1 }
        elsif (/API key \w+ \(owner .*\) accepted from (\w+)$/) {
            push @m, "accepted from $1";
        }
        elsif (/\[core:\w+\].*\[client .*?(AH\d+: [^:]+)/) { push @m, $1 }
        elsif (/\[core:\w+\].*(NULL\ bytes\ in\ header
                                 |Failed\ to\ read\ request\ header\ line)/x) {
            push @m, "core: $1";
        }
    }
    return (join('; ', @m), $db);
}

my ($leaks, $injected) = (0, 0);
for my $c (@cases) {
    my ($name, $bytes, $want) = @$c;
    my ($e0, $a0) = (size($elog), size($alog));
    my $resp = raw($bytes);
    my $t0 = time;
    sleep 0.02 while size($alog) == $a0 && time - $t0 < patience();
    my ($code) = $resp =~ m{^HTTP/1\.1 (\d{3}) };
    my ($chal) = $resp =~ m{^WWW-Authenticate: ([^\r\n]*)}mi;
    $chal = !defined $chal ? '-'
          : $chal =~ /error="(\w+)"/ ? $1 : 'challenge';
    my $logged = since($alog, $a0);
    chomp $logged;
    my ($log, $db) = condense(since($elog, $e0));
    my $got = sprintf '%s %s | %s | %s | db=%d', $code // 'none', $chal,
                      $logged, $log, $db;
    ok t_cmp($got, $want, $name);
    # The answer never echoes a key nor carries a smuggled header.
    $leaks++ if index($resp, $G) >= 0 || index($resp, $other) >= 0;
    $injected++ if $resp =~ /^X-Injected/mi;
}
ok t_cmp($leaks, 0, 'no answer echoes a key');
ok t_cmp($injected, 0, 'no answer carries a smuggled header');
my $after = `sqlite3 ${\ key_store()} 'SELECT count(*) FROM apikey'`;
chomp $after;
ok t_cmp("$after", "$rows", 'the key table has as many rows as before the SQL');

# The flood.  Keys distinct, half malformed in eight ways, half well-formed
# but unknown, sent as X-API-Key, Bearer or in the query, through four
# keep-alive connections (one per child).
my @B62 = ('0'..'9', 'A'..'Z', 'a'..'z');
my %seen;
sub garbage {
    my ($i, $tag, $query) = @_;
    my $w = random_wellformed_key();
    my $m = int($i / 2) % 8;
    return $m == 0 ? bad_checksum($w)
         : $m == 1 ? substr($w, 0, -1)                      # truncated
         : $m == 2 ? "${w}x$i"                              # too long
         : $m == 3 ? "' OR 1=1 -- $tag$i"
         : $m == 4 ? "ak_$tag$i'; DROP TABLE apikey; --"
         : $m == 5 ? 'ak!' . substr($w, 3)                  # bad prefix
         : $m == 6 ? "\xd0\xba$tag$i\xe2\x82\xac"           # UTF-8
         : $query  ? undef                                  # %00, below
         :           join('', map { $B62[rand 62] } 1..(50 + $i % 900)) . $i;
}
# Writes a curl config of one operation per key (a header or query of its
# own each) and runs it.  Returns the count of each status, and of what was
# sent: "KIND SOURCE" => n, and decode => n (the %00 ones).
my @SRC = qw(header bearer query);
sub flood {
    my ($n, $tag, $par, $keys) = @_;
    my (@ops, %sent);
    for my $i (0 .. $n - 1) {
        my $src = $i % 3;
        my ($key, $kind, $url) = (undef, 'unknown', $srv->url('/all/index.txt'));
        if ($keys) {
            $key = $keys->[$i];
        }
        else {
            if ($i % 2) {
                $key = random_wellformed_key();
            }
            else {
                $kind = 'malformed';
                $key = garbage($i, $tag, $src == 2);
            }
            redo if defined $key && $seen{$key}++;
        }
        $sent{"$kind $SRC[$src]"}++;
        my @h;
        if (!defined $key) {
            $sent{decode}++;
            $url .= "?api_key=ak%00$tag$i";
        }
        elsif ($src == 0) {
            push @h, "X-API-Key: $key";
        }
        elsif ($src == 1) {
            push @h, "Authorization: Bearer $key";
        }
        else {
            $url .= '?api_key=' . qesc($key);
        }
        push @ops, qq{url = "$url"\noutput = "/dev/null"\n}
                   . qq{write-out = "%{http_code}\\n"\n}
                   . join('', map { qq{header = "$_"\n} } @h);
    }
    my $cfg = "$dir/flood-$tag.cfg";
    open(my $fh, '>', $cfg) or die "$cfg: $!";
    print $fh join("next\n", @ops);
    close $fh;
    my %st;
    $st{$_}++ for split /\n/,
        `curl -s --no-progress-meter --parallel --parallel-max $par -K $cfg 2>/dev/null`;
    unlink $cfg;
    return (\%st, \%sent);
}
sub counters {
    my $page = `curl -s ${\ $srv->url('/apikey-status?auto')}`;
    return { $page =~ /^(\w+): (\d+)$/mg };
}
sub delta {
    my ($c0, $c1, @names) = @_;
    return join ' ', map { "$_=" . (($c1->{$_} // 0) - ($c0->{$_} // 0)) } @names;
}
# Waits for the counters to reach n more refusals (they are counted when
# the request is logged, after the client has its answer).
sub counters_after {
    my ($c0, $n) = @_;
    my ($c, $t0) = (undef, time);
    do {
        $c = counters();
        my $done = 0;
        $done += ($c->{$_} // 0) - ($c0->{$_} // 0)
            for map { "Requests_$_" } qw(malformed unknown);
        return $c if $done >= $n;
        sleep 0.05;
    } while (time - $t0 < patience());
    return $c;
}
sub children {
    my $master = $srv->pid;
    my %kids;
    opendir(my $d, '/proc') or die "/proc: $!";
    for my $pid (grep { /^\d+$/ } readdir $d) {
        my $st = read_file("/proc/$pid/status");
        next unless $st =~ /^PPid:\s+(\d+)$/m && $1 == $master;
        $kids{$pid} = { $st =~ /^(VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+) kB$/mg };
    }
    return \%kids;
}
sub lines_of {
    my ($file, $off, $n) = @_;
    my ($text, $t0) = ('', time);
    do {
        $text = since($file, $off);
        my $count = () = $text =~ /\n/g;
        return $text if $count >= $n;
        sleep 0.05;
    } while (time - $t0 < patience());
    return $text;
}

# Warm-up: the same mix, so that every code path, pool and buffer has been
# used once by every child before memory is measured.
flood(2000, 'w', 4);
my $mem0 = children();
my $c0 = counters();
my ($e0, $a0) = (size($elog), size($alog));
my $t0 = time;
my ($st, $sent) = flood(10000, 'f', 4);
my $flood_time = time - $t0;
my $access = lines_of($alog, $a0, 10000);
my $errors = since($elog, $e0);
my $c1 = counters_after($c0, 10000);
my $mem1 = children();

my %kind;
for my $k (grep { / / } keys %$sent) {
    $kind{(split / /, $k)[0]} += $sent->{$k};
}
ok t_cmp(join(' ', map { "$_=$st->{$_}" } sort keys %$st), '401=10000',
         sprintf('10,000 distinct garbage keys (%d malformed, %d unknown) '
                 . 'in %.1f s: all 401', $kind{malformed}, $kind{unknown},
                 $flood_time));
ok t_cmp(delta($c0, $c1, qw(Requests_malformed Requests_unknown CacheMisses
                            CacheNegativeHits CacheHits DatabaseErrors)),
         "Requests_malformed=$kind{malformed} Requests_unknown=$kind{unknown} "
         . "CacheMisses=$kind{unknown} CacheNegativeHits=0 CacheHits=0 "
         . 'DatabaseErrors=0',
         'counters: a store look-up (cache miss) for each unknown key, none '
         . 'for a malformed one');
my %n;
$n{db}++ while $errors =~ /looking the key up in the store/g;
$n{$1}++ while $errors =~ /(APIKEY000(?:11|13|18)): /g;
ok t_cmp(join(' ', map { "$_=" . ($n{$_} // 0) }
                   qw(db APIKEY00011 APIKEY00018 APIKEY00013)),
         sprintf('db=%d APIKEY00011=%d APIKEY00018=%d APIKEY00013=%d',
                 $kind{unknown}, $kind{malformed} - $sent->{decode},
                 $sent->{decode}, $kind{unknown}),
         'the error log: one store query per unknown key, a refusal line '
         . 'for every request');
# (A status page request may be logged among them: "200 - -".)
my %a;
$a{$1}++ while $access =~ /^401 (.+)$/mg;
ok t_cmp(join(' ', map { "[$_]=" . ($a{$_} // 0) } sort keys %a),
         join(' ', map { "[$_]=$sent->{$_}" } sort grep { / / } keys %$sent),
         'the access log: 10,000 lines of 401, with the result and source');

# Memory.  The same four children before and after; their private memory
# (RssAnon: heap, pools, stacks) may not grow by more than 16 bytes a
# request (160 KiB for the 10,000), which any per-request leak would pass
# (the smallest thing the module allocates per request is a 64-byte record;
# a pool block is 8 KiB).  VmRSS also counts the shared look-up cache's
# pages (RssShmem), which a child maps in as it first touches them: that
# grows with the keys the cache holds, up to its fixed size
# (AuthAPIKeyCacheSize 16384 x 320 bytes), not with traffic.
# Instrumented runs keep memory for their own reasons (ASan holds freed
# blocks in quarantine; valgrind runs httpd as one process): the bound
# would measure the tool, not the module.
my $no_mem = $ENV{APIKEY_ASAN}     ? 'ASan holds freed memory in quarantine'
           : $ENV{APIKEY_VALGRIND} ? 'httpd runs as one process under valgrind'
           : '';
if ($no_mem) {
    skip($no_mem, 1) for 1..2;
}
else {
    ok t_cmp(join(' ', sort keys %$mem1), join(' ', sort keys %$mem0),
             sprintf('the same %d children before and after', scalar keys %$mem0));
    my %sum;
    for my $pid (sort keys %$mem0) {
        for my $f (qw(VmRSS RssAnon RssFile RssShmem)) {
            $sum{"$f.0"} += $mem0->{$pid}{$f} // 0;
            $sum{"$f.1"} += $mem1->{$pid}{$f} // 0;
        }
        printf "# child %d: VmRSS %d -> %d kB, RssAnon %d -> %d, RssFile %d -> %d, "
               . "RssShmem %d -> %d\n", $pid,
               map { ($mem0->{$pid}{$_} // 0, $mem1->{$pid}{$_} // 0) }
                   qw(VmRSS RssAnon RssFile RssShmem);
    }
    my $anon = $sum{'RssAnon.1'} - $sum{'RssAnon.0'};
    ok t_cmp($anon <= 160 && $sum{'RssAnon.0'} > 0 ? 1 : 0, 1,
             sprintf('private memory flat: RssAnon %d -> %d kB (+%d; VmRSS %d -> '
                     . '%d kB, of which shared %d -> %d kB)',
                     @sum{qw(RssAnon.0 RssAnon.1)}, $anon,
                     @sum{qw(VmRSS.0 VmRSS.1 RssShmem.0 RssShmem.1)}));
}

# The negative cache, measured on keys of their own: 500 unknown keys cost
# 500 look-ups the first time and none the second.
my @fresh = map { random_wellformed_key() } 1..500;
$c0 = counters();
$e0 = size($elog);
($st) = flood(500, 'n1', 1, \@fresh);
$c1 = counters_after($c0, 500);
my $db1 = () = since($elog, $e0) =~ /looking the key up in the store/g;
ok t_cmp(join(' ', "401=$st->{401}",
              delta($c0, $c1, qw(CacheMisses CacheNegativeHits)), "db=$db1"),
         '401=500 CacheMisses=500 CacheNegativeHits=0 db=500',
         '500 new unknown keys: 500 look-ups');
$c0 = $c1;
$e0 = size($elog);
($st) = flood(500, 'n2', 4, \@fresh);
$c1 = counters_after($c0, 500);
my $db2 = () = since($elog, $e0) =~ /looking the key up in the store/g;
ok t_cmp(join(' ', "401=$st->{401}",
              delta($c0, $c1, qw(CacheMisses CacheNegativeHits)), "db=$db2"),
         '401=500 CacheMisses=0 CacheNegativeHits=500 db=0',
         'the same 500 again: answered by the negative cache, no look-up');

$srv->stop;
my $all = read_file($alog);
ok t_cmp(scalar(() = $all =~ /^5\d\d /mg), 0, 'no 5xx in the whole access log');
ok t_cmp(scalar(() = read_file($elog)
                     =~ /\[(?:\w+:)?(?:crit|alert|emerg)\]|segfault|exit signal/g),
         0, 'no crash or critical error in the error log');
printf "# wall time of the test: %.1f s (flood %.1f s)\n", time - $t_start,
       $flood_time;
