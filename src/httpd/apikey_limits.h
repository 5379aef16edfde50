/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Rate limits and quotas: the limit table in shared memory kept across
 * restarts, and their enforcement once per client request. */
#ifndef APIKEY_LIMITS_H
#define APIKEY_LIMITS_H

#include "httpd.h"

#include "apikey_limit_table.h"
#include "apikey_request.h"

/* Creates the limit table, or takes over the one of the previous
 * generation (real post_config pass).  Returns 0, or an HTTP error status
 * for post_config (already logged). */
int apikey_limits_init(apr_pool_t *pconf, server_rec *s);

/* The table, or NULL.  Its header is checked against the one this process
 * set up first, and restored (logged) if memory was scribbled over it. */
apikey_limit_table_t *apikey_limits_table(void);

/* The limit the legacy headers and the %{limit}K, %{remaining}K and
 * %{reset}K fields describe: the one that refused the request, else the
 * one with fewer requests left.  Returns 0 when the request was charged
 * no limit. */
int apikey_limits_bound(const apikey_request_t *rq, long long *limit,
                        long long *remaining, long long *reset_us);

/* fixups hook (APR_HOOK_FIRST): charges a request that an apikey provider
 * granted, and answers 429 (or 503 when the table is full) when it is over
 * a limit. */
int apikey_limits_fixups(request_rec *r);

#endif /* APIKEY_LIMITS_H */
