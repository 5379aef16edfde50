/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The directives of where keys come from and what they must be (see
 * apikey_config_keys.h). */

#include "apikey_config_keys.h"
#include "apikey_pepper.h"

#include "apr_network_io.h"
#include "apr_strings.h"
#include "http_config.h"

/* AuthAPIKeySource header:X-API-Key bearer */
static const apikey_source_t default_sources[] = {
    {APIKEY_SOURCE_HEADER, "X-API-Key"},
    {APIKEY_SOURCE_BEARER, NULL},
};

const char *apikey_config_set_trusted_proxy(cmd_parms *cmd, void *mconfig,
                                            int argc, char *const argv[])
{
    apikey_srv_conf_t *conf = apikey_config_srv(cmd);
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
    apikey_srv_conf_t *conf = apikey_config_srv(cmd);
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
