/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's key store access (see htapikey_db.h).
 *
 * Placeholders follow APR's printf style: %s for text and %lld for BIGINT
 * columns, because the pgsql driver declares each parameter's SQL type from
 * its placeholder.  Values are passed as strings; NULL binds SQL NULL. */

#include "htapikey_db.h"
#include "htapikey_db_hint.h"
#include "htapikey_db_private.h"

#include "apr_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char htapikey_db_null[] = "(null)";

/* The row's columns: name, field and placeholder, in the list's order. */
#define ROW_COL_ID(n, ph)     {#n, offsetof(htapikey_row_t, n), ph},
#define ROW_COL_TEXT(n, ph)   ROW_COL_ID(n, ph)
#define ROW_COL_STATUS(n, ph) ROW_COL_ID(n, ph)
#define ROW_COL_OPT(n, ph)    ROW_COL_ID(n, ph)
#define ROW_COL_TIME(n, ph)   ROW_COL_ID(n, ph)
#define ROW_COL_NUM(n, ph)    ROW_COL_ID(n, ph)
#define ROW_COL_DIGEST(n, ph)
#define ROW_COL_CLI(n, ph)          ROW_COL_ID(n, ph)
#define ROW_COL(n, kind, added, ph) ROW_COL_##kind(n, ph)
const htapikey_row_column_t htapikey_row_columns[] = {APIKEY_COLUMNS(ROW_COL)};
const int htapikey_nrow_columns =
    (int)(sizeof(htapikey_row_columns) / sizeof(htapikey_row_columns[0]));

static const char **row_field(htapikey_row_t *row, int i)
{
    return (const char **)((char *)row + htapikey_row_columns[i].off);
}

/* SELECT of every row column, then what follows (WHERE, ORDER BY). */
static const char *select_sql(apr_pool_t *p, const char *rest)
{
    const char *sql = "SELECT ";
    int i;

    for (i = 0; i < NROW_COLUMNS; i++) {
        sql = apr_pstrcat(p, sql, i ? ", " : "", htapikey_row_columns[i].name,
                          NULL);
    }
    return apr_pstrcat(p, sql, " FROM apikey ", rest, NULL);
}

const char *htapikey_db_errmsg(htapikey_db_t *db, int rv)
{
    return apikey_db_error(&db->conn, db->conn.pool, rv);
}

int htapikey_db_run(htapikey_db_t *db, const char *sql, int nargs,
                    const char **args, apr_dbd_results_t **res, int *nrows)
{
    apikey_query_t q;

    q.sql = sql;
    q.label = "htapikey";
    q.number = q.id = 0;
    return apikey_db_run(&db->conn, db->conn.pool, &q, nargs, args, res, nrows,
                         0, NULL);
}

/* APR DBD leaves closing to the caller (mod_dbd does it in a cleanup of
 * its own); without this, every run left the connection open at exit.
 * The cleanup holds a copy: callers keep htapikey_db_t on their stack. */
static apr_status_t close_store(void *data)
{
    const htapikey_db_t *db = data;

    apr_dbd_close(db->conn.driver, db->conn.handle);
    return APR_SUCCESS;
}

const char *htapikey_db_open(apr_pool_t *p, const char *driver,
                             const char *params, int flags, htapikey_db_t *db)
{
    int must_exist = flags & HTAPIKEY_DB_MUST_EXIST;
    int writes = flags & HTAPIKEY_DB_WRITES;
    const char *err = NULL;
    apr_status_t rv;

    memset(db, 0, sizeof(*db));
    db->conn.pool = p;
    db->driver_name = driver;
    htapikey_audit_whoami(p, &db->os_user, &db->host);
    rv = apr_dbd_get_driver(p, driver, &db->conn.driver);
    if (rv == APR_ENOTIMPL || rv == APR_EDSOOPEN) {
        return htapikey_db_no_driver(p, driver);
    }
    if (rv != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(p, "cannot load the APR DBD driver '%s': %s",
                            driver, apr_strerror(rv, buf, sizeof(buf)));
    }
    if (!strcmp(driver, "sqlite3")) {
        if ((err = htapikey_db_sqlite_dir(p, params, writes)) != NULL) {
            return err;
        }
    }
    /* sqlite creates a missing file on open; a typo in the path must not
     * silently give an empty store. */
    if (must_exist && !strcmp(driver, "sqlite3")) {
        struct stat st;

        if (stat(params, &st) != 0) {
            return apr_psprintf(p,
                                "cannot open %s: %s (create the store "
                                "with 'htapikey init')",
                                params, strerror(errno));
        }
    }
    /* A new SQLite store: owners, scopes and digests are nobody else's
     * business.  0640: the group is for the httpd user (chgrp www-data),
     * whatever the umask; SQLite gives its journals the file's mode. */
    if (!must_exist && !strcmp(driver, "sqlite3")) {
        int fd = open(
            params, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);

        if (fd >= 0) {
            if (fchmod(fd, 0640) != 0) {
                close(fd);
                return apr_psprintf(p, "cannot make %s mode 0640: %s", params,
                                    strerror(errno));
            }
            close(fd);
        }
        else if (errno != EEXIST) {
            return apr_psprintf(p, "cannot create %s: %s", params,
                                strerror(errno));
        }
    }
    if (writes && !strcmp(driver, "sqlite3") && access(params, W_OK) != 0) {
        return apr_psprintf(p,
                            "%s is not writable by this user (uid %ld): run "
                            "htapikey as a user who may change the store",
                            params, (long)getuid());
    }
    /* MySQL counts the rows an UPDATE changed, not those it matched: a
     * change that leaves a row as it was (enabling an active key within the
     * second it was made) would read as "no such key".  CLIENT_FOUND_ROWS
     * counts matched rows, as the other drivers do; the last flags= wins. */
    if (!strcmp(driver, "mysql")) {
        params = apr_pstrcat(p, params, " flags=CLIENT_FOUND_ROWS", NULL);
    }
    rv = apr_dbd_open_ex(db->conn.driver, p, params, &db->conn.handle, &err);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot connect to the %s database: %s", driver,
                            err && *err ? err : "(no detail)");
    }
    apr_pool_cleanup_register(p, apr_pmemdup(p, db, sizeof(*db)), close_store,
                              apr_pool_cleanup_null);
    return NULL;
}

static const char *exec(htapikey_db_t *db, const char *sql)
{
    int nrows = 0,
        rv = apr_dbd_query(db->conn.driver, db->conn.handle, &nrows, sql);

    return rv ? apr_psprintf(db->conn.pool, "%s: %s",
                             htapikey_db_errmsg(db, rv), sql)
              : NULL;
}

const char *htapikey_db_init(htapikey_db_t *db)
{
    const char *const *stmt = htapikey_schema(db->driver_name);
    const char *err;
    int i;

    if (!stmt) {
        return apr_psprintf(db->conn.pool,
                            "no schema ships for the '%s' driver; "
                            "create the tables from conf/schema/ by hand",
                            db->driver_name);
    }
    for (; *stmt; stmt++) {
        if ((err = exec(db, *stmt)) != NULL) {
            return err;
        }
    }
    /* Columns added after the first schema: each one a store lacks. */
    for (i = 0; i < apikey_ncolumns; i++) {
        const apikey_column_t *col = &apikey_columns[i];
        apr_dbd_results_t *res = NULL;

        if (!col->added) {
            continue;
        }
        if (htapikey_db_run(db,
                            apr_psprintf(db->conn.pool,
                                         "SELECT %s FROM apikey WHERE 1 = 0",
                                         col->name),
                            0, NULL, &res, NULL)
            == 0) {
            continue;
        }
        err = exec(db, apr_psprintf(db->conn.pool,
                                    "ALTER TABLE apikey ADD COLUMN %s %s",
                                    col->name, col->added));
        if (err) {
            return err;
        }
    }
    return NULL;
}

/* A column's value, NULL for SQL NULL.  The pgsql driver's get_entry gives
 * "" for NULL (an unset expiry would read as "" and a key never rotated as
 * "rotated into ''"); datum_get tells NULL apart in every driver. */
static const char *entry(htapikey_db_t *db, apr_dbd_row_t *row, int col)
{
    void *unused;
    const char *v;

    if (apr_dbd_datum_get(db->conn.driver, row, col, APR_DBD_TYPE_NULL, &unused)
        == APR_ENOENT) {
        return NULL;
    }
    v = apr_dbd_get_entry(db->conn.driver, row, col);
    return v ? apr_pstrdup(db->conn.pool, v) : NULL;
}

typedef struct {
    htapikey_db_t *db;
    apr_array_header_t *rows;
} collect_t;

static int collect_row(apr_dbd_row_t *r, void *ctx)
{
    collect_t *c = ctx;
    htapikey_row_t *k = apr_array_push(c->rows);
    int i;

    for (i = 0; i < NROW_COLUMNS; i++) {
        *row_field(k, i) = entry(c->db, r, i);
    }
    return 0;
}

/* Runs a key query (rest: what follows FROM apikey) and collects every
 * row. */
static const char *select_keys(htapikey_db_t *db, const char *rest, int nargs,
                               const char **args, apr_array_header_t **rows)
{
    apr_dbd_results_t *res = NULL;
    collect_t c;
    int rv;

    *rows = apr_array_make(db->conn.pool, 16, sizeof(htapikey_row_t));
    rv = htapikey_db_run(db, select_sql(db->conn.pool, rest), nargs, args, &res,
                         NULL);
    if (rv) {
        return apr_psprintf(db->conn.pool,
                            "%s (is the store initialised? run "
                            "'htapikey init')",
                            htapikey_db_errmsg(db, rv));
    }
    c.db = db;
    c.rows = *rows;
    rv = apikey_db_rows(&db->conn, db->conn.pool, res, collect_row, &c);
    return rv ? apr_psprintf(db->conn.pool, "%s", htapikey_db_errmsg(db, rv))
              : NULL;
}

typedef struct {
    htapikey_db_t *db;
    apr_array_header_t *rows;
    int ncols;
} collect_any_t;

static int collect_any(apr_dbd_row_t *r, void *ctx)
{
    collect_any_t *c = ctx;
    const char **v = apr_palloc(c->db->conn.pool, c->ncols * sizeof(*v));
    int i;

    for (i = 0; i < c->ncols; i++) {
        v[i] = entry(c->db, r, i);
    }
    APR_ARRAY_PUSH(c->rows, const char **) = v;
    return 0;
}

const char *htapikey_db_select(htapikey_db_t *db, const char *sql, int nargs,
                               const char **args, int ncols,
                               apr_array_header_t **rows)
{
    apr_dbd_results_t *res = NULL;
    collect_any_t c;
    int rv;

    *rows = apr_array_make(db->conn.pool, 16, sizeof(const char **));
    if ((rv = htapikey_db_run(db, sql, nargs, args, &res, NULL)) != 0) {
        return apr_psprintf(db->conn.pool, "%s", htapikey_db_errmsg(db, rv));
    }
    c.db = db;
    c.rows = *rows;
    c.ncols = ncols;
    rv = apikey_db_rows(&db->conn, db->conn.pool, res, collect_any, &c);
    return rv ? apr_psprintf(db->conn.pool, "%s", htapikey_db_errmsg(db, rv))
              : NULL;
}

const char **htapikey_row_field(htapikey_row_t *row, const char *name)
{
    int i;

    for (i = 0; i < NROW_COLUMNS; i++) {
        if (!strcmp(htapikey_row_columns[i].name, name)) {
            return row_field(row, i);
        }
    }
    return NULL;
}

const char *htapikey_db_list(htapikey_db_t *db, const char *owner,
                             apr_array_header_t **rows)
{
    const char *args[1];

    if (owner) {
        args[0] = owner;
        return select_keys(db, "WHERE owner = %s ORDER BY owner, created, id",
                           1, args, rows);
    }
    return select_keys(db, "ORDER BY owner, created, id", 0, NULL, rows);
}

const char *htapikey_db_get(htapikey_db_t *db, const char *id,
                            htapikey_row_t **row)
{
    apr_array_header_t *rows;
    const char *args[1];
    const char *err;

    args[0] = id;
    err = select_keys(db, "WHERE id = %s", 1, args, &rows);
    *row = !err && rows->nelts > 0 ? (htapikey_row_t *)rows->elts : NULL;
    return err;
}
