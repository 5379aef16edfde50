/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * SipHash-2-4-128 (see apikey_siphash.h), written from the paper's
 * description; t/unit/test_siphash.c holds it to the reference vectors. */

#include "apikey_siphash.h"

#define ROTL(x, b) (apr_uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = ROTL(v1, 13);                                                     \
        v1 ^= v0;                                                              \
        v0 = ROTL(v0, 32);                                                     \
        v2 += v3;                                                              \
        v3 = ROTL(v3, 16);                                                     \
        v3 ^= v2;                                                              \
        v0 += v3;                                                              \
        v3 = ROTL(v3, 21);                                                     \
        v3 ^= v0;                                                              \
        v2 += v1;                                                              \
        v1 = ROTL(v1, 17);                                                     \
        v1 ^= v2;                                                              \
        v2 = ROTL(v2, 32);                                                     \
    } while (0)

/* Eight bytes little-endian, on any host (compilers make it one load on a
 * little-endian one). */
static apr_uint64_t le64(const unsigned char *p)
{
    return (apr_uint64_t)p[0] | (apr_uint64_t)p[1] << 8
           | (apr_uint64_t)p[2] << 16 | (apr_uint64_t)p[3] << 24
           | (apr_uint64_t)p[4] << 32 | (apr_uint64_t)p[5] << 40
           | (apr_uint64_t)p[6] << 48 | (apr_uint64_t)p[7] << 56;
}

void apikey_siphash128(const unsigned char key[APIKEY_SIPHASH_KEY_LEN],
                       const void *in, size_t len, apr_uint64_t out[2])
{
    const unsigned char *p = in, *end = p + (len & ~(size_t)7);
    apr_uint64_t k0 = le64(key), k1 = le64(key + 8), m, b;
    apr_uint64_t v0 = k0 ^ APR_UINT64_C(0x736f6d6570736575);
    apr_uint64_t v1 = k1 ^ APR_UINT64_C(0x646f72616e646f6d) ^ 0xee;
    apr_uint64_t v2 = k0 ^ APR_UINT64_C(0x6c7967656e657261);
    apr_uint64_t v3 = k1 ^ APR_UINT64_C(0x7465646279746573);
    int i;

    for (; p != end; p += 8) {
        m = le64(p);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    /* The last block: the tail's bytes, and the length's low byte on top. */
    b = (apr_uint64_t)(len & 0xff) << 56;
    for (i = (int)(len & 7) - 1; i >= 0; i--) {
        b |= (apr_uint64_t)p[i] << (8 * i);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xee;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    out[0] = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    out[1] = v0 ^ v1 ^ v2 ^ v3;
}
