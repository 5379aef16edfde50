/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What htapikey_db.c (opening, schema, reading) and htapikey_db_change.c
 * (changes) share, and nothing else includes. */
#ifndef HTAPIKEY_DB_PRIVATE_H
#define HTAPIKEY_DB_PRIVATE_H

#include <stddef.h>

#include "htapikey_db.h"

/* The row's columns: name, field and placeholder, in the list's order. */
typedef struct {
    const char *name;
    size_t off;
    const char *placeholder;
} htapikey_row_column_t;

extern const htapikey_row_column_t htapikey_row_columns[];
extern const int htapikey_nrow_columns;
#define NROW_COLUMNS htapikey_nrow_columns

static inline const char *row_value(const htapikey_row_t *row, int i)
{
    return *(const char *const *)((const char *)row
                                  + htapikey_row_columns[i].off);
}

/* One statement, prepared afresh (htapikey runs each once). */
int htapikey_db_run(htapikey_db_t *db, const char *sql, int nargs,
                    const char **args, apr_dbd_results_t **res, int *nrows);

/* The driver's message for rv. */
const char *htapikey_db_errmsg(htapikey_db_t *db, int rv);

#endif /* HTAPIKEY_DB_PRIVATE_H */
