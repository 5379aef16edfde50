# Look-up cache entries expire: with AuthAPIKeyCacheTimeout 2 negative=1 and
# the change-marker poll off (AuthAPIKeyRefresh 0), a revoked key is served
# from the cache until its entry is 2 s old, never after, and then refused;
# a key added after an unknown one was cached is let in once the negative
# entry is 1 s old, never before.  Times are those the requests really took:
# an answer is judged by when its request was sent.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestUtil qw(t_cmp);
use LWP::UserAgent;
use Time::HiRes qw(time sleep);
use ApiKeyTest qw(create_key htapikey insert_key random_wellformed_key);
use ApiKeyServer;

plan tests => 8, need(need_module('authn_apikey', 'dbd'), need_lwp);

my ($ttl, $neg) = (2, 1);
my $srv = ApiKeyServer->new(name => 'expiry', mpm => 'event',
                            mpm_conf => "StartServers 1\n",
                            conf => "AuthAPIKeyCacheTimeout $ttl "
                                  . "negative=$neg\nAuthAPIKeyRefresh 0\n");
ok $srv->start;
my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 60);
sub code { $ua->get($srv->url, 'X-API-Key' => shift)->code }

# Polls until the answer differs from $from; returns the send times of the
# answers that were still $from and of the first that was not.
sub until_changed {
    my ($key, $from) = @_;
    my (@same, $changed);
    my $t0 = time;
    while (time - $t0 < 2 * ApiKeyServer::patience()) {
        my $sent = time;
        if (code($key) == $from) {
            push @same, $sent;
        }
        else {
            $changed = $sent;
            last;
        }
        sleep 0.1;
    }
    return (\@same, $changed);
}

# A found key: cached, revoked behind the cache's back.
my $k = create_key(owner => 'expiry');
my $cached_from = time;
ok t_cmp(code($k->{key}), 200, 'a key: 200, and now cached');
my $cached_by = time;
my ($rc) = htapikey('revoke', $k->{id});
my ($same, $changed) = until_changed($k->{key}, 200);
ok t_cmp(defined $changed ? 1 : 0, 1, 'revoked: refused once its entry '
                                      . 'expired');
ok t_cmp(defined $changed && $changed >= $cached_from + $ttl ? 1 : 0, 1,
         sprintf('not before the entry was %d s old (%.2f s after it was '
                 . 'made)', $ttl, ($changed // 0) - $cached_from));
ok t_cmp((grep { $_ >= $cached_by + $ttl } @$same) ? 0 : 1, 1,
         sprintf('never served from the cache after that (%d answers 200 '
                 . 'after the revocation)', scalar @$same));

# An unknown key: cached as such, then added to the store.
my $key = random_wellformed_key();
my $neg_from = time;
ok t_cmp(code($key), 401, 'an unknown key: 401, and now cached as unknown');
my $neg_by = time;
insert_key('expiry-late-1', owner => 'expiry', key => $key);
($same, $changed) = until_changed($key, 401);
ok t_cmp(defined $changed && $changed >= $neg_from + $neg ? 1 : 0, 1,
         sprintf('added: let in once the negative entry expired, not '
                 . 'before %d s (%.2f s)', $neg, ($changed // 0) - $neg_from));
ok t_cmp((grep { $_ >= $neg_by + $neg } @$same) ? 0 : 1, 1,
         'never refused from the cache after that');
$srv->stop;
