/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage table: counts by key (store, statement, id) and by the day's
 * half, taken once and put back when a write fails, a full table dropping
 * (and counting) rather than refusing, an id too long, and forked
 * processes counting while another takes: every request taken exactly
 * once. */

/* MAP_ANONYMOUS is not POSIX. */
#define _DEFAULT_SOURCE

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apikey_usage_table.h"
#include "tap.h"

#define DAY   86400LL
#define T0    (20000 * DAY + 3600) /* day 20000, 01:00 UTC */
#define PROCS 6
#define ADDS  20000

static void *shared(apr_size_t size)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return mem == MAP_FAILED ? NULL : mem;
}

/* Everything entry i holds in both halves, taken: admitted, refused. */
static void take_all(apikey_usage_table_t *t, unsigned n, apr_uint64_t *adm,
                     apr_uint64_t *ref)
{
    apikey_usage_take_t took;
    unsigned i;
    int h;

    for (i = 0; i < n; i++) {
        for (h = 0; h < 2; h++) {
            if (apikey_usage_table_take(t, i, h, &took)) {
                *adm += took.admitted;
                *ref += took.refused;
            }
        }
    }
}

static void test_counts(void)
{
    apr_size_t size = apikey_usage_table_size(4);
    char *mem = shared(size + 8);
    apikey_usage_table_t *t;
    apikey_usage_take_t took;
    unsigned i, found = 4;
    long long last = 0;
    apr_uint64_t a = 0, r = 0;
    apr_uint32_t store, query;
    char id[APIKEY_USAGE_ID_MAX + 1], longid[80];

    ok(apikey_usage_table_init(mem + 8, size - 1, 4) == NULL,
       "a table does not fit in less than its size");
    t = apikey_usage_table_init(mem + 8, size, 4);
    ok(t != NULL, "a table of 4 entries");
    is_int(apikey_usage_table_count(t, 7, 0, "keyA", T0, 1), 0, "counted");
    apikey_usage_table_count(t, 7, 0, "keyA", T0 + 5, 1);
    apikey_usage_table_count(t, 7, 0, "keyA", T0 + 2, 0);
    apikey_usage_table_count(t, 8, 0, "keyA", T0, 1);
    apikey_usage_table_count(t, 7, 9, "keyA", T0, 1);
    is_int(apikey_usage_table_used(t), 3,
           "another store or statement is another key");
    for (i = 0; i < 4; i++) {
        if (apikey_usage_table_entry(t, i, &store, &query, id, &a, &r, &last)
            && store == 7 && query == 0) {
            found = i;
            break;
        }
    }
    ok(found < 4 && !strcmp(id, "keyA") && a == 2 && r == 1 && last == T0 + 5,
       "its entry: 2 admitted, 1 refused, last used at the latest request");
    ok(!apikey_usage_table_take(t, found, 1, &took),
       "nothing in the other day's half");
    ok(apikey_usage_table_take(t, found, 0, &took) && took.admitted == 2
           && took.refused == 1 && took.day == 20000 && took.last_used == T0 + 5
           && !strcmp(took.id, "keyA"),
       "taken: day 20000, 2 and 1, the last use");
    ok(!apikey_usage_table_take(t, found, 0, &took), "taken once only");
    apikey_usage_table_restore(
        t, found, 0, &(apikey_usage_take_t){.admitted = 2, .refused = 1});
    ok(apikey_usage_table_take(t, found, 0, &took) && took.admitted == 2
           && took.refused == 1,
       "put back after a failed write, taken again");

    /* The next day counts in the other half; the day after in the first
     * again, tagged anew. */
    apikey_usage_table_count(t, 7, 0, "keyA", T0 + DAY, 1);
    apikey_usage_table_count(t, 7, 0, "keyA", T0 + 2 * DAY, 0);
    ok(apikey_usage_table_take(t, found, 1, &took) && took.day == 20001
           && took.admitted == 1 && took.last_used == 20002 * DAY - 1,
       "day 20001 in the other half, its last use no later than its end");
    ok(apikey_usage_table_take(t, found, 0, &took) && took.day == 20002
           && took.refused == 1 && took.last_used == T0 + 2 * DAY,
       "day 20002 in the first half again");

    apikey_usage_table_count(t, 7, 0, "keyB", T0, 1);
    is_int(apikey_usage_table_count(t, 7, 0, "keyC", T0, 1), -1,
           "a full table drops a new key");
    is_int((long long)apikey_usage_table_dropped(t), 1, "and counts it");
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    is_int(apikey_usage_table_count(t, 7, 0, longid, T0, 1), -1,
           "an id longer than 64 bytes is not counted");
    munmap(mem, size + 8);
}

/* Processes count 3 keys while another takes all the time: what is taken
 * adds up to what was counted, exactly. */
static void test_fork(void)
{
    static const char *const ids[3] = {"k1", "k2", "k3"};
    apr_size_t size = apikey_usage_table_size(64);
    char *mem = shared(size + 8 + 64);
    /* After the table: the taker's sums and the stop flag. */
    volatile apr_uint64_t *shm = (volatile apr_uint64_t *)(mem + 8 + size);
    apikey_usage_table_t *t = apikey_usage_table_init(mem + 8, size, 64);
    pid_t pids[PROCS], taker;
    int k, st, clean = 1;

    if ((taker = fork()) == 0) {
        apr_uint64_t a = 0, r = 0;
        int last = 0;

        while (!last) {
            last = shm[2] != 0; /* read before the take: one more after */
            take_all(t, 64, &a, &r);
        }
        shm[0] = a;
        shm[1] = r;
        _exit(0);
    }
    for (k = 0; k < PROCS; k++) {
        if ((pids[k] = fork()) == 0) {
            int j;

            for (j = 0; j < ADDS; j++) {
                apikey_usage_table_count(t, 1, 0, ids[(j + k) % 3],
                                         T0 + j % 2 * DAY, j % 5 != 0);
            }
            _exit(0);
        }
    }
    for (k = 0; k < PROCS; k++) {
        clean &= waitpid(pids[k], &st, 0) == pids[k] && WIFEXITED(st)
                 && WEXITSTATUS(st) == 0;
    }
    ok(clean, "%d processes counted %d requests each", PROCS, ADDS);
    __atomic_store_n(&shm[2], 1, __ATOMIC_SEQ_CST);
    ok(waitpid(taker, &st, 0) == taker && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "the taker took all along, and once more");
    is_int((long long)shm[0], (long long)PROCS * ADDS * 4 / 5,
           "every admitted request taken, exactly once");
    is_int((long long)shm[1], (long long)PROCS * ADDS / 5,
           "every refused request taken, exactly once");
    is_int(apikey_usage_table_used(t), 3, "three keys, three entries");
    munmap(mem, size + 8 + 64);
}

int main(void)
{
    test_counts();
    test_fork();
    return done_testing();
}
