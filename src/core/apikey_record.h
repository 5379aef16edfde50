/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key record: a key as the store holds it, and the verdicts on a
 * request's key.  No httpd here: the module, htapikey and the tests share
 * it. */
#ifndef APIKEY_RECORD_H
#define APIKEY_RECORD_H

#include <stddef.h>

#include "apr_pools.h"

/* Outcome of a request as far as its key is concerned; the strings are
 * those of %{result}K. */
typedef enum {
    APIKEY_RESULT_NONE = 0, /* not authenticated by us (yet) */
    APIKEY_RESULT_OK,
    APIKEY_RESULT_MISSING,
    APIKEY_RESULT_MALFORMED,
    APIKEY_RESULT_UNKNOWN,
    APIKEY_RESULT_EXPIRED,
    APIKEY_RESULT_NOT_YET_VALID,
    APIKEY_RESULT_REVOKED,
    APIKEY_RESULT_DISABLED,
    APIKEY_RESULT_CONFLICT,
    APIKEY_RESULT_IP_DENIED,
    APIKEY_RESULT_REFERER_DENIED,
    APIKEY_RESULT_METHOD_DENIED,
    APIKEY_RESULT_TLS_REQUIRED,
    APIKEY_RESULT_INSUFFICIENT_SCOPE,
    APIKEY_RESULT_RATE_LIMITED,
    APIKEY_RESULT_QUOTA_EXCEEDED,
    APIKEY_RESULT_THROTTLED, /* too many failures from the client */
    APIKEY_RESULT_ERROR,
    APIKEY_RESULT_ANONYMOUS,  /* no key, let in by AuthAPIKeyAnonymous */
    APIKEY_RESULT_APP_DENIED, /* allow_android / allow_ios */
    APIKEY_RESULT_CERT_DENIED /* allow_cert: no such client certificate */
} apikey_result_t;

/* Most extra columns of a look-up exported to the environment. */
#define APIKEY_EXTRA_MAX 16

struct apikey_query_t;

/* The key's columns, the one list that the default look-up's SQL, the
 * reading of its rows, the look-up cache's layout, the record below and
 * htapikey's columns all follow: adding a column is one line here (and
 * the schemas in conf/schema/, which scripts/check-columns.sh holds to
 * this list).  X(name, kind, added, placeholder):
 *
 *   kind        what the record makes of it (APIKEY_COL_*):
 *     ID        the key id, a string; a row without one is refused
 *     TEXT      a string, "" for NULL (owner, scopes)
 *     STATUS    a string, "active" for NULL
 *     OPT       a string, NULL for NULL or ""
 *     TIME      Unix seconds or ISO-8601: has_NAME and NAME
 *     NUM       a number, 0 for NULL
 *     DIGEST    compared with the digest looked up, not kept
 *     CLI       htapikey's only: the module neither reads nor keeps it
 *   added       for a column added after the first schema, its SQL type
 *               ("htapikey init" adds it to an older store), else NULL
 *   placeholder APR DBD's placeholder for a value of it: %lld for BIGINT
 *               (the pgsql driver declares parameter types from them)
 *
 * The module's look-up selects the columns of every kind but CLI, in this
 * order. */
#define APIKEY_COLUMNS(X)                                                      \
    X(id, ID, NULL, "%s")                                                      \
    X(owner, TEXT, NULL, "%s")                                                 \
    X(scopes, TEXT, NULL, "%s")                                                \
    X(status, STATUS, NULL, "%s")                                              \
    X(expires, TIME, NULL, "%lld")                                             \
    X(not_before, TIME, NULL, "%lld")                                          \
    X(digest, DIGEST, NULL, "%s")                                              \
    X(allow_ip, OPT, "VARCHAR(1024)", "%s")                                    \
    X(allow_referer, OPT, "VARCHAR(1024)", "%s")                               \
    X(allow_method, OPT, "VARCHAR(1024)", "%s")                                \
    X(grace_until, TIME, "BIGINT", "%lld")                                     \
    X(replaced_by, OPT, "VARCHAR(64)", "%s")                                   \
    X(rate, OPT, "VARCHAR(32)", "%s")                                          \
    X(burst, NUM, "BIGINT", "%lld")                                            \
    X(quota, OPT, "VARCHAR(32)", "%s")                                         \
    X(bandwidth, OPT, "VARCHAR(32)", "%s")                                     \
    X(allow_android, OPT, "VARCHAR(1024)", "%s")                               \
    X(allow_ios, OPT, "VARCHAR(1024)", "%s")                                   \
    X(allow_cert, OPT, "VARCHAR(1024)", "%s")                                  \
    X(name, CLI, NULL, "%s")                                                   \
    X(created, CLI, NULL, "%lld")                                              \
    X(updated, CLI, NULL, "%lld")

typedef enum {
    APIKEY_COL_ID,
    APIKEY_COL_TEXT,
    APIKEY_COL_STATUS,
    APIKEY_COL_OPT,
    APIKEY_COL_TIME,
    APIKEY_COL_NUM,
    APIKEY_COL_DIGEST,
    APIKEY_COL_CLI
} apikey_col_kind_t;

/* The record's field of each kind of column. */
#define APIKEY_FIELD_ID(n)     const char *n;
#define APIKEY_FIELD_TEXT(n)   const char *n;
#define APIKEY_FIELD_STATUS(n) const char *n;
#define APIKEY_FIELD_OPT(n)    const char *n;
#define APIKEY_FIELD_TIME(n)                                                   \
    int has_##n;                                                               \
    long long n; /* Unix seconds */
#define APIKEY_FIELD_NUM(n) long long n;
#define APIKEY_FIELD_DIGEST(n)
#define APIKEY_FIELD_CLI(n)
#define APIKEY_FIELD(n, kind, added, ph) APIKEY_FIELD_##kind(n)

/* A key as stored: a field for each column the module keeps (see
 * APIKEY_COLUMNS: owner and scopes, space-separated, are "" when none; the
 * restrictions allow_ip, allow_referer and allow_method comma-separated or
 * NULL, and so the application restrictions allow_android ("package" or
 * "package:sha1hex") and allow_ios (bundle ids) and the client
 * certificates of allow_cert (SHA-256 fingerprints, lower-case hex); rate and
 * quota the key's own limits, "20/s" and "100000/month", or NULL; bandwidth
 * mod_ratelimit's rate for its responses, "512KiB/s", or NULL; replaced_by and
 * grace_until what replaces a rotated key and when it stops).  Strings live in
 * a pool of the caller's (the request's in the module). */
typedef struct {
    /* The look-up statement that found it (with the server, its store). */
    const struct apikey_query_t *query;
    APIKEY_COLUMNS(APIKEY_FIELD)
    /* Columns of an AuthAPIKeyQuery the module does not know, exported as
     * APIKEY_<COLUMN>. */
    int nextra;
    const char *extra_env[APIKEY_EXTRA_MAX];
    const char *extra_value[APIKEY_EXTRA_MAX];
} apikey_record_t;

/* A column as the code reads it: its name, kind, the record's field
 * (offset; for TIME, has_off the has_ flag's), added and placeholder as in
 * APIKEY_COLUMNS. */
typedef struct {
    const char *name;
    apikey_col_kind_t kind;
    size_t off, has_off;
    const char *added;
    const char *placeholder;
} apikey_column_t;

/* Every column, in the list's order, and how many. */
extern const apikey_column_t apikey_columns[];
extern const int apikey_ncolumns;

/* The %{result}K string of a verdict; NULL for NONE. */
const char *apikey_result_str(apikey_result_t result);

/* A copy of rec in p, strings and all. */
apikey_record_t *apikey_record_copy(apr_pool_t *p, const apikey_record_t *rec);

/* The record flattened into buf (the look-up cache's entries): the
 * columns the module keeps, in the list's order, then the extra columns.
 * Returns the length, or 0 when it needs more than size bytes (such a key
 * is not cached). */
size_t apikey_record_pack(const apikey_record_t *rec, char *buf, size_t size);

/* Reads a block apikey_record_pack wrote into rec, whose strings point into
 * a copy of it in p (query is left alone).  0, or -1 for a block of
 * another layout (another build's) or cut short. */
int apikey_record_unpack(apr_pool_t *p, const char *data, size_t len,
                         apikey_record_t *rec);

#endif /* APIKEY_RECORD_H */
