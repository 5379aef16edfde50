/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The per-request record: what authentication found, attached once to the
 * initial request so that authorization, limits and logging read it
 * instead of looking the key up again. */
#ifndef APIKEY_REQUEST_H
#define APIKEY_REQUEST_H

#include "httpd.h"

#include "apikey_limit_table.h"
#include "apikey_record.h"
#include "apikey_source.h"

/* What our authentication decided for one request_rec.  A subrequest or
 * internal redirect into a section of another configuration is judged
 * again against that section (tenant, TLS, store, format, source): its
 * own verdict, not the initial request's, is what authorization reads. */
typedef struct {
    const apikey_record_t *key; /* admitted for this request_rec */
    int granted;                /* an apikey authz provider granted it */
    int anonymous;              /* no key: let in by AuthAPIKeyAnonymous */
} apikey_here_t;

struct apikey_srv_conf_t;

/* A charge of the limits made for this client request: a later request_rec
 * of it with the same key and limits is answered the same, one with other
 * limits is charged for those too. */
#define APIKEY_CHARGES_MAX 4
typedef struct {
    const char *id;
    apr_uint32_t budget; /* its budget (apikey_limits.h), 0: the key's */
    apikey_rate_t rate;
    apikey_quotas_t quota;
    int status; /* what the request got: DECLINED (admitted) or 429, 503 */
    int rate_limited; /* a 429 of the rate limit, not the quota */
    const char *retry_after;
} apikey_charged_t;

typedef struct {
    /* The initial request's pool: what the record keeps lives there (a
     * subrequest's pool is gone when the next one reads it). */
    apr_pool_t *pool;
    apikey_result_t result;
    apikey_source_kind_t source;
    /* The configured source the key came from, copied (the Basic
     * provider's: kind basic, no name); has_from 0 when unknown. */
    apikey_source_t from;
    int has_from;
    /* Set once authentication accepted the key, for the first section
     * that did (limits and logs count it against the client's request). */
    const apikey_record_t *key;
    /* Where it was found: the server's store and the look-up statement;
     * and whether it passes AuthAPIKeyFormat checksum.  A later section
     * with another store or a stricter format judges it by these. */
    const struct apikey_srv_conf_t *srv;
    const struct apikey_query_t *query;
    int strict_format;
    /* The initial request_rec's own verdict. */
    apikey_here_t here;
    /* Scopes that an apikey-scope line asked for and the key lacked,
     * space-separated, for the insufficient_scope challenge. */
    const char *missing_scopes;
    /* The limits charged, the last of them for logs and headers: the
     * fields from charge on are written before they are read (charged,
     * ncharges say which), and left unzeroed (apikey_request_get). */
    int charged;
    int ncharges;
    apikey_charge_t charge; /* of the rate limit and the first window */
    apikey_rate_t rate;
    apikey_quotas_t quota;
    /* Each window's state after the charge (the first's is in charge
     * too), and the limit the legacy headers and %{limit}K describe: -1
     * the rate limit, i the quota's window i, -2 none. */
    struct {
        unsigned long remaining;
        long long reset_us;
    } window[APIKEY_QUOTAS_MAX];
    int binding;
    apikey_charged_t charges[APIKEY_CHARGES_MAX];
} apikey_request_t;

/* The record of r's initial request (walking r->main and r->prev), created
 * empty when absent. */
apikey_request_t *apikey_request_get(request_rec *r);

/* The record of r's initial request, or NULL when none was made. */
apikey_request_t *apikey_request_find(const request_rec *r);

/* Makes rq's key and source, found for r, the client request's: copied into
 * the initial request's pool when r is a subrequest (whose pool goes first),
 * as they are otherwise.  from may be NULL. */
void apikey_request_keep(request_rec *r, apikey_request_t *rq,
                         const apikey_record_t *key,
                         const apikey_source_t *from);

/* r's own verdict (the initial request's is in its record), created empty
 * when absent. */
apikey_here_t *apikey_request_here(request_rec *r);

/* The key our authentication admitted for r itself, or NULL: what the
 * Require apikey providers and the limits judge. */
const apikey_record_t *apikey_request_key(const request_rec *r);

#endif /* APIKEY_REQUEST_H */
