/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The look-up cache (see apikey_cache.h): shared memory, and records packed
 * into and out of the table's slots. */

#include "apikey_cache.h"
#include "apikey_key.h"
#include "apikey_logno.h"
#include "apikey_counters.h"
#include "apikey_shm.h"

#include "apr_strings.h"
#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

static apikey_cache_table_t *table;

apikey_cache_table_t *apikey_cache_table(void)
{
    return table;
}

apr_status_t apikey_cache_init(apr_pool_t *pconf, server_rec *s)
{
    const apikey_srv_conf_t *main_conf =
        ap_get_module_config(s->module_config, &authn_apikey_module);
    unsigned char seed[APIKEY_CACHE_SEED_LEN];
    unsigned nservers = 0;
    apikey_shm_t shm;
    apr_size_t size;
    apr_status_t rv;
    server_rec *sp;

    table = NULL;
    for (sp = s; sp; sp = sp->next) {
        apikey_srv_conf_t *conf =
            ap_get_module_config(sp->module_config, &authn_apikey_module);
        conf->index = nservers++;
    }
    if (main_conf->cache_entries <= 0) {
        return APR_SUCCESS;
    }
    size =
        apikey_cache_table_size((unsigned)main_conf->cache_entries, nservers);
    /* Not kept across restarts: the servers it numbers are this
     * configuration's. */
    rv = apikey_shm_get(s, pconf, NULL, size, 0, &shm);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00019) "cannot create the look-up cache "
                                         "(%" APR_SIZE_T_FMT " bytes); lower "
                                         "AuthAPIKeyCacheSize",
                     size);
        return rv;
    }
    if (apikey_shm_seed(s, "the look-up cache", seed)) {
        return APR_EGENERAL;
    }
    table = apikey_cache_table_init(
        shm.base, size, (unsigned)main_conf->cache_entries, nservers, seed);
    apikey_wipe(seed, sizeof(seed));
    return APR_SUCCESS;
}

/* The store behind a server and a look-up statement: entries of other
 * servers (other databases) and other queries never answer.  Both numbers
 * belong to this configuration, like the table, which a restart remakes. */
static apr_uint64_t scope_of(const apikey_srv_conf_t *srv,
                             const apikey_query_t *query)
{
    return ((apr_uint64_t)srv->index << 32) | query->number;
}

apikey_cache_answer_t
apikey_cache_get(request_rec *r, const apikey_srv_conf_t *srv,
                 const apikey_query_t *query, const char *key, apr_size_t len,
                 apikey_cache_tag_t *tag, apikey_record_t *rec,
                 apr_uint32_t *gen, int *strict)
{
    char data[APIKEY_CACHE_DATA_MAX];
    apr_size_t n = 0;
    apikey_cache_answer_t ans;

    if (!table || srv->cache_ttl <= 0) {
        return APIKEY_CACHE_MISS;
    }
    /* Before the look-up that a miss leads to: an invalidation that comes
     * while the store answers makes that answer stale at once. */
    *gen = apikey_cache_table_generation(table);
    apikey_cache_table_tag(table, scope_of(srv, query), key, len, tag);
    /* The request's start is "now" enough for an expiry in seconds, and
     * costs no clock read. */
    ans = apikey_cache_table_lookup(table, tag, r->request_time, data, &n,
                                    strict);
    if (ans == APIKEY_CACHE_HIT
        && apikey_record_unpack(r->pool, data, n, rec)) {
        ans = APIKEY_CACHE_MISS;
    }
    /* Misses are counted when the store is asked (apikey_cache_miss): a
     * malformed key or a blocked client's is none of the counters'. */
    if (ans != APIKEY_CACHE_MISS) {
        apikey_counters_cache(ans);
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "look-up cache: %s",
                  ans == APIKEY_CACHE_HIT        ? "hit"
                  : ans == APIKEY_CACHE_NEGATIVE ? "negative hit"
                                                 : "miss");
    return ans;
}

void apikey_cache_miss(const apikey_srv_conf_t *srv)
{
    if (table && srv->cache_ttl > 0) {
        apikey_counters_cache(APIKEY_CACHE_MISS);
    }
}

void apikey_cache_put(request_rec *r, const apikey_srv_conf_t *srv,
                      const apikey_cache_tag_t *tag, apr_uint32_t gen,
                      const apikey_record_t *rec, int strict)
{
    char data[APIKEY_CACHE_DATA_MAX];
    apr_interval_time_t ttl = rec ? srv->cache_ttl : srv->cache_negative_ttl;
    apr_time_t now = apr_time_now();
    apr_size_t len = 0;

    (void)r;
    if (!table || srv->cache_ttl <= 0 || ttl <= 0) {
        return;
    }
    if (rec && (len = apikey_record_pack(rec, data, sizeof(data))) == 0) {
        return;
    }
    apikey_cache_table_put(table, tag, gen, now, now + ttl, data, len,
                           (rec ? 0 : APIKEY_CACHE_FLAG_NEGATIVE)
                               | (strict ? APIKEY_CACHE_FLAG_STRICT : 0));
}

void apikey_cache_mark_used(const apikey_srv_conf_t *srv)
{
    if (table) {
        apikey_cache_table_mark_used(table, srv->index);
    }
}
