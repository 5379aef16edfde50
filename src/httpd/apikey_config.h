/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Configuration of mod_authn_apikey: the per-server and per-directory
 * structures and their merge.  The directives live by subsystem, each
 * handler beside its slice of the command table: apikey_config_keys.h
 * (where keys come from, what they must be), apikey_config_store.h (the
 * look-up, its cache, the change marker), apikey_config_limits.h (rate
 * limits, quotas) and apikey_status.h. */
#ifndef APIKEY_CONFIG_H
#define APIKEY_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "apr_tables.h"

#include "apikey_limit.h"
#include "apikey_source.h"

extern module AP_MODULE_DECLARE_DATA authn_apikey_module;

/* Defaults of the look-up cache. */
#define APIKEY_CACHE_TTL          apr_time_from_sec(60)
#define APIKEY_CACHE_NEGATIVE_TTL apr_time_from_sec(10)
#define APIKEY_CACHE_ENTRIES      16384
#define APIKEY_REFRESH            apr_time_from_sec(2)
#define APIKEY_LIMIT_SLOTS        65536
#define APIKEY_QUOTA_SYNC         apr_time_from_sec(1)

/* AuthAPIKeyQuotaStore */
#define APIKEY_QUOTA_STORE_UNSET 0
#define APIKEY_QUOTA_STORE_SHM   1
#define APIKEY_QUOTA_STORE_DBD   2

/* Server settings: what a tenant's .htaccess must not reach. */
typedef struct apikey_srv_conf_t {
    /* AuthAPIKeyHash: the pepper of HMAC-SHA-256 digests, or NULL for
     * SHA-256. */
    const unsigned char *pepper;
    size_t pepper_len;
    int hash_set;
    /* AuthAPIKeyCacheTimeout: how long found and not-found keys are
     * cached (0: not cached). */
    apr_interval_time_t cache_ttl, cache_negative_ttl;
    int cache_ttl_set;
    /* The server's place in the server list, for the cache (post_config). */
    unsigned index;
    /* Global only (main server): AuthAPIKeyCacheSize in entries (0: no
     * cache) and AuthAPIKeyRefresh (0: no polling). */
    int cache_entries;
    apr_interval_time_t refresh;
    /* Global only: AuthAPIKeyLimitSlots (keys the limit table holds) and
     * AuthAPIKeyStateFile (NULL: none). */
    int limit_slots;
    const char *state_file;
    /* AuthAPIKeyQuotaStore (per server: APIKEY_QUOTA_STORE_*) and, global
     * only, AuthAPIKeyQuotaSync. */
    int quota_store;
    int quota_fallback; /* dbd fallback=local */
    /* The identity of the server's key store (apikey_store_identify): what
     * the limit table's slots and the status page tell stores apart by,
     * the same across restarts and nodes (post_config). */
    apr_uint32_t store_id;
    /* For messages: the SQLite file of a sqlite3 store (NULL for other
     * drivers, whose parameters may hold a password). */
    const char *store_file;
    /* Whether a DBDriver applies to the server at all (the poller reads
     * no marker where none does: mod_dbd would log each try). */
    int has_store;
    apr_interval_time_t quota_sync;
    /* AuthAPIKeyTrustedProxy: the addresses (apr_ipsubnet_t *) of
     * TLS-terminating proxies whose X-Forwarded-Proto is believed; NULL
     * when not set (none). */
    apr_array_header_t *tls_proxies;
    /* Global only (read from the main server): AuthAPIKeyUsageSync (0:
     * off) and AuthAPIKeyUsageNode (NULL: the default name). */
    apr_interval_time_t usage_sync;
    const char *usage_node;
} apikey_srv_conf_t;

/* AuthAPIKeyLimitHeaders */
#define APIKEY_HEADERS_DRAFT  1
#define APIKEY_HEADERS_LEGACY 2

void *apikey_config_srv_create(apr_pool_t *p, server_rec *s);
void *apikey_config_srv_merge(apr_pool_t *p, void *basev, void *addv);

typedef struct {
    /* Where keys are read from, in order; NULL when not set here (the
     * default list applies). */
    const apikey_source_t *sources;
    int nsources;
    /* AuthAPIKeyRequireTLS: 1 on, 0 off, -1 not set here (off). */
    int require_tls;
    /* AuthAPIKeyTenant: the owners whose keys are valid here; NULL when
     * not set (any owner). */
    apr_array_header_t *tenants;
    /* AuthAPIKeyFormat any: 1 accepts keys without prefix or checksum; 0
     * checks them; -1 not set here (check). */
    int any_format;
    /* AuthAPIKeyHideCredentials (default on) and AuthAPIKeyIdentityHeaders
     * (default off): 1, 0, or -1 when not set here. */
    int hide_credentials;
    int identity_headers;
    /* AuthAPIKeyStatus: the apikey-status handler serves here (1), or not
     * (0, or -1 when not set here: not).  Never from .htaccess. */
    int status;
    /* AuthAPIKeyRateLimit and AuthAPIKeyQuota, for keys without their
     * own: NULL when not set here; interval or limit 0 for "none". */
    const apikey_rate_t *rate;
    const apikey_quotas_t *quota;
    /* AuthAPIKeyAnonymous: a request with no key at all is let through as
     * anonymous (1), or refused (0, or -1 when not set here: refused);
     * AuthAPIKeyAnonymousRateLimit and AuthAPIKeyAnonymousQuota, its
     * limits per client address (NULL when not set here: none). */
    int anonymous;
    const apikey_rate_t *anon_rate;
    const apikey_quotas_t *anon_quota;
    /* AuthAPIKeyFailureLimit: failed authentications a client address may
     * make; NULL when not set here, interval 0 for "off". */
    const apikey_rate_t *failure_rate;
    /* AuthAPIKeyLimitHeaders (APIKEY_HEADERS_* bits; -1 not set: none) and
     * AuthAPIKeyLimitMode (1 report, 0 enforce, -1 not set: enforce). */
    int limit_headers;
    int limit_report;
    /* AuthAPIKeyLimitName (NULL: not set here, the key's one budget) and
     * its number; AuthAPIKeyLimitBy (1 owner, 0 key, -1 not set: key). */
    const char *limit_name;
    apr_uint32_t limit_budget;
    int limit_by;
    /* AuthAPIKeyErrorFormat (APIKEY_ERRORS_*; -1 not set: text). */
    int error_format;
    /* AuthAPIKeyQuery, or NULL for the default look-up. */
    const struct apikey_query_t *query;
} apikey_dir_conf_t;

void *apikey_config_dir_create(apr_pool_t *p, char *dir);
void *apikey_config_dir_merge(apr_pool_t *p, void *basev, void *addv);

/* For directive handlers: the server's settings of cmd, and a duration
 * read as AuthAPIKeyRefresh and the others read them: seconds, or a number
 * with ms, s, m or h ("500ms", "2s", "5m"); NULL or the error message
 * naming what. */
apikey_srv_conf_t *apikey_config_srv(cmd_parms *cmd);

/* A global directive's number of keys, from min to 16777216 (what min
 * means, when it is 0, in zero: "no cache"): NULL with *out, or the error
 * message. */
const char *apikey_config_keys(cmd_parms *cmd, const char *v, long min,
                               const char *zero, int *out);
const char *apikey_config_duration(cmd_parms *cmd, const char *what,
                                   const char *v, apr_interval_time_t *out);

#endif /* APIKEY_CONFIG_H */
