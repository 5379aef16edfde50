# AuthAPIKeyStateFile is written by the parent, as root on a real server:
# a link planted at the temporary name it used to write through (its
# <path>.<pid>.tmp) must not make it overwrite another file; the file is
# mode 0600 (it holds the table's seed); a state file or directory another
# user could write, or a link in its place, stops httpd at start-up with
# the directive and the line named; a state file that does not check out
# is ignored with a log line, never trusted.  (The suite runs as one user,
# so "another user" is simulated with modes.)
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use File::Path qw(make_path remove_tree);
use ApiKeyTest qw(create_key run_httpd read_file);
use ApiKeyServer;

plan tests => 19, need(need_module('authn_apikey', 'dbd'));

my $logs = Apache::Test::vars('t_logs');
my $dir = "$logs/state-dir";
remove_tree($dir);   # a run before this one in the same tree
make_path($dir);
chmod 0755, $dir;
my $victim = "$logs/victim";
open(my $fh, '>', $victim) or die $!;
print $fh "precious\n";
close $fh;
chmod 0600, $victim;

sub curl_codes {
    my ($srv, $key, $n) = @_;
    return join ' ', map {
        `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $key' ${\ $srv->url}`
    } 1 .. $n;
}

my $srv = ApiKeyServer->new(name => 'statefile', mpm => 'event',
                            mpm_conf => "StartServers 1\n",
                            conf => "AuthAPIKeyCacheTimeout 60\n"
                                  . "AuthAPIKeyStateFile $dir/limits.state\n");
ok $srv->start;
my $k = create_key(owner => 'state', quota => '5/day');
ok t_cmp(curl_codes($srv, $k->{key}, 2), '200 200', 'two of five spent');

# The attack on the old code: links at the names it would write through.
my $pid = $srv->pid;
symlink($victim, "$dir/limits.state.$pid.tmp") or die $!;
ok t_cmp($srv->stop ? 1 : 0, 1, 'stopped');
ok t_cmp(read_file($victim), "precious\n",
         'the file a planted link points at is untouched');
my @st = stat("$dir/limits.state");
ok t_cmp(@st ? sprintf('%04o', $st[2] & 07777) : 'missing', '0600',
         'the state file is written, mode 0600');
unlink "$dir/limits.state.$pid.tmp";
opendir(my $dh, $dir) or die $!;
my @left = grep { !/^\.\.?$/ && $_ ne 'limits.state' } readdir $dh;
closedir $dh;
ok t_cmp("@left", '', 'no temporary file left behind');

ok $srv->start;
ok t_cmp(curl_codes($srv, $k->{key}, 4), '200 200 200 429',
         'restored: 3 left of 5');
$srv->stop;

# A state file that does not check out is ignored, and says so.
open($fh, '>', "$dir/limits.state") or die $!;
print $fh "apikey-quota-state 2\n" . ("\0" x 100);
close $fh;
chmod 0600, "$dir/limits.state";
ok $srv->start;
ok t_cmp($srv->error_log,
         qr/APIKEY00029: cannot restore limit counters from \Q$dir\E\/limits\.state \(not a state file of this build and AuthAPIKeyLimitSlots\); it is ignored/,
         'a bad state file: ignored, with a log line');
$srv->stop;

# What stops httpd at start-up, naming the directive and the line.
my $conf = "AuthAPIKeyStateFile $dir/limits.state\n";
unlink "$dir/limits.state";
symlink($victim, "$dir/limits.state") or die $!;
my ($rc, $out, $n) = run_httpd($conf);
ok t_cmp($rc, 1, 'a link as the state file: refused');
ok t_cmp($out, qr/Syntax error on line $n of .*\n.*AuthAPIKeyStateFile \Q$dir\E\/limits\.state: \Q$dir\E\/limits\.state is not a regular file/,
         'the directive, the line and why');
unlink "$dir/limits.state";

open($fh, '>', "$dir/limits.state") or die $!;
close $fh;
chmod 0666, "$dir/limits.state";
($rc, $out) = run_httpd($conf);
ok t_cmp($out, qr/AuthAPIKeyStateFile .*limits\.state can be written by another user than root or this one \(owner \d+, mode 0666\)/,
         'a state file others can write: refused');
unlink "$dir/limits.state";

chmod 0777, $dir;
($rc, $out) = run_httpd($conf);
ok t_cmp($rc, 1, 'a directory others can write: refused');
ok t_cmp($out, qr/AuthAPIKeyStateFile .*: its directory \Q$dir\E can be written by another user than root or this one \(owner \d+, mode 0777\)/,
         'and says so');
chmod 0755, $dir;
($rc, $out) = run_httpd($conf);
ok t_cmp($rc, 0, 'the same directory, 0755: accepted');

# A directory above it that others can write: they could swap the state
# file's directory for a link between start and stop.
my $above = "$logs/state-above";
remove_tree($above);
make_path("$above/inner");
chmod 0777, $above;
($rc, $out) = run_httpd("AuthAPIKeyStateFile $above/inner/limits.state\n");
ok t_cmp($out, qr/AuthAPIKeyStateFile .*: the directory \Q$above\E can be written by another user than root or this one \(owner \d+, mode 0777\)/,
         'a directory above the state file that others can write: refused');
chmod 01777, $above;
($rc, $out) = run_httpd("AuthAPIKeyStateFile $above/inner/limits.state\n");
ok t_cmp($rc, 0, 'sticky, as /tmp: accepted');
remove_tree($above);

# htapikey init: a SQLite store is no world-readable file.
my $db = "$logs/state-dir/new.db";
ApiKeyTest::htapikey('-p', $db, 'init');
@st = stat($db);
ok t_cmp(@st ? sprintf('%04o', $st[2] & 07777) : 'missing', '0640',
         'htapikey init makes the SQLite store 0640');
