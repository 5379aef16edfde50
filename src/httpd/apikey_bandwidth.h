/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A key's bandwidth (its record's bandwidth column): the rate-limit
 * variable that mod_ratelimit's RATE_LIMIT filter reads. */
#ifndef APIKEY_BANDWIDTH_H
#define APIKEY_BANDWIDTH_H

#include "httpd.h"

/* fixups hook (APR_HOOK_LAST, after mod_env and mod_setenvif): for a
 * request whose key has a bandwidth, sets mod_ratelimit's rate-limit in
 * r->subprocess_env to it in KiB/s, unless the configuration set a lower
 * one.  A bandwidth that does not parse is logged and not applied. */
int apikey_bandwidth_fixups(request_rec *r);

#endif /* APIKEY_BANDWIDTH_H */
