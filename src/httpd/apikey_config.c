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

/* Configuration structures, merge and directive handlers. */

#include "apikey_config.h"
#include "apikey_file.h"
#include "apikey_pepper.h"
#include "apikey_store.h"
#include "apikey_time.h"

#include "apr_network_io.h"
#include "apr_strings.h"
#include "http_config.h"

/* AuthAPIKeySource header:X-API-Key bearer */
static const apikey_source_t default_sources[] = {
    {APIKEY_SOURCE_HEADER, "X-API-Key"},
    {APIKEY_SOURCE_BEARER, NULL},
};

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

static apikey_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config,
                                &authn_apikey_module);
}

/* Seconds, or a duration with a unit ("500ms", "2s", "5m"). */
static const char *duration(cmd_parms *cmd, const char *what, const char *v,
                            apr_interval_time_t *out)
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

const char *apikey_config_set_cache_timeout(cmd_parms *cmd, void *mconfig,
                                            const char *ttl,
                                            const char *negative)
{
    apikey_srv_conf_t *conf = srv_conf(cmd);
    const char *err;

    (void)mconfig;
    if ((err =
             duration(cmd, "AuthAPIKeyCacheTimeout", ttl, &conf->cache_ttl))) {
        return err;
    }
    /* Not-found keys are kept no longer than found ones by default. */
    conf->cache_negative_ttl = conf->cache_ttl < APIKEY_CACHE_NEGATIVE_TTL
                                   ? conf->cache_ttl
                                   : APIKEY_CACHE_NEGATIVE_TTL;
    if (negative) {
        if (strncasecmp(negative, "negative=", 9)) {
            return apr_psprintf(cmd->pool,
                                "AuthAPIKeyCacheTimeout '%s': "
                                "expected negative=SECONDS",
                                negative);
        }
        if ((err = duration(cmd, "AuthAPIKeyCacheTimeout negative",
                            negative + 9, &conf->cache_negative_ttl))) {
            return err;
        }
    }
    conf->cache_ttl_set = 1;
    return NULL;
}

const char *apikey_config_set_cache_size(cmd_parms *cmd, void *mconfig,
                                         const char *entries)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;

    (void)mconfig;
    if (err) {
        return err;
    }
    n = strtol(entries, &end, 10);
    if (*end || end == entries || n < 0 || n > 16 * 1024 * 1024) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyCacheSize '%s': expected "
                            "a number of keys from 0 (no cache) to 16777216",
                            entries);
    }
    srv_conf(cmd)->cache_entries = (int)n;
    return NULL;
}

const char *apikey_config_set_refresh(cmd_parms *cmd, void *mconfig,
                                      const char *interval)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err) {
        return err;
    }
    return duration(cmd, "AuthAPIKeyRefresh", interval,
                    &srv_conf(cmd)->refresh);
}

const char *apikey_config_set_trusted_proxy(cmd_parms *cmd, void *mconfig,
                                            int argc, char *const argv[])
{
    apikey_srv_conf_t *conf = srv_conf(cmd);
    int i;

    (void)mconfig;
    if (argc < 1) {
        return "AuthAPIKeyTrustedProxy needs at least one address or "
               "network of a TLS-terminating proxy, as in 10.0.0.0/8";
    }
    conf->tls_proxies =
        apr_array_make(cmd->pool, argc, sizeof(apr_ipsubnet_t *));
    for (i = 0; i < argc; i++) {
        char *ip = apr_pstrdup(cmd->pool, argv[i]), *bits = strchr(ip, '/');
        apr_ipsubnet_t *net;
        apr_status_t rv;

        if (bits) {
            *bits++ = '\0';
        }
        rv = apr_ipsubnet_create(&net, ip, bits, cmd->pool);
        if (rv != APR_SUCCESS) {
            return apr_psprintf(cmd->pool,
                                "AuthAPIKeyTrustedProxy '%s': not an IP "
                                "address or network (as in 10.0.0.0/8 or "
                                "::1)",
                                argv[i]);
        }
        APR_ARRAY_PUSH(conf->tls_proxies, apr_ipsubnet_t *) = net;
    }
    return NULL;
}

const char *apikey_config_set_hash(cmd_parms *cmd, void *mconfig,
                                   const char *how, const char *file)
{
    apikey_srv_conf_t *conf = srv_conf(cmd);
    unsigned char *buf;
    char msg[256];
    const char *err;

    (void)mconfig;
    conf->hash_set = 1;
    if (!strcasecmp(how, "sha256")) {
        if (file) {
            return "AuthAPIKeyHash sha256 takes no file";
        }
        conf->pepper = NULL;
        conf->pepper_len = 0;
        return NULL;
    }
    if (strcasecmp(how, "hmac-sha256")) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyHash '%s': expected sha256 "
                            "or hmac-sha256 FILE",
                            how);
    }
    if (!file) {
        return "AuthAPIKeyHash hmac-sha256 needs the pepper FILE";
    }
    file = ap_server_root_relative(cmd->pool, file);
    buf = apr_palloc(cmd->pool, APIKEY_PEPPER_MAX);
    err = apikey_pepper_load(file, buf, &conf->pepper_len, msg, sizeof(msg));
    if (err) {
        return apr_pstrcat(cmd->pool, "AuthAPIKeyHash: ", err, NULL);
    }
    conf->pepper = buf;
    return NULL;
}

void *apikey_config_dir_create(apr_pool_t *p, char *dir)
{
    apikey_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->require_tls = -1;
    conf->any_format = -1;
    conf->limit_headers = -1;
    conf->limit_report = -1;
    conf->hide_credentials = -1;
    conf->identity_headers = -1;
    conf->status = -1;
    return conf;
}

void *apikey_config_dir_merge(apr_pool_t *p, void *basev, void *addv)
{
    const apikey_dir_conf_t *base = basev, *add = addv;
    apikey_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

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
    return conf;
}

const char *apikey_config_set_format(cmd_parms *cmd, void *mconfig,
                                     const char *format)
{
    apikey_dir_conf_t *conf = mconfig;

    if (!strcasecmp(format, "checksum")) {
        conf->any_format = 0;
    }
    else if (!strcasecmp(format, "any")) {
        conf->any_format = 1;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyFormat '%s': expected "
                            "checksum or any",
                            format);
    }
    return NULL;
}

const apikey_source_t *apikey_config_sources(const apikey_dir_conf_t *conf,
                                             int *n)
{
    if (conf && conf->sources) {
        *n = conf->nsources;
        return conf->sources;
    }
    *n = (int)(sizeof(default_sources) / sizeof(default_sources[0]));
    return default_sources;
}

static int same_source(const apikey_source_t *a, const apikey_source_t *b)
{
    if (a->kind != b->kind) {
        return 0;
    }
    return a->kind != APIKEY_SOURCE_HEADER || !strcasecmp(a->name, b->name);
}

int apikey_config_reads(const apikey_dir_conf_t *conf,
                        const apikey_source_t *src)
{
    const apikey_source_t *list;
    int i, n;

    list = apikey_config_sources(conf, &n);
    for (i = 0; i < n; i++) {
        if (list[i].kind == src->kind
            && (!src->name || !strcasecmp(list[i].name, src->name))) {
            return 1;
        }
    }
    return 0;
}

const char *apikey_config_set_sources(cmd_parms *cmd, void *mconfig, int argc,
                                      char *const argv[])
{
    apikey_dir_conf_t *conf = mconfig;
    apikey_source_t *list;
    int i, j;

    if (argc < 1) {
        return "AuthAPIKeySource needs at least one source: header:NAME, "
               "bearer, query:NAME or basic";
    }
    if (argc > APIKEY_SOURCES_MAX) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeySource takes at most %d sources",
                            APIKEY_SOURCES_MAX);
    }
    list = apr_pcalloc(cmd->pool, sizeof(*list) * (apr_size_t)argc);
    for (i = 0; i < argc; i++) {
        const char *err = apikey_source_parse(argv[i], &list[i]);

        if (err) {
            return apr_psprintf(cmd->pool, "AuthAPIKeySource '%s': %s", argv[i],
                                err);
        }
        for (j = 0; j < i; j++) {
            if (same_source(&list[i], &list[j])) {
                return apr_psprintf(cmd->pool,
                                    "AuthAPIKeySource: '%s' is listed twice",
                                    argv[i]);
            }
        }
    }
    conf->sources = list;
    conf->nsources = argc;
    return NULL;
}

const char *apikey_config_set_require_tls(cmd_parms *cmd, void *mconfig, int on)
{
    apikey_dir_conf_t *conf = mconfig;

    /* A tenant may ask for TLS, never waive what the server requires. */
    if (!on && ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL) {
        return "AuthAPIKeyRequireTLS Off is not allowed in .htaccess";
    }
    conf->require_tls = on;
    return NULL;
}

const char *apikey_config_set_tenants(cmd_parms *cmd, void *mconfig, int argc,
                                      char *const argv[])
{
    apikey_dir_conf_t *conf = mconfig;
    int i;

    if (argc < 1) {
        return "AuthAPIKeyTenant needs at least one owner (or owner "
               "prefix ending in '*')";
    }
    conf->tenants = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const char *star = strchr(argv[i], '*');

        if (star && star[1] != '\0') {
            return apr_psprintf(cmd->pool,
                                "AuthAPIKeyTenant '%s': '*' may only end an "
                                "owner prefix, as in 'shop42-*'",
                                argv[i]);
        }
        if (star == argv[i]) {
            return "AuthAPIKeyTenant '*' would admit every owner; leave the "
                   "directive out instead";
        }
        APR_ARRAY_PUSH(conf->tenants, const char *) = argv[i];
    }
    return NULL;
}

int apikey_config_tenant_ok(const apikey_dir_conf_t *conf, const char *owner)
{
    int i;

    if (!conf->tenants) {
        return 1;
    }
    for (i = 0; i < conf->tenants->nelts; i++) {
        const char *t = APR_ARRAY_IDX(conf->tenants, i, const char *);
        size_t n = strlen(t);

        if (t[n - 1] == '*' ? !strncmp(owner, t, n - 1) : !strcmp(owner, t)) {
            return 1;
        }
    }
    return 0;
}

const char *apikey_config_set_query(cmd_parms *cmd, void *mconfig,
                                    const char *sql)
{
    apikey_dir_conf_t *conf = mconfig;
    const apikey_query_t *q;
    const char *err = apikey_db_query(cmd->pool, sql, &q);

    if (err) {
        return err;
    }
    conf->query = q;
    return NULL;
}

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
                                    const char *quota)
{
    apikey_dir_conf_t *conf = mconfig;
    apikey_quota_t *q = apr_pcalloc(cmd->pool, sizeof(*q));
    const char *err;

    if (strcasecmp(quota, "none") && (err = apikey_quota_parse(quota, q))) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyQuota '%s': %s (as in "
                            "100000/month)",
                            quota, err);
    }
    conf->quota = q;
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
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long v;

    (void)mconfig;
    if (err) {
        return err;
    }
    v = strtol(n, &end, 10);
    if (*end || end == n || v < 1 || v > 16 * 1024 * 1024) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyLimitSlots '%s': expected "
                            "a number of keys from 1 to 16777216",
                            n);
    }
    srv_conf(cmd)->limit_slots = (int)v;
    return NULL;
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
    srv_conf(cmd)->state_file = ap_server_root_relative(cmd->pool, path);
    if (!srv_conf(cmd)->state_file) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyStateFile '%s': not a "
                            "usable path",
                            path);
    }
    /* The parent writes it as root at every stop: nobody else may choose
     * what that overwrites. */
    if ((err = apikey_file_check_private(srv_conf(cmd)->state_file, msg,
                                         sizeof(msg)))) {
        return apr_psprintf(cmd->pool, "AuthAPIKeyStateFile %s: %s",
                            srv_conf(cmd)->state_file, err);
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
    srv_conf(cmd)->quota_fallback = 0;
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
    srv_conf(cmd)->quota_fallback = fallback != NULL;
    if (!strcasecmp(store, "shm")) {
        srv_conf(cmd)->quota_store = APIKEY_QUOTA_STORE_SHM;
    }
    else if (!strcasecmp(store, "dbd")) {
        srv_conf(cmd)->quota_store = APIKEY_QUOTA_STORE_DBD;
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
    if (err || (err = duration(cmd, "AuthAPIKeyQuotaSync", interval, &v))) {
        return err;
    }
    if (v < apr_time_from_msec(100) || v > apr_time_from_sec(3600)) {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyQuotaSync '%s': expected from 100ms "
                            "to 1h",
                            interval);
    }
    srv_conf(cmd)->quota_sync = v;
    return NULL;
}
