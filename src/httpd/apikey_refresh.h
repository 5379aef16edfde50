/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Revocation with a stated bound: a watchdog thread in one child polls each
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
