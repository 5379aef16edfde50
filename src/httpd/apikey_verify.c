/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Key verification (see apikey_verify.h).
 *
 * The order of checks is the point of this file: the format and checksum
 * are decided from the key alone, before any I/O, so garbage costs no
 * database query.  Every refusal is logged here, with its reason and the
 * key id when there is one, never the key. */

#include "apikey_tls.h"
#include "apikey_verify.h"
#include "apikey_cache.h"
#include "apikey_config_keys.h"
#include "apikey_extract.h"
#include "apikey_key.h"
#include "apikey_logno.h"
#include "apikey_match.h"
#include "apikey_store.h"

#include "apr_date.h"
#include "apr_strings.h"
#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

/* The verdict on a key found in the store, at time now. */
static apikey_result_t judge(const apikey_record_t *rec, long long now)
{
    if (strcmp(rec->status, "active")) {
        return strcmp(rec->status, "revoked") ? APIKEY_RESULT_DISABLED
                                              : APIKEY_RESULT_REVOKED;
    }
    if (rec->has_not_before && now < rec->not_before) {
        return APIKEY_RESULT_NOT_YET_VALID;
    }
    if (rec->has_expires && now >= rec->expires) {
        return APIKEY_RESULT_EXPIRED;
    }
    /* A rotated key's grace period is over: it has expired. */
    if (rec->has_grace_until && now >= rec->grace_until) {
        return APIKEY_RESULT_EXPIRED;
    }
    return APIKEY_RESULT_OK;
}

/* The key's own restrictions against this request: method, client
 * network (as mod_remoteip leaves it), referer, the app (headers the
 * client sets) and the TLS client certificate. */
static apikey_result_t restrict_key(request_rec *r, const apikey_record_t *rec)
{
    if (rec->allow_method
        && !apikey_list_has(rec->allow_method, r->method, 0)) {
        return APIKEY_RESULT_METHOD_DENIED;
    }
    if (rec->allow_ip
        && !apikey_ip_allowed(rec->allow_ip, r->useragent_addr, r->pool)) {
        return APIKEY_RESULT_IP_DENIED;
    }
    if (rec->allow_referer
        && !apikey_referer_allowed(rec->allow_referer,
                                   apr_table_get(r->headers_in, "Referer"))) {
        return APIKEY_RESULT_REFERER_DENIED;
    }
    /* Either of a key's apps will do: one key may serve both builds. */
    if ((rec->allow_android || rec->allow_ios)
        && !apikey_android_allowed(
            rec->allow_android,
            apr_table_get(r->headers_in, "X-Android-Package"),
            apr_table_get(r->headers_in, "X-Android-Cert"))
        && !apikey_ios_allowed(
            rec->allow_ios,
            apr_table_get(r->headers_in, "X-Ios-Bundle-Identifier"))) {
        return APIKEY_RESULT_APP_DENIED;
    }
    /* Last: the only check that may cost a certificate's parsing. */
    if (rec->allow_cert
        && !apikey_cert_allowed(rec->allow_cert, apikey_tls_client_cert(r))) {
        return APIKEY_RESULT_CERT_DENIED;
    }
    return APIKEY_RESULT_OK;
}

static apikey_result_t verdict(apikey_request_t *rq, apikey_result_t res)
{
    rq->result = res;
    return res;
}

apikey_result_t apikey_verify(request_rec *r, const apikey_dir_conf_t *conf,
                              const char *key, size_t len, apikey_request_t *rq,
                              int cache_only)
{
    const apikey_srv_conf_t *srv;
    char digest[APIKEY_DIGEST_HEX_LEN + 1];
    apikey_key_check_t shape;
    apikey_cache_tag_t tag = {{0, 0}};
    apikey_cache_answer_t ans;
    const apikey_query_t *query;
    int strict = 0;
    apr_uint32_t gen = 0;
    apikey_record_t *rec;
    apikey_result_t res;
    apr_status_t rv;

    srv = ap_get_module_config(r->server->module_config, &authn_apikey_module);
    query = conf->query ? conf->query : &apikey_db_default_query;
    rq->srv = srv;
    rq->query = query;
    rec = apr_pcalloc(r->pool, sizeof(*rec));
    apikey_cache_mark_used(srv);
    /* A key the cache knows passed the format's check when it was cached
     * (the entry says which format): it is checked again only if this
     * section wants the checksum format and it was cached under "any".
     * Longer keys than any format takes never reach the cache. */
    ans = len <= APIKEY_KEY_LEGACY_MAX ? apikey_cache_get(
              r, srv, query, key, len, &tag, rec, &gen, &strict)
                                       : APIKEY_CACHE_MISS;
    if (ans == APIKEY_CACHE_MISS || (!strict && conf->any_format != 1)) {
        shape = apikey_key_check(key, len);
        strict = shape == APIKEY_KEY_OK;
        if (conf->any_format == 1 && shape != APIKEY_KEY_OK) {
            shape = apikey_key_check_legacy(key, len);
        }
        if (shape != APIKEY_KEY_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          APIKEY_LOGNO(00011) "malformed API key from %s: %s",
                          apikey_source_kind_str(rq->source),
                          apikey_key_check_str(shape));
            rq->strict_format = 0;
            return verdict(rq, APIKEY_RESULT_MALFORMED);
        }
    }
    rq->strict_format = strict;
    switch (ans) {
        case APIKEY_CACHE_HIT:
            rv = APR_SUCCESS;
            break;
        case APIKEY_CACHE_NEGATIVE:
            rv = APR_NOTFOUND;
            break;
        default:
            if (cache_only) {
                return verdict(rq, APIKEY_RESULT_THROTTLED);
            }
            /* Only the store needs the digest: a cached key never pays for
             * it. */
            if (apikey_digest_hex(srv->pepper, srv->pepper_len, key, len,
                                  digest)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              APIKEY_LOGNO(00012) "SHA-256 failed in "
                                                  "libcrypto");
                return verdict(rq, APIKEY_RESULT_ERROR);
            }
            apikey_cache_miss(srv);
            rv = apikey_store_lookup(r, query, digest, rec);
            apikey_wipe(digest, sizeof(digest));
            /* The store's answers are cached; its failures never are. */
            if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
                apikey_cache_put(r, srv, &tag, gen,
                                 rv == APR_SUCCESS ? rec : NULL, strict);
            }
    }
    rec->query = query;
    if (rv == APR_NOTFOUND && cache_only) {
        /* A blocked client's guess: refused without a word. */
        return verdict(rq, APIKEY_RESULT_THROTTLED);
    }
    if (rv == APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00013) "unknown API key from %s",
                      apikey_source_kind_str(rq->source));
        return verdict(rq, APIKEY_RESULT_UNKNOWN);
    }
    if (rv != APR_SUCCESS) {
        return verdict(rq, APIKEY_RESULT_ERROR);
    }

    /* Another tenant's key is, here, no key at all. */
    if (!apikey_config_tenant_ok(conf, rec->owner)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00017) "API key %s refused: its owner is "
                                          "not among this AuthAPIKeyTenant",
                      rec->id);
        return verdict(rq, APIKEY_RESULT_UNKNOWN);
    }
    res = judge(rec, (long long)apr_time_sec(r->request_time));
    if (res == APIKEY_RESULT_OK) {
        res = restrict_key(r, rec);
    }
    if (res != APIKEY_RESULT_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00014) "API key %s refused: %s (status "
                                          "'%s')",
                      rec->id, apikey_result_str(res), rec->status);
        return verdict(rq, res);
    }
    rq->key = rec;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "API key %s (owner %s) accepted from %s", rec->id, rec->owner,
                  apikey_source_kind_str(rq->source));
    return verdict(rq, APIKEY_RESULT_OK);
}

apikey_result_t apikey_verify_again(request_rec *r,
                                    const apikey_dir_conf_t *conf,
                                    const apikey_request_t *rq,
                                    int check_source)
{
    const apikey_srv_conf_t *srv =
        ap_get_module_config(r->server->module_config, &authn_apikey_module);
    const apikey_query_t *query =
        conf->query ? conf->query : &apikey_db_default_query;
    apikey_result_t res = APIKEY_RESULT_UNKNOWN;
    const char *why;

    if (!apikey_tls_ok(r, conf)) {
        return APIKEY_RESULT_TLS_REQUIRED;
    }
    if (check_source && rq->has_from && !apikey_config_reads(conf, &rq->from)) {
        /* A direct request would find no key where this section looks. */
        why = "this section does not read keys from where it came";
        res = APIKEY_RESULT_MISSING;
    }
    else if (conf->any_format != 1 && !rq->strict_format) {
        why = "it is not of the format AuthAPIKeyFormat checksum requires";
        res = APIKEY_RESULT_MALFORMED;
    }
    else if (srv != rq->srv || query != rq->query) {
        /* Another database, or another statement over it: the id names
         * another key there, if any. */
        why = "it was found in another key store (DBDParams or "
              "AuthAPIKeyQuery)";
    }
    else if (!apikey_config_tenant_ok(conf, rq->key->owner)) {
        why = "its owner is not among this AuthAPIKeyTenant";
    }
    else {
        return APIKEY_RESULT_OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  APIKEY_LOGNO(00051) "API key %s refused for this %s: %s",
                  rq->key->id, r->main ? "subrequest" : "internal redirect",
                  why);
    return res;
}

/* Whether the environment holds a variable of ours already (a subrequest
 * inherits its parent's; SetEnvIf may have made one): then each is set,
 * replacing, else added.  apr_table_setn compares every APIKEY_ name it
 * holds, since they share a checksum; one pass here is cheaper. */
static int env_has_ours(const apr_table_t *env)
{
    const apr_array_header_t *h = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    int i;

    for (i = 0; i < h->nelts; i++) {
        if (e[i].key && !ap_cstr_casecmpn(e[i].key, "APIKEY_", 7)) {
            return 1;
        }
    }
    return 0;
}

void apikey_verify_admit(request_rec *r, const apikey_dir_conf_t *conf,
                         const apikey_record_t *rec)
{
    void (*set)(apr_table_t *, const char *, const char *) =
        env_has_ours(r->subprocess_env) ? apr_table_setn : apr_table_addn;
    int i;

    r->user = (char *)rec->id;
    set(r->subprocess_env, "APIKEY_ID", rec->id);
    set(r->subprocess_env, "APIKEY_OWNER", rec->owner);
    set(r->subprocess_env, "APIKEY_SCOPES", rec->scopes);
    for (i = 0; i < rec->nextra; i++) {
        /* Extra columns could share a name: the last one wins, as before. */
        apr_table_setn(r->subprocess_env, rec->extra_env[i],
                       rec->extra_value[i]);
    }
    if (conf->identity_headers == 1) {
        apikey_extract_identity(r, rec);
    }
    /* The client's key is being replaced: say by which, and until when it
     * works (a documented header, also on error responses). */
    if (rec->has_grace_until) {
        char date[APR_RFC822_DATE_LEN];

        apr_rfc822_date(date, apr_time_from_sec(rec->grace_until));
        apr_table_setn(
            r->err_headers_out, "API-Key-Rotation",
            apr_psprintf(r->pool, "replaced-by=\"%s\", sunset=\"%s\"",
                         rec->replaced_by ? rec->replaced_by : "", date));
    }
}
