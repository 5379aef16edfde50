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

/* The sync of cluster-wide quotas (AuthAPIKeyQuotaStore dbd): a watchdog
 * thread in one child that, every AuthAPIKeyQuotaSync, hands the units
 * this server holds back to the key store, sizes each key's next lease
 * from its admissions since, and lets requests ask the store again where
 * it last had nothing to give. */
#ifndef APIKEY_QUOTA_SYNC_H
#define APIKEY_QUOTA_SYNC_H

#include "httpd.h"

/* Registers the sync with mod_watchdog when a server counts its quotas in
 * the store (real post_config pass).  Returns 0, or an HTTP error status
 * for post_config (logged: such a server needs mod_watchdog). */
int apikey_quota_sync_init(apr_pool_t *pconf, server_rec *s);

#endif /* APIKEY_QUOTA_SYNC_H */
