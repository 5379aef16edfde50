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

/* htapikey's key store access (see htapikey_db.h).
 *
 * Placeholders follow APR's printf style: %s for text and %lld for BIGINT
 * columns, because the pgsql driver declares each parameter's SQL type from
 * its placeholder.  Values are passed as strings; NULL binds SQL NULL. */

#include "htapikey_db.h"

#include "apr_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_COLUMNS                                                            \
    "id, owner, name, scopes, status, created, updated, expires, "             \
    "not_before, allow_ip, allow_referer, allow_method, grace_until, "         \
    "replaced_by, rate, burst, quota"

const char htapikey_db_null[] = "(null)";

/* Columns added after the first schema, with their SQL type; init adds the
 * ones a store lacks.  New columns are always nullable. */
static const struct {
    const char *name, *type;
} added_columns[] = {
    {"allow_ip", "VARCHAR(1024)"},
    {"allow_referer", "VARCHAR(1024)"},
    {"allow_method", "VARCHAR(1024)"},
    {"grace_until", "BIGINT"},
    {"replaced_by", "VARCHAR(64)"},
    {"rate", "VARCHAR(32)"},
    {"burst", "BIGINT"},
    {"quota", "VARCHAR(32)"},
};

static const char *db_error(htapikey_db_t *db, int rv)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rv);

    return msg && *msg ? msg : "unknown database error";
}

/* APR DBD leaves closing to the caller (mod_dbd does it in a cleanup of
 * its own); without this, every run left the connection open at exit.
 * The cleanup holds a copy: callers keep htapikey_db_t on their stack. */
static apr_status_t close_store(void *data)
{
    const htapikey_db_t *db = data;

    apr_dbd_close(db->driver, db->handle);
    return APR_SUCCESS;
}

const char *htapikey_db_open(apr_pool_t *p, const char *driver,
                             const char *params, int must_exist,
                             htapikey_db_t *db)
{
    const char *err = NULL;
    apr_status_t rv;

    memset(db, 0, sizeof(*db));
    db->pool = p;
    db->driver_name = driver;
    rv = apr_dbd_get_driver(p, driver, &db->driver);
    if (rv == APR_ENOTIMPL || rv == APR_EDSOOPEN) {
        return apr_psprintf(p,
                            "no APR DBD driver '%s' (on Debian, install "
                            "libaprutil1-dbd-%s)",
                            driver, driver);
    }
    if (rv != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(p, "cannot load the APR DBD driver '%s': %s",
                            driver, apr_strerror(rv, buf, sizeof(buf)));
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
    /* MySQL counts the rows an UPDATE changed, not those it matched: a
     * change that leaves a row as it was (enabling an active key within the
     * second it was made) would read as "no such key".  CLIENT_FOUND_ROWS
     * counts matched rows, as the other drivers do; the last flags= wins. */
    if (!strcmp(driver, "mysql")) {
        params = apr_pstrcat(p, params, " flags=CLIENT_FOUND_ROWS", NULL);
    }
    rv = apr_dbd_open_ex(db->driver, p, params, &db->handle, &err);
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
    int nrows = 0, rv = apr_dbd_query(db->driver, db->handle, &nrows, sql);

    return rv ? apr_psprintf(db->pool, "%s: %s", db_error(db, rv), sql) : NULL;
}

const char *htapikey_db_init(htapikey_db_t *db)
{
    const char *const *stmt = htapikey_schema(db->driver_name);
    const char *err;
    size_t i;

    if (!stmt) {
        return apr_psprintf(db->pool,
                            "no schema ships for the '%s' driver; "
                            "create the tables from conf/schema/ by hand",
                            db->driver_name);
    }
    for (; *stmt; stmt++) {
        if ((err = exec(db, *stmt)) != NULL) {
            return err;
        }
    }
    for (i = 0; i < sizeof(added_columns) / sizeof(added_columns[0]); i++) {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;
        const char *probe =
            apr_psprintf(db->pool, "SELECT %s FROM apikey WHERE 1 = 0",
                         added_columns[i].name);

        if (apr_dbd_select(db->driver, db->pool, db->handle, &res, probe, 0)
            == 0) {
            while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
            }
            continue;
        }
        err = exec(db,
                   apr_psprintf(db->pool,
                                "ALTER TABLE apikey ADD COLUMN "
                                "%s %s",
                                added_columns[i].name, added_columns[i].type));
        if (err) {
            return err;
        }
    }
    return NULL;
}

/* Runs a prepared change with nargs string arguments; *nrows gets the
 * number of rows it touched. */
static const char *change(htapikey_db_t *db, const char *sql, int *nrows,
                          int nargs, const char **args)
{
    apr_dbd_prepared_t *st = NULL;
    int rv;

    rv = apr_dbd_prepare(db->driver, db->pool, db->handle, sql, NULL, &st);
    if (rv == 0) {
        rv = apr_dbd_pquery(db->driver, db->pool, db->handle, nrows, st, nargs,
                            args);
    }
    return rv ? apr_psprintf(db->pool, "%s", db_error(db, rv)) : NULL;
}

/* One statement of a transaction: its SQL and arguments, and whether it
 * must change exactly one row (else the whole transaction is undone). */
typedef struct {
    const char *sql;
    int nargs;
    const char **args;
    int must_change_one;
} change_t;

/* Runs the changes and the change-marker bump in one transaction, rolled
 * back if any fails.  *nrows gets the rows the first change touched; the
 * marker is bumped only when it touched any. */
static const char *changes_and_bump(htapikey_db_t *db, const change_t *c, int n,
                                    int *nrows)
{
    apr_dbd_transaction_t *txn = NULL;
    const char *err = NULL;
    int rv, i, bumped = 0;

    rv = apr_dbd_transaction_start(db->driver, db->pool, db->handle, &txn);
    if (rv) {
        return apr_psprintf(db->pool, "cannot start a transaction: %s",
                            db_error(db, rv));
    }
    for (i = 0; i < n && !err; i++) {
        int rows = 0;

        err = change(db, c[i].sql, &rows, c[i].nargs, c[i].args);
        if (i == 0) {
            *nrows = rows;
        }
        if (!err && c[i].must_change_one && rows != 1) {
            err = "the key changed meanwhile; nothing was done";
        }
    }
    if (!err && *nrows > 0) {
        err = change(db,
                     "UPDATE apikey_meta SET value = value + 1 "
                     "WHERE name = 'version'",
                     &bumped, 0, NULL);
        /* Servers poll the marker to see changes: a change they could
         * not see is refused rather than made silently. */
        if (!err && bumped != 1) {
            err = "the change marker (apikey_meta row 'version') is "
                  "missing; run 'htapikey init' to restore it";
        }
    }
    if (err) {
        apr_dbd_transaction_mode_set(db->driver, txn,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(db->driver, db->pool, txn);
    if (!err && rv) {
        err = apr_psprintf(db->pool, "cannot commit: %s", db_error(db, rv));
    }
    return err;
}

static const char *change_and_bump(htapikey_db_t *db, const char *sql,
                                   int *nrows, int nargs, const char **args)
{
    change_t c;

    c.sql = sql;
    c.nargs = nargs;
    c.args = args;
    c.must_change_one = 0;
    return changes_and_bump(db, &c, 1, nrows);
}

#define INSERT_KEY                                                             \
    "INSERT INTO apikey (id, digest, owner, name, scopes, status, created, "   \
    "updated, expires, not_before, allow_ip, allow_referer, allow_method, "    \
    "rate, burst, quota) VALUES (%s, %s, %s, %s, %s, 'active', %lld, %lld, "   \
    "%lld, %lld, %s, %s, %s, %s, %lld, %s)"
#define INSERT_ARGS 15

static void insert_args(const htapikey_row_t *row, const char *digest_hex,
                        const char *args[INSERT_ARGS])
{
    args[0] = row->id;
    args[1] = digest_hex;
    args[2] = row->owner;
    args[3] = row->name;
    args[4] = row->scopes;
    args[5] = row->created;
    args[6] = row->updated;
    args[7] = row->expires;
    args[8] = row->not_before;
    args[9] = row->allow_ip;
    args[10] = row->allow_referer;
    args[11] = row->allow_method;
    args[12] = row->rate;
    args[13] = row->burst;
    args[14] = row->quota;
}

const char *htapikey_db_insert(htapikey_db_t *db, const htapikey_row_t *row,
                               const char *digest_hex)
{
    const char *args[INSERT_ARGS];
    int nrows = 0;

    insert_args(row, digest_hex, args);
    return change_and_bump(db, INSERT_KEY, &nrows, INSERT_ARGS, args);
}

const char *htapikey_db_rotate(htapikey_db_t *db, const char *old_id,
                               const htapikey_row_t *row,
                               const char *digest_hex, const char *grace_until,
                               const char *now)
{
    const char *ins[INSERT_ARGS], *upd[4];
    change_t c[2];
    int nrows = 0;

    insert_args(row, digest_hex, ins);
    upd[0] = grace_until;
    upd[1] = row->id;
    upd[2] = now;
    upd[3] = old_id;
    c[0].sql = INSERT_KEY;
    c[0].nargs = INSERT_ARGS;
    c[0].args = ins;
    c[0].must_change_one = 1;
    /* Only an active key not already being replaced: checked in the
     * statement, so two rotations at once cannot both win. */
    c[1].sql = "UPDATE apikey SET grace_until = %lld, replaced_by = %s, "
               "updated = %lld WHERE id = %s AND status = 'active' AND "
               "replaced_by IS NULL";
    c[1].nargs = 4;
    c[1].args = upd;
    c[1].must_change_one = 1;
    return changes_and_bump(db, c, 2, &nrows);
}

const char *htapikey_db_update(htapikey_db_t *db, const char *id,
                               const htapikey_row_t *changes, const char *now,
                               int *found)
{
    const struct {
        const char *column, *value, *placeholder;
    } cols[] = {
        {"owner", changes->owner, "%s"},
        {"name", changes->name, "%s"},
        {"scopes", changes->scopes, "%s"},
        {"expires", changes->expires, "%lld"},
        {"not_before", changes->not_before, "%lld"},
        {"allow_ip", changes->allow_ip, "%s"},
        {"allow_referer", changes->allow_referer, "%s"},
        {"allow_method", changes->allow_method, "%s"},
        {"rate", changes->rate, "%s"},
        {"burst", changes->burst, "%lld"},
        {"quota", changes->quota, "%s"},
    };
    const char *args[sizeof(cols) / sizeof(cols[0]) + 2];
    const char *sql = "UPDATE apikey SET updated = %lld", *err;
    int nargs = 0, nrows = 0;
    size_t i;

    args[nargs++] = now;
    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        if (!cols[i].value) {
            continue;
        }
        sql = apr_pstrcat(db->pool, sql, ", ", cols[i].column, " = ",
                          cols[i].placeholder, NULL);
        args[nargs++] =
            cols[i].value == htapikey_db_null ? NULL : cols[i].value;
    }
    sql = apr_pstrcat(db->pool, sql, " WHERE id = %s", NULL);
    args[nargs++] = id;
    err = change_and_bump(db, sql, &nrows, nargs, args);
    *found = nrows > 0;
    return err;
}

const char *htapikey_db_set_status(htapikey_db_t *db, const char *id,
                                   const char *status, const char *now,
                                   int *found)
{
    const char *args[4];
    const char *err;
    int nrows = 0;

    args[0] = status;
    args[1] = now;
    args[2] = id;
    args[3] = status;
    /* Only "revoked" may overwrite "revoked": checked in the statement
     * itself, so a revoke racing an enable is never undone. */
    err = change_and_bump(db,
                          "UPDATE apikey SET status = %s, updated = %lld "
                          "WHERE id = %s AND (status <> 'revoked' OR "
                          "%s = 'revoked')",
                          &nrows, 4, args);
    *found = nrows > 0;
    return err;
}

const char *htapikey_db_delete(htapikey_db_t *db, const char *id, int *found)
{
    const char *args[1];
    const char *err;
    int nrows = 0;

    args[0] = id;
    err = change_and_bump(db, "DELETE FROM apikey WHERE id = %s", &nrows, 1,
                          args);
    *found = nrows > 0;
    return err;
}

/* A column's value, NULL for SQL NULL.  The pgsql driver's get_entry gives
 * "" for NULL (an unset expiry would read as "" and a key never rotated as
 * "rotated into ''"); datum_get tells NULL apart in every driver. */
static const char *entry(htapikey_db_t *db, apr_dbd_row_t *row, int col)
{
    void *unused;
    const char *v;

    if (apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_NULL, &unused)
        == APR_ENOENT) {
        return NULL;
    }
    v = apr_dbd_get_entry(db->driver, row, col);
    return v ? apr_pstrdup(db->pool, v) : NULL;
}

/* Runs a key query and collects every row (never breaking out of the
 * loop: some drivers need the cursor drained). */
static const char *select_keys(htapikey_db_t *db, const char *sql, int nargs,
                               const char **args, apr_array_header_t **rows)
{
    apr_dbd_prepared_t *st = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *r = NULL;
    const char *err = NULL;
    int rv;

    *rows = apr_array_make(db->pool, 16, sizeof(htapikey_row_t));
    rv = apr_dbd_prepare(db->driver, db->pool, db->handle, sql, NULL, &st);
    if (rv == 0) {
        rv = apr_dbd_pselect(db->driver, db->pool, db->handle, &res, st, 0,
                             nargs, args);
    }
    if (rv) {
        return apr_psprintf(db->pool,
                            "%s (is the store initialised? run "
                            "'htapikey init')",
                            db_error(db, rv));
    }
    for (rv = apr_dbd_get_row(db->driver, db->pool, res, &r, -1); rv != -1;
         rv = apr_dbd_get_row(db->driver, db->pool, res, &r, -1)) {
        htapikey_row_t *k;

        if (rv) {
            if (!err) {
                err = apr_psprintf(db->pool, "%s", db_error(db, rv));
            }
            continue;
        }
        k = apr_array_push(*rows);
        k->id = entry(db, r, 0);
        k->owner = entry(db, r, 1);
        k->name = entry(db, r, 2);
        k->scopes = entry(db, r, 3);
        k->status = entry(db, r, 4);
        k->created = entry(db, r, 5);
        k->updated = entry(db, r, 6);
        k->expires = entry(db, r, 7);
        k->not_before = entry(db, r, 8);
        k->allow_ip = entry(db, r, 9);
        k->allow_referer = entry(db, r, 10);
        k->allow_method = entry(db, r, 11);
        k->grace_until = entry(db, r, 12);
        k->replaced_by = entry(db, r, 13);
        k->rate = entry(db, r, 14);
        k->burst = entry(db, r, 15);
        k->quota = entry(db, r, 16);
    }
    return err;
}

const char *htapikey_db_list(htapikey_db_t *db, const char *owner,
                             apr_array_header_t **rows)
{
    const char *args[1];

    if (owner) {
        args[0] = owner;
        return select_keys(db,
                           "SELECT " KEY_COLUMNS " FROM apikey WHERE owner = "
                           "%s ORDER BY owner, created, id",
                           1, args, rows);
    }
    return select_keys(
        db, "SELECT " KEY_COLUMNS " FROM apikey ORDER BY owner, created, id", 0,
        NULL, rows);
}

const char *htapikey_db_get(htapikey_db_t *db, const char *id,
                            htapikey_row_t **row)
{
    apr_array_header_t *rows;
    const char *args[1];
    const char *err;

    args[0] = id;
    err = select_keys(db, "SELECT " KEY_COLUMNS " FROM apikey WHERE id = %s", 1,
                      args, &rows);
    *row = !err && rows->nelts > 0 ? (htapikey_row_t *)rows->elts : NULL;
    return err;
}
