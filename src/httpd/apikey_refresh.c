/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The change-marker poller (see apikey_refresh.h).
 *
 * It runs as a mod_watchdog singleton: one thread in one child, another
 * child taking over if that one exits, so a fleet of children costs one
 * query per store per interval.  It polls only the stores that requests
 * have used (servers marked in the cache table), and records the markers
 * in shared memory so that a new singleton carries on where the last
 * stopped. */

#include "apikey_refresh.h"
#include "apikey_cache.h"
#include "apikey_config.h"
#include "apikey_logno.h"
#include "apikey_store.h"
#include "apikey_watchdog.h"

#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

#define WATCHDOG_NAME "authn-apikey-refresh"

/* Stores whose marker could not be read, reported once per child. */
static char *reported;

static apr_status_t poll_markers(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data, *sp;
    apikey_cache_table_t *t = apikey_cache_table();
    apr_pool_t *p;

    if (!t
        || (state != AP_WATCHDOG_STATE_STARTING
            && state != AP_WATCHDOG_STATE_RUNNING)) {
        return APR_SUCCESS;
    }
    /* mod_watchdog does not clear its pool between calls. */
    apr_pool_create(&p, pool);
    for (sp = s; sp; sp = sp->next) {
        const apikey_srv_conf_t *srv =
            ap_get_module_config(sp->module_config, &authn_apikey_module);
        apr_int64_t marker = 0;
        const char *err = NULL;

        if (!apikey_cache_table_used(t, srv->index)) {
            continue;
        }
        if (apikey_store_marker(sp, p, &marker, &err) != APR_SUCCESS) {
            if (reported && !reported[srv->index]) {
                reported[srv->index] = 1;
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sp,
                             APIKEY_LOGNO(00021) "cannot read the key store's "
                                                 "change marker (%s): changes "
                                                 "are seen within "
                                                 "AuthAPIKeyCacheTimeout only",
                             err);
            }
            continue;
        }
        if (reported) {
            reported[srv->index] = 0;
        }
        if (apikey_cache_table_marker(t, srv->index, marker)) {
            apikey_cache_table_invalidate(t);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sp,
                         APIKEY_LOGNO(00022) "key store of server %u "
                                             "changed (marker %" APR_INT64_T_FMT
                                             "): look-up cache invalidated",
                         srv->index, marker);
        }
    }
    apr_pool_destroy(p);
    /* Anything else would stop mod_watchdog from calling again. */
    return APR_SUCCESS;
}

void apikey_refresh_init(apr_pool_t *pconf, server_rec *s)
{
    const apikey_srv_conf_t *conf =
        ap_get_module_config(s->module_config, &authn_apikey_module);
    apr_status_t rv;
    unsigned n = 0;
    server_rec *sp;

    if (!apikey_cache_table() || conf->refresh <= 0) {
        return;
    }
    for (sp = s; sp; sp = sp->next) {
        n++;
    }
    reported = apr_pcalloc(pconf, n);
    rv = apikey_watchdog_start(pconf, s, WATCHDOG_NAME, conf->refresh,
                               poll_markers);
    if (rv == APR_ENOTIMPL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_NOTICE, 0, s,
                     APIKEY_LOGNO(00023) "mod_watchdog is not loaded: key "
                                         "changes are seen within "
                                         "AuthAPIKeyCacheTimeout only");
    }
    else if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, rv, s,
                     APIKEY_LOGNO(00024) "cannot start the change-marker "
                                         "poller: key changes are seen "
                                         "within AuthAPIKeyCacheTimeout "
                                         "only");
    }
}
