# A key answered from the look-up cache is judged exactly as the store's
# answer was: each column that refuses a key (allow_ip, allow_method,
# allow_referer, not_before, expires, status, grace_until of a rotated key,
# scopes) refuses it from the cache too, its own rate limit and quota still
# apply, and what the backend sees (APIKEY_* variables, the columns of an
# AuthAPIKeyQuery) is the same.  The cache keeps a key's record packed
# (src/core/apikey_record.c): a column lost there would let a restricted
# key in on its second request.
#
# The second answer is taken only once it came from the cache (no store
# look-up in the error log for it); a poller's first look at the store may
# empty the cache once, so a few tries are allowed.  Nothing depends on
# speed: the cache's TTL is 300 s, the rate limit 1/h and the quota 1/day.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil qw(t_cmp t_debug t_start_error_log_watch
                        t_finish_error_log_watch);
use ApiKeyTest qw(insert_key);

plan tests => 43, need(need_module('authn_apikey', 'dbd', 'cgi'), need_lwp);

# Status, body and store look-ups of one request on the cache's host.
sub probe {
    my ($path, $key, @headers) = @_;
    Apache::TestRequest::module('apikey_cache_record');
    t_start_error_log_watch();
    my $r = GET $path, 'X-API-Key' => $key, @headers;
    my $queries = grep { /looking the key up in the store/ }
                  t_finish_error_log_watch();
    Apache::TestRequest::module('default');
    return ($r, $queries);
}

# The store's answer, then the cache's: (first response, first look-ups,
# response from the cache or undef when none came within five tries).
sub twice {
    my ($path, $key, @headers) = @_;
    my ($first, $q1) = probe($path, $key, @headers);
    for (1 .. 5) {
        my ($r, $q) = probe($path, $key, @headers);
        return ($first, $q1, $r) if $q == 0;
    }
    return ($first, $q1, undef);
}

my $n = 0;
# A key inserted as htapikey would, with these columns (no change marker
# moved: nothing empties the cache).
sub key_with {
    return insert_key(sprintf('cr-%d-%04d', $$, $n++), owner => 'cr', @_);
}

# One key whose every request gets the same answer, from store and cache.
sub same_answer {
    my ($what, $want, $path, $key, @headers) = @_;
    my ($first, $q1, $cached) = twice($path, $key, @headers);
    ok t_cmp($first->code, $want, "$what: the store's answer");
    ok t_cmp($cached ? $cached->code : 'no answer from the cache', $want,
             "$what: the cache's answer");
    return ($first, $cached);
}

my $env = '/cr/cgi/env.pl';
my $now = time;

# An ordinary key: the backend sees the same identity either way.
my ($first, $cached) = same_answer('a plain key', 200, $env,
    key_with(scopes => 'orders:read reports'));
for my $var (qw(APIKEY_ID APIKEY_OWNER APIKEY_SCOPES REMOTE_USER)) {
    my ($a) = $first->content =~ /^\Q$var\E=(.*)$/m;
    my ($b) = $cached ? $cached->content =~ /^\Q$var\E=(.*)$/m : ();
    ok t_cmp($b // 'unset', $a // 'unset from the store too',
             "$var the same from the cache");
}

same_answer('allow_ip elsewhere', 403, $env,
            key_with(allow_ip => '192.0.2.0/24,2001:db8::/32'));
same_answer('allow_ip here', 200, $env, key_with(allow_ip => '127.0.0.0/8,::1'));
same_answer('allow_method POST, a GET', 403, $env,
            key_with(allow_method => 'POST'));
same_answer('allow_referer, none sent', 403, $env,
            key_with(allow_referer => 'example.com'));
same_answer('allow_referer, a good one', 200, $env,
            key_with(allow_referer => 'example.com'),
            Referer => 'https://example.com/page');
same_answer('not_before tomorrow', 401, $env,
            key_with(not_before => $now + 86400));
same_answer('not_before yesterday', 200, $env,
            key_with(not_before => $now - 86400));
same_answer('expired yesterday', 401, $env, key_with(expires => $now - 86400));
same_answer('expires tomorrow', 200, $env, key_with(expires => $now + 86400));
same_answer('disabled', 401, $env, key_with(status => 'disabled'));
same_answer('revoked', 401, $env, key_with(status => 'revoked'));
same_answer('rotated, grace over', 401, $env,
            key_with(grace_until => $now - 60, replaced_by => 'cr-successor'));
same_answer('rotated, in its grace', 200, $env,
            key_with(grace_until => $now + 86400, replaced_by => 'cr-successor'));
same_answer('without the scope', 403, '/crscope/cgi/env.pl',
            key_with(scopes => 'orders:write'));
same_answer('with the scope', 200, '/crscope/cgi/env.pl',
            key_with(scopes => 'billing orders:read'));

# The key's own limits: the request after the first is refused, from the
# cache (without its record's rate or quota it would be unlimited here).
for my $limit ([rate => '1/h', burst => 1], [quota => '1/day']) {
    my $key = key_with(@$limit);
    my ($r, $q1, $again) = twice($env, $key);
    ok t_cmp($r->code, 200, "$limit->[0] $limit->[1]: the first request");
    ok t_cmp($again ? $again->code : 'no answer from the cache', 429,
             "$limit->[0] $limit->[1]: the next, from the cache, refused");
}

# An AuthAPIKeyQuery's own column, from the store and from the cache.
($first, $cached) = same_answer('an AuthAPIKeyQuery key', 200,
    '/crquery/cgi/env.pl', key_with(name => 'gold'));
my ($plan) = $cached ? $cached->content =~ /^APIKEY_PLAN=(.*)$/m : ();
ok t_cmp($plan // 'unset', 'gold', 'its extra column from the cache');
