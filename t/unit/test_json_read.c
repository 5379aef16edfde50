/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the reader of htapikey import's lines
 * (apikey_json_read.c): what RFC 8259 allows of a flat object is read,
 * escapes and surrogate pairs decoded; what it does not allow, or what
 * import refuses (nesting, names given twice, NUL, bytes that are not
 * UTF-8), is refused with the byte where it went wrong; and every string
 * of one or two bytes that the status page's writer quotes reads back as
 * itself. */

#include "apikey_json.h"
#include "apikey_json_read.h"
#include "tap.h"

#include "apr_general.h"
#include "apr_strings.h"

#include <stdio.h>
#include <string.h>

static apr_pool_t *pool;

/* The members of s as "name=value" (value "(null)" for null), joined by
 * "|", or "ERR: message". */
static const char *read_back(const char *s, size_t len)
{
    apr_array_header_t *m;
    const char *err = apikey_json_object_parse(pool, s, len, &m), *out = "";
    int i;

    if (err) {
        return apr_pstrcat(pool, "ERR: ", err, NULL);
    }
    for (i = 0; i < m->nelts; i++) {
        const apikey_json_member_t *e =
            &APR_ARRAY_IDX(m, i, apikey_json_member_t);

        out = apr_pstrcat(pool, out, i ? "|" : "", e->name, "=",
                          e->value ? e->value : "(null)", NULL);
    }
    return out;
}

static const char *rd(const char *s)
{
    return read_back(s, strlen(s));
}

int main(void)
{
    static const struct {
        const char *in, *want;
    } good[] = {
        {"{}", ""},
        {" \t{ }\r\n", ""},
        {"{\"a\":\"b\"}", "a=b"},
        {"{\"id\":\"x\",\"burst\":40,\"expires\":null}",
         "id=x|burst=40|expires=(null)"},
        {"{\"n\":-0,\"m\":1.5e-3,\"o\":2E+10}", "n=-0|m=1.5e-3|o=2E+10"},
        {"{\"t\":true,\"f\":false}", "t=true|f=false"},
        {"{\"s\":[\"a\",\"b\" , \"c\"]}", "s=a b c"},
        {"{\"s\":[]}", "s="},
        {"{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "e=\"\\/\b\f\n\r\t"},
        {"{\"u\":\"\\u00fc\\u20ac\\ud83d\\udd11\"}",
         "u=\xc3\xbc\xe2\x82\xac\xf0\x9f\x94\x91"},
        {"{\"raw\":\"M\xc3\xbcller\"}", "raw=M\xc3\xbcller"},
        {"{\"\\u0041\":1}", "A=1"},
    };
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"\"a\"", "not a JSON object"},
        {"{", "a member without a quoted name"},
        {"{\"a\"}", "a member without ':'"},
        {"{\"a\":}", "no JSON value"},
        {"{\"a\":1,}", "a member without a quoted name"},
        {"{\"a\":1 \"b\":2}", "without ',' or '}'"},
        {"{\"a\":1}x", "something after the object"},
        {"{\"a\":1}{}", "something after the object"},
        {"{a:1}", "a member without a quoted name"},
        {"{'a':1}", "a member without a quoted name"},
        {"{\"a\":{\"b\":1}}", "a nested object"},
        {"{\"a\":[1]}", "something else than strings"},
        {"{\"a\":[[\"b\"]]}", "something else than strings"},
        {"{\"a\":[\"b\"}", "without ',' or ']'"},
        {"{\"a\":1,\"a\":2}", "given twice"},
        {"{\"a\":\"b}", "without its closing quote"},
        {"{\"a\":\"\\x\"}", "an unknown escape"},
        {"{\"a\":\"\\u12\"}", "four hex digits"},
        {"{\"a\":\"\\u0000\"}", "NUL"},
        {"{\"a\":\"\\ud800\"}", "a lone high surrogate"},
        {"{\"a\":\"\\ud800\\u0041\"}", "a lone high surrogate"},
        {"{\"a\":\"\\udc00\"}", "a lone low surrogate"},
        {"{\"a\":\"x\ty\"}", "a control character"},
        {"{\"a\":\"\xff\"}", "not UTF-8"},
        {"{\"a\":\"\xc0\xaf\"}", "not UTF-8"},
        {"{\"a\":\"\xed\xa0\x80\"}", "not UTF-8"},
        {"{\"a\":\"\xe2\x82\"}", "not UTF-8"},
        {"{\"a\":01}", "without ',' or '}'"},
        {"{\"a\":1.}", "digits after its point"},
        {"{\"a\":.5}", "no JSON value"},
        {"{\"a\":1e}", "digits in its exponent"},
        {"{\"a\":-}", "without digits"},
        {"{\"a\":+1}", "no JSON value"},
        {"{\"a\":True}", "no JSON value"},
        {"{\"a\":nul}", "no JSON value"},
    };
    char big[APIKEY_JSON_OBJECT_MAX + 16], many[64 * 12 + 16], *o;
    size_t i;
    int c1, c2, mismatched = 0, tried = 0;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    plan((int)(sizeof(good) / sizeof(good[0]) + sizeof(bad) / sizeof(bad[0]))
         + 11);

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        is_str(rd(good[i].in), good[i].want, "reads %s", good[i].in);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *got = rd(bad[i].in);

        ok(!strncmp(got, "ERR: ", 5) && strstr(got, bad[i].why)
               && strstr(got, " at byte "),
           "refuses %s: %s (%s)", bad[i].in, bad[i].why, got);
    }
    is_str(rd("{\"a\":1,\"a\":2}"),
           "ERR: the name \"a\" given twice at byte 10",
           "the byte named is where it went wrong");
    is_str(read_back("{\"a\":\"b\0c\"}", 10), "ERR: a NUL byte at byte 8",
           "a NUL byte in the input is refused");
    is_str(read_back("{\"a\":1}", 7), "a=1", "the input needs no terminator");

    /* Limits: members and bytes. */
    o = many + sprintf(many, "{");
    for (i = 0; i < APIKEY_JSON_MEMBERS_MAX; i++) {
        o += sprintf(o, "%s\"m%zu\":1", i ? "," : "", i);
    }
    strcpy(o, "}");
    ok(strncmp(rd(many), "ERR", 3) != 0, "%d members are read",
       APIKEY_JSON_MEMBERS_MAX);
    strcpy(o, ",\"x\":1}");
    ok(strstr(rd(many), "too many members") != NULL, "one more is refused");
    memset(big, ' ', sizeof(big));
    memcpy(big, "{}", 2);
    ok(strncmp(read_back(big, APIKEY_JSON_OBJECT_MAX), "ERR", 3) != 0,
       "an object of %d bytes is read", APIKEY_JSON_OBJECT_MAX);
    ok(strstr(read_back(big, APIKEY_JSON_OBJECT_MAX + 1), "longer than")
           != NULL,
       "one byte more is refused");

    /* Every string of one or two bytes that is well-formed UTF-8 without a
     * NUL, quoted by the writer, reads back as itself. */
    for (c1 = 1; c1 < 256; c1++) {
        for (c2 = 0; c2 < 256; c2++) {
            char s[3] = {(char)c1, (char)c2, 0};
            unsigned long cp;
            size_t n = apikey_utf8_decode(s, &cp), len = strlen(s);
            const char *q, *got;

            if (!n || (n < len && !apikey_utf8_decode(s + n, &cp))
                || (n != len && n + 1 != len)) {
                continue;
            }
            tried++;
            q = apr_pstrcat(pool, "{\"v\":", apikey_json_str(pool, s), "}",
                            NULL);
            got = rd(q);
            if (strncmp(got, "v=", 2) || strcmp(got + 2, s)) {
                if (mismatched++ < 5) {
                    diag("%02x %02x: %s", c1, c2, got);
                }
            }
        }
    }
    ok(tried > 10000, "tried %d strings", tried);
    is_int(mismatched, 0, "each read back as itself");
    {
        apr_array_header_t *m;
        const apikey_json_member_t *e;

        apikey_json_object_parse(pool, "{\"a\":1,\"b\":\"x\"}", 15, &m);
        e = apikey_json_member(m, "b");
        ok(e && e->type == APIKEY_JSON_STRING && !strcmp(e->value, "x"),
           "apikey_json_member finds a member by name");
        ok(apikey_json_member(m, "c") == NULL, "and NULL for one not there");
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
