/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The per-request record (see apikey_request.h). */

#include "apikey_request.h"
#include "apikey_config.h"

#include <stddef.h>
#include <string.h>

#include "apr_strings.h"
#include "http_config.h"

static const request_rec *initial_request(const request_rec *r)
{
    for (;;) {
        if (r->main) {
            r = r->main;
        }
        else if (r->prev) {
            r = r->prev;
        }
        else {
            return r;
        }
    }
}

apikey_request_t *apikey_request_find(const request_rec *r)
{
    return ap_get_module_config(initial_request(r)->request_config,
                                &authn_apikey_module);
}

apikey_request_t *apikey_request_get(request_rec *r)
{
    request_rec *first = (request_rec *)initial_request(r);
    apikey_request_t *rq =
        ap_get_module_config(first->request_config, &authn_apikey_module);

    if (!rq) {
        /* Zeroed up to the limits' results only: a request's record is made
         * for every request, and most are charged no limit. */
        rq = apr_palloc(first->pool, sizeof(*rq));
        memset(rq, 0, offsetof(apikey_request_t, charge));
        rq->pool = first->pool;
        ap_set_module_config(first->request_config, &authn_apikey_module, rq);
    }
    return rq;
}

void apikey_request_keep(request_rec *r, apikey_request_t *rq,
                         const apikey_record_t *key,
                         const apikey_source_t *from)
{
    int sub = r->main != NULL;

    rq->key = key && sub ? apikey_record_copy(rq->pool, key) : key;
    rq->has_from = from != NULL;
    if (from) {
        rq->from.kind = from->kind;
        rq->from.name =
            from->name && sub ? apr_pstrdup(rq->pool, from->name) : from->name;
    }
}

apikey_here_t *apikey_request_here(request_rec *r)
{
    apikey_here_t *here;

    if (!r->main && !r->prev) {
        return &apikey_request_get(r)->here;
    }
    /* A subrequest's or redirect's own configuration vector: the chain's
     * record is only ever on the initial request's. */
    here = ap_get_module_config(r->request_config, &authn_apikey_module);
    if (!here) {
        here = apr_pcalloc(r->pool, sizeof(*here));
        ap_set_module_config(r->request_config, &authn_apikey_module, here);
    }
    return here;
}

const apikey_record_t *apikey_request_key(const request_rec *r)
{
    const apikey_here_t *here;

    if (!r->main && !r->prev) {
        const apikey_request_t *rq = apikey_request_find(r);

        return rq ? rq->here.key : NULL;
    }
    here = ap_get_module_config(r->request_config, &authn_apikey_module);
    return here ? here->key : NULL;
}
