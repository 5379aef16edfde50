/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes the key format check (apikey_key_check, apikey_key_check_legacy)
 * and the CRC-32 under it.  The input is a presented key, as many bytes as
 * the client sent; the checks take a length, so they get a copy without a
 * terminator.
 *
 * The checksum is worked out again here the slow way (a bit at a time, and
 * a plain base62 loop), so a key the module passes or fails is judged by a
 * second implementation: a key with a good shape passes exactly when its
 * last six characters are that checksum, and any one character changed in
 * a good key's body is caught. */

#include "apikey_key.h"
#include "fuzz.h"

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static uint32_t crc_ref(const char *p, size_t n)
{
    uint32_t c = 0xffffffffU;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= (unsigned char)p[i];
        for (k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1)));
        }
    }
    return c ^ 0xffffffffU;
}

static void checksum_ref(const char *key, size_t len, char sum[6])
{
    uint32_t v = crc_ref(key, len - APIKEY_CHECKSUM_LEN);
    int i;

    for (i = APIKEY_CHECKSUM_LEN - 1; i >= 0; i--) {
        sum[i] = b62[v % 62];
        v /= 62;
    }
}

static int is_b62(unsigned char c)
{
    return c && memchr(b62, c, sizeof(b62) - 1) != NULL;
}

/* The format, judged without the checksum: "<prefix>_<38 base62>". */
static int shape_ok(const char *k, size_t len)
{
    const size_t body = APIKEY_RANDOM_LEN + APIKEY_CHECKSUM_LEN;
    size_t head, i;

    if (len < body + 2 || len > APIKEY_KEY_MAX) {
        return 0;
    }
    head = len - body - 1;
    if (k[head] != '_' || head > APIKEY_PREFIX_MAX || k[0] == '_'
        || k[head - 1] == '_') {
        return 0;
    }
    for (i = 0; i < head; i++) {
        if (k[i] != '_' && !is_b62((unsigned char)k[i])) {
            return 0;
        }
    }
    for (i = head + 1; i < len; i++) {
        if (!is_b62((unsigned char)k[i])) {
            return 0;
        }
    }
    return 1;
}

static apikey_key_check_t legacy_ref(const char *k, size_t len)
{
    size_t i;

    if (len == 0) {
        return APIKEY_KEY_EMPTY;
    }
    if (len > APIKEY_KEY_LEGACY_MAX) {
        return APIKEY_KEY_TOO_LONG;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)k[i] <= ' ' || (unsigned char)k[i] >= 0x7f) {
            return APIKEY_KEY_BAD_SHAPE;
        }
    }
    return APIKEY_KEY_OK;
}

/* A good key: it passes both checks, from any buffer, and every one-byte
 * change to its body fails the checksum (CRC-32 catches every error
 * confined to 32 bits). */
static void good_key(const char *k, size_t len)
{
    char *copy = fuzz_bytes((const uint8_t *)k, len);
    size_t i, head = len - APIKEY_RANDOM_LEN - APIKEY_CHECKSUM_LEN - 1;
    char *prefix;

    FUZZ_CHECK(apikey_key_check_legacy(k, len) == APIKEY_KEY_OK);
    prefix = fuzz_cstr((const uint8_t *)k, head);
    FUZZ_CHECK(apikey_key_prefix_valid(prefix));
    free(prefix);
    for (i = head + 1; i < len; i++) {
        char was = copy[i];

        copy[i] = was == 'z' ? '0' : b62[strchr(b62, was) - b62 + 1];
        FUZZ_CHECK(apikey_key_check(copy, len) == APIKEY_KEY_BAD_CHECKSUM);
        copy[i] = was;
    }
    FUZZ_CHECK(apikey_key_check(copy, len) == APIKEY_KEY_OK);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *key = fuzz_bytes(data, size);
    apikey_key_check_t rc = apikey_key_check(key, size);
    char sum[APIKEY_CHECKSUM_LEN];

    FUZZ_CHECK(apikey_key_check_legacy(key, size) == legacy_ref(key, size));
    FUZZ_CHECK(apikey_crc32(key, size) == crc_ref(key, size));
    if (size > 1) {
        /* The word-at-a-time CRC from an odd address and length. */
        FUZZ_CHECK(apikey_crc32(key + 1, size - 1)
                   == crc_ref(key + 1, size - 1));
    }

    if (size == 0) {
        FUZZ_CHECK(rc == APIKEY_KEY_EMPTY);
    }
    else if (size > APIKEY_KEY_MAX) {
        FUZZ_CHECK(rc == APIKEY_KEY_TOO_LONG);
    }
    else if (!shape_ok(key, size)) {
        FUZZ_CHECK(rc == APIKEY_KEY_BAD_SHAPE);
    }
    else {
        checksum_ref(key, size, sum);
        if (memcmp(sum, key + size - APIKEY_CHECKSUM_LEN, sizeof(sum))) {
            FUZZ_CHECK(rc == APIKEY_KEY_BAD_CHECKSUM);
            /* Mended, the same key passes: the fuzzer reaches the good
             * path without having to guess a CRC. */
            memcpy(key + size - APIKEY_CHECKSUM_LEN, sum, sizeof(sum));
            FUZZ_CHECK(apikey_key_check(key, size) == APIKEY_KEY_OK);
        }
        else {
            FUZZ_CHECK(rc == APIKEY_KEY_OK);
        }
        good_key(key, size);
    }
    FUZZ_CHECK(apikey_key_check_str(rc) != NULL);
    free(key);
    return 0;
}
