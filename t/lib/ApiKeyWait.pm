# Time in the tests without assuming how fast the machine is: wait for a
# condition with a generous deadline instead of sleeping a fixed time, read
# what a log gained since an offset, and judge a rate limit's answers by the
# times the requests really took (the GCRA, as src/apikey_limit.c has it).
#
# Deadlines are what a slow or busy machine may need, not what an idle one
# takes: a wait returns as soon as its condition holds.  Under valgrind
# (APIKEY_VALGRIND, set by scripts/test-sanitizers.sh) httpd runs many
# times slower, under ASan (APIKEY_ASAN) a few times: the deadlines grow.
package ApiKeyWait;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(patience wait_for size_of text_since wait_text gcra_check
                    timed);

# Seconds to wait for something that takes well under a second on an idle
# machine: $base (30 by default), four times that under valgrind, twice
# under ASan.
sub patience {
    my $base = shift // 30;
    return $ENV{APIKEY_VALGRIND} ? 4 * $base
         : $ENV{APIKEY_ASAN}     ? 2 * $base
         :                         $base;
}

# Calls $cond every $o{every} seconds (0.05) until it returns something
# true, or $o{timeout} seconds (patience()) passed.  Returns what it last
# returned (in list context, all of it): false when the deadline passed.
sub wait_for {
    my ($cond, %o) = @_;
    my $deadline = time + ($o{timeout} // patience());
    while (1) {
        my @r = $cond->();
        return wantarray ? @r : $r[0] if $r[0] || time > $deadline;
        sleep($o{every} // 0.05);
    }
}

# A file's size (0 when it does not exist yet), and what it gained since.
sub size_of { -s $_[0] // 0 }

sub text_since {
    my ($file, $off) = @_;
    open(my $fh, '<', $file) or return '';
    seek($fh, $off // 0, 0);
    local $/;
    return <$fh> // '';
}

# Waits until what $file gained since $off matches $re; returns the first
# match ($1 when the pattern captures, else the whole match), or undef when
# the deadline passed.  Options as wait_for.
sub wait_text {
    my ($file, $off, $re, %o) = @_;
    my $hit;
    wait_for(sub {
        return 0 unless text_since($file, $off) =~ $re;
        $hit = defined $1 ? $1 : $&;
        return 1;
    }, %o);
    return $hit;
}

# Runs $code; returns [start, end, what it returned] (times from
# Time::HiRes::time, the clock httpd's apr_time_now() reads too).
sub timed {
    my $code = shift;
    my $t0 = time;
    my $r = $code->();
    return [$t0, time, $r];
}

# Whether the answers a fresh key got from a rate limit of one request per
# $interval seconds with bursts of $burst are what the GCRA gives for
# requests that reached the server when they did.  Each request is [start,
# end, code]: the server charged it at some instant between the two (the
# requests one after the other, never overlapping), and 200 means
# admitted, 429 refused.  The check is exact: it follows the range of
# theoretical arrival times (TAT) that some choice of instants inside the
# windows leads to, and fails at the first answer that no choice allows.
# Returns '' when every answer is allowed, else what is wrong; in list
# context also the earliest and latest TAT the key may have now.
#
# GCRA (apikey_gcra): tau = interval x (burst - 1); a request at t with the
# key's TAT is admitted when t >= TAT - tau (an idle key's TAT is t), the
# TAT becoming max(TAT, t) + interval; a refused one leaves it.
sub gcra_check {
    my ($interval, $burst, $reqs) = @_;
    my $tau = $interval * ($burst - 1);
    # A margin for the clocks' rounding (microseconds on both sides).
    my $eps = 2e-6;
    my ($lo, $hi);    # the TATs possible so far (undef: a fresh key)
    my $t0 = @$reqs ? $reqs->[0][0] : 0;
    my $at = sub { sprintf '%.3f', $_[0] - $t0 };
    my $i = 0;
    for my $q (@$reqs) {
        my ($s, $e, $code) = @$q;
        my $what = sprintf 'request %d (sent at %s s, answered at %s s)',
                           ++$i, $at->($s), $at->($e);
        if ($code == 200) {
            if (defined $lo) {
                return "$what admitted, but it came before the earliest "
                       . 'instant the GCRA admits (' . $at->($lo - $tau) . ' s)'
                    if $e + $eps < $lo - $tau;
                # Latest: the latest TAT that still admits at the latest
                # instant; earliest: the earliest TAT, at the earliest.
                my $top = $hi < $e + $tau ? $hi : $e + $tau;
                ($lo, $hi) = (($lo > $s ? $lo : $s) + $interval,
                              ($top > $e ? $top : $e) + $interval);
            }
            else {
                ($lo, $hi) = ($s + $interval, $e + $interval);
            }
        }
        elsif ($code == 429) {
            return "$what refused, but "
                   . (defined $hi ? 'the GCRA admits from '
                                    . $at->($hi - $tau) . ' s at the latest'
                                  : 'the key was fresh')
                if !defined $hi || $s - $eps >= $hi - $tau;
            # Refused at t: TAT > t + tau, t at the earliest.
            $lo = $s + $tau if $lo < $s + $tau;
        }
        else {
            return "$what answered $code, neither 200 nor 429";
        }
    }
    return wantarray ? ('', $lo, $hi) : '';
}

1;
