/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The directives of the key store's look-up, its cache and the change
 * marker's poll (see apikey_config_store.h). */

#include "apikey_config_store.h"
#include "apikey_db.h"

#include "apr_strings.h"
#include "http_config.h"

const char *apikey_config_set_cache_timeout(cmd_parms *cmd, void *mconfig,
                                            const char *ttl,
                                            const char *negative)
{
    apikey_srv_conf_t *conf = apikey_config_srv(cmd);
    const char *err;

    (void)mconfig;
    if ((err = apikey_config_duration(cmd, "AuthAPIKeyCacheTimeout", ttl,
                                      &conf->cache_ttl))) {
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
        if ((err = apikey_config_duration(
                 cmd, "AuthAPIKeyCacheTimeout negative", negative + 9,
                 &conf->cache_negative_ttl))) {
            return err;
        }
    }
    conf->cache_ttl_set = 1;
    return NULL;
}

const char *apikey_config_set_cache_size(cmd_parms *cmd, void *mconfig,
                                         const char *entries)
{
    (void)mconfig;
    return apikey_config_keys(cmd, entries, 0, "no cache",
                              &apikey_config_srv(cmd)->cache_entries);
}

const char *apikey_config_set_refresh(cmd_parms *cmd, void *mconfig,
                                      const char *interval)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err) {
        return err;
    }
    return apikey_config_duration(cmd, "AuthAPIKeyRefresh", interval,
                                  &apikey_config_srv(cmd)->refresh);
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
