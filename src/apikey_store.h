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

#include "apikey_request.h"

/* The default look-up, against the schemas in conf/schema/. */
#define APIKEY_STORE_DEFAULT_QUERY                                             \
    "SELECT id, owner, scopes, status, expires, not_before, digest, "          \
    "allow_ip, allow_referer, allow_method FROM apikey WHERE digest = %s"

/* Retrieves mod_dbd's optional functions.  Returns 0 when mod_dbd is
 * loaded, -1 when it is not. */
int apikey_store_init(void);

/* Looks up the key whose digest (lower-case hex) is digest_hex.
 * APR_SUCCESS: *rec is filled from the request pool.  APR_NOTFOUND: no such
 * key.  Anything else: the database could not answer (already logged). */
apr_status_t apikey_store_lookup(request_rec *r, const char *digest_hex,
                                 apikey_record_t *rec);

#endif /* APIKEY_STORE_H */
