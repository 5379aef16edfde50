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

#define NIDENTITY (int)(sizeof(identity_headers) / sizeof(identity_headers[0]))

static void add_first(apr_uint64_t *firsts, const char *name)
{
    unsigned char c = apikey_header_fold((unsigned char)name[0]);

    firsts[c >> 6] |= APR_UINT64_C(1) << (c & 63);
}

static int has_first(const apr_uint64_t *firsts, const char *name)
{
    unsigned char c = apikey_header_fold((unsigned char)name[0]);

    return (int)(firsts[c >> 6] >> (c & 63) & 1);
}

/* A name scan_headers looks for: which source's (-1 an identity header,
 * -2 Authorization), and its length, compared before any byte. */
typedef struct {
    const char *name;
    size_t len;
    int source;
} wanted_t;

#define WANTED_MAX (NIDENTITY + APIKEY_SOURCES_MAX + 1)

/* Reads the request headers once into s: what apr_table_get would give for
 * each header source and for Authorization (when a source takes it), and
 * the entries to remove, under every spelling a backend folds into their
 * names (apikey_header_name_is): the identity headers, and the header
 * sources' when hide.  Most headers are passed over on their first byte,
 * the rest on their length. */
static void scan_headers(request_rec *r, const apikey_source_t *sources, int n,
                         int hide, apikey_scan_t *s)
{
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    wanted_t w[WANTED_MAX];
    apr_uint64_t firsts[4] = {0, 0, 0, 0};
    int i, k, nw = 0, authz = 0;

    s->authz = NULL;
    s->ndoomed = 0;
    for (k = 0; k < NIDENTITY; k++) {
        w[nw].name = identity_headers[k];
        w[nw].source = -1;
        w[nw++].len = strlen(identity_headers[k]); /* folded to a constant */
    }
    for (k = 0; k < n; k++) {
        s->value[k] = NULL;
        if (sources[k].kind == APIKEY_SOURCE_HEADER) {
            w[nw].name = sources[k].name;
            w[nw].source = k;
            w[nw++].len = strlen(sources[k].name);
        }
        else if (sources[k].kind != APIKEY_SOURCE_QUERY && !authz) {
            authz = 1;
            w[nw].name = authorization_header(r);
            w[nw].source = -2;
            w[nw].len = strlen(w[nw].name);
            nw++;
        }
    }
    for (k = 0; k < nw; k++) {
        add_first(firsts, w[k].name);
    }
    for (i = 0; i < h->nelts; i++) {
        const char *key = e[i].key;
        size_t klen;
        int doomed = 0;

        if (!key || !has_first(firsts, key)) {
            continue;
        }
        klen = strlen(key);
        for (k = 0; k < nw; k++) {
            if (w[k].len != klen) {
                continue;
            }
            if (w[k].source == -2) {
                /* Read under its own name only, as apr_table_get would. */
                if (!s->authz && !strcasecmp(key, w[k].name)) {
                    s->authz = e[i].val;
                }
                continue;
            }
            if (!apikey_header_name_is(key, w[k].name)) {
                continue;
            }
            if (w[k].source < 0) {
                doomed = 1;
                continue;
            }
            if (!s->value[w[k].source] && !strcasecmp(key, w[k].name)) {
                s->value[w[k].source] = e[i].val;
            }
            doomed |= hide;
        }
        if (doomed && s->ndoomed < APIKEY_HIDE_MAX) {
            s->doomed[s->ndoomed++] = key;
        }
    }
}

/* The key of Authorization: Basic (see apikey_basic_key). */
static int basic_key(request_rec *r, const char *cred, const char **v,
                     size_t *len)
{
    if (!cred) {
        return 0;
    }
    return apikey_basic_key(
        cred, apr_palloc(r->pool, apikey_basic_buf_len(cred)), v, len);
}

/* The key source i carries: 1 found, 0 absent, -1 conflict, -2 malformed
 * (a query value that does not decode). */
static int read_source(request_rec *r, const apikey_source_t *src,
                       const apikey_scan_t *scan, int i, const char **v,
                       size_t *len)
{
    long n;
    char *buf;

    switch (src->kind) {
        case APIKEY_SOURCE_HEADER:
            if (!(*v = scan->value[i])) {
                return 0;
            }
            *len = strlen(*v);
            return apikey_header_one_value(v, len, NULL);
        case APIKEY_SOURCE_BEARER:
            if (!apikey_bearer_token(scan->authz, v, len)) {
                return 0;
            }
            return apikey_header_one_value(v, len, "Bearer");
        case APIKEY_SOURCE_BASIC:
            return basic_key(r, scan->authz, v, len);
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
    scan_headers(r, sources, n, conf->hide_credentials != 0, &found->scan);
    found->key = NULL;
    found->len = 0;
    found->source = APIKEY_SOURCE_HEADER;
    found->from = NULL;
    for (i = 0; i < n; i++) {
        const char *v = NULL;
        size_t len = 0;
        int rc = read_source(r, &sources[i], &found->scan, i, &v, &len);

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

/* Removes from r's request headers every one whose name is one of names
 * under the spellings backends fold together (apikey_header_name_is):
 * "X_APIKey_Owner" reaches a WSGI or PHP backend as HTTP_X_APIKEY_OWNER
 * just as "X-APIKey-Owner" does.  Passes over the headers while a pass
 * found as many spellings as it can hold. */
static void hide_headers(request_rec *r, const char *const *names, int n)
{
    const char *doomed[APIKEY_HIDE_MAX];
    apr_uint64_t firsts[4] = {0, 0, 0, 0};
    int i, k, ndoomed;

    for (k = 0; k < n; k++) {
        add_first(firsts, names[k]);
    }
    do {
        const apr_array_header_t *h = apr_table_elts(r->headers_in);
        const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;

        ndoomed = 0;
        for (i = 0; i < h->nelts && ndoomed < APIKEY_HIDE_MAX; i++) {
            if (!e[i].key || !has_first(firsts, e[i].key)) {
                continue;
            }
            for (k = 0; k < n; k++) {
                if (apikey_header_name_is(e[i].key, names[k])) {
                    doomed[ndoomed++] = e[i].key;
                    break;
                }
            }
        }
        /* apr_table_unset drops every entry of that name, in any case. */
        for (i = 0; i < ndoomed; i++) {
            apr_table_unset(r->headers_in, doomed[i]);
        }
    } while (ndoomed == APIKEY_HIDE_MAX);
}

void apikey_extract_hide_identity(request_rec *r)
{
    hide_headers(r, identity_headers, NIDENTITY);
}

/* Removes what scan found, and the Authorization header of our scheme and
 * the query parameters of the sources that take them. */
static void hide_scanned(request_rec *r, const apikey_dir_conf_t *conf,
                         const apikey_scan_t *scan)
{
    const apikey_source_t *sources;
    const char *names[APIKEY_HIDE_MAX];
    const char *tok;
    size_t len;
    int i, k, n, nnames = 0;

    sources = apikey_config_sources(conf, &n);
    for (k = 0; k < n && conf->hide_credentials != 0; k++) {
        switch (sources[k].kind) {
            case APIKEY_SOURCE_HEADER:
                break;
            case APIKEY_SOURCE_BEARER:
                /* Only our scheme: other credentials are not ours to
                 * drop. */
                if (apikey_bearer_token(scan->authz, &tok, &len)) {
                    apr_table_unset(r->headers_in, authorization_header(r));
                }
                break;
            case APIKEY_SOURCE_BASIC:
                if (scan->authz && !strncasecmp(scan->authz, "Basic", 5)) {
                    apr_table_unset(r->headers_in, authorization_header(r));
                }
                break;
            case APIKEY_SOURCE_QUERY:
                hide_query(r, sources[k].name);
                break;
        }
    }
    for (i = 0; i < scan->ndoomed; i++) {
        apr_table_unset(r->headers_in, scan->doomed[i]);
    }
    if (scan->ndoomed < APIKEY_HIDE_MAX) {
        return;
    }
    /* A pass full of spellings: the rest are found by passes of their own. */
    for (i = 0; i < NIDENTITY; i++) {
        names[nnames++] = identity_headers[i];
    }
    for (k = 0; k < n && conf->hide_credentials != 0; k++) {
        if (sources[k].kind == APIKEY_SOURCE_HEADER
            && nnames < APIKEY_HIDE_MAX) {
            names[nnames++] = sources[k].name;
        }
    }
    hide_headers(r, names, nnames);
}

void apikey_extract_hide(request_rec *r, const apikey_dir_conf_t *conf)
{
    const apikey_source_t *sources;
    apikey_scan_t scan;
    int n;

    sources = apikey_config_sources(conf, &n);
    scan_headers(r, sources, n, conf->hide_credentials != 0, &scan);
    hide_scanned(r, conf, &scan);
}

void apikey_extract_hide_found(request_rec *r, const apikey_dir_conf_t *conf,
                               const apikey_found_t *found)
{
    hide_scanned(r, conf, &found->scan);
}

void apikey_extract_identity(request_rec *r, const apikey_record_t *rec)
{
    apr_table_setn(r->headers_in, identity_headers[0], rec->id);
    apr_table_setn(r->headers_in, identity_headers[1], rec->owner);
    apr_table_setn(r->headers_in, identity_headers[2], rec->scopes);
}
