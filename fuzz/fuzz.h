/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What the libFuzzer targets under fuzz/ share: copies of the input that
 * end exactly where the parser is allowed to read, so AddressSanitizer
 * sees any byte read past them, and a check that aborts with the broken
 * invariant, which libFuzzer then keeps as a crash. */
#ifndef APIKEY_FUZZ_H
#define APIKEY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer treats an abort like any other crash and saves the input. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A heap copy of exactly n bytes and no terminator, for the parsers that
 * take a length: a read of byte n is a heap overflow ASan reports. */
static inline char *fuzz_bytes(const uint8_t *data, size_t n)
{
    char *p = malloc(n ? n : 1);

    FUZZ_CHECK(p != NULL);
    if (n) {
        memcpy(p, data, n);
    }
    return p;
}

/* An output buffer of exactly n bytes, for a parser that promises to
 * write no more. */
static inline char *fuzz_alloc(size_t n)
{
    char *p = malloc(n ? n : 1);

    FUZZ_CHECK(p != NULL);
    return p;
}

/* A heap copy as a C string, cut at the first NUL: the values these
 * parsers get from httpd (header values, query strings, directive words,
 * database columns) are C strings and cannot hold one. */
static inline char *fuzz_cstr(const uint8_t *data, size_t n)
{
    const uint8_t *nul = memchr(data, 0, n);
    size_t len = nul ? (size_t)(nul - data) : n;
    char *p = malloc(len + 1);

    FUZZ_CHECK(p != NULL);
    memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

/* Splits data at its first NUL: the C string before it goes to *head, the
 * bytes after it (possibly none) to *tail and *tail_len.  Lets one input
 * carry a string and the extra numbers or strings a target needs. */
static inline char *fuzz_split(const uint8_t *data, size_t n,
                               const uint8_t **tail, size_t *tail_len)
{
    const uint8_t *nul = memchr(data, 0, n);

    if (nul) {
        *tail = nul + 1;
        *tail_len = n - (size_t)(nul + 1 - data);
    }
    else {
        *tail = data + n;
        *tail_len = 0;
    }
    return fuzz_cstr(data, n);
}

/* Reads up to 8 bytes of the tail as a little-endian number, 0-padded, and
 * moves past them. */
static inline uint64_t fuzz_take_u64(const uint8_t **tail, size_t *len,
                                     size_t bytes)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < bytes && i < *len; i++) {
        v |= (uint64_t)(*tail)[i] << (8 * i);
    }
    *tail += i;
    *len -= i;
    return v;
}

#endif /* APIKEY_FUZZ_H */
