/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The counter table (see apikey_counter_table.h).  Layout: a cache line of
 * header; then nrows + 1 rows, each a cache line holding its owner's pid
 * (written at claims and releases only) and nlanes cells, each a whole
 * number of cache lines.  The table starts at the first 64-byte boundary
 * of the memory it is given (APR's shared memory starts a word past the
 * page it maps), so every line of it is a cache line of its own. */

#include "apikey_counter_table.h"
#include "apikey_segment.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define TABLE_MAGIC APR_UINT64_C(0x41504b434e545231) /* "APKCNTR1" */
#define LINE        64

typedef struct {
    apikey_segment_header_t h; /* slots: the rows; slot size: a row's */
    apr_uint64_t pad[3];
} header_t;

typedef char header_is_a_line[sizeof(header_t) == LINE ? 1 : -1];

static apr_size_t cell_size(unsigned nfields)
{
    apr_size_t bytes = (apr_size_t)nfields * sizeof(apr_uint64_t);

    return (bytes + LINE - 1) / LINE * LINE;
}

static apr_size_t row_size(unsigned nlanes, unsigned nfields)
{
    return LINE + (apr_size_t)nlanes * cell_size(nfields);
}

apr_size_t apikey_counter_table_size(unsigned nrows, unsigned nlanes,
                                     unsigned nfields)
{
    /* Room to start on a line boundary. */
    return LINE - 1 + sizeof(header_t)
           + ((apr_size_t)nrows + 1) * row_size(nlanes, nfields);
}

static char *row_at(const apikey_counter_table_t *t, unsigned row)
{
    return t->base + sizeof(header_t) + (apr_size_t)row * t->row_size;
}

static apr_uint32_t *owner_of(const apikey_counter_table_t *t, unsigned row)
{
    return (apr_uint32_t *)row_at(t, row);
}

int apikey_counter_table_init(apikey_counter_table_t *t, void *mem,
                              apr_size_t size, unsigned nrows, unsigned nlanes,
                              unsigned nfields)
{
    static const unsigned char no_seed[APIKEY_SEGMENT_SEED_LEN] = {0};
    apr_size_t rs = row_size(nlanes, nfields);
    apr_size_t skip = (LINE - (apr_uintptr_t)mem % LINE) % LINE;

    memset(t, 0, sizeof(*t));
    if (!nrows || !nlanes || !nfields || rs > APR_UINT32_MAX
        || size < apikey_counter_table_size(nrows, nlanes, nfields)) {
        return -1;
    }
    t->base = (char *)mem + skip;
    size -= skip;
    t->nrows = nrows;
    t->nlanes = nlanes;
    t->nfields = nfields;
    t->cell_size = cell_size(nfields);
    t->row_size = rs;
    /* The magic counts the counters a cell: a table with more or fewer is
     * laid out anew, not adopted. */
    return apikey_segment_init(t->base, size, TABLE_MAGIC + nfields, nrows + 1,
                               (apr_uint32_t)rs, no_seed, 1);
}

/* An owner that has exited.  EPERM (another user's process: not ours, but
 * alive) keeps the row; so does a zombie, until its parent reaps it.  A
 * value no pid can be (memory written over) frees the row. */
static int gone(apr_uint32_t pid)
{
    if (pid > (apr_uint32_t)APR_INT32_MAX) {
        return 1;
    }
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

unsigned apikey_counter_table_claim(const apikey_counter_table_t *t,
                                    apr_uint32_t pid, int *took_over)
{
    unsigned pass, i;

    *took_over = 0;
    /* Free rows first (a child that exited cleanly released its own), and
     * a row of this pid (its former owner exited, the pid came round
     * again); then, with a system call each, rows of processes gone. */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < t->nrows; i++) {
            apr_uint32_t *o = owner_of(t, i);
            apr_uint32_t was = __atomic_load_n(o, __ATOMIC_ACQUIRE);

            if (pass == 0 ? was != 0 && was != pid : was == 0 || !gone(was)) {
                continue;
            }
            if (was == pid
                || __atomic_compare_exchange_n(
                    o, &was, pid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                *took_over = was != 0;
                return i;
            }
        }
    }
    return t->nrows;
}

void apikey_counter_table_release(const apikey_counter_table_t *t, unsigned row,
                                  apr_uint32_t pid)
{
    if (row < t->nrows) {
        __atomic_compare_exchange_n(owner_of(t, row), &pid, 0, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    }
}

apr_uint32_t apikey_counter_table_owner(const apikey_counter_table_t *t,
                                        unsigned row)
{
    return row < t->nrows ? __atomic_load_n(owner_of(t, row), __ATOMIC_ACQUIRE)
                          : 0;
}

void apikey_counter_table_add(const apikey_counter_table_t *t, unsigned row,
                              unsigned lane, unsigned field, apr_uint64_t n)
{
    apr_uint64_t *cell;

    if (!t->base || field >= t->nfields) {
        return;
    }
    if (row > t->nrows) {
        row = t->nrows;
    }
    cell = (apr_uint64_t *)(row_at(t, row) + LINE
                            + (apr_size_t)(lane % t->nlanes) * t->cell_size);
    /* Relaxed: a count, ordered with nothing; atomic, because the threads
     * of a process share a lane when they outnumber them, and processes
     * share the overflow row. */
    __atomic_fetch_add(&cell[field], n, __ATOMIC_RELAXED);
}

void apikey_counter_table_sum(const apikey_counter_table_t *t,
                              apr_uint64_t *out)
{
    unsigned row, lane, f;

    memset(out, 0, (apr_size_t)t->nfields * sizeof(*out));
    if (!t->base) {
        return;
    }
    for (row = 0; row <= t->nrows; row++) {
        for (lane = 0; lane < t->nlanes; lane++) {
            const apr_uint64_t *cell =
                (const apr_uint64_t *)(row_at(t, row) + LINE
                                       + (apr_size_t)lane * t->cell_size);

            for (f = 0; f < t->nfields; f++) {
                out[f] += __atomic_load_n(&cell[f], __ATOMIC_RELAXED);
            }
        }
    }
}
