/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage sync's statement: a key's requests of a day, as counted on one
 * node, added to its row of the apikey_usage table (made when absent). */
#ifndef APIKEY_USAGE_SQL_H
#define APIKEY_USAGE_SQL_H

#include "apikey_db.h"

/* Adds admitted and refused to row (key_id row, day, node), and makes its
 * last_used at least last_used: one statement, an upsert in the driver's
 * words (SQLite, PostgreSQL, MySQL; others are refused with APR_ENOTIMPL).
 * Run once only: a statement whose answer was lost is not run again (it
 * may have counted).  APR_SUCCESS, or an error with *err and *unsure
 * (the database may have applied it). */
apr_status_t apikey_usage_sql_add(apikey_db_t *db, apr_pool_t *p,
                                  const char *row, long long day,
                                  const char *node, apr_uint64_t admitted,
                                  apr_uint64_t refused, long long last_used,
                                  const char **err, int *unsure);

#endif /* APIKEY_USAGE_SQL_H */
