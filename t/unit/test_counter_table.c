/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The counter table: its lines aligned in memory that is not, forked
 * processes claiming rows at once (each its own) and adding to them (the
 * sum exact), the row of an exited process taken over with its totals
 * kept, a released row reused, the overflow row when every row belongs to
 * a live process, and adoption by a restart (another layout laid out
 * anew). */

/* MAP_ANONYMOUS is not POSIX. */
#define _DEFAULT_SOURCE

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apikey_counter_table.h"
#include "tap.h"

#define NFIELDS 27
#define PROCS   8
#define ADDS    20000

static void *shared(apr_size_t size)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return mem == MAP_FAILED ? NULL : mem;
}

static int wait_all(const pid_t *pids, int n)
{
    int k, st, clean = 1;

    for (k = 0; k < n; k++) {
        clean &= waitpid(pids[k], &st, 0) == pids[k] && WIFEXITED(st)
                 && WEXITSTATUS(st) == 0;
    }
    return clean;
}

static void test_layout(void)
{
    apr_size_t size = apikey_counter_table_size(4, 2, NFIELDS);
    char *mem = shared(size + 8);
    apikey_counter_table_t t, again;
    apr_uint64_t sum[NFIELDS];

    /* APR's shared memory starts a word into its mapping. */
    is_int(apikey_counter_table_init(&t, mem + 8, size, 4, 2, NFIELDS), 0,
           "a table laid out in memory 8 bytes off a page");
    is_int((long long)((uintptr_t)t.base % 64), 0, "starting on a cache line");
    is_int((long long)(t.cell_size % 64), 0, "cells of whole cache lines");
    is_int((long long)(t.row_size % 64), 0, "rows of whole cache lines");
    is_int(apikey_counter_table_init(&t, mem + 8, size - 1, 4, 2, NFIELDS), -1,
           "a byte short: refused");
    apikey_counter_table_init(&t, mem + 8, size, 4, 2, NFIELDS);
    apikey_counter_table_add(&t, 0, 0, 0, 5);
    apikey_counter_table_add(&t, 3, 1, NFIELDS - 1, 7);
    apikey_counter_table_add(&t, 4, 3, 1, 11); /* overflow; lane 3 % 2 */
    apikey_counter_table_add(&t, 99, 0, 1, 1); /* past the end: overflow */
    apikey_counter_table_add(&t, 0, 0, NFIELDS, 1000); /* no such counter */
    apikey_counter_table_sum(&t, sum);
    ok(sum[0] == 5 && sum[1] == 12 && sum[NFIELDS - 1] == 7 && sum[2] == 0,
       "adds to rows, lanes and the overflow row are summed");
    is_int(apikey_counter_table_init(&again, mem + 8, size, 4, 2, NFIELDS), 1,
           "a restart adopts the table");
    apikey_counter_table_sum(&again, sum);
    ok(sum[0] == 5 && sum[1] == 12, "with its totals");
    is_int(apikey_counter_table_init(&again, mem + 8, size, 4, 2, NFIELDS - 1),
           0, "another layout (a counter fewer) is laid out anew");
    apikey_counter_table_sum(&again, sum);
    is_int((long long)sum[0], 0, "its counts afresh");
    munmap(mem, size + 8);
}

/* PROCS processes claim rows of a table of PROCS rows at once, add ADDS
 * to their own rows over two lanes, and exit: half release their rows
 * (a clean exit), half do not (a crash). */
static void test_fork(void)
{
    apr_size_t size = apikey_counter_table_size(PROCS, 2, NFIELDS);
    void *mem = shared(size);
    unsigned *rows = shared(sizeof(unsigned) * (PROCS + 1));
    apikey_counter_table_t t;
    apr_uint64_t sum[NFIELDS];
    pid_t pids[PROCS];
    int go[2], k, distinct = 1, taken = 0, reused, took_over, again;
    unsigned row, prow;

    apikey_counter_table_init(&t, mem, size, PROCS, 2, NFIELDS);
    if (pipe(go) != 0) {
        ok(0, "pipe");
        return;
    }
    for (k = 0; k < PROCS; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            char c;
            int i, o;

            close(go[1]);
            /* Every child claims once the pipe closes: at once. */
            if (read(go[0], &c, 1) != 0) {
                _exit(2);
            }
            rows[k] =
                apikey_counter_table_claim(&t, (apr_uint32_t)getpid(), &o);
            /* Every one alive till all have claimed (rows[PROCS] counts
             * them): no row is free or dead's before. */
            __atomic_fetch_add(&rows[PROCS], 1, __ATOMIC_ACQ_REL);
            while (__atomic_load_n(&rows[PROCS], __ATOMIC_ACQUIRE) < PROCS) {
                usleep(100);
            }
            for (i = 0; i < ADDS; i++) {
                apikey_counter_table_add(&t, rows[k], (unsigned)i, 0, 1);
                apikey_counter_table_add(&t, rows[k], (unsigned)i, 1,
                                         (apr_uint64_t)k + 1);
            }
            if (k % 2) {
                apikey_counter_table_release(&t, rows[k],
                                             (apr_uint32_t)getpid());
            }
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    ok(wait_all(pids, PROCS), "%d processes claimed rows and added", PROCS);
    for (k = 0; k < PROCS; k++) {
        int j;

        distinct &= rows[k] < PROCS;
        for (j = 0; j < k; j++) {
            distinct &= rows[j] != rows[k];
        }
    }
    ok(distinct, "each claimed a row of its own, none the overflow");
    apikey_counter_table_sum(&t, sum);
    is_int((long long)sum[0], (long long)PROCS * ADDS,
           "the sum of a counter is exact");
    is_int((long long)sum[1], (long long)ADDS * PROCS * (PROCS + 1) / 2,
           "so is another's, of other amounts");
    for (k = 0; k < PROCS; k++) {
        taken += apikey_counter_table_owner(&t, rows[k]) != 0;
    }
    is_int(taken, PROCS / 2,
           "the rows of the processes that crashed are "
           "still theirs, the released ones free");

    /* New processes take the free rows first (alive till the end: then
     * only the crashed processes' rows are left). */
    if (pipe(go) != 0) {
        ok(0, "pipe");
        return;
    }
    reused = 1;
    for (k = 0; k < PROCS / 2; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            char c;

            close(go[1]);
            (void)!read(go[0], &c, 1);
            _exit(0);
        }
        row = apikey_counter_table_claim(&t, (apr_uint32_t)pids[k], &took_over);
        reused &=
            row < PROCS && !took_over
            && apikey_counter_table_owner(&t, row) == (apr_uint32_t)pids[k];
    }
    close(go[0]);
    ok(reused, "released rows are claimed first, as free ones");
    prow = apikey_counter_table_claim(&t, (apr_uint32_t)getpid(), &took_over);
    ok(prow < PROCS && took_over,
       "with none free, a process takes over the row of one that exited");
    again = apikey_counter_table_claim(&t, (apr_uint32_t)getpid(), &took_over);
    is_int(again, prow, "its own pid's row again, if it asks twice");
    for (k = 0; k < PROCS; k++) {
        if (rows[k] == prow) {
            break;
        }
    }
    ok(k < PROCS && k % 2 == 0, "a row a crashed process held");
    apikey_counter_table_add(&t, prow, 0, 0, 3);
    apikey_counter_table_sum(&t, sum);
    is_int((long long)sum[0], (long long)PROCS * ADDS + 3,
           "its totals kept, the new adds on top: nothing lost or reset");
    close(go[1]);
    ok(wait_all(pids, PROCS / 2), "the new processes exit");
    munmap(mem, size);
    munmap(rows, sizeof(unsigned) * (PROCS + 1));
}

/* Every row owned by a live process: the overflow row, shared, exact. */
static void test_overflow(void)
{
    apr_size_t size = apikey_counter_table_size(2, 1, NFIELDS);
    void *mem = shared(size);
    apikey_counter_table_t t;
    apr_uint64_t sum[NFIELDS];
    pid_t holder, pids[PROCS];
    int hold[2], o, k;
    unsigned row;

    apikey_counter_table_init(&t, mem, size, 2, 1, NFIELDS);
    if (pipe(hold) != 0) {
        ok(0, "pipe");
        return;
    }
    apikey_counter_table_claim(&t, (apr_uint32_t)getpid(), &o);
    holder = fork();
    if (holder == 0) {
        char c;

        close(hold[1]);
        apikey_counter_table_claim(&t, (apr_uint32_t)getpid(), &o);
        (void)!read(hold[0], &c, 1); /* alive till the pipe closes */
        _exit(0);
    }
    close(hold[0]);
    /* Till the holder has its row. */
    while (apikey_counter_table_owner(&t, 0) == 0
           || apikey_counter_table_owner(&t, 1) == 0) {
        usleep(1000);
    }
    row = apikey_counter_table_claim(&t, 4000000, &o);
    is_int(row, 2, "both rows belong to live processes: the overflow row");
    /* init's: kill says EPERM to a user, 0 to root; alive either way. */
    apikey_counter_table_release(&t, 0, (apr_uint32_t)getpid());
    apikey_counter_table_claim(&t, 1, &o);
    is_int(apikey_counter_table_claim(&t, 4000000, &o), 2,
           "a row of a process of another user is not taken");
    for (k = 0; k < PROCS; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            int i;
            unsigned r =
                apikey_counter_table_claim(&t, (apr_uint32_t)getpid(), &o);

            for (i = 0; i < ADDS; i++) {
                apikey_counter_table_add(&t, r, 0, 5, 1);
            }
            _exit(r == 2 ? 0 : 3);
        }
    }
    ok(wait_all(pids, PROCS), "%d processes, all given the overflow row",
       PROCS);
    apikey_counter_table_sum(&t, sum);
    is_int((long long)sum[5], (long long)PROCS * ADDS,
           "which they share exactly");
    close(hold[1]);
    ok(wait_all(&holder, 1), "the holder exits");
    row = apikey_counter_table_claim(&t, 4000001, &o);
    ok(row == 1 && o, "and its row is taken over");
    munmap(mem, size);
}

int main(void)
{
    test_layout();
    test_fork();
    test_overflow();
    return done_testing();
}
