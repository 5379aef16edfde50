/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The apikey authn provider: AuthBasicProvider apikey, for clients that can
 * only send Basic credentials. */
#ifndef APIKEY_BASIC_PROVIDER_H
#define APIKEY_BASIC_PROVIDER_H

#include "mod_auth.h"

extern const authn_provider apikey_basic_provider;

#endif /* APIKEY_BASIC_PROVIDER_H */
