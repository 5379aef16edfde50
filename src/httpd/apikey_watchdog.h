/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The module's background threads: mod_watchdog singletons (one thread in
 * one child at a time, another child taking over when that one exits). */
#ifndef APIKEY_WATCHDOG_H
#define APIKEY_WATCHDOG_H

#include "httpd.h"
#include "mod_watchdog.h"

/* Runs callback (with s as its data) every interval in a singleton named
 * name (real post_config pass, before mod_watchdog's).  Returns
 * APR_SUCCESS, APR_ENOTIMPL when mod_watchdog is not loaded, or its
 * error.  In a child, callback runs only while the child's database
 * connections are there: its last run (AP_WATCHDOG_STATE_STOPPING, when it
 * ran in this child at all) comes before they go. */
apr_status_t apikey_watchdog_start(apr_pool_t *pconf, server_rec *s,
                                   const char *name,
                                   apr_interval_time_t interval,
                                   ap_watchdog_callback_fn_t *callback);

/* child_init, before mod_watchdog's (which starts the threads). */
void apikey_watchdog_child_init(apr_pool_t *pchild, server_rec *s);

#endif /* APIKEY_WATCHDOG_H */
