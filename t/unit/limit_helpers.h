/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements.  See the NOTICE file distributed with
 * this work for additional information regarding copyright ownership.
 * The ASF licenses this file to You under the Apache License, Version 2.0
 * (the "License"); you may not use this file except in compliance with
 * the License.  You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* Helpers of the limit tests: rate limits and quotas built field by
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
#define KEY(id) (&(const apikey_slot_key_t){(id), 1, 0})

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
