/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The module's background threads (see apikey_watchdog.h).
 *
 * mod_watchdog starts its threads in a pool of the process, not of the
 * child, so a child's thread runs on while the child exits: the MPM
 * destroys pchild, and with it mod_dbd's connection pool (a subpool), at
 * any point of a callback.  A callback then holding a connection made
 * APR's reslist abort the child (seen in 245: "Assertion `rl->ntotal == 0'
 * failed" while the quota sync gave units back across a graceful restart;
 * the units in flight were lost).  So every callback runs under a guard
 * that pchild's pre-cleanup, which runs before its subpools go, closes
 * after waiting out a callback in progress; the child's last STOPPING run
 * happens there, while the connections are still there. */

#include "apikey_watchdog.h"

#include "apr_thread_rwlock.h"

/* A callback and its server, registered with mod_watchdog as one datum. */
typedef struct {
    ap_watchdog_callback_fn_t *callback;
    server_rec *s;
    int ran; /* called in this process since its last STOPPING run */
} watched_t;

#define MAX_WATCHED 4
static watched_t watched[MAX_WATCHED];
static unsigned nwatched;
static apr_pool_t *watched_pconf; /* the generation watched[] is of */

static apr_thread_rwlock_t *guard; /* NULL until this child's init */
static int closed;                 /* under guard's write lock */

static apr_status_t guarded(int state, void *data, apr_pool_t *pool)
{
    watched_t *w = data;
    apr_status_t rv = APR_SUCCESS;

    if (!guard) {
        return w->callback(state, w->s, pool);
    }
    apr_thread_rwlock_rdlock(guard);
    if (!closed) {
        w->ran = state != AP_WATCHDOG_STATE_STOPPING;
        rv = w->callback(state, w->s, pool);
    }
    apr_thread_rwlock_unlock(guard);
    return rv;
}

static apr_status_t close_guard(void *data)
{
    apr_pool_t *pchild = data, *p;
    unsigned i;

    apr_thread_rwlock_wrlock(guard);
    closed = 1;
    apr_pool_create(&p, pchild);
    for (i = 0; i < nwatched; i++) {
        if (watched[i].ran) {
            watched[i].ran = 0;
            watched[i].callback(AP_WATCHDOG_STATE_STOPPING, watched[i].s, p);
            apr_pool_clear(p);
        }
    }
    apr_pool_destroy(p);
    apr_thread_rwlock_unlock(guard);
    return APR_SUCCESS;
}

void apikey_watchdog_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (!nwatched) {
        return;
    }
    /* The process's pool: a thread may still take the lock (and find the
     * guard closed) after pchild is gone. */
    closed = 0;
    if (apr_thread_rwlock_create(&guard, s->process->pool) != APR_SUCCESS) {
        guard = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, pchild, close_guard);
}

apr_status_t apikey_watchdog_start(apr_pool_t *pconf, server_rec *s,
                                   const char *name,
                                   apr_interval_time_t interval,
                                   ap_watchdog_callback_fn_t *callback)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * register_callback;
    ap_watchdog_t *wd;
    apr_status_t rv;
    watched_t *w;

    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_callback) {
        return APR_ENOTIMPL;
    }
    if (pconf != watched_pconf) {
        watched_pconf = pconf;
        nwatched = 0;
    }
    if (nwatched == MAX_WATCHED) {
        return APR_ENOSPC;
    }
    w = &watched[nwatched];
    w->callback = callback;
    w->s = s;
    w->ran = 0;
    /* Not the parent's (0), a singleton (1). */
    rv = get_instance(&wd, name, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, interval, w, guarded);
    }
    if (rv == APR_SUCCESS) {
        nwatched++;
    }
    return rv;
}
