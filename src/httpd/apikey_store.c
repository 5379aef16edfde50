/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements.  See the NOTICE file distributed with
 * this work for additional information regarding copyright ownership.
 * The ASF licenses this file to You under the Apache License, Version 2.0
 * (the "License"); you may not use this file except in compliance with
 * the License.  You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* Key look-up through mod_dbd.
 *
 * The statement is prepared lazily on each pooled connection, with
 * apr_dbd_prepare, rather than registered with ap_dbd_prepare: mod_dbd
 * prepares registered statements on every connection of a server, so a
 * look-up that cannot be prepared there (no apikey table in a database used
 * by mod_authn_dbd, say) would take every DBD user of that server down with
 * it.  Prepared lazily, a bad statement fails our requests only, with the
 * driver's message. */

#include "apikey_store.h"
#include "apikey_config.h"
#include "apikey_key.h"
#include "apikey_logno.h"
#include "apikey_counters.h"
#include "apikey_time.h"

#include <stdlib.h>

#include "apr_dbd.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "mod_dbd.h"
#include "util_cfgtree.h"

APLOG_USE_MODULE(authn_apikey);

/* Labels name our statements in a connection's prepared-statement hash.
 * The pgsql driver uses them as SQL identifiers (PREPARE <label>), so they
 * hold letters, digits and underscores only. */
const apikey_query_t apikey_store_default_query = {APIKEY_STORE_DEFAULT_QUERY,
                                                   "authn_apikey_lookup", 0, 0};

/* AuthAPIKeyQuery SQL -> its query, so that the same SQL is prepared once
 * a connection however many sections use it.  Lives in pconf. */
static apr_hash_t *queries;

void apikey_store_reset(apr_pool_t *pconf)
{
    queries = apr_hash_make(pconf);
}

const char *apikey_store_query(apr_pool_t *p, const char *sql,
                               const apikey_query_t **out)
{
    const char *c;
    apikey_query_t *q;
    int args = 0;

    /* APR's placeholders are printf-like: exactly one, the digest, and
     * %% for a literal percent sign. */
    for (c = sql; (c = strchr(c, '%')) != NULL; c++) {
        if (c[1] == '%') {
            c++;
        }
        else {
            args++;
        }
    }
    if (args != 1 || !strstr(sql, "%s")) {
        return "AuthAPIKeyQuery needs exactly one %s, the key's digest "
               "(write %% for a literal percent sign)";
    }
    if ((q = apr_hash_get(queries, sql, APR_HASH_KEY_STRING)) == NULL) {
        q = apr_palloc(p, sizeof(*q));
        q->sql = apr_pstrdup(p, sql);
        q->number = apr_hash_count(queries) + 1;
        q->label = apr_psprintf(p, "authn_apikey_q%u", q->number - 1);
        q->id = apikey_store_hash(q->sql, strlen(q->sql), 0);
        apr_hash_set(queries, q->sql, APR_HASH_KEY_STRING, q);
    }
    *out = q;
    return NULL;
}

apr_uint32_t apikey_store_hash(const char *s, size_t len, apr_uint32_t h)
{
    size_t i;

    /* FNV-1a: the same on every build and node, which an identity that
     * outlives the configuration (a state file, a fleet's rows) needs. */
    h = h ? h : 2166136261U;
    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619U;
    }
    return h ? h : 1;
}

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
        h = apikey_store_hash(d ? d : "", d ? strlen(d) : 0, 0);
        h = apikey_store_hash("\n", 1, h);
        conf->store_id = apikey_store_hash(q, strlen(q), h);
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

/* The statement of q on this connection, prepared at its first use there.
 * Returns 0 or the driver's error code. */
static int prepare_once(ap_dbd_t *dbd, const apikey_query_t *q,
                        apr_dbd_prepared_t **st)
{
    int rv;

    *st = apr_hash_get(dbd->prepared, q->label, APR_HASH_KEY_STRING);
    if (*st) {
        return 0;
    }
    /* dbd->pool lives as long as the connection, as the statement must. */
    rv = apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, q->sql, q->label,
                         st);
    if (rv == 0) {
        apr_hash_set(dbd->prepared, q->label, APR_HASH_KEY_STRING, *st);
    }
    return rv;
}

/* Results are fetched whole (seek = 1), never streamed: APR's pgsql driver
 * streams with PQsendQueryPrepared and then reads an error result as "no
 * more rows", so a failed look-up would read as an unknown key (401, and
 * cached as such) instead of a database error (503); it also sleeps 0.1 s
 * on every empty result.  A look-up has one row at most anyway. */
#define SELECT_WHOLE 1

/* SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), as apr_dbd_sqlite3
 * passes them on once its own busy wait is over: preparing again would only
 * wait that long a second time before the same answer. */
static int store_busy(const apr_dbd_driver_t *driver, int rv)
{
    return (rv == 5 || rv == 6) && !strcmp(apr_dbd_name(driver), "sqlite3");
}

/* Runs q with nargs text arguments: a SELECT when res is given (its
 * result read whole), else a statement whose changed rows go to *nrows.  A
 * statement prepared on a connection fails for good once the schema
 * changes under it (APR's sqlite3 driver uses the legacy sqlite3_prepare),
 * and a pgsql connection that mod_dbd re-established after the server
 * restarted has lost it: on a failure the statement is prepared afresh and
 * run once more.  The new one has no label, since the pgsql driver would
 * refuse to PREPARE the same name twice.  Returns 0, or the driver's error
 * with *prepare_failed telling whether the statement could not even be
 * prepared. */
static int run(ap_dbd_t *dbd, apr_pool_t *p, const apikey_query_t *q, int nargs,
               const char **args, apr_dbd_results_t **res, int *nrows,
               int retry, int *prepare_failed)
{
    apr_dbd_prepared_t *st;
    int rv, attempt;

    *prepare_failed = 0;
    if ((rv = prepare_once(dbd, q, &st)) != 0) {
        *prepare_failed = 1;
        return rv;
    }
    for (attempt = 0;; attempt++) {
        if (res) {
            *res = NULL;
            rv = apr_dbd_pselect(dbd->driver, p, dbd->handle, res, st,
                                 SELECT_WHOLE, nargs, args);
        }
        else {
            rv = apr_dbd_pquery(dbd->driver, p, dbd->handle, nrows, st, nargs,
                                args);
        }
        if (rv == 0 || attempt == 1 || !retry || store_busy(dbd->driver, rv)
            || apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, q->sql,
                               NULL, &st)
                   != 0) {
            return rv;
        }
        apr_hash_set(dbd->prepared, q->label, APR_HASH_KEY_STRING, st);
    }
}

static int run_query(ap_dbd_t *dbd, apr_pool_t *p, const apikey_query_t *q,
                     const char *arg, apr_dbd_results_t **res,
                     int *prepare_failed)
{
    return run(dbd, p, q, arg ? 1 : 0, &arg, res, NULL, 1, prepare_failed);
}

ap_dbd_t *apikey_store_open(apr_pool_t *p, server_rec *s)
{
    return dbd_open(p, s);
}

void apikey_store_close(server_rec *s, ap_dbd_t *dbd)
{
    dbd_close(s, dbd);
}

int apikey_store_run(ap_dbd_t *dbd, apr_pool_t *p, const apikey_query_t *q,
                     int nargs, const char **args, apr_dbd_results_t **res,
                     int *nrows, int retry)
{
    int unprepared;

    return run(dbd, p, q, nargs, args, res, nrows, retry, &unprepared);
}

int apikey_store_busy(ap_dbd_t *dbd, int rv)
{
    return store_busy(dbd->driver, rv);
}

/* The columns we read, found by name in the result, so that a look-up
 * may select them in any order (and, for legacy schemas, leave some out). */
enum {
    COL_ID,
    COL_OWNER,
    COL_SCOPES,
    COL_STATUS,
    COL_EXPIRES,
    COL_NOT_BEFORE,
    COL_DIGEST,
    COL_ALLOW_IP,
    COL_ALLOW_REFERER,
    COL_ALLOW_METHOD,
    COL_GRACE_UNTIL,
    COL_REPLACED_BY,
    COL_RATE,
    COL_BURST,
    COL_QUOTA,
    NCOLS
};
static const char *const column_names[NCOLS] = {
    "id",          "owner",       "scopes",   "status",        "expires",
    "not_before",  "digest",      "allow_ip", "allow_referer", "allow_method",
    "grace_until", "replaced_by", "rate",     "burst",         "quota"};

/* Where each known column is in the result (-1: absent), and the others,
 * exported as APIKEY_<COLUMN>. */
typedef struct {
    int col[NCOLS];
    int nextra;
    int extra[APIKEY_EXTRA_MAX];
    const char *extra_env[APIKEY_EXTRA_MAX];
} columns_t;

/* "APIKEY_" and the column name in capitals, other characters as '_'. */
static const char *env_name(apr_pool_t *p, const char *column)
{
    char *name = apr_pstrcat(p, "APIKEY_", column, NULL), *c;

    for (c = name + 7; *c; c++) {
        *c = apr_isalnum(*c) ? (char)apr_toupper(*c) : '_';
    }
    return name;
}

static void map_columns(request_rec *r, const apr_dbd_driver_t *drv,
                        apr_dbd_results_t *res, columns_t *m)
{
    int i, c, n = apr_dbd_num_cols(drv, res);

    for (c = 0; c < NCOLS; c++) {
        m->col[c] = -1;
    }
    m->nextra = 0;
    for (i = 0; i < n; i++) {
        const char *name = apr_dbd_get_name(drv, res, i);

        if (!name) {
            continue;
        }
        /* The default look-up lists the columns in this order: one
         * comparison each, the whole list only for other queries. */
        if (i < NCOLS && m->col[i] < 0 && !strcasecmp(name, column_names[i])) {
            m->col[i] = i;
            continue;
        }
        for (c = 0; c < NCOLS; c++) {
            if (m->col[c] < 0 && !strcasecmp(name, column_names[c])) {
                m->col[c] = i;
                break;
            }
        }
        if (c == NCOLS && m->nextra < APIKEY_EXTRA_MAX) {
            m->extra[m->nextra] = i;
            m->extra_env[m->nextra++] = env_name(r->pool, name);
        }
    }
}

/* A column's value copied to the request pool; NULL when the column is
 * absent, SQL NULL or, if empty_is_null, empty. */
static const char *column(request_rec *r, const apr_dbd_driver_t *drv,
                          apr_dbd_row_t *row, int idx, int empty_is_null)
{
    const char *v = idx < 0 ? NULL : apr_dbd_get_entry(drv, row, idx);

    if (!v || (empty_is_null && !*v)) {
        return NULL;
    }
    return apr_pstrdup(r->pool, v);
}

/* Reads a time column; returns 0, or -1 (logged) when unreadable. */
static int time_column(request_rec *r, const char *id, const char *what,
                       const char *v, int *has, long long *out)
{
    *has = v != NULL;
    if (v && apikey_time_parse(v, out)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00002) "key %s: unreadable %s value '%s'",
                      id, what, v);
        return -1;
    }
    return 0;
}

/* Copies one result row into rec.  Returns 0, 1 when the row's digest is
 * not the one asked for, or -1 when a column does not hold what the schema
 * says. */
static int read_row(request_rec *r, const apr_dbd_driver_t *drv,
                    apr_dbd_row_t *row, const columns_t *m,
                    const char *digest_hex, apikey_record_t *rec)
{
    const int *col = m->col;
    int i;

    const char *digest = column(r, drv, row, col[COL_DIGEST], 0);

    /* The database matched the digest already; comparing again in
     * constant time guards against collations that fold case or pad. */
    if (col[COL_DIGEST] >= 0
        && (!digest || strlen(digest) != APIKEY_DIGEST_HEX_LEN
            || !apikey_equal_ct(digest, digest_hex, APIKEY_DIGEST_HEX_LEN))) {
        return 1;
    }
    rec->id = column(r, drv, row, col[COL_ID], 1);
    if (!rec->id) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00008) "a key without an id matched; "
                                          "refusing it");
        return -1;
    }
    rec->owner = column(r, drv, row, col[COL_OWNER], 0);
    rec->scopes = column(r, drv, row, col[COL_SCOPES], 0);
    rec->status = column(r, drv, row, col[COL_STATUS], 1);
    rec->allow_ip = column(r, drv, row, col[COL_ALLOW_IP], 1);
    rec->allow_referer = column(r, drv, row, col[COL_ALLOW_REFERER], 1);
    rec->allow_method = column(r, drv, row, col[COL_ALLOW_METHOD], 1);
    rec->replaced_by = column(r, drv, row, col[COL_REPLACED_BY], 1);
    rec->rate = column(r, drv, row, col[COL_RATE], 1);
    rec->quota = column(r, drv, row, col[COL_QUOTA], 1);
    {
        const char *burst = column(r, drv, row, col[COL_BURST], 1);
        rec->burst = burst ? apr_atoi64(burst) : 0;
    }
    if (!rec->owner) {
        rec->owner = "";
    }
    if (!rec->scopes) {
        rec->scopes = "";
    }
    if (!rec->status) {
        rec->status = "active";
    }
    rec->nextra = m->nextra;
    for (i = 0; i < m->nextra; i++) {
        const char *v = column(r, drv, row, m->extra[i], 0);

        rec->extra_env[i] = m->extra_env[i];
        rec->extra_value[i] = v ? v : "";
    }
    if (time_column(r, rec->id, "expires",
                    column(r, drv, row, col[COL_EXPIRES], 1), &rec->has_expires,
                    &rec->expires)
        || time_column(r, rec->id, "not_before",
                       column(r, drv, row, col[COL_NOT_BEFORE], 1),
                       &rec->has_not_before, &rec->not_before)
        || time_column(r, rec->id, "grace_until",
                       column(r, drv, row, col[COL_GRACE_UNTIL], 1),
                       &rec->has_grace_until, &rec->grace_until)) {
        return -1;
    }
    return 0;
}

apr_status_t apikey_store_lookup(request_rec *r, const apikey_query_t *query,
                                 const char *digest_hex, apikey_record_t *rec)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t status = APR_NOTFOUND;
    ap_dbd_t *dbd;
    columns_t cols;
    int rv, rows = 0, unprepared, n = 0;

    /* Opened and closed around the look-up, not tied to the request: a
     * long CGI or proxied response must not hold a pooled connection. */
    dbd = dbd_open(r->pool, r->server);
    if (!dbd) {
        apikey_counters_db_error();
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00004) "no database connection for "
                                          "the key look-up (is DBDriver "
                                          "and DBDParams set for this "
                                          "server, the database up?)");
        return APR_EGENERAL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "looking the key up in the store (%s)", query->label);
    rv = run_query(dbd, r->pool, query, digest_hex, &res, &unprepared);
    if (rv != 0 && unprepared) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00001) "cannot prepare the key look-up "
                                          "(%s): %s",
                      query->sql, apr_dbd_error(dbd->driver, dbd->handle, rv));
    }
    else if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00005) "key look-up failed: %s",
                      apr_dbd_error(dbd->driver, dbd->handle, rv));
    }
    if (rv != 0) {
        apikey_counters_db_error();
        dbd_close(r->server, dbd);
        return APR_EGENERAL;
    }
    /* Drain every row: some drivers keep the cursor busy otherwise. */
    /* Rows by number, from 1, as a result fetched whole is read in every
     * driver (APR's mysql driver refuses -1, "the next row", there). */
    for (rv = apr_dbd_get_row(dbd->driver, r->pool, res, &row, ++n); rv != -1;
         rv = apr_dbd_get_row(dbd->driver, r->pool, res, &row, ++n)) {
        if (rv != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00006) "reading the key look-up "
                                              "failed: %s",
                          apr_dbd_error(dbd->driver, dbd->handle, rv));
            status = APR_EGENERAL;
            break;
        }
        if (rows++ == 0) {
            int got;

            map_columns(r, dbd->driver, res, &cols);
            got = read_row(r, dbd->driver, row, &cols, digest_hex, rec);

            status = got == 0  ? APR_SUCCESS
                     : got > 0 ? APR_NOTFOUND
                               : APR_EGENERAL;
        }
    }
    if (rows > 1) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APIKEY_LOGNO(00007) "%d keys share one digest; "
                                "refusing them (is the digest column unique?)",
            rows);
        status = APR_EGENERAL;
    }
    dbd_close(r->server, dbd);
    return status;
}

/* The change marker htapikey bumps with every change (never cached: its
 * number only keeps it apart from the look-ups). */
static const apikey_query_t marker_query = {
    "SELECT value FROM apikey_meta WHERE name = 'version'",
    "authn_apikey_marker", 0xffffffffU, 0};

apr_status_t apikey_store_marker(server_rec *s, apr_pool_t *p,
                                 apr_int64_t *marker, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t status = APR_NOTFOUND;
    ap_dbd_t *dbd;
    int rv, unprepared, n = 0;

    *err = "the change marker (apikey_meta row 'version') is missing";
    if (!(dbd = dbd_open(p, s))) {
        *err = "no database connection";
        return APR_EGENERAL;
    }
    rv = run_query(dbd, p, &marker_query, NULL, &res, &unprepared);
    if (rv != 0) {
        *err = apr_pstrdup(p, apr_dbd_error(dbd->driver, dbd->handle, rv));
        dbd_close(s, dbd);
        return APR_EGENERAL;
    }
    for (rv = apr_dbd_get_row(dbd->driver, p, res, &row, ++n); rv != -1;
         rv = apr_dbd_get_row(dbd->driver, p, res, &row, ++n)) {
        const char *v = rv == 0 ? apr_dbd_get_entry(dbd->driver, row, 0) : NULL;

        if (rv != 0) {
            *err = apr_pstrdup(p, apr_dbd_error(dbd->driver, dbd->handle, rv));
            status = APR_EGENERAL;
            break;
        }
        if (v && status == APR_NOTFOUND) {
            *marker = apr_atoi64(v);
            status = APR_SUCCESS;
        }
    }
    dbd_close(s, dbd);
    return status;
}
