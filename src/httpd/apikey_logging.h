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

/* What the module gives the logs: the %{FIELD}K fields of mod_log_config,
 * the counting of each request's result for the metrics, and the guard
 * that keeps keys out of the error log at every level. */
#ifndef APIKEY_LOGGING_H
#define APIKEY_LOGGING_H

#include "httpd.h"

/* Registers %{...}K with mod_log_config (pre_config). */
void apikey_logging_pre_config(apr_pool_t *pconf);

/* Finds the modules whose logging the guard caps (post_config). */
void apikey_logging_post_config(void);

/* create_request and post_read_request hook: at trace4 and above httpd
 * writes the request line (core, trace5, while reading it) and every
 * request header (http, trace4), keys included, to the error log, before
 * authentication can hide anything.  Caps both modules at trace3 for the
 * request: before the request is read, and again once its virtual host is
 * known. */
int apikey_logging_guard(request_rec *r);

/* log_transaction hook: counts the request's result. */
int apikey_logging_count(request_rec *r);

#endif /* APIKEY_LOGGING_H */
