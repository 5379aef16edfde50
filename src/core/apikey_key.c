/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * API key format, checksum and digest (see apikey_key.h). */

#include "apikey_key.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zlib.h>

/* CRC-32 (IEEE 802.3, reflected: zlib's, and Python's zlib.crc32, which
 * other implementations of the key format use).  uInt is at least 32 bits;
 * a key is far shorter than that anyway. */
unsigned long apikey_crc32(const char *buf, size_t len)
{
    return crc32(0L, (const Bytef *)buf, (uInt)len);
}

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Value of a base62 digit, or -1: one look-up a byte, no branch on the
 * attacker's bytes. */
/* clang-format off */
static const signed char base62_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, -1, -1, -1, -1, -1,
    -1, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};
/* clang-format on */

static signed char base62_value(unsigned char c)
{
    return base62_values[c];
}

void apikey_base62_fixed(unsigned long value, char *out, size_t width)
{
    size_t i;

    for (i = width; i > 0; i--) {
        out[i - 1] = base62[value % 62];
        value /= 62;
    }
}

static int prefix_char(unsigned char c)
{
    return c == '_' || base62_value(c) >= 0;
}

static int prefix_valid(const char *p, size_t len)
{
    size_t i;

    if (len == 0 || len > APIKEY_PREFIX_MAX || p[0] == '_'
        || p[len - 1] == '_') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!prefix_char((unsigned char)p[i])) {
            return 0;
        }
    }
    return 1;
}

int apikey_key_prefix_valid(const char *prefix)
{
    return prefix && prefix_valid(prefix, strlen(prefix));
}

apikey_key_check_t apikey_key_check(const char *key, size_t len)
{
    const size_t body = APIKEY_RANDOM_LEN + APIKEY_CHECKSUM_LEN;
    char sum[APIKEY_CHECKSUM_LEN];
    size_t i, head;

    if (len == 0) {
        return APIKEY_KEY_EMPTY;
    }
    if (len > APIKEY_KEY_MAX) {
        return APIKEY_KEY_TOO_LONG;
    }
    /* The body is base62, so the separator is the '_' just before it. */
    if (len < body + 2 || key[len - body - 1] != '_') {
        return APIKEY_KEY_BAD_SHAPE;
    }
    head = len - body - 1;
    if (!prefix_valid(key, head)) {
        return APIKEY_KEY_BAD_SHAPE;
    }
    for (i = head + 1; i < len; i++) {
        if (base62_value((unsigned char)key[i]) < 0) {
            return APIKEY_KEY_BAD_SHAPE;
        }
    }
    apikey_base62_fixed(apikey_crc32(key, len - APIKEY_CHECKSUM_LEN), sum,
                        APIKEY_CHECKSUM_LEN);
    if (memcmp(sum, key + len - APIKEY_CHECKSUM_LEN, APIKEY_CHECKSUM_LEN)) {
        return APIKEY_KEY_BAD_CHECKSUM;
    }
    return APIKEY_KEY_OK;
}

apikey_key_check_t apikey_key_check_legacy(const char *key, size_t len)
{
    size_t i;

    if (len == 0) {
        return APIKEY_KEY_EMPTY;
    }
    if (len > APIKEY_KEY_LEGACY_MAX) {
        return APIKEY_KEY_TOO_LONG;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c <= ' ' || c >= 0x7f) {
            return APIKEY_KEY_BAD_SHAPE;
        }
    }
    return APIKEY_KEY_OK;
}

const char *apikey_key_check_str(apikey_key_check_t rc)
{
    switch (rc) {
        case APIKEY_KEY_OK:
            return "well-formed";
        case APIKEY_KEY_EMPTY:
            return "empty key";
        case APIKEY_KEY_TOO_LONG:
            return "key too long";
        case APIKEY_KEY_BAD_SHAPE:
            return "not in the key format";
        case APIKEY_KEY_BAD_CHECKSUM:
            return "bad checksum";
    }
    return "unknown";
}

/* Fills out[0..n) with uniformly distributed base62 characters from the
 * CSPRNG.  Rejection sampling on 6-bit values avoids modulo bias. */
static int random_base62(char *out, size_t n)
{
    unsigned char buf[64];
    size_t got = 0, i;

    while (got < n) {
        if (RAND_bytes(buf, sizeof(buf)) != 1) {
            return -1;
        }
        for (i = 0; i < sizeof(buf) && got < n; i++) {
            unsigned char v = buf[i] & 0x3f;
            if (v < 62) {
                out[got++] = base62[v];
            }
        }
    }
    apikey_wipe(buf, sizeof(buf));
    return 0;
}

int apikey_key_generate(const char *prefix, char *out, size_t outlen)
{
    size_t plen;
    char *p;

    if (!apikey_key_prefix_valid(prefix)) {
        return -1;
    }
    plen = strlen(prefix);
    if (outlen < plen + 1 + APIKEY_RANDOM_LEN + APIKEY_CHECKSUM_LEN + 1) {
        return -1;
    }
    memcpy(out, prefix, plen);
    p = out + plen;
    *p++ = '_';
    if (random_base62(p, APIKEY_RANDOM_LEN) != 0) {
        apikey_wipe(out, outlen);
        return -1;
    }
    p += APIKEY_RANDOM_LEN;
    apikey_base62_fixed(apikey_crc32(out, (size_t)(p - out)), p,
                        APIKEY_CHECKSUM_LEN);
    p[APIKEY_CHECKSUM_LEN] = '\0';
    return 0;
}

int apikey_id_generate(char *out, size_t outlen)
{
    if (outlen < APIKEY_ID_LEN + 1 || random_base62(out, APIKEY_ID_LEN)) {
        return -1;
    }
    out[APIKEY_ID_LEN] = '\0';
    return 0;
}

/* Every byte's two hex digits: one look-up a byte on the request path. */
static const char hex_pairs[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* SHA-256 fetched once.  EVP_sha256() makes OpenSSL 3 look the algorithm
 * up again on every call, under a lock all threads share: with two threads
 * that serialises the digests (368 ns a digest alone, 742 ns with a second
 * thread, against 210 and 261 ns prefetched, on the benchmark machine). */
static EVP_MD *sha256;

int apikey_digest_init(void)
{
    if (!sha256) {
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    }
    return sha256 ? 0 : -1;
}

void apikey_digest_done(void)
{
    EVP_MD_free(sha256);
    sha256 = NULL;
}

int apikey_digest_hex(const unsigned char *pepper, size_t pepper_len,
                      const char *key, size_t len, char *hex)
{
    const EVP_MD *type = sha256 ? sha256 : EVP_sha256();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    int ok;

    if (pepper) {
        ok = HMAC(type, pepper, (int)pepper_len, (const unsigned char *)key,
                  len, md, &mdlen)
             != NULL;
    }
    else {
        ok = EVP_Digest(key, len, md, &mdlen, type, NULL) == 1;
    }
    if (!ok || mdlen != APIKEY_DIGEST_LEN) {
        return -1;
    }
    for (i = 0; i < APIKEY_DIGEST_LEN; i++) {
        memcpy(hex + 2 * i, hex_pairs + 2 * md[i], 2);
    }
    hex[2 * APIKEY_DIGEST_LEN] = '\0';
    apikey_wipe(md, APIKEY_DIGEST_LEN);
    return 0;
}

int apikey_equal_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void apikey_wipe(void *buf, size_t len)
{
    OPENSSL_cleanse(buf, len);
}
