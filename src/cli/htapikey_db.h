/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's key store access over APR DBD: any driver APR has (sqlite3,
 * pgsql, mysql, odbc...), every change in one transaction that also bumps
 * the change marker the module polls. */
#ifndef HTAPIKEY_DB_H
#define HTAPIKEY_DB_H

#include "apr_dbd.h"
#include "apr_pools.h"
#include "apr_tables.h"

#include "apikey_db.h"

typedef struct {
    apikey_db_t conn; /* nothing prepared is kept: one statement each */
    const char *driver_name;
    /* Who changes the store and where, for its audit rows. */
    const char *os_user, *host;
} htapikey_db_t;

/* A key as stored: every column of the key record's list (apikey_record.h)
 * but the digest, as text (NULL for SQL NULL). */
#define HTAPIKEY_ROW_ID(n)     const char *n;
#define HTAPIKEY_ROW_TEXT(n)   const char *n;
#define HTAPIKEY_ROW_STATUS(n) const char *n;
#define HTAPIKEY_ROW_OPT(n)    const char *n;
#define HTAPIKEY_ROW_TIME(n)   const char *n;
#define HTAPIKEY_ROW_NUM(n)    const char *n;
#define HTAPIKEY_ROW_DIGEST(n)
#define HTAPIKEY_ROW_CLI(n)              const char *n;
#define HTAPIKEY_ROW(n, kind, added, ph) HTAPIKEY_ROW_##kind(n)
typedef struct {
    APIKEY_COLUMNS(HTAPIKEY_ROW)
} htapikey_row_t;

/* In the changes given to htapikey_db_update: set this column to NULL. */
extern const char htapikey_db_null[];

/* The schema statements of a driver (conf/schema/<driver>.sql), or NULL
 * when none ships for it.  Generated at build time. */
const char *const *htapikey_schema(const char *driver);

/* htapikey_db_open's flags.  With sqlite3: MUST_EXIST makes a missing
 * database file an error instead of a new empty database; WRITES, a file
 * or directory this user may not write (SQLite's "unable to open database
 * file" at the first change otherwise). */
#define HTAPIKEY_DB_MUST_EXIST 1
#define HTAPIKEY_DB_WRITES     2

/* Opens the store; an unknown or missing driver is told apart from a
 * misspelt one, with its Debian package.  Returns NULL or an error
 * message. */
const char *htapikey_db_open(apr_pool_t *p, const char *driver,
                             const char *params, int flags, htapikey_db_t *db);

/* Creates the schema, and adds the columns that a store made by an older
 * htapikey lacks (idempotent).  Returns NULL or an error message. */
const char *htapikey_db_init(htapikey_db_t *db);

/* Inserts a key: the columns of row that are not NULL (times in decimal
 * Unix seconds), its status 'active' unless row has one, and an audit row
 * "create".  Returns NULL or an error message.  Every change below writes
 * its audit row (apikey_audit) in its own transaction: a change whose row
 * cannot be written is undone. */
const char *htapikey_db_insert(htapikey_db_t *db, const htapikey_row_t *row,
                               const char *digest_hex);

/* Inserts n keys (rows[i] with digests[i], as htapikey_db_insert does),
 * each with an audit row of action, in one transaction: all or none.
 * *failed (when given) gets the index of the key whose insert failed (a
 * duplicate id or digest, say), or -1. */
const char *htapikey_db_insert_keys(htapikey_db_t *db, const char *action,
                                    const htapikey_row_t *rows,
                                    const char *const *digests, int n,
                                    int *failed);

/* Rotates old_id: inserts row (a new active key, digest_hex) and marks the
 * old key as replaced by it, valid until grace_until, in one transaction.
 * Fails, changing nothing, unless the old key is active and not already
 * rotated. */
const char *htapikey_db_rotate(htapikey_db_t *db, const char *old_id,
                               const htapikey_row_t *row,
                               const char *digest_hex, const char *grace_until,
                               const char *now);

/* Updates the columns of changes that are not NULL (htapikey_db_null sets
 * a column to SQL NULL; id, status, created and updated are never taken
 * from it) and "updated" to now.  *found tells whether the id
 * exists. */
const char *htapikey_db_update(htapikey_db_t *db, const char *id,
                               const htapikey_row_t *changes, const char *now,
                               int *found);

/* Sets a key's status.  *found tells whether a row changed: 0 when the id
 * does not exist, or when the key is revoked (only "revoked" overwrites
 * "revoked"). */
const char *htapikey_db_set_status(htapikey_db_t *db, const char *id,
                                   const char *status, const char *now,
                                   int *found);

/* Deletes a key.  *found tells whether the id existed. */
const char *htapikey_db_delete(htapikey_db_t *db, const char *id, int *found);

/* Every key (of owner, when not NULL), ordered by owner and creation, as an
 * array of htapikey_row_t. */
const char *htapikey_db_list(htapikey_db_t *db, const char *owner,
                             apr_array_header_t **rows);

/* One key by id; *row is NULL when there is none. */
const char *htapikey_db_get(htapikey_db_t *db, const char *id,
                            htapikey_row_t **row);

/* Runs a SELECT of ncols columns and collects every row, as an array of
 * const char *[ncols] (NULL for SQL NULL). */
const char *htapikey_db_select(htapikey_db_t *db, const char *sql, int nargs,
                               const char **args, int ncols,
                               apr_array_header_t **rows);

/* The field of row for column name, or NULL when the row has none (the
 * digest, or a column the list does not know). */
const char **htapikey_row_field(htapikey_row_t *row, const char *name);

/* The OS user running htapikey ("root (sudo: alice)" under sudo) and the
 * host, for the audit rows (htapikey_audit.c). */
void htapikey_audit_whoami(apr_pool_t *p, const char **user, const char **host);

#endif /* HTAPIKEY_DB_H */
