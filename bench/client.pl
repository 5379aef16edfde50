#!/usr/bin/perl
# make bench's keep-alive client for callgrind runs that need many distinct
# keys (ab sends one): over one connection (a new one if httpd closes it),
# WARM requests with the first WARM keys of KEYFILE, one each, then N more
# cycling over the same keys, each answer checked to be 200.  The client's
# speed does not matter: callgrind counts the server's instructions.
# With START, the keys from line START + 1 on.  With CLIENT_WARM=0 in the
# environment the warm-up is skipped (an earlier call made it).  Each
# request has the form ab -k gives it (HTTP/1.0, Connection: Keep-Alive,
# the same headers), so that M3 and M5 compare with M2 request for request.
# Usage: client.pl PORT KEYFILE WARM N [START]
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $file, $warm, $n, $start) = @ARGV;
die "usage: client.pl PORT KEYFILE WARM N [START]\n" unless defined $n;
$start //= 0;
open(my $fh, '<', $file) or die "$file: $!";
my @keys;
while (my $k = <$fh>) {
    next if $. <= $start;
    chomp $k;
    push @keys, $k;
    last if @keys == $warm;
}
close $fh;
die "client: $file has fewer than $warm keys\n" if @keys < $warm;

my $sock;
sub connect_once {
    $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 600)
        or die "client: connect to $port: $!";
}

# One request; the status, after reading the whole answer.
sub request {
    my ($key) = @_;
    for my $attempt (1, 2) {
        connect_once() unless $sock;
        print $sock "GET /index.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n"
                  . "X-API-Key: $key\r\nHost: 127.0.0.1:$port\r\n"
                  . "User-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n";
        my $status = <$sock>;
        if (!defined $status) {    # closed by httpd: once more, anew
            undef $sock;
            next;
        }
        my ($code) = $status =~ m{^HTTP/1\.\d (\d{3})} or die "client: '$status'";
        my ($len, $close, $keep) = (0, 0, 0);
        while (defined(my $h = <$sock>)) {
            last if $h eq "\r\n";
            $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
            $close = 1 if $h =~ /^Connection:\s*close/i;
            $keep = 1 if $h =~ /^Connection:\s*Keep-Alive/i;
        }
        my $body = '';
        read($sock, $body, $len) if $len;
        undef $sock if $close || !$keep;    # HTTP/1.0: kept only if said
        return $code;
    }
    die "client: httpd closed the connection twice\n";
}

my $nkeys = @keys;
my $skip_warm = defined $ENV{CLIENT_WARM} && $ENV{CLIENT_WARM} eq '0';
for my $i (0 .. ($skip_warm ? -1 : $warm - 1)) {
    my $code = request($keys[$i]);
    die "client: warm-up request $i got $code\n" unless $code == 200;
}
for my $i (0 .. $n - 1) {
    my $code = request($keys[$i % $nkeys]);
    die "client: request $i got $code\n" unless $code == 200;
}
