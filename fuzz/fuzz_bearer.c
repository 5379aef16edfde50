/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes what reads a key out of a request header: apikey_bearer_token on
 * an Authorization value, then apikey_header_one_value on the token (the
 * value of a repeated header, joined by httpd as "a, b"), and
 * apikey_header_one_value on the whole value as a header:NAME source
 * reads it.  The input is one header value, a C string as httpd keeps it;
 * apikey_header_one_value takes a length and gets a copy without a
 * terminator.
 *
 * Beyond not crashing: the token lies inside the value, without blanks
 * around it, after the scheme; the key picked from a repeated header lies
 * inside it, holds no comma and is picked again from itself; the same key
 * sent twice is one key, and two different keys are a conflict.  The same
 * value also goes through apikey_basic_key, as an Authorization: Basic
 * value. */

#include "apikey_source.h"
#include "fuzz.h"

#include <strings.h>

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One pass of apikey_header_one_value over an exact copy of [v, v + len);
 * checks what holds of any answer and returns the key's offset in v. */
static int one_value(const char *v, size_t len, const char *scheme, size_t *off,
                     size_t *klen)
{
    char *copy = fuzz_bytes((const uint8_t *)v, len);
    const char *k = copy;
    size_t n = len, i;
    int rc = apikey_header_one_value(&k, &n, scheme);

    FUZZ_CHECK(rc == 1 || rc == -1);
    if (rc == 1) {
        FUZZ_CHECK(k >= copy && n <= len && k + n <= copy + len);
        FUZZ_CHECK(!memchr(k, ',', n));
        FUZZ_CHECK(n == 0 || !blank(k[0]));
        if (!memchr(copy, ',', len)) {
            /* One part: only the blanks before it go. */
            FUZZ_CHECK(k + n == copy + len);
            for (i = 0; copy + i < k; i++) {
                FUZZ_CHECK(blank(copy[i]));
            }
        }
        *off = (size_t)(k - copy);
        *klen = n;
    }
    free(copy);
    return rc;
}

/* A key picked once is picked again, from itself, from itself sent twice
 * (with the scheme on the repeat when there is one), and a different key
 * beside it is a conflict. */
static void key_is_stable(const char *key, size_t n, const char *scheme)
{
    size_t off, klen, cap = 2 * n + 32;
    char *two = malloc(cap);
    int w;

    FUZZ_CHECK(two != NULL);
    FUZZ_CHECK(one_value(key, n, scheme, &off, &klen) == 1);
    FUZZ_CHECK(off == 0 && klen == n);
    w = snprintf(two, cap, "%.*s, %s%s%.*s", (int)n, key, scheme ? scheme : "",
                 scheme ? " " : "", (int)n, key);
    FUZZ_CHECK(one_value(two, (size_t)w, scheme, &off, &klen) == 1);
    FUZZ_CHECK(off == 0 && klen == n && !memcmp(two, key, n));
    w = snprintf(two, cap, "%.*s, %.*sx", (int)n, key, (int)n, key);
    FUZZ_CHECK(one_value(two, (size_t)w, scheme, &off, &klen) == -1);
    free(two);
}

/* apikey_basic_key: the key lies inside a buffer of exactly the size
 * apikey_basic_buf_len asks for (so that ASan sees any write past it), and
 * only a value whose scheme word is "Basic" has one. */
static void basic(const char *value)
{
    size_t cap = apikey_basic_buf_len(value), klen = 0;
    char *buf = malloc(cap);
    const char *key = NULL;
    int rc;

    FUZZ_CHECK(buf != NULL);
    rc = apikey_basic_key(value, buf, &key, &klen);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (rc == 1) {
        FUZZ_CHECK(!strncasecmp(value, "Basic", 5)
                   && (value[5] == '\0' || value[5] == ' '));
        FUZZ_CHECK(key >= buf && key + klen <= buf + cap);
    }
    else {
        FUZZ_CHECK(strncasecmp(value, "Basic", 5)
                   || (value[5] != '\0' && value[5] != ' '));
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = fuzz_cstr(data, size);
    size_t vlen = strlen(value), lead = strspn(value, " \t"), off, klen;
    const char *tok = NULL;
    size_t tlen = 0;
    int rc;

    rc = apikey_bearer_token(value, &tok, &tlen);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (rc == 1) {
        FUZZ_CHECK(!strncasecmp(value + lead, "Bearer", 6));
        FUZZ_CHECK(value[lead + 6] == '\0' || blank(value[lead + 6]));
        FUZZ_CHECK(tok >= value + lead + 6 && tok + tlen <= value + vlen);
        FUZZ_CHECK(tlen == 0 || (!blank(tok[0]) && !blank(tok[tlen - 1])));
        /* Only blanks between the scheme and the token, and after it. */
        FUZZ_CHECK(strspn(value + lead + 6, " \t")
                   == (size_t)(tok - value - lead - 6));
        FUZZ_CHECK(strspn(tok + tlen, " \t") == strlen(tok + tlen));
        if (one_value(tok, tlen, "Bearer", &off, &klen) == 1) {
            key_is_stable(tok + off, klen, "Bearer");
        }
    }
    else {
        FUZZ_CHECK(strncasecmp(value + lead, "Bearer", 6)
                   || (value[lead + 6] != '\0' && !blank(value[lead + 6])));
    }

    if (one_value(value, vlen, NULL, &off, &klen) == 1) {
        key_is_stable(value + off, klen, NULL);
    }

    basic(value);
    free(value);
    return 0;
}
