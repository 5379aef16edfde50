/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * AuthBasicProvider apikey (see apikey_basic_provider.h).  The key is the Basic
 * password, or the user with an empty password (as Stripe takes it); it is
 * verified exactly as under AuthType APIKey, and r->user becomes the key
 * id.  <AuthnProviderAlias apikey NAME> works as for any provider. */

#include "apikey_tls.h"
#include "apikey_basic_provider.h"
#include "apikey_authn.h"
#include "apikey_config.h"
#include "apikey_extract.h"
#include "apikey_failure.h"
#include "apikey_key.h"
#include "apikey_request.h"
#include "apikey_verify.h"

#include "http_core.h"

/* Where the provider's keys come from, for a later section's source
 * check: AuthType APIKey reads them only with AuthAPIKeySource basic. */
static const apikey_source_t basic_source = {APIKEY_SOURCE_BASIC, NULL};

/* Verifies the key of a Basic credential into v (for r itself: the
 * client request's record takes it only once accepted). */
static apikey_result_t verify_basic(request_rec *r,
                                    const apikey_dir_conf_t *conf,
                                    const char *key, apikey_request_t *v)
{
    long long retry_us = 0;
    apikey_result_t res;
    int blocked;

    v->source = APIKEY_SOURCE_BASIC;
    if (!apikey_tls_ok(r, conf)) {
        res = APIKEY_RESULT_TLS_REQUIRED;
    }
    else {
        /* A blocked client still gets in with a key the look-up cache
         * knows (see apikey_authn_check). */
        blocked = apikey_failure_check(r, conf, &retry_us);
        res = apikey_verify(r, conf, key, strlen(key), v, blocked);
        if (res == APIKEY_RESULT_THROTTLED) {
            apikey_failure_refused(r, retry_us);
        }
        /* A password that is no key at all is most likely meant for the
         * next provider of the chain (a file or a directory user's): only
         * key-shaped guesses count, and a subrequest's refusal is no guess
         * of the client's. */
        else if (res != APIKEY_RESULT_MALFORMED && !r->main) {
            apikey_failure_record(r, conf, res);
        }
    }
    v->result = res;
    return res;
}

/* mod_auth_basic hands providers the user in the buffer that r->user
 * points to, and logs that buffer when every provider refused (AH01617,
 * AH01618), as does %u.  When the key came as the user it is overwritten
 * in place: with the key's id when accepted, else a marker, cut to the
 * key's length.  Only that buffer (another caller's, mod_auth_form's, may
 * be a session's), and only a key: an accepted or looked-up one, or one
 * of our shape with a bad checksum (a mistyped key is nearly the key); a
 * user name that is no key stays as it is for the next provider. */
static void redact_user(request_rec *r, char *user, apikey_result_t res,
                        const apikey_record_t *rec)
{
    const char *with = res == APIKEY_RESULT_OK && rec ? rec->id : "[api-key]";
    size_t n = strlen(user), w = strlen(with);

    if (user != r->user
        || (res == APIKEY_RESULT_MALFORMED
            && apikey_key_check(user, n) != APIKEY_KEY_BAD_CHECKSUM)) {
        return;
    }
    if (w > n) {
        w = n;
    }
    memcpy(user, with, w);
    user[w] = '\0';
    apikey_wipe(user + w, n - w);
}

static authn_status check_password(request_rec *r, const char *user,
                                   const char *password)
{
    const apikey_dir_conf_t *conf =
        ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    apikey_request_t *rq = apikey_request_get(r), fresh;
    const char *key = *password ? password : user;
    const apikey_record_t *rec = NULL;
    apikey_result_t res;

    if (conf->hide_credentials != 0) {
        apr_table_unset(r->headers_in, r->proxyreq == PROXYREQ_PROXY
                                           ? "Proxy-Authorization"
                                           : "Authorization");
    }
    /* Forged identity headers, in every spelling, whatever the verdict. */
    apikey_extract_hide_identity(r);
    if (rq->key && rq->source == APIKEY_SOURCE_BASIC) {
        /* A subrequest or redirect into a section configured otherwise:
         * the same Authorization header, judged against this section. */
        res = apikey_verify_again(r, conf, rq, 0);
        rec = rq->key;
    }
    else {
        /* The client request's first key; or a credential of its own,
         * the client request's key having come from elsewhere (for this
         * request_rec only); or a subrequest's, which the client request
         * keeps only once accepted. */
        int first = !rq->key && rq->result == APIKEY_RESULT_NONE;

        if (!rq->key && !first && !r->main) {
            res = rq->result;
        }
        else {
            memset(&fresh, 0, sizeof(fresh));
            fresh.pool = rq->pool;
            res = verify_basic(r, conf, key, &fresh);
            rec = fresh.key;
            if (first && (res == APIKEY_RESULT_OK || !r->main)) {
                rq->source = fresh.source;
                rq->srv = fresh.srv;
                rq->query = fresh.query;
                rq->strict_format = fresh.strict_format;
                rq->result = res;
                apikey_request_keep(r, rq, fresh.key, &basic_source);
                rec = rq->key;
            }
        }
    }
    if (!*password) {
        redact_user(r, (char *)user, res, rec);
    }
    switch (res) {
        case APIKEY_RESULT_OK:
            apikey_authn_admit(r, conf, rec);
            return AUTH_GRANTED;
        case APIKEY_RESULT_ERROR:
            /* mod_auth_basic answers 500; the reason is logged. */
            return AUTH_GENERAL_ERROR;
        case APIKEY_RESULT_UNKNOWN:
        case APIKEY_RESULT_MALFORMED:
        /* We look nothing up for a throttled client, but the next provider
         * may.  mod_auth_basic answers 401 to any refusal (a provider
         * cannot choose 429); Retry-After still tells the client to wait. */
        case APIKEY_RESULT_THROTTLED:
            /* Not one of our keys: the next provider may know the user. */
            return AUTH_USER_NOT_FOUND;
        default:
            return AUTH_DENIED;
    }
}

const authn_provider apikey_basic_provider = {
    &check_password, NULL, /* no Digest: only a digest of the key is stored */
};
