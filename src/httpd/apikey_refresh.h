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

/* Revocation with a stated bound: a watchdog thread in one child polls each
 * key store's change marker every AuthAPIKeyRefresh and, when it moved,
 * invalidates the look-up cache of every child at once. */
#ifndef APIKEY_REFRESH_H
#define APIKEY_REFRESH_H

#include "httpd.h"

/* Registers the poller with mod_watchdog (real post_config pass).  Without
 * mod_watchdog, or with AuthAPIKeyRefresh 0, changes are seen within the
 * cache's TTL only, which is logged. */
void apikey_refresh_init(apr_pool_t *pconf, server_rec *s);

#endif /* APIKEY_REFRESH_H */
