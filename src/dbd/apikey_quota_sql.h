/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The cluster-wide quota store (AuthAPIKeyQuotaStore dbd): the units of
 * each key's period quota that the servers of a fleet have claimed, one row
 * per key and period in the apikey_quota table of the key store, changed
 * only by conditional updates the database applies atomically, so that the
 * fleet never claims more than the quota. */
#ifndef APIKEY_QUOTA_SQL_H
#define APIKEY_QUOTA_SQL_H

#include "apikey_db.h"

/* The longest name of a key's rows: the key_id column's size. */
#define APIKEY_QUOTA_ROW_MAX 64

/* The cluster's claimed count was not read (a claim that got all it asked
 * for costs one statement, and no SELECT). */
#define APIKEY_CLAIMED_UNKNOWN ((unsigned long)-1)

/* The name of key id's rows in the apikey_quota table: the id, prefixed
 * with "q" and the look-up statement's identity in hex and ':' when that
 * is not the default look-up (query != 0): two legacy tables behind one
 * database may both have a key 1. */
const char *apikey_quota_sql_row(apr_pool_t *p, const char *id,
                                 apr_uint32_t query);

/* The longest key id whose row name fits the key_id column (64). */
size_t apikey_quota_sql_id_max(apr_uint32_t query);

/* Claims up to want units of key id's quota of limit for the period whose
 * field (as the limit table numbers periods) is period, ending at
 * period_end (Unix seconds, for purging), through db.
 * APR_SUCCESS with *got (0: none left) and *claimed (the cluster's total
 * after, or APIKEY_CLAIMED_UNKNOWN); APR_EAGAIN when the database was busy
 * (other servers' claims kept winning, SQLite's lock), or another error,
 * with a message in *err.
 * *statements counts the statements run, each one round trip. */
apr_status_t apikey_quota_sql_claim(apikey_db_t *db, apr_pool_t *p,
                                    const char *id, unsigned long period,
                                    long long period_end, unsigned long limit,
                                    unsigned long want, unsigned long *got,
                                    unsigned long *claimed, const char **err,
                                    unsigned *statements);

/* Gives units back (a sync): APR_SUCCESS, or an error with *err, and
 * *unsure set when the statement was sent (the database may have applied
 * it: the units must not be spent again).  Units of a row that no longer
 * holds that many (deleted by hand) are dropped. */
apr_status_t apikey_quota_sql_give_back(apikey_db_t *db, apr_pool_t *p,
                                        const char *id, unsigned long period,
                                        unsigned long units, const char **err,
                                        int *unsure);

/* Adds units admitted while the store did not answer (fallback=local) to
 * its count, whatever the quota: APR_SUCCESS, or an error with *err. */
apr_status_t apikey_quota_sql_add(apikey_db_t *db, apr_pool_t *p,
                                  const char *id, unsigned long period,
                                  long long period_end, unsigned long units,
                                  const char **err);

/* Deletes the rows of periods that ended before before (Unix seconds). */
apr_status_t apikey_quota_sql_purge(apikey_db_t *db, apr_pool_t *p,
                                    long long before, const char **err);

#endif /* APIKEY_QUOTA_SQL_H */
