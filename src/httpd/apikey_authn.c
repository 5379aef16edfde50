/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * AuthType APIKey (see apikey_authn.h): TLS, extraction, verification and
 * the answer.  Every rejection of a bad key looks the same to the client;
 * the reason goes to the error log and to the request record. */

#include "apikey_authn.h"
#include "apikey_config.h"
#include "apikey_logno.h"
#include "apikey_request.h"
#include "apikey_errors.h"
#include "apikey_extract.h"
#include "apikey_failure.h"
#include "apikey_tls.h"
#include "apikey_verify.h"

#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

APLOG_USE_MODULE(authn_apikey);

#define AUTH_TYPE "APIKey"

/* Seconds a client is asked to wait when the key store cannot answer. */
#define STORE_RETRY_AFTER "5"

int apikey_authn_is_ours(request_rec *r)
{
    const char *type = ap_auth_type(r);

    /* As written in the documentation first: strcmp is the cheaper. */
    return type
           && (!strcmp(type, AUTH_TYPE) || !ap_cstr_casecmp(type, AUTH_TYPE));
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
int apikey_authn_refuse(request_rec *r, apikey_request_t *rq,
                        apikey_result_t why)
{
    /* A refused subrequest (an SSI include, a look-up) is not the answer
     * the client gets; a refused internal redirect is. */
    if (!r->main) {
        rq->result = why;
    }
    switch (why) {
        case APIKEY_RESULT_CONFLICT:
            set_challenge(r, "invalid_request");
            apikey_errors_answer(r, APIKEY_PROBLEM_TWO_KEYS, NULL, NULL);
            return HTTP_BAD_REQUEST;
        case APIKEY_RESULT_ERROR:
            apr_table_setn(r->err_headers_out, "Retry-After",
                           STORE_RETRY_AFTER);
            apikey_errors_answer(r, APIKEY_PROBLEM_STORE, STORE_RETRY_AFTER,
                                 NULL);
            return HTTP_SERVICE_UNAVAILABLE;
        case APIKEY_RESULT_THROTTLED:
            /* Retry-After is set; a challenge would invite a retry now. */
            apikey_errors_answer(
                r, APIKEY_PROBLEM_FAILURES,
                apr_table_get(r->err_headers_out, "Retry-After"), NULL);
            return HTTP_TOO_MANY_REQUESTS;
        case APIKEY_RESULT_MISSING:
            set_challenge(r, NULL);
            apikey_errors_answer(r, APIKEY_PROBLEM_NO_KEY, NULL, NULL);
            return HTTP_UNAUTHORIZED;
        case APIKEY_RESULT_TLS_REQUIRED:
            apikey_errors_answer(r, APIKEY_PROBLEM_TLS, NULL, NULL);
            return HTTP_FORBIDDEN;
        case APIKEY_RESULT_IP_DENIED:
        case APIKEY_RESULT_REFERER_DENIED:
        case APIKEY_RESULT_METHOD_DENIED:
        case APIKEY_RESULT_APP_DENIED:
        case APIKEY_RESULT_CERT_DENIED:
            /* The key is good but not for this request: retrying with it
             * cannot help, so no challenge. */
            apikey_errors_answer(r, APIKEY_PROBLEM_NOT_HERE, NULL, NULL);
            return HTTP_FORBIDDEN;
        default:
            set_challenge(r, "invalid_token");
            apikey_errors_answer(r, APIKEY_PROBLEM_BAD_KEY, NULL, NULL);
            return HTTP_UNAUTHORIZED;
    }
}

void apikey_authn_admit(request_rec *r, const apikey_dir_conf_t *conf,
                        const apikey_record_t *rec)
{
    apikey_request_here(r)->key = rec;
    apikey_verify_admit(r, conf, rec);
}

/* A request with no key where AuthAPIKeyAnonymous is on: in, as
 * anonymous, for Require apikey-anonymous (which no key satisfies) to
 * grant.  httpd wants a user once authentication said OK. */
static int admit_anonymous(request_rec *r, apikey_request_t *rq)
{
    apikey_request_here(r)->anonymous = 1;
    if (!r->main) {
        rq->result = APIKEY_RESULT_ANONYMOUS;
    }
    r->user = APIKEY_ANONYMOUS_USER;
    apr_table_setn(r->subprocess_env, "APIKEY_ANONYMOUS", "1");
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "no API key: let in as anonymous (AuthAPIKeyAnonymous)");
    return OK;
}

int apikey_authn_check(request_rec *r)
{
    const apikey_dir_conf_t *conf;
    apikey_request_t *rq, *v, sub;
    apikey_found_t found;
    apikey_result_t res;
    long long retry_us = 0;
    int blocked;

    if (!apikey_authn_is_ours(r)) {
        return DECLINED;
    }
    r->ap_auth_type = (char *)ap_auth_type(r);
    conf = ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    rq = v = apikey_request_get(r);

    /* A subrequest or internal redirect into a section configured
     * otherwise than the one that accepted the key (httpd runs
     * authentication again only then): judged again, against this
     * section's policy.  The key itself is gone from the request. */
    if (rq->key) {
        apikey_extract_hide(r, conf);
        res = apikey_verify_again(r, conf, rq, 1);
        if (res != APIKEY_RESULT_OK) {
            return apikey_authn_refuse(r, rq, res);
        }
        apikey_authn_admit(r, conf, rq->key);
        return OK;
    }
    if (rq->result == APIKEY_RESULT_ANONYMOUS) {
        /* The client sent no key; this section may not take that. */
        apikey_extract_hide(r, conf);
        return conf->anonymous == 1
                   ? admit_anonymous(r, rq)
                   : apikey_authn_refuse(r, rq, APIKEY_RESULT_MISSING);
    }
    if (rq->result != APIKEY_RESULT_NONE) {
        return apikey_authn_refuse(r, rq, rq->result);
    }

    if (!apikey_tls_ok(r, conf)) {
        apikey_extract_hide(r, conf);
        return apikey_authn_refuse(r, rq, APIKEY_RESULT_TLS_REQUIRED);
    }
    /* Before any look-up: a client that keeps guessing costs nothing.  A
     * key it holds that the look-up cache knows costs nothing either, and
     * is let in: an attacker behind the same proxy or NAT does not lock
     * out its clients with keys. */
    blocked = apikey_failure_check(r, conf, &retry_us);
    memset(&found, 0, sizeof(found));
    res = apikey_extract(r, conf, &found);
    /* A subrequest (an include, a look-up) verifies for itself: the client
     * request's record is given the key only once it is accepted. */
    if (r->main) {
        memset(&sub, 0, sizeof(sub));
        sub.pool = rq->pool;
        v = &sub;
    }
    v->source = found.source;
    if (blocked && res != APIKEY_RESULT_OK) {
        res = APIKEY_RESULT_THROTTLED;
    }
    else if (res == APIKEY_RESULT_OK) {
        res = apikey_verify(r, conf, found.key, found.len, v, blocked);
    }
    else if (res == APIKEY_RESULT_MISSING) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00010) "no API key in the request");
    }
    else if (res == APIKEY_RESULT_CONFLICT) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00015) "the request carries two "
                                          "different API keys");
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00018) "malformed API key from %s: it "
                                          "does not URL-decode",
                      apikey_source_kind_str(found.source));
    }
    /* Whatever the verdict, nothing after us sees the key: not the handler,
     * not a CGI, PHP or proxied backend, not an ErrorDocument. */
    apikey_extract_hide(r, conf);
    if (res == APIKEY_RESULT_THROTTLED) {
        apikey_failure_refused(r, retry_us);
    }
    /* No key at all, never a bad one: a bad key is refused as ever. */
    if (res == APIKEY_RESULT_MISSING && conf->anonymous == 1) {
        return admit_anonymous(r, rq);
    }
    if (res != APIKEY_RESULT_OK) {
        /* A subrequest's refusal is no guess of the client's. */
        if (!r->main) {
            apikey_failure_record(r, conf, res);
        }
        return apikey_authn_refuse(r, rq, res);
    }
    if (v != rq) {
        rq->source = v->source;
        rq->srv = v->srv;
        rq->query = v->query;
        rq->strict_format = v->strict_format;
        rq->result = APIKEY_RESULT_OK;
    }
    apikey_request_keep(r, rq, v->key, found.from);
    apikey_authn_admit(r, conf, rq->key);
    return OK;
}

int apikey_authn_note_failure(request_rec *r, const char *auth_type)
{
    if (ap_cstr_casecmp(auth_type, AUTH_TYPE)) {
        return DECLINED;
    }
    /* Authorization refused a key that authentication accepted: the token
     * is fine, so the challenge names no token error. */
    if (apikey_request_here(r)->anonymous) {
        /* No key was sent: the challenge names no error (RFC 6750 3.1). */
        set_challenge(r, NULL);
        apikey_errors_answer(r, APIKEY_PROBLEM_NO_KEY, NULL, NULL);
        return OK;
    }
    set_challenge(r, apikey_request_key(r) ? NULL : "invalid_token");
    return OK;
}
