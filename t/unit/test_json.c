/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the JSON strings of apikey_json.c (the status page's and
 * htapikey's): escapes, NULL, and every string of one to three bytes (and
 * every four-byte one that starts a four-byte sequence) checked against a
 * reference model: a decoder written from the code point ranges of the
 * Unicode standard (Table 3-7), not from the byte ranges the code uses. */

#include "apikey_json.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

/* The model: the code point of the well-formed sequence at s of n bytes
 * (decoded by bits, then held to the ranges), or -1. */
static long model_decode(const unsigned char *s, size_t n)
{
    long cp;
    size_t i, want;

    if (s[0] < 0x80) {
        return n == 1 ? s[0] : -1;
    }
    want = (s[0] & 0xe0) == 0xc0   ? 2
           : (s[0] & 0xf0) == 0xe0 ? 3
           : (s[0] & 0xf8) == 0xf0 ? 4
                                   : 0;
    if (!want || want != n) {
        return -1;
    }
    cp = s[0] & (0x7f >> want);
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Shortest form, no surrogates, at most U+10FFFF. */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800)
        || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff)
        || cp > 0x10ffff) {
        return -1;
    }
    return cp;
}

/* What the quoting of s (n bytes, no NUL) must be, by the model: each
 * byte, from the start, begins the longest well-formed sequence there, or
 * is one U+FFFD. */
static void model_quote(const unsigned char *s, size_t n, char *out)
{
    size_t i = 0, k;

    *out++ = '"';
    while (i < n) {
        size_t len = 0;

        for (k = 4; k >= 1; k--) {
            if (i + k <= n && model_decode(s + i, k) >= 0) {
                len = k;
                break;
            }
        }
        if (len == 1 && (s[i] == '"' || s[i] == '\\')) {
            *out++ = '\\';
            *out++ = (char)s[i];
        }
        else if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
            out += sprintf(out, "\\u%04x", s[i]);
        }
        else if (len) {
            memcpy(out, s + i, len);
            out += len;
        }
        else {
            memcpy(out, "\\ufffd", 6);
            out += 6;
            len = 1;
        }
        i += len;
    }
    *out++ = '"';
    *out = '\0';
}

/* Checks every string of n bytes (no NUL) whose first byte is in
 * [first_lo, first_hi]; returns how many disagreed (the first shown). */
static long sweep(size_t n, unsigned first_lo, unsigned first_hi)
{
    unsigned char s[5];
    char got[APIKEY_JSON_MAX(4)], want[APIKEY_JSON_MAX(4)];
    unsigned long i, total = 1;
    long bad = 0;
    size_t k;

    for (k = 1; k < n; k++) {
        total *= 255;
    }
    for (s[0] = (unsigned char)first_lo;; s[0]++) {
        for (i = 0; i < total; i++) {
            unsigned long v = i;

            for (k = 1; k < n; k++) {
                s[k] = (unsigned char)(v % 255 + 1);
                v /= 255;
            }
            s[n] = '\0';
            apikey_json_quote(got, (const char *)s);
            model_quote(s, n, want);
            if (strcmp(got, want) && bad++ == 0) {
                diag("%lu bytes %02x %02x %02x %02x: got %s, want %s",
                     (unsigned long)n, s[0], n > 1 ? s[1] : 0, n > 2 ? s[2] : 0,
                     n > 3 ? s[3] : 0, got, want);
            }
        }
        if (s[0] == first_hi) {
            break;
        }
    }
    return bad;
}

int main(void)
{
    char out[APIKEY_JSON_MAX(64)];

    apikey_json_quote(out, NULL);
    is_str(out, "null", "NULL is null");
    apikey_json_quote(out, "");
    is_str(out, "\"\"", "the empty string");
    apikey_json_quote(out, "a\"b\\c\n\t\x01\x7f");
    is_str(out, "\"a\\\"b\\\\c\\u000a\\u0009\\u0001\\u007f\"",
           "quotes, backslashes and control characters escaped");
    apikey_json_quote(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    is_str(out, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
           "well-formed UTF-8 passes as it is (2, 3 and 4 bytes)");
    apikey_json_quote(out, "\xc0\x80|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82");
    is_str(out,
           "\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
           "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"",
           "an overlong NUL, a surrogate, past U+10FFFF, a sequence cut "
           "short: U+FFFD a byte");
    is_int((long long)apikey_json_quote(out, "\xff"), 8,
           "the length returned is the length written");

    is_int(sweep(1, 1, 255), 0, "every string of 1 byte, as the model says");
    is_int(sweep(2, 1, 255), 0, "every string of 2 bytes");
    is_int(sweep(3, 0xc0, 0xff), 0,
           "every string of 3 bytes from C0 to FF (the others are covered "
           "by the shorter sweeps and ASCII)");
    is_int(sweep(4, 0xf0, 0xf4), 0, "every string of 4 bytes from F0 to F4");
    return done_testing();
}
