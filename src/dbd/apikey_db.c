/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key store through APR DBD (see apikey_db.h).
 *
 * Statements are prepared on a connection at their first use there
 * (apr_dbd_prepare), not registered with mod_dbd (ap_dbd_prepare): mod_dbd
 * prepares registered statements on every connection of a server, so a
 * look-up that cannot be prepared there (no apikey table in a database
 * mod_authn_dbd also uses, say) would take every DBD user of that server
 * down with it.  Prepared lazily, a bad statement fails our requests only,
 * with the driver's message. */

#include "apikey_db.h"
#include "apikey_db_columns.h"
#include "apikey_db_packed.h"
#include "apikey_key.h"
#include "apikey_time.h"

#include <string.h>
#include <strings.h>

#include "apr_lib.h"
#include "apr_strings.h"

/* The default look-up's SQL: the record's columns but htapikey's own. */
static char default_sql[512];

/* Labels name our statements in a connection's prepared-statement hash.
 * The pgsql driver uses them as SQL identifiers (PREPARE <label>), so they
 * hold letters, digits and underscores only. */
const apikey_query_t apikey_db_default_query = {default_sql,
                                                "authn_apikey_lookup", 0, 0};

/* AuthAPIKeyQuery SQL -> its query, so that the same SQL is prepared once
 * a connection however many sections use it. */
static apr_hash_t *queries;

static void build_maps(void);

void apikey_db_reset(apr_pool_t *p)
{
    char *w = default_sql;
    int i;

    queries = apr_hash_make(p);
    w += apr_snprintf(w, sizeof(default_sql), "SELECT ");
    for (i = 0; i < apikey_ncolumns; i++) {
        if (apikey_columns[i].kind != APIKEY_COL_CLI) {
            w += apr_snprintf(
                w, sizeof(default_sql) - (size_t)(w - default_sql), "%s%s",
                w[-1] == ' ' ? "" : ", ", apikey_columns[i].name);
        }
    }
    apr_snprintf(w, sizeof(default_sql) - (size_t)(w - default_sql),
                 " FROM apikey WHERE digest = %%s");
    apikey_db_packed_reset();
    build_maps();
}

apr_uint32_t apikey_db_hash(const char *s, size_t len, apr_uint32_t h)
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

const char *apikey_db_query(apr_pool_t *p, const char *sql,
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
        q->id = apikey_db_hash(q->sql, strlen(q->sql), 0);
        if (q->id == APIKEY_QUERY_ANONYMOUS) {
            q->id--;
        }
        apr_hash_set(queries, q->sql, APR_HASH_KEY_STRING, q);
    }
    *out = q;
    return NULL;
}

/* APR's sqlite3 driver's own wait for a busy step: 15 times 0.1 s. */
#define PREPARE_TRIES 15
#define PREPARE_WAIT  apr_time_from_msec(100)

/* The statement of q on this connection, prepared at its first use there.
 * Returns 0 or the driver's error code. */
static int prepare_once(apikey_db_t *db, const apikey_query_t *q,
                        apr_dbd_prepared_t **st)
{
    int rv, tries;

    *st = db->prepared
              ? apr_hash_get(db->prepared, q->label, APR_HASH_KEY_STRING)
              : NULL;
    if (*st) {
        if (q == &apikey_db_default_query) {
            apikey_db_recheck(db, q, st);
        }
        return 0;
    }
    /* db->pool lives as long as the connection, as the statement must.
     * SQLite cannot read the schema while another connection commits, and
     * APR's driver waits out a busy database for a step, not for a
     * prepare: wait as long here (the first look-up of a new child, while
     * htapikey or another child writes, answered 503 otherwise). */
    for (tries = 0;; tries++) {
        rv = apr_dbd_prepare(db->driver, db->pool, db->handle,
                             apikey_db_sql(db, q),
                             db->prepared ? q->label : NULL, st);
        if (rv == 0 || !apikey_db_busy(db, rv) || tries == PREPARE_TRIES) {
            break;
        }
        apr_sleep(PREPARE_WAIT);
    }
    if (rv != 0 && q == &apikey_db_default_query && !apikey_db_busy(db, rv)
        && apikey_db_prepare_reduced(db, q, st) == 0) {
        rv = 0;
    }
    /* A store with every column whose engine cannot run the packed
     * look-up (an SQLite before printf, 3.8.3): the wide one. */
    if (rv != 0 && q == &apikey_db_default_query && !apikey_db_busy(db, rv)
        && apikey_db_sql(db, q) != apikey_db_default_query.sql
        && apr_dbd_prepare(db->driver, db->pool, db->handle, default_sql,
                           db->prepared ? q->label : NULL, st)
               == 0) {
        rv = 0;
    }
    if (rv == 0 && db->prepared) {
        apr_hash_set(db->prepared, q->label, APR_HASH_KEY_STRING, *st);
    }
    return rv;
}

/* Results are fetched whole (seek = 1), never streamed: APR's pgsql driver
 * streams with PQsendQueryPrepared and then reads an error result as "no
 * more rows", so a failed look-up would read as an unknown key (401, and
 * cached as such) instead of a database error (503); it also sleeps 0.1 s
 * on every empty result.  A look-up has one row at most anyway. */
#define SELECT_WHOLE 1

int apikey_db_busy(const apikey_db_t *db, int rv)
{
    /* SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), as apr_dbd_sqlite3
     * passes them on once its own busy wait is over: preparing again would
     * only wait that long a second time before the same answer. */
    return (rv == 5 || rv == 6) && !strcmp(apr_dbd_name(db->driver), "sqlite3");
}

const char *apikey_db_one_line(apr_pool_t *p, const char *msg)
{
    char *out, *o;
    int gap = 0;

    /* Each run of line breaks and the blanks around them becomes "; ";
     * the message's end loses them. */
    o = out = apr_palloc(p, 2 * strlen(msg) + 1);
    for (; *msg; msg++) {
        if (*msg == '\n' || *msg == '\r') {
            gap = 1;
            while (o > out && (o[-1] == ' ' || o[-1] == '\t')) {
                o--;
            }
            continue;
        }
        if (gap && (*msg == ' ' || *msg == '\t')) {
            continue;
        }
        if (gap && o > out) {
            *o++ = ';';
            *o++ = ' ';
        }
        gap = 0;
        *o++ = *msg;
    }
    *o = '\0';
    return out;
}

const char *apikey_db_error(const apikey_db_t *db, apr_pool_t *p, int rv)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rv);

    msg = msg ? apikey_db_one_line(p, msg) : "";
    return *msg ? msg : "unknown database error";
}

/* A statement prepared on a connection fails for good once the schema
 * changes under it (APR's sqlite3 driver uses the legacy sqlite3_prepare),
 * and a pgsql connection that mod_dbd re-established after the server
 * restarted has lost it: on a failure the statement is prepared afresh and
 * run once more.  The new one has no label, since the pgsql driver would
 * refuse to PREPARE the same name twice. */
int apikey_db_run(apikey_db_t *db, apr_pool_t *p, const apikey_query_t *q,
                  int nargs, const char **args, apr_dbd_results_t **res,
                  int *nrows, int retry, int *unprepared)
{
    apr_dbd_prepared_t *st;
    int rv, attempt;

    if (unprepared) {
        *unprepared = 0;
    }
    if ((rv = prepare_once(db, q, &st)) != 0) {
        if (unprepared) {
            *unprepared = 1;
        }
        return rv;
    }
    for (attempt = 0;; attempt++) {
        if (res) {
            *res = NULL;
            rv = apr_dbd_pselect(db->driver, p, db->handle, res, st,
                                 SELECT_WHOLE, nargs, args);
        }
        else {
            rv = apr_dbd_pquery(db->driver, p, db->handle, nrows, st, nargs,
                                args);
        }
        if (rv == 0 || attempt == 1 || !retry || apikey_db_busy(db, rv)
            || apr_dbd_prepare(db->driver, db->pool, db->handle,
                               apikey_db_retry_sql(db, q), NULL, &st)
                   != 0) {
            return rv;
        }
        if (db->prepared) {
            apr_hash_set(db->prepared, q->label, APR_HASH_KEY_STRING, st);
        }
    }
}

int apikey_db_rows(apikey_db_t *db, apr_pool_t *p, apr_dbd_results_t *res,
                   int (*each)(apr_dbd_row_t *row, void *ctx), void *ctx)
{
    apr_dbd_row_t *row = NULL;
    int rv, n = 0, err = 0, done = 0;

    /* Rows by number, from 1, as a result fetched whole is read in every
     * driver (APR's mysql driver refuses -1, "the next row", there). */
    for (rv = apr_dbd_get_row(db->driver, p, res, &row, ++n); rv != -1;
         rv = apr_dbd_get_row(db->driver, p, res, &row, ++n)) {
        if (rv != 0) {
            err = err ? err : rv;
            continue;
        }
        if (!done && !err) {
            done = each(row, ctx);
        }
    }
    return err;
}

/* Where each column of the list is in a result (-1: absent), and the
 * others, exported as APIKEY_<COLUMN>. */
#define ONE(n, kind, added, ph) +1
enum { NCOLS = 0 APIKEY_COLUMNS(ONE) };
typedef struct {
    int col[NCOLS];
    /* The packed look-up's: where APIKEY_DB_PACKED_NAME is (-1: a wide result),
     * and each column's place in it (-1: a column of its own). */
    int pack;
    int npack;
    int in_pack[NCOLS];
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

/* The two layouts of the default look-up, made once (apikey_db_reset):
 * the wide one's and the packed one's maps and numbers of columns. */
static columns_t wide_map, packed_map;
static int wide_cols, packed_cols;

static void build_maps(void)
{
    int c, n = 0, own = 0;

    memset(&wide_map, 0, sizeof(wide_map));
    wide_map.pack = -1;
    for (c = 0; c < apikey_ncolumns; c++) {
        wide_map.in_pack[c] = -1;
        wide_map.col[c] = apikey_columns[c].kind == APIKEY_COL_CLI ? -1 : n++;
    }
    wide_cols = n;
    packed_map = wide_map;
    for (c = 0; c < apikey_ncolumns; c++) {
        if (wide_map.col[c] < 0) {
            continue;
        }
        if (apikey_db_packed(&apikey_columns[c])) {
            packed_map.in_pack[c] = packed_map.npack++;
            packed_map.col[c] = -1;
        }
        else {
            packed_map.col[c] = own++;
        }
    }
    packed_map.pack = own;
    packed_cols = own + 1;
}

/* The default look-up's columns as its own SQL lists them: the list's,
 * but htapikey's, in order, the packed ones last in one column when the
 * result is the packed look-up's; -1 when a result has another number of
 * columns (then they are looked for by name).  A store that lacks columns
 * is asked with a wide look-up of those it has, which may have as many
 * columns as the packed one: the last one's name tells them apart. */
static int default_columns(const apr_dbd_driver_t *drv, apr_dbd_results_t *res,
                           columns_t *m)
{
    int cols = apr_dbd_num_cols(drv, res);
    const char *last;

    if (cols == wide_cols) {
        *m = wide_map;
        return 0;
    }
    if (cols == packed_cols) {
        /* A name unread could be the packed column's: never mapped by
         * name, where its twelve would count as absent. */
        if (!(last = apr_dbd_get_name(drv, res, packed_map.pack))) {
            return -2;
        }
        if (!strcasecmp(last, APIKEY_DB_PACKED_NAME)) {
            *m = packed_map;
            return 0;
        }
    }
    return -1;
}

/* Maps res's columns into m: 0, or -1 when the default look-up's result
 * cannot be told wide or packed (then nothing of it is read). */
static int map_columns(apr_pool_t *p, const apr_dbd_driver_t *drv,
                       apr_dbd_results_t *res, const apikey_query_t *q,
                       columns_t *m)
{
    int i, c, n, ours = q == &apikey_db_default_query;

    /* Ours: no name to compare (a fifteenth of a look-up's instructions
     * went to strcasecmp). */
    if (ours && (c = default_columns(drv, res, m)) != -1) {
        return c == 0 ? 0 : -1;
    }
    n = apr_dbd_num_cols(drv, res);
    for (c = 0; c < apikey_ncolumns; c++) {
        m->col[c] = -1;
        m->in_pack[c] = -1;
    }
    m->pack = -1;
    m->npack = 0;
    m->nextra = 0;
    for (i = 0; i < n; i++) {
        const char *name = apr_dbd_get_name(drv, res, i);

        if (!name) {
            continue;
        }
        if (ours && !strcasecmp(name, APIKEY_DB_PACKED_NAME)) {
            return -1;
        }
        /* The default look-up lists the columns in the list's order: one
         * comparison each, the whole list only for other queries.  The
         * list's htapikey-only columns are none of the record's: a query
         * that selects one exports it like any other. */
        if (i < apikey_ncolumns && m->col[i] < 0
            && apikey_columns[i].kind != APIKEY_COL_CLI
            && !strcasecmp(name, apikey_columns[i].name)) {
            m->col[i] = i;
            continue;
        }
        for (c = 0; c < apikey_ncolumns; c++) {
            if (m->col[c] < 0 && apikey_columns[c].kind != APIKEY_COL_CLI
                && !strcasecmp(name, apikey_columns[c].name)) {
                m->col[c] = i;
                break;
            }
        }
        if (c == apikey_ncolumns && m->nextra < APIKEY_EXTRA_MAX) {
            m->extra[m->nextra] = i;
            m->extra_env[m->nextra++] = env_name(p, name);
        }
    }
    return 0;
}

/* A column's value copied to p; NULL when absent or SQL NULL. */
static const char *entry(apr_pool_t *p, const apr_dbd_driver_t *drv,
                         apr_dbd_row_t *row, int idx)
{
    const char *v = idx < 0 ? NULL : apr_dbd_get_entry(drv, row, idx);

    return v ? apr_pstrdup(p, v) : NULL;
}

/* A look-up being read: the first row goes into rec. */
typedef struct {
    apikey_db_t *db;
    const apikey_query_t *q;
    apr_pool_t *p;
    apr_dbd_results_t *res;
    const char *digest_hex;
    apikey_record_t *rec;
    apikey_db_why_t *why;
    apikey_db_answer_t answer;
    int rows;
} lookup_t;

/* Copies one row into rec by the list: FOUND, NOTFOUND when the row's
 * digest is not the one asked for, or what a column holds wrongly. */
static apikey_db_answer_t read_row(lookup_t *l, apr_dbd_row_t *row,
                                   const columns_t *m)
{
    const apr_dbd_driver_t *drv = l->db->driver;
    apikey_record_t *rec = l->rec;
    const char *part[NCOLS];
    int c, i;

    if (m->pack >= 0
        && apikey_db_split_pack((char *)entry(l->p, drv, row, m->pack),
                                m->npack, part)) {
        for (c = 0; c < apikey_ncolumns; c++) {
            if (apikey_columns[c].kind == APIKEY_COL_ID) {
                l->why->id = entry(l->p, drv, row, m->col[c]);
            }
        }
        return APIKEY_DB_BAD_PACK;
    }
    for (c = 0; c < apikey_ncolumns; c++) {
        const apikey_column_t *col = &apikey_columns[c];
        const char *v = m->in_pack[c] >= 0 ? part[m->in_pack[c]]
                                           : entry(l->p, drv, row, m->col[c]);
        const char **s = (const char **)((char *)rec + col->off);

        switch (col->kind) {
            case APIKEY_COL_DIGEST:
                /* The database matched the digest already; comparing again
                 * in constant time guards against collations that fold
                 * case or pad. */
                if (m->col[c] >= 0
                    && (!v || strlen(v) != APIKEY_DIGEST_HEX_LEN
                        || !apikey_equal_ct(v, l->digest_hex,
                                            APIKEY_DIGEST_HEX_LEN))) {
                    return APIKEY_DB_NOTFOUND;
                }
                break;
            case APIKEY_COL_ID:
                if (!v || !*v) {
                    return APIKEY_DB_NO_ID;
                }
                *s = v;
                break;
            case APIKEY_COL_TEXT:
                *s = v ? v : "";
                break;
            case APIKEY_COL_STATUS:
                *s = v && *v ? v : "active";
                break;
            case APIKEY_COL_OPT:
                *s = v && *v ? v : NULL;
                break;
            case APIKEY_COL_NUM:
                *(long long *)((char *)rec + col->off) =
                    v && *v ? apr_atoi64(v) : 0;
                break;
            case APIKEY_COL_TIME:
                *(int *)((char *)rec + col->has_off) = v && *v;
                if (v && *v
                    && apikey_time_parse(
                        v, (long long *)((char *)rec + col->off))) {
                    l->why->column = col->name;
                    l->why->message = v;
                    l->why->id = rec->id;
                    return APIKEY_DB_BAD_TIME;
                }
                break;
            case APIKEY_COL_CLI:
                break;
        }
    }
    rec->nextra = m->nextra;
    for (i = 0; i < m->nextra; i++) {
        const char *v = entry(l->p, drv, row, m->extra[i]);

        rec->extra_env[i] = m->extra_env[i];
        rec->extra_value[i] = v ? v : "";
    }
    return APIKEY_DB_FOUND;
}

static int lookup_row(apr_dbd_row_t *row, void *ctx)
{
    lookup_t *l = ctx;

    if (l->rows++ == 0) {
        columns_t cols;

        l->answer = map_columns(l->p, l->db->driver, l->res, l->q, &cols)
                        ? APIKEY_DB_BAD_PACK
                        : read_row(l, row, &cols);
    }
    return 0; /* read every row: two with one digest are refused */
}

apikey_db_answer_t apikey_db_lookup(apikey_db_t *db, apr_pool_t *p,
                                    const apikey_query_t *q,
                                    const char *digest_hex,
                                    apikey_record_t *rec, apikey_db_why_t *why)
{
    lookup_t l;
    int rv, unprepared;

    memset(why, 0, sizeof(*why));
    memset(&l, 0, sizeof(l));
    rv = apikey_db_run(db, p, q, 1, &digest_hex, &l.res, NULL, 1, &unprepared);
    if (rv != 0) {
        why->message = apikey_db_error(db, p, rv);
        return unprepared ? APIKEY_DB_UNPREPARED : APIKEY_DB_FAILED;
    }
    l.db = db;
    l.q = q;
    l.p = p;
    l.digest_hex = digest_hex;
    l.rec = rec;
    l.why = why;
    l.answer = APIKEY_DB_NOTFOUND;
    if ((rv = apikey_db_rows(db, p, l.res, lookup_row, &l)) != 0) {
        why->message = apikey_db_error(db, p, rv);
        return APIKEY_DB_BAD_ROW;
    }
    if (l.rows > 1) {
        why->rows = l.rows;
        return APIKEY_DB_TWO_ROWS;
    }
    return l.answer;
}

/* The change marker htapikey bumps with every change (never cached: its
 * number only keeps it apart from the look-ups). */
static const apikey_query_t marker_query = {
    "SELECT value FROM apikey_meta WHERE name = 'version'",
    "authn_apikey_marker", 0xffffffffU, 0};

typedef struct {
    apikey_db_t *db;
    apr_int64_t *marker;
    int found;
} marker_t;

static int marker_row(apr_dbd_row_t *row, void *ctx)
{
    marker_t *m = ctx;
    const char *v = apr_dbd_get_entry(m->db->driver, row, 0);

    if (v) {
        *m->marker = apr_atoi64(v);
        m->found = 1;
    }
    return m->found;
}

int apikey_db_marker(apikey_db_t *db, apr_pool_t *p, apr_int64_t *marker,
                     const char **err)
{
    apr_dbd_results_t *res = NULL;
    marker_t m = {db, marker, 0};
    int rv;

    rv = apikey_db_run(db, p, &marker_query, 0, NULL, &res, NULL, 1, NULL);
    if (rv == 0) {
        rv = apikey_db_rows(db, p, res, marker_row, &m);
    }
    if (rv != 0) {
        *err = apikey_db_error(db, p, rv);
        return -1;
    }
    if (!m.found) {
        *err = "the change marker (apikey_meta row 'version') is missing";
        return -1;
    }
    return 0;
}
