/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The directives of rate limits, quotas, the failure limit, their headers
 * and mode, and where their counts are kept (the limit table, its state
 * file, the cluster-wide quota store). */
#ifndef APIKEY_CONFIG_LIMITS_H
#define APIKEY_CONFIG_LIMITS_H

#include <stddef.h>

#include "apikey_config.h"

/* AuthAPIKeyRateLimit and AuthAPIKeyFailureLimit: cmd->info is the offset
 * of the field it sets. */
const char *apikey_config_set_rate(cmd_parms *cmd, void *mconfig,
                                   const char *rate, const char *burst);
const char *apikey_config_set_quota(cmd_parms *cmd, void *mconfig,
                                    const char *w1, const char *w2,
                                    const char *w3);
const char *apikey_config_set_limit_headers(cmd_parms *cmd, void *mconfig,
                                            const char *how);
const char *apikey_config_set_limit_mode(cmd_parms *cmd, void *mconfig,
                                         const char *mode);
const char *apikey_config_set_limit_name(cmd_parms *cmd, void *mconfig,
                                         const char *name);
const char *apikey_config_set_limit_by(cmd_parms *cmd, void *mconfig,
                                       const char *by);
const char *apikey_config_set_limit_slots(cmd_parms *cmd, void *mconfig,
                                          const char *n);
const char *apikey_config_set_state_file(cmd_parms *cmd, void *mconfig,
                                         const char *path);
const char *apikey_config_set_quota_store(cmd_parms *cmd, void *mconfig,
                                          const char *store,
                                          const char *fallback);
const char *apikey_config_set_quota_sync(cmd_parms *cmd, void *mconfig,
                                         const char *interval);

/* Their slice of the command table (mod_authn_apikey.c). */
#define APIKEY_CONFIG_LIMITS_DIRECTIVES                                        \
    AP_INIT_TAKE12("AuthAPIKeyRateLimit", apikey_config_set_rate,              \
                   (void *)offsetof(apikey_dir_conf_t, rate),                  \
                   RSRC_CONF | ACCESS_CONF,                                    \
                   "Rate limit for keys without their own: N/s, N/m or N/h "   \
                   "[burst=B], or none"),                                      \
        AP_INIT_TAKE12("AuthAPIKeyFailureLimit", apikey_config_set_rate,       \
                       (void *)offsetof(apikey_dir_conf_t, failure_rate),      \
                       RSRC_CONF | ACCESS_CONF,                                \
                       "Failed authentications a client address may make: "    \
                       "N/s, N/m or N/h [burst=B], or off"),                   \
        AP_INIT_TAKE123(                                                       \
            "AuthAPIKeyQuota", apikey_config_set_quota,                        \
            (void *)offsetof(apikey_dir_conf_t, quota),                        \
            RSRC_CONF | ACCESS_CONF,                                           \
            "Quota for keys without their own: N/hour, N/day and/or "          \
            "N/month (UTC), or none"),                                         \
        AP_INIT_TAKE12("AuthAPIKeyAnonymousRateLimit", apikey_config_set_rate, \
                       (void *)offsetof(apikey_dir_conf_t, anon_rate),         \
                       RSRC_CONF | ACCESS_CONF,                                \
                       "Rate limit of anonymous requests per client "          \
                       "address: N/s, N/m or N/h [burst=B], or none"),         \
        AP_INIT_TAKE123("AuthAPIKeyAnonymousQuota", apikey_config_set_quota,   \
                        (void *)offsetof(apikey_dir_conf_t, anon_quota),       \
                        RSRC_CONF | ACCESS_CONF,                               \
                        "Quota of anonymous requests per client address: "     \
                        "N/hour, N/day or N/month (UTC), or none"),            \
        AP_INIT_TAKE1("AuthAPIKeyLimitHeaders",                                \
                      apikey_config_set_limit_headers, NULL,                   \
                      RSRC_CONF | ACCESS_CONF,                                 \
                      "RateLimit headers: On (IETF draft), Legacy, Both or "   \
                      "Off"),                                                  \
        AP_INIT_TAKE1("AuthAPIKeyLimitMode", apikey_config_set_limit_mode,     \
                      NULL, RSRC_CONF | ACCESS_CONF,                           \
                      "enforce limits, or report (count and log, never "       \
                      "refuse)"),                                              \
        AP_INIT_TAKE1("AuthAPIKeyLimitName", apikey_config_set_limit_name,     \
                      NULL, RSRC_CONF | ACCESS_CONF,                           \
                      "The budget requests here spend: a name of its own "     \
                      "(counted apart from the key's other budgets), or "      \
                      "none"),                                                 \
        AP_INIT_TAKE1("AuthAPIKeyLimitBy", apikey_config_set_limit_by, NULL,   \
                      RSRC_CONF | ACCESS_CONF,                                 \
                      "Whose budget requests here spend: the key's (key, the " \
                      "default) or its owner's, shared by all its keys "       \
                      "(owner)"),                                              \
        AP_INIT_TAKE1("AuthAPIKeyLimitSlots", apikey_config_set_limit_slots,   \
                      NULL, RSRC_CONF, "Keys the shared limit table holds"),   \
        AP_INIT_TAKE1("AuthAPIKeyStateFile", apikey_config_set_state_file,     \
                      NULL, RSRC_CONF,                                         \
                      "File keeping the limit counters across a stop and "     \
                      "start"),                                                \
        AP_INIT_TAKE12("AuthAPIKeyQuotaStore", apikey_config_set_quota_store,  \
                       NULL, RSRC_CONF,                                        \
                       "Where period quotas are counted: shm (this server) "   \
                       "or dbd (the key store, shared by a fleet) "            \
                       "[fallback=local]"),                                    \
        AP_INIT_TAKE1("AuthAPIKeyQuotaSync", apikey_config_set_quota_sync,     \
                      NULL, RSRC_CONF,                                         \
                      "How often unused units of cluster-wide quotas go back " \
                      "to the key store (default 1s)")

#endif /* APIKEY_CONFIG_LIMITS_H */
