/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage in the store (see apikey_usage.h).
 *
 * The request path adds to the key's entry of the usage table with atomic
 * adds (no lock, no time read: the request's own start time dates it).
 * The sync, a mod_watchdog singleton like the quota sync, takes each
 * entry's counts with atomic exchanges and adds them to the key store's
 * rows of this node; a write that fails puts them back for the next run,
 * so nothing is lost, and a write whose answer was lost is not repeated
 * (it may have counted; counted twice is worse than a short count, which
 * is logged).  It runs once more (STOPPING) as its child exits, so a
 * graceful restart or stop writes what was counted; a child killed, or a
 * store that does not answer then, loses what it held.  A new generation
 * starts with an empty table. */

#include "apikey_usage.h"
#include "apikey_config.h"
#include "apikey_logno.h"
#include "apikey_quota_sql.h"
#include "apikey_shm.h"
#include "apikey_store.h"
#include "apikey_usage_sql.h"
#include "apikey_watchdog.h"

#include "apr_network_io.h"
#include "apr_strings.h"
#include "http_log.h"
#include "http_main.h"

APLOG_USE_MODULE(authn_apikey);

#define WATCHDOG_NAME "authn-apikey-usage"
#define NODE_MAX      255 /* the apikey_usage.node column */

static apikey_usage_table_t *table;
static const char *node;
/* Servers by their index, and whether each one's store failed at the last
 * write (logged once per outage). */
static server_rec **servers;
static char *failing;
static unsigned nservers;
static int full_logged; /* the table ran out of entries (once a process) */
static int lost_logged;

apikey_usage_table_t *apikey_usage_table(void)
{
    return table;
}

const char *apikey_usage_set_sync(cmd_parms *cmd, void *mconfig,
                                  const char *interval)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t v = 0;

    (void)mconfig;
    if (err
        || (err = apikey_config_duration(cmd, "AuthAPIKeyUsageSync", interval,
                                         &v))) {
        return err;
    }
    if (v != 0 && (v < apr_time_from_sec(1) || v > apr_time_from_sec(86400))) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyUsageSync '%s': expected 0 (off) or "
                            "from 1s to 1d",
                            interval);
    }
    apikey_config_srv(cmd)->usage_sync = v;
    return NULL;
}

const char *apikey_usage_set_node(cmd_parms *cmd, void *mconfig,
                                  const char *name)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *c;

    (void)mconfig;
    if (err) {
        return err;
    }
    for (c = name; *c; c++) {
        if ((unsigned char)*c < 0x21 || *c == 0x7f) {
            break;
        }
    }
    if (!*name || *c || strlen(name) > NODE_MAX) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyUsageNode '%s': expected a name of 1 "
                            "to %d bytes without blanks or control "
                            "characters",
                            name, NODE_MAX);
    }
    apikey_config_srv(cmd)->usage_node = name;
    return NULL;
}

void apikey_usage_count(const request_rec *r, const apikey_request_t *rq)
{
    const apikey_record_t *key = rq->key;

    if (!table || !key || !key->id || !rq->srv) {
        return;
    }
    if (apikey_usage_table_count(table, rq->srv->store_id,
                                 key->query ? key->query->id : 0, key->id,
                                 (long long)apr_time_sec(r->request_time),
                                 rq->result == APIKEY_RESULT_OK)
            != 0
        && !full_logged) {
        full_logged = 1;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      APIKEY_LOGNO(00080) "the usage table is full (%u keys, "
                                          "AuthAPIKeyLimitSlots), or key %s's "
                                          "id is too long for it: its "
                                          "requests are not counted in the "
                                          "store's usage (the status page "
                                          "counts what is dropped; logged "
                                          "once a process)",
                      apikey_usage_table_slots(table), key->id);
    }
}

/* The server of a store by its identity, or NULL. */
static server_rec *server_of(apr_uint32_t store, unsigned *index)
{
    unsigned i;

    for (i = 0; i < nservers; i++) {
        const apikey_srv_conf_t *conf =
            servers[i] ? ap_get_module_config(servers[i]->module_config,
                                              &authn_apikey_module)
                       : NULL;

        if (conf && conf->has_store && conf->store_id == store) {
            *index = i;
            return servers[i];
        }
    }
    return NULL;
}

/* Writes what entry i counted in half h; puts it back when the write
 * failed for sure. */
static void write_half(unsigned i, int h, apr_pool_t *p)
{
    apikey_usage_take_t took;
    const char *err = "no server of this configuration has that store";
    server_rec *s;
    apikey_db_t *db = NULL;
    unsigned index = 0;
    int unsure = 0;
    apr_status_t rv = APR_EGENERAL;

    if (!apikey_usage_table_take(table, i, h, &took)) {
        return;
    }
    if ((s = server_of(took.store, &index)) != NULL) {
        err = "no database connection";
        db = apikey_store_db(p, s);
    }
    if (db) {
        rv = apikey_usage_sql_add(
            db, p, apikey_quota_sql_row(p, took.id, took.query), took.day, node,
            took.admitted, took.refused, took.last_used, &err, &unsure);
        apikey_store_db_done(s, db);
    }
    if (rv == APR_SUCCESS) {
        if (failing[index]) {
            failing[index] = 0;
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         APIKEY_LOGNO(00082) "the key store takes usage "
                                             "again");
        }
        return;
    }
    if (unsure) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            APIKEY_LOGNO(00083) "key %s: %" APR_UINT64_T_FMT
                                " admitted and %" APR_UINT64_T_FMT
                                " refused requests of day %" APR_INT64_T_FMT " "
                                "were sent to the store with no "
                                "answer (%s): not sent again, so "
                                "never counted twice; the store "
                                "may lack them",
            took.id, took.admitted, took.refused, (apr_int64_t)took.day, err);
        return;
    }
    apikey_usage_table_restore(table, i, h, &took);
    if (s && !failing[index]) {
        failing[index] = 1;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     APIKEY_LOGNO(00081) "cannot add usage of key %s to the "
                                         "key store's apikey_usage table "
                                         "(%s; a store made by an older "
                                         "htapikey gets it from 'htapikey "
                                         "init'): kept, and tried again at "
                                         "the next sync",
                     took.id, err);
    }
    else if (!s && !lost_logged) {
        lost_logged = 1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     APIKEY_LOGNO(00084) "usage of key %s belongs to a store "
                                         "no server of this configuration "
                                         "uses: kept, not written",
                     took.id);
    }
}

static apr_status_t sync_usage(int state, void *data, apr_pool_t *pool)
{
    apr_pool_t *p;
    unsigned i, n;

    (void)data;
    if (!table || state == AP_WATCHDOG_STATE_STARTING) {
        /* mod_dbd may not have its connections yet. */
        return APR_SUCCESS;
    }
    apr_pool_create(&p, pool);
    n = apikey_usage_table_slots(table);
    for (i = 0; i < n; i++) {
        write_half(i, 0, p);
        write_half(i, 1, p);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

/* ServerName of the main server, and the host's name when that differs:
 * "api.example.com@web1". */
static const char *default_node(apr_pool_t *p, server_rec *s)
{
    char host[APRMAXHOSTLEN + 1];
    const char *name = s->server_hostname ? s->server_hostname : "";
    const char *n;

    if (apr_gethostname(host, sizeof(host), p) != APR_SUCCESS) {
        host[0] = '\0';
    }
    n = !*host || !strcmp(host, name) ? name
        : *name                       ? apr_pstrcat(p, name, "@", host, NULL)
                                      : host;
    if (!*n) {
        n = "localhost";
    }
    return strlen(n) > NODE_MAX ? apr_pstrndup(p, n, NODE_MAX) : n;
}

int apikey_usage_init(apr_pool_t *pconf, server_rec *s)
{
    const apikey_srv_conf_t *conf =
        ap_get_module_config(s->module_config, &authn_apikey_module);
    unsigned nslots = (unsigned)conf->limit_slots;
    apr_size_t size;
    apikey_shm_t shm;
    apr_status_t rv;
    server_rec *sp;

    table = NULL;
    full_logged = lost_logged = 0;
    if (!conf->usage_sync) {
        return 0;
    }
    node = conf->usage_node ? conf->usage_node : default_node(pconf, s);
    nservers = 0;
    for (sp = s; sp; sp = sp->next) {
        nservers++;
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
    /* This generation's only (pconf): the last run of the old one's sync
     * wrote what it counted. */
    size = apikey_usage_table_size(nslots);
    rv = apikey_shm_get(s, pconf, NULL, size, nslots, &shm);
    if (rv != APR_SUCCESS
        || !(table = apikey_usage_table_init(shm.base, size, nslots))) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00085) "cannot create the usage table "
                                         "(%" APR_SIZE_T_FMT " bytes): lower "
                                         "AuthAPIKeyLimitSlots",
                     size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apikey_watchdog_start(pconf, s, WATCHDOG_NAME, conf->usage_sync,
                               sync_usage);
    if (rv == APR_ENOTIMPL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     APIKEY_LOGNO(00086) "AuthAPIKeyUsageSync needs "
                                         "mod_watchdog: add 'LoadModule "
                                         "watchdog_module "
                                         "modules/mod_watchdog.so', or "
                                         "AuthAPIKeyUsageSync 0");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00087) "cannot start the usage sync");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 APIKEY_LOGNO(00088) "usage is added to the key store every "
                                     "%" APR_TIME_T_FMT " ms as node %s",
                 apr_time_as_msec(conf->usage_sync), node);
    return 0;
}
