/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's changes to the key store (see htapikey_db.h): each in one
 * transaction with its audit rows (apikey_audit) and the change-marker
 * bump, all undone when any fails. */

#include "htapikey_db.h"
#include "htapikey_db_private.h"

#include "apr_strings.h"
#include "apr_time.h"

#include <string.h>

/* Runs a change with nargs string arguments; *nrows gets the number of
 * rows it touched. */
static const char *change(htapikey_db_t *db, const char *sql, int *nrows,
                          int nargs, const char **args)
{
    int rv = htapikey_db_run(db, sql, nargs, args, NULL, nrows);

    return rv ? apr_psprintf(db->conn.pool, "%s", htapikey_db_errmsg(db, rv))
              : NULL;
}

/* One statement of a transaction: its SQL and arguments, whether it must
 * change exactly one row (else the whole transaction is undone), and
 * whether it is an audit row. */
typedef struct {
    const char *sql;
    int nargs;
    const char **args;
    int must_change_one;
    int audit;
} change_t;

/* The audit row of a change to key_id (apikey_audit): who, where, when,
 * what, and the names of the fields set; never a value. */
static void audit_row(htapikey_db_t *db, change_t *c, const char *action,
                      const char *key_id, const char *fields)
{
    const char **args = apr_palloc(db->conn.pool, 6 * sizeof(*args));

    args[0] = apr_psprintf(db->conn.pool, "%" APR_INT64_T_FMT,
                           (apr_int64_t)apr_time_sec(apr_time_now()));
    args[1] = db->os_user;
    args[2] = db->host;
    args[3] = key_id;
    args[4] = action;
    args[5] = fields ? fields : "";
    c->sql = "INSERT INTO apikey_audit (time, os_user, host, key_id, action, "
             "fields) VALUES (%lld, %s, %s, %s, %s, %s)";
    c->nargs = 6;
    c->args = args;
    c->must_change_one = 1;
    c->audit = 1;
}

/* The names of the columns of row that are set, comma-separated: what an
 * audit row says a create or an update changed. */
static const char *set_fields(apr_pool_t *p, const htapikey_row_t *row)
{
    const char *fields = "";
    int i;

    for (i = 0; i < NROW_COLUMNS; i++) {
        const char *name = htapikey_row_columns[i].name;

        if (row_value(row, i) && strcmp(name, "id") && strcmp(name, "created")
            && strcmp(name, "updated")) {
            fields = apr_pstrcat(p, fields, *fields ? "," : "", name, NULL);
        }
    }
    return fields;
}

/* Runs the changes, their audit rows and the change-marker bump in one
 * transaction, rolled back if any fails.  *nrows gets the rows the first
 * change touched; when it touched none, nothing is kept (nor its audit
 * row), else the marker is bumped.  A change list without an audit row is
 * refused: no change goes unrecorded.  *failed (when given) gets the index
 * of the change that failed, or -1. */
static const char *changes_and_bump(htapikey_db_t *db, const change_t *c, int n,
                                    int *nrows, int *failed)
{
    apr_dbd_transaction_t *txn = NULL;
    const char *err = NULL;
    int rv, i, bumped = 0, audited = 0;

    if (failed) {
        *failed = -1;
    }
    for (i = 0; i < n; i++) {
        audited |= c[i].audit;
    }
    if (!audited) {
        return "internal error: a change without its audit row; nothing "
               "was done";
    }
    rv = apr_dbd_transaction_start(db->conn.driver, db->conn.pool,
                                   db->conn.handle, &txn);
    if (rv) {
        return apr_psprintf(db->conn.pool, "cannot start a transaction: %s",
                            htapikey_db_errmsg(db, rv));
    }
    for (i = 0; i < n && !err; i++) {
        int rows = 0;

        err = change(db, c[i].sql, &rows, c[i].nargs, c[i].args);
        if (i == 0) {
            *nrows = rows;
        }
        if (err && c[i].audit) {
            err = apr_psprintf(db->conn.pool,
                               "cannot write the audit row (%s); a store "
                               "made by an older htapikey gets its "
                               "apikey_audit table from 'htapikey init'",
                               err);
        }
        else if (!err && c[i].must_change_one && rows != 1) {
            err = "the key changed meanwhile; nothing was done";
        }
        if (err && failed) {
            *failed = i;
        }
        /* Not found (or not changed): nothing to record either. */
        if (!err && i == 0 && rows == 0) {
            break;
        }
    }
    if (!err && *nrows == 0) {
        apr_dbd_transaction_mode_set(db->conn.driver, txn,
                                     APR_DBD_TRANSACTION_ROLLBACK);
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
        apr_dbd_transaction_mode_set(db->conn.driver, txn,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(db->conn.driver, db->conn.pool, txn);
    if (!err && rv) {
        err = apr_psprintf(db->conn.pool, "cannot commit: %s",
                           htapikey_db_errmsg(db, rv));
    }
    return err;
}

/* One change to key_id and its audit row. */
static const char *change_and_bump(htapikey_db_t *db, const char *sql,
                                   int *nrows, int nargs, const char **args,
                                   const char *action, const char *key_id,
                                   const char *fields)
{
    change_t c[2];

    c[0].sql = sql;
    c[0].nargs = nargs;
    c[0].args = args;
    c[0].must_change_one = c[0].audit = 0;
    audit_row(db, &c[1], action, key_id, fields);
    return changes_and_bump(db, c, 2, nrows, NULL);
}

/* The INSERT of a key: the digest, its status ('active' when row has
 * none) and every other column of row that is not NULL, with its arguments
 * in args (room for every column and the digest). */
static const char *insert_sql(apr_pool_t *p, const htapikey_row_t *row,
                              const char *digest_hex, const char **args,
                              int *nargs)
{
    const char *names = "digest, status", *values = "%s, %s";
    int i;

    *nargs = 0;
    args[(*nargs)++] = digest_hex;
    args[(*nargs)++] = row->status ? row->status : "active";
    for (i = 0; i < NROW_COLUMNS; i++) {
        const char *v = row_value(row, i);

        if (v && strcmp(htapikey_row_columns[i].name, "status")) {
            names =
                apr_pstrcat(p, names, ", ", htapikey_row_columns[i].name, NULL);
            values = apr_pstrcat(p, values, ", ",
                                 htapikey_row_columns[i].placeholder, NULL);
            args[(*nargs)++] = v;
        }
    }
    return apr_pstrcat(p, "INSERT INTO apikey (", names, ") VALUES (", values,
                       ")", NULL);
}

const char *htapikey_db_insert_keys(htapikey_db_t *db, const char *action,
                                    const htapikey_row_t *rows,
                                    const char *const *digests, int n,
                                    int *failed)
{
    change_t *c;
    int i, nrows = 0, at = -1;
    const char *err;

    if (n < 1) {
        return "internal error: no key to insert";
    }
    c = apr_palloc(db->conn.pool, 2 * (size_t)n * sizeof(*c));
    for (i = 0; i < n; i++) {
        const char **args =
            apr_palloc(db->conn.pool, (NROW_COLUMNS + 1) * sizeof(*args));

        c[2 * i].sql = insert_sql(db->conn.pool, &rows[i], digests[i], args,
                                  &c[2 * i].nargs);
        c[2 * i].args = args;
        c[2 * i].must_change_one = 1;
        c[2 * i].audit = 0;
        audit_row(db, &c[2 * i + 1], action, rows[i].id,
                  set_fields(db->conn.pool, &rows[i]));
    }
    err = changes_and_bump(db, c, 2 * n, &nrows, &at);
    if (failed) {
        *failed = at < 0 ? -1 : at / 2;
    }
    return err;
}

const char *htapikey_db_insert(htapikey_db_t *db, const htapikey_row_t *row,
                               const char *digest_hex)
{
    return htapikey_db_insert_keys(db, "create", row, &digest_hex, 1, NULL);
}

const char *htapikey_db_rotate(htapikey_db_t *db, const char *old_id,
                               const htapikey_row_t *row,
                               const char *digest_hex, const char *grace_until,
                               const char *now)
{
    const char *ins[NROW_COLUMNS + 1], *upd[4];
    change_t c[4];
    int nrows = 0;

    c[0].sql = insert_sql(db->conn.pool, row, digest_hex, ins, &c[0].nargs);
    c[0].audit = c[1].audit = 0;
    upd[0] = grace_until;
    upd[1] = row->id;
    upd[2] = now;
    upd[3] = old_id;
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
    /* The new key's row says create, the old one's rotate: replaced_by
     * links them. */
    audit_row(db, &c[2], "create", row->id, set_fields(db->conn.pool, row));
    audit_row(db, &c[3], "rotate", old_id, "grace_until,replaced_by");
    return changes_and_bump(db, c, 4, &nrows, NULL);
}

const char *htapikey_db_update(htapikey_db_t *db, const char *id,
                               const htapikey_row_t *changes, const char *now,
                               int *found)
{
    const char *args[NROW_COLUMNS + 2];
    const char *sql = "UPDATE apikey SET updated = %lld", *err, *fields = "";
    int nargs = 0, nrows = 0, i;

    args[nargs++] = now;
    for (i = 0; i < NROW_COLUMNS; i++) {
        const char *v = row_value(changes, i),
                   *name = htapikey_row_columns[i].name;

        if (!v || !strcmp(name, "id") || !strcmp(name, "status")
            || !strcmp(name, "created") || !strcmp(name, "updated")) {
            continue;
        }
        sql = apr_pstrcat(db->conn.pool, sql, ", ", name, " = ",
                          htapikey_row_columns[i].placeholder, NULL);
        args[nargs++] = v == htapikey_db_null ? NULL : v;
        fields =
            apr_pstrcat(db->conn.pool, fields, *fields ? "," : "", name, NULL);
    }
    sql = apr_pstrcat(db->conn.pool, sql, " WHERE id = %s", NULL);
    args[nargs++] = id;
    err = change_and_bump(db, sql, &nrows, nargs, args, "update", id, fields);
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
                          &nrows, 4, args,
                          !strcmp(status, "revoked")    ? "revoke"
                          : !strcmp(status, "disabled") ? "disable"
                                                        : "enable",
                          id, "status");
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
                          args, "delete", id, "");
    *found = nrows > 0;
    return err;
}
