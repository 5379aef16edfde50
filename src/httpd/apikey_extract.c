/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Key extraction and hiding (see apikey_extract.h). */

#include "apikey_extract.h"
#include "apikey_config_keys.h"

#include "apr_strings.h"
#include "http_protocol.h"
#include "scoreboard.h"

/* The identity headers this module may set: a client's own are dropped. */
static const char *const identity_headers[] = {"X-APIKey-Id", "X-APIKey-Owner",
                                               "X-APIKey-Scopes"};

static const char *authorization_header(const request_rec *r)
{
    return r->proxyreq == PROXYREQ_PROXY ? "Proxy-Authorization"
                                         : "Authorization";
}

/* The key of Authorization: Basic (see apikey_basic_key). */
static int basic_key(request_rec *r, const char **v, size_t *len)
{
    const char *cred = apr_table_get(r->headers_in, authorization_header(r));

    if (!cred) {
        return 0;
    }
    return apikey_basic_key(
        cred, apr_palloc(r->pool, apikey_basic_buf_len(cred)), v, len);
}

/* The key a source carries: 1 found, 0 absent, -1 conflict, -2 malformed
 * (a query value that does not decode). */
static int read_source(request_rec *r, const apikey_source_t *src,
                       const char **v, size_t *len)
{
    long n;
    char *buf;

    switch (src->kind) {
        case APIKEY_SOURCE_HEADER:
            if (!(*v = apr_table_get(r->headers_in, src->name))) {
                return 0;
            }
            *len = strlen(*v);
            return apikey_header_one_value(v, len, NULL);
        case APIKEY_SOURCE_BEARER:
            if (!apikey_bearer_token(
                    apr_table_get(r->headers_in, authorization_header(r)), v,
                    len)) {
                return 0;
            }
            return apikey_header_one_value(v, len, "Bearer");
        case APIKEY_SOURCE_BASIC:
            return basic_key(r, v, len);
        case APIKEY_SOURCE_QUERY:
            switch (apikey_query_param(r->args, src->name, v, len)) {
                case 0:
                    return 0;
                case -1:
                    return -1;
            }
            buf = apr_palloc(r->pool, *len + 1);
            if ((n = apikey_url_decode(*v, *len, buf)) < 0) {
                return -2;
            }
            buf[n] = '\0';
            *v = buf;
            *len = (size_t)n;
            return 1;
    }
    return 0;
}

apikey_result_t apikey_extract(request_rec *r, const apikey_dir_conf_t *conf,
                               apikey_found_t *found)
{
    const apikey_source_t *sources;
    int i, n, have = 0;

    sources = apikey_config_sources(conf, &n);
    for (i = 0; i < n; i++) {
        const char *v = NULL;
        size_t len = 0;
        int rc = read_source(r, &sources[i], &v, &len);

        if (rc == 0) {
            continue;
        }
        /* Refused here: the source logged is where the trouble showed
         * (for a conflict, the source of the second, different key). */
        if (rc < 0) {
            found->source = sources[i].kind;
            return rc == -1 ? APIKEY_RESULT_CONFLICT : APIKEY_RESULT_MALFORMED;
        }
        if (!have) {
            found->key = v;
            found->len = len;
            found->source = sources[i].kind;
            found->from = &sources[i];
            have = 1;
        }
        else if (len != found->len || memcmp(v, found->key, len)) {
            found->source = sources[i].kind;
            return APIKEY_RESULT_CONFLICT;
        }
    }
    return have ? APIKEY_RESULT_OK : APIKEY_RESULT_MISSING;
}

/* Removes parameter name from a request target's query ("/p?a=1&k=2"),
 * returning the target unchanged when it has none. */
static char *strip_target(apr_pool_t *p, const char *target, size_t tlen,
                          const char *name)
{
    const char *q = memchr(target, '?', tlen);
    size_t head;
    char *out, *args;

    if (!q) {
        return apr_pstrmemdup(p, target, tlen);
    }
    head = (size_t)(q - target);
    args = apr_pstrmemdup(p, q + 1, tlen - head - 1);
    out = apr_palloc(p, tlen + 1);
    memcpy(out, target, head);
    /* "?" only when parameters are left. */
    out[head] = apikey_query_strip(args, name, out + head + 1) ? '?' : '\0';
    return out;
}

/* The query source leaves traces in r->args (QUERY_STRING), the parsed
 * and unparsed URI, the request line (CGI's REQUEST_URI and %r come from
 * it) and, for proxy requests, r->filename. */
static void hide_query(request_rec *r, const char *name)
{
    const char *sp1, *sp2, *v;
    size_t vlen;
    char *args;

    if (!r->args || apikey_query_param(r->args, name, &v, &vlen) == 0) {
        return;
    }
    args = apr_palloc(r->pool, strlen(r->args) + 1);
    r->args = apikey_query_strip(r->args, name, args) ? args : NULL;
    r->parsed_uri.query = r->args;
    if (r->unparsed_uri) {
        r->unparsed_uri = strip_target(r->pool, r->unparsed_uri,
                                       strlen(r->unparsed_uri), name);
    }
    if (r->the_request && (sp1 = strchr(r->the_request, ' ')) != NULL) {
        sp1++;
        sp2 = strchr(sp1, ' ');
        r->the_request = apr_pstrcat(
            r->pool,
            apr_pstrmemdup(r->pool, r->the_request,
                           (size_t)(sp1 - r->the_request)),
            strip_target(r->pool, sp1, sp2 ? (size_t)(sp2 - sp1) : strlen(sp1),
                         name),
            sp2 ? sp2 : "", NULL);
    }
    if (r->filename && !strncmp(r->filename, "proxy:", 6)) {
        r->filename =
            strip_target(r->pool, r->filename, strlen(r->filename), name);
    }
    /* The scoreboard copied the request line when it was read: mod_status
     * (ExtendedStatus, on by default) would show the key to whoever may
     * read /server-status while the request runs.  The worker's state
     * stays what it is. */
    if (r->connection->sbh) {
        worker_score *ws = ap_get_scoreboard_worker(r->connection->sbh);

        if (ws) {
            ap_update_child_status(r->connection->sbh, ws->status, r);
        }
    }
}

/* Names of headers to remove, and how many. */
#define HIDE_MAX 16

/* Removes from r's request headers every one whose name is one of names
 * under the spellings backends fold together (apikey_header_name_is):
 * "X_APIKey_Owner" reaches a WSGI or PHP backend as HTTP_X_APIKEY_OWNER
 * just as "X-APIKey-Owner" does.  One pass over the headers as a rule;
 * another while a pass found as many spellings as it can hold. */
static void hide_headers(request_rec *r, const char *const *names, int n)
{
    const char *doomed[HIDE_MAX];
    size_t len[HIDE_MAX];
    /* The names' first bytes, folded, as a set: one test per header. */
    apr_uint64_t firsts[4] = {0, 0, 0, 0};
    int i, k, ndoomed;

    for (k = 0; k < n; k++) {
        unsigned char c = apikey_header_fold((unsigned char)names[k][0]);

        firsts[c >> 6] |= APR_UINT64_C(1) << (c & 63);
        len[k] = strlen(names[k]);
    }
    do {
        const apr_array_header_t *h = apr_table_elts(r->headers_in);
        const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;

        ndoomed = 0;
        for (i = 0; i < h->nelts && ndoomed < HIDE_MAX; i++) {
            unsigned char c;
            size_t klen;

            if (!e[i].key) {
                continue;
            }
            /* First bytes, then lengths: most names differ in those. */
            c = apikey_header_fold((unsigned char)e[i].key[0]);
            if (!(firsts[c >> 6] >> (c & 63) & 1)) {
                continue;
            }
            klen = strlen(e[i].key);
            for (k = 0; k < n; k++) {
                if (klen == len[k]
                    && apikey_header_name_is(e[i].key, names[k])) {
                    doomed[ndoomed++] = e[i].key;
                    break;
                }
            }
        }
        /* apr_table_unset drops every entry of that name, in any case. */
        for (i = 0; i < ndoomed; i++) {
            apr_table_unset(r->headers_in, doomed[i]);
        }
    } while (ndoomed == HIDE_MAX);
}

void apikey_extract_hide_identity(request_rec *r)
{
    hide_headers(r, identity_headers,
                 (int)(sizeof(identity_headers) / sizeof(identity_headers[0])));
}

void apikey_extract_hide(request_rec *r, const apikey_dir_conf_t *conf)
{
    const apikey_source_t *sources;
    const char *authz = apr_table_get(r->headers_in, authorization_header(r));
    const char *names[HIDE_MAX];
    const char *tok;
    size_t len, i;
    int k, n, nnames = 0;

    for (i = 0; i < sizeof(identity_headers) / sizeof(identity_headers[0]);
         i++) {
        names[nnames++] = identity_headers[i];
    }
    sources = apikey_config_sources(conf, &n);
    for (k = 0; k < n && conf->hide_credentials != 0; k++) {
        switch (sources[k].kind) {
            case APIKEY_SOURCE_HEADER:
                if (nnames < HIDE_MAX) {
                    names[nnames++] = sources[k].name;
                }
                break;
            case APIKEY_SOURCE_BEARER:
                /* Only our scheme: other credentials are not ours to
                 * drop. */
                if (apikey_bearer_token(authz, &tok, &len)) {
                    apr_table_unset(r->headers_in, authorization_header(r));
                }
                break;
            case APIKEY_SOURCE_BASIC:
                if (authz && !strncasecmp(authz, "Basic", 5)) {
                    apr_table_unset(r->headers_in, authorization_header(r));
                }
                break;
            case APIKEY_SOURCE_QUERY:
                hide_query(r, sources[k].name);
                break;
        }
    }
    hide_headers(r, names, nnames);
}

void apikey_extract_identity(request_rec *r, const apikey_record_t *rec)
{
    apr_table_setn(r->headers_in, identity_headers[0], rec->id);
    apr_table_setn(r->headers_in, identity_headers[1], rec->owner);
    apr_table_setn(r->headers_in, identity_headers[2], rec->scopes);
}
