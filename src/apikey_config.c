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
#include "apikey_pepper.h"
#include "apikey_store.h"

#include "apr_strings.h"
#include "http_config.h"

/* AuthAPIKeySource header:X-API-Key bearer */
static const apikey_source_t default_sources[] = {
    {APIKEY_SOURCE_HEADER, "X-API-Key"},
    {APIKEY_SOURCE_BEARER, NULL},
};

void *apikey_config_srv_create(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return apr_pcalloc(p, sizeof(apikey_srv_conf_t));
}

void *apikey_config_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    const apikey_srv_conf_t *base = basev, *add = addv;
    apikey_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    *conf = add->hash_set ? *add : *base;
    conf->hash_set = add->hash_set || base->hash_set;
    return conf;
}

const char *apikey_config_set_hash(cmd_parms *cmd, void *mconfig,
                                   const char *how, const char *file)
{
    apikey_srv_conf_t *conf =
        ap_get_module_config(cmd->server->module_config, &authn_apikey_module);
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
    conf->hide_credentials = -1;
    conf->identity_headers = -1;
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
    conf->query = add->query ? add->query : base->query;
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
    const char *err = apikey_store_query(cmd->pool, sql, &q);

    if (err) {
        return err;
    }
    conf->query = q;
    return NULL;
}
