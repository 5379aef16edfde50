# The per-request cap of core's and http's tracing (which write the request
# line and every request header, keys included, before authentication can
# hide anything) holds where only a virtual host traces: the main server is
# at warn, so the quick "no server traces" answer must look at every
# server.  The key is then looked for, in pieces, in the error log.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use ApiKeyTest qw(create_key);
use ApiKeyServer;

plan tests => 6, need(need_module('authn_apikey', 'dbd'));

my $good = create_key(owner => 'vhost-trace', scopes => 'read');
my $key = $good->{key};
my $vport = ApiKeyServer::free_port();

my $srv = ApiKeyServer->new(name => 'vhost-trace', mpm => 'event',
                            mpm_conf => "StartServers 1\n", conf => <<"CONF");
LogLevel warn
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    DocumentRoot \${DOCS}
    LogLevel warn http:trace4 core:trace5 authn_apikey:trace1
    <Location /index.txt>
        AuthType APIKey
        AuthName "vhost"
        Require apikey
    </Location>
</VirtualHost>
CONF
ok $srv->start;

my $code = `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: $key' http://127.0.0.1:$vport/index.txt`;
ok t_cmp($code, '200', 'the key is accepted in the virtual host');
my $bad = `curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: ${key}x' http://127.0.0.1:$vport/index.txt`;
ok t_cmp($bad, '401', 'a key spoilt by a byte is refused there');
$srv->stop;

my $elog = $srv->error_log;
my @found;
for (my $i = 3; $i + 12 <= length $key; $i += 4) {
    push @found, $i if index($elog, substr($key, $i, 12)) >= 0;
}
ok t_cmp(scalar(@found), 0, 'no piece of the key in the error log');
# The virtual host's tracing is on (the module's trace1 shows; http's
# trace4 writes the response headers, after the walks), but the request
# headers never reach it.
ok t_cmp($elog, qr/\[authn_apikey:trace1\].*accepted from/,
         'the virtual host traces at all');
ok t_cmp(scalar(() = $elog =~ /X-API-Key/gi), 0,
         'no request header is written, not even its name');
