/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key store: looks a key's digest up through mod_dbd. */
#ifndef APIKEY_STORE_H
#define APIKEY_STORE_H

#include "httpd.h"

#include "apikey_db.h"
#include "apikey_request.h"

/* Gives every server its store's identity (apikey_srv_conf_t.store_id): a
 * hash of the DBDriver and DBDParams in force for it, read from the
 * configuration tree as mod_dbd merges them (a virtual host without its
 * own inherits the main server's, field by field), so that the virtual
 * hosts of one database share their keys' counters and those of two never
 * do, the same across restarts and nodes.  DBDParams count as the database
 * they name: a SQLite file by its real path, other drivers' parameters in
 * any order and without the password.  post_config. */
void apikey_store_identify(server_rec *s);

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

/* A connection of s's database from mod_dbd's pool, as src/dbd takes it,
 * or NULL when there is none; given back with apikey_store_db_done. */
apikey_db_t *apikey_store_db(apr_pool_t *p, server_rec *s);
void apikey_store_db_done(server_rec *s, apikey_db_t *db);

#endif /* APIKEY_STORE_H */
