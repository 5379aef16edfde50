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

/* Rate limits and quotas: the limit table in shared memory kept across
 * restarts, and their enforcement once per client request. */
#ifndef APIKEY_LIMITS_H
#define APIKEY_LIMITS_H

#include "httpd.h"

#include "apikey_limit_table.h"

/* Creates the limit table, or takes over the one of the previous
 * generation (real post_config pass).  Returns 0, or an HTTP error status
 * for post_config (already logged). */
int apikey_limits_init(apr_pool_t *pconf, server_rec *s);

/* The table, or NULL.  Its header is checked against the one this process
 * set up first, and restored (logged) if memory was scribbled over it. */
apikey_limit_table_t *apikey_limits_table(void);

/* fixups hook (APR_HOOK_FIRST): charges a request that an apikey provider
 * granted, and answers 429 (or 503 when the table is full) when it is over
 * a limit. */
int apikey_limits_fixups(request_rec *r);

#endif /* APIKEY_LIMITS_H */
