/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The failure table: budgets per client, refill over time, clients kept
 * apart, collisions and eviction, the clock going back, layout adoption,
 * and exact counts when forked processes record failures of one client at
 * once. */

/* MAP_ANONYMOUS is not POSIX. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apikey_failure_table.h"
#include "tap.h"

#define SEC  1000000LL
#define NOW0 (1790000000LL * SEC) /* 2026-09-21 */

static const unsigned char seed[APIKEY_FAILURE_SEED_LEN] = "0123456789abcdef";

static apikey_failure_table_t *table_new(unsigned nslots, void **mem)
{
    apr_size_t size = apikey_failure_table_size(nslots);
    int adopted = -1;

    *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                -1, 0);
    if (*mem == MAP_FAILED) {
        return NULL;
    }
    return apikey_failure_table_init(*mem, size, nslots, seed, &adopted);
}

static apikey_rate_t rate_of(const char *s)
{
    apikey_rate_t r;

    memset(&r, 0, sizeof(r));
    apikey_rate_parse(s, 0, &r);
    return r;
}

static void test_budget(void)
{
    void *mem;
    apikey_failure_table_t *t = table_new(64, &mem);
    apikey_rate_t r = rate_of("5/m");
    const char a[4] = {127, 0, 0, 1}, b[4] = {127, 0, 0, 2};
    long long retry, left;
    int i, ok_all = 1;

    ok(t != NULL, "a table of 64 slots");
    is_int(apikey_failure_table_blocked(t, a, 4, &r, NOW0, &retry), 0,
           "a client never seen is not blocked");
    is_int(retry, 0, "and has nothing to wait for");
    for (i = 0; i < 5; i++) {
        left = apikey_failure_table_record(t, a, 4, &r, NOW0);
        ok_all &= left == 4 - i;
        ok_all &=
            apikey_failure_table_blocked(t, a, 4, &r, NOW0, &retry) == (i == 4);
    }
    ok(ok_all, "5/m: five failures count down 4..0; blocked after the fifth");
    is_int(apikey_failure_table_blocked(t, a, 4, &r, NOW0, &retry), 1,
           "blocked at once after 5 failures");
    is_int(retry, 12 * SEC, "until one failure's worth (12 s) has passed");
    is_int(apikey_failure_table_record(t, a, 4, &r, NOW0), -1,
           "a failure recorded while blocked is refused, not counted");
    is_int(apikey_failure_table_blocked(t, b, 4, &r, NOW0, &retry), 0,
           "another client is not blocked");
    is_int(apikey_failure_table_blocked(t, a, 4, &r, NOW0 + 12 * SEC - 1000,
                                        &retry),
           1, "still blocked 1 ms before the wait ends");
    is_int(apikey_failure_table_blocked(t, a, 4, &r, NOW0 + 12 * SEC, &retry),
           0, "free again after 12 s");
    is_int(apikey_failure_table_record(t, a, 4, &r, NOW0 + 12 * SEC), 0,
           "one failure more and blocked again");
    is_int(apikey_failure_table_blocked(t, a, 4, &r, NOW0 + 72 * SEC, &retry),
           0, "a minute later");
    is_int(apikey_failure_table_record(t, a, 4, &r, NOW0 + 72 * SEC), 4,
           "the whole budget is back");
    munmap(mem, apikey_failure_table_size(64));
}

static void test_clock_back(void)
{
    void *mem;
    apikey_failure_table_t *t = table_new(64, &mem);
    apikey_rate_t r = rate_of("5/m");
    const char a[4] = {10, 0, 0, 1};
    long long retry;
    int i;

    for (i = 0; i < 5; i++) {
        apikey_failure_table_record(t, a, 4, &r, NOW0);
    }
    is_int(apikey_failure_table_blocked(t, a, 4, &r, NOW0 - 3600 * SEC, &retry),
           1, "clock an hour back: still blocked");
    ok(retry <= 60 * SEC,
       "but for at most one burst's worth, not an hour (%lld s)", retry / SEC);
    is_int(apikey_failure_table_record(t, a, 4, &r, NOW0 - 3600 * SEC), -1,
           "and no failure budget comes back");
    munmap(mem, apikey_failure_table_size(64));
}

/* The latest time a slot was given is the table's answer for every client
 * while it has passed: a client blocked under one section's slow rate stays
 * blocked when another client then fails under a fast one (its time, though
 * later in the clock, ends sooner). */
static void test_latest(void)
{
    void *mem;
    apikey_failure_table_t *t = table_new(64, &mem);
    apikey_rate_t slow = rate_of("5/m"), fast = rate_of("100/s");
    const char a[4] = {10, 0, 0, 7}, b[4] = {10, 0, 0, 8};
    long long retry;
    int i;

    for (i = 0; i < 5; i++) {
        apikey_failure_table_record(t, a, 4, &slow, NOW0);
    }
    is_int(apikey_failure_table_record(t, b, 4, &fast, NOW0 + SEC), 99,
           "another client fails once under 100/s, a second later");
    is_int(apikey_failure_table_blocked(t, a, 4, &slow, NOW0 + 2 * SEC, &retry),
           1, "the first is still blocked under 5/m");
    is_int(retry, 10 * SEC, "for the 10 s left of its wait");
    is_int(apikey_failure_table_blocked(t, b, 4, &fast, NOW0 + 2 * SEC, &retry),
           0, "the second is not");
    is_int(
        apikey_failure_table_blocked(t, a, 4, &slow, NOW0 + 61 * SEC, &retry),
        0, "once every time has passed, no client is blocked");
    is_int(apikey_failure_table_record(t, a, 4, &slow, NOW0 + 61 * SEC), 4,
           "and a failure counts from a full budget");
    is_int(
        apikey_failure_table_blocked(t, a, 4, &slow, NOW0 + 61 * SEC, &retry),
        0, "one failure of five does not block");
    munmap(mem, apikey_failure_table_size(64));
}

/* Many clients through a small table: each is found again while it owes,
 * and a full table evicts the debt that ends first. */
static void test_many_clients(void)
{
    void *mem;
    apikey_failure_table_t *t = table_new(8, &mem);
    apikey_rate_t r = rate_of("2/m");
    long long retry;
    unsigned i, blocked = 0;
    int adopted = -1;

    for (i = 0; i < 8; i++) {
        apikey_failure_table_record(t, &i, sizeof(i), &r, NOW0 + i * SEC);
        apikey_failure_table_record(t, &i, sizeof(i), &r, NOW0 + i * SEC);
    }
    for (i = 0; i < 8; i++) {
        blocked += apikey_failure_table_blocked(t, &i, sizeof(i), &r,
                                                NOW0 + 8 * SEC, &retry);
    }
    is_int(blocked, 8, "8 clients in 8 slots: all 8 blocked");
    i = 100;
    apikey_failure_table_record(t, &i, sizeof(i), &r, NOW0 + 9 * SEC);
    apikey_failure_table_record(t, &i, sizeof(i), &r, NOW0 + 9 * SEC);
    is_int(apikey_failure_table_blocked(t, &i, sizeof(i), &r, NOW0 + 9 * SEC,
                                        &retry),
           1, "a ninth client takes a slot and is blocked");
    i = 0;
    is_int(apikey_failure_table_blocked(t, &i, sizeof(i), &r, NOW0 + 9 * SEC,
                                        &retry),
           0, "evicting the client whose debt ended first");
    for (blocked = 0, i = 1; i < 8; i++) {
        blocked += apikey_failure_table_blocked(t, &i, sizeof(i), &r,
                                                NOW0 + 9 * SEC, &retry);
    }
    is_int(blocked, 7, "the 7 others stay blocked");
    ok(apikey_failure_table_init(mem, apikey_failure_table_size(8), 8, seed,
                                 &adopted)
               == t
           && adopted == 1,
       "the same layout is adopted (a graceful restart)");
    i = 5;
    is_int(apikey_failure_table_blocked(t, &i, sizeof(i), &r, NOW0 + 9 * SEC,
                                        &retry),
           1, "with its counts");
    ok(apikey_failure_table_init(mem, apikey_failure_table_size(8), 4, seed,
                                 &adopted)
               == t
           && adopted == 0,
       "another slot count starts afresh");
    is_int(apikey_failure_table_blocked(t, &i, sizeof(i), &r, NOW0 + 9 * SEC,
                                        &retry),
           0, "empty");
    ok(apikey_failure_table_init(mem, 10, 8, seed, &adopted) == NULL,
       "too small a size is refused");
    munmap(mem, apikey_failure_table_size(8));
}

/* P processes record failures of one client at the same instant: exactly
 * the burst is admitted, whoever wins each race. */
static void test_exact_fork(void)
{
    enum { P = 8, EACH = 200 };
    void *mem;
    apikey_failure_table_t *t = table_new(1024, &mem);
    apikey_rate_t r = rate_of("500/h");
    long *counted = mmap(NULL, sizeof(long) * P, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const char a[16] = {0x20, 0x01, 0x0d, 0xb8};
    pid_t pids[P];
    long total = 0;
    int k, i, st, clean = 1;

    for (k = 0; k < P; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            long n = 0;

            for (i = 0; i < EACH; i++) {
                n += apikey_failure_table_record(t, a, 8, &r, NOW0) >= 0;
            }
            counted[k] = n;
            _exit(0);
        }
    }
    for (k = 0; k < P; k++) {
        clean &= waitpid(pids[k], &st, 0) == pids[k] && WIFEXITED(st)
                 && WEXITSTATUS(st) == 0;
        total += counted[k];
    }
    ok(clean, "%d processes ended cleanly", P);
    is_int(total, 500,
           "%d processes x %d failures, budget 500: exactly 500 "
           "counted",
           P, EACH);
    munmap(counted, sizeof(long) * P);
    munmap(mem, apikey_failure_table_size(1024));
}

int main(void)
{
    test_budget();
    test_clock_back();
    test_latest();
    test_many_clients();
    test_exact_fork();
    return done_testing();
}
