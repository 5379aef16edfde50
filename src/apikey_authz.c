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

/* Require apikey (see apikey_authz.h).  The provider reads the record that
 * authentication attached to the request; it never looks a key up. */

#include "apikey_authz.h"
#include "apikey_request.h"

#include "apr_strings.h"

static authz_status check_any(request_rec *r, const char *require_line,
                              const void *parsed)
{
    apikey_request_t *rq;

    (void)require_line;
    (void)parsed;
    /* Before authentication: ask for it (mod_authz_core's first pass). */
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    rq = apikey_request_find(r);
    /* r->user may come from another AuthType; only our keys count. */
    if (!rq || rq->result != APIKEY_RESULT_OK) {
        return AUTHZ_DENIED;
    }
    rq->granted = 1;
    return AUTHZ_GRANTED;
}

static const char *parse_any(cmd_parms *cmd, const char *require_line,
                             const void **parsed)
{
    (void)parsed;
    if (require_line && *require_line) {
        return apr_psprintf(cmd->pool,
                            "'Require apikey' takes no arguments (got '%s')",
                            require_line);
    }
    return NULL;
}

const authz_provider apikey_authz_any = {
    &check_any,
    &parse_any,
};
