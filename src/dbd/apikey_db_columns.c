/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The default look-up of a store that lacks columns of this version (see
 * apikey_db_columns.h). */

#include "apikey_db_columns.h"
#include "apikey_record.h"

#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

/* Whether the store answers a select of column (0), lacks it (1: the
 * driver's error names it, and the table answers for the id), or cannot
 * tell (-1: busy, down...). */
static int column_missing(apikey_db_t *db, apr_pool_t *p, const char *column)
{
    apr_dbd_results_t *res = NULL;
    const char *msg;
    int rv = apr_dbd_select(
        db->driver, p, db->handle, &res,
        apr_psprintf(p, "SELECT %s FROM apikey WHERE 1 = 0", column), 1);

    if (rv == 0) {
        return 0;
    }
    /* SQLite says "no such column: X", PostgreSQL 'column "X" does not
     * exist', MySQL "Unknown column 'X'".  An error of another kind is no
     * proof the column is missing: a lock, a lost connection, and above
     * all a column the server's user may not read (a MySQL column grant
     * made before the column was added says "command denied ... for
     * column 'X'"), whose restriction must not be left out. */
    msg = apr_dbd_error(db->driver, db->handle, rv);
    if (apikey_db_busy(db, rv) || !msg || !strstr(msg, column)
        || !(strstr(msg, "no such column") || strstr(msg, "does not exist")
             || strstr(msg, "Unknown column"))
        || strstr(msg, "denied")) {
        return -1;
    }
    res = NULL;
    return apr_dbd_select(db->driver, p, db->handle, &res,
                          "SELECT id FROM apikey WHERE 1 = 0", 1)
                   == 0
               ? 1
               : -1;
}

/* The default look-up of a store that lacks columns added since its
 * schema (the module was upgraded, "htapikey init" not run yet): the SQL
 * of the columns it has, with the missing ones in db->missing; NULL when
 * it lacks none or cannot tell (the failure was another).  Fails safe: a
 * column the store lacks holds no restriction or limit that could be left
 * out, and one it may have is never left out. */
const char *apikey_db_store_sql(apikey_db_t *db, int *whole)
{
    apr_pool_t *p;
    const char *sql = "SELECT ", *missing = NULL;
    int i, m = 0;

    *whole = 0;
    if (apr_pool_create(&p, db->pool) != APR_SUCCESS) {
        return NULL;
    }
    for (i = 0; i < apikey_ncolumns && m >= 0; i++) {
        const apikey_column_t *col = &apikey_columns[i];

        if (col->kind == APIKEY_COL_CLI) {
            continue;
        }
        if (col->added && (m = column_missing(db, p, col->name)) != 0) {
            if (m > 0) {
                missing = missing ? apr_pstrcat(db->pool, missing, ", ",
                                                col->name, NULL)
                                  : apr_pstrdup(db->pool, col->name);
            }
            continue;
        }
        sql = apr_pstrcat(db->pool, sql, sql[7] ? ", " : "", col->name, NULL);
    }
    apr_pool_destroy(p);
    /* Every column answered: the whole look-up is the store's. */
    *whole = m >= 0 && !missing;
    if (!missing || m < 0) {
        return NULL;
    }
    db->missing = missing;
    return apr_pstrcat(db->pool, sql, " FROM apikey WHERE digest = %s", NULL);
}

/* How often a connection whose store lacked columns tries the whole
 * default look-up again: soon after "htapikey init" its new columns (a
 * restriction among them) are read, on every driver (SQLite's statement
 * fails once the schema changes; PostgreSQL's goes on without them). */
#define RECHECK_MISSING apr_time_from_sec(5)
/* In the connection's statements, beside the look-up: since when it has
 * been the store's reduced one (an apr_time_t). */
#define REDUCED_SINCE "authn_apikey_lookup reduced since"

/* Records whether the connection's look-up is now the reduced one. */
static void mark_reduced(apikey_db_t *db, int reduced)
{
    apr_time_t *since = NULL;

    if (reduced) {
        since = apr_palloc(db->pool, sizeof(*since));
        *since = apr_time_now();
    }
    apr_hash_set(db->prepared, REDUCED_SINCE, APR_HASH_KEY_STRING, since);
}

/* A reduced default look-up that is due for another try of the whole. */
void apikey_db_recheck(apikey_db_t *db, const apikey_query_t *q,
                       apr_dbd_prepared_t **st)
{
    apr_time_t *since =
        apr_hash_get(db->prepared, REDUCED_SINCE, APR_HASH_KEY_STRING);
    /* NULL: APR's mysql driver fills a statement it is given, and makes
     * one only for NULL (an unset pointer here crashed every child). */
    apr_dbd_prepared_t *whole = NULL;
    int all = 0;

    if (!since || apr_time_now() - *since < RECHECK_MISSING) {
        return;
    }
    /* The columns asked for one by one: a prepare proves nothing (the
     * pgsql driver's without a label never reaches the server).  Without
     * a label: that driver PREPAREs a name only once. */
    (void)apikey_db_store_sql(db, &all);
    if (all
        && apr_dbd_prepare(db->driver, db->pool, db->handle,
                           apikey_db_sql(db, q), NULL, &whole)
               == 0) {
        apr_hash_set(db->prepared, q->label, APR_HASH_KEY_STRING, whole);
        mark_reduced(db, 0);
        *st = whole;
    }
    else {
        *since = apr_time_now();
    }
}

/* The SQL a failed statement of q is prepared again with: the default
 * look-up's as the store has it now (its columns asked for again: the
 * whole one fails for good on a store that lacks some), else q's own. */
const char *apikey_db_retry_sql(apikey_db_t *db, const apikey_query_t *q)
{
    const char *sql;
    int all;

    if (q != &apikey_db_default_query || !db->prepared) {
        return apikey_db_sql(db, q);
    }
    sql = apikey_db_store_sql(db, &all);
    mark_reduced(db, sql != NULL);
    return sql ? sql : apikey_db_sql(db, q);
}

int apikey_db_prepare_reduced(apikey_db_t *db, const apikey_query_t *q,
                              apr_dbd_prepared_t **st)
{
    int all;
    const char *sql = apikey_db_store_sql(db, &all);

    if (!sql
        || apr_dbd_prepare(db->driver, db->pool, db->handle, sql,
                           db->prepared ? q->label : NULL, st)
               != 0) {
        return -1;
    }
    if (db->prepared) {
        mark_reduced(db, 1);
    }
    return 0;
}
