/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * API key format, checksum and digest: pure C over OpenSSL, shared by the
 * module and htapikey, free of httpd and APR so unit tests and fuzzers
 * reach it directly.
 *
 * A key is <prefix>_<32 base62 random><6 base62 CRC32>, the CRC32 taken over
 * everything before the checksum ("<prefix>_<random>").
 */
#ifndef APIKEY_KEY_H
#define APIKEY_KEY_H

#include <stddef.h>

#define APIKEY_RANDOM_LEN   32
#define APIKEY_CHECKSUM_LEN 6
#define APIKEY_PREFIX_MAX   32
/* prefix + '_' + random + checksum */
#define APIKEY_KEY_MAX                                                         \
    (APIKEY_PREFIX_MAX + 1 + APIKEY_RANDOM_LEN + APIKEY_CHECKSUM_LEN)
/* Longest key accepted at all, legacy formats included; longer input is
 * rejected before it is hashed. */
#define APIKEY_KEY_LEGACY_MAX 512
#define APIKEY_DIGEST_LEN     32
#define APIKEY_DIGEST_HEX_LEN (2 * APIKEY_DIGEST_LEN)
#define APIKEY_ID_LEN         12
#define APIKEY_DEFAULT_PREFIX "ak"

typedef enum {
    APIKEY_KEY_OK = 0,
    APIKEY_KEY_EMPTY,     /* zero length */
    APIKEY_KEY_TOO_LONG,  /* longer than any key we issue */
    APIKEY_KEY_BAD_SHAPE, /* no '_', bad prefix, wrong body length/charset */
    APIKEY_KEY_BAD_CHECKSUM
} apikey_key_check_t;

/* Is this a valid prefix: 1..APIKEY_PREFIX_MAX of [A-Za-z0-9_], neither
 * starting nor ending with '_'.  Returns 1 or 0. */
int apikey_key_prefix_valid(const char *prefix);

/* Checks a presented key of len bytes (not NUL-terminated necessarily)
 * against the format and its checksum, without any I/O. */
apikey_key_check_t apikey_key_check(const char *key, size_t len);

/* The check of AuthAPIKeyFormat any, for legacy keys: 1 to
 * APIKEY_KEY_LEGACY_MAX visible ASCII characters (no blanks, no control
 * characters), nothing else assumed. */
apikey_key_check_t apikey_key_check_legacy(const char *key, size_t len);

/* A short English phrase for a check result, for logs and the tool. */
const char *apikey_key_check_str(apikey_key_check_t rc);

/* Generates a new key with the given prefix into out (at least
 * APIKEY_KEY_MAX + 1 bytes), NUL-terminated.  Returns 0 on success, -1 if
 * the prefix is invalid or the CSPRNG failed. */
int apikey_key_generate(const char *prefix, char *out, size_t outlen);

/* Generates a random public key id of APIKEY_ID_LEN base62 characters into
 * out (at least APIKEY_ID_LEN + 1 bytes).  Returns 0 or -1. */
int apikey_id_generate(char *out, size_t outlen);

/* The stored digest of a key as lower-case hex into hex
 * (APIKEY_DIGEST_HEX_LEN + 1 bytes, NUL-terminated): SHA-256 of the key, or
 * HMAC-SHA-256 keyed with the pepper when pepper is not NULL.  Returns 0 or
 * -1. */
int apikey_digest_hex(const unsigned char *pepper, size_t pepper_len,
                      const char *key, size_t len, char *hex);

/* Fetches SHA-256 once for apikey_digest_hex, which otherwise makes OpenSSL
 * find it again on every call, under a lock every thread shares.  Call it
 * before any thread starts (post_config); apikey_digest_done frees it.
 * Returns 0, or -1 when libcrypto has no SHA-256 (digests then fetch it
 * each time, and fail as before when it is missing). */
int apikey_digest_init(void);
void apikey_digest_done(void);

/* Compares two equal-length byte strings in constant time: 1 when equal. */
int apikey_equal_ct(const void *a, const void *b, size_t len);

/* Overwrites len bytes of buf in a way the compiler does not elide. */
void apikey_wipe(void *buf, size_t len);

/* Internals exposed for unit tests: the checksum's CRC-32 (zlib's). */
unsigned long apikey_crc32(const char *buf, size_t len);
void apikey_base62_fixed(unsigned long value, char *out, size_t width);

#endif /* APIKEY_KEY_H */
