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

/* AuthBasicProvider apikey (see apikey_provider.h).  The key is the Basic
 * password, or the user with an empty password (as Stripe takes it); it is
 * verified exactly as under AuthType APIKey, and r->user becomes the key
 * id.  <AuthnProviderAlias apikey NAME> works as for any provider. */

#include "apikey_provider.h"
#include "apikey_authn.h"
#include "apikey_config.h"
#include "apikey_failure.h"
#include "apikey_request.h"
#include "apikey_verify.h"

#include "http_core.h"

static authn_status check_password(request_rec *r, const char *user,
                                   const char *password)
{
    const apikey_dir_conf_t *conf =
        ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    apikey_request_t *rq = apikey_request_get(r);
    const char *key = *password ? password : user;

    if (conf->hide_credentials != 0) {
        apr_table_unset(r->headers_in, r->proxyreq == PROXYREQ_PROXY
                                           ? "Proxy-Authorization"
                                           : "Authorization");
    }
    /* A subrequest or redirect in another section: the verdict stands. */
    if (!rq->key && rq->result == APIKEY_RESULT_NONE) {
        rq->source = APIKEY_SOURCE_BASIC;
        if (!apikey_authn_tls_ok(r, conf)) {
            rq->result = APIKEY_RESULT_TLS_REQUIRED;
        }
        else if (apikey_failure_blocked(r, conf)) {
            rq->result = APIKEY_RESULT_THROTTLED;
        }
        else {
            apikey_verify(r, conf, key, strlen(key), rq);
            /* A password that is no key at all is most likely meant for the
             * next provider of the chain (a file or a directory user's):
             * only key-shaped guesses count. */
            if (rq->result != APIKEY_RESULT_MALFORMED) {
                apikey_failure_record(r, conf, rq->result);
            }
        }
    }
    switch (rq->result) {
        case APIKEY_RESULT_OK:
            apikey_verify_admit(r, conf, rq->key);
            return AUTH_GRANTED;
        case APIKEY_RESULT_ERROR:
            /* mod_auth_basic answers 500; the reason is logged. */
            return AUTH_GENERAL_ERROR;
        case APIKEY_RESULT_UNKNOWN:
        case APIKEY_RESULT_MALFORMED:
        /* We look nothing up for a throttled client, but the next provider
         * may.  mod_auth_basic answers 401 to any refusal (a provider
         * cannot choose 429); Retry-After still tells the client to wait. */
        case APIKEY_RESULT_THROTTLED:
            /* Not one of our keys: the next provider may know the user. */
            return AUTH_USER_NOT_FOUND;
        default:
            return AUTH_DENIED;
    }
}

const authn_provider apikey_authn_provider = {
    &check_password, NULL, /* no Digest: only a digest of the key is stored */
};
