/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key record (see apikey_record.h). */

#include "apikey_record.h"

#include "apr_strings.h"

const char *apikey_result_str(apikey_result_t result)
{
    switch (result) {
        case APIKEY_RESULT_NONE:
            return NULL;
        case APIKEY_RESULT_OK:
            return "ok";
        case APIKEY_RESULT_MISSING:
            return "missing";
        case APIKEY_RESULT_MALFORMED:
            return "malformed";
        case APIKEY_RESULT_UNKNOWN:
            return "unknown";
        case APIKEY_RESULT_EXPIRED:
            return "expired";
        case APIKEY_RESULT_NOT_YET_VALID:
            return "not_yet_valid";
        case APIKEY_RESULT_REVOKED:
            return "revoked";
        case APIKEY_RESULT_DISABLED:
            return "disabled";
        case APIKEY_RESULT_CONFLICT:
            return "conflict";
        case APIKEY_RESULT_IP_DENIED:
            return "ip_denied";
        case APIKEY_RESULT_REFERER_DENIED:
            return "referer_denied";
        case APIKEY_RESULT_METHOD_DENIED:
            return "method_denied";
        case APIKEY_RESULT_TLS_REQUIRED:
            return "tls_required";
        case APIKEY_RESULT_INSUFFICIENT_SCOPE:
            return "insufficient_scope";
        case APIKEY_RESULT_RATE_LIMITED:
            return "rate_limited";
        case APIKEY_RESULT_QUOTA_EXCEEDED:
            return "quota_exceeded";
        case APIKEY_RESULT_THROTTLED:
            return "throttled";
        case APIKEY_RESULT_ERROR:
            return "error";
    }
    return NULL;
}

static const char *copy_str(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

apikey_record_t *apikey_record_copy(apr_pool_t *p, const apikey_record_t *rec)
{
    apikey_record_t *c = apr_pmemdup(p, rec, sizeof(*rec));
    int i;

    c->id = copy_str(p, rec->id);
    c->owner = copy_str(p, rec->owner);
    c->scopes = copy_str(p, rec->scopes);
    c->status = copy_str(p, rec->status);
    c->allow_ip = copy_str(p, rec->allow_ip);
    c->allow_referer = copy_str(p, rec->allow_referer);
    c->allow_method = copy_str(p, rec->allow_method);
    c->rate = copy_str(p, rec->rate);
    c->quota = copy_str(p, rec->quota);
    c->replaced_by = copy_str(p, rec->replaced_by);
    for (i = 0; i < rec->nextra; i++) {
        c->extra_env[i] = copy_str(p, rec->extra_env[i]);
        c->extra_value[i] = copy_str(p, rec->extra_value[i]);
    }
    return c;
}

