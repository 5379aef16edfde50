/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The packed default look-up (see apikey_db_packed.h). */

#include "apikey_db_packed.h"
#include "apikey_record.h"

#include <string.h>

#include "apr_strings.h"

/* What ends each packed value (see apikey_db_packed.h). */
#define PACKED_SEP '\x1f'

/* How each dialect joins values, NULL taken for "": SQLite's printf (one
 * function call and one string: a chain of || and COALESCE made SQLite
 * allocate an intermediate string per column, which cost more than the
 * columns saved), PostgreSQL's CONCAT (NULL-blind already), MySQL's CONCAT
 * (NULL if any value is: each is COALESCEd). */
enum { JOIN_PRINTF, JOIN_CONCAT, JOIN_CONCAT_COALESCE, NJOINS };
static char packed_sql[NJOINS][1024];

int apikey_db_packed(const apikey_column_t *col)
{
    return col->added != NULL && col->kind != APIKEY_COL_CLI;
}

/* Builds the packed look-up of one dialect into buf: "" when it does not
 * fit (the wide one serves then). */
static void build_packed(char *buf, size_t size, int join)
{
    size_t at = 0;
    int i, first = 1, fits = 1;

#define ADD(...)                                                               \
    do {                                                                       \
        if (fits) {                                                            \
            int n_ = apr_snprintf(buf + at, size - at, __VA_ARGS__);           \
            fits = n_ >= 0 && (size_t)n_ < size - at - 1;                      \
            at += fits ? (size_t)n_ : 0;                                       \
        }                                                                      \
    } while (0)
    ADD("SELECT ");
    for (i = 0; i < apikey_ncolumns; i++) {
        if (apikey_columns[i].kind != APIKEY_COL_CLI
            && !apikey_db_packed(&apikey_columns[i])) {
            ADD("%s%s", first ? "" : ", ", apikey_columns[i].name);
            first = 0;
        }
    }
    /* Each value is followed by the separator, the last one too: a value
     * a driver cut short (MySQL's fldsz) lacks the last separator and is
     * refused, never read without its last column. */
    if (join == JOIN_PRINTF) {
        /* Most keys have none of them: the separators alone then, with
         * no printf. */
        ADD(", CASE WHEN ");
        for (i = 0, first = 1; i < apikey_ncolumns; i++) {
            if (apikey_db_packed(&apikey_columns[i])) {
                ADD("%s%s IS NULL", first ? "" : " AND ",
                    apikey_columns[i].name);
                first = 0;
            }
        }
        ADD(" THEN '");
        for (i = 0; i < apikey_ncolumns; i++) {
            if (apikey_db_packed(&apikey_columns[i])) {
                ADD("%c", PACKED_SEP);
            }
        }
        ADD("' ELSE printf('");
        for (i = 0; i < apikey_ncolumns; i++) {
            if (apikey_db_packed(&apikey_columns[i])) {
                /* %% for APR's placeholder syntax: "%s" reaches SQLite. */
                ADD("%%%%s%c", PACKED_SEP);
            }
        }
        ADD("'");
        for (i = 0; i < apikey_ncolumns; i++) {
            if (apikey_db_packed(&apikey_columns[i])) {
                ADD(", %s", apikey_columns[i].name);
            }
        }
        ADD(") END");
    }
    else {
        /* pg_catalog's: an unqualified concat would resolve to one another
         * role made on the search path (CVE-2018-1058's pattern). */
        ADD(join == JOIN_CONCAT ? ", pg_catalog.concat(" : ", CONCAT(");
        for (i = 0, first = 1; i < apikey_ncolumns; i++) {
            if (apikey_db_packed(&apikey_columns[i])) {
                ADD(join == JOIN_CONCAT
                        ? "%s%s, '%c'"
                        : "%sCOALESCE(CAST(%s AS CHAR), ''), '%c'",
                    first ? "" : ", ", apikey_columns[i].name, PACKED_SEP);
                first = 0;
            }
        }
        ADD(")");
    }
    ADD(" AS " APIKEY_DB_PACKED_NAME " FROM apikey WHERE digest = %%s");
#undef ADD
    if (!fits) {
        buf[0] = '\0';
    }
}

void apikey_db_packed_reset(void)
{
    int i;

    for (i = 0; i < NJOINS; i++) {
        build_packed(packed_sql[i], sizeof(packed_sql[i]), i);
    }
}

const char *apikey_db_sql(const apikey_db_t *db, const apikey_query_t *q)
{
    const char *name;
    int join = -1;

    if (q != &apikey_db_default_query) {
        return q->sql;
    }
    name = apr_dbd_name(db->driver);
    if (name && !strcmp(name, "sqlite3")) {
        join = JOIN_PRINTF;
    }
    else if (name && !strcmp(name, "pgsql")) {
        join = JOIN_CONCAT;
    }
    else if (name && !strcmp(name, "mysql")) {
        join = JOIN_CONCAT_COALESCE;
    }
    return join >= 0 && *packed_sql[join] ? packed_sql[join]
                                          : apikey_db_default_query.sql;
}

/* The n values of a packed column (its copy, cut in place) into part:
 * 0, or -1 when it is NULL (no look-up of ours makes one) or does not hold
 * exactly n values each ended by the separator. */
int apikey_db_split_pack(char *v, int n, const char **part)
{
    int i = 0;

    if (!v) {
        return -1;
    }
    part[0] = v;
    for (; *v; v++) {
        if (*v == PACKED_SEP) {
            if (i == n) {
                return -1;
            }
            *v = '\0';
            if (++i < n) {
                part[i] = v + 1;
            }
            else if (v[1]) {
                return -1; /* something after the last separator */
            }
        }
    }
    return i == n ? 0 : -1;
}
