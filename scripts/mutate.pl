#!/usr/bin/perl
# make mutate: plants each bug of scripts/mutants.txt in a copy of the tree
# (build/mutate/tree; the sources themselves are never touched), builds it,
# runs the tests that cover it, and says which bugs the tests let through.
#
#   perl scripts/mutate.pl [NAME ...]     (all mutants, or those named)
#   perl scripts/mutate.pl --check        (only that each mutant's text is
#                                          in its file once: make test)
#
# A mutant is killed when its build passes and a covering test fails;
# "survived" is a missing or blind test; "stillborn" (it does not build) and
# "stale" (its text is no longer in the file) are mistakes of the list.
# Exits non-zero unless every mutant was killed.  Not part of make test: it
# takes a build and a few test files a mutant (docs/sanitizers.md has the
# time of a whole run).
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use Time::HiRes qw(time);

my $top = dirname(dirname(File::Spec->rel2abs(__FILE__)));
my $work = "$top/build/mutate";
my $tree = "$work/tree";

sub slurp {
    my $f = shift;
    open(my $fh, '<', $f) or die "$f: $!";
    local $/;
    return scalar <$fh>;
}
sub spit {
    my ($f, $text) = @_;
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh $text;
    close $fh or die "$f: $!";
}

# The list.
my (@mutants, $m, $last);
for my $line (split /\n/, slurp("$top/scripts/mutants.txt")) {
    next if $line =~ /^#/;
    if ($line =~ /^\s*$/) {
        undef $m;
        next;
    }
    if ($line =~ /^(\w+):\s*(.*)$/) {
        if ($1 eq 'mutant') {
            $m = { mutant => $2 };
            push @mutants, $m;
        }
        else {
            die "mutants.txt: '$1' before any 'mutant:'\n" unless $m;
            $m->{$1} = $2;
        }
        $last = $1;
    }
    elsif ($m && $line =~ /^\s+(.*)$/) {
        $m->{$last} .= " $1";
    }
}
for my $mu (@mutants) {
    for (qw(file find replace tests)) {
        die "mutants.txt: mutant $mu->{mutant} has no '$_'\n"
            unless defined $mu->{$_};
    }
    s/\\n/\n/g for @$mu{qw(find replace)};
}
if (@ARGV && $ARGV[0] eq '--check') {
    # A refactoring that moves or rewrites a mutant's text makes it stale:
    # said at once, rather than at the next make mutate.
    my $stale = 0;
    for my $mu (@mutants) {
        my $path = "$top/$mu->{file}";
        my $count = -f $path ? () = slurp($path) =~ /\Q$mu->{find}\E/g : -1;
        next if $count == 1;
        $stale++;
        printf STDERR "mutate: mutant %s is stale: %s\n", $mu->{mutant},
            $count < 0 ? "no file $mu->{file}"
                       : "its text is in $mu->{file} $count times, not once";
    }
    printf "mutate: %d mutants, %s\n", scalar @mutants,
        $stale ? "$stale stale" : 'each text in its file once';
    exit($stale ? 1 : 0);
}
if (@ARGV) {
    my %want = map { $_ => 1 } @ARGV;
    @mutants = grep { $want{$_->{mutant}} } @mutants;
    die "mutate: no such mutant: @ARGV\n" unless @mutants;
}

# A copy of the tree, built once as it is: each mutant then rebuilds what
# its file changes.
remove_tree($work);
make_path($tree);
system("tar -C '$top' --exclude=./.git --exclude=./build --exclude=./t/logs "
       . "--exclude=./t/data -cf - . | tar -C '$tree' -xf -") == 0
    or die "mutate: cannot copy the tree\n";
sub build {
    return system("make -C '$tree' all unit >'$work/build.log' 2>&1") == 0;
}
build() or die "mutate: the unmutated tree does not build (see $work/build.log)\n";

sub run_tests {
    my @tests = split ' ', shift;
    my @files = grep { !/^unit:/ } @tests;
    for my $u (grep { /^unit:/ } @tests) {
        (my $name = $u) =~ s/^unit://;
        return 0 if system("'$tree/build/unit/$name.t' >>'$work/tests.log' 2>&1") != 0;
    }
    return 1 unless @files;
    return system("cd '$tree' && sh scripts/run-tests.sh @files "
                  . ">>'$work/tests.log' 2>&1") == 0;
}

my (%n, @survivors);
my $t_all = time;
for my $mu (@mutants) {
    my $t0 = time;
    my $path = "$tree/$mu->{file}";
    my $orig = slurp($path);
    my $count = () = $orig =~ /\Q$mu->{find}\E/g;
    my $result;
    if ($count != 1) {
        $result = $count ? "stale (found $count times)" : 'stale (not found)';
    }
    else {
        (my $mutated = $orig) =~ s/\Q$mu->{find}\E/$mu->{replace}/;
        spit($path, $mutated);
        unlink "$work/tests.log";
        if (!build()) {
            $result = 'stillborn';
        }
        else {
            $result = run_tests($mu->{tests}) ? 'SURVIVED' : 'killed';
        }
        spit($path, $orig);
    }
    (my $kind = $result) =~ s/ .*//;
    $n{$kind}++;
    push @survivors, $mu->{mutant} if $result ne 'killed';
    printf "%-32s %-10s %4.0f s  %s\n", $mu->{mutant}, $result, time - $t0,
           $mu->{tests};
}
build();
printf "\nmutate: %d mutants in %.0f s: %s\n", scalar @mutants, time - $t_all,
       join(', ', map { "$n{$_} $_" } sort keys %n);
print "mutate: not killed: @survivors\n" if @survivors;
exit(@survivors ? 1 : 0);
