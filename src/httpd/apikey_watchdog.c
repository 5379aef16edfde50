/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The module's background threads (see apikey_watchdog.h). */

#include "apikey_watchdog.h"

apr_status_t apikey_watchdog_start(apr_pool_t *pconf, server_rec *s,
                                   const char *name,
                                   apr_interval_time_t interval,
                                   ap_watchdog_callback_fn_t *callback)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * register_callback;
    ap_watchdog_t *wd;
    apr_status_t rv;

    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_callback) {
        return APR_ENOTIMPL;
    }
    /* Not the parent's (0), a singleton (1). */
    rv = get_instance(&wd, name, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, interval, s, callback);
    }
    return rv;
}
