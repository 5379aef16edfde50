/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The change-marker poller (see apikey_refresh.h).
 *
 * It runs as a mod_watchdog singleton: one thread in one child, another
 * child taking over if that one exits, so a fleet of children costs one
 * query per store per interval.  It polls only the stores that requests
 * have used (servers marked in the cache table), after one baseline
 * reading of every cached store, and records the markers in shared memory
 * so that a new singleton carries on where the last stopped. */

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

/* When the poller starts, mod_dbd may not have set up this child's
 * connections yet (its child_init may run after mod_watchdog's): a
 * baseline is worth waiting a moment for, rather than an interval. */
#define BASELINE_TRIES 20
#define BASELINE_PAUSE apr_time_from_msec(50)

static apr_status_t read_marker(server_rec *s, apr_pool_t *p, int wait,
                                apr_int64_t *marker, const char **err)
{
    int tries = wait ? BASELINE_TRIES : 1;
    apr_status_t rv;

    while ((rv = apikey_store_marker(s, p, marker, err)) != APR_SUCCESS
           && --tries > 0) {
        apr_sleep(BASELINE_PAUSE);
    }
    return rv;
}

static apr_status_t poll_markers(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data, *sp;
    apikey_cache_table_t *t = apikey_cache_table();
    apr_pool_t *p;
    unsigned nread = 0;

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
        int baseline = 0, changed;

        if (!apikey_cache_table_used(t, srv->index)) {
            /* When the poller starts, every cached store's marker is read
             * once, before any of its keys can be in the cache: otherwise
             * the first marker seen could not tell a change from none, and
             * would empty a cache warmed since start-up.  Only then: a
             * store no request uses is not asked again (mod_dbd logs
             * every failed try), and one whose baseline failed has its
             * first reading after use taken for a change, as before. */
            if (state != AP_WATCHDOG_STATE_STARTING || srv->cache_ttl <= 0
                || !srv->has_store
                || apikey_cache_table_has_marker(t, srv->index)) {
                continue;
            }
            baseline = 1;
        }
        nread++;
        if (read_marker(sp, p, baseline, &marker, &err) != APR_SUCCESS) {
            /* A store not used yet may never be: its failures are told
             * when requests use it. */
            if (baseline) {
                ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, sp,
                             "change marker of server %u: no baseline (%s)",
                             srv->index, err);
            }
            else if (reported && !reported[srv->index]) {
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
        if (reported && !baseline) {
            reported[srv->index] = 0;
        }
        /* A baseline empties nothing unless a request has used the store
         * since before the marker was read (the used flag is set before
         * a look-up, so every entry cached later is newer than the
         * marker). */
        changed = apikey_cache_table_marker(t, srv->index, marker);
        ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, sp,
                     "change marker of server %u (%s:%u): %" APR_INT64_T_FMT
                     ", %s",
                     srv->index, sp->server_hostname ? sp->server_hostname : "",
                     (unsigned)sp->port, marker,
                     baseline  ? "read as the baseline"
                     : changed ? "changed"
                               : "unchanged");
        if (changed && (!baseline || apikey_cache_table_used(t, srv->index))) {
            apikey_cache_table_invalidate(t);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sp,
                         APIKEY_LOGNO(00022) "key store of server %u "
                                             "changed (marker %" APR_INT64_T_FMT
                                             "): look-up cache invalidated",
                         srv->index, marker);
        }
    }
    apr_pool_destroy(p);
    /* One line a run, so that a test can wait for runs rather than sleep. */
    ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, s,
                 "change-marker poll run: %u store markers asked for", nread);
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
