/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A key's bandwidth, for mod_ratelimit (see apikey_bandwidth.h). */

#include "apikey_bandwidth.h"
#include "apikey_config.h"
#include "apikey_limit.h"
#include "apikey_logno.h"
#include "apikey_request.h"

#include <stdlib.h>

#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

/* The key that holds for r's bandwidth: the one an apikey provider
 * granted r, or, for a subrequest or internal redirect that httpd let
 * through without authenticating it again (the same configuration as its
 * parent's or predecessor's: it copied r->user), theirs.  A fast redirect
 * (DirectoryIndex, MultiViews) takes its subrequest's environment. */
static const apikey_record_t *bandwidth_key(request_rec *r)
{
    for (;;) {
        const apikey_record_t *key = apikey_request_key(r);
        request_rec *from = r->prev ? r->prev : r->main;

        if (key) {
            return apikey_request_here(r)->granted ? key : NULL;
        }
        if (!from || from->per_dir_config != r->per_dir_config) {
            return NULL;
        }
        r = from;
    }
}

int apikey_bandwidth_fixups(request_rec *r)
{
    const apikey_record_t *key = bandwidth_key(r);
    const char *err, *set;
    long long kib;
    long conf;

    if (!key || !key->bandwidth) {
        return DECLINED;
    }
    if ((err = apikey_bandwidth_parse(key->bandwidth, &kib))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00070) "key %s: unreadable bandwidth '%s' "
                                          "(%s); no bandwidth limit applied",
                      key->id, key->bandwidth, err);
        return DECLINED;
    }
    /* The section's own rate-limit (SetEnv, SetEnvIf, RewriteRule [E=]) is
     * a ceiling the key's bandwidth lowers, never raises; one that
     * mod_ratelimit would not apply (0, or too large for its int) is
     * none. */
    if ((set = apr_table_get(r->subprocess_env, "rate-limit"))) {
        conf = strtol(set, NULL, 10);
        if (conf >= 1 && conf <= APIKEY_BANDWIDTH_MAX_KIB && conf <= kib) {
            return DECLINED;
        }
    }
    apr_table_setn(
        r->subprocess_env, "rate-limit",
        apr_psprintf(r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)kib));
    return DECLINED;
}
