/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the key format, checksum, generator and digest in
 * apikey_key.c, checked against published vectors and independent
 * reference code rather than against the implementation itself. */

#include "apikey_key.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define BODY_LEN (APIKEY_RANDOM_LEN + APIKEY_CHECKSUM_LEN)
#define N_KEYS   1000
#define N_STATS  10000
#define KEY_BUF  (APIKEY_KEY_MAX + 1)

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Valid keys computed outside C (Python's zlib.crc32 and its own base62
 * loop), so the checker is tested against something it did not produce. */
static const char known_zero[] = "ak_00000000000000000000000000000000"
                                 "3DOjIW";
static const char known_alpha[] = "ak_abcdefghijklmnopqrstuvwxyzABCDEF"
                                  "218uB0";

static int is_b62(unsigned char c)
{
    return c && strchr(b62, c) != NULL;
}

static int all_b62(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!is_b62((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Bit-at-a-time CRC-32 (reflected, polynomial 0xEDB88320): slow but short
 * enough to check by eye, so it can vouch for the 256-entry table. */
static unsigned long ref_crc32(const unsigned char *p, size_t n)
{
    unsigned long crc = 0xffffffffUL;
    int k;

    while (n--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320UL & (0UL - (crc & 1)));
        }
    }
    return crc ^ 0xffffffffUL;
}

/* Decodes base62 by multiply-accumulate, the inverse direction of the
 * encoder, so a round trip does not just repeat the encoder's arithmetic. */
static unsigned long long ref_b62_decode(const char *s, size_t n)
{
    unsigned long long v = 0;

    while (n--) {
        v = v * 62 + (unsigned long long)(strchr(b62, *s++) - b62);
    }
    return v;
}

/* A small deterministic generator so failures reproduce. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static unsigned long rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned long)(rng_state >> 32);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* 1 when the n strings of width bytes in arr all differ; sorts arr. */
static int all_distinct(char *arr, size_t n, size_t width)
{
    size_t i;

    qsort(arr, n, width, cmp_str);
    for (i = 1; i < n; i++) {
        if (!strcmp(arr + (i - 1) * width, arr + i * width)) {
            return 0;
        }
    }
    return 1;
}

static void test_crc32(void)
{
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    unsigned char buf[300];
    unsigned long bad = 0;
    int i, n;

    is_int((long long)apikey_crc32("123456789", 9), 0xCBF43926LL,
           "crc32(\"123456789\") is the CRC-32 check value");
    is_int((long long)apikey_crc32("", 0), 0, "crc32 of nothing is 0");
    is_int((long long)apikey_crc32("a", 1), 0xE8B7BE43LL, "crc32(\"a\")");
    is_int((long long)apikey_crc32(fox, sizeof(fox) - 1), 0x414FA339LL,
           "crc32 of the quick brown fox");
    is_int((long long)apikey_crc32("\0", 1), 0xD202EF8DLL,
           "crc32 counts a NUL byte it is given");

    /* Every single byte reaches a different table entry, so this checks
     * all 256 of them. */
    for (i = 0; i < 256; i++) {
        unsigned char c = (unsigned char)i;
        if (apikey_crc32((const char *)&c, 1) != ref_crc32(&c, 1)) {
            bad++;
        }
    }
    is_int((long long)bad, 0, "crc32 matches bitwise CRC-32 on all bytes");

    bad = 0;
    for (n = 0; n < 1000; n++) {
        size_t len = rng() % sizeof(buf);
        size_t j;
        for (j = 0; j < len; j++) {
            buf[j] = (unsigned char)rng();
        }
        if (apikey_crc32((const char *)buf, len) != ref_crc32(buf, len)) {
            bad++;
        }
    }
    is_int((long long)bad, 0,
           "crc32 matches bitwise CRC-32 on 1000 random buffers");
}

static void test_base62(void)
{
    /* Guard bytes catch a write past the requested width. */
    char out[8];
    unsigned long bad = 0;
    int n;

#define B62(v, want, what)                                                     \
    do {                                                                       \
        memset(out, '#', sizeof(out));                                         \
        apikey_base62_fixed((v), out, 6);                                      \
        out[7] = '\0';                                                         \
        is_str(out, want "#", "base62_fixed(" what ") is " want);              \
    } while (0)

    B62(0UL, "000000", "0");
    B62(61UL, "00000z", "61");
    B62(62UL, "000010", "62");
    B62(916132832UL, "100000", "62^5");
    /* From Python: a loop of divmod(0xFFFFFFFF, 62). */
    B62(0xFFFFFFFFUL, "4gfFC3", "0xFFFFFFFF");
    B62(0xCBF43926UL, "3jZRME", "0xCBF43926");
#undef B62

    memset(out, '#', sizeof(out));
    apikey_base62_fixed(0UL, out, 0);
    ok(out[0] == '#', "base62_fixed of width 0 writes nothing");

    /* Six digits hold any 32-bit value, so decoding must give it back. */
    for (n = 0; n < 10000; n++) {
        unsigned long v = n < 2 ? (n ? 0xFFFFFFFFUL : 0UL) : rng();
        apikey_base62_fixed(v, out, 6);
        if (!all_b62(out, 6) || ref_b62_decode(out, 6) != v) {
            if (!bad++) {
                diag("value %lu encoded as %.6s", v, out);
            }
        }
    }
    is_int((long long)bad, 0, "base62_fixed round-trips 10000 32-bit values");
}

static void test_check_known(void)
{
    char buf[KEY_BUF + 8];

    is_int(apikey_key_check(known_zero, strlen(known_zero)), APIKEY_KEY_OK,
           "key computed outside C is accepted (all-zero random part)");
    is_int(apikey_key_check(known_alpha, strlen(known_alpha)), APIKEY_KEY_OK,
           "key computed outside C is accepted (mixed-case random part)");

    /* The checker must read len bytes, not stop at or run to a NUL. */
    snprintf(buf, sizeof(buf), "%s!!!", known_alpha);
    is_int(apikey_key_check(buf, strlen(known_alpha)), APIKEY_KEY_OK,
           "check reads only len bytes of a longer buffer");
    is_int(apikey_key_check(buf, strlen(buf)), APIKEY_KEY_BAD_SHAPE,
           "the same buffer at full length is rejected");
    is_int(apikey_key_check(known_alpha, strlen(known_alpha) + 1),
           APIKEY_KEY_BAD_SHAPE, "a key with its terminating NUL is rejected");
}

static void test_check_rejects(void)
{
    const size_t klen = strlen(known_alpha);
    char buf[APIKEY_KEY_LEGACY_MAX + 2];
    char key[KEY_BUF];

    is_int(apikey_key_check("", 0), APIKEY_KEY_EMPTY, "empty key");
    is_int(apikey_key_check(known_alpha, 0), APIKEY_KEY_EMPTY,
           "zero length of a valid key is empty");

    memset(buf, 'a', sizeof(buf));
    is_int(apikey_key_check(buf, APIKEY_KEY_MAX + 1), APIKEY_KEY_TOO_LONG,
           "APIKEY_KEY_MAX + 1 bytes is too long");
    is_int(apikey_key_check(buf, APIKEY_KEY_LEGACY_MAX + 1),
           APIKEY_KEY_TOO_LONG, "APIKEY_KEY_LEGACY_MAX + 1 bytes is too long");

    /* A 33-character prefix on a well-formed body: one byte too many. */
    memset(buf, 'p', APIKEY_PREFIX_MAX + 1);
    memcpy(buf + APIKEY_PREFIX_MAX + 1, known_alpha + 2, klen - 2);
    is_int(apikey_key_check(buf, APIKEY_PREFIX_MAX + 1 + klen - 2),
           APIKEY_KEY_TOO_LONG, "a 33-character prefix makes a key too long");

    memcpy(key, known_alpha, klen + 1);
    key[2] = 'X';
    is_int(apikey_key_check(key, klen), APIKEY_KEY_BAD_SHAPE,
           "no underscore before the body");

    is_int(apikey_key_check(known_alpha + 3, BODY_LEN), APIKEY_KEY_BAD_SHAPE,
           "body alone, no prefix and no underscore");
    is_int(apikey_key_check(known_alpha + 2, BODY_LEN + 1),
           APIKEY_KEY_BAD_SHAPE, "underscore and body with an empty prefix");

    snprintf(buf, sizeof(buf), "_%s", known_alpha);
    is_int(apikey_key_check(buf, strlen(buf)), APIKEY_KEY_BAD_SHAPE,
           "prefix starting with '_'");
    snprintf(buf, sizeof(buf), "ak_%s", known_alpha + 2);
    is_int(apikey_key_check(buf, strlen(buf)), APIKEY_KEY_BAD_SHAPE,
           "prefix ending with '_'");
    snprintf(buf, sizeof(buf), "a-k%s", known_alpha + 2);
    is_int(apikey_key_check(buf, strlen(buf)), APIKEY_KEY_BAD_SHAPE,
           "prefix with a character outside [A-Za-z0-9_]");

    memcpy(key, known_alpha, klen + 1);
    key[10] = '-';
    is_int(apikey_key_check(key, klen), APIKEY_KEY_BAD_SHAPE,
           "'-' in the random part");
    memcpy(key, known_alpha, klen + 1);
    key[klen - 1] = '=';
    is_int(apikey_key_check(key, klen), APIKEY_KEY_BAD_SHAPE,
           "'=' in the checksum");

    /* Dropping or adding a body character moves the expected '_'. */
    memcpy(buf, known_alpha, 3);
    memcpy(buf + 3, known_alpha + 4, klen - 4);
    is_int(apikey_key_check(buf, klen - 1), APIKEY_KEY_BAD_SHAPE,
           "body one character short");
    memcpy(buf, known_alpha, 3);
    buf[3] = 'a';
    memcpy(buf + 4, known_alpha + 3, klen - 3);
    is_int(apikey_key_check(buf, klen + 1), APIKEY_KEY_BAD_SHAPE,
           "body one character long");
    snprintf(buf, sizeof(buf), "sk_live_%s", known_alpha + 4);
    is_int(apikey_key_check(buf, strlen(buf)), APIKEY_KEY_BAD_SHAPE,
           "body one short behind an underscored prefix");
    snprintf(buf, sizeof(buf), "sk_live_0%s", known_alpha + 3);
    is_int(apikey_key_check(buf, strlen(buf)), APIKEY_KEY_BAD_SHAPE,
           "body one long behind an underscored prefix");
}

/* How many substitutions of another base62 character at body position pos
 * of valid are accepted or draw a result other than a shape or checksum
 * error.  CRC-32 detects every single-byte error in what it covers, and a
 * changed checksum character no longer matches, so this must be 0. */
static unsigned long subst_accepted(const char *valid, size_t pos)
{
    const size_t klen = strlen(valid), at = klen - BODY_LEN + pos;
    char key[KEY_BUF];
    unsigned long wrong = 0;
    size_t c;

    memcpy(key, valid, klen + 1);
    for (c = 0; c < sizeof(b62) - 1; c++) {
        apikey_key_check_t rc;

        if (b62[c] == valid[at]) {
            continue;
        }
        key[at] = b62[c];
        rc = apikey_key_check(key, klen);
        if (rc != APIKEY_KEY_BAD_CHECKSUM && rc != APIKEY_KEY_BAD_SHAPE) {
            wrong++;
        }
    }
    return wrong;
}

static void test_check_substitutions(void)
{
    char key[KEY_BUF];
    unsigned long wrong = 0;
    size_t pos, klen;

    for (pos = 0; pos < BODY_LEN; pos++) {
        is_int((long long)subst_accepted(known_alpha, pos), 0,
               "no substitution at body position %2u is accepted",
               (unsigned)pos);
    }

    /* The same over a fresh key whose prefix has an inner '_'. */
    if (apikey_key_generate("sk_live", key, sizeof(key)) == 0) {
        for (pos = 0; pos < BODY_LEN; pos++) {
            wrong += subst_accepted(key, pos);
        }
    }
    else {
        wrong++;
    }
    is_int((long long)wrong, 0,
           "no substitution in a generated sk_live key is accepted");

    /* Swapping two neighbours is a burst of at most 16 bits, which CRC-32
     * also always detects. */
    wrong = 0;
    klen = strlen(known_alpha);
    for (pos = 0; pos + 1 < klen; pos++) {
        memcpy(key, known_alpha, klen + 1);
        if (key[pos] == key[pos + 1]) {
            continue;
        }
        key[pos] = known_alpha[pos + 1];
        key[pos + 1] = known_alpha[pos];
        if (apikey_key_check(key, klen) == APIKEY_KEY_OK) {
            wrong++;
        }
    }
    is_int((long long)wrong, 0, "no transposition of neighbours is accepted");
}

/* Bytes that are not base62 are a shape error wherever they land in the
 * body, including NUL, whitespace, line ends and UTF-8. */
static void test_check_bytes(void)
{
    const size_t klen = strlen(known_alpha);
    const size_t positions[] = {3, 20, klen - 6, klen - 1};
    char key[KEY_BUF];
    unsigned long wrong = 0;
    size_t i;
    int b;

    for (i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
        for (b = 0; b < 256; b++) {
            apikey_key_check_t rc, want;

            memcpy(key, known_alpha, klen + 1);
            key[positions[i]] = (char)b;
            rc = apikey_key_check(key, klen);
            if (!is_b62((unsigned char)b)) {
                want = APIKEY_KEY_BAD_SHAPE;
            }
            else if (b == (unsigned char)known_alpha[positions[i]]) {
                want = APIKEY_KEY_OK;
            }
            else {
                want = APIKEY_KEY_BAD_CHECKSUM;
            }
            if (rc != want && !wrong++) {
                diag("byte 0x%02x at %u: got %d, expected %d", b,
                     (unsigned)positions[i], (int)rc, (int)want);
            }
        }
    }
    is_int((long long)wrong, 0,
           "all 256 byte values at 4 body positions classified right");

#define BODY_BYTES(off, bytes, what)                                           \
    do {                                                                       \
        memcpy(key, known_alpha, klen + 1);                                    \
        memcpy(key + (off), bytes, sizeof(bytes) - 1);                         \
        is_int(apikey_key_check(key, klen), APIKEY_KEY_BAD_SHAPE, what);       \
    } while (0)

    BODY_BYTES(10, "\0", "embedded NUL in the body");
    BODY_BYTES(1, "\0", "embedded NUL in the prefix");
    BODY_BYTES(10, "\r\n", "CR LF inside the body");
    BODY_BYTES(10, "\t", "tab inside the body");
    BODY_BYTES(10, " ", "space inside the body");
    BODY_BYTES(10, "\xc3\xa9", "UTF-8 e-acute inside the body");
    BODY_BYTES(klen - 3, "\xe2\x80\x8b", "UTF-8 zero-width space at the end");
#undef BODY_BYTES

    memcpy(key, known_alpha, klen);
    memcpy(key + klen, "\r\n", 2);
    is_int(apikey_key_check(key, klen + 2), APIKEY_KEY_BAD_SHAPE,
           "trailing CR LF");
    key[0] = ' ';
    memcpy(key + 1, known_alpha, klen);
    is_int(apikey_key_check(key, klen + 1), APIKEY_KEY_BAD_SHAPE,
           "leading space");
}

static void test_check_str(void)
{
    static const apikey_key_check_t all[] = {
        APIKEY_KEY_OK, APIKEY_KEY_EMPTY, APIKEY_KEY_TOO_LONG,
        APIKEY_KEY_BAD_SHAPE, APIKEY_KEY_BAD_CHECKSUM};
    const size_t n = sizeof(all) / sizeof(all[0]);
    const char *s[sizeof(all) / sizeof(all[0])];
    size_t i, j;
    int distinct = 1;

    for (i = 0; i < n; i++) {
        s[i] = apikey_key_check_str(all[i]);
        ok(s[i] != NULL && *s[i] && strcmp(s[i], "unknown") != 0,
           "check_str(%d) is a real phrase: %s", (int)all[i],
           s[i] ? s[i] : "NULL");
    }
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if (s[i] && s[j] && !strcmp(s[i], s[j])) {
                distinct = 0;
            }
        }
    }
    ok(distinct, "check_str phrases are distinct");
    /* The log line must never be "(null)", even for a corrupt value. */
    ok(apikey_key_check_str((apikey_key_check_t)99) != NULL,
       "check_str of an out-of-range value is not NULL");
}

static void test_prefix_valid(void)
{
    static const char p32[] = "abcdefghijklmnopqrstuvwxyz012345";
    static const char *const good[] = {"ak",   "a", "A9", "sk_live",
                                       "a__b", "0", p32};
    static const struct {
        const char *prefix, *what;
    } bad[] = {
        {"", "no characters"},
        {"_", "a lone '_'"},
        {"_ak", "leading '_'"},
        {"ak_", "trailing '_'"},
        {"a-b", "'-'"},
        {"a b", "a space"},
        {"a.b", "'.'"},
        {"\xc3\xa4", "UTF-8"},
        {"ak\n", "a newline"},
        {"abcdefghijklmnopqrstuvwxyz0123456", "33 characters"},
    };
    char out[KEY_BUF];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(apikey_key_prefix_valid(good[i]), "prefix '%s' is valid", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!apikey_key_prefix_valid(bad[i].prefix), "prefix with %s is invalid",
           bad[i].what);
        is_int(apikey_key_generate(bad[i].prefix, out, sizeof(out)), -1,
               "generate refuses a prefix with %s", bad[i].what);
    }
    ok(!apikey_key_prefix_valid(NULL), "NULL prefix is invalid");
    is_int(apikey_key_generate(NULL, out, sizeof(out)), -1,
           "generate refuses a NULL prefix");
}

/* Generates with prefix and checks the result's shape; returns 1 if good. */
static int generated_ok(const char *prefix, const char *key)
{
    size_t plen = strlen(prefix);

    return strlen(key) == plen + 1 + BODY_LEN && !strncmp(key, prefix, plen)
           && key[plen] == '_' && all_b62(key + plen + 1, BODY_LEN)
           && apikey_key_check(key, strlen(key)) == APIKEY_KEY_OK;
}

static void test_generate(void)
{
    static char keys[N_KEYS][KEY_BUF];
    static const char p32[] = "abcdefghijklmnopqrstuvwxyz012345";
    unsigned long seen[256] = {0};
    unsigned long bad = 0, lo = (unsigned long)-1, hi = 0;
    char out[KEY_BUF + 1];
    size_t i, j;

    is_int(apikey_key_generate(APIKEY_DEFAULT_PREFIX, out, sizeof(out)), 0,
           "generate with the default prefix");
    is_int((long long)strlen(out), 2 + 1 + BODY_LEN, "key length is 41");
    ok(generated_ok(APIKEY_DEFAULT_PREFIX, out),
       "default-prefix key has the right shape and passes check");

    is_int(apikey_key_generate("sk_live", out, sizeof(out)), 0,
           "generate with prefix sk_live");
    ok(generated_ok("sk_live", out), "sk_live key passes check");

    is_int(apikey_key_generate(p32, out, sizeof(out)), 0,
           "generate with a 32-character prefix");
    is_int((long long)strlen(out), APIKEY_KEY_MAX,
           "32-character prefix gives an APIKEY_KEY_MAX key");
    ok(generated_ok(p32, out), "longest key passes check");

    /* The output must fit in exactly the buffer the header promises. */
    is_int(apikey_key_generate(p32, out, APIKEY_KEY_MAX + 1), 0,
           "APIKEY_KEY_MAX + 1 bytes is enough");
    is_int(apikey_key_generate("ak", out, 2 + 1 + BODY_LEN), -1,
           "one byte short of room for the NUL is refused");
    is_int(apikey_key_generate("ak", out, 0), -1, "outlen 0 is refused");

    for (i = 0; i < N_KEYS; i++) {
        if (apikey_key_generate("ak", keys[i], sizeof(keys[i])) != 0
            || !generated_ok("ak", keys[i])) {
            bad++;
        }
    }
    is_int((long long)bad, 0, "%d generated keys all pass check", N_KEYS);
    ok(all_distinct(&keys[0][0], N_KEYS, KEY_BUF), "%d generated keys differ",
       N_KEYS);

    /* 10000 keys give 320000 draws over 62 symbols: 5161 each, standard
     * deviation about 71.  The band below is some 6.5 deviations wide on
     * either side, so a fair generator never leaves it, while byte % 62
     * (the usual modulo bias) puts 8 symbols at 6250 and a lost symbol
     * puts one at 0. */
    for (i = 0; i < N_STATS; i++) {
        if (apikey_key_generate("ak", out, sizeof(out)) != 0) {
            break;
        }
        for (j = 3; j < 3 + APIKEY_RANDOM_LEN; j++) {
            seen[(unsigned char)out[j]]++;
        }
    }
    for (i = 0; i < sizeof(b62) - 1; i++) {
        unsigned long n = seen[(unsigned char)b62[i]];
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    ok(lo > 4700 && hi < 5650,
       "random characters are uniform (min %lu, max %lu per symbol)", lo, hi);
}

static void test_id(void)
{
    static char ids[N_KEYS][APIKEY_ID_LEN + 1];
    char out[APIKEY_ID_LEN + 2];
    unsigned long bad = 0;
    size_t i;

    memset(out, '#', sizeof(out));
    is_int(apikey_id_generate(out, APIKEY_ID_LEN + 1), 0, "id_generate");
    is_int((long long)strlen(out), APIKEY_ID_LEN, "id is APIKEY_ID_LEN long");
    ok(all_b62(out, APIKEY_ID_LEN), "id is base62");
    ok(out[APIKEY_ID_LEN + 1] == '#', "id_generate writes no further");
    is_int(apikey_id_generate(out, APIKEY_ID_LEN), -1,
           "id_generate refuses a buffer without room for the NUL");

    for (i = 0; i < N_KEYS; i++) {
        if (apikey_id_generate(ids[i], sizeof(ids[i])) != 0
            || strlen(ids[i]) != APIKEY_ID_LEN
            || !all_b62(ids[i], APIKEY_ID_LEN)) {
            bad++;
        }
    }
    is_int((long long)bad, 0, "%d ids are well-formed", N_KEYS);
    ok(all_distinct(&ids[0][0], N_KEYS, sizeof(ids[0])), "%d ids differ",
       N_KEYS);
}

static void test_digest(void)
{
    /* FIPS 180-2 examples and one with an embedded NUL. */
    static const char abc[] =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static const char empty[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static const char two_blocks[] =
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    static const char a_nul_b[] =
        "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138";
    static const char msg[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char hex[APIKEY_DIGEST_HEX_LEN + 2];

    memset(hex, '#', sizeof(hex));
    is_int(apikey_digest_hex(NULL, 0, "abc", 3, hex), 0, "digest_hex(\"abc\")");
    is_str(hex, abc, "SHA-256(\"abc\") test vector");
    ok(hex[APIKEY_DIGEST_HEX_LEN + 1] == '#', "digest_hex writes 65 bytes");
    is_int(apikey_digest_hex(NULL, 0, "", 0, hex), 0, "digest_hex(\"\")");
    is_str(hex, empty, "SHA-256 of the empty string");
    apikey_digest_hex(NULL, 0, msg, sizeof(msg) - 1, hex);
    is_str(hex, two_blocks, "SHA-256 of the two-block FIPS message");
    apikey_digest_hex(NULL, 0, "a\0b", 3, hex);
    is_str(hex, a_nul_b, "digest_hex hashes len bytes, NUL included");
}

/* The same digests with SHA-256 fetched once (the module's way) as with
 * the per-call look-up, and again after it is freed. */
static void test_digest_prefetched(void)
{
    /* RFC 4231, test case 2 */
    static const char jefe[] =
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    static const char abc[] =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static const char data[] = "what do ya want for nothing?";
    const unsigned char *pepper = (const unsigned char *)"Jefe";
    char hex[APIKEY_DIGEST_HEX_LEN + 1];
    int round;

    for (round = 0; round < 3; round++) {
        const char *how = round == 1 ? "prefetched" : "looked up per call";

        if (round == 1) {
            is_int(apikey_digest_init(), 0, "SHA-256 fetched once");
        }
        is_int(apikey_digest_hex(pepper, 4, data, sizeof(data) - 1, hex), 0,
               "HMAC-SHA-256 (%s)", how);
        is_str(hex, jefe, "RFC 4231 case 2 (%s)", how);
        apikey_digest_hex(NULL, 0, "abc", 3, hex);
        is_str(hex, abc, "SHA-256(\"abc\") (%s)", how);
        if (round == 1) {
            apikey_digest_done();
        }
    }
}

static void test_equal_ct(void)
{
    unsigned char a[32], b[32];

    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    ok(apikey_equal_ct(a, b, sizeof(a)) == 1, "equal buffers compare equal");
    b[0] ^= 1;
    ok(apikey_equal_ct(a, b, sizeof(a)) == 0, "first byte differs");
    b[0] ^= 1;
    b[31] ^= 0x80;
    ok(apikey_equal_ct(a, b, sizeof(a)) == 0, "last byte differs");
    ok(apikey_equal_ct(a, b, 31) == 1, "a difference past len is ignored");
    ok(apikey_equal_ct(a, b, 0) == 1, "zero-length buffers are equal");
    ok(apikey_equal_ct("abc", "abd", 3) == 0, "\"abc\" vs \"abd\"");
}

static void test_wipe(void)
{
    unsigned char buf[32];
    size_t i, kept = 0, changed = 0;

    memset(buf, 0xa5, sizeof(buf));
    apikey_wipe(buf, 16);
    for (i = 0; i < 16; i++) {
        changed += buf[i] != 0xa5;
    }
    for (i = 16; i < sizeof(buf); i++) {
        kept += buf[i] == 0xa5;
    }
    is_int((long long)changed, 16, "wipe overwrites every byte it is given");
    is_int((long long)kept, 16, "wipe leaves bytes past len alone");
}

int main(void)
{
    test_crc32();
    test_base62();
    test_check_known();
    test_check_rejects();
    test_check_substitutions();
    test_check_bytes();
    test_check_str();
    test_prefix_valid();
    test_generate();
    test_id();
    test_digest();
    test_digest_prefetched();
    test_equal_ct();
    test_wipe();
    return done_testing();
}
