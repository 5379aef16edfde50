/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The directives of where keys come from and what they must be: sources,
 * TLS and trusted proxies, the digest, the key format, what backends see
 * of a key, tenants; and what the request path asks of them. */
#ifndef APIKEY_CONFIG_KEYS_H
#define APIKEY_CONFIG_KEYS_H

#include <stddef.h>

#include "apikey_config.h"

/* The effective source list of a directory (the default when unset). */
const apikey_source_t *apikey_config_sources(const apikey_dir_conf_t *conf,
                                             int *n);

/* 1 when conf's sources include src (the same kind and name). */
int apikey_config_reads(const apikey_dir_conf_t *conf,
                        const apikey_source_t *src);

/* 1 when owner may use keys under conf's AuthAPIKeyTenant. */
int apikey_config_tenant_ok(const apikey_dir_conf_t *conf, const char *owner);

const char *apikey_config_set_sources(cmd_parms *cmd, void *mconfig, int argc,
                                      char *const argv[]);
const char *apikey_config_set_require_tls(cmd_parms *cmd, void *mconfig,
                                          int on);
const char *apikey_config_set_trusted_proxy(cmd_parms *cmd, void *mconfig,
                                            int argc, char *const argv[]);
const char *apikey_config_set_hash(cmd_parms *cmd, void *mconfig,
                                   const char *how, const char *file);
const char *apikey_config_set_format(cmd_parms *cmd, void *mconfig,
                                     const char *format);
const char *apikey_config_set_tenants(cmd_parms *cmd, void *mconfig, int argc,
                                      char *const argv[]);

/* Their slice of the command table (mod_authn_apikey.c).  offsetof, not
 * APR_OFFSETOF: without <stddef.h> before APR's headers that macro
 * subtracts null pointers, undefined behaviour clang warns about. */
#define APIKEY_CONFIG_KEYS_DIRECTIVES                                          \
    AP_INIT_TAKE_ARGV("AuthAPIKeySource", apikey_config_set_sources, NULL,     \
                      OR_AUTHCFG,                                              \
                      "Where API keys are read from, in order: header:NAME, "  \
                      "bearer, query:NAME, basic"),                            \
        AP_INIT_FLAG("AuthAPIKeyRequireTLS", apikey_config_set_require_tls,    \
                     NULL, RSRC_CONF | OR_AUTHCFG,                             \
                     "Refuse keys sent over plain HTTP (On in .htaccess "      \
                     "only)"),                                                 \
        AP_INIT_TAKE_ARGV("AuthAPIKeyTrustedProxy",                            \
                          apikey_config_set_trusted_proxy, NULL, RSRC_CONF,    \
                          "Addresses of TLS-terminating proxies whose "        \
                          "X-Forwarded-Proto: https marks a request as TLS"),  \
        AP_INIT_TAKE12("AuthAPIKeyHash", apikey_config_set_hash, NULL,         \
                       RSRC_CONF,                                              \
                       "How keys are stored: sha256, or hmac-sha256 "          \
                       "PEPPER-FILE"),                                         \
        AP_INIT_TAKE1("AuthAPIKeyFormat", apikey_config_set_format, NULL,      \
                      RSRC_CONF | ACCESS_CONF,                                 \
                      "checksum (reject malformed keys before any I/O) or "    \
                      "any (legacy keys)"),                                    \
        AP_INIT_FLAG("AuthAPIKeyAnonymous", ap_set_flag_slot,                  \
                     (void *)offsetof(apikey_dir_conf_t, anonymous),           \
                     RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,                     \
                     "Let a request with no API key at all through as "        \
                     "anonymous, for Require apikey-anonymous (default "       \
                     "Off)"),                                                  \
        AP_INIT_FLAG("AuthAPIKeyHideCredentials", ap_set_flag_slot,            \
                     (void *)offsetof(apikey_dir_conf_t, hide_credentials),    \
                     OR_AUTHCFG,                                               \
                     "Remove the key from headers, query and request line "    \
                     "before handlers and backends see it (default On)"),      \
        AP_INIT_FLAG("AuthAPIKeyIdentityHeaders", ap_set_flag_slot,            \
                     (void *)offsetof(apikey_dir_conf_t, identity_headers),    \
                     OR_AUTHCFG,                                               \
                     "Pass X-APIKey-Id, -Owner and -Scopes request headers "   \
                     "to backends (default Off)"),                             \
        AP_INIT_TAKE_ARGV("AuthAPIKeyTenant", apikey_config_set_tenants, NULL, \
                          RSRC_CONF | ACCESS_CONF,                             \
                          "Owners (or owner prefixes ending in *) whose keys " \
                          "are valid here")

#endif /* APIKEY_CONFIG_KEYS_H */
