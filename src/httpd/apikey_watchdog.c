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

/* The module's background threads (see apikey_watchdog.h). */

#include "apikey_watchdog.h"

apr_status_t apikey_watchdog_start(apr_pool_t *pconf, server_rec *s,
                                   const char *name,
                                   apr_interval_time_t interval,
                                   ap_watchdog_callback_fn_t *callback)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * register_callback;
    ap_watchdog_t *wd;
    apr_status_t rv;

    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_callback) {
        return APR_ENOTIMPL;
    }
    /* Not the parent's (0), a singleton (1). */
    rv = get_instance(&wd, name, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, interval, s, callback);
    }
    return rv;
}
