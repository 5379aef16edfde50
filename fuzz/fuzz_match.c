/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes a key's restrictions (apikey_match.c): the network list against
 * a client address (apikey_networks_check, apikey_ip_allowed), the
 * referer patterns against a Referer value (apikey_referers_check,
 * apikey_url_host, apikey_referer_allowed), and the method and scope
 * lists, and the application and certificate lists (allow_android,
 * allow_ios, allow_cert) against the headers and fingerprints a request
 * brings.  The input is "LIST\0VALUE\0ADDRESS": LIST is a stored list
 * (networks, referer patterns, methods, scopes, apps, fingerprints), VALUE
 * a Referer, an item, a scope, a package name (its part after a first ':'
 * read as X-Android-Cert) or a fingerprint, ADDRESS up to 16 bytes of a
 * client address, read as IPv4 and as IPv6.
 *
 * Beyond not crashing: a list allows what one of its items allows, no
 * more, no less; a client's own address as a network allows it; the host
 * taken from a Referer lies inside it, lower-cased and clean; a valid
 * referer pattern allows a URL built on it; "*" allows exactly the
 * Referers that have a host; list and scope look-ups agree with a plain
 * split; a fingerprint is read as hex of exactly its length whatever its
 * colons and case; a checked app or certificate list, normalised as
 * htapikey stores it, still checks and allows exactly what it allowed,
 * and each of its items allows a request that sends it. */

#include "apikey_match.h"
#include "fuzz.h"

#include <strings.h>

#include "apr_general.h"
#include "apr_strings.h"

/* pool is cleared after every input; the template addresses live in
 * keep. */
static apr_pool_t *pool, *keep;
static apr_sockaddr_t *sa4, *sa6;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(apr_initialize() == APR_SUCCESS);
    FUZZ_CHECK(apr_pool_create(&keep, NULL) == APR_SUCCESS);
    FUZZ_CHECK(apr_pool_create(&pool, NULL) == APR_SUCCESS);
    /* Numeric, so no resolver is asked; each input's bytes replace the
     * address in copies.  A host without IPv6 fuzzes IPv4 only. */
    FUZZ_CHECK(apr_sockaddr_info_get(&sa4, "127.0.0.1", APR_INET, 0, 0, keep)
               == APR_SUCCESS);
    if (apr_sockaddr_info_get(&sa6, "::1", APR_INET6, 0, 0, keep)
        != APR_SUCCESS) {
        sa6 = NULL;
    }
    return 0;
}

/* Items of a comma-separated list, blanks trimmed, empty ones skipped,
 * each as a fresh C string; fn stops the walk by returning non-zero. */
static int each(const char *list, int (*fn)(const char *, void *), void *ctx)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ","), s = 0, e = n;
        int rc = 0;

        while (s < e && (p[s] == ' ' || p[s] == '\t')) {
            s++;
        }
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t')) {
            e--;
        }
        if (e > s) {
            char *item = apr_pstrmemdup(pool, p + s, e - s);
            rc = fn(item, ctx);
        }
        if (rc) {
            return rc;
        }
        p += n + (p[n] != '\0');
    }
    return 0;
}

static int ip_item(const char *item, void *ctx)
{
    return apikey_ip_allowed(item, ctx, pool);
}

static int host_item(const char *item, void *ctx)
{
    return apikey_host_match(item, ctx);
}

static void check_networks(const char *list, apr_sockaddr_t *sa)
{
    char bad[APIKEY_HOST_MAX + 1], *own, *with_own;
    const char *err = apikey_networks_check(list, pool, bad);
    int allowed = apikey_ip_allowed(list, sa, pool);

    if (err) {
        FUZZ_CHECK(strlen(bad) <= APIKEY_HOST_MAX);
    }
    FUZZ_CHECK(allowed == 0 || allowed == 1);
    FUZZ_CHECK(allowed == (each(list, ip_item, sa) != 0));

    FUZZ_CHECK(apr_sockaddr_ip_get(&own, sa) == APR_SUCCESS);
    FUZZ_CHECK(apikey_networks_check(own, pool, bad) == NULL);
    FUZZ_CHECK(apikey_ip_allowed(own, sa, pool) == 1);
    with_own = apr_pstrcat(pool, list, ",", own, NULL);
    FUZZ_CHECK(apikey_ip_allowed(with_own, sa, pool) == 1);
}

/* A URL whose host is the pattern (or a name below it, for "*."). */
static int pattern_item(const char *item, void *ctx)
{
    char bad[APIKEY_HOST_MAX + 1];
    const char *host = item, *url;

    (void)ctx;
    if (apikey_referers_check(item, bad) != NULL || !strcmp(item, "*")) {
        return 0;
    }
    if (!strncmp(item, "*.", 2)) {
        host = apr_pstrcat(pool, "a", item + 1, NULL);
    }
    url = apr_pstrcat(pool, "https://", strchr(host, ':') ? "[" : "", host,
                      strchr(host, ':') ? "]" : "", "/x", NULL);
    if (strlen(host) <= APIKEY_HOST_MAX) {
        FUZZ_CHECK(apikey_referer_allowed(item, url) == 1);
    }
    if (host != item) {
        /* "*.example.com" is not example.com itself. */
        url = apr_pstrcat(pool, "https://", item + 2, "/", NULL);
        FUZZ_CHECK(apikey_referer_allowed(item, url) == 0);
    }
    return 0;
}

static void check_referer(const char *list, const char *referer)
{
    char *host = fuzz_alloc(APIKEY_HOST_MAX + 1), bad[APIKEY_HOST_MAX + 1];
    int got = apikey_url_host(referer, host, APIKEY_HOST_MAX + 1);
    int allowed = apikey_referer_allowed(list, referer);
    const char *err = apikey_referers_check(list, bad);
    size_t n, i;

    if (err) {
        FUZZ_CHECK(strlen(bad) <= APIKEY_HOST_MAX);
    }
    FUZZ_CHECK(got == 0 || got == -1);
    FUZZ_CHECK(apikey_referer_allowed("*", referer) == (got == 0));
    if (got == 0) {
        char *lower = apr_pstrdup(pool, referer);

        n = strlen(host);
        FUZZ_CHECK(n >= 1 && n <= APIKEY_HOST_MAX);
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)host[i];
            FUZZ_CHECK(c > ' ' && c != 0x7f && !(c >= 'A' && c <= 'Z'));
            FUZZ_CHECK(!strchr("/?#\\@", c));
        }
        for (i = 0; lower[i]; i++) {
            if (lower[i] >= 'A' && lower[i] <= 'Z') {
                lower[i] = (char)(lower[i] + 32);
            }
        }
        FUZZ_CHECK(strstr(lower, host) != NULL);
        FUZZ_CHECK(allowed == (each(list, host_item, host) != 0));
        /* The buffer must hold the host and its NUL, no less. */
        FUZZ_CHECK(apikey_url_host(referer, bad, n) == -1);
        FUZZ_CHECK(apikey_url_host(referer, bad, n + 1) == 0
                   && !strcmp(bad, host));
    }
    else {
        FUZZ_CHECK(allowed == 0);
    }
    each(list, pattern_item, NULL);
    free(host);
}

struct find {
    const char *item;
    int nocase, hit;
};

static int find_item(const char *s, void *ctx)
{
    struct find *f = ctx;

    f->hit = f->nocase ? !strcasecmp(s, f->item) : !strcmp(s, f->item);
    return f->hit;
}

static void check_lists(const char *list, const char *item)
{
    char bad[APIKEY_HOST_MAX + 1];
    struct find f;
    char *scopes, *tok, *save;
    int want = 0;

    if (apikey_methods_check(list, bad)) {
        FUZZ_CHECK(strlen(bad) <= APIKEY_HOST_MAX);
    }
    for (f.nocase = 0; f.nocase < 2; f.nocase++) {
        f.item = item;
        f.hit = 0;
        each(list, find_item, &f);
        FUZZ_CHECK(apikey_list_has(list, item, f.nocase) == f.hit);
    }

    if (apikey_scope_check(item) == NULL) {
        scopes = apr_pstrdup(pool, list);
        for (tok = apr_strtok(scopes, " ", &save); tok && !want;
             tok = apr_strtok(NULL, " ", &save)) {
            want = !strcmp(tok, item);
        }
        FUZZ_CHECK(apikey_scope_has(list, item) == want);
    }
}

/* ---- apps and certificates ---- */

struct app {
    const char *package, *cert; /* cert: lower-case hex or NULL */
    int hit;
};

/* What an Android item allows, by the rule itself: its package, exactly,
 * and its pin (when it has one) in lower-case hex. */
static int android_item(const char *item, void *ctx)
{
    struct app *a = ctx;
    const char *colon = strchr(item, ':');
    size_t plen = colon ? (size_t)(colon - item) : strlen(item);
    char pin[APIKEY_SHA1_HEX + 1];

    if (strlen(a->package) != plen || strncmp(item, a->package, plen)) {
        return 0;
    }
    if (!colon) {
        return a->hit = 1;
    }
    return a->hit = a->cert
                    && !apikey_fingerprint_hex(colon + 1, strlen(colon + 1),
                                               APIKEY_SHA1_HEX, pin)
                    && !strcmp(pin, a->cert);
}

/* Every item of a valid list, sent as the request's headers, is allowed. */
static int android_sent(const char *item, void *ctx)
{
    const char *list = ctx, *colon = strchr(item, ':');

    FUZZ_CHECK(
        apikey_android_allowed(
            list,
            colon ? apr_pstrmemdup(pool, item, (size_t)(colon - item)) : item,
            colon ? colon + 1 : NULL)
        == 1);
    return 0;
}

static int cert_sent(const char *item, void *ctx)
{
    char hex[APIKEY_SHA256_HEX + 1];

    FUZZ_CHECK(
        !apikey_fingerprint_hex(item, strlen(item), APIKEY_SHA256_HEX, hex));
    FUZZ_CHECK(apikey_cert_allowed(ctx, hex) == 1);
    return 0;
}

static void check_fingerprint(const char *value, size_t digits)
{
    char *out = fuzz_alloc(digits + 1), *plain;
    size_t n = strlen(value), i, k = 0;
    int got = apikey_fingerprint_hex(value, n, digits, out);

    plain = fuzz_alloc(n + 1);
    for (i = 0; i < n; i++) {
        if (value[i] != ':') {
            plain[k++] = value[i];
        }
    }
    plain[k] = '\0';
    FUZZ_CHECK(got
               == (k == digits && strspn(plain, "0123456789abcdefABCDEF") == k
                       ? 0
                       : -1));
    if (got == 0) {
        FUZZ_CHECK(strlen(out) == digits);
        FUZZ_CHECK(strspn(out, "0123456789abcdef") == digits);
        FUZZ_CHECK(!strcasecmp(out, plain));
    }
    free(out);
    free(plain);
}

static void check_apps(const char *list, const char *value)
{
    char bad[APIKEY_HOST_MAX + 1], hex[APIKEY_SHA1_HEX + 1];
    const char *colon = strchr(value, ':'), *norm;
    struct app a;
    int allowed;

    check_fingerprint(value, APIKEY_SHA1_HEX);
    check_fingerprint(value, APIKEY_SHA256_HEX);

    a.package =
        colon ? apr_pstrmemdup(pool, value, (size_t)(colon - value)) : value;
    a.cert = colon
                     && !apikey_fingerprint_hex(colon + 1, strlen(colon + 1),
                                                APIKEY_SHA1_HEX, hex)
                 ? hex
                 : NULL;
    a.hit = 0;
    allowed = apikey_android_allowed(list, a.package, colon ? colon + 1 : NULL);
    if (*a.package) {
        each(list, android_item, &a);
    }
    FUZZ_CHECK(allowed == a.hit);

    if (!apikey_androids_check(list, bad)) {
        norm = apikey_pins_normalise(pool, list, 1);
        FUZZ_CHECK(apikey_androids_check(norm, bad) == NULL);
        FUZZ_CHECK(
            apikey_android_allowed(norm, a.package, colon ? colon + 1 : NULL)
            == allowed);
        each(list, android_sent, (void *)list);
        each(norm, android_sent, (void *)norm);
    }
    if (!apikey_bundles_check(list, bad)) {
        FUZZ_CHECK(strspn(list, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                                "TUVWXYZ0123456789.-, \t")
                   == strlen(list));
    }
    FUZZ_CHECK(apikey_ios_allowed(list, value)
               == apikey_list_has(list, value, 0));
    if (!apikey_certs_check(list, bad)) {
        norm = apikey_pins_normalise(pool, list, 0);
        FUZZ_CHECK(apikey_certs_check(norm, bad) == NULL);
        FUZZ_CHECK(apikey_cert_allowed(norm, value)
                   == apikey_cert_allowed(list, value));
        each(list, cert_sent, (void *)list);
        each(norm, cert_sent, (void *)norm);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *tail, *rest;
    size_t tail_len, rest_len;
    char *list = fuzz_split(data, size, &tail, &tail_len);
    char *value = fuzz_split(tail, tail_len, &rest, &rest_len);
    apr_sockaddr_t a4 = *sa4, a6;
    uint8_t ip[16] = {0};

    /* apr_sockaddr_ip_get allocates from the address's pool. */
    a4.pool = pool;

    memcpy(ip, rest, rest_len < 16 ? rest_len : 16);
    a4.ipaddr_ptr = &a4.sa.sin.sin_addr;
    memcpy(a4.ipaddr_ptr, ip, 4);
    check_networks(list, &a4);
    if (sa6) {
        a6 = *sa6;
        a6.pool = pool;
        a6.ipaddr_ptr = &a6.sa.sin6.sin6_addr;
        memcpy(a6.ipaddr_ptr, ip, 16);
        check_networks(list, &a6);
    }
    check_referer(list, value);
    check_lists(list, value);
    check_apps(list, value);

    apr_pool_clear(pool);
    free(list);
    free(value);
    return 0;
}
