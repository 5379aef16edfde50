/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key store through mod_dbd (see apikey_store.h): its connections
 * handed to src/dbd, the look-up's answers logged, each store's identity. */

#include "apikey_store.h"
#include "apikey_config.h"
#include "apikey_counters.h"
#include "apikey_logno.h"

#include <stdlib.h>

#include "apr_dbd.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "apr_user.h"
#include "http_config.h"
#include "http_log.h"
#include "mod_dbd.h"
#include "util_cfgtree.h"

APLOG_USE_MODULE(authn_apikey);

/* The argument of the last DBDriver or DBDParams (name) among a section's
 * directives, NULL when none; the configuration's Includes, <IfModule>
 * and <IfDefine> sections are already spliced in. */
static const char *dbd_arg(apr_pool_t *p, const ap_directive_t *d,
                           const char *name)
{
    const char *v = NULL;

    for (; d; d = d->next) {
        if (!ap_cstr_casecmp(d->directive, name)) {
            const char *args = d->args;

            v = ap_getword_conf(p, &args);
        }
    }
    return v;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* DBDParams as an identity of the database it reaches: a SQLite file by
 * its real path; for other drivers the key=value words (blanks, and
 * MySQL's , ; |, apart; PostgreSQL's quoted values kept whole), keys in
 * lower case, passwords left out (a new password is the same store), in
 * sorted order (the same words in another order are too). */
static const char *store_params(apr_pool_t *p, const char *driver,
                                const char *params)
{
    apr_array_header_t *words;
    const char *c;
    char *out;
    int i;

    if (driver && !strncmp(driver, "sqlite", 6)) {
        char *real = realpath(params, NULL);

        if (real) {
            out = apr_pstrdup(p, real);
            free(real);
            return out;
        }
        return params;
    }
    words = apr_array_make(p, 8, sizeof(const char *));
    for (c = params; *c;) {
        const char *start, *eq;
        char *w;
        size_t n;
        int quoted = 0;

        while (*c && strchr(" \t\r\n,;|", *c)) {
            c++;
        }
        if (!*c) {
            break;
        }
        for (start = c; *c && (quoted || !strchr(" \t\r\n,;|", *c)); c++) {
            if (*c == '\\' && c[1]) {
                c++;
            }
            else if (*c == '\'') {
                quoted = !quoted;
            }
        }
        n = (size_t)(c - start);
        w = apr_pstrmemdup(p, start, n);
        eq = strchr(w, '=');
        if (eq) {
            char *k;

            for (k = w; k < eq; k++) {
                *k = (char)apr_tolower((unsigned char)*k);
            }
            if (!strncmp(w, "password=", 9) || !strncmp(w, "pass=", 5)
                || !strncmp(w, "passwd=", 7) || !strncmp(w, "pwd=", 4)) {
                continue;
            }
        }
        APR_ARRAY_PUSH(words, const char *) = w;
    }
    qsort(words->elts, (size_t)words->nelts, sizeof(const char *), by_string);
    out = "";
    for (i = 0; i < words->nelts; i++) {
        out = apr_pstrcat(p, out, i ? "\n" : "",
                          APR_ARRAY_IDX(words, i, const char *), NULL);
    }
    return out;
}

void apikey_store_identify(server_rec *s)
{
    apr_pool_t *p = s->process->pconf;
    const char *driver = dbd_arg(p, ap_conftree, "DBDriver");
    const char *params = dbd_arg(p, ap_conftree, "DBDParams");
    server_rec *sp;

    for (sp = s; sp; sp = sp->next) {
        apikey_srv_conf_t *conf =
            ap_get_module_config(sp->module_config, &authn_apikey_module);
        const char *d = driver, *q = params;
        const ap_directive_t *v;
        apr_uint32_t h;

        for (v = ap_conftree; sp->is_virtual && v; v = v->next) {
            /* The <VirtualHost> this server was made from. */
            if (!ap_cstr_casecmp(v->directive, "<VirtualHost")
                && (unsigned)v->line_num == sp->defn_line_number
                && sp->defn_name && v->filename
                && !strcmp(v->filename, sp->defn_name)) {
                const char *vd = dbd_arg(p, v->first_child, "DBDriver");
                const char *vq = dbd_arg(p, v->first_child, "DBDParams");

                d = vd ? vd : d;
                q = vq ? vq : q;
                break;
            }
        }
        q = q ? store_params(p, d, q) : "";
        conf->store_file = d && !strcmp(d, "sqlite3") && *q ? q : NULL;
        conf->has_store = d != NULL;
        h = apikey_db_hash(d ? d : "", d ? strlen(d) : 0, 0);
        h = apikey_db_hash("\n", 1, h);
        conf->store_id = apikey_db_hash(q, strlen(q), h);
    }
}

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) * dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) * dbd_close;

int apikey_store_init(void)
{
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return dbd_open && dbd_close ? 0 : -1;
}

typedef struct {
    apikey_db_t db; /* first: an apikey_db_t * is one of these */
    ap_dbd_t *dbd;
} conn_t;

apikey_db_t *apikey_store_db(apr_pool_t *p, server_rec *s)
{
    ap_dbd_t *dbd = dbd_open(p, s);
    conn_t *c;

    if (!dbd) {
        return NULL;
    }
    c = apr_palloc(p, sizeof(*c));
    c->db.driver = dbd->driver;
    c->db.handle = dbd->handle;
    c->db.prepared = dbd->prepared;
    c->db.pool = dbd->pool;
    c->db.missing = NULL;
    c->dbd = dbd;
    return &c->db;
}

void apikey_store_db_done(server_rec *s, apikey_db_t *db)
{
    dbd_close(s, ((conn_t *)db)->dbd);
}

/* APIKEY00004, with the likeliest cause: for SQLite, a file or directory
 * the user the children run as cannot read and write (mod_dbd's own line
 * before this one has SQLite's words, "unable to open database file"). */
static void no_connection(request_rec *r)
{
    const apikey_srv_conf_t *srv =
        ap_get_module_config(r->server->module_config, &authn_apikey_module);
    const char *why = " (is DBDriver and DBDParams set for this server, the "
                      "database up?)";
    char *user = NULL;
    apr_uid_t uid = 0;
    apr_gid_t gid;

    if (srv->store_file) {
        if (apr_uid_current(&uid, &gid, r->pool) != APR_SUCCESS
            || apr_uid_name_get(&user, uid, r->pool) != APR_SUCCESS) {
            user = apr_psprintf(r->pool, "uid %lu", (unsigned long)uid);
        }
        why = apr_pstrcat(r->pool, ": can ", user,
                          ", the user httpd's children run as, read and "
                          "write the SQLite file ",
                          srv->store_file,
                          " and write its directory (SQLite keeps a journal "
                          "beside it)?",
                          NULL);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  APIKEY_LOGNO(00004) "no database connection for the key "
                                      "look-up%s",
                  why);
}

/* Once a process: a store the module's upgrade left behind works without
 * the new columns (src/dbd), and says how to catch up. */
static void missing_columns(request_rec *r, const char *names)
{
    static int said;

    if (said) {
        return;
    }
    said = 1;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  APIKEY_LOGNO(00071) "the key store has no column %s, which "
                                      "this version of the module reads: "
                                      "keys are looked up without; run "
                                      "'htapikey init' on the store to add "
                                      "them",
                  names);
}

apr_status_t apikey_store_lookup(request_rec *r, const apikey_query_t *query,
                                 const char *digest_hex, apikey_record_t *rec)
{
    apikey_db_answer_t answer;
    apikey_db_why_t why;
    apikey_db_t *db;

    /* Opened and closed around the look-up, not tied to the request: a
     * long CGI or proxied response must not hold a pooled connection. */
    if (!(db = apikey_store_db(r->pool, r->server))) {
        apikey_counters_db_error();
        no_connection(r);
        return APR_EGENERAL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "looking the key up in the store (%s)", query->label);
    answer = apikey_db_lookup(db, r->pool, query, digest_hex, rec, &why);
    if (answer == APIKEY_DB_UNPREPARED || answer == APIKEY_DB_FAILED) {
        /* Once more, on a connection mod_dbd checks afresh: a pooled one
         * outlived a restart of the database server (libpq's "no
         * connection to the server"), which the check reconnects or
         * replaces.  A store that is down fails the second time too. */
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "the key look-up failed (%s): once more", why.message);
        apikey_store_db_done(r->server, db);
        if (!(db = apikey_store_db(r->pool, r->server))) {
            apikey_counters_db_error();
            no_connection(r);
            return APR_EGENERAL;
        }
        answer = apikey_db_lookup(db, r->pool, query, digest_hex, rec, &why);
    }
    if (db->missing) {
        missing_columns(r, db->missing);
    }
    apikey_store_db_done(r->server, db);
    switch (answer) {
        case APIKEY_DB_FOUND:
            return APR_SUCCESS;
        case APIKEY_DB_NOTFOUND:
            return APR_NOTFOUND;
        case APIKEY_DB_UNPREPARED:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00001) "cannot prepare the key look-up "
                                              "(%s): %s",
                          query->sql, why.message);
            break;
        case APIKEY_DB_FAILED:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00005) "key look-up failed: %s",
                          why.message);
            break;
        case APIKEY_DB_BAD_ROW:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00006) "reading the key look-up "
                                              "failed: %s",
                          why.message);
            break;
        case APIKEY_DB_TWO_ROWS:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00007) "%d keys share one digest; "
                                              "refusing them (is the digest "
                                              "column unique?)",
                          why.rows);
            break;
        case APIKEY_DB_NO_ID:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00008) "a key without an id matched; "
                                              "refusing it");
            break;
        case APIKEY_DB_BAD_TIME:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00002) "key %s: unreadable %s value "
                                              "'%s'",
                          why.id, why.column, why.message);
            break;
        case APIKEY_DB_BAD_PACK:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00091) "key %s: the look-up's packed "
                                              "restriction, limit and "
                                              "rotation columns do not read "
                                              "back (a value holding the "
                                              "byte 0x1f, or cut short by "
                                              "the driver); refusing it",
                          why.id ? why.id : "(no id)");
            break;
    }
    apikey_counters_db_error();
    return APR_EGENERAL;
}

apr_status_t apikey_store_marker(server_rec *s, apr_pool_t *p,
                                 apr_int64_t *marker, const char **err)
{
    apikey_db_t *db = apikey_store_db(p, s);
    int rv;

    if (!db) {
        *err = "no database connection";
        return APR_EGENERAL;
    }
    rv = apikey_db_marker(db, p, marker, err);
    apikey_store_db_done(s, db);
    return rv ? APR_EGENERAL : APR_SUCCESS;
}
