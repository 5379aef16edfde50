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

/* Key look-up through mod_dbd.
 *
 * The statement is prepared lazily on each pooled connection, with
 * apr_dbd_prepare, rather than registered with ap_dbd_prepare: mod_dbd
 * prepares registered statements on every connection of a server, so a
 * look-up that cannot be prepared there (no apikey table in a database used
 * by mod_authn_dbd, say) would take every DBD user of that server down with
 * it.  Prepared lazily, a bad statement fails our requests only, with the
 * driver's message. */

#include "apikey_store.h"
#include "apikey_config.h"
#include "apikey_key.h"
#include "apikey_log.h"
#include "apikey_time.h"

#include "apr_dbd.h"
#include "apr_hash.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "http_log.h"
#include "mod_dbd.h"

APLOG_USE_MODULE(authn_apikey);

/* Label of our statement in a connection's prepared-statement hash.  The
 * pgsql driver uses it as an SQL identifier (PREPARE <label>), so it holds
 * letters and underscores only. */
#define LOOKUP_LABEL "authn_apikey_lookup"

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) * dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) * dbd_close;

int apikey_store_init(void)
{
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return dbd_open && dbd_close ? 0 : -1;
}

static apr_dbd_prepared_t *lookup_statement(request_rec *r, ap_dbd_t *dbd)
{
    apr_dbd_prepared_t *st =
        apr_hash_get(dbd->prepared, LOOKUP_LABEL, APR_HASH_KEY_STRING);
    int rv;

    if (st) {
        return st;
    }
    /* dbd->pool lives as long as the connection, as the statement must. */
    rv = apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle,
                         APIKEY_STORE_DEFAULT_QUERY, LOOKUP_LABEL, &st);
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00001) "cannot prepare the key look-up "
                                          "(%s): %s",
                      APIKEY_STORE_DEFAULT_QUERY,
                      apr_dbd_error(dbd->driver, dbd->handle, rv));
        return NULL;
    }
    apr_hash_set(dbd->prepared, LOOKUP_LABEL, APR_HASH_KEY_STRING, st);
    return st;
}

/* Copies one result row into rec.  Returns 0, 1 when the row's digest is
 * not the one asked for, or -1 when a column does not hold what the schema
 * says. */
static int read_row(request_rec *r, const apr_dbd_driver_t *drv,
                    apr_dbd_row_t *row, const char *digest_hex,
                    apikey_record_t *rec)
{
    const char *id = apr_dbd_get_entry(drv, row, 0);
    const char *expires = apr_dbd_get_entry(drv, row, 4);
    const char *not_before = apr_dbd_get_entry(drv, row, 5);
    const char *digest = apr_dbd_get_entry(drv, row, 6);

    /* The database matched the digest already; comparing again in
     * constant time guards against collations that fold case or pad. */
    if (!digest || strlen(digest) != APIKEY_DIGEST_HEX_LEN
        || !apikey_equal_ct(digest, digest_hex, APIKEY_DIGEST_HEX_LEN)) {
        return 1;
    }
    if (!id || !*id) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00008) "a key with an empty id matched; "
                                          "refusing it");
        return -1;
    }
    rec->id = apr_pstrdup(r->pool, id);
    rec->owner = apr_pstrdup(r->pool, apr_dbd_get_entry(drv, row, 1));
    rec->scopes = apr_pstrdup(r->pool, apr_dbd_get_entry(drv, row, 2));
    rec->status = apr_pstrdup(r->pool, apr_dbd_get_entry(drv, row, 3));
    if (!rec->owner) {
        rec->owner = "";
    }
    if (!rec->scopes) {
        rec->scopes = "";
    }
    if (!rec->status) {
        rec->status = "active";
    }
    rec->has_expires = expires && *expires;
    if (rec->has_expires && apikey_time_parse(expires, &rec->expires)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00002) "key %s: unreadable expires value "
                                          "'%s'",
                      rec->id, expires);
        return -1;
    }
    rec->has_not_before = not_before && *not_before;
    if (rec->has_not_before
        && apikey_time_parse(not_before, &rec->not_before)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00003) "key %s: unreadable not_before "
                                          "value '%s'",
                      rec->id, not_before);
        return -1;
    }
    return 0;
}

apr_status_t apikey_store_lookup(request_rec *r, const char *digest_hex,
                                 apikey_record_t *rec)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_dbd_prepared_t *st;
    apr_status_t status = APR_NOTFOUND;
    ap_dbd_t *dbd;
    int rv, rows = 0;

    /* Opened and closed around the look-up, not tied to the request: a
     * long CGI or proxied response must not hold a pooled connection. */
    dbd = dbd_open(r->pool, r->server);
    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00004) "no database connection for "
                                          "the key look-up (is DBDriver "
                                          "and DBDParams set for this "
                                          "server, the database up?)");
        return APR_EGENERAL;
    }
    st = lookup_statement(r, dbd);
    if (!st) {
        dbd_close(r->server, dbd);
        return APR_EGENERAL;
    }
    rv = apr_dbd_pvselect(dbd->driver, r->pool, dbd->handle, &res, st, 0,
                          digest_hex, NULL);
    if (rv != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00005) "key look-up failed: %s",
                      apr_dbd_error(dbd->driver, dbd->handle, rv));
        dbd_close(r->server, dbd);
        return APR_EGENERAL;
    }
    /* Drain every row: some drivers keep the cursor busy otherwise. */
    for (rv = apr_dbd_get_row(dbd->driver, r->pool, res, &row, -1); rv != -1;
         rv = apr_dbd_get_row(dbd->driver, r->pool, res, &row, -1)) {
        if (rv != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00006) "reading the key look-up "
                                              "failed: %s",
                          apr_dbd_error(dbd->driver, dbd->handle, rv));
            status = APR_EGENERAL;
            break;
        }
        if (rows++ == 0) {
            int got = read_row(r, dbd->driver, row, digest_hex, rec);

            status = got == 0  ? APR_SUCCESS
                     : got > 0 ? APR_NOTFOUND
                               : APR_EGENERAL;
        }
    }
    if (rows > 1) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APIKEY_LOGNO(00007) "%d keys share one digest; "
                                "refusing them (is the digest column unique?)",
            rows);
        status = APR_EGENERAL;
    }
    dbd_close(r->server, dbd);
    return status;
}
