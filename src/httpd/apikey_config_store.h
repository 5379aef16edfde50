/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The directives of the key store's look-up (a legacy schema's SQL), the
 * look-up cache and the poll of the store's change marker. */
#ifndef APIKEY_CONFIG_STORE_H
#define APIKEY_CONFIG_STORE_H

#include "apikey_config.h"

const char *apikey_config_set_query(cmd_parms *cmd, void *mconfig,
                                    const char *sql);
const char *apikey_config_set_cache_timeout(cmd_parms *cmd, void *mconfig,
                                            const char *ttl,
                                            const char *negative);
const char *apikey_config_set_cache_size(cmd_parms *cmd, void *mconfig,
                                         const char *entries);
const char *apikey_config_set_refresh(cmd_parms *cmd, void *mconfig,
                                      const char *interval);

/* Their slice of the command table (mod_authn_apikey.c). */
#define APIKEY_CONFIG_STORE_DIRECTIVES                                         \
    AP_INIT_TAKE1("AuthAPIKeyQuery", apikey_config_set_query, NULL,            \
                  RSRC_CONF | ACCESS_CONF,                                     \
                  "Look-up SQL for a legacy schema, with one %s for the "      \
                  "key's digest"),                                             \
        AP_INIT_TAKE12("AuthAPIKeyCacheTimeout",                               \
                       apikey_config_set_cache_timeout, NULL, RSRC_CONF,       \
                       "How long found keys (and, with negative=S, unknown "   \
                       "keys) are cached; 0: no cache"),                       \
        AP_INIT_TAKE1("AuthAPIKeyCacheSize", apikey_config_set_cache_size,     \
                      NULL, RSRC_CONF,                                         \
                      "Keys the look-up cache holds (0: no cache)"),           \
        AP_INIT_TAKE1("AuthAPIKeyRefresh", apikey_config_set_refresh, NULL,    \
                      RSRC_CONF,                                               \
                      "How often the store's change marker is polled (0: "     \
                      "never)")

#endif /* APIKEY_CONFIG_STORE_H */
