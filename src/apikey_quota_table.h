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

/* The limit table: one slot of 128 bytes per key, in memory that every
 * child of every generation shares, charged with 64-bit compare-and-swap
 * only.  No lock: a child killed at any instant leaves every word whole.
 * No httpd here, so unit tests hammer it from forked processes. */
#ifndef APIKEY_QUOTA_TABLE_H
#define APIKEY_QUOTA_TABLE_H

#include "apr.h"

#include "apikey_limit.h"

#define APIKEY_QUOTA_SLOT_SIZE 128
#define APIKEY_QUOTA_SEED_LEN  16
/* Slots a key may live in, from its hash on. */
#define APIKEY_QUOTA_PROBES 16
/* A slot whose windows have expired is reused only after this long
 * untouched, so that no request can still be charging its old key. */
#define APIKEY_QUOTA_REUSE_AFTER (10 * 1000000LL)
/* How far back a clock may step and still find its counts kept: a quota
 * count of a period up to this far ahead (or of the next period), and a
 * rate limit's TAT up to this far beyond a whole burst, are never reset,
 * so a spent quota or burst is not granted again.  Further ahead they
 * cannot come from this clock's charges (corrupt, or a clock that was
 * wrong then): they are reset and the charge says so (repaired). */
#define APIKEY_QUOTA_CLOCK_SLACK (86400 * 1000000LL)

typedef struct apikey_quota_table_t apikey_quota_table_t;

typedef enum {
    APIKEY_CHARGE_ADMIT = 0,
    APIKEY_CHARGE_RATE_LIMITED,
    APIKEY_CHARGE_QUOTA_EXCEEDED,
    APIKEY_CHARGE_FULL /* no slot for the key: fail closed */
} apikey_charge_result_t;

typedef struct {
    apikey_charge_result_t result;
    int repaired;       /* the key's slot was invalid and was reset */
    long long retry_us; /* when refused: how long until it would pass */
    long long rate_remaining, rate_reset_us;
    unsigned long quota_used, quota_remaining;
    long long quota_reset_us;
} apikey_charge_t;

/* A slot as the status page shows it. */
typedef struct {
    char id[33];
    char owner[33];
    long long tat, last_used;
    /* The quota's current count: the period it belongs to (an index of
     * the slot's period type, as apikey_period_index gives; a period
     * after now's when the clock stepped back, whose count still
     * applies) and the count. */
    unsigned long quota_period, quota_count;
    unsigned long quota_limit;
    apikey_period_t period;
    long long rate_interval_us, burst;
} apikey_quota_view_t;

apr_size_t apikey_quota_table_size(unsigned nslots);

/* Lays a table out in mem, or adopts the one already there when it has the
 * same layout (a restart keeping the memory): returns the table and sets
 * *adopted, or NULL when size is too small. */
apikey_quota_table_t *
apikey_quota_table_init(void *mem, apr_size_t size, unsigned nslots,
                        const unsigned char seed[APIKEY_QUOTA_SEED_LEN],
                        int *adopted);

/* Charges one request of key id (owner for display) at now against rate
 * and quota (either may be unlimited: interval 0, limit 0).  With
 * report_only, counts but never refuses (results still say what enforcing
 * would have done). */
void apikey_quota_table_charge(apikey_quota_table_t *t, const char *id,
                               const char *owner, const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int report_only, apikey_charge_t *out);

/* Copies slot i when it is in use and valid; returns 1, else 0. */
int apikey_quota_table_view(apikey_quota_table_t *t, unsigned i,
                            apikey_quota_view_t *v);

unsigned apikey_quota_table_slots(apikey_quota_table_t *t);

/* The header words every slot depends on: the slot count and size bound
 * every index, the seed makes every key's owner word.  A process keeps a
 * copy from when the table is set up (children inherit it), so that memory
 * scribbled over there cannot send a charge outside the table (a crash at
 * every request of a limited key) nor lose every key's slot (all quotas
 * granted again). */
typedef struct {
    apr_uint32_t nslots, slot_size;
    unsigned char seed[APIKEY_QUOTA_SEED_LEN];
} apikey_quota_header_t;

void apikey_quota_table_header_get(apikey_quota_table_t *t,
                                   apikey_quota_header_t *h);

/* Compares t's header with h and writes h back where they differ (with the
 * table's magic); returns 1 when it restored anything, else 0.  Every
 * process restoring at once writes the same words. */
int apikey_quota_table_header_check(apikey_quota_table_t *t,
                                    const apikey_quota_header_t *h);

/* 1 when the caller should log "table full" now: at most once per
 * interval_us across all processes. */
int apikey_quota_table_full_log_due(apikey_quota_table_t *t, long long now,
                                    long long interval_us);

/* Writes the table to path (via a temporary file renamed over it) and
 * reads it back: 0 or -1 with errno set.  Loading keeps only valid slots
 * and requires the same number of slots. */
int apikey_quota_table_save(apikey_quota_table_t *t, const char *path);
int apikey_quota_table_load(apikey_quota_table_t *t, const char *path);

#endif /* APIKEY_QUOTA_TABLE_H */
