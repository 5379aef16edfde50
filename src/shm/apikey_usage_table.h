/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage table: for every key this server has seen since it started
 * (by the key's store, look-up statement and id, as the limit table names
 * its slots), the requests admitted and refused a UTC day and its last
 * use, counted with atomic adds where the log hook sees the request, and
 * taken by the usage sync (AuthAPIKeyUsageSync) with atomic exchanges.
 * An entry counts two days, by the day's parity, so that a day's requests
 * are its own across midnight.  Entries are claimed by compare-and-swap
 * and never freed; when none is left a key is not counted (best effort:
 * the count of what was dropped says so).  No lock, no httpd. */
#ifndef APIKEY_USAGE_TABLE_H
#define APIKEY_USAGE_TABLE_H

#include "apr.h"

/* The longest key id an entry holds (the apikey_usage.key_id column). */
#define APIKEY_USAGE_ID_MAX 64

typedef struct apikey_usage_table_t apikey_usage_table_t;

/* A key's counts of one day taken from an entry by the sync. */
typedef struct {
    apr_uint32_t store, query;
    char id[APIKEY_USAGE_ID_MAX + 1];
    long long day; /* days since 1970-01-01 UTC */
    apr_uint64_t admitted, refused;
    long long last_used; /* Unix seconds, within day; 0: none */
} apikey_usage_take_t;

/* Bytes of a table of nslots entries. */
apr_size_t apikey_usage_table_size(unsigned nslots);

/* Lays a table of nslots entries out in the size bytes at mem (zeroed);
 * NULL when they do not fit. */
apikey_usage_table_t *apikey_usage_table_init(void *mem, apr_size_t size,
                                              unsigned nslots);

/* Counts a request of key (store, query, id) at now (Unix seconds):
 * admitted, or refused.  0, or -1 when the table had no entry left for
 * it (counted as dropped) or the id is longer than APIKEY_USAGE_ID_MAX. */
int apikey_usage_table_count(apikey_usage_table_t *t, apr_uint32_t store,
                             apr_uint32_t query, const char *id, long long now,
                             int admitted);

/* Entries, claimed or not, for the sync's walk. */
unsigned apikey_usage_table_slots(const apikey_usage_table_t *t);

/* Takes what entry i counted on the day of parity half (0 or 1) since the
 * last take: 1 with *out, 0 when there is nothing. */
int apikey_usage_table_take(apikey_usage_table_t *t, unsigned i, int half,
                            apikey_usage_take_t *out);

/* Puts back counts taken that could not be written, for the next take. */
void apikey_usage_table_restore(apikey_usage_table_t *t, unsigned i, int half,
                                const apikey_usage_take_t *taken);

/* Requests not counted for want of an entry, and entries in use. */
apr_uint64_t apikey_usage_table_dropped(const apikey_usage_table_t *t);
unsigned apikey_usage_table_used(const apikey_usage_table_t *t);

/* Entry i's key and its totals since the table was laid out (the status
 * page): 1, or 0 when entry i is not in use. */
int apikey_usage_table_entry(const apikey_usage_table_t *t, unsigned i,
                             apr_uint32_t *store, apr_uint32_t *query,
                             char id[APIKEY_USAGE_ID_MAX + 1],
                             apr_uint64_t *admitted, apr_uint64_t *refused,
                             long long *last_used);

#endif /* APIKEY_USAGE_TABLE_H */
