/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Counters for the status page's metrics: requests by result, look-up
 * cache hits and misses, database errors.  Each process adds to its own
 * row of a table in retained shared memory (src/shm/apikey_counter_table),
 * so no request writes a cache line another process uses; the status page
 * sums the rows.  They survive restarts and children's exits (a new child
 * goes on from a dead one's row), as Prometheus counters should. */
#ifndef APIKEY_COUNTERS_H
#define APIKEY_COUNTERS_H

#include "httpd.h"

#include "apikey_request.h"

#define APIKEY_RESULTS (APIKEY_RESULT_CERT_DENIED + 1)

typedef struct {
    apr_uint64_t results[APIKEY_RESULTS]; /* by apikey_result_t */
    apr_uint64_t cache_hit, cache_negative, cache_miss;
    apr_uint64_t db_errors;
    /* Cluster-wide quotas: claims made (each one or more statements),
     * statements run for them, units given back by syncs, and claims or
     * give-backs the store could not answer. */
    apr_uint64_t quota_claims, quota_statements, quota_units_back;
    apr_uint64_t quota_errors;
} apikey_counters_t;

/* Creates or finds the counters (real post_config pass); 0 or -1. */
int apikey_counters_init(server_rec *s);

/* Claims this child's row (child_init); until then, and when none is free,
 * it counts in the row every process shares. */
void apikey_counters_child_init(apr_pool_t *pchild, server_rec *s);

/* Adds one; nothing when the counters could not be made. */
void apikey_counters_result(apikey_result_t result);
void apikey_counters_cache(int answer); /* an apikey_cache_answer_t */
void apikey_counters_db_error(void);
/* A claim of statements statements (0 when it failed before any). */
void apikey_counters_quota_claim(unsigned statements, int failed);
void apikey_counters_quota_back(unsigned long units, int failed);

/* The counters summed over every process's row, or zeros. */
void apikey_counters_get(apikey_counters_t *out);

#endif /* APIKEY_COUNTERS_H */
