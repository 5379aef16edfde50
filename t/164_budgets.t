# Budgets: AuthAPIKeyLimitName counts one key apart per route (the same key
# under /search and /read spends two budgets, and its one budget
# elsewhere); AuthAPIKeyLimitBy owner makes every key of an owner spend one
# budget, here and, with AuthAPIKeyQuotaStore dbd, across a fleet.  The
# RateLimit policies and the status page name the budget.
use strict;
use warnings FATAL => 'all';

use Apache::Test;
use Apache::TestRequest;
use Apache::TestUtil;
use JSON::PP ();
use LWP::UserAgent ();
use ApiKeyTest qw(create_key run_httpd store_sql);
use ApiKeyServer;

plan tests => 20, need(need_module('authn_apikey', 'dbd'), need_lwp,
                       ApiKeyServer::need_many_processes());

sub codes {
    my ($path, $key, $n) = @_;
    return join ' ',
        map { (GET "/budget/$path/index.txt", 'X-API-Key' => $key)->code } 1 .. $n;
}

# 1. Per-route budgets.  (1/h rates: no unit comes back during the test,
# however slow the machine.)
my $k = create_key(owner => 'budget');
ok t_cmp(codes('search', $k->{key}, 3), '200 200 429',
         '/search (budget search, burst 2): 2, then 429');
ok t_cmp(codes('read', $k->{key}, 4), '200 200 200 429',
         '/read (budget read, burst 3): the same key has all 3 there');
ok t_cmp(codes('plain', $k->{key}, 1), '200',
         'and its own budget is untouched');
ok t_cmp(codes('plain2', $k->{key}, 2), '200 429',
         'which two locations without a name share');
my $r = GET '/budget/search/index.txt', 'X-API-Key' => $k->{key};
ok t_cmp($r->header('RateLimit-Policy'), '"search.rate";q=2;w=7200',
         'the RateLimit policy is named for the budget');
ok t_cmp($r->header('RateLimit') // '', qr/^"search\.rate";r=0;t=\d+$/,
         'and so is its state');
my $other = create_key(owner => 'budget');
ok t_cmp(codes('search', $other->{key}, 2), '200 200',
         'another key has its own search budget');

# 2. Owner-wide: three keys of one owner spend one budget.
my @acme = map { create_key(owner => 'acme-budget') } 1 .. 3;
ok t_cmp(join(' ', codes('owner', $acme[0]{key}, 2), codes('owner', $acme[1]{key}, 1),
              codes('owner', $acme[2]{key}, 1)),
         '200 200 200 429', 'quota 3 by owner: 3 keys get 3 in all, not 9');
ok t_cmp(codes('owner', create_key(owner => 'other-budget')->{key}, 1), '200',
         'another owner has its own');
ok t_cmp(codes('owner-search', $acme[2]{key}, 3), '200 200 200',
         'the owner\'s search budget is apart from its default one');
ok t_cmp(codes('plain', $acme[0]{key}, 1), '200',
         'and each key\'s own budget from the owner\'s');

# 3. The status page names them.
Apache::TestRequest::module('default');
$r = GET '/apikey-status?format=json';
my $doc = eval { JSON::PP::decode_json($r->content) } || {};
my %rows;
for my $row (@{ $doc->{keys} || [] }) {
    $rows{ join '|', $row->{id}, $row->{by}, $row->{budget} // '-' } = 1;
}
ok t_cmp(join(' ', map { $rows{$_} ? 1 : 0 } ("$k->{id}|key|search", "$k->{id}|key|read",
                                               "$k->{id}|key|-", 'acme-budget|owner|-',
                                               'acme-budget|owner|search')),
         '1 1 1 1 1', 'the status page lists each budget: key or owner, and its name');

# 4. Bad values stop httpd, naming the value and the line.
for my $b (['AuthAPIKeyLimitName "sea rch"', qr/AuthAPIKeyLimitName 'sea rch': a budget's name is 1 to 32 letters/],
           ['AuthAPIKeyLimitName ' . ('x' x 33), qr/AuthAPIKeyLimitName 'x{33}':/],
           ['AuthAPIKeyLimitName "a\\"b"', qr/AuthAPIKeyLimitName 'a"b':/],
           ['AuthAPIKeyLimitBy group', qr/AuthAPIKeyLimitBy 'group': expected key or owner/]) {
    my ($rc, $out, $line) = run_httpd($b->[0]);
    ok t_cmp($rc != 0 && $out =~ $b->[1] && $out =~ /line $line\b/ ? 1 : 0, 1,
             "$b->[0] stops httpd, naming line $line") or print STDERR "# $out\n";
}

# Two names of one number (FNV-1a's 29 bits: "99" and "gelb") would share
# their counters: the second stops httpd.
{
    my ($rc, $out, $line) = run_httpd("<Location /a>\nAuthAPIKeyLimitName 99\n</Location>\n"
                                      . "<Location /b>\nAuthAPIKeyLimitName gelb\n</Location>");
    ok t_cmp($rc != 0 && $out =~ /AuthAPIKeyLimitName 'gelb': its number is that of the budget '99'/
             && $out =~ /line @{[ $line + 4 ]}\b/ ? 1 : 0, 1,
             'two budget names of one number stop httpd, naming both and the line')
        or print STDERR "# $out\n";
}

# 5. A fleet's owner-wide quota: two nodes, one store, counted in the
# store's apikey_quota table (the suite's backend: SQLite, and PostgreSQL
# and MariaDB in the backend runs).
my @nodes = map {
    ApiKeyServer->new(name => "budget-node$_", mpm => 'event',
                      conf => "AuthAPIKeyQuotaStore dbd\nAuthAPIKeyQuotaSync 1\n"
                            . "AuthAPIKeyLimitBy owner\nAuthAPIKeyQuota 4/day\n")
} 1 .. 2;
ok t_cmp(join(' ', map { $_->start ? 1 : 0 } @nodes), '1 1', 'two nodes on one store');
my @fleet = map { create_key(owner => "fleet-owner-$$") } 1 .. 2;
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 10);
my @got;
for my $i (0 .. 7) {
    push @got, $ua->get($nodes[$i % 2]->url, 'X-API-Key' => $fleet[int($i / 4)]{key})->code;
}
ok t_cmp(scalar(grep { $_ == 200 } @got), 4,
         "quota 4 by owner across two nodes and two keys: 4 admitted (@got)");
my $rows = store_sql("SELECT COUNT(*) FROM apikey_quota WHERE key_id LIKE '%:fleet-owner-$$'");
$rows =~ s/\s+//g;
ok t_cmp($rows, 1, 'one row in the store for the owner, none per key');
$_->stop for @nodes;
