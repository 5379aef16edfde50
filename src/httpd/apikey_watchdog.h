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

/* The module's background threads: mod_watchdog singletons (one thread in
 * one child at a time, another child taking over when that one exits). */
#ifndef APIKEY_WATCHDOG_H
#define APIKEY_WATCHDOG_H

#include "httpd.h"
#include "mod_watchdog.h"

/* Runs callback (with s as its data) every interval in a singleton named
 * name (real post_config pass, before mod_watchdog's).  Returns
 * APR_SUCCESS, APR_ENOTIMPL when mod_watchdog is not loaded, or its
 * error. */
apr_status_t apikey_watchdog_start(apr_pool_t *pconf, server_rec *s,
                                   const char *name,
                                   apr_interval_time_t interval,
                                   ap_watchdog_callback_fn_t *callback);

#endif /* APIKEY_WATCHDOG_H */
