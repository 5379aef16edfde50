/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * JSON strings (see apikey_json.h). */

#include "apikey_json.h"

#include <string.h>

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when
 * the bytes there are none (RFC 3629: the second byte's range depends on
 * the first, which rules out overlong forms, surrogates and code points
 * past U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    }
    else {
        return 0; /* a continuation byte, C0, C1 or F5 to FF */
    }
    if (s[1] < lo || s[1] > hi) {
        return 0; /* the NUL that ends the string among them */
    }
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

size_t apikey_utf8_decode(const char *s, unsigned long *cp)
{
    const unsigned char *c = (const unsigned char *)s;
    size_t n = *c ? utf8_len(c) : 0, i;

    if (n) {
        *cp = n == 1 ? c[0] : c[0] & (0x7f >> n);
        for (i = 1; i < n; i++) {
            *cp = (*cp << 6) | (c[i] & 0x3f);
        }
    }
    return n;
}

size_t apikey_json_quote(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *c = (const unsigned char *)s;
    char *o = out;

    if (!s) {
        memcpy(out, "null", 5);
        return 4;
    }
    *o++ = '"';
    while (*c) {
        size_t n = utf8_len(c);

        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = (char)*c++;
        }
        else if (*c < 0x20 || *c == 0x7f) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[*c >> 4];
            o[5] = hex[*c & 0xf];
            o += 6;
            c++;
        }
        else if (n) {
            memcpy(o, c, n);
            o += n;
            c += n;
        }
        else {
            /* One U+FFFD for each byte that is not well-formed: what a
             * reader resynchronises on is the next byte. */
            memcpy(o, "\\ufffd", 6);
            o += 6;
            c++;
        }
    }
    *o++ = '"';
    *o = '\0';
    return (size_t)(o - out);
}

const char *apikey_json_str(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, s ? APIKEY_JSON_MAX(strlen(s)) : 5);

    apikey_json_quote(out, s);
    return out;
}

const char *apikey_utf8_mend(apr_pool_t *p, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    char *out, *o;
    size_t n;

    for (; *c; c += n) {
        if (!(n = utf8_len(c))) {
            break;
        }
    }
    if (!*c) {
        return s;
    }
    o = out = apr_palloc(p, 3 * strlen(s) + 1);
    for (c = (const unsigned char *)s; *c; c += n) {
        if ((n = utf8_len(c)) != 0) {
            memcpy(o, c, n);
            o += n;
        }
        else {
            memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            n = 1;
        }
    }
    *o = '\0';
    return out;
}
