/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sync of cluster-wide quotas (see apikey_quota_sync.h).
 *
 * A mod_watchdog singleton, like the change-marker poller: one thread in
 * one child walks the limit table, so a fleet of children costs one
 * give-back per leased key and interval.  Draining a slot is one atomic
 * exchange: a request charging the lease at that instant either took its
 * unit before (and is admitted) or finds none and claims afresh, so no
 * unit is both spent and given back.  Two syncs at once (the old and new
 * generation of a graceful restart) each give back what they drained.
 * The callback runs once more (STOPPING) as the child that ran it exits,
 * before its database connections go (apikey_watchdog.c), so a stop gives
 * back what the server holds; units it cannot give back then stay claimed
 * until their period ends (docs/fleet.md), or, with AuthAPIKeyStateFile,
 * are spent after the next start. */

#include "apikey_quota_sync.h"
#include "apikey_config.h"
#include "apikey_logno.h"
#include "apikey_limits.h"
#include "apikey_quota_sql.h"
#include "apikey_store.h"
#include "apikey_counters.h"
#include "apikey_watchdog.h"

#include "apr_hash.h"
#include "apr_strings.h"
#include "http_log.h"
#include "http_main.h"

APLOG_USE_MODULE(authn_apikey);

#define WATCHDOG_NAME "authn-apikey-quota"
/* Rows of periods over for this long are deleted, once per this long. */
#define PURGE_AFTER (86400LL)
#define PURGE_EVERY apr_time_from_sec(3600)

/* Servers by their index (apikey_srv_conf_t.index), and whether each one's
 * store failed at the last sync (logged once per outage). */
static server_rec **servers;
static char *failing;
static unsigned nservers;
static apr_time_t last_purge;
/* Units of a store no server uses any more were logged (once a child). */
static int orphans_logged;

/* The server whose store a slot's units came from, by the identity the
 * slot keeps (the same across restarts, unlike the server's index), or
 * NULL (with *index set) when this configuration has none such. */
static server_rec *server_of(apr_uint32_t store, unsigned *index)
{
    unsigned i;

    for (i = 0; i < nservers; i++) {
        const apikey_srv_conf_t *conf =
            servers[i] ? ap_get_module_config(servers[i]->module_config,
                                              &authn_apikey_module)
                       : NULL;

        if (conf && conf->quota_store == APIKEY_QUOTA_STORE_DBD
            && conf->store_id == store) {
            *index = i;
            return servers[i];
        }
    }
    return NULL;
}

static void give_back_through(apikey_db_t *db, server_rec *s, unsigned index,
                              apikey_limit_table_t *t, unsigned i,
                              const apikey_lease_return_t *r, apr_pool_t *p)
{
    const char *err = !s    ? "no server of this configuration has that store"
                      : !db ? "no database connection"
                            : "";
    apikey_lease_return_t keep = *r;
    int unsure = 0;
    const char *row = apikey_quota_sql_row(p, r->id, r->query);

    /* Units held go back; units owed (admitted on this server's count
     * while the store did not answer) are added, even past the quota. */
    if (db && r->units
        && apikey_quota_sql_give_back(db, p, row, r->period, r->units, &err,
                                      &unsure)
               == APR_SUCCESS) {
        apikey_counters_quota_back(r->units, 0);
        apikey_limit_table_lease_returned(t, i, r->units);
        keep.units = 0;
    }
    if (unsure) {
        /* The database may have taken them: spent here too, the fleet
         * could admit more than the quota.  Dropped: they stay claimed
         * (not admitted) till the period ends. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     APIKEY_LOGNO(00049) "key %s: %lu quota units given "
                                         "back with no answer (%s) are "
                                         "dropped: the store may count "
                                         "them as claimed till the period "
                                         "ends",
                     r->id, r->units, err);
        keep.units = 0;
    }
    if (db && r->owed
        && apikey_quota_sql_add(
               db, p, row, r->owed_period,
               apikey_period_end((apikey_period_t)(r->owed_period >> 30),
                                 apr_time_now())
                   / APR_USEC_PER_SEC,
               r->owed, &err)
               == APR_SUCCESS) {
        apikey_counters_quota_back(0, 0);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     APIKEY_LOGNO(00046) "key %s: %lu quota units admitted "
                                         "while the quota store did not "
                                         "answer are now counted there",
                     r->id, r->owed);
        keep.owed = 0;
    }
    if (!keep.units && !keep.owed) {
        if (s && failing[index] && !unsure) {
            failing[index] = 0;
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         APIKEY_LOGNO(00041) "the quota store answers "
                                             "again");
        }
        return;
    }
    apikey_counters_quota_back(0, 1);
    /* Kept, and spent here (or owed still, counted twice at worst), rather
     * than lost till the period ends. */
    apikey_limit_table_lease_restore(t, i, &keep);
    if (s && !failing[index]) {
        failing[index] = 1;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     APIKEY_LOGNO(00042) "cannot give %lu unused quota units "
                                         "of key %s back to the quota store, "
                                         "or add %lu owed (%s): this server "
                                         "keeps them, and tries again at the "
                                         "next sync",
                     keep.units, r->id, keep.owed, err);
    }
    else if (!s && !orphans_logged) {
        orphans_logged = 1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     APIKEY_LOGNO(00050) "key %s: %lu quota units held and "
                                         "%lu owed belong to a store no "
                                         "server of this configuration uses "
                                         "(AuthAPIKeyQuotaStore dbd was "
                                         "removed?): kept",
                     r->id, keep.units, keep.owed);
    }
}

/* Gives lease r of slot i back through one connection of its store. */
static void give_back(apikey_limit_table_t *t, unsigned i,
                      const apikey_lease_return_t *r, apr_pool_t *p)
{
    unsigned index = 0;
    server_rec *s = server_of(r->store, &index);
    apikey_db_t *db = s ? apikey_store_db(p, s) : NULL;

    give_back_through(db, s, index, t, i, r, p);
    if (db) {
        apikey_store_db_done(s, db);
    }
}

/* Deletes rows of long-past periods from each store the sync uses. */
static void purge(apr_pool_t *p, apr_time_t now)
{
    unsigned i;

    if (now - last_purge < PURGE_EVERY) {
        return;
    }
    last_purge = now;
    for (i = 0; i < nservers; i++) {
        const apikey_srv_conf_t *conf = ap_get_module_config(
            servers[i]->module_config, &authn_apikey_module);
        const char *err = "no database connection";
        apikey_db_t *db;

        if (conf->quota_store != APIKEY_QUOTA_STORE_DBD || failing[i]) {
            continue;
        }
        db = apikey_store_db(p, servers[i]);
        if (!db
            || apikey_quota_sql_purge(db, p, apr_time_sec(now) - PURGE_AFTER,
                                      &err)
                   != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, servers[i],
                         APIKEY_LOGNO(00043) "cannot purge old rows of the "
                                             "quota store: %s",
                         err);
        }
        if (db) {
            apikey_store_db_done(servers[i], db);
        }
    }
}

static apr_status_t sync_leases(int state, void *data, apr_pool_t *pool)
{
    apikey_limit_table_t *t = apikey_limits_table();
    apr_time_t now = apr_time_now();
    apr_pool_t *p;
    unsigned i, n;

    if (!t) {
        return APR_SUCCESS;
    }
    if (state == AP_WATCHDOG_STATE_STARTING) {
        /* mod_dbd may not have its connections yet (its child_init can
         * come after mod_watchdog's); nothing is leased yet anyway. */
        last_purge = now;
        return APR_SUCCESS;
    }
    /* mod_watchdog does not clear its pool between calls. */
    apr_pool_create(&p, pool);
    n = apikey_limit_table_slots(t);
    for (i = 0; i < n; i++) {
        apikey_lease_return_t r;

        if (apikey_limit_table_lease_drain(t, i, now, &r)) {
            ap_log_error(
                APLOG_MARK, APLOG_TRACE1, 0, (server_rec *)data,
                "giving %lu quota units of key %s back%s", r.units, r.id,
                state == AP_WATCHDOG_STATE_STOPPING ? " (stopping)" : "");
            give_back(t, i, &r, p);
            apr_pool_clear(p);
        }
    }
    if (state == AP_WATCHDOG_STATE_RUNNING) {
        purge(p, now);
    }
    apr_pool_destroy(p);
    /* Anything else would stop mod_watchdog from calling again. */
    return APR_SUCCESS;
}

int apikey_quota_sync_init(apr_pool_t *pconf, server_rec *s)
{
    const apikey_srv_conf_t *conf =
        ap_get_module_config(s->module_config, &authn_apikey_module);
    server_rec *sp, *leased = NULL;
    apr_status_t rv;

    nservers = 0;
    for (sp = s; sp; sp = sp->next) {
        const apikey_srv_conf_t *c =
            ap_get_module_config(sp->module_config, &authn_apikey_module);

        nservers++;
        if (!leased && c->quota_store == APIKEY_QUOTA_STORE_DBD) {
            leased = sp;
        }
    }
    if (!leased || !apikey_limits_table()) {
        return 0;
    }
    servers = apr_pcalloc(pconf, nservers * sizeof(*servers));
    failing = apr_pcalloc(pconf, nservers);
    for (sp = s; sp; sp = sp->next) {
        apikey_srv_conf_t *c =
            ap_get_module_config(sp->module_config, &authn_apikey_module);

        if (c->index < nservers) {
            servers[c->index] = sp;
        }
    }
    rv = apikey_watchdog_start(pconf, s, WATCHDOG_NAME, conf->quota_sync,
                               sync_leases);
    if (rv == APR_ENOTIMPL) {
        /* Unused units would never go back: the fleet would under-admit
         * more with every lease.  Refuse rather than degrade. */
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, leased,
                     APIKEY_LOGNO(00040) "AuthAPIKeyQuotaStore dbd needs "
                                         "mod_watchdog: add 'LoadModule "
                                         "watchdog_module "
                                         "modules/mod_watchdog.so'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00044) "cannot start the sync of "
                                         "cluster-wide quotas");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return 0;
}
