/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the scope, method, referer and client network matching
 * and the restriction list checks in apikey_match.c. */

#include "apikey_match.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_strings.h"

/* Longer than any buffer or limit in apikey_match.c. */
#define LONG_LEN 300

static apr_pool_t *pool;

/* Shows a test input on one TAP line: quoted, with control characters,
 * backslashes and non-ASCII bytes escaped (a raw newline would end the
 * line for prove), and cut short when long. */
static const char *vis(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    static char ring[4][96];
    static unsigned next;
    char *buf, *o;

    if (!s) {
        return "NULL";
    }
    buf = ring[next++ % 4];
    o = buf;
    *o++ = '\'';
    for (; *s && o < buf + sizeof(ring[0]) - 10; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < ' ' || c >= 0x7f || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        else {
            *o++ = (char)c;
        }
    }
    if (*s) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o++ = '\'';
    *o = '\0';
    return buf;
}

/* A string of n copies of c followed by tail, from the pool. */
static char *repeat(char c, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    char *s = apr_palloc(pool, n + t + 1);

    memset(s, c, n);
    memcpy(s + n, tail, t + 1);
    return s;
}

/* ---- apikey_scope_has ---- */

static void scope_is(const char *scopes, const char *scope, int want)
{
    is_int(apikey_scope_has(scopes, scope), want, "scope_has(%s, %s) is %d",
           vis(scopes), vis(scope), want);
}

static void test_scope_has(void)
{
    scope_is("read write admin", "read", 1);
    scope_is("read write admin", "write", 1);
    scope_is("read write admin", "admin", 1);
    scope_is("read", "read", 1);
    scope_is("  read   write  ", "write", 1);
    scope_is("read write admin", "delete", 0);
    scope_is("read write", "Read", 0);

    /* A prefix or suffix of a word is another scope. */
    scope_is("orders:read", "orders", 0);
    scope_is("orders:read", "read", 0);
    scope_is("orders:read", "orders:rea", 0);
    scope_is("orders:read", "rders:read", 0);
    scope_is("orders:read orders", "orders", 1);
    scope_is("orders orders:read", "orders:read", 1);

    /* The search goes on past occurrences inside longer words. */
    scope_is("ab abc abcd", "abc", 1);
    scope_is("abcd xabc abc", "abc", 1);
    scope_is("abcd xabc abcabc", "abc", 0);

    /* Only spaces separate scopes. */
    scope_is("read,write", "write", 0);
    scope_is("read\twrite", "write", 0);

    scope_is("", "read", 0);
    scope_is("read write", "", 0);
    scope_is("", "", 0);
    scope_is(NULL, "read", 0);
}

/* ---- apikey_list_has ---- */

static void list_is(const char *list, const char *item, int nocase, int want)
{
    is_int(apikey_list_has(list, item, nocase), want,
           "list_has(%s, %s, %s) is %d", vis(list), vis(item),
           nocase ? "nocase" : "case", want);
}

static void test_list_has(void)
{
    list_is("GET, HEAD ,POST", "GET", 0, 1);
    list_is("GET, HEAD ,POST", "HEAD", 0, 1);
    list_is("GET, HEAD ,POST", "POST", 0, 1);
    list_is("\tGET\t,\tPOST", "GET", 0, 1);
    list_is("GET, HEAD ,POST", "PUT", 0, 0);

    list_is("GET,HEAD", "get", 0, 0);
    list_is("GET,HEAD", "get", 1, 1);
    list_is("get,head", "HEAD", 1, 1);
    list_is("GET,HEAD", "Head", 0, 0);

    list_is(",,GET,", "GET", 0, 1);
    list_is(" , ,GET, ,", "GET", 0, 1);

    /* Partial names, and blanks inside an item, do not match. */
    list_is("GET,POST", "GE", 0, 0);
    list_is("GET,POST", "ET", 1, 0);
    list_is("GET,POST", "GETS", 0, 0);
    list_is("GET POST", "GET", 0, 0);

    list_is(NULL, "GET", 0, 0);
    list_is("", "GET", 0, 0);
    list_is("GET,,POST", "", 0, 0);
    list_is(",,", "", 1, 0);
}

/* ---- apikey_host_match ---- */

static void host_is(const char *pattern, const char *host, int want)
{
    is_int(apikey_host_match(pattern, host), want, "host_match(%s, %s) is %d",
           vis(pattern), vis(host), want);
}

static void test_host_match(void)
{
    host_is("example.com", "example.com", 1);
    host_is("example.com", "EXAMPLE.Com", 1);
    host_is("Example.COM", "example.com", 1);
    host_is("example.com", "www.example.com", 0);
    host_is("example.com", "example.co", 0);
    host_is("example.com", "example.com.evil.net", 0);

    host_is("*.example.com", "a.example.com", 1);
    host_is("*.example.com", "a.b.example.com", 1);
    host_is("*.example.com", "A.EXAMPLE.COM", 1);
    host_is("*.example.com", "example.com", 0);
    host_is("*.example.com", ".example.com", 0);
    host_is("*.example.com", "evil-example.com", 0);
    host_is("*.example.com", "example.com.evil.net", 0);
    host_is("*.example.com", "xexample.com", 0);
    host_is("*.example.com", "a.example.com.", 0);

    /* "*." and "**" are no wildcards: they only match themselves. */
    host_is("*.", "a.", 0);
    host_is("**", "example.com", 0);

    host_is("*", "example.com", 1);
    host_is("*", "2001:db8::1", 1);

    host_is(NULL, "example.com", 0);
    host_is("example.com", NULL, 0);
    host_is("*", NULL, 0);
    host_is(NULL, NULL, 0);
}

/* ---- apikey_url_host ---- */

static void url_is(const char *url, const char *want)
{
    char out[APIKEY_HOST_MAX + 1];
    int rc;

    memset(out, '#', sizeof(out));
    out[sizeof(out) - 1] = '\0';
    rc = apikey_url_host(url, out, sizeof(out));
    ok(rc == 0 && !strcmp(out, want), "url_host(%s) is %s", vis(url),
       vis(want));
    if (rc != 0 || strcmp(out, want)) {
        diag("rc %d, host %s", rc, rc == 0 ? vis(out) : "(none)");
    }
}

static void url_none(const char *url, const char *why)
{
    char out[APIKEY_HOST_MAX + 1] = "";
    int rc = apikey_url_host(url, out, sizeof(out));

    is_int(rc, -1, "url_host(%s) fails: %s", vis(url), why);
    if (rc == 0) {
        diag("host %s", vis(out));
    }
}

/* The out buffer comes from malloc at exactly outlen bytes, so valgrind
 * and AddressSanitizer see a write past its end. */
static void url_sized(const char *url, size_t outlen, const char *want,
                      const char *why)
{
    char *out = malloc(outlen ? outlen : 1);
    int rc;

    if (!out) {
        ok(0, "malloc for %s", why);
        return;
    }
    rc = apikey_url_host(url, out, outlen);
    if (want) {
        ok(rc == 0 && !strcmp(out, want), "%s", why);
    }
    else {
        is_int(rc, -1, "%s", why);
    }
    free(out);
}

static void test_url_host(void)
{
    char *url;

    url_is("https://a.b:8443/x", "a.b");
    url_is("http://example.com", "example.com");
    url_is("http://example.com/", "example.com");
    url_is("http://example.com:80", "example.com");
    url_is("http://example.com/p/q?x=1#f", "example.com");
    url_is("https://example.com?q=http://evil.net/", "example.com");
    url_is("https://example.com#frag", "example.com");
    url_is("HTTPS://WWW.Example.COM/Path", "www.example.com");
    url_is("ftp://files.example.com/", "files.example.com");

    /* Userinfo is dropped; the host follows the last '@' before the path,
     * as a browser reads it. */
    url_is("https://u:p@h.example/x", "h.example");
    url_is("https://u@h.example", "h.example");
    url_is("https://good.com@evil.net/", "evil.net");
    url_is("https://good.com:443@evil.net/", "evil.net");
    url_is("https://a@good.com@evil.net/", "evil.net");
    url_is("https://evil.net/@good.com", "evil.net");
    url_is("https://evil.net?@good.com", "evil.net");
    url_is("https://evil.net#@good.com", "evil.net");

    url_is("http://[2001:db8::1]:8080/", "2001:db8::1");
    url_is("http://[2001:DB8::A]/x", "2001:db8::a");
    url_is("http://[::1]", "::1");
    url_is("http://u:p@[::1]:80/", "::1");

    url_none("example.com", "no scheme");
    url_none("example.com/x", "no scheme");
    url_none("//example.com/x", "no scheme");
    url_none("mailto:a@example.com", "no authority");
    url_none("", "empty");
    url_none(NULL, "NULL");
    /* A relative reference has no host, whatever its query carries. */
    url_none("/go?to=https://good.com/", "no scheme, '://' in the query");
    url_none("://good.com/", "empty scheme");

    url_none("http://", "empty host");
    url_none("http:///x", "empty host");
    url_none("http://:80/", "empty host with a port");
    url_none("http://u@/", "empty host after userinfo");
    url_none("http://u@:80", "empty host after userinfo, with a port");
    url_none("http://?q", "empty host before a query");
    url_none("http://#f", "empty host before a fragment");
    url_none("http://[]/", "empty IPv6 literal");
    url_none("http://[]:80/", "empty IPv6 literal with a port");

    url_none("http://[2001:db8::1/", "unterminated '['");
    url_none("http://[2001:db8::1", "unterminated '[' at the end");
    url_none("http://[::1/x]", "']' only in the path");

    url_none("http://exa mple.com/", "space in the host");
    url_none("http://exa\tmple.com/", "tab in the host");
    url_none("http://example.com\r\n/", "CR LF in the host");
    url_none("http://ex\x7f"
             "ample.com/",
             "DEL in the host");
    url_none("http://\x01/", "control character as the host");
    url_none("http://[::1 ]/", "space in an IPv6 literal");

    url =
        apr_pstrcat(pool, "http://", repeat('a', APIKEY_HOST_MAX, "/x"), NULL);
    url_sized(url, APIKEY_HOST_MAX + 1, repeat('a', APIKEY_HOST_MAX, ""),
              "a host of APIKEY_HOST_MAX characters fits its buffer");
    url = apr_pstrcat(pool, "http://", repeat('a', APIKEY_HOST_MAX + 1, "/x"),
                      NULL);
    url_sized(url, LONG_LEN + 1, NULL,
              "a host of APIKEY_HOST_MAX + 1 characters is refused, "
              "even with room for it");
    url = apr_pstrcat(pool, "http://[", repeat('a', LONG_LEN, "]/"), NULL);
    url_sized(url, LONG_LEN + 1, NULL,
              "an overlong IPv6 literal is refused, even with room for it");
    url_sized("http://abcdefghij/", 11, "abcdefghij",
              "a 10-character host fits 11 bytes");
    url_sized("http://abcdefghij/", 10, NULL,
              "a 10-character host does not fit 10 bytes");
    url_sized("http://[::1]/", 3, NULL, "'::1' does not fit 3 bytes");
    url_sized("http://a/", 1, NULL, "a 1-character host does not fit 1 byte");
    url_sized("http://a/", 0, NULL, "nothing fits 0 bytes");
}

/* ---- apikey_referer_allowed ---- */

static void referer_is(const char *patterns, const char *referer, int want)
{
    is_int(apikey_referer_allowed(patterns, referer), want,
           "referer_allowed(%s, %s) is %d", vis(patterns), vis(referer), want);
}

static void test_referer_allowed(void)
{
    const char *several = "example.com, *.example.org ,\tapi.test";

    referer_is("example.com", "https://example.com/page", 1);
    referer_is("example.com", "https://EXAMPLE.com:8443/x?y#z", 1);
    referer_is("example.com", "https://www.example.com/", 0);
    referer_is("example.com", "https://example.com.evil.net/", 0);
    referer_is("*.example.com", "https://www.example.com/", 1);
    referer_is("*.example.com", "https://example.com/", 0);
    referer_is("*.example.com", "https://evil-example.com/", 0);

    referer_is(several, "http://example.com/", 1);
    referer_is(several, "http://a.b.example.org/", 1);
    referer_is(several, "http://api.test:8080/", 1);
    referer_is(several, "http://example.org/", 0);
    referer_is(several, "http://test/", 0);
    referer_is(",,example.com,", "http://example.com/", 1);
    referer_is("2001:db8::1", "http://[2001:DB8::1]:8080/", 1);

    referer_is("good.com", "https://good.com@evil.net/", 0);
    referer_is("evil.net", "https://good.com@evil.net/", 1);
    referer_is("good.com", "/go?to=https://good.com/", 0);

    referer_is("*", "https://anything.example/", 1);
    referer_is("*", NULL, 0);
    referer_is("*", "", 0);
    referer_is("*", "example.com", 0);
    referer_is("*", "http:///x", 0);
    referer_is("*", "http://exa mple.com/", 0);
    referer_is("*",
               apr_pstrcat(pool, "http://",
                           repeat('a', APIKEY_HOST_MAX + 1, "/"), NULL),
               0);
    referer_is("example.com", NULL, 0);

    referer_is(NULL, "http://example.com/", 0);
    referer_is("", "http://example.com/", 0);
    referer_is(" , ,", "http://example.com/", 0);
}

/* ---- apikey_ip_allowed ---- */

static apr_sockaddr_t *addr_of(const char *ip)
{
    apr_sockaddr_t *sa = NULL;
    apr_int32_t family = strchr(ip, ':') ? APR_INET6 : APR_INET;
    apr_status_t rv = apr_sockaddr_info_get(&sa, ip, family, 0, 0, pool);

    if (rv != APR_SUCCESS) {
        char msg[120];
        diag("apr_sockaddr_info_get(%s): %s", ip,
             apr_strerror(rv, msg, sizeof(msg)));
        return NULL;
    }
    return sa;
}

static void ip_is(const char *networks, const char *ip, int want)
{
    apr_sockaddr_t *sa = addr_of(ip);

    if (!sa) {
        ok(0, "ip_allowed(%s, %s): no address", vis(networks), ip);
        return;
    }
    is_int(apikey_ip_allowed(networks, sa, pool), want,
           "ip_allowed(%s, %s) is %d", vis(networks), ip, want);
}

static void test_ip_allowed(void)
{
    apr_sockaddr_t *sa;

    ip_is("10.0.0.0/8", "10.0.0.1", 1);
    ip_is("10.0.0.0/8", "10.255.255.255", 1);
    ip_is("10.0.0.0/8", "11.0.0.0", 0);
    ip_is("10.0.0.0/8", "9.255.255.255", 0);
    ip_is("192.0.2.0/24", "192.0.2.0", 1);
    ip_is("192.0.2.0/24", "192.0.2.255", 1);
    ip_is("192.0.2.0/24", "192.0.3.0", 0);
    ip_is("192.0.2.0/24", "192.0.1.255", 0);
    ip_is("198.51.100.7/32", "198.51.100.7", 1);
    ip_is("198.51.100.7/32", "198.51.100.8", 0);
    ip_is("198.51.100.7", "198.51.100.7", 1);
    ip_is("198.51.100.7", "198.51.100.6", 0);
    /* Host bits after the prefix are ignored, and a partial address is a
     * whole-octet network, as by Require ip. */
    ip_is("10.1.2.3/8", "10.9.9.9", 1);
    ip_is("10", "10.9.9.9", 1);
    ip_is("10", "11.0.0.1", 0);
    ip_is("192.0.2", "192.0.2.200", 1);
    ip_is("192.0.2", "192.0.3.1", 0);

    ip_is("2001:db8::/32", "2001:db8::1", 1);
    ip_is("2001:db8::/32", "2001:db8:ffff:ffff::1", 1);
    ip_is("2001:db8::/32", "2001:db9::1", 0);
    ip_is("2001:db8::1/128", "2001:db8::1", 1);
    ip_is("2001:db8::1/128", "2001:db8::2", 0);
    ip_is("2001:db8::7", "2001:db8::7", 1);
    ip_is("2001:DB8::7", "2001:db8::7", 1);
    ip_is("2001:db8::7", "2001:db8::8", 0);

    /* Families never mix, even when the list covers the whole of the
     * other family. */
    ip_is("2001:db8::/32, ::/1, 8000::/1", "192.0.2.1", 0);
    ip_is("0.0.0.0/1, 128.0.0.0/1", "2001:db8::1", 0);
    ip_is("192.0.2.0/24", "::192.0.2.1", 0);

    /* APR reads an IPv4-mapped address as the IPv4 address it carries:
     * it lies in IPv4 networks that hold that address and in no other
     * network, IPv4 or IPv6. */
    ip_is("192.0.2.0/24", "::ffff:192.0.2.1", 1);
    ip_is("192.0.2.1", "::ffff:192.0.2.1", 1);
    ip_is("198.51.100.0/24", "::ffff:192.0.2.1", 0);
    ip_is("0.0.0.0/1", "::ffff:192.0.2.1", 0);
    ip_is("::/1, 8000::/1", "::ffff:192.0.2.1", 0);
    ip_is("::ffff:192.0.2.0/120", "::ffff:192.0.2.1", 0);
    ip_is("::ffff:0:0/96", "::ffff:192.0.2.1", 0);

    ip_is(" 10.0.0.0/8 ,\t192.0.2.0/24 , ", "192.0.2.9", 1);
    ip_is(",,192.0.2.0/24,,", "192.0.2.9", 1);
    ip_is(",, ,", "192.0.2.9", 0);
    ip_is("", "192.0.2.9", 0);

    /* An invalid item never matches, and does not hide a valid one. */
    ip_is("bogus, 192.0.2.0/24", "192.0.2.1", 1);
    ip_is("10.0.0.0/33, 192.0.2.0/24", "192.0.2.1", 1);
    ip_is("10.0.0.0/33", "10.0.0.1", 0);
    ip_is("10.0.0.0/x", "10.0.0.1", 0);
    ip_is("10.0.0.0/", "10.0.0.1", 0);
    ip_is("10.0.0.0/8/8", "10.0.0.1", 0);
    ip_is("10.0.0.0 /8", "10.0.0.1", 0);
    ip_is("0.0.0.0/0", "10.0.0.1", 0);
    ip_is("2001:db8::/129", "2001:db8::1", 0);
    ip_is("::/0", "2001:db8::1", 0);
    /* Longer than any address written sensibly. */
    ip_is(apr_pstrcat(pool, "2001:db8::1/", repeat('0', 60, "128"), NULL),
          "2001:db8::1", 0);

    sa = addr_of("192.0.2.1");
    is_int(apikey_ip_allowed(NULL, sa, pool), 0, "ip_allowed(NULL, addr) is 0");
    is_int(apikey_ip_allowed("0.0.0.0/1, 128.0.0.0/1", NULL, pool), 0,
           "ip_allowed(list, NULL) is 0");
}

/* ---- the list checks ---- */

typedef const char *(*check_fn)(const char *list, char *bad);

static const char *networks_check(const char *list, char *bad)
{
    return apikey_networks_check(list, pool, bad);
}

/* bad starts empty, as htapikey has it: an empty list has no offending
 * item, and htapikey then prints the message alone. */
static void list_valid(check_fn fn, const char *name, const char *list)
{
    char bad[APIKEY_HOST_MAX + 1] = "";
    const char *err = fn(list, bad);

    ok(err == NULL, "%s(%s) accepts it", name, vis(list));
    if (err) {
        diag("error: %s; bad %s", err, vis(bad));
    }
}

static void list_empty(check_fn fn, const char *name, const char *list)
{
    char bad[APIKEY_HOST_MAX + 1] = "";
    const char *err = fn(list, bad);

    ok(err && *err && !*bad, "%s(%s) refuses an empty list", name, vis(list));
}

static void list_invalid(check_fn fn, const char *name, const char *list,
                         const char *want_bad)
{
    char bad[APIKEY_HOST_MAX + 1] = "";
    const char *err = fn(list, bad);

    ok(err && *err, "%s(%s) refuses it", name, vis(list));
    is_str(bad, want_bad, "%s(%s) names %s", name, vis(list), vis(want_bad));
}

/* An offending item longer than the bad buffer: bad comes from malloc at
 * exactly APIKEY_HOST_MAX + 1 bytes, for valgrind and AddressSanitizer,
 * and must hold the item's start, terminated. */
static void list_long_bad(check_fn fn, const char *name, const char *item)
{
    char *bad = malloc(APIKEY_HOST_MAX + 1);
    const char *list = apr_pstrcat(pool, "  ", item, " ,x", NULL);
    const char *err;

    if (!bad) {
        ok(0, "malloc for %s", name);
        return;
    }
    err = fn(list, bad);
    ok(err != NULL, "%s refuses a %d-character item", name, (int)strlen(item));
    ok(strlen(bad) == APIKEY_HOST_MAX && !memcmp(bad, item, APIKEY_HOST_MAX),
       "%s names it cut to APIKEY_HOST_MAX characters", name);
    free(bad);
}

static void test_networks_check(void)
{
    const char *n = "networks_check";
    check_fn fn = networks_check;

    list_valid(fn, n, "192.0.2.0/24");
    list_valid(fn, n, "198.51.100.7");
    list_valid(fn, n, "10.0.0.0/8, 192.0.2.0/24 ,198.51.100.7/32");
    list_valid(fn, n, "2001:db8::/32");
    list_valid(fn, n, "2001:db8::1/128,\t2001:db8::7");
    list_valid(fn, n, ",, 10.0.0.0/8 ,, 2001:db8::/32 ,");
    list_valid(fn, n, "10.0.0.0/1, 10.0.0.0/32, ::/1, ::/128");
    list_valid(fn, n, "10.0.0.0/08");

    list_valid(fn, n, "10, 192.0.2");

    list_invalid(fn, n, "10.0.0.0/33", "10.0.0.0/33");
    list_invalid(fn, n, "10.1/16", "10.1/16");
    list_invalid(fn, n, "2001:db8::/129", "2001:db8::/129");
    list_invalid(fn, n, "10.0.0.0/x", "10.0.0.0/x");
    list_invalid(fn, n, "10.0.0.0/", "10.0.0.0/");
    list_invalid(fn, n, "10.0.0.0/-8", "10.0.0.0/-8");
    list_invalid(fn, n, "10.0.0.0/+8", "10.0.0.0/+8");
    list_invalid(fn, n, "10.0.0.0/8/8", "10.0.0.0/8/8");
    list_invalid(fn, n, "10.0.0.0/255.0.0.0", "10.0.0.0/255.0.0.0");
    list_invalid(fn, n, "/24", "/24");
    list_invalid(fn, n, "300.0.0.1", "300.0.0.1");
    list_invalid(fn, n, "1.2.3.4.5", "1.2.3.4.5");
    list_invalid(fn, n, "10.0.0.0 /8", "10.0.0.0 /8");
    list_invalid(fn, n, "2001:db8::g", "2001:db8::g");
    list_invalid(fn, n, "fe80::1%eth0", "fe80::1%eth0");
    /* APR refuses IPv4-mapped networks: write them as IPv4. */
    list_invalid(fn, n, "::ffff:192.0.2.0/120", "::ffff:192.0.2.0/120");
    /* APR takes 1 to 32 (128) bits, so a list cannot say "anywhere";
     * leaving the restriction unset does. */
    list_invalid(fn, n, "0.0.0.0/0", "0.0.0.0/0");
    list_invalid(fn, n, "::/0", "::/0");
    list_invalid(fn, n, "192.0.2.0/24, example.com", "example.com");
    list_invalid(fn, n, " bad one ,\t10.0.0.0/33", "bad one");

    list_empty(fn, n, "");
    list_empty(fn, n, " ,\t, ");
    list_empty(fn, n, NULL);

    list_long_bad(fn, n, repeat('1', LONG_LEN, ""));
}

static void test_referers_check(void)
{
    const char *n = "referers_check";
    check_fn fn = apikey_referers_check;

    list_valid(fn, n, "example.com");
    list_valid(fn, n, "*.example.com, example.com ,*");
    list_valid(fn, n, "EXAMPLE.com,a-b_c.example");
    list_valid(fn, n, ",, api.test ,");
    list_valid(fn, n, "2001:db8::1");
    list_valid(fn, n, repeat('a', APIKEY_HOST_MAX, ""));
    list_valid(
        fn, n,
        apr_pstrcat(pool, "*.", repeat('a', APIKEY_HOST_MAX - 2, ""), NULL));

    list_invalid(fn, n, "*.", "*.");
    list_invalid(fn, n, "**", "**");
    list_invalid(fn, n, "*example.com", "*example.com");
    list_invalid(fn, n, "*.*.example.com", "*.*.example.com");
    list_invalid(fn, n, "a.*.example.com", "a.*.example.com");
    list_invalid(fn, n, "exa mple.com", "exa mple.com");
    list_invalid(fn, n, "http://example.com", "http://example.com");
    list_invalid(fn, n, "example.com/", "example.com/");
    list_invalid(fn, n, "[::1]", "[::1]");
    list_invalid(fn, n, "u@example.com", "u@example.com");
    list_invalid(fn, n, "ex\xc3\xa4mple.com", "ex\xc3\xa4mple.com");
    list_invalid(fn, n, "good.com, bad/host, also bad", "bad/host");
    list_invalid(fn, n, repeat('a', APIKEY_HOST_MAX + 1, ""),
                 repeat('a', APIKEY_HOST_MAX, ""));

    list_empty(fn, n, "");
    list_empty(fn, n, " , ,\t");
    list_empty(fn, n, NULL);

    list_long_bad(fn, n, repeat('a', LONG_LEN, ""));
    list_long_bad(fn, n, repeat('/', LONG_LEN, ""));
}

static void test_methods_check(void)
{
    const char *n = "methods_check";
    check_fn fn = apikey_methods_check;

    list_valid(fn, n, "GET");
    list_valid(fn, n, "GET, HEAD ,POST");
    list_valid(fn, n, ",,M-SEARCH,VERSION_CONTROL,");

    list_invalid(fn, n, "get", "get");
    list_invalid(fn, n, "GET, Post", "Post");
    list_invalid(fn, n, "GET POST", "GET POST");
    list_invalid(fn, n, "G3T", "G3T");
    list_invalid(fn, n, "GET;POST", "GET;POST");
    list_invalid(fn, n, "GET,\xc3\x84", "\xc3\x84");

    list_empty(fn, n, "");
    list_empty(fn, n, "\t, ,");
    list_empty(fn, n, NULL);

    list_long_bad(fn, n, repeat('x', LONG_LEN, ""));
}

/* ---- apikey_scope_check ---- */

static void test_scope_check(void)
{
    static const char *const good[] = {"read", "orders:read", "a",
                                       "api.example.com/orders",
                                       "!#$%&'()*+-./:;<=>?@[]^_`{|}~"};
    static const char *const bad[] = {"",     "a b",   "a\tb",     "a,b",
                                      "a\"b", "a\\b",  " a",       "a ",
                                      "a\nb", "a\x7f", "\xc3\xa9", "\x01"};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *err = apikey_scope_check(good[i]);

        ok(err == NULL, "scope_check(%s) accepts it", vis(good[i]));
        if (err) {
            diag("error: %s", err);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = apikey_scope_check(bad[i]);

        ok(err && *err, "scope_check(%s) refuses it", vis(bad[i]));
    }
}

/* Regressions found by this file's first run and by review: the host is
 * taken only after a scheme at the start, the authority ends at a
 * backslash as browsers end it, junk after an IPv6 literal is refused, and
 * a referer pattern cannot carry a port (the host never has one). */
static void test_url_host_regressions(void)
{
    char out[APIKEY_HOST_MAX + 1], bad[APIKEY_HOST_MAX + 1];

    ok(apikey_url_host("/go?to=https://good.com/", out, sizeof(out)) == -1,
       "relative reference with a URL in its query: no host");
    ok(apikey_url_host("1http://good.com/", out, sizeof(out)) == -1,
       "scheme must start with a letter");
    ok(apikey_url_host("ht tp://good.com/", out, sizeof(out)) == -1,
       "no blank in a scheme");
    ok(apikey_url_host("git+ssh://h.example/", out, sizeof(out)) == 0
           && !strcmp(out, "h.example"),
       "scheme with '+' is fine");
    ok(apikey_url_host("https://evil.net\\@good.com/", out, sizeof(out)) == 0
           && !strcmp(out, "evil.net"),
       "backslash ends the authority, as in browsers");
    ok(apikey_url_host("http://[good.com]evil.net/", out, sizeof(out)) == -1,
       "junk after an IPv6 literal is refused");
    ok(apikey_url_host("http://[2001:db8::1]/x", out, sizeof(out)) == 0
           && !strcmp(out, "2001:db8::1"),
       "IPv6 literal without a port");
    ok(!apikey_referer_allowed("good.com", "/go?to=https://good.com/"),
       "a relative Referer never matches");
    ok(apikey_referers_check("example.com:8080", bad) != NULL,
       "a referer pattern with a port is refused");
}

/* ---- application and certificate restrictions ---- */

#define SHA1_A  "0123456789abcdef0123456789abcdef01234567"
#define SHA1_AC "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67"
#define SHA256_A                                                               \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_fingerprint_hex(void)
{
    char out[APIKEY_SHA256_HEX + 1];

    ok(!apikey_fingerprint_hex(SHA1_AC, strlen(SHA1_AC), APIKEY_SHA1_HEX, out)
           && !strcmp(out, SHA1_A),
       "fingerprint_hex: colons dropped, capitals lowered");
    ok(!apikey_fingerprint_hex(SHA1_A, strlen(SHA1_A), APIKEY_SHA1_HEX, out)
           && !strcmp(out, SHA1_A),
       "fingerprint_hex: plain lower-case hex as it is");
    ok(apikey_fingerprint_hex(SHA1_A, 39, APIKEY_SHA1_HEX, out) == -1,
       "fingerprint_hex: one digit short");
    ok(apikey_fingerprint_hex(SHA1_A "0", 41, APIKEY_SHA1_HEX, out) == -1,
       "fingerprint_hex: one digit more");
    ok(apikey_fingerprint_hex(SHA1_A, strlen(SHA1_A), APIKEY_SHA256_HEX, out)
           == -1,
       "fingerprint_hex: a SHA-1 is no SHA-256");
    ok(apikey_fingerprint_hex("g123456789abcdef0123456789abcdef01234567", 40,
                              APIKEY_SHA1_HEX, out)
           == -1,
       "fingerprint_hex: not hex");
    ok(apikey_fingerprint_hex("", 0, APIKEY_SHA1_HEX, out) == -1,
       "fingerprint_hex: empty");
}

static void test_android_allowed(void)
{
    const char *list = "com.example.app, org.pinned.app:" SHA1_A;

    ok(apikey_android_allowed(list, "com.example.app", NULL),
       "android: a listed package without a pin");
    ok(apikey_android_allowed(list, "com.example.app", SHA1_A),
       "android: a certificate header changes nothing without a pin");
    ok(!apikey_android_allowed(list, "com.example.ap", NULL),
       "android: not a prefix");
    ok(!apikey_android_allowed(list, "com.example.appx", NULL),
       "android: not an extension");
    ok(!apikey_android_allowed(list, "COM.example.app", NULL),
       "android: package names compared exactly");
    ok(!apikey_android_allowed(list, NULL, NULL), "android: no package");
    ok(!apikey_android_allowed(list, "", NULL), "android: an empty package");
    ok(!apikey_android_allowed(NULL, "com.example.app", NULL),
       "android: no list");
    ok(apikey_android_allowed(list, "org.pinned.app", SHA1_A),
       "android: pinned, the certificate matches");
    ok(apikey_android_allowed(list, "org.pinned.app", SHA1_AC),
       "android: pinned, the certificate with colons and capitals");
    ok(!apikey_android_allowed(list, "org.pinned.app", NULL),
       "android: pinned, no certificate");
    ok(!apikey_android_allowed(list, "org.pinned.app",
                               "1123456789abcdef0123456789abcdef01234567"),
       "android: pinned, another certificate");
    ok(!apikey_android_allowed(list, "org.pinned.app", "0123"),
       "android: pinned, a certificate cut short");
    ok(!apikey_android_allowed(list, "com.example.app:" SHA1_A, NULL),
       "android: a package header holding the pin is no package");
}

static void test_ios_cert_allowed(void)
{
    ok(apikey_ios_allowed("com.a.b, com.c-d.e", "com.c-d.e"),
       "ios: the second bundle id");
    ok(!apikey_ios_allowed("com.a.b", "com.a.B"), "ios: compared exactly");
    ok(!apikey_ios_allowed("com.a.b", "com.a"), "ios: not a prefix");
    ok(!apikey_ios_allowed("com.a.b", NULL), "ios: no header");
    ok(!apikey_ios_allowed(NULL, "com.a.b"), "ios: no list");

    ok(apikey_cert_allowed("ff," SHA256_A, SHA256_A),
       "cert: listed (after an unreadable item)");
    ok(apikey_cert_allowed(
           "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:"
           "55:66:77:88:99:AA:BB:CC:DD:EE:FF",
           SHA256_A),
       "cert: a stored item with colons and capitals still matches");
    ok(!apikey_cert_allowed(SHA256_A,
                            "10112233445566778899aabbccddeeff00112233445566778"
                            "899aabbccddeeff"),
       "cert: another fingerprint");
    ok(!apikey_cert_allowed(SHA256_A, NULL), "cert: no certificate");
    ok(!apikey_cert_allowed(NULL, SHA256_A), "cert: no list");
}

static void test_app_checks(void)
{
    const char *n = "androids_check";
    check_fn fn = apikey_androids_check;

    list_valid(fn, n, "com.example.app");
    list_valid(fn, n, "com.example.app, a.b_c.D9:" SHA1_AC);
    list_invalid(fn, n, "app", "app");
    list_invalid(fn, n, "com..app", "com..app");
    list_invalid(fn, n, "com.1app", "com.1app");
    list_invalid(fn, n, "_com.app", "_com.app");
    list_invalid(fn, n, "com.app.", "com.app.");
    list_invalid(fn, n, "com.app-x", "com.app-x");
    list_invalid(fn, n, "com.app:", "com.app:");
    list_invalid(fn, n, "com.app:0123", "com.app:0123");
    list_invalid(fn, n, "com.ok, com.app:" SHA256_A, "com.app:" SHA256_A);
    list_empty(fn, n, " , ");

    n = "bundles_check";
    fn = apikey_bundles_check;
    list_valid(fn, n, "com.example.app, com.Example-2.app");
    list_invalid(fn, n, "com.example_app", "com.example_app");
    list_invalid(fn, n, "com.example app", "com.example app");
    list_invalid(fn, n, "com.a:b", "com.a:b");
    list_empty(fn, n, NULL);

    n = "certs_check";
    fn = apikey_certs_check;
    list_valid(fn, n, SHA256_A);
    list_valid(fn, n,
               "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
               "00112233445566778899AABBCCDDEEFF," SHA256_A);
    list_invalid(fn, n, SHA1_A, SHA1_A);
    list_invalid(fn, n, SHA256_A "0", SHA256_A "0");
    list_empty(fn, n, "");

    is_str(apikey_pins_normalise(pool, " a.b:" SHA1_AC " , c.d ", 1),
           "a.b:" SHA1_A ",c.d", "pins_normalise: Android list");
    is_str(apikey_pins_normalise(
               pool,
               "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:"
               "44:55:66:77:88:99:AA:BB:CC:DD:EE:FF, " SHA256_A,
               0),
           SHA256_A "," SHA256_A, "pins_normalise: certificate list");
}

int main(void)
{
    int rc;

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        printf("Bail out! APR does not start\n");
        return 255;
    }
    test_scope_has();
    test_list_has();
    test_host_match();
    test_url_host();
    test_url_host_regressions();
    test_referer_allowed();
    test_ip_allowed();
    test_networks_check();
    test_referers_check();
    test_methods_check();
    test_scope_check();
    test_fingerprint_hex();
    test_android_allowed();
    test_ios_cert_allowed();
    test_app_checks();
    rc = done_testing();
    apr_terminate();
    return rc;
}
