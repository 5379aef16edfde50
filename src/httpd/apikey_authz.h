/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Require apikey family of authorization providers, and the hook that
 * gives a refused valid key 403 rather than 401. */
#ifndef APIKEY_AUTHZ_H
#define APIKEY_AUTHZ_H

#include "mod_auth.h"

/* Require apikey: any key AuthType APIKey accepted. */
extern const authz_provider apikey_authz_any;
extern const authz_provider apikey_authz_anonymous;
/* Require apikey-scope S...: the key holds at least one of the scopes. */
extern const authz_provider apikey_authz_scope;
/* Require apikey-id ID...: one of these keys. */
extern const authz_provider apikey_authz_id;
/* Require apikey-owner O...: a key of one of these owners. */
extern const authz_provider apikey_authz_owner;

/* auth_checker hook, run before mod_authz_core's (see apikey_authz.c). */
int apikey_authz_forbid(request_rec *r);

#endif /* APIKEY_AUTHZ_H */
