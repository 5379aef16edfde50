/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * mod_authn_apikey: API keys for Apache httpd.  This file is the module's
 * glue only (the directive table and the hooks); the work is in src/. */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include "apikey_tls.h"
#include "apikey_version.h"
#include "apikey_authn.h"
#include "apikey_authz.h"
#include "apikey_config.h"
#include "apikey_config_keys.h"
#include "apikey_config_limits.h"
#include "apikey_config_store.h"
#include "apikey_errors.h"
#include "apikey_failure.h"
#include "apikey_key.h"
#include "apikey_cache.h"
#include "apikey_logno.h"
#include "apikey_logcap.h"
#include "apikey_logging.h"
#include "apikey_bandwidth.h"
#include "apikey_basic_provider.h"
#include "apikey_budget.h"
#include "apikey_limits.h"
#include "apikey_quota_sync.h"
#include "apikey_refresh.h"
#include "apikey_counters.h"
#include "apikey_status.h"
#include "apikey_store.h"
#include "apikey_usage.h"
#include "apikey_watchdog.h"

/* The directives, each slice beside its handlers. */
static const command_rec apikey_cmds[] = {APIKEY_CONFIG_KEYS_DIRECTIVES,
                                          APIKEY_CONFIG_STORE_DIRECTIVES,
                                          APIKEY_CONFIG_LIMITS_DIRECTIVES,
                                          APIKEY_STATUS_DIRECTIVES,
                                          APIKEY_ERRORS_DIRECTIVES,
                                          APIKEY_USAGE_DIRECTIVES,
                                          {0}};

static int apikey_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    apikey_db_reset(pconf);
    apikey_logging_pre_config(pconf);
    apikey_budget_pre_config(pconf);
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
    /* In httpd's description, so that the start-up line (AH00489) and
     * ServerTokens Full name this module's version as mod_ssl's does. */
    ap_add_version_component(pconf, "mod_authn_apikey/" APIKEY_VERSION);
    apikey_tls_init();
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
    apikey_counters_init(s);
    if (apikey_failure_init(s) != 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apikey_limits_init(pconf, s) != 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apikey_quota_sync_init(pconf, s) != 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return apikey_usage_init(pconf, s) == 0 ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* The Require providers: Require apikey, apikey-scope, apikey-id... */
static const struct {
    const char *name;
    const authz_provider *provider;
} apikey_providers[] = {
    {"apikey", &apikey_authz_any},
    {"apikey-anonymous", &apikey_authz_anonymous},
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
    /* Before mod_watchdog's child_init, which starts the threads (the
     * quota sync counts its statements in this child's row). */
    ap_hook_child_init(apikey_counters_child_init, NULL, watchdog_after,
                       APR_HOOK_MIDDLE);
    ap_hook_child_init(apikey_watchdog_child_init, NULL, watchdog_after,
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
    /* Last: after mod_env's SetEnv, whose rate-limit it may lower. */
    ap_hook_fixups(apikey_bandwidth_fixups, NULL, NULL, APR_HOOK_LAST);
    ap_hook_handler(apikey_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    apikey_errors_register();
    ap_hook_insert_error_filter(apikey_errors_insert_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_hook_post_config(apikey_logging_post_config, NULL, NULL,
                        APR_HOOK_REALLY_LAST);
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
