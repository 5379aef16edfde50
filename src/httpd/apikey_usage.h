/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Usage in the store (AuthAPIKeyUsageSync): the requests of every key this
 * server sees, admitted and refused, counted in shared memory by the log
 * hook (src/shm's apikey_usage_table), and added to the key store's
 * apikey_usage table, a row per key, UTC day and node, by a watchdog
 * thread in one child every AuthAPIKeyUsageSync (AuthAPIKeyUsageNode names
 * the node). */
#ifndef APIKEY_USAGE_H
#define APIKEY_USAGE_H

#include "httpd.h"
#include "http_config.h"

#include "apikey_request.h"
#include "apikey_usage_table.h"

/* AuthAPIKeyUsageSync DURATION (0: off) and AuthAPIKeyUsageNode NAME. */
const char *apikey_usage_set_sync(cmd_parms *cmd, void *mconfig,
                                  const char *interval);
const char *apikey_usage_set_node(cmd_parms *cmd, void *mconfig,
                                  const char *name);

#define APIKEY_USAGE_DIRECTIVES                                                \
    AP_INIT_TAKE1("AuthAPIKeyUsageSync", apikey_usage_set_sync, NULL,          \
                  RSRC_CONF,                                                   \
                  "how often each key's requests are added to the key "        \
                  "store's apikey_usage table (0: never)"),                    \
        AP_INIT_TAKE1("AuthAPIKeyUsageNode", apikey_usage_set_node, NULL,      \
                      RSRC_CONF,                                               \
                      "this server's name in the apikey_usage table")

/* Makes the usage table and registers the sync (real post_config pass),
 * when AuthAPIKeyUsageSync is on.  0, or an HTTP error status (logged). */
int apikey_usage_init(apr_pool_t *pconf, server_rec *s);

/* Counts r's request for its key (the log hook), when it had one. */
void apikey_usage_count(const request_rec *r, const apikey_request_t *rq);

/* The usage table, or NULL when usage is not counted (the status page). */
apikey_usage_table_t *apikey_usage_table(void);

#endif /* APIKEY_USAGE_H */
