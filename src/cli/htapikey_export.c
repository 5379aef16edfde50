/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey export: every key record as JSON Lines, every column of the key
 * record's list, its digest included, never a key; htapikey import reads
 * it back (htapikey_io.c). */

#include "apikey_record.h"
#include "htapikey.h"

#include "apr_strings.h"

#include <stdio.h>

int htapikey_cmd_export(apr_pool_t *p, const htapikey_options_t *o)
{
    apr_array_header_t *rows;
    const char *sql = "SELECT ", *err;
    htapikey_db_t db;
    int rc, i, c;

    if ((rc = htapikey_only_options(o, 0, 0, 0))
        || (rc = htapikey_open_store(p, o, HTAPIKEY_DB_MUST_EXIST, &db))) {
        return rc;
    }
    /* The key record's list, so that a column added to it comes along. */
    for (c = 0; c < apikey_ncolumns; c++) {
        sql = apr_pstrcat(p, sql, c ? ", " : "", apikey_columns[c].name, NULL);
    }
    sql = apr_pstrcat(p, sql, " FROM apikey ORDER BY created, id", NULL);
    if ((err = htapikey_db_select(&db, sql, 0, NULL, apikey_ncolumns, &rows))) {
        return htapikey_fail(EXIT_DB,
                             "export failed: %s (is the store initialised, "
                             "and upgraded by 'htapikey init'?)",
                             err);
    }
    for (i = 0; i < rows->nelts; i++) {
        const char **v = APR_ARRAY_IDX(rows, i, const char **);

        for (c = 0; c < apikey_ncolumns; c++) {
            printf("%s\"%s\":", c ? "," : "{", apikey_columns[c].name);
            if (v[c] && htapikey_column_numeric(&apikey_columns[c])
                && htapikey_integer(v[c])) {
                fputs(v[c], stdout);
            }
            else {
                htapikey_json_string(v[c]);
            }
        }
        printf("}\n");
    }
    if (fflush(stdout) || ferror(stdout)) {
        return htapikey_fail(EXIT_DB, "%s", "export: cannot write the output");
    }
    return EXIT_OK;
}
