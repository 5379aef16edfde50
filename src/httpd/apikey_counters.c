/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Counters (see apikey_counters.h). */

#include "apikey_counters.h"
#include "apikey_cache_table.h"
#include "apikey_shm.h"

#include "http_config.h"

#define RETAINED_KEY "mod_authn_apikey-stats"

static apikey_counters_t *stats;

int apikey_counters_init(server_rec *s)
{
    apikey_shm_t shm;

    /* Zeroed by the kernel when made; kept by every restart after.  A
     * build that counts more results than the one that made the segment (a
     * graceful restart after an upgrade) starts afresh rather than write
     * past its end. */
    if (apikey_shm_get(s, NULL, RETAINED_KEY, sizeof(apikey_counters_t), 0,
                       &shm)
        != APR_SUCCESS) {
        stats = NULL;
        return -1;
    }
    stats = shm.base;
    return 0;
}

static void add(apr_uint64_t *c)
{
    if (stats) {
        __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
    }
}

void apikey_counters_result(apikey_result_t result)
{
    if (stats && result > APIKEY_RESULT_NONE && result < APIKEY_RESULTS) {
        add(&stats->results[result]);
    }
}

void apikey_counters_cache(int answer)
{
    if (stats) {
        add(answer == APIKEY_CACHE_HIT        ? &stats->cache_hit
            : answer == APIKEY_CACHE_NEGATIVE ? &stats->cache_negative
                                              : &stats->cache_miss);
    }
}

void apikey_counters_db_error(void)
{
    if (stats) {
        add(&stats->db_errors);
    }
}

void apikey_counters_quota_claim(unsigned statements, int failed)
{
    if (stats) {
        add(&stats->quota_claims);
        __atomic_fetch_add(&stats->quota_statements, statements,
                           __ATOMIC_RELAXED);
        if (failed) {
            add(&stats->quota_errors);
        }
    }
}

void apikey_counters_quota_back(unsigned long units, int failed)
{
    if (stats) {
        add(&stats->quota_statements);
        if (failed) {
            add(&stats->quota_errors);
        }
        else {
            __atomic_fetch_add(&stats->quota_units_back, units,
                               __ATOMIC_RELAXED);
        }
    }
}

void apikey_counters_get(apikey_counters_t *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    if (!stats) {
        return;
    }
    for (i = 0; i < APIKEY_RESULTS; i++) {
        out->results[i] = __atomic_load_n(&stats->results[i], __ATOMIC_RELAXED);
    }
    out->cache_hit = __atomic_load_n(&stats->cache_hit, __ATOMIC_RELAXED);
    out->cache_negative =
        __atomic_load_n(&stats->cache_negative, __ATOMIC_RELAXED);
    out->cache_miss = __atomic_load_n(&stats->cache_miss, __ATOMIC_RELAXED);
    out->db_errors = __atomic_load_n(&stats->db_errors, __ATOMIC_RELAXED);
    out->quota_claims = __atomic_load_n(&stats->quota_claims, __ATOMIC_RELAXED);
    out->quota_statements =
        __atomic_load_n(&stats->quota_statements, __ATOMIC_RELAXED);
    out->quota_units_back =
        __atomic_load_n(&stats->quota_units_back, __ATOMIC_RELAXED);
    out->quota_errors = __atomic_load_n(&stats->quota_errors, __ATOMIC_RELAXED);
}
