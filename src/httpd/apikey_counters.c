/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Counters (see apikey_counters.h).  The table has twice the rows the MPM
 * may have children (ServerLimit: a graceful restart's old children hold
 * their rows till they exit, and a row stays taken while its exited owner
 * is a zombie), plus a few; a row has a lane per thread the MPM may run
 * in a child (ThreadLimit), up to MAX_LANES, handed round to the threads
 * as they first count.  Both limits hold for the parent's lifetime (the
 * MPMs refuse to change them at a restart), so every restart finds the
 * table again with the same size. */

#include "apikey_counters.h"
#include "apikey_cache_table.h"
#include "apikey_counter_table.h"
#include "apikey_logno.h"
#include "apikey_shm.h"

#include <stddef.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "http_config.h"
#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

/* Named for the layout: a build whose rows hold other counters gets a
 * segment of its own, its counts afresh (the old generation's children
 * keep the old one till they exit). */
#define RETAINED_KEY "mod_authn_apikey-counters-rows3"
#define SPARE_ROWS   4
#define MAX_LANES    16
#define NFIELDS      (sizeof(apikey_counters_t) / sizeof(apr_uint64_t))
#define FIELD(name)  (offsetof(apikey_counters_t, name) / sizeof(apr_uint64_t))

/* apikey_counters_get sums the table straight into the struct. */
typedef char only_counters[sizeof(apikey_counters_t) % sizeof(apr_uint64_t) == 0
                               ? 1
                               : -1];

static apikey_counter_table_t table;
static int have_table;
/* This process's row: the overflow row until child_init claims one. */
static unsigned my_row;
static apr_uint32_t my_pid;
static unsigned next_lane;
/* This thread's lane, plus one (0: none yet). */
static __thread unsigned my_lane;

static unsigned mpm_limit(int query, unsigned fallback)
{
    int v = 0;

    if (ap_mpm_query(query, &v) != APR_SUCCESS || v <= 0) {
        return fallback;
    }
    return (unsigned)v;
}

int apikey_counters_init(server_rec *s)
{
    unsigned nrows =
        mpm_limit(AP_MPMQ_HARD_LIMIT_DAEMONS, 256) * 2 + SPARE_ROWS;
    unsigned nlanes = mpm_limit(AP_MPMQ_HARD_LIMIT_THREADS, 1);
    apikey_shm_t shm;

    have_table = 0;
    if (nlanes > MAX_LANES) {
        nlanes = MAX_LANES;
    }
    /* Zeroed by the kernel when made; kept by every restart after.  The
     * shape tells apart a table of other rows or lanes of the same size. */
    if (apikey_shm_get(s, NULL, RETAINED_KEY,
                       apikey_counter_table_size(nrows, nlanes, NFIELDS),
                       nrows * (MAX_LANES + 1) + nlanes, &shm)
            != APR_SUCCESS
        || apikey_counter_table_init(&table, shm.base, shm.size, nrows, nlanes,
                                     NFIELDS)
               < 0) {
        return -1;
    }
    my_row = table.nrows;
    my_pid = 0;
    have_table = 1;
    return 0;
}

static apr_status_t release_row(void *unused)
{
    (void)unused;
    /* Late adds (a thread still finishing) land in the row all the same,
     * atomically, whoever owns it by then. */
    apikey_counter_table_release(&table, my_row, my_pid);
    return APR_SUCCESS;
}

void apikey_counters_child_init(apr_pool_t *pchild, server_rec *s)
{
    int took_over;

    if (!have_table) {
        return;
    }
    my_pid = (apr_uint32_t)getpid();
    my_row = apikey_counter_table_claim(&table, my_pid, &took_over);
    if (my_row == table.nrows) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     APIKEY_LOGNO(00055) "all %u rows of the status page's "
                                         "counters belong to live processes: "
                                         "this child counts in the row they "
                                         "share (exact, but slower)",
                     table.nrows);
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, release_row, apr_pool_cleanup_null);
}

static void add(unsigned field, apr_uint64_t n)
{
    if (!have_table) {
        return;
    }
    if (!my_lane) {
        my_lane = __atomic_fetch_add(&next_lane, 1, __ATOMIC_RELAXED) + 1;
    }
    apikey_counter_table_add(&table, my_row, my_lane - 1, field, n);
}

void apikey_counters_result(apikey_result_t result)
{
    if (result > APIKEY_RESULT_NONE && result < APIKEY_RESULTS) {
        add(FIELD(results) + (unsigned)result, 1);
    }
}

void apikey_counters_cache(int answer)
{
    add(answer == APIKEY_CACHE_HIT        ? FIELD(cache_hit)
        : answer == APIKEY_CACHE_NEGATIVE ? FIELD(cache_negative)
                                          : FIELD(cache_miss),
        1);
}

void apikey_counters_db_error(void)
{
    add(FIELD(db_errors), 1);
}

void apikey_counters_quota_claim(unsigned statements, int failed)
{
    add(FIELD(quota_claims), 1);
    add(FIELD(quota_statements), statements);
    if (failed) {
        add(FIELD(quota_errors), 1);
    }
}

void apikey_counters_quota_back(unsigned long units, int failed)
{
    add(FIELD(quota_statements), 1);
    if (failed) {
        add(FIELD(quota_errors), 1);
    }
    else {
        add(FIELD(quota_units_back), units);
    }
}

void apikey_counters_get(apikey_counters_t *out)
{
    memset(out, 0, sizeof(*out));
    if (have_table) {
        apikey_counter_table_sum(&table, (apr_uint64_t *)out);
    }
}
