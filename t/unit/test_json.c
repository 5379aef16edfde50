/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the JSON strings of apikey_json.c (the status page's and
 * htapikey's): escapes, NULL, and every string of one to three bytes (and
 * every four-byte one that starts a four-byte sequence) checked against a
 * reference model: a decoder written from the code point ranges of the
 * Unicode standard (Table 3-7), not from the byte ranges the code uses.
 *
 * APIKEY_TORTURE_SCALE below 100 (make test's sanitizer pass, where the
 * 83 million four-byte strings take 20 s) sweeps the four-byte strings over
 * the bytes at the edges of UTF-8's byte classes only; the plain pass keeps
 * the whole sweep. */

#include "apikey_json.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bytes where the decoder's answer can change: each end of ASCII, of
 * the continuation bytes' sub-ranges (80-8F, 90-9F, A0-BF, which E0, ED,
 * F0 and F4 treat apart), of the lead bytes, and the bytes never used. */
static const unsigned char edges[] = {0x01, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                      0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
                                      0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
#define NEDGES (sizeof(edges) / sizeof(edges[0]))

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
 * [first_lo, first_hi] and whose other bytes are any (alphabet NULL) or
 * those of alphabet; returns how many disagreed (the first shown). */
static long sweep_of(size_t n, unsigned first_lo, unsigned first_hi,
                     const unsigned char *alphabet, unsigned long letters)
{
    unsigned char s[5];
    char got[APIKEY_JSON_MAX(4)], want[APIKEY_JSON_MAX(4)];
    unsigned long i, total = 1;
    long bad = 0;
    size_t k;

    if (!alphabet) {
        letters = 255;
    }
    for (k = 1; k < n; k++) {
        total *= letters;
    }
    for (s[0] = (unsigned char)first_lo;; s[0]++) {
        for (i = 0; i < total; i++) {
            unsigned long v = i;

            for (k = 1; k < n; k++) {
                s[k] = alphabet ? alphabet[v % letters]
                                : (unsigned char)(v % 255 + 1);
                v /= letters;
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

static long sweep(size_t n, unsigned first_lo, unsigned first_hi)
{
    return sweep_of(n, first_lo, first_hi, NULL, 0);
}

/* apikey_utf8_decode against the model: for every string of n bytes
 * (first byte from first_lo), the length of the longest well-formed
 * sequence at its start and that sequence's code point.  Returns how many
 * disagreed. */
static long decode_sweep(size_t n, unsigned first_lo)
{
    unsigned char s[5];
    unsigned long total = 1, i, cp;
    long bad = 0, want_cp;
    size_t k, got, want;

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
            want = 0;
            want_cp = -1;
            for (k = n; k >= 1; k--) {
                if ((want_cp = model_decode(s, k)) >= 0) {
                    want = k;
                    break;
                }
            }
            cp = 0;
            got = apikey_utf8_decode((const char *)s, &cp);
            if ((got != want || (want && (long)cp != want_cp)) && bad++ == 0) {
                diag("decode %02x %02x %02x: got %lu (U+%04lX), want %lu", s[0],
                     n > 1 ? s[1] : 0, n > 2 ? s[2] : 0, (unsigned long)got, cp,
                     (unsigned long)want);
            }
        }
        if (s[0] == 0xff) {
            break;
        }
    }
    return bad;
}

int main(void)
{
    char out[APIKEY_JSON_MAX(64)];
    const char *env = getenv("APIKEY_TORTURE_SCALE");
    int whole = !env || atoi(env) >= 100;

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
    is_int(decode_sweep(1, 1) + decode_sweep(2, 1) + decode_sweep(3, 0xc0), 0,
           "apikey_utf8_decode: the length and code point of every string "
           "of 1 to 3 bytes, as the model says");
    {
        unsigned long cp = 1;

        is_int((long long)apikey_utf8_decode("", &cp), 0,
               "apikey_utf8_decode of the empty string: 0");
        is_int((long long)apikey_utf8_decode("\xf0\x9f\x98\x80", &cp), 4,
               "apikey_utf8_decode of U+1F600: 4 bytes");
        is_int((long long)cp, 0x1f600, "and its code point");
    }
    is_int(sweep(2, 1, 255), 0, "every string of 2 bytes");
    is_int(sweep(3, 0xc0, 0xff), 0,
           "every string of 3 bytes from C0 to FF (the others are covered "
           "by the shorter sweeps and ASCII)");
    if (whole) {
        is_int(sweep(4, 0xf0, 0xf4), 0,
               "every string of 4 bytes from F0 to F4");
    }
    else {
        skip(1, "the whole four-byte sweep (APIKEY_TORTURE_SCALE < 100)");
    }
    /* Whatever the scale: a four-byte string of any first byte (F5 to FF
     * too, which no sweep above starts with) and the edge bytes after it. */
    is_int(sweep_of(4, 0x01, 0xff, edges, NEDGES), 0,
           "every string of 4 bytes whose other bytes are at the edges of "
           "UTF-8's byte classes");
    return done_testing();
}
