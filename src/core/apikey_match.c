/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Matching a key's restrictions against a request (see apikey_match.h). */

#include "apikey_match.h"

#include <string.h>
#include <strings.h>

#include "apr_strings.h"

/* Calls fn on each item of a comma-separated list, blanks trimmed, until
 * fn returns non-zero; returns that value, or 0. */
static int each_item(const char *list, int (*fn)(const char *, size_t, void *),
                     void *ctx)
{
    const char *p = list;

    while (p && *p) {
        const char *end = strchr(p, ','), *s = p, *e;
        int rc;

        if (!end) {
            end = p + strlen(p);
        }
        e = end;
        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e > s && (rc = fn(s, (size_t)(e - s), ctx)) != 0) {
            return rc;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

int apikey_scope_has(const char *scopes, const char *scope)
{
    size_t n = strlen(scope);
    const char *p = scopes;

    if (!scopes || n == 0) {
        return 0;
    }
    while ((p = strstr(p, scope)) != NULL) {
        int starts = p == scopes || p[-1] == ' ';
        int ends = p[n] == '\0' || p[n] == ' ';

        if (starts && ends) {
            return 1;
        }
        p += 1;
    }
    return 0;
}

struct find_ctx {
    const char *item;
    size_t len;
    int nocase;
};

static int find_item(const char *s, size_t n, void *ctx)
{
    const struct find_ctx *f = ctx;

    if (n != f->len) {
        return 0;
    }
    return f->nocase ? !strncasecmp(s, f->item, n) : !strncmp(s, f->item, n);
}

int apikey_list_has(const char *list, const char *item, int nocase)
{
    struct find_ctx f;

    f.item = item;
    f.len = strlen(item);
    f.nocase = nocase;
    return list && f.len && each_item(list, find_item, &f);
}

int apikey_fingerprint_hex(const char *s, size_t n, size_t digits, char *out)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ':') {
            continue;
        }
        if (k == digits
            || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                 || (c >= 'A' && c <= 'F'))) {
            return -1;
        }
        out[k++] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
    }
    out[k] = '\0';
    return k == digits ? 0 : -1;
}

struct android_ctx {
    const char *package;
    size_t plen;
    const char *cert; /* lower-case hex, or NULL: none sent or unreadable */
};

static int match_android_item(const char *s, size_t n, void *ctx)
{
    const struct android_ctx *a = ctx;
    const char *colon = memchr(s, ':', n);
    size_t plen = colon ? (size_t)(colon - s) : n;
    char want[APIKEY_SHA1_HEX + 1];

    if (plen != a->plen || strncmp(s, a->package, plen)) {
        return 0;
    }
    if (!colon) {
        return 1;
    }
    /* The package is pinned to a signing certificate: the client must send
     * that one. */
    return a->cert
           && !apikey_fingerprint_hex(colon + 1, n - plen - 1, APIKEY_SHA1_HEX,
                                      want)
           && !strcmp(want, a->cert);
}

int apikey_android_allowed(const char *list, const char *package,
                           const char *cert)
{
    struct android_ctx a;
    char hex[APIKEY_SHA1_HEX + 1];

    if (!list || !package || !*package) {
        return 0;
    }
    a.package = package;
    a.plen = strlen(package);
    a.cert = cert
                     && !apikey_fingerprint_hex(cert, strlen(cert),
                                                APIKEY_SHA1_HEX, hex)
                 ? hex
                 : NULL;
    return each_item(list, match_android_item, &a);
}

int apikey_ios_allowed(const char *list, const char *bundle)
{
    return bundle && apikey_list_has(list, bundle, 0);
}

static int match_cert_item(const char *s, size_t n, void *ctx)
{
    char hex[APIKEY_SHA256_HEX + 1];

    /* Stored lists are normalised; one edited in the database by hand
     * may still have colons or capitals. */
    return !apikey_fingerprint_hex(s, n, APIKEY_SHA256_HEX, hex)
           && !strcmp(hex, ctx);
}

int apikey_cert_allowed(const char *list, const char *sha256)
{
    return list && sha256 && each_item(list, match_cert_item, (void *)sha256);
}

struct norm_ctx {
    apr_pool_t *p;
    int android;
    const char *out;
};

static int norm_item(const char *s, size_t n, void *ctx)
{
    struct norm_ctx *c = ctx;
    char hex[APIKEY_SHA256_HEX + 1];
    const char *colon = c->android ? memchr(s, ':', n) : s;
    const char *item;

    if (!colon) {
        item = apr_pstrmemdup(c->p, s, n);
    }
    else if (apikey_fingerprint_hex(
                 colon + (c->android ? 1 : 0),
                 n - (size_t)(colon - s) - (c->android ? 1 : 0),
                 c->android ? APIKEY_SHA1_HEX : APIKEY_SHA256_HEX, hex)) {
        item = apr_pstrmemdup(c->p, s, n); /* not checked: left alone */
    }
    else if (c->android) {
        item = apr_pstrcat(c->p, apr_pstrmemdup(c->p, s, (size_t)(colon - s)),
                           ":", hex, NULL);
    }
    else {
        item = apr_pstrdup(c->p, hex);
    }
    c->out = *c->out ? apr_pstrcat(c->p, c->out, ",", item, NULL) : item;
    return 0;
}

const char *apikey_pins_normalise(apr_pool_t *p, const char *list, int android)
{
    struct norm_ctx c;

    c.p = p;
    c.android = android;
    c.out = "";
    each_item(list, norm_item, &c);
    return c.out;
}

/* Host pattern against a host, both of given lengths. */
static int host_match_n(const char *pat, size_t plen, const char *host,
                        size_t hlen)
{
    if (plen == 1 && pat[0] == '*') {
        return 1;
    }
    if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
        /* "*.example.com": a name ending in ".example.com", longer than it. */
        size_t slen = plen - 1;
        return hlen > slen && !strncasecmp(host + hlen - slen, pat + 1, slen);
    }
    return plen == hlen && !strncasecmp(pat, host, plen);
}

int apikey_host_match(const char *pattern, const char *host)
{
    return pattern && host
           && host_match_n(pattern, strlen(pattern), host, strlen(host));
}

int apikey_url_host(const char *url, char *out, size_t outlen)
{
    const char *p, *start, *end;
    size_t n, i;

    if (!url) {
        return -1;
    }
    /* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then
     * "://".  A relative reference has no host, even when its query holds
     * a URL. */
    p = url;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
        return -1;
    }
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
           || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    if (strncmp(p, "://", 3)) {
        return -1;
    }
    start = p + 3;
    /* Browsers end the authority at '\' too, as at '/'. */
    end = start + strcspn(start, "/?#\\");
    /* Drop userinfo: the host follows the last '@' of the authority. */
    for (p = start; p < end; p++) {
        if (*p == '@') {
            start = p + 1;
        }
    }
    if (*start == '[') {
        const char *close = memchr(start, ']', (size_t)(end - start));
        /* After the literal: the end of the authority, or a port. */
        if (!close || (close + 1 < end && close[1] != ':')) {
            return -1;
        }
        start++;
        end = close;
    }
    else {
        const char *colon = memchr(start, ':', (size_t)(end - start));
        if (colon) {
            end = colon;
        }
    }
    n = (size_t)(end - start);
    if (n == 0 || n >= outlen || n > APIKEY_HOST_MAX) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)start[i];
        if (c <= ' ' || c == 0x7f) {
            return -1;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[n] = '\0';
    return 0;
}

static int match_host_item(const char *s, size_t n, void *ctx)
{
    const char *host = ctx;

    return host_match_n(s, n, host, strlen(host));
}

int apikey_referer_allowed(const char *patterns, const char *referer)
{
    char host[APIKEY_HOST_MAX + 1];

    if (!referer || apikey_url_host(referer, host, sizeof(host))) {
        return 0;
    }
    return each_item(patterns, match_host_item, host);
}

struct ip_ctx {
    apr_sockaddr_t *addr;
    apr_pool_t *p;
    char *bad;
};

/* Parses "network[/bits]" of n bytes into a subnet. */
static apr_status_t subnet(const char *s, size_t n, apr_pool_t *p,
                           apr_ipsubnet_t **out)
{
    char buf[64];
    char *slash;

    if (n >= sizeof(buf)) {
        return APR_EINVAL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    slash = strchr(buf, '/');
    if (slash) {
        *slash++ = '\0';
        if (!*slash || strspn(slash, "0123456789") != strlen(slash)) {
            return APR_EINVAL;
        }
    }
    return apr_ipsubnet_create(out, buf, slash, p);
}

static int match_ip_item(const char *s, size_t n, void *ctx)
{
    struct ip_ctx *c = ctx;
    apr_ipsubnet_t *net;

    return subnet(s, n, c->p, &net) == APR_SUCCESS
           && apr_ipsubnet_test(net, c->addr);
}

int apikey_ip_allowed(const char *networks, apr_sockaddr_t *addr, apr_pool_t *p)
{
    struct ip_ctx c;

    c.addr = addr;
    c.p = p;
    c.bad = NULL;
    return networks && addr && each_item(networks, match_ip_item, &c);
}

/* ---- validation ---- */

static void copy_bad(char *bad, const char *s, size_t n)
{
    if (n > APIKEY_HOST_MAX) {
        n = APIKEY_HOST_MAX;
    }
    memcpy(bad, s, n);
    bad[n] = '\0';
}

static int check_ip_item(const char *s, size_t n, void *ctx)
{
    struct ip_ctx *c = ctx;
    apr_ipsubnet_t *net;

    if (subnet(s, n, c->p, &net) != APR_SUCCESS) {
        copy_bad(c->bad, s, n);
        return 1;
    }
    return 0;
}

/* Runs an item checker over a list that must hold at least one item;
 * returns NULL, "the list is empty", or what (the checker filled bad). */
static const char *check_items(const char *list,
                               int (*fn)(const char *, size_t, void *),
                               void *ctx, const char *what)
{
    if (!list || strspn(list, " \t,") == strlen(list)) {
        return "the list is empty";
    }
    return each_item(list, fn, ctx) ? what : NULL;
}

const char *apikey_networks_check(const char *list, apr_pool_t *p, char *bad)
{
    struct ip_ctx c;

    c.addr = NULL;
    c.p = p;
    c.bad = bad;
    return check_items(list, check_ip_item, &c,
                       "not an IPv4 or IPv6 address or network (a.b.c.d/bits, "
                       "x:y::/bits)");
}

/* An IPv6 literal as a Referer host gives it: hex digits, dots and at
 * least two colons. */
static int ipv6_literal(const char *s, size_t n)
{
    size_t i, colons = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ':') {
            colons++;
        }
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                   || (c >= 'A' && c <= 'F') || c == '.')) {
            return 0;
        }
    }
    return colons >= 2;
}

static int check_host_item(const char *s, size_t n, void *ctx)
{
    size_t i = 0;

    if (ipv6_literal(s, n)) {
        return 0;
    }

    if (n == 1 && s[0] == '*') {
        return 0;
    }
    if (n > 2 && s[0] == '*' && s[1] == '.') {
        i = 2;
    }
    if (i == n || n > APIKEY_HOST_MAX) {
        copy_bad(ctx, s, n);
        return 1;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* No ':' but in an IPv6 literal: the host taken from a Referer
         * never has a port. */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
            copy_bad(ctx, s, n);
            return 1;
        }
    }
    return 0;
}

const char *apikey_referers_check(const char *list, char *bad)
{
    return check_items(list, check_host_item, bad,
                       "not a host name pattern (example.com, *.example.com, "
                       "*)");
}

static int check_method_item(const char *s, size_t n, void *ctx)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(s[i] >= 'A' && s[i] <= 'Z') && s[i] != '-' && s[i] != '_') {
            copy_bad(ctx, s, n);
            return 1;
        }
    }
    return 0;
}

const char *apikey_methods_check(const char *list, char *bad)
{
    return check_items(list, check_method_item, bad,
                       "not an HTTP method in capitals (GET, POST, ...)");
}

/* A Java package name of n bytes: two or more parts separated by '.',
 * each a letter then letters, digits or '_'. */
static int java_package(const char *s, size_t n)
{
    size_t i, parts = 1;
    int start = 1;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

        if (start) {
            if (!letter) {
                return 0;
            }
            start = 0;
        }
        else if (c == '.') {
            parts++;
            start = 1;
        }
        else if (!letter && !(c >= '0' && c <= '9') && c != '_') {
            return 0;
        }
    }
    return !start && parts >= 2;
}

static int check_android_item(const char *s, size_t n, void *ctx)
{
    const char *colon = memchr(s, ':', n);
    size_t plen = colon ? (size_t)(colon - s) : n;
    char hex[APIKEY_SHA1_HEX + 1];

    if (!java_package(s, plen)
        || (colon
            && apikey_fingerprint_hex(colon + 1, n - plen - 1, APIKEY_SHA1_HEX,
                                      hex))) {
        copy_bad(ctx, s, n);
        return 1;
    }
    return 0;
}

const char *apikey_androids_check(const char *list, char *bad)
{
    return check_items(list, check_android_item, bad,
                       "not an Android package name, or package:SHA-1 "
                       "(com.example.app, com.example.app:AB:CD:..., 40 hex "
                       "digits)");
}

static int check_bundle_item(const char *s, size_t n, void *ctx)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
            copy_bad(ctx, s, n);
            return 1;
        }
    }
    return 0;
}

const char *apikey_bundles_check(const char *list, char *bad)
{
    return check_items(list, check_bundle_item, bad,
                       "not an iOS bundle id (letters, digits, '.' and '-': "
                       "com.example.app)");
}

static int check_cert_item(const char *s, size_t n, void *ctx)
{
    char hex[APIKEY_SHA256_HEX + 1];

    if (apikey_fingerprint_hex(s, n, APIKEY_SHA256_HEX, hex)) {
        copy_bad(ctx, s, n);
        return 1;
    }
    return 0;
}

const char *apikey_certs_check(const char *list, char *bad)
{
    return check_items(list, check_cert_item, bad,
                       "not a SHA-256 certificate fingerprint (64 hex "
                       "digits, colons allowed)");
}

const char *apikey_scope_check(const char *scope)
{
    const unsigned char *p = (const unsigned char *)scope;

    if (!*p) {
        return "a scope cannot be empty";
    }
    for (; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == ',') {
            return "a scope is printable ASCII without blanks, quotes, "
                   "backslashes or commas";
        }
    }
    return NULL;
}
