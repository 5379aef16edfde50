/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Helpers of the limit tests: rate limits and quotas built field by
 * field, and a key's slot found in the limit table. */
#ifndef LIMIT_HELPERS_H
#define LIMIT_HELPERS_H

#include <string.h>

#include "apikey_limit.h"
#include "apikey_limit_table.h"

/* burst requests at once, then one per interval_us. */
static inline apikey_rate_t rate_of(long long interval_us, long long burst)
{
    apikey_rate_t r;

    r.interval_us = interval_us;
    r.burst = burst;
    r.rate = burst;
    r.window_us = interval_us * burst;
    return r;
}

static inline apikey_quota_t quota_of(unsigned long limit,
                                      apikey_period_t period)
{
    apikey_quota_t q;

    q.limit = limit;
    q.period = period;
    return q;
}

/* Key id of the one store the tests use (the default look-up). */
#define KEY(id) (&(const apikey_slot_key_t){(id), 1, 0, 0})

/* The slot index of key id, found through the view, or -1. */
static inline int find_key(apikey_limit_table_t *t, const char *id,
                           apikey_quota_view_t *v)
{
    unsigned i;

    for (i = 0; i < apikey_limit_table_slots(t); i++) {
        if (apikey_limit_table_view(t, i, v) && !strcmp(v->id, id)) {
            return (int)i;
        }
    }
    return -1;
}

#endif /* LIMIT_HELPERS_H */
