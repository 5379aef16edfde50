/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The directives of rate limits, quotas and where they are kept (see
 * apikey_config_limits.h). */

#include "apikey_config_limits.h"
#include "apikey_file.h"
#include "apikey_limit.h"
#include "apikey_budget.h"

#include "apr_lib.h"

#include "apr_strings.h"
#include "http_config.h"

const char *apikey_config_set_rate(cmd_parms *cmd, void *mconfig,
                                   const char *rate, const char *burst)
{
    const apikey_rate_t **field =
        (const apikey_rate_t **)((char *)mconfig + (size_t)cmd->info);
    const char *name = cmd->cmd->name;
    apikey_rate_t *r = apr_pcalloc(cmd->pool, sizeof(*r));
    long long b = 0;
    const char *err;
    char *end;

    if (!strcasecmp(rate, "none") || !strcasecmp(rate, "off")) {
        if (burst) {
            return apr_psprintf(cmd->pool, "%s %s takes no burst", name, rate);
        }
        *field = r; /* interval 0: no limit */
        return NULL;
    }
    if (burst) {
        if (strncasecmp(burst, "burst=", 6)) {
            return apr_psprintf(cmd->pool, "%s '%s': expected burst=N", name,
                                burst);
        }
        b = strtoll(burst + 6, &end, 10);
        if (*end || end == burst + 6 || b < 1) {
            return apr_psprintf(cmd->pool,
                                "%s '%s': the burst is a number, "
                                "at least 1",
                                name, burst);
        }
    }
    if ((err = apikey_rate_parse(rate, b, r))) {
        return apr_psprintf(cmd->pool,
                            "%s '%s': %s (as in 20/s, 600/m, 1000/h)", name,
                            rate, err);
    }
    *field = r;
    return NULL;
}

const char *apikey_config_set_quota(cmd_parms *cmd, void *mconfig,
                                    const char *w1, const char *w2,
                                    const char *w3)
{
    const apikey_quotas_t **field =
        (const apikey_quotas_t **)((char *)mconfig + (size_t)cmd->info);
    apikey_quotas_t *q = apr_pcalloc(cmd->pool, sizeof(*q));
    const char *all = apr_pstrcat(cmd->pool, w1, w2 ? " " : "", w2 ? w2 : "",
                                  w3 ? " " : "", w3 ? w3 : "", NULL);
    const char *err;

    if (!strcasecmp(w1, "none") && !w2) {
        *field = q; /* n 0: none */
        return NULL;
    }
    if ((err = apikey_quotas_parse(all, q))) {
        return apr_psprintf(cmd->pool,
                            "%s '%s': %s (as in 100000/month, or "
                            "1000/hour 20000/day)",
                            cmd->cmd->name, all, err);
    }
    *field = q;
    return NULL;
}

const char *apikey_config_set_limit_headers(cmd_parms *cmd, void *mconfig,
                                            const char *how)
{
    apikey_dir_conf_t *conf = mconfig;

    if (!strcasecmp(how, "off")) {
        conf->limit_headers = 0;
    }
    else if (!strcasecmp(how, "on") || !strcasecmp(how, "draft")) {
        conf->limit_headers = APIKEY_HEADERS_DRAFT;
    }
    else if (!strcasecmp(how, "legacy")) {
        conf->limit_headers = APIKEY_HEADERS_LEGACY;
    }
    else if (!strcasecmp(how, "both")) {
        conf->limit_headers = APIKEY_HEADERS_DRAFT | APIKEY_HEADERS_LEGACY;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyLimitHeaders '%s': expected "
                            "On, Off, Legacy or Both",
                            how);
    }
    return NULL;
}

/* The longest AuthAPIKeyLimitName: a policy name of the RateLimit headers
 * and a column of the status page. */
#define LIMIT_NAME_MAX 32

const char *apikey_config_set_limit_name(cmd_parms *cmd, void *mconfig,
                                         const char *name)
{
    apikey_dir_conf_t *conf = mconfig;
    const char *c, *other;

    if (!strcasecmp(name, "none")) {
        conf->limit_name = ""; /* the key's one budget again */
        conf->limit_budget = 0;
        return NULL;
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
            break;
        }
    }
    if (*c || c == name || c - name > LIMIT_NAME_MAX) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyLimitName '%s': a budget's name is 1 "
                            "to %d letters, digits, '-' or '_' (it names "
                            "RateLimit policies), or none",
                            name, LIMIT_NAME_MAX);
    }
    conf->limit_name = name;
    conf->limit_budget = apikey_budget_number(cmd->pool, name, &other);
    if (other) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyLimitName '%s': its number is that of "
                            "the budget '%s' (they would share their "
                            "counters); rename one of them",
                            name, other);
    }
    return NULL;
}

const char *apikey_config_set_limit_by(cmd_parms *cmd, void *mconfig,
                                       const char *by)
{
    apikey_dir_conf_t *conf = mconfig;

    if (!strcasecmp(by, "key")) {
        conf->limit_by = 0;
    }
    else if (!strcasecmp(by, "owner")) {
        conf->limit_by = 1;
    }
    else {
        return apr_psprintf(
            cmd->pool, "AuthAPIKeyLimitBy '%s': expected key or owner", by);
    }
    return NULL;
}

const char *apikey_config_set_limit_mode(cmd_parms *cmd, void *mconfig,
                                         const char *mode)
{
    apikey_dir_conf_t *conf = mconfig;

    if (!strcasecmp(mode, "enforce")) {
        conf->limit_report = 0;
    }
    else if (!strcasecmp(mode, "report")) {
        conf->limit_report = 1;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyLimitMode '%s': expected "
                            "enforce or report",
                            mode);
    }
    return NULL;
}

const char *apikey_config_set_limit_slots(cmd_parms *cmd, void *mconfig,
                                          const char *n)
{
    (void)mconfig;
    return apikey_config_keys(cmd, n, 1, NULL,
                              &apikey_config_srv(cmd)->limit_slots);
}

const char *apikey_config_set_state_file(cmd_parms *cmd, void *mconfig,
                                         const char *path)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char msg[512];

    (void)mconfig;
    if (err) {
        return err;
    }
    apikey_config_srv(cmd)->state_file =
        ap_server_root_relative(cmd->pool, path);
    if (!apikey_config_srv(cmd)->state_file) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyStateFile '%s': not a "
                            "usable path",
                            path);
    }
    /* The parent writes it as root at every stop: nobody else may choose
     * what that overwrites. */
    if ((err = apikey_file_check_private(apikey_config_srv(cmd)->state_file,
                                         msg, sizeof(msg)))) {
        return apr_psprintf(cmd->pool, "AuthAPIKeyStateFile %s: %s",
                            apikey_config_srv(cmd)->state_file, err);
    }
    return NULL;
}

const char *apikey_config_set_quota_store(cmd_parms *cmd, void *mconfig,
                                          const char *store,
                                          const char *fallback)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)mconfig;
    if (err) {
        return err;
    }
    apikey_config_srv(cmd)->quota_fallback = 0;
    if (fallback
        && (strcasecmp(store, "dbd")
            || strcasecmp(fallback, "fallback=local"))) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyQuotaStore %s '%s': expected "
                            "'AuthAPIKeyQuotaStore dbd fallback=local' (count "
                            "on this server while the key store does not "
                            "answer)",
                            store, fallback);
    }
    apikey_config_srv(cmd)->quota_fallback = fallback != NULL;
    if (!strcasecmp(store, "shm")) {
        apikey_config_srv(cmd)->quota_store = APIKEY_QUOTA_STORE_SHM;
    }
    else if (!strcasecmp(store, "dbd")) {
        apikey_config_srv(cmd)->quota_store = APIKEY_QUOTA_STORE_DBD;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyQuotaStore '%s': expected shm (this "
                            "server's shared memory) or dbd (the key store's "
                            "apikey_quota table, shared by a fleet)",
                            store);
    }
    return NULL;
}

const char *apikey_config_set_quota_sync(cmd_parms *cmd, void *mconfig,
                                         const char *interval)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t v = 0;

    (void)mconfig;
    if (err
        || (err = apikey_config_duration(cmd, "AuthAPIKeyQuotaSync", interval,
                                         &v))) {
        return err;
    }
    if (v < apr_time_from_msec(100) || v > apr_time_from_sec(3600)) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyQuotaSync '%s': expected from 100ms "
                            "to 1h",
                            interval);
    }
    apikey_config_srv(cmd)->quota_sync = v;
    return NULL;
}
