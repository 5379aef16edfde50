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

/* AuthType APIKey (see apikey_authn.h).
 *
 * The order of checks is the point of this file: everything that can be
 * decided from the request alone (a key present, one key only, its format
 * and checksum) is decided before any I/O, so garbage costs no database
 * query.  Every rejection looks the same to the client; the reason goes to
 * the error log and to the request record. */

#include "apikey_authn.h"
#include "apikey_config.h"
#include "apikey_key.h"
#include "apikey_log.h"
#include "apikey_match.h"
#include "apikey_request.h"
#include "apikey_store.h"

#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"
#include "mod_ssl.h"

APLOG_USE_MODULE(authn_apikey);

#define AUTH_TYPE "APIKey"

/* Seconds a client is asked to wait when the key store cannot answer. */
#define STORE_RETRY_AFTER "5"

int apikey_authn_is_ours(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type && !ap_cstr_casecmp(type, AUTH_TYPE);
}

static const char *challenge_header(const request_rec *r)
{
    return r->proxyreq == PROXYREQ_PROXY ? "Proxy-Authenticate"
                                         : "WWW-Authenticate";
}

void apikey_authn_challenge(request_rec *r, const char *error,
                            const char *scope)
{
    /* mod_authn_core hands AuthName over with its quotes escaped. */
    const char *realm = ap_auth_name(r);
    const char *v = "Bearer";

    if (realm) {
        v = apr_pstrcat(r->pool, v, " realm=\"", realm, "\"", NULL);
    }
    if (error) {
        v = apr_pstrcat(r->pool, v, realm ? ", " : " ", "error=\"", error, "\"",
                        NULL);
    }
    if (scope) {
        v = apr_pstrcat(r->pool, v, ", scope=\"", scope, "\"", NULL);
    }
    apr_table_setn(r->err_headers_out, challenge_header(r), v);
}

void apikey_authn_challenge_clear(request_rec *r)
{
    apr_table_unset(r->err_headers_out, challenge_header(r));
}

static void set_challenge(request_rec *r, const char *error)
{
    apikey_authn_challenge(r, error, NULL);
}

/* Records a verdict other than OK and answers it: 400 for two keys, 503
 * when the store could not answer (never 401: the key may be good), 403
 * for TLS and the key's own restrictions, 401 with the same challenge for
 * every other reason. */
static int reject(request_rec *r, apikey_request_t *rq, apikey_result_t why)
{
    rq->result = why;
    switch (why) {
        case APIKEY_RESULT_CONFLICT:
            set_challenge(r, "invalid_request");
            return HTTP_BAD_REQUEST;
        case APIKEY_RESULT_ERROR:
            apr_table_setn(r->err_headers_out, "Retry-After",
                           STORE_RETRY_AFTER);
            return HTTP_SERVICE_UNAVAILABLE;
        case APIKEY_RESULT_MISSING:
            set_challenge(r, NULL);
            return HTTP_UNAUTHORIZED;
        case APIKEY_RESULT_TLS_REQUIRED:
            ap_custom_response(r, HTTP_FORBIDDEN,
                               "API keys must be sent over HTTPS; this "
                               "request used plain HTTP.\n");
            return HTTP_FORBIDDEN;
        case APIKEY_RESULT_IP_DENIED:
        case APIKEY_RESULT_REFERER_DENIED:
        case APIKEY_RESULT_METHOD_DENIED:
            /* The key is good but not for this request: retrying with it
             * cannot help, so no challenge. */
            return HTTP_FORBIDDEN;
        default:
            set_challenge(r, "invalid_token");
            return HTTP_UNAUTHORIZED;
    }
}

/* Finds the key of a request in the configured sources, in order.  Returns
 * MISSING, CONFLICT (two sources carry different keys) or OK with the key
 * in *key (of *len bytes) and its source in *src. */
static apikey_result_t extract(request_rec *r, const apikey_dir_conf_t *conf,
                               const char **key, size_t *len,
                               apikey_source_kind_t *src)
{
    const apikey_source_t *sources;
    int i, n, found = 0;

    sources = apikey_config_sources(conf, &n);
    for (i = 0; i < n; i++) {
        const char *v = NULL;
        size_t vlen = 0;

        switch (sources[i].kind) {
            case APIKEY_SOURCE_HEADER:
                v = apr_table_get(r->headers_in, sources[i].name);
                vlen = v ? strlen(v) : 0;
                break;
            case APIKEY_SOURCE_BEARER:
                if (!apikey_bearer_token(
                        apr_table_get(r->headers_in,
                                      r->proxyreq == PROXYREQ_PROXY
                                          ? "Proxy-Authorization"
                                          : "Authorization"),
                        &v, &vlen)) {
                    v = NULL;
                }
                break;
        }
        if (!v) {
            continue;
        }
        if (!found) {
            *key = v;
            *len = vlen;
            *src = sources[i].kind;
            found = 1;
        }
        else if (vlen != *len || memcmp(v, *key, vlen)) {
            return APIKEY_RESULT_CONFLICT;
        }
    }
    return found ? APIKEY_RESULT_OK : APIKEY_RESULT_MISSING;
}

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
    return APIKEY_RESULT_OK;
}

static APR_OPTIONAL_FN_TYPE(ssl_is_https) * is_https;

void apikey_authn_init(void)
{
    is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
}

/* Did the request arrive over TLS?  Behind a TLS-terminating proxy the
 * admin marks trusted requests with HTTPS=on (see docs/directives.md). */
static int over_tls(request_rec *r)
{
    const char *env = apr_table_get(r->subprocess_env, "HTTPS");

#if AP_MODULE_MAGIC_AT_LEAST(20120211, 102)
    if (ap_ssl_conn_is_ssl(r->connection)) {
        return 1;
    }
#else
    if (is_https && is_https(r->connection)) {
        return 1;
    }
#endif
    return env && !ap_cstr_casecmp(env, "on");
}

/* The key's own restrictions against this request: method, client
 * network (as mod_remoteip leaves it) and referer. */
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
    return APIKEY_RESULT_OK;
}

/* Makes the key the request's identity, for authz, CGI, SSI and logs. */
static void admit(request_rec *r, const apikey_record_t *rec)
{
    r->user = (char *)rec->id;
    apr_table_setn(r->subprocess_env, "APIKEY_ID", rec->id);
    apr_table_setn(r->subprocess_env, "APIKEY_OWNER", rec->owner);
    apr_table_setn(r->subprocess_env, "APIKEY_SCOPES", rec->scopes);
}

int apikey_authn_check(request_rec *r)
{
    const apikey_dir_conf_t *conf;
    const apikey_srv_conf_t *srv;
    apikey_request_t *rq;
    apikey_record_t *rec;
    apikey_result_t res;
    char digest[APIKEY_DIGEST_HEX_LEN + 1];
    const char *key = NULL;
    size_t len = 0;
    apr_status_t rv;
    apikey_key_check_t shape;

    if (!apikey_authn_is_ours(r)) {
        return DECLINED;
    }
    r->ap_auth_type = (char *)ap_auth_type(r);
    rq = apikey_request_get(r);

    /* A subrequest or internal redirect whose configuration differs from
     * the initial request's reaches us again: reuse the verdict.  rq->key
     * is set once authentication accepted the key. */
    if (rq->key) {
        admit(r, rq->key);
        return OK;
    }
    if (rq->result != APIKEY_RESULT_NONE) {
        return reject(r, rq, rq->result);
    }

    conf = ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    if (conf->require_tls == 1 && !over_tls(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00016) "refused: AuthAPIKeyRequireTLS is "
                                          "on and the request came over "
                                          "plain HTTP");
        return reject(r, rq, APIKEY_RESULT_TLS_REQUIRED);
    }
    res = extract(r, conf, &key, &len, &rq->source);
    if (res != APIKEY_RESULT_OK) {
        if (res == APIKEY_RESULT_MISSING) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          APIKEY_LOGNO(00010) "no API key in the request");
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          APIKEY_LOGNO(00015) "the request carries two "
                                              "different API keys");
        }
        return reject(r, rq, res);
    }

    shape = conf->any_format == 1 ? apikey_key_check_legacy(key, len)
                                  : apikey_key_check(key, len);
    if (shape != APIKEY_KEY_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00011) "malformed API key from %s: %s",
                      apikey_source_kind_str(rq->source),
                      apikey_key_check_str(shape));
        return reject(r, rq, APIKEY_RESULT_MALFORMED);
    }
    srv = ap_get_module_config(r->server->module_config, &authn_apikey_module);
    if (apikey_digest_hex(srv->pepper, srv->pepper_len, key, len, digest)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00012) "SHA-256 failed in libcrypto");
        return reject(r, rq, APIKEY_RESULT_ERROR);
    }

    rec = apr_pcalloc(r->pool, sizeof(*rec));
    rv = apikey_store_lookup(r, digest, rec);
    apikey_wipe(digest, sizeof(digest));
    if (rv == APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00013) "unknown API key from %s",
                      apikey_source_kind_str(rq->source));
        return reject(r, rq, APIKEY_RESULT_UNKNOWN);
    }
    if (rv != APR_SUCCESS) {
        return reject(r, rq, APIKEY_RESULT_ERROR);
    }

    /* Another tenant's key is, here, no key at all. */
    if (!apikey_config_tenant_ok(conf, rec->owner)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00017) "API key %s refused: its owner is "
                                          "not among this AuthAPIKeyTenant",
                      rec->id);
        return reject(r, rq, APIKEY_RESULT_UNKNOWN);
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
        return reject(r, rq, res);
    }

    rq->result = APIKEY_RESULT_OK;
    rq->key = rec;
    admit(r, rec);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "API key %s (owner %s) accepted from %s", rec->id, rec->owner,
                  apikey_source_kind_str(rq->source));
    return OK;
}

int apikey_authn_note_failure(request_rec *r, const char *auth_type)
{
    const apikey_request_t *rq;

    if (ap_cstr_casecmp(auth_type, AUTH_TYPE)) {
        return DECLINED;
    }
    /* Authorization refused a key that authentication accepted: the token
     * is fine, so the challenge names no token error. */
    rq = apikey_request_find(r);
    set_challenge(r, rq && rq->key ? NULL : "invalid_token");
    return OK;
}
