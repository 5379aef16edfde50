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

/* The look-up cache (see apikey_cache.h): shared memory, and records packed
 * into and out of the table's slots. */

#include "apikey_cache.h"
#include "apikey_key.h"
#include "apikey_logno.h"
#include "apikey_counters.h"

#include "apr_shm.h"
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
    apr_shm_t *shm;
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
    /* Anonymous: children inherit the mapping at fork, no file, no attach;
     * pconf destroys it at the next restart. */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00019) "cannot create the look-up cache "
                                         "(%" APR_SIZE_T_FMT " bytes); lower "
                                         "AuthAPIKeyCacheSize",
                     size);
        return rv;
    }
    rv = apr_generate_random_bytes(seed, sizeof(seed));
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00020) "no random seed for the look-up "
                                         "cache");
        return rv;
    }
    table = apikey_cache_table_init(apr_shm_baseaddr_get(shm), size,
                                    (unsigned)main_conf->cache_entries,
                                    nservers, seed);
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

/* Packing: three bytes (version, flags, number of extra columns), then
 * NUL-terminated strings: id, owner, scopes, status, expires, not_before,
 * allow_ip, allow_referer, allow_method, grace_until, replaced_by, rate,
 * burst, quota, then name and value of each extra column.  Unpacking
 * points the record into one copy of the block. */
#define PACK_VERSION     3
#define HAS_EXPIRES      0x01
#define HAS_NOT_BEFORE   0x02
#define HAS_ALLOW_IP     0x04
#define HAS_ALLOW_REF    0x08
#define HAS_ALLOW_METHOD 0x10
#define HAS_GRACE_UNTIL  0x20
#define HAS_REPLACED_BY  0x40

static int put_str(char *buf, apr_size_t *at, const char *s)
{
    apr_size_t n = strlen(s ? s : "") + 1;

    if (*at + n > APIKEY_CACHE_DATA_MAX) {
        return -1;
    }
    memcpy(buf + *at, s ? s : "", n);
    *at += n;
    return 0;
}

static apr_size_t pack(const apikey_record_t *rec, char *buf)
{
    char expires[24] = "", not_before[24] = "", grace_until[24] = "";
    char burst[24] = "";
    apr_size_t at = 3;
    int i, bad = 0;

    buf[0] = PACK_VERSION;
    buf[1] = (char)((rec->has_expires ? HAS_EXPIRES : 0)
                    | (rec->has_not_before ? HAS_NOT_BEFORE : 0)
                    | (rec->allow_ip ? HAS_ALLOW_IP : 0)
                    | (rec->allow_referer ? HAS_ALLOW_REF : 0)
                    | (rec->allow_method ? HAS_ALLOW_METHOD : 0)
                    | (rec->has_grace_until ? HAS_GRACE_UNTIL : 0)
                    | (rec->replaced_by ? HAS_REPLACED_BY : 0));
    buf[2] = (char)rec->nextra;
    if (rec->has_expires) {
        apr_snprintf(expires, sizeof(expires), "%" APR_INT64_T_FMT,
                     (apr_int64_t)rec->expires);
    }
    if (rec->burst) {
        apr_snprintf(burst, sizeof(burst), "%" APR_INT64_T_FMT,
                     (apr_int64_t)rec->burst);
    }
    if (rec->has_grace_until) {
        apr_snprintf(grace_until, sizeof(grace_until), "%" APR_INT64_T_FMT,
                     (apr_int64_t)rec->grace_until);
    }
    if (rec->has_not_before) {
        apr_snprintf(not_before, sizeof(not_before), "%" APR_INT64_T_FMT,
                     (apr_int64_t)rec->not_before);
    }
    bad |= put_str(buf, &at, rec->id) | put_str(buf, &at, rec->owner)
           | put_str(buf, &at, rec->scopes) | put_str(buf, &at, rec->status)
           | put_str(buf, &at, expires) | put_str(buf, &at, not_before)
           | put_str(buf, &at, rec->allow_ip)
           | put_str(buf, &at, rec->allow_referer)
           | put_str(buf, &at, rec->allow_method)
           | put_str(buf, &at, grace_until)
           | put_str(buf, &at, rec->replaced_by) | put_str(buf, &at, rec->rate)
           | put_str(buf, &at, burst) | put_str(buf, &at, rec->quota);
    for (i = 0; i < rec->nextra && !bad; i++) {
        bad |= put_str(buf, &at, rec->extra_env[i])
               | put_str(buf, &at, rec->extra_value[i]);
    }
    /* Too big for a slot: such a key is simply not cached. */
    return bad ? 0 : at;
}

/* The next string of a packed block, or NULL when the block is short. */
static const char *next_str(const char **p, const char *end)
{
    const char *s = *p, *nul = memchr(s, '\0', (apr_size_t)(end - s));

    if (!nul) {
        return NULL;
    }
    *p = nul + 1;
    return s;
}

static int unpack(apr_pool_t *pool, const char *data, apr_size_t len,
                  apikey_record_t *rec)
{
    const char *p, *end, *f[14];
    int i, flags;

    if (len < 3 || data[0] != PACK_VERSION) {
        return -1;
    }
    p = apr_pmemdup(pool, data, len);
    end = p + len;
    flags = (unsigned char)p[1];
    rec->nextra = (unsigned char)p[2];
    if (rec->nextra > APIKEY_EXTRA_MAX) {
        return -1;
    }
    p += 3;
    for (i = 0; i < 14; i++) {
        if (!(f[i] = next_str(&p, end))) {
            return -1;
        }
    }
    rec->id = f[0];
    rec->owner = f[1];
    rec->scopes = f[2];
    rec->status = f[3];
    rec->has_expires = flags & HAS_EXPIRES;
    rec->expires = rec->has_expires ? apr_atoi64(f[4]) : 0;
    rec->has_not_before = (flags & HAS_NOT_BEFORE) != 0;
    rec->not_before = rec->has_not_before ? apr_atoi64(f[5]) : 0;
    rec->allow_ip = flags & HAS_ALLOW_IP ? f[6] : NULL;
    rec->allow_referer = flags & HAS_ALLOW_REF ? f[7] : NULL;
    rec->allow_method = flags & HAS_ALLOW_METHOD ? f[8] : NULL;
    rec->has_grace_until = (flags & HAS_GRACE_UNTIL) != 0;
    rec->grace_until = rec->has_grace_until ? apr_atoi64(f[9]) : 0;
    rec->replaced_by = flags & HAS_REPLACED_BY ? f[10] : NULL;
    rec->rate = *f[11] ? f[11] : NULL;
    rec->burst = *f[12] ? apr_atoi64(f[12]) : 0;
    rec->quota = *f[13] ? f[13] : NULL;
    for (i = 0; i < rec->nextra; i++) {
        if (!(rec->extra_env[i] = next_str(&p, end))
            || !(rec->extra_value[i] = next_str(&p, end))) {
            return -1;
        }
    }
    return 0;
}

apikey_cache_answer_t apikey_cache_get(request_rec *r,
                                       const apikey_srv_conf_t *srv,
                                       const apikey_query_t *query,
                                       const char *digest, apikey_record_t *rec,
                                       apr_uint32_t *gen, int probe)
{
    char data[APIKEY_CACHE_DATA_MAX];
    apr_size_t len = 0;
    apikey_cache_answer_t ans;

    if (!table || srv->cache_ttl <= 0) {
        return APIKEY_CACHE_MISS;
    }
    /* Before the look-up that a miss leads to: an invalidation that comes
     * while the store answers makes that answer stale at once. */
    *gen = apikey_cache_table_generation(table);
    ans = apikey_cache_table_get(table, scope_of(srv, query), digest,
                                 apr_time_now(), data, &len);
    if (ans == APIKEY_CACHE_HIT && unpack(r->pool, data, len, rec)) {
        ans = APIKEY_CACHE_MISS;
    }
    /* A probe (a blocked client's key) leads to no look-up: its misses
     * are none of the counters'. */
    if (!probe || ans == APIKEY_CACHE_HIT) {
        apikey_counters_cache(ans);
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "look-up cache: %s",
                  ans == APIKEY_CACHE_HIT        ? "hit"
                  : ans == APIKEY_CACHE_NEGATIVE ? "negative hit"
                                                 : "miss");
    return ans;
}

void apikey_cache_put(request_rec *r, const apikey_srv_conf_t *srv,
                      const apikey_query_t *query, const char *digest,
                      apr_uint32_t gen, const apikey_record_t *rec)
{
    char data[APIKEY_CACHE_DATA_MAX];
    apr_interval_time_t ttl = rec ? srv->cache_ttl : srv->cache_negative_ttl;
    apr_time_t now = apr_time_now();
    apr_size_t len = 0;

    (void)r;
    if (!table || srv->cache_ttl <= 0 || ttl <= 0) {
        return;
    }
    if (rec && (len = pack(rec, data)) == 0) {
        return;
    }
    apikey_cache_table_put(table, scope_of(srv, query), digest, gen, now,
                           now + ttl, data, len, rec == NULL);
}

void apikey_cache_mark_used(const apikey_srv_conf_t *srv)
{
    if (table) {
        apikey_cache_table_mark_used(table, srv->index);
    }
}
