/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A store not upgraded since the module was ("htapikey init" not run):
 * its keys are looked up with the columns it has (a column it lacks holds
 * no restriction or limit that could be left out), asked for one by one;
 * each connection asks again every 5 s.  Private to apikey_db.c. */
#ifndef APIKEY_DB_COLUMNS_H
#define APIKEY_DB_COLUMNS_H

#include "apikey_db.h"

/* The default look-up's SQL of the columns the store has (the missing
 * ones in db->missing); NULL when it lacks none or cannot tell, *whole
 * set when every column answered. */
const char *apikey_db_store_sql(apikey_db_t *db, int *whole);

/* Prepares that SQL for q's label as the connection's look-up: 0, or -1
 * when the store lacks no column (the failure was another) or it fails. */
int apikey_db_prepare_reduced(apikey_db_t *db, const apikey_query_t *q,
                              apr_dbd_prepared_t **st);

/* A reduced look-up due for another try: *st becomes the whole one when
 * every column now answers. */
void apikey_db_recheck(apikey_db_t *db, const apikey_query_t *q,
                       apr_dbd_prepared_t **st);

/* The SQL a failed statement of q is prepared again with (the default
 * look-up's as the store has it now). */
const char *apikey_db_retry_sql(apikey_db_t *db, const apikey_query_t *q);

#endif /* APIKEY_DB_COLUMNS_H */
