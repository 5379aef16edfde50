/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key store through APR DBD: statements prepared once a connection and
 * run, rows read into the key record, SQLite's busy answers told from
 * failures.  The module hands down mod_dbd's connections as apikey_db_t;
 * htapikey opens its own. */
#ifndef APIKEY_DB_H
#define APIKEY_DB_H

#include "apr_dbd.h"
#include "apr_hash.h"

#include "apikey_record.h"

/* A connection: what mod_dbd's ap_dbd_t holds. */
typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    /* Statements prepared on this connection, by label (may be NULL: then
     * every statement is prepared afresh). */
    apr_hash_t *prepared;
    apr_pool_t *pool; /* lives as long as the connection */
    /* The columns of the default look-up this connection's store lacks,
     * comma-separated (a store not upgraded by "htapikey init" since the
     * module was): its look-up selects the others.  NULL: none. */
    const char *missing;
} apikey_db_t;

/* A statement: its SQL and the label it is prepared under on each
 * connection. */
typedef struct apikey_query_t {
    const char *sql;
    const char *label;
    /* 0 for the default look-up, n for the nth distinct AuthAPIKeyQuery of
     * this configuration: what tells their cache entries apart. */
    apr_uint32_t number;
    /* 0 for the default look-up, else a hash of the SQL, never 0: the same
     * across restarts and on every node of one configuration, for the
     * limit table's slots and the quota store's rows, which outlive a
     * configuration. */
    apr_uint32_t id;
} apikey_query_t;

/* The id no AuthAPIKeyQuery gets: the limit table's slots of anonymous
 * clients (AuthAPIKeyAnonymous) are told apart by it. */
#define APIKEY_QUERY_ANONYMOUS 0xffffffffU

/* The default look-up, against the schemas in conf/schema/: the columns of
 * the key record's list (apikey_record.h). */
extern const apikey_query_t apikey_db_default_query;

/* The SQL q is prepared with on db's connection: q's own, or for the
 * default look-up the packed one where the driver's SQL is known
 * (sqlite3, pgsql, mysql), else the wide one. */
const char *apikey_db_sql(const apikey_db_t *db, const apikey_query_t *q);

/* Checks a look-up SQL (AuthAPIKeyQuery) and gives it a label, the same
 * for the same SQL within one configuration: NULL and *out, or an English
 * message.  Allocates from p, which lives until the next restart. */
const char *apikey_db_query(apr_pool_t *p, const char *sql,
                            const apikey_query_t **out);

/* Forgets the labels of the previous configuration. */
void apikey_db_reset(apr_pool_t *p);

/* A hash of len bytes of s, continuing h (0 to start): FNV-1a, the same on
 * every build and node, never 0. */
apr_uint32_t apikey_db_hash(const char *s, size_t len, apr_uint32_t h);

/* Runs q (prepared once per connection under its label) with nargs text
 * arguments: a SELECT read whole into *res when res is given, else a
 * statement whose changed rows go to *nrows.  With retry, a statement that
 * fails is prepared afresh and run once more (as after a database restart
 * took the prepared statement): only for statements that may run twice.
 * Returns 0, or the driver's error, with *unprepared (when given) saying
 * whether the statement could not even be prepared. */
int apikey_db_run(apikey_db_t *db, apr_pool_t *p, const apikey_query_t *q,
                  int nargs, const char **args, apr_dbd_results_t **res,
                  int *nrows, int retry, int *unprepared);

/* The driver's message for rv, in p, on one line: PostgreSQL's end with a
 * line break and may hold several ("LINE 1: ..."), which httpd's log would
 * show as a literal \n. */
const char *apikey_db_error(const apikey_db_t *db, apr_pool_t *p, int rv);

/* msg on one line, in p (apikey_db_error's folding). */
const char *apikey_db_one_line(apr_pool_t *p, const char *msg);

/* 1 when the driver's error rv says the database is busy (SQLite's lock),
 * not failing. */
int apikey_db_busy(const apikey_db_t *db, int rv);

/* Calls each for every row of res, in order (by number: every driver reads
 * a result fetched whole so), until it returns non-zero; every row is read,
 * as some drivers keep the connection busy otherwise.  Returns 0 or the
 * driver's error. */
int apikey_db_rows(apikey_db_t *db, apr_pool_t *p, apr_dbd_results_t *res,
                   int (*each)(apr_dbd_row_t *row, void *ctx), void *ctx);

/* What a key look-up can end in, beside APIKEY_DB_FOUND and NOTFOUND:
 * each its own message in the module's log. */
typedef enum {
    APIKEY_DB_FOUND = 0,
    APIKEY_DB_NOTFOUND,
    APIKEY_DB_UNPREPARED, /* the statement cannot be prepared */
    APIKEY_DB_FAILED,     /* it was, and failed */
    APIKEY_DB_BAD_ROW,    /* a row could not be read */
    APIKEY_DB_TWO_ROWS,   /* two keys share one digest */
    APIKEY_DB_NO_ID,      /* the row has no id */
    APIKEY_DB_BAD_TIME,   /* a time column holds no time */
    APIKEY_DB_BAD_PACK    /* a packed column holds its separator */
} apikey_db_answer_t;

/* Details of an answer other than FOUND and NOTFOUND, for the log. */
typedef struct {
    const char *message; /* the driver's, or the unreadable value */
    const char *id;      /* the key's, when known */
    const char *column;  /* BAD_TIME: which */
    int rows;            /* TWO_ROWS: how many */
} apikey_db_why_t;

/* Looks up the key whose digest (lower-case hex) is digest_hex with q into
 * *rec (strings from p): the columns of the record's list by name, in any
 * order and some left out (a legacy schema), the others exported as
 * APIKEY_<COLUMN> (rec->extra).  The digest is compared again, in constant
 * time. */
apikey_db_answer_t apikey_db_lookup(apikey_db_t *db, apr_pool_t *p,
                                    const apikey_query_t *q,
                                    const char *digest_hex,
                                    apikey_record_t *rec, apikey_db_why_t *why);

/* Reads the store's change marker (apikey_meta 'version'): 0 with *marker,
 * or -1 with a message in *err. */
int apikey_db_marker(apikey_db_t *db, apr_pool_t *p, apr_int64_t *marker,
                     const char **err);

#endif /* APIKEY_DB_H */
