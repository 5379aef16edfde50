/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements.  See the NOTICE file distributed with
 * this work for additional information regarding copyright ownership.
 * The ASF licenses this file to You under the Apache License, Version 2.0
 * (the "License"); you may not use this file except in compliance with
 * the License.  You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* The cluster-wide quota store (AuthAPIKeyQuotaStore dbd): the units of
 * each key's period quota that the servers of a fleet have claimed, one row
 * per key and period in the apikey_quota table of the key store, changed
 * only by conditional updates the database applies atomically, so that the
 * fleet never claims more than the quota. */
#ifndef APIKEY_QUOTA_STORE_H
#define APIKEY_QUOTA_STORE_H

#include "httpd.h"

/* The cluster's claimed count was not read (a claim that got all it asked
 * for costs one statement, and no SELECT). */
#define APIKEY_CLAIMED_UNKNOWN ((unsigned long)-1)

/* The name of key id's rows in the apikey_quota table: the id, prefixed
 * with "q" and the look-up statement's identity in hex and ':' when that
 * is not the default look-up (query != 0): two legacy tables behind one
 * database may both have a key 1. */
const char *apikey_quota_store_row(apr_pool_t *p, const char *id,
                                   apr_uint32_t query);

/* The longest key id whose row name fits the key_id column (64). */
size_t apikey_quota_store_id_max(apr_uint32_t query);

/* Claims up to want units of key id's quota of limit for the period whose
 * field (as the limit table numbers periods) is period, ending at
 * period_end (Unix seconds, for purging), through s's database.
 * APR_SUCCESS with *got (0: none left) and *claimed (the cluster's total
 * after, or APIKEY_CLAIMED_UNKNOWN); APR_EAGAIN when the database was busy
 * (other servers' claims kept winning, SQLite's lock), or another error,
 * with a message in *err.
 * *statements counts the statements run, each one round trip. */
apr_status_t apikey_quota_store_claim(server_rec *s, apr_pool_t *p,
                                      const char *id, unsigned long period,
                                      long long period_end, unsigned long limit,
                                      unsigned long want, unsigned long *got,
                                      unsigned long *claimed, const char **err,
                                      unsigned *statements);

/* Gives units back (a sync): APR_SUCCESS, or an error with *err, and
 * *unsure set when the statement was sent (the database may have applied
 * it: the units must not be spent again).  Units of a row that no longer
 * holds that many (deleted by hand) are dropped. */
apr_status_t apikey_quota_store_give_back(server_rec *s, apr_pool_t *p,
                                          const char *id, unsigned long period,
                                          unsigned long units, const char **err,
                                          int *unsure);

/* Adds units admitted while the store did not answer (fallback=local) to
 * its count, whatever the quota: APR_SUCCESS, or an error with *err. */
apr_status_t apikey_quota_store_add(server_rec *s, apr_pool_t *p,
                                    const char *id, unsigned long period,
                                    long long period_end, unsigned long units,
                                    const char **err);

/* Deletes the rows of periods that ended before before (Unix seconds). */
apr_status_t apikey_quota_store_purge(server_rec *s, apr_pool_t *p,
                                      long long before, const char **err);

#endif /* APIKEY_QUOTA_STORE_H */
