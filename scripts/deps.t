#!/usr/bin/perl
# scripts/deps.sh's install path, with stand-ins for dpkg-query, apt-get and
# sudo on PATH and the policy-rc.d file in a scratch directory: its exit
# status when a package is missing, with and without an existing
# policy-rc.d, when apt-get fails and when the script is killed, and that it
# never leaves a policy-rc.d of its own behind nor touches one it found.
# Run by scripts/test-all.sh (make test) with prove.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use Test::More;

my $top  = dirname(dirname(File::Spec->rel2abs(__FILE__)));
my $deps = "$top/scripts/deps.sh";
my $dir  = tempdir(CLEANUP => 1);
my $bin  = "$dir/bin";
mkdir $bin or die $!;

sub write_file {
    my ($path, $text, $mode) = @_;
    open(my $fh, '>', $path) or die "$path: $!";
    print $fh $text;
    close $fh;
    chmod($mode, $path) if defined $mode;
}

sub slurp {
    my $path = shift;
    open(my $fh, '<', $path) or return undef;
    local $/;
    return scalar <$fh>;
}

# dpkg-query: every package is installed but those in $FAKE_MISSING.
write_file("$bin/dpkg-query", <<'SH', 0755);
#!/bin/sh
for p; do :; done
case " $FAKE_MISSING " in
*" $p "*) echo -n "not-installed" ;;
*) echo -n "installed" ;;
esac
SH
# apt-get: logs its arguments and what policy-rc.d said while it ran, then
# fails with $FAKE_APT_RC, or signals the script with $FAKE_APT_KILL.
write_file("$bin/apt-get", <<'SH', 0755);
#!/bin/sh
{
    echo "apt-get $*"
    if [ -e "$APIKEY_POLICY_RC" ]; then
        echo "policy: $(tail -1 "$APIKEY_POLICY_RC")"
    else
        echo "policy: none"
    fi
} >>"$FAKE_LOG"
if [ -n "$FAKE_APT_KILL" ] && [ "$1" = install ]; then
    kill "-$FAKE_APT_KILL" "$FAKE_SCRIPT_PID"
    sleep 1
fi
exit "${FAKE_APT_RC:-0}"
SH
# sudo (when the suite does not run as root): runs the command as it is.
write_file("$bin/sudo", <<'SH', 0755);
#!/bin/sh
[ "$1" = -n ] && shift
exec "$@"
SH

my $policy = "$dir/policy-rc.d";
my $lists  = "$dir/lists";
mkdir $lists or die $!;

# Runs deps.sh; returns its exit status and the apt-get log.
sub run_deps {
    my (%o) = @_;
    my $log = "$dir/apt.log";
    unlink $log;
    local $ENV{PATH}               = "$bin:$ENV{PATH}";
    local $ENV{APIKEY_POLICY_RC}   = $policy;
    local $ENV{APIKEY_APT_LISTS}   = $lists;
    local $ENV{APIKEY_EXTRA_PKGS}  = '';
    local $ENV{FAKE_MISSING}       = $o{missing} // '';
    local $ENV{FAKE_APT_RC}        = $o{apt_rc} // 0;
    local $ENV{FAKE_APT_KILL}      = $o{kill} // '';
    local $ENV{FAKE_LOG}           = $log;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{FAKE_SCRIPT_PID} = $$;
        # A harness started in the background (or under nohup) passes on
        # SIGINT ignored, which a shell cannot trap: the script must see
        # the signals as a terminal would send them.
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', "$dir/out.log");
        open(STDERR, '>&', \*STDOUT);
        exec('sh', $deps) or exit 127;
    }
    waitpid($pid, 0);
    my $st = $?;
    my $rc = $st & 127 ? 128 + ($st & 127) : $st >> 8;
    return ($rc, slurp($log) // '', slurp("$dir/out.log") // '');
}

my ($rc, $log, $out);

($rc, $log) = run_deps();
is($rc, 0, 'nothing missing: exit 0');
is($log, '', 'nothing missing: apt-get is not run');
ok(!-e $policy, 'nothing missing: no policy-rc.d written');

($rc, $log, $out) = run_deps(missing => 'faketime');
is($rc, 0, 'a package missing, no policy-rc.d: exit 0')
    or diag $out;
like($log, qr/^apt-get install .*\bfaketime\b/m, 'the missing package is installed');
like($log, qr/^apt-get update/m, 'the package lists are refreshed when old');
like($log, qr/^policy: exit 101$/m, 'services are kept stopped during the install');
ok(!-e $policy, 'the policy-rc.d it wrote is gone after');
like($out, qr/deps: done/, 'says it is done');

write_file($policy, "#!/bin/sh\n# the image's own\nexit 0\n", 0755);
($rc, $log, $out) = run_deps(missing => 'faketime');
is($rc, 0, 'a package missing, an existing policy-rc.d: exit 0 '
           . '(the container-image case that used to exit 1)')
    or diag $out;
like($log, qr/^policy: exit 0$/m, 'the existing policy-rc.d is the one in force');
is(slurp($policy), "#!/bin/sh\n# the image's own\nexit 0\n",
   'the existing policy-rc.d is left as it was');
unlink $policy;

($rc, $log, $out) = run_deps(missing => 'faketime', apt_rc => 100);
is($rc, 100, 'apt-get fails: its status is the script\'s');
ok(!-e $policy, 'apt-get fails: no policy-rc.d left behind');

write_file($policy, "#!/bin/sh\nexit 101\n", 0755);
($rc) = run_deps(missing => 'faketime', apt_rc => 100);
isnt($rc, 0, 'apt-get fails with an existing policy-rc.d: non-zero');
ok(-e $policy, 'and the existing policy-rc.d stays');
unlink $policy;

($rc, $log) = run_deps(missing => 'faketime', kill => 'TERM');
is($rc, 143, 'killed during the install: exit 143');
ok(!-e $policy, 'killed: no policy-rc.d left behind');

($rc, $log) = run_deps(missing => 'faketime', kill => 'INT');
is($rc, 130, 'interrupted during the install: exit 130');
ok(!-e $policy, 'interrupted: no policy-rc.d left behind');

done_testing();
