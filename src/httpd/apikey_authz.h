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

/* The Require apikey family of authorization providers, and the hook that
 * gives a refused valid key 403 rather than 401. */
#ifndef APIKEY_AUTHZ_H
#define APIKEY_AUTHZ_H

#include "mod_auth.h"

/* Require apikey: any key AuthType APIKey accepted. */
extern const authz_provider apikey_authz_any;
/* Require apikey-scope S...: the key holds at least one of the scopes. */
extern const authz_provider apikey_authz_scope;
/* Require apikey-id ID...: one of these keys. */
extern const authz_provider apikey_authz_id;
/* Require apikey-owner O...: a key of one of these owners. */
extern const authz_provider apikey_authz_owner;

/* auth_checker hook, run before mod_authz_core's (see apikey_authz.c). */
int apikey_authz_forbid(request_rec *r);

#endif /* APIKEY_AUTHZ_H */
