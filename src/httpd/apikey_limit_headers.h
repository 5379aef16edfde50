/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The headers a limited request's answer carries: the IETF RateLimit
 * draft's RateLimit-Policy and RateLimit, the older RateLimit-Limit,
 * -Remaining and -Reset, and the numbers of Retry-After.  Written with
 * every request a limit counts, so composed in a buffer on the stack and
 * copied to the pool once a header, never through a formatter. */
#ifndef APIKEY_LIMIT_HEADERS_H
#define APIKEY_LIMIT_HEADERS_H

#include "httpd.h"

#include "apikey_request.h"

/* Sets the RateLimit headers of rq's charge in r->err_headers_out (they go
 * out with a 429 too): how is AuthAPIKeyLimitHeaders' APIKEY_HEADERS_*
 * bits, budget the AuthAPIKeyLimitName (NULL: the key's one budget). */
void apikey_limit_headers(request_rec *r, int how, const char *budget,
                          const apikey_request_t *rq);

/* v in decimal, in p. */
const char *apikey_header_num(apr_pool_t *p, long long v);

/* Microseconds as whole seconds, rounded up (0 for none or less). */
long long apikey_up_to_sec(long long us);

#endif /* APIKEY_LIMIT_HEADERS_H */
