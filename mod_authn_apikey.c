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

/* mod_authn_apikey: API keys for Apache httpd.  This file is the module's
 * glue only (the directive table and the hooks); the work is in src/. */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include "apikey_authn.h"
#include "apikey_authz.h"
#include "apikey_config.h"
#include "apikey_failure.h"
#include "apikey_key.h"
#include "apikey_cache.h"
#include "apikey_logno.h"
#include "apikey_logcap.h"
#include "apikey_logging.h"
#include "apikey_basic_provider.h"
#include "apikey_limits.h"
#include "apikey_quota_sync.h"
#include "apikey_refresh.h"
#include "apikey_counters.h"
#include "apikey_status.h"
#include "apikey_store.h"

/* offsetof, not APR_OFFSETOF: without <stddef.h> before APR's headers that
 * macro subtracts null pointers, undefined behaviour clang warns about. */
#include <stddef.h>

static const command_rec apikey_cmds[] = {
    AP_INIT_TAKE_ARGV("AuthAPIKeySource", apikey_config_set_sources, NULL,
                      OR_AUTHCFG,
                      "Where API keys are read from, in order: header:NAME, "
                      "bearer, query:NAME, basic"),
    AP_INIT_FLAG("AuthAPIKeyRequireTLS", apikey_config_set_require_tls, NULL,
                 RSRC_CONF | OR_AUTHCFG,
                 "Refuse keys sent over plain HTTP (On in .htaccess only)"),
    AP_INIT_TAKE_ARGV("AuthAPIKeyTrustedProxy", apikey_config_set_trusted_proxy,
                      NULL, RSRC_CONF,
                      "Addresses of TLS-terminating proxies whose "
                      "X-Forwarded-Proto: https marks a request as TLS"),
    AP_INIT_TAKE12("AuthAPIKeyHash", apikey_config_set_hash, NULL, RSRC_CONF,
                   "How keys are stored: sha256, or hmac-sha256 PEPPER-FILE"),
    AP_INIT_TAKE1("AuthAPIKeyQuery", apikey_config_set_query, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Look-up SQL for a legacy schema, with one %s for the "
                  "key's digest"),
    AP_INIT_TAKE12("AuthAPIKeyCacheTimeout", apikey_config_set_cache_timeout,
                   NULL, RSRC_CONF,
                   "How long found keys (and, with negative=S, unknown keys) "
                   "are cached; 0: no cache"),
    AP_INIT_TAKE1("AuthAPIKeyCacheSize", apikey_config_set_cache_size, NULL,
                  RSRC_CONF, "Keys the look-up cache holds (0: no cache)"),
    AP_INIT_TAKE1("AuthAPIKeyRefresh", apikey_config_set_refresh, NULL,
                  RSRC_CONF,
                  "How often the store's change marker is polled (0: never)"),
    AP_INIT_TAKE12("AuthAPIKeyRateLimit", apikey_config_set_rate,
                   (void *)offsetof(apikey_dir_conf_t, rate),
                   RSRC_CONF | ACCESS_CONF,
                   "Rate limit for keys without their own: N/s, N/m or N/h "
                   "[burst=B], or none"),
    AP_INIT_TAKE12("AuthAPIKeyFailureLimit", apikey_config_set_rate,
                   (void *)offsetof(apikey_dir_conf_t, failure_rate),
                   RSRC_CONF | ACCESS_CONF,
                   "Failed authentications a client address may make: N/s, "
                   "N/m or N/h [burst=B], or off"),
    AP_INIT_TAKE1("AuthAPIKeyQuota", apikey_config_set_quota, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Quota for keys without their own: N/hour, N/day or "
                  "N/month (UTC), or none"),
    AP_INIT_TAKE1("AuthAPIKeyLimitHeaders", apikey_config_set_limit_headers,
                  NULL, RSRC_CONF | ACCESS_CONF,
                  "RateLimit headers: On (IETF draft), Legacy, Both or Off"),
    AP_INIT_TAKE1("AuthAPIKeyLimitMode", apikey_config_set_limit_mode, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "enforce limits, or report (count and log, never refuse)"),
    AP_INIT_TAKE1("AuthAPIKeyLimitSlots", apikey_config_set_limit_slots, NULL,
                  RSRC_CONF, "Keys the shared limit table holds"),
    AP_INIT_TAKE1("AuthAPIKeyStateFile", apikey_config_set_state_file, NULL,
                  RSRC_CONF,
                  "File keeping the limit counters across a stop and start"),
    AP_INIT_TAKE12("AuthAPIKeyQuotaStore", apikey_config_set_quota_store, NULL,
                   RSRC_CONF,
                   "Where period quotas are counted: shm (this server) or dbd "
                   "(the key store, shared by a fleet) [fallback=local]"),
    AP_INIT_TAKE1("AuthAPIKeyQuotaSync", apikey_config_set_quota_sync, NULL,
                  RSRC_CONF,
                  "How often unused units of cluster-wide quotas go back to "
                  "the key store (default 1s)"),
    AP_INIT_TAKE1("AuthAPIKeyFormat", apikey_config_set_format, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "checksum (reject malformed keys before any I/O) or any "
                  "(legacy keys)"),
    AP_INIT_FLAG("AuthAPIKeyHideCredentials", ap_set_flag_slot,
                 (void *)offsetof(apikey_dir_conf_t, hide_credentials),
                 OR_AUTHCFG,
                 "Remove the key from headers, query and request line before "
                 "handlers and backends see it (default On)"),
    AP_INIT_FLAG("AuthAPIKeyIdentityHeaders", ap_set_flag_slot,
                 (void *)offsetof(apikey_dir_conf_t, identity_headers),
                 OR_AUTHCFG,
                 "Pass X-APIKey-Id, -Owner and -Scopes request headers to "
                 "backends (default Off)"),
    AP_INIT_FLAG("AuthAPIKeyStatus", ap_set_flag_slot,
                 (void *)offsetof(apikey_dir_conf_t, status),
                 RSRC_CONF | ACCESS_CONF,
                 "Let SetHandler apikey-status serve here (default Off; "
                 "never from .htaccess)"),
    AP_INIT_TAKE_ARGV("AuthAPIKeyTenant", apikey_config_set_tenants, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "Owners (or owner prefixes ending in *) whose keys are "
                      "valid here"),
    {0}};

static int apikey_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    apikey_db_reset(pconf);
    apikey_logging_pre_config(pconf);
    return OK;
}

/* The module is unloaded at a restart: what it fetched goes with pconf. */
static apr_status_t digest_done(void *unused)
{
    (void)unused;
    apikey_digest_done();
    return APR_SUCCESS;
}

static int apikey_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    if (apikey_store_init() != 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     APIKEY_LOGNO(00009) "mod_authn_apikey needs "
                                         "mod_dbd: add 'LoadModule "
                                         "dbd_module modules/mod_dbd.so'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apikey_authn_init();
    if (apikey_digest_init() == 0) {
        apr_pool_cleanup_register(pconf, NULL, digest_done,
                                  apr_pool_cleanup_null);
    }
    /* Shared memory and the poller belong to the real pass, not the dry
     * run that precedes it at start-up. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    apikey_store_identify(s);
    apikey_logcap_init(pconf, s);
    if (apikey_cache_init(pconf, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apikey_refresh_init(pconf, s);
    apikey_logging_post_config();
    apikey_counters_init(s);
    if (apikey_failure_init(s) != 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apikey_limits_init(pconf, s) != 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return apikey_quota_sync_init(pconf, s) == 0 ? OK
                                                 : HTTP_INTERNAL_SERVER_ERROR;
}

/* The Require providers: Require apikey, apikey-scope, apikey-id... */
static const struct {
    const char *name;
    const authz_provider *provider;
} apikey_providers[] = {
    {"apikey", &apikey_authz_any},
    {"apikey-scope", &apikey_authz_scope},
    {"apikey-id", &apikey_authz_id},
    {"apikey-owner", &apikey_authz_owner},
};

static void apikey_register_hooks(apr_pool_t *p)
{
    static const char *const watchdog_after[] = {"mod_watchdog.c", NULL};
    size_t i;

    ap_hook_pre_config(apikey_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before mod_watchdog's post_config, which starts what is registered. */
    ap_hook_post_config(apikey_post_config, NULL, watchdog_after,
                        APR_HOOK_MIDDLE);
    /* After each of httpd's section walks, before anything traces the
     * request: a section's LogLevel may not write the key. */
    ap_hook_pre_translate_name(apikey_logcap_request, NULL, NULL,
                               APR_HOOK_REALLY_FIRST);
    ap_hook_translate_name(apikey_logcap_request, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_post_perdir_config(apikey_logcap_request, NULL, NULL,
                               APR_HOOK_REALLY_FIRST);
    ap_hook_check_authn(apikey_authn_check, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* First in fixups: after authorization, before anything else spends
     * work on a request that may be over its limits. */
    ap_hook_fixups(apikey_limits_fixups, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(apikey_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_create_request(apikey_logging_guard, NULL, NULL,
                           APR_HOOK_REALLY_LAST);
    ap_hook_post_read_request(apikey_logging_guard, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(apikey_logging_count, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_note_auth_failure(apikey_authn_note_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_check_authz(apikey_authz_forbid, NULL, NULL, APR_HOOK_REALLY_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "apikey",
                              AUTHN_PROVIDER_VERSION, &apikey_basic_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    for (i = 0; i < sizeof(apikey_providers) / sizeof(apikey_providers[0]);
         i++) {
        ap_register_auth_provider(
            p, AUTHZ_PROVIDER_GROUP, apikey_providers[i].name,
            AUTHZ_PROVIDER_VERSION, apikey_providers[i].provider,
            AP_AUTH_INTERNAL_PER_CONF);
    }
}

/* clang-format off: the module record in httpd's own layout */
AP_DECLARE_MODULE(authn_apikey) = {
    STANDARD20_MODULE_STUFF, apikey_config_dir_create, apikey_config_dir_merge,
    apikey_config_srv_create, apikey_config_srv_merge, apikey_cmds,
    apikey_register_hooks,
    /* Every virtual host gets a server config of its own, even without a
     * directive of ours: the cache tells stores apart by it, and a host
     * with its own DBDParams must never be answered from another's. */
    AP_MODULE_FLAG_ALWAYS_MERGE};
/* clang-format on */
