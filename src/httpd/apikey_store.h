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

/* The key store: looks a key's digest up through mod_dbd. */
#ifndef APIKEY_STORE_H
#define APIKEY_STORE_H

#include "httpd.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include "apikey_request.h"

/* The default look-up, against the schemas in conf/schema/. */
#define APIKEY_STORE_DEFAULT_QUERY                                             \
    "SELECT id, owner, scopes, status, expires, not_before, digest, "          \
    "allow_ip, allow_referer, allow_method, grace_until, replaced_by, rate, "  \
    "burst, quota FROM apikey WHERE digest = %s"

/* A look-up statement: its SQL and the label it is prepared under on each
 * pooled connection. */
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

/* The default look-up. */
extern const apikey_query_t apikey_store_default_query;

/* Checks a look-up SQL (AuthAPIKeyQuery) and gives it a label, the same
 * for the same SQL: NULL and *out, or an English message.  Allocates from
 * p, which lives until the next restart. */
const char *apikey_store_query(apr_pool_t *p, const char *sql,
                               const apikey_query_t **out);

/* A hash of len bytes of s, continuing h (0 to start): FNV-1a, never 0. */
apr_uint32_t apikey_store_hash(const char *s, size_t len, apr_uint32_t h);

/* Gives every server its store's identity (apikey_srv_conf_t.store_id): a
 * hash of the DBDriver and DBDParams in force for it, read from the
 * configuration tree as mod_dbd merges them (a virtual host without its
 * own inherits the main server's, field by field), so that the virtual
 * hosts of one database share their keys' counters and those of two never
 * do, the same across restarts and nodes.  DBDParams count as the database
 * they name: a SQLite file by its real path, other drivers' parameters in
 * any order and without the password.  post_config. */
void apikey_store_identify(server_rec *s);

/* Forgets the labels of the previous configuration (pre_config). */
void apikey_store_reset(apr_pool_t *pconf);

/* Retrieves mod_dbd's optional functions.  Returns 0 when mod_dbd is
 * loaded, -1 when it is not. */
int apikey_store_init(void);

/* Looks up the key whose digest (lower-case hex) is digest_hex with query.
 * APR_SUCCESS: *rec is filled from the request pool (columns the module
 * does not know go to rec->extra).  APR_NOTFOUND: no such
 * key.  Anything else: the database could not answer (already logged). */
apr_status_t apikey_store_lookup(request_rec *r, const apikey_query_t *query,
                                 const char *digest_hex, apikey_record_t *rec);

/* Reads the store's change marker (apikey_meta 'version') through s's
 * database, from the change-marker poller.  APR_SUCCESS with *marker, or
 * an error with a message in *err (allocated from p). */
apr_status_t apikey_store_marker(server_rec *s, apr_pool_t *p,
                                 apr_int64_t *marker, const char **err);

/* A connection of s's database outside a request (the quota store, the
 * sync), NULL when there is none; closed with apikey_store_close. */
ap_dbd_t *apikey_store_open(apr_pool_t *p, server_rec *s);
void apikey_store_close(server_rec *s, ap_dbd_t *dbd);

/* Runs q (prepared once per connection under its label) with nargs text
 * arguments: a SELECT read whole into *res when res is given, else a
 * statement whose changed rows go to *nrows.  With retry, a statement that
 * fails is prepared afresh and run once more (as after a database restart
 * took the prepared statement): only for statements that may run twice.
 * Returns 0 or the driver's error (apr_dbd_error tells it). */
int apikey_store_run(ap_dbd_t *dbd, apr_pool_t *p, const apikey_query_t *q,
                     int nargs, const char **args, apr_dbd_results_t **res,
                     int *nrows, int retry);

/* 1 when the driver's error rv says the database is busy (SQLite's lock),
 * not failing. */
int apikey_store_busy(ap_dbd_t *dbd, int rv);

#endif /* APIKEY_STORE_H */
