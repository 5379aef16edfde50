/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The look-up cache: the table of apikey_cache_table.c in anonymous shared
 * memory that every child inherits, holding what the store answered for a
 * digest (the key's record, or "no such key") so that a known key costs no
 * database query and no lock. */
#ifndef APIKEY_CACHE_H
#define APIKEY_CACHE_H

#include "httpd.h"

#include "apikey_cache_table.h"
#include "apikey_config.h"
#include "apikey_request.h"
#include "apikey_store.h"

/* Numbers the servers and creates the table (real post_config pass only;
 * AuthAPIKeyCacheSize 0 makes none).  A new table per generation: a
 * restart starts cold. */
apr_status_t apikey_cache_init(apr_pool_t *pconf, server_rec *s);

/* The table, or NULL when there is none. */
apikey_cache_table_t *apikey_cache_table(void);

/* What the cache knows of the key of len bytes presented under query: HIT
 * fills *rec from the request pool, NEGATIVE means the store has no such
 * key; on either, *strict says whether the key passed the checksum
 * format's check when it was cached.  *tag and *gen get what to hand to
 * apikey_cache_put after asking the store.  Hits are counted, misses by
 * apikey_cache_miss.  No digest is computed and no format
 * checked: a cached key costs neither SHA-256 nor its checksum. */
apikey_cache_answer_t
apikey_cache_get(request_rec *r, const apikey_srv_conf_t *srv,
                 const apikey_query_t *query, const char *key, apr_size_t len,
                 apikey_cache_tag_t *tag, apikey_record_t *rec,
                 apr_uint32_t *gen, int *strict);

/* Counts a miss that the store is asked about. */
void apikey_cache_miss(const apikey_srv_conf_t *srv);

/* Remembers the store's answer for tag, as of generation gen (both from
 * apikey_cache_get): rec, or NULL for "no such key"; strict, whether the
 * key passed the checksum format's check. */
void apikey_cache_put(request_rec *r, const apikey_srv_conf_t *srv,
                      const apikey_cache_tag_t *tag, apr_uint32_t gen,
                      const apikey_record_t *rec, int strict);

/* Tells the change-marker poller that this server's store is in use. */
void apikey_cache_mark_used(const apikey_srv_conf_t *srv);

#endif /* APIKEY_CACHE_H */
