# Fault injection for t/220_faults.t and t/221_faults_deps.t: load from
# curl in the background, a killer of a private server's children, reads
# and writes of its shared memory through /proc, a libfaketime clock, a
# lock held on an SQLite store.  Everything here acts only on processes
# whose parent is the test's own server (t/lib/ApiKeyServer.pm): other
# httpds on the machine are never touched.
package ApiKeyFault;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Spec;
use IPC::Open2 ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);
use Apache::Test ();

our @EXPORT_OK = qw(children_of background finish curl_codes load_until load_keys
                    kill_storm quota_slot mem_read mem_write faketime_env
                    set_clock sqlite_locker count_lines code codes
                    quota_row bad_lines touch $SLOT_SIZE $SLOT_TEXT
                    $SLOT_TEXT_LEN);

my $seq = 0;

sub tmpfile {
    my $what = shift;
    return File::Spec->catfile(Apache::Test::vars('t_logs'),
                               "fault-$$-" . $seq++ . ".$what");
}

# (ppid, state) of a process, from /proc/PID/stat (whose second field, the
# command, may hold spaces and parentheses).
sub stat_of {
    my $pid = shift;
    open(my $fh, '<', "/proc/$pid/stat") or return;
    my $s = <$fh> // return;
    my @f = split / /, substr($s, rindex($s, ')') + 2);
    return ($f[1], $f[0]);
}

# The children of process ppid.
sub children_of {
    my $ppid = shift;
    opendir(my $d, '/proc') or return ();
    return grep { /^\d+$/ && ((stat_of($_))[0] // -1) == $ppid } readdir $d;
}

# Runs code in a child process; finish() waits for it and returns what the
# code returned (a reference, through JSON).  The child leaves with _exit:
# the test's server objects must not be stopped by its DESTROY.
sub background {
    my $code = shift;
    my $file = tmpfile('json');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = eval { $code->() };
        $r = { error => "$@" } if $@;
        if (open(my $fh, '>', $file)) {
            print $fh JSON::PP::encode_json($r);
            close $fh;
        }
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $file };
}

sub finish {
    my $bg = shift;
    waitpid($bg->{pid}, 0);
    open(my $fh, '<', $bg->{file}) or return {};
    local $/;
    my $r = eval { JSON::PP::decode_json(<$fh>) } // {};
    close $fh;
    unlink $bg->{file};
    return $r;
}

# Fires n requests with key (none if undef) through c parallel keep-alive
# connections (opened at once: curl would rather wait for one to free up,
# and httpd closes a connection after a 503); each gives up after timeout
# seconds.  Returns the count of
# each status ("200" => n; "000" for a request that got no answer: its
# connection died), "503-retry-after" counting the 503s that said when to
# come back, and "slowest" (seconds).
sub curl_codes {
    my (%o) = @_;
    my $cfg = tmpfile('curl');
    open(my $fh, '>', $cfg) or die "$cfg: $!";
    print $fh qq{url = "$o{url}"\noutput = "/dev/null"\n} for 1 .. $o{n};
    close $fh;
    my @h = defined $o{key} ? ('-H', "X-API-Key: $o{key}") : ();
    my $timeout = $o{timeout} // 20;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        # curl 7.88 draws its progress meter for --parallel even with -s.
        open(STDERR, '>', '/dev/null');
        exec('curl', '-s', '--parallel', '--parallel-immediate',
             '--parallel-max', $o{c} // 1,
             '-m', $timeout, @h,
             '-w', '%{http_code} %{time_total} %header{retry-after}\n',
             '-K', $cfg) or POSIX::_exit(127);
    }
    my %n = (slowest => 0);
    while (my $line = <$out>) {
        my ($code, $t, $ra) = split ' ', $line;
        next unless defined $t;
        $n{$code}++;
        $n{"$code-retry-after"}++ if defined $ra && $ra =~ /^\d+$/;
        $n{slowest} = $t if $t > $n{slowest};
    }
    close $out;
    unlink $cfg;
    return \%n;
}

sub add_counts {
    my ($sum, $n) = @_;
    for (keys %$n) {
        if ($_ eq 'slowest') {
            $sum->{slowest} = $n->{slowest}
                if $n->{slowest} > ($sum->{slowest} // 0);
        }
        else {
            $sum->{$_} += $n->{$_};
        }
    }
    return $sum;
}

# curl_codes in batches of batch requests until the file stop exists (or
# max seconds passed); returns the counts summed, with "batches" and
# "refused_at" (seconds from the start to the end of the first batch that
# had a 429).
sub load_until {
    my (%o) = @_;
    my ($sum, $t0) = ({ batches => 0 }, time);
    until (-e $o{stop} || time - $t0 > ($o{max} // 300)) {
        my $n = curl_codes(%o, n => $o{batch} // 200);
        add_counts($sum, $n);
        $sum->{batches}++;
        $sum->{refused_at} //= sprintf('%.1f', time - $t0) if $n->{429};
    }
    return $sum;
}

# load_until over keys in turn: the next key once a batch was refused a
# 429 (the last one is kept).  So that admissions go on all through a long
# load, each key spends its quota in turn.  Returns { per => { index =>
# counts }, used => keys used }.
sub load_keys {
    my (%o) = @_;
    my ($i, $t0, %per) = (0, time);
    my @keys = @{ $o{keys} };
    until (-e $o{stop} || time - $t0 > ($o{max} // 300)) {
        my $n = curl_codes(%o, key => $keys[$i], n => $o{batch} // 200);
        add_counts($per{$i} //= {}, $n);
        $i++ if $n->{429} && $i < $#keys;
    }
    return { per => \%per, used => scalar keys %per };
}

# SIGKILLs a random child of ppid every interval seconds until kills were
# sent (or max seconds passed), then creates the file stop.  Every other
# kill, if any child is on a CPU (state R: in the middle of a request,
# likely), the victim is one of those.  Each victim is checked again just
# before the signal: still a child of ppid, so neither the parent nor a
# recycled pid is ever hit.  Returns { kills => n, running => how many
# victims were on a CPU, seconds => s }.
sub kill_storm {
    my (%o) = @_;
    my ($n, $running, $t0) = (0, 0, time);
    while ($n < $o{kills} && time - $t0 < ($o{max} // 600)) {
        my @kids = children_of($o{ppid});
        my @busy = grep { ((stat_of($_))[1] // '') eq 'R' } @kids;
        my @pick = @busy && $n % 2 ? @busy : @kids;
        if (@pick) {
            my $victim = $pick[int rand @pick];
            my ($pp, $state) = stat_of($victim);
            if (defined $pp && $pp == $o{ppid} && kill('KILL', $victim)) {
                $n++;
                $running++ if $state eq 'R';
            }
        }
        sleep $o{interval};
    }
    touch($o{stop}) if $o{stop};
    return { kills => $n, running => $running, seconds => time - $t0 };
}

# Shared memory through /proc/PID/mem: the caller must be allowed to trace
# the process (same user, no Yama restriction).
sub mem_read {
    my ($pid, $addr, $len) = @_;
    open(my $fh, '<:raw', "/proc/$pid/mem") or return;
    sysseek($fh, $addr, 0) or return;
    my $buf = '';
    my $got = sysread($fh, $buf, $len);
    return defined $got && $got == $len ? $buf : undef;
}

sub mem_write {
    my ($pid, $addr, $bytes) = @_;
    open(my $fh, '+<:raw', "/proc/$pid/mem") or return 0;
    sysseek($fh, $addr, 0) or return 0;
    my $put = syswrite($fh, $bytes);
    return defined $put && $put == length $bytes;
}

# The limit table (src/shm/apikey_limit_table.c) in the memory of process pid:
# an anonymous shared mapping starting with APR's size word, then the
# table's header (magic "APKQUOTA" as a little-endian word, the slot count,
# a key's bytes: a slot's, or a slot's and a lease's when some server keeps
# quotas in the store), then slots of $SLOT_SIZE bytes (and the leases
# after them).  Returns the address of the slot whose id (its display text
# starts at byte $SLOT_TEXT: the id, 41 bytes, then the owner) is id, or
# undef; with id undef, the table's address.
my $MAGIC = 'ATOUQKPA';
our $SLOT_SIZE = 128;
our $SLOT_TEXT = 62;
our $SLOT_TEXT_LEN = 41 + 25;
my $LEASE_SIZE = 112;

sub quota_slot {
    my ($pid, $id) = @_;
    open(my $maps, '<', "/proc/$pid/maps") or return;
    while (my $line = <$maps>) {
        my ($lo, $hi, $perm) = $line =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/
            or next;
        next unless $perm =~ /^rw.s/;
        my ($start, $end) = do { no warnings 'portable'; (hex $lo, hex $hi) };
        my $head = mem_read($pid, $start, 24) // next;
        next unless substr($head, 8, 8) eq $MAGIC;
        my ($nslots, $size) = unpack('L<L<', substr($head, 16, 8));
        next unless ($size == $SLOT_SIZE || $size == $SLOT_SIZE + $LEASE_SIZE)
                    && 8 + 64 + $nslots * $size <= $end - $start;
        my $table = $start + 8;
        return $table unless defined $id;
        my $all = mem_read($pid, $table + 64, $nslots * $SLOT_SIZE) // next;
        for my $i (0 .. $nslots - 1) {
            my $slot_id = unpack('Z*', substr($all, $i * $SLOT_SIZE
                                                    + $SLOT_TEXT, 41));
            return $table + 64 + $i * $SLOT_SIZE if $slot_id eq $id;
        }
    }
    return;
}

# The environment that puts an httpd on a clock read from file (a
# libfaketime offset such as "+0" or "-86400"); set_clock moves it.  The
# monotonic clock is left alone: httpd's timers keep real time.
my $LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

sub faketime_env {
    my $file = shift;
    return unless -e $LIBFAKETIME;
    set_clock($file, 0);
    return { LD_PRELOAD => $LIBFAKETIME, FAKETIME_TIMESTAMP_FILE => $file,
             FAKETIME_NO_CACHE => 1, FAKETIME_DONT_FAKE_MONOTONIC => 1 };
}

sub set_clock {
    my ($file, $offset) = @_;
    open(my $fh, '>', "$file.tmp") or die "$file.tmp: $!";
    printf $fh "%s%d\n", $offset < 0 ? '-' : '+', abs $offset;
    close $fh;
    rename("$file.tmp", $file) or die "$file: $!";
}

# An sqlite3 shell on db whose lock()/unlock() take and drop an exclusive
# lock (every reader is then refused SQLITE_BUSY) and return once done.
sub sqlite_locker {
    my $db = shift;
    my $pid = IPC::Open2::open2(my $out, my $in, 'sqlite3', $db)
        or die "sqlite3: $!";
    select((select($in), $| = 1)[0]);
    print $in ".timeout 5000\n";
    my $say = sub {
        my ($sql, $tag) = @_;
        print $in "$sql\nSELECT '$tag';\n";
        while (my $l = <$out>) {
            return 1 if $l =~ /^\Q$tag\E$/;
        }
        return 0;
    };
    return {
        lock   => sub { $say->('BEGIN EXCLUSIVE;', 'locked') },
        unlock => sub { $say->('COMMIT;', 'unlocked') },
        close  => sub { close $in; waitpid($pid, 0) },
    };
}

# The status of one request to a private server (ApiKeyServer) with key
# (none if undef); codes: of n in a row, joined by spaces.
sub code {
    my ($srv, $key, $path) = @_;
    my $h = defined $key ? "-H 'X-API-Key: $key'" : '';
    return `curl -s -m 10 -o /dev/null -w '%{http_code}' $h '${\ $srv->url($path)}'`;
}

sub codes {
    my ($srv, $key, $n) = @_;
    return join ' ', map { code($srv, $key) } 1 .. $n;
}

# The status page's entry (SetHandler apikey-status at /apikey-status) for
# key id, or undef.
sub quota_row {
    my ($srv, $id) = @_;
    my $json = `curl -s -m 10 '${\ $srv->url('/apikey-status?format=json')}'`;
    my $doc = eval { JSON::PP::decode_json($json) } or return;
    my ($row) = grep { $_->{id} eq $id } @{ $doc->{keys} || [] };
    return $row;
}

# The lines of an error log that tell of a crash or a critical error: a
# child that died of a signal (httpd says nothing of SIGKILL, so the
# killer's victims are not among them), crit, alert, emerg.
sub bad_lines {
    my $log = shift;
    return join '', $log =~ /^(.*(?:\[(?:\w+:)?(?:crit|alert|emerg)\]|exit signal|segfault|Segmentation).*\n)/mg;
}

sub touch {
    my $file = shift;
    open(my $fh, '>', $file) or die "$file: $!";
    close $fh;
}

# How many lines of text match re.
sub count_lines {
    my ($text, $re) = @_;
    return scalar(() = $text =~ /^.*$re.*$/mg);
}

1;
