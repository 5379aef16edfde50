/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The configuration's structures: creation and merge of the per-server
 * and per-directory settings, and what the directive handlers of
 * apikey_config_keys.c, apikey_config_store.c and apikey_config_limits.c
 * share. */

#include "apikey_config.h"
#include "apikey_time.h"

#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "http_config.h"

void *apikey_config_srv_create(apr_pool_t *p, server_rec *s)
{
    apikey_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->cache_ttl = APIKEY_CACHE_TTL;
    conf->cache_negative_ttl = APIKEY_CACHE_NEGATIVE_TTL;
    conf->cache_entries = APIKEY_CACHE_ENTRIES;
    conf->refresh = APIKEY_REFRESH;
    conf->limit_slots = APIKEY_LIMIT_SLOTS;
    conf->quota_sync = APIKEY_QUOTA_SYNC;
    return conf;
}

void *apikey_config_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    const apikey_srv_conf_t *base = basev, *add = addv;
    apikey_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    if (add->hash_set) {
        conf->pepper = add->pepper;
        conf->pepper_len = add->pepper_len;
    }
    else {
        conf->pepper = base->pepper;
        conf->pepper_len = base->pepper_len;
    }
    conf->hash_set = add->hash_set || base->hash_set;
    if (add->cache_ttl_set) {
        conf->cache_ttl = add->cache_ttl;
        conf->cache_negative_ttl = add->cache_negative_ttl;
    }
    else {
        conf->cache_ttl = base->cache_ttl;
        conf->cache_negative_ttl = base->cache_negative_ttl;
    }
    conf->cache_ttl_set = add->cache_ttl_set || base->cache_ttl_set;
    /* Global settings are read from the main server only. */
    conf->cache_entries = base->cache_entries;
    conf->refresh = base->refresh;
    conf->limit_slots = base->limit_slots;
    conf->state_file = base->state_file;
    conf->quota_sync = base->quota_sync;
    conf->tls_proxies = add->tls_proxies ? add->tls_proxies : base->tls_proxies;
    if (add->quota_store) {
        conf->quota_store = add->quota_store;
        conf->quota_fallback = add->quota_fallback;
    }
    else {
        conf->quota_store = base->quota_store;
        conf->quota_fallback = base->quota_fallback;
    }
    return conf;
}

apikey_srv_conf_t *apikey_config_srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config,
                                &authn_apikey_module);
}

const char *apikey_config_duration(cmd_parms *cmd, const char *what,
                                   const char *v, apr_interval_time_t *out)
{
    long long usec;

    if (apikey_duration_parse(v, &usec)) {
        return apr_psprintf(cmd->pool,
                            "%s '%s': expected seconds, or a "
                            "number with ms, s, m or h",
                            what, v);
    }
    *out = (apr_interval_time_t)usec;
    return NULL;
}

/* A section's settings before any directive: what every section starts
 * from, and what merging compares with. */
static void dir_unset(apikey_dir_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->require_tls = -1;
    conf->any_format = -1;
    conf->limit_headers = -1;
    conf->limit_report = -1;
    conf->hide_credentials = -1;
    conf->identity_headers = -1;
    conf->status = -1;
    conf->error_format = -1;
    conf->anonymous = -1;
    conf->limit_by = -1;
}

/* What sets_nothing compares with, made by the first section created:
 * the server's own, while the configuration is read and before any thread
 * runs (an .htaccess section, created during a request, only reads it). */
static apikey_dir_conf_t unset_conf;
static int have_unset_conf;

void *apikey_config_dir_create(apr_pool_t *p, char *dir)
{
    apikey_dir_conf_t *conf = apr_palloc(p, sizeof(*conf));

    (void)dir;
    if (!have_unset_conf) {
        dir_unset(&unset_conf);
        have_unset_conf = 1;
    }
    dir_unset(conf);
    return conf;
}

/* Whether conf sets nothing: every field as dir_unset left it.  Both were
 * zeroed whole first; should a directive's store ever disturb padding, the
 * bytes differ and the merge is a copy, which is right, only slower. */
static int sets_nothing(const apikey_dir_conf_t *conf)
{
    return !memcmp(conf, &unset_conf, sizeof(unset_conf));
}

void *apikey_config_dir_merge(apr_pool_t *p, void *basev, void *addv)
{
    const apikey_dir_conf_t *base = basev, *add = addv;
    apikey_dir_conf_t *conf;

    /* httpd merges a <Directory> with the server's settings for every
     * request: where one side sets nothing (the server's, as a rule), the
     * merge is the other side as it stands, and needs no copy.  Nothing
     * writes a section's settings once they are read. */
    if (sets_nothing(base)) {
        return addv;
    }
    if (sets_nothing(add)) {
        return basev;
    }
    conf = apr_pcalloc(p, sizeof(*conf));

    /* A list set in the child replaces the parent's, as AuthBasicProvider's
     * does: appending would let an inner section widen an outer policy. */
    if (add->sources) {
        conf->sources = add->sources;
        conf->nsources = add->nsources;
    }
    else {
        conf->sources = base->sources;
        conf->nsources = base->nsources;
    }
    conf->require_tls =
        add->require_tls != -1 ? add->require_tls : base->require_tls;
    conf->tenants = add->tenants ? add->tenants : base->tenants;
    conf->any_format =
        add->any_format != -1 ? add->any_format : base->any_format;
    conf->hide_credentials = add->hide_credentials != -1
                                 ? add->hide_credentials
                                 : base->hide_credentials;
    conf->identity_headers = add->identity_headers != -1
                                 ? add->identity_headers
                                 : base->identity_headers;
    conf->status = add->status != -1 ? add->status : base->status;
    conf->query = add->query ? add->query : base->query;
    conf->rate = add->rate ? add->rate : base->rate;
    conf->quota = add->quota ? add->quota : base->quota;
    conf->failure_rate =
        add->failure_rate ? add->failure_rate : base->failure_rate;
    conf->limit_headers =
        add->limit_headers != -1 ? add->limit_headers : base->limit_headers;
    conf->limit_report =
        add->limit_report != -1 ? add->limit_report : base->limit_report;
    conf->error_format =
        add->error_format != -1 ? add->error_format : base->error_format;
    conf->anonymous = add->anonymous != -1 ? add->anonymous : base->anonymous;
    if (add->limit_name) {
        conf->limit_name = add->limit_name;
        conf->limit_budget = add->limit_budget;
    }
    else {
        conf->limit_name = base->limit_name;
        conf->limit_budget = base->limit_budget;
    }
    conf->limit_by = add->limit_by != -1 ? add->limit_by : base->limit_by;
    conf->anon_rate = add->anon_rate ? add->anon_rate : base->anon_rate;
    conf->anon_quota = add->anon_quota ? add->anon_quota : base->anon_quota;
    return conf;
}

const char *apikey_config_keys(cmd_parms *cmd, const char *v, long min,
                               const char *zero, int *out)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;

    if (err) {
        return err;
    }
    n = strtol(v, &end, 10);
    if (*end || end == v || n < min || n > 16 * 1024 * 1024) {
        return apr_psprintf(cmd->pool,
                            "%s '%s': expected a number of keys from %ld%s%s%s "
                            "to 16777216",
                            cmd->cmd->name, v, min, zero ? " (" : "",
                            zero ? zero : "", zero ? ")" : "");
    }
    *out = (int)n;
    return NULL;
}
