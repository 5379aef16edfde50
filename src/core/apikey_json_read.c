/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A strict reader of one flat JSON object (see apikey_json_read.h).  It
 * reads a NUL-terminated copy of its input, so that every look-ahead stops
 * at the NUL, which no valid object holds. */

#include "apikey_json_read.h"
#include "apikey_json.h"
#include "apikey_key.h"

#include "apr_strings.h"

#include <string.h>

typedef struct {
    apr_pool_t *p;
    const char *start, *at;
    const char *err;
} reader_t;

static const char *fail(reader_t *r, const char *what)
{
    if (!r->err) {
        r->err = apr_psprintf(r->p, "%s at byte %lu", what,
                              (unsigned long)(r->at - r->start) + 1);
    }
    return NULL;
}

static void blanks(reader_t *r)
{
    while (*r->at == ' ' || *r->at == '\t' || *r->at == '\n'
           || *r->at == '\r') {
        r->at++;
    }
}

static int hex4(const char *s, unsigned long *v)
{
    int i;

    *v = 0;
    for (i = 0; i < 4; i++) {
        char c = s[i];

        *v <<= 4;
        if (c >= '0' && c <= '9') {
            *v |= (unsigned long)(c - '0');
        }
        else if (c >= 'a' && c <= 'f') {
            *v |= (unsigned long)(c - 'a' + 10);
        }
        else if (c >= 'A' && c <= 'F') {
            *v |= (unsigned long)(c - 'A' + 10);
        }
        else {
            return -1;
        }
    }
    return 0;
}

/* Writes code point cp as UTF-8 at o; returns the bytes written. */
static size_t utf8_put(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at r->at (its opening quote), unescaped.  Its UTF-8 is never
 * longer than its JSON: \uXXXX (6 bytes) gives at most 3, a pair (12) 4. */
static const char *string(reader_t *r)
{
    const char *s = r->at + 1, *end = s;
    char *out, *o;

    while (*end && *end != '"') {
        end += *end == '\\' && end[1] ? 2 : 1;
    }
    if (!*end) {
        return fail(r, "a string without its closing quote");
    }
    o = out = apr_palloc(r->p, (size_t)(end - s) + 1);
    r->at = s;
    while (r->at < end) {
        unsigned long cp, lo;
        size_t n;

        if (*r->at == '\\') {
            switch (r->at[1]) {
                case '"':
                case '\\':
                case '/':
                    *o++ = r->at[1];
                    break;
                case 'b':
                    *o++ = '\b';
                    break;
                case 'f':
                    *o++ = '\f';
                    break;
                case 'n':
                    *o++ = '\n';
                    break;
                case 'r':
                    *o++ = '\r';
                    break;
                case 't':
                    *o++ = '\t';
                    break;
                case 'u':
                    if (hex4(r->at + 2, &cp)) {
                        return fail(r, "a \\u escape without four hex digits");
                    }
                    if (cp == 0) {
                        return fail(r, "\\u0000 (a NUL) in a string");
                    }
                    if (cp >= 0xdc00 && cp <= 0xdfff) {
                        return fail(r, "a lone low surrogate");
                    }
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (r->at[6] != '\\' || r->at[7] != 'u'
                            || hex4(r->at + 8, &lo) || lo < 0xdc00
                            || lo > 0xdfff) {
                            return fail(r, "a lone high surrogate");
                        }
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        r->at += 6;
                    }
                    o += utf8_put(o, cp);
                    r->at += 4;
                    break;
                default:
                    return fail(r, "an unknown escape");
            }
            r->at += 2;
            continue;
        }
        if ((unsigned char)*r->at < 0x20) {
            return fail(r, "a control character in a string");
        }
        if (!(n = apikey_utf8_decode(r->at, &cp)) || r->at + n > end) {
            return fail(r, "a byte that is not UTF-8");
        }
        memcpy(o, r->at, n);
        o += n;
        r->at += n;
    }
    *o = '\0';
    r->at = end + 1;
    return out;
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?
 * [0-9]+)?, kept as written. */
static const char *number(reader_t *r)
{
    const char *s = r->at;

    if (*r->at == '-') {
        r->at++;
    }
    if (*r->at == '0') {
        r->at++;
    }
    else if (digit(*r->at)) {
        while (digit(*r->at)) {
            r->at++;
        }
    }
    else {
        return fail(r, "a number without digits");
    }
    if (*r->at == '.') {
        if (!digit(*++r->at)) {
            return fail(r, "a number without digits after its point");
        }
        while (digit(*r->at)) {
            r->at++;
        }
    }
    if (*r->at == 'e' || *r->at == 'E') {
        r->at++;
        if (*r->at == '+' || *r->at == '-') {
            r->at++;
        }
        if (!digit(*r->at)) {
            return fail(r, "a number without digits in its exponent");
        }
        while (digit(*r->at)) {
            r->at++;
        }
    }
    return apr_pstrndup(r->p, s, (size_t)(r->at - s));
}

static int word(reader_t *r, const char *w)
{
    size_t n = strlen(w);

    if (strncmp(r->at, w, n)) {
        return 0;
    }
    r->at += n;
    return 1;
}

/* An array of strings, joined by single spaces. */
static const char *strings(reader_t *r)
{
    const char *joined = "", *s;
    int first = 1;

    r->at++;
    blanks(r);
    if (*r->at == ']') {
        r->at++;
        return joined;
    }
    for (;;) {
        blanks(r);
        if (*r->at != '"') {
            return fail(r, "an array that holds something else than strings");
        }
        if (!(s = string(r))) {
            return NULL;
        }
        joined = first ? s : apr_pstrcat(r->p, joined, " ", s, NULL);
        first = 0;
        blanks(r);
        if (*r->at == ']') {
            r->at++;
            return joined;
        }
        if (*r->at != ',') {
            return fail(r, "an array without ',' or ']'");
        }
        r->at++;
    }
}

static int value(reader_t *r, apikey_json_member_t *m)
{
    char c = *r->at;

    m->value = NULL;
    if (c == '"') {
        m->type = APIKEY_JSON_STRING;
        return (m->value = string(r)) != NULL;
    }
    if (c == '-' || digit(c)) {
        m->type = APIKEY_JSON_NUMBER;
        return (m->value = number(r)) != NULL;
    }
    if (c == '[') {
        m->type = APIKEY_JSON_STRINGS;
        return (m->value = strings(r)) != NULL;
    }
    if (word(r, "true") || word(r, "false")) {
        m->type = APIKEY_JSON_BOOL;
        m->value = c == 't' ? "true" : "false";
        return 1;
    }
    if (word(r, "null")) {
        m->type = APIKEY_JSON_NULL;
        return 1;
    }
    if (c == '{') {
        fail(r, "a nested object");
        return 0;
    }
    fail(r, "no JSON value");
    return 0;
}

const apikey_json_member_t *
apikey_json_member(const apr_array_header_t *members, const char *name)
{
    int i;

    for (i = 0; i < members->nelts; i++) {
        const apikey_json_member_t *m =
            &APR_ARRAY_IDX(members, i, apikey_json_member_t);

        if (!strcmp(m->name, name)) {
            return m;
        }
    }
    return NULL;
}

static const char *parse(reader_t *r, apr_array_header_t **members);

const char *apikey_json_object_parse(apr_pool_t *p, const char *s, size_t len,
                                     apr_array_header_t **members)
{
    reader_t r;
    const char *err;

    if (len > APIKEY_JSON_OBJECT_MAX) {
        return apr_psprintf(p, "longer than %d bytes", APIKEY_JSON_OBJECT_MAX);
    }
    if (memchr(s, '\0', len)) {
        return apr_psprintf(
            p, "a NUL byte at byte %lu",
            (unsigned long)((const char *)memchr(s, '\0', len) - s) + 1);
    }
    r.p = p;
    r.start = r.at = apr_pstrndup(p, s, len);
    r.err = NULL;
    err = parse(&r, members);
    /* The copy may hold a key in clear (import --plaintext): wiped, as
     * every copy of a key is once used. */
    apikey_wipe((char *)r.start, len);
    return err;
}

static const char *parse(reader_t *rp, apr_array_header_t **members)
{
    reader_t r = *rp;
    apr_array_header_t *a;
    apr_pool_t *p = r.p;

    a = apr_array_make(p, 16, sizeof(apikey_json_member_t));
    blanks(&r);
    if (*r.at != '{') {
        fail(&r, "not a JSON object ('{' expected)");
        return r.err;
    }
    r.at++;
    blanks(&r);
    if (*r.at == '}') {
        r.at++;
    }
    else {
        for (;;) {
            apikey_json_member_t m;

            blanks(&r);
            if (*r.at != '"') {
                fail(&r, "a member without a quoted name");
                return r.err;
            }
            if (!(m.name = string(&r))) {
                return r.err;
            }
            if (apikey_json_member(a, m.name)) {
                r.at -= 1;
                fail(&r,
                     apr_psprintf(p, "the name \"%s\" given twice", m.name));
                return r.err;
            }
            blanks(&r);
            if (*r.at != ':') {
                fail(&r, "a member without ':'");
                return r.err;
            }
            r.at++;
            blanks(&r);
            if (!value(&r, &m)) {
                return r.err;
            }
            if (a->nelts >= APIKEY_JSON_MEMBERS_MAX) {
                fail(&r, "too many members");
                return r.err;
            }
            APR_ARRAY_PUSH(a, apikey_json_member_t) = m;
            blanks(&r);
            if (*r.at == '}') {
                r.at++;
                break;
            }
            if (*r.at != ',') {
                fail(&r, "a member without ',' or '}' after it");
                return r.err;
            }
            r.at++;
        }
    }
    blanks(&r);
    if (*r.at) {
        fail(&r, "something after the object");
        return r.err;
    }
    *members = a;
    return NULL;
}
