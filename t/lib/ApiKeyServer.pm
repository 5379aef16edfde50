# A private httpd for tests that need one of their own: a chosen MPM, a
# configuration of the test's, restarts and stops under the test's control.
# Listens on 127.0.0.1 only.
#
# Under valgrind (APIKEY_VALGRIND, set by scripts/test-sanitizers.sh) a
# server runs in one process (httpd -X) like the main one; tests that need
# many processes skip themselves with need_many_processes().
package ApiKeyServer;

use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use File::Path qw(make_path);
use File::Spec;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use ApiKeyTest qw(top_dir key_store backend read_file);

my %mpm_conf = (
    prefork => "StartServers 200\nMinSpareServers 10\nMaxSpareServers 250\n"
             . "ServerLimit 256\nMaxRequestWorkers 256\n",
    worker  => "StartServers 4\nServerLimit 8\nThreadLimit 64\n"
             . "ThreadsPerChild 64\nMaxRequestWorkers 512\n"
             . "MinSpareThreads 64\nMaxSpareThreads 512\n",
    event   => "StartServers 4\nServerLimit 8\nThreadLimit 64\n"
             . "ThreadsPerChild 64\nMaxRequestWorkers 512\n"
             . "MinSpareThreads 64\nMaxSpareThreads 512\n",
);

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "socket: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# new(name => 'x', mpm => 'event', conf => "directives...")
# Optional: mpm_conf => "..." instead of the MPM's defaults below;
# dbd_params => "..." to reach the suite's store otherwise (another database
# user, say; the driver is always the suite's backend); db => FILE, a SQLite
# key store of its own; no_dbd => 1, no DBDriver at all (as the package's
# authn_apikey.conf ships); env => { VAR => value }, set for the httpd process
# only (LD_PRELOAD of libfaketime, say).  ${DOCS} in conf stands for the
# server's document root.
sub new {
    my ($class, %o) = @_;
    my $dir = File::Spec->catdir(Apache::Test::vars('t_logs'), "srv-$o{name}");
    make_path("$dir/htdocs");
    # A run in the same tree before this one (as a user other than root,
    # who runs in the tree itself, not in a copy) left its logs here: a
    # test counting log lines would count that run's too.
    unlink grep { -f } glob("$dir/*_log"), "$dir/error_log", "$dir/access_log",
                       "$dir/httpd.pid";
    open(my $fh, '>', "$dir/htdocs/index.txt") or die $!;
    print $fh "ok\n";
    close $fh;
    my $self = bless { %o, dir => $dir, port => free_port() }, $class;
    $self->write_conf;
    return $self;
}

sub url { my $self = shift; "http://127.0.0.1:$self->{port}" . (shift // '/index.txt') }
sub dir { $_[0]{dir} }
sub error_log { read_file("$_[0]{dir}/error_log") }

sub write_conf {
    my $self = shift;
    my $lib = Apache::Test::config()->apxs('LIBEXECDIR');
    my $module = File::Spec->catfile(top_dir(), '.libs', 'mod_authn_apikey.so');
    my $d = $self->{dir};
    # ${DOCS} in a test's conf: this server's document root (a virtual
    # host's DocumentRoot, say).
    (my $conf = $self->{conf} // '') =~ s/\$\{DOCS\}/$d\/htdocs/g;
    open(my $fh, '>', "$d/httpd.conf") or die $!;
    print $fh <<"CONF";
ServerRoot $d
ServerName localhost
Listen 127.0.0.1:$self->{port}
PidFile $d/httpd.pid
DefaultRuntimeDir $d
ErrorLog $d/error_log
LogLevel info
LogFormat "%>s %u" status
CustomLog $d/access_log status
LoadModule mpm_$self->{mpm}_module $lib/mod_mpm_$self->{mpm}.so
LoadModule authn_core_module $lib/mod_authn_core.so
LoadModule authz_core_module $lib/mod_authz_core.so
LoadModule dbd_module $lib/mod_dbd.so
LoadModule authn_apikey_module $module
${\ ($self->{mpm_conf} // $mpm_conf{$self->{mpm}}) }
KeepAlive On
MaxKeepAliveRequests 0
${\ ($self->{no_dbd} ? '# no DBDriver: no key store at all' : "DBDriver " . ($self->{db} ? 'sqlite3' : backend()) . "\nDBDParams \"" . ($self->{db} // $self->{dbd_params} // key_store()) . '"') }
DocumentRoot $d/htdocs
<Directory $d/htdocs>
    AuthType APIKey
    AuthName "exact"
    Require apikey
</Directory>
$conf
CONF
    close $fh;
}

sub httpd {
    my ($self, @args) = @_;
    local %ENV = (%ENV, %{ $self->{env} || {} });
    my $rc = system(Apache::Test::vars('httpd'), '-f', "$self->{dir}/httpd.conf",
                    @args);
    return $rc >> 8;
}

sub pid {
    my $self = shift;
    my $p = read_file("$self->{dir}/httpd.pid");
    return $p =~ /(\d+)/ ? $1 : undef;
}

# Seconds to wait for a server to come up or go: more under valgrind, where
# it starts slowly and checks for leaks on its way out.
sub patience { $ENV{APIKEY_VALGRIND} ? 120 : 30 }

# Waits until the server answers and its pid file is written (httpd
# listens before it writes it); returns 1 or 0.
sub wait_up {
    my $self = shift;
    my $t0 = time;
    while (time - $t0 < $self->patience) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{port}, Timeout => 1);
        return 1 if $s && $self->pid;
        sleep 0.1;
    }
    return 0;
}

sub start {
    my $self = shift;
    if ($ENV{APIKEY_VALGRIND}) {
        # -X stays in the foreground: run it beside the test.
        my $pid = fork // return 0;
        if (!$pid) {
            exec(Apache::Test::vars('httpd'), '-X', '-f',
                 "$self->{dir}/httpd.conf") or POSIX::_exit(127);
        }
        $self->{child} = $pid;
        return $self->wait_up;
    }
    $self->httpd('-k', 'start') == 0 or return 0;
    return $self->wait_up;
}

# For plan(): skips a test whose servers need many processes (concurrency
# across children, graceful restarts) when they would run in one, under
# valgrind.
sub need_many_processes {
    return { 'servers of many processes (not run under valgrind, where '
             . 'httpd runs as one process)' => !$ENV{APIKEY_VALGRIND} };
}

sub graceful { $_[0]->httpd('-k', 'graceful') == 0 }

sub stop {
    my $self = shift;
    my $pid = $self->pid;
    $self->httpd('-k', 'stop');
    my $t0 = time;
    while ($pid && kill(0, $pid) && time - $t0 < $self->patience) {
        # A server of ours (httpd -X) is a child: reap it.
        waitpid($self->{child}, POSIX::WNOHANG()) if $self->{child};
        sleep 0.1;
    }
    unlink "$self->{dir}/httpd.pid";
    return !($pid && kill(0, $pid));
}

# Counts of each status in the access log, as "200" => n.
sub statuses {
    my $self = shift;
    my ($log, %n) = (read_file("$self->{dir}/access_log"));
    $n{$1}++ while $log =~ /^(\d{3}) /mg;
    return \%n;
}

sub DESTROY {
    my $self = shift;
    $self->stop if $self->pid;
}

1;
