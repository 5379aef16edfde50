#!/usr/bin/perl
# The reports of a sanitizer or valgrind run, as TAP.  scripts/test-
# sanitizers.sh runs this after the suites with APIKEY_SAN_MODE (asan or
# valgrind), APIKEY_SAN_LOGS (the reports' directory) and APIKEY_SAN_TREE
# (the tree that was tested).  What fails a run, and why, is in
# docs/sanitizers.md.
use strict;
use warnings;

use File::Basename qw(basename dirname);
use File::Spec;
use Test::More;
use Time::HiRes qw(sleep time);

my $mode = $ENV{APIKEY_SAN_MODE} // '';
plan skip_all => 'not a sanitizer run (see scripts/test-sanitizers.sh)'
    unless $mode eq 'asan' || $mode eq 'valgrind';
my $logs = $ENV{APIKEY_SAN_LOGS} or BAIL_OUT('APIKEY_SAN_LOGS is not set');
my $tree = $ENV{APIKEY_SAN_TREE} or BAIL_OUT('APIKEY_SAN_TREE is not set');
my $top  = dirname(dirname(File::Spec->rel2abs(__FILE__)));

# A frame is ours when it is in a source file of the module, htapikey or
# the unit tests, or in the module's shared object or htapikey's binary.
my @ours = map { basename($_) }
           glob("$top/mod_authn_apikey.c $top/src/*/*.c $top/t/unit/*.c");
my $files = join '|', map { quotemeta } @ours;
my $ours = qr{(?:^|[/\s(])(?:$files)(?::\d|$)
              |mod_authn_apikey\.so|/htapikey\b|/build/unit/test_\w+\.t\b}xm;

# Prints a finding's first lines (the kind, the place, a few frames).
sub show {
    my ($title, @found) = @_;
    diag($title) if @found;
    for my $f (@found) {
        diag("  $f->{file}: $f->{what}" . ($f->{ours} ? '' : '  [not in our code]'));
        diag("      $_") for @{ $f->{frames} }[0 .. ($#{ $f->{frames} } < 7
                                                     ? $#{ $f->{frames} } : 7)];
    }
}

sub slurp {
    my $path = shift;
    open(my $fh, '<', $path) or return '';
    local $/;
    return scalar <$fh> // '';
}

if ($mode eq 'asan') {
    plan tests => 5;

    # Instrumented: a build without the sanitizers would find nothing.
    for my $bin ("$tree/.libs/mod_authn_apikey.so", "$tree/htapikey") {
        my $nm = `nm '$bin' 2>&1`;
        ok($nm =~ /__asan_report_load/ && $nm =~ /__ubsan_handle_/,
           basename($bin) . ' is built with ASan and UBSan');
    }

    # Reports: report.PID, one or more each.  An ASan report starts at
    # ==PID==ERROR (a memory error, or the leak check's), a UBSan one at
    # "file:line:col: runtime error:"; frames follow as "#n ...".
    my (%found, @unknown);
    for my $path (sort glob("$logs/report.*")) {
        my $file = basename($path);
        my ($cur, $n) = (undef, 0);
        my $text = slurp($path);
        for my $line (split /\n/, $text) {
            if ($line =~ /^==\d+==ERROR: (LeakSanitizer|AddressSanitizer): (.*)/) {
                $cur = { file => $file, what => "$1: $2", frames => [],
                         kind => $1 eq 'LeakSanitizer' ? 'leak' : 'asan' };
                push @{ $found{ $cur->{kind} } }, $cur;
                $n++;
            }
            elsif ($line =~ /^(.*?): runtime error: (.*)/) {
                $cur = { file => $file, what => "$1: $2", frames => [$1],
                         kind => 'ubsan' };
                push @{ $found{ubsan} }, $cur;
                $n++;
            }
            elsif ($line =~ /^\s+#\d+ /) {
                push @{ $cur->{frames} },
                     $line =~ s/^\s+//r =~ s/ \(BuildId: \w+\)//r if $cur;
            }
            elsif ($line =~ /^(?:Direct|Indirect) leak .*/ && $cur) {
                $cur->{what} .= "; $line";
            }
            elsif ($line =~ /^==\d+==(?:WARNING|ERROR)/) {
                push @unknown, { file => $file, what => $line, frames => [] };
                $n++;
            }
        }
        # A report this script cannot read is a report all the same.
        push @unknown, { file => $file, frames => [],
                         what => 'unrecognised report: '
                                 . ((split /\n/, $text)[0] // '(empty)') }
            unless $n;
    }
    for my $f (map { @$_ } values %found) {
        $f->{ours} = grep { /$ours/ } @{ $f->{frames} };
    }
    my %title = (
        asan  => 'no AddressSanitizer report, in our code or not',
        leak  => 'no LeakSanitizer report (htapikey, the unit tests)',
        ubsan => 'no UndefinedBehaviorSanitizer report',
    );
    for my $kind (qw(asan leak ubsan)) {
        my @f = @{ $found{$kind} || [] };
        push @f, @unknown if $kind eq 'asan';
        ok(!@f, $title{$kind}) or show("in $logs:", @f);
    }
    exit 0;
}

# valgrind: one XML file per process (vg.PID.xml).  A process writes the
# closing tag when it exits: wait for the servers still doing their exit
# leak check after the suite stopped them.
plan tests => 5;
my @xml = sort glob("$logs/vg.*.xml");
my $t0 = time;
my @open;
while (1) {
    @open = grep { slurp($_) !~ m{</valgrindoutput>} } @xml;
    last if !@open || time - $t0 > 120;
    sleep 0.5;
}
ok(@xml && !@open, scalar(@xml) . ' processes ran under valgrind, and all '
                   . 'finished their report')
    or diag(@xml ? "unfinished: @open" : "no report in $logs");
ok((grep { slurp($_) =~ m{<arg>-X</arg>|<arg>ONE_PROCESS</arg>} } @xml) ? 1 : 0,
   'a server ran under valgrind in one process (httpd -X)');

my @errors;
for my $path (@xml) {
    my $file = basename($path);
    for my $e (slurp($path) =~ m{<error>(.*?)</error>}sg) {
        my ($kind) = $e =~ m{<kind>(.*?)</kind>};
        my ($what) = $e =~ m{<what>(.*?)</what>};
        ($what) = $e =~ m{<xwhat>\s*<text>(.*?)</text>}s unless defined $what;
        my @frames;
        for my $fr ($e =~ m{<frame>(.*?)</frame>}sg) {
            my %v = map { $_ => ($fr =~ m{<$_>(.*?)</$_>}s)[0] // '' }
                    qw(fn obj file line);
            push @frames, ($v{fn} || '???')
                . ($v{file} ? " ($v{file}:$v{line})" : " (in $v{obj})");
        }
        push @errors, { file => $file, kind => $kind // '?',
                        what => "$kind: " . ($what // '?'),
                        frames => \@frames,
                        ours => scalar(grep { /$ours/ } @frames) };
    }
}
my @leaks  = grep { $_->{kind} =~ /^Leak_/ } @errors;
my @memerr = grep { $_->{kind} !~ /^Leak_/ } @errors;
ok(!(grep { $_->{ours} } @memerr), "no memcheck error in the module's code")
    or show("in $logs:", grep { $_->{ours} } @memerr);
ok(!(grep { $_->{ours} } @leaks),
   "no definite leak allocated through the module's code")
    or show("in $logs:", grep { $_->{ours} } @leaks);
{
    # Not ours: httpd, APR or a library on paths of their own.  Known ones
    # are in t/valgrind.supp, each with its reason; a new one shows here as
    # a failing TODO test, to be judged, without failing the run.
    my @other = grep { !$_->{ours} } @errors;
    local $TODO = @other ? 'errors outside the module: judge, then fix or '
                         . 'suppress in t/valgrind.supp' : undef;
    ok(!@other, 'no memcheck error outside the module either')
        or show("in $logs:", @other);
}
