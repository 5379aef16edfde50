/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the look-up cache table in apikey_cache_table.c: layout,
 * answers, eviction and markers in one process, then forked processes
 * hammering one shared mapping and writers killed in the middle of a put.
 *
 * APIKEY_TORTURE_SCALE (a percentage, 100 by default) scales the forked
 * parts, so that sanitizer builds can run fewer iterations. */

/* MAP_ANONYMOUS is not POSIX. */
#define _DEFAULT_SOURCE

#include "apikey_cache_table.h"
#include "tap.h"
#include "torture.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 200
#define HOT   16 /* half the torture traffic goes to these keys */

/* Entries this long carry their nonce and expiry time in clear. */
#define HDR 16

/* Forked torture: children, iterations per child at scale 100, and a
 * wall-clock limit per run so a slow machine stays within budget. */
#define TORTURE_CHILDREN 4
#define TORTURE_ITERS    1500000
#define TORTURE_SECONDS  3.0
#define TORTURE_SLOTS    64

#define KILL_ROUNDS 200

static const unsigned char seed[APIKEY_CACHE_SEED_LEN] = "0123456789abcdef";

static char digests[NKEYS][APIKEY_DIGEST_HEX_LEN + 1];

static int scale = 100;

/* 64 lower-case hex digits per index, all different. */
static void make_digests(void)
{
    static const char hex[] = "0123456789abcdef";
    unsigned i, k;

    for (i = 0; i < NKEYS; i++) {
        apr_uint64_t x = i;

        for (k = 0; k < APIKEY_DIGEST_HEX_LEN; k++) {
            if (k % 16 == 0) {
                x = mix64(x ^ k);
            }
            digests[i][k] = hex[(x >> (4 * (k % 16))) & 15];
        }
        digests[i][APIKEY_DIGEST_HEX_LEN] = '\0';
    }
}

/* Keys whose index ends in 9 are absent from the "store": the torture puts
 * only negative entries for them, and only positive ones for the rest. */
static int absent(unsigned i)
{
    return i % 10 == 9;
}

/* The data of an entry is a byte stream keyed by everything the reader
 * must be able to check: the key index, the scope, the length, and for
 * entries of HDR bytes or more a nonce and the expiry time, both stored in
 * the first HDR bytes.  Every byte is checked, so data of another key, of
 * another write of the same key or cut at a torn length does not pass. */
static apr_uint64_t entry_seed(unsigned i, apr_uint64_t scope, apr_size_t len,
                               apr_uint64_t nonce, apr_int64_t expires)
{
    return mix64(
        mix64(mix64(mix64(((apr_uint64_t)i << 16) ^ scope) ^ len) ^ nonce)
        ^ (apr_uint64_t)expires);
}

static void stream(apr_uint64_t x, char *out, apr_size_t n)
{
    apr_size_t k;

    for (k = 0; k < n; k += 8) {
        x = mix64(x);
        memcpy(out + k, &x, n - k < 8 ? n - k : 8);
    }
}

static void entry_fill(char *buf, unsigned i, apr_uint64_t scope,
                       apr_size_t len, apr_uint64_t nonce, apr_int64_t expires)
{
    if (len >= HDR) {
        memcpy(buf, &nonce, 8);
        memcpy(buf + 8, &expires, 8);
        stream(entry_seed(i, scope, len, nonce, expires), buf + HDR, len - HDR);
    }
    else {
        stream(entry_seed(i, scope, len, 0, 0), buf, len);
    }
}

/* Returns NULL when data is an entry written for key i in scope and still
 * valid at now, else what is wrong with it. */
static const char *entry_check(const char *data, apr_size_t len, unsigned i,
                               apr_uint64_t scope, apr_int64_t now)
{
    char want[APIKEY_CACHE_DATA_MAX];
    apr_uint64_t nonce = 0;
    apr_int64_t expires = 0;

    if (len == 0 || len > APIKEY_CACHE_DATA_MAX) {
        return "length out of range";
    }
    if (len >= HDR) {
        memcpy(&nonce, data, 8);
        memcpy(&expires, data + 8, 8);
        if (expires <= now) {
            return "an expired entry answered";
        }
    }
    entry_fill(want, i, scope, len, nonce, expires);
    if (memcmp(want, data, len)) {
        return "bytes differ (torn, or another key's data)";
    }
    return NULL;
}

/* The tag of a "digest" (here, any string of a key's) in scope. */
static const apikey_cache_tag_t *tag_of(apikey_cache_table_t *t,
                                        apr_uint64_t scope, const char *key,
                                        apikey_cache_tag_t *tag)
{
    apikey_cache_table_tag(t, scope, key, strlen(key), tag);
    return tag;
}
#define TAG(scope, key) tag_of(t, scope, key, &(apikey_cache_tag_t){{0, 0}})

static apikey_cache_table_t *table_new(unsigned nslots, unsigned nservers,
                                       void **mem)
{
    apr_size_t size = apikey_cache_table_size(nslots, nservers);

    *mem = malloc(size);
    if (!*mem) {
        return NULL;
    }
    return apikey_cache_table_init(*mem, size, nslots, nservers, seed);
}

static apikey_cache_answer_t get(apikey_cache_table_t *t, apr_uint64_t scope,
                                 const char *digest, apr_int64_t now,
                                 char *data, apr_size_t *len)
{
    *len = 77; /* shows whether get wrote it */
    return apikey_cache_table_get(t, TAG(scope, digest), now, data, len);
}

/* A positive entry for key i with data of len bytes, valid until expires,
 * and whether it is stored. */
static int put_key(apikey_cache_table_t *t, unsigned i, apr_int64_t now,
                   apr_int64_t expires, apr_size_t len)
{
    char buf[APIKEY_CACHE_DATA_MAX];

    entry_fill(buf, i, 1, len, i, expires);
    return apikey_cache_table_put(t, TAG(1, digests[i]),
                                  apikey_cache_table_generation(t), now,
                                  expires, buf, len, 0);
}

static int put_neg(apikey_cache_table_t *t, unsigned i, apr_int64_t now,
                   apr_int64_t expires)
{
    return apikey_cache_table_put(t, TAG(1, digests[i]),
                                  apikey_cache_table_generation(t), now,
                                  expires, NULL, 0, 1);
}

/* What key i answers at now: HIT only with its own, valid data. */
static apikey_cache_answer_t answer(apikey_cache_table_t *t, unsigned i,
                                    apr_int64_t now)
{
    char data[APIKEY_CACHE_DATA_MAX];
    apr_size_t len;
    apikey_cache_answer_t ans = get(t, 1, digests[i], now, data, &len);
    const char *why;

    if (ans == APIKEY_CACHE_HIT && (why = entry_check(data, len, i, 1, now))) {
        diag("key %u: %s", i, why);
        return (apikey_cache_answer_t)-1;
    }
    if (ans == APIKEY_CACHE_NEGATIVE && len != 0) {
        diag("key %u: negative answer of length %lu", i, (unsigned long)len);
        return (apikey_cache_answer_t)-1;
    }
    return ans;
}

static void test_size_init(void)
{
    unsigned char junk[4096];
    apr_size_t s0 = apikey_cache_table_size(0, 0);
    apr_size_t s4 = apikey_cache_table_size(APIKEY_CACHE_WAYS, 0);
    apr_size_t s8 = apikey_cache_table_size(2 * APIKEY_CACHE_WAYS, 0);
    apr_size_t s12 = apikey_cache_table_size(3 * APIKEY_CACHE_WAYS, 0);
    apikey_cache_table_t *t;
    char data[APIKEY_CACHE_DATA_MAX];
    apr_size_t len, size;
    void *mem;

    ok(s8 > s4 && s12 > s8, "size grows with slots");
    ok(s8 - s4 >= APIKEY_CACHE_WAYS * APIKEY_CACHE_SMALL_DATA_MAX,
       "a bucket costs at least its ways' data");
    is_int((long long)(s12 - s8), (long long)(s8 - s4),
           "every bucket costs the same");
    ok(apikey_cache_table_size(4, 2) > apikey_cache_table_size(4, 1)
           && apikey_cache_table_size(4, 1) > apikey_cache_table_size(4, 0),
       "size grows with servers");
    is_int((long long)apikey_cache_table_size(1, 0), (long long)s4,
           "1 slot is rounded up to a bucket");
    is_int((long long)apikey_cache_table_size(APIKEY_CACHE_WAYS + 1, 0),
           (long long)s8, "WAYS + 1 slots are rounded up to two buckets");
    is_int((long long)s0, (long long)s4, "0 slots still get one bucket");
    ok(s4 > sizeof(junk), "a table does not fit in %lu bytes",
       (unsigned long)sizeof(junk));

    size = apikey_cache_table_size(8, 2);
    mem = malloc(size + 64);
    if (!mem) {
        ok(0, "malloc");
        return;
    }
    ok(apikey_cache_table_init(mem, size - 1, 8, 2, seed) == NULL,
       "init refuses one byte less than table_size");
    ok(apikey_cache_table_init(mem, 0, 8, 2, seed) == NULL,
       "init refuses 0 bytes");
    ok(apikey_cache_table_init(junk, sizeof(junk), 8, 2, seed) == NULL,
       "init refuses a block smaller than one bucket");
    ok(apikey_cache_table_init(mem, size, 9, 2, seed) == NULL,
       "init refuses a block sized for fewer slots");
    ok(apikey_cache_table_init(mem, size, 8, 3, seed) == NULL,
       "init refuses a block sized for fewer servers");

    /* "Zeroed or not": a block full of junk starts empty all the same. */
    memset(mem, 0xa5, size + 64);
    t = apikey_cache_table_init(mem, size, 8, 2, seed);
    ok(t != NULL, "init accepts exactly table_size bytes of junk");
    if (t) {
        unsigned i, misses = 0;

        for (i = 0; i < NKEYS; i++) {
            misses +=
                get(t, 1, digests[i], 100, data, &len) == APIKEY_CACHE_MISS;
        }
        is_int(misses, NKEYS, "a table laid over junk misses every key");
        ok(!apikey_cache_table_used(t, 0) && !apikey_cache_table_used(t, 1),
           "and no server is marked used");
        is_int(apikey_cache_table_marker(t, 0, (apr_int64_t)0xa5a5a5a5a5a5a5a5),
               1, "and no marker is recorded");
    }
    ok(apikey_cache_table_init(mem, size + 64, 8, 2, seed) != NULL,
       "init accepts a larger block");
    free(mem);

    t = table_new(0, 1, &mem);
    ok(t != NULL, "a table of 0 slots");
    if (t) {
        ok(put_key(t, 0, 100, 200, 10) == 1
               && answer(t, 0, 100) == APIKEY_CACHE_HIT,
           "stores and answers in its one bucket");
        ok(put_key(t, 1, 100, 200, 10) && put_key(t, 2, 100, 200, 10)
               && put_key(t, 3, 100, 200, 10),
           "which holds WAYS entries");
        ok(answer(t, 0, 100) == APIKEY_CACHE_HIT
               && answer(t, 3, 100) == APIKEY_CACHE_HIT,
           "all of them");
    }
    free(mem);
}

static void test_get_put(void)
{
    char buf[APIKEY_CACHE_DATA_MAX + 1], data[APIKEY_CACHE_DATA_MAX];
    char near[APIKEY_DIGEST_HEX_LEN + 1];
    apikey_cache_table_t *t;
    apr_size_t len;
    void *mem;

    t = table_new(64, 2, &mem);
    ok(t != NULL, "a table of 64 slots");
    if (!t) {
        return;
    }
    is_int(get(t, 1, digests[0], 100, data, &len), APIKEY_CACHE_MISS,
           "an empty table misses");

    is_int(apikey_cache_table_put(t, TAG(1, digests[0]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  "hello", 5, 0),
           1, "put of 5 bytes");
    ok(get(t, 1, digests[0], 100, data, &len) == APIKEY_CACHE_HIT && len == 5
           && !memcmp(data, "hello", 5),
       "get hits with the same 5 bytes");

    is_int(apikey_cache_table_put(t, TAG(1, digests[1]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  NULL, 0, 1),
           1, "negative put");
    ok(get(t, 1, digests[1], 100, data, &len) == APIKEY_CACHE_NEGATIVE
           && len == 0,
       "get answers NEGATIVE with length 0");

    is_int(apikey_cache_table_put(t, TAG(1, digests[2]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  "", 0, 0),
           1, "positive put of 0 bytes");
    ok(get(t, 1, digests[2], 100, data, &len) == APIKEY_CACHE_HIT && len == 0,
       "get hits with length 0");

    entry_fill(buf, 3, 1, APIKEY_CACHE_DATA_MAX, 3, 200);
    is_int(apikey_cache_table_put(t, TAG(1, digests[3]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  buf, APIKEY_CACHE_DATA_MAX, 0),
           1, "put of APIKEY_CACHE_DATA_MAX (%d) bytes", APIKEY_CACHE_DATA_MAX);
    ok(get(t, 1, digests[3], 100, data, &len) == APIKEY_CACHE_HIT
           && len == APIKEY_CACHE_DATA_MAX
           && !memcmp(data, buf, APIKEY_CACHE_DATA_MAX),
       "get returns all of them");

    memset(buf, 'x', sizeof(buf));
    is_int(apikey_cache_table_put(t, TAG(1, digests[4]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  buf, APIKEY_CACHE_DATA_MAX + 1, 0),
           0, "put of APIKEY_CACHE_DATA_MAX + 1 bytes is refused");
    is_int(get(t, 1, digests[4], 100, data, &len), APIKEY_CACHE_MISS,
           "and the key misses");
    is_int(apikey_cache_table_put(t, TAG(1, digests[5]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  "x", 1, 1),
           0, "a negative put with data is refused");
    is_int(get(t, 1, digests[5], 100, data, &len), APIKEY_CACHE_MISS,
           "and the key misses");

    is_int(get(t, 2, digests[0], 100, data, &len), APIKEY_CACHE_MISS,
           "the same digest in another scope misses");
    is_int(get(t, 0, digests[0], 100, data, &len), APIKEY_CACHE_MISS,
           "and in scope 0");
    memcpy(near, digests[0], sizeof(near));
    near[APIKEY_DIGEST_HEX_LEN - 1] ^= 1;
    is_int(get(t, 1, near, 100, data, &len), APIKEY_CACHE_MISS,
           "a digest differing in its last digit misses");
    is_int(apikey_cache_table_put(t, TAG(2, digests[0]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  "other", 5, 0),
           1, "put of the same digest in scope 2");
    ok(get(t, 2, digests[0], 100, data, &len) == APIKEY_CACHE_HIT && len == 5
           && !memcmp(data, "other", 5),
       "scope 2 answers its own data");
    ok(get(t, 1, digests[0], 100, data, &len) == APIKEY_CACHE_HIT && len == 5
           && !memcmp(data, "hello", 5),
       "scope 1 still answers its own");

    is_int(apikey_cache_table_put(t, TAG(1, digests[0]),
                                  apikey_cache_table_generation(t), 100, 300,
                                  "changed!", 8, 0),
           1, "put over an existing key");
    ok(get(t, 1, digests[0], 100, data, &len) == APIKEY_CACHE_HIT && len == 8
           && !memcmp(data, "changed!", 8),
       "get returns the new data");
    is_int(apikey_cache_table_put(t, TAG(1, digests[0]),
                                  apikey_cache_table_generation(t), 100, 300,
                                  "ab", 2, 0),
           1, "put of shorter data over it");
    ok(get(t, 1, digests[0], 100, data, &len) == APIKEY_CACHE_HIT && len == 2
           && !memcmp(data, "ab", 2),
       "get returns the shorter data");

    is_int(get(t, 1, digests[0], 299, data, &len), APIKEY_CACHE_HIT,
           "hit one tick before expiry");
    is_int(get(t, 1, digests[0], 300, data, &len), APIKEY_CACHE_MISS,
           "miss at expiry");
    is_int(get(t, 1, digests[0], 301, data, &len), APIKEY_CACHE_MISS,
           "miss after expiry");
    is_int(get(t, 1, digests[1], 200, data, &len), APIKEY_CACHE_MISS,
           "a negative entry expires too");
    is_int(get(t, 1, digests[0], 50, data, &len), APIKEY_CACHE_HIT,
           "any clock: an earlier now hits");
    is_int(apikey_cache_table_put(t, TAG(1, digests[6]),
                                  apikey_cache_table_generation(t), 100, 100,
                                  "x", 1, 0),
           1, "put of an entry already expired");
    is_int(get(t, 1, digests[6], 100, data, &len), APIKEY_CACHE_MISS,
           "never hits at its own now");
    free(mem);
}

static void test_invalidate(void)
{
    apikey_cache_table_t *t;
    unsigned i, n;
    void *mem;

    t = table_new(64, 1, &mem);
    if (!t) {
        ok(0, "a table of 64 slots");
        return;
    }
    for (i = n = 0; i < 10; i++) {
        n +=
            i < 8 ? put_key(t, i, 100, 1000, 10 + i) : put_neg(t, i, 100, 1000);
    }
    is_int(n, 10, "8 positive and 2 negative entries stored");
    for (i = n = 0; i < 10; i++) {
        n += answer(t, i, 100)
             == (i < 8 ? APIKEY_CACHE_HIT : APIKEY_CACHE_NEGATIVE);
    }
    is_int(n, 10, "all of them answer");
    apikey_cache_table_invalidate(t);
    for (i = n = 0; i < 10; i++) {
        n += answer(t, i, 100) == APIKEY_CACHE_MISS;
    }
    is_int(n, 10, "after invalidate all of them miss");
    for (i = n = 0; i < 10; i++) {
        n += put_key(t, i, 100, 1000, 20 + i);
    }
    is_int(n, 10, "they are stored again");
    for (i = n = 0; i < 10; i++) {
        n += answer(t, i, 100) == APIKEY_CACHE_HIT;
    }
    is_int(n, 10, "and hit again");
    apikey_cache_table_invalidate(t);
    apikey_cache_table_invalidate(t);
    for (i = n = 0; i < 10; i++) {
        n += answer(t, i, 100) == APIKEY_CACHE_MISS;
    }
    is_int(n, 10, "a second invalidate misses them all again");
    free(mem);
}

/* A table of APIKEY_CACHE_WAYS slots has exactly one bucket, so every key
 * competes for the same ways whatever the keyed hash does. */
static void test_eviction(void)
{
    apikey_cache_table_t *t;
    void *mem;

    t = table_new(APIKEY_CACHE_WAYS, 0, &mem);
    if (!t) {
        ok(0, "a table of one bucket");
        return;
    }
    ok(put_key(t, 0, 100, 400, 50) && put_key(t, 1, 100, 300, 60)
           && put_key(t, 2, 100, 500, 70) && put_key(t, 3, 100, 600, 80),
       "4 positive entries fill the bucket");
    is_int(put_neg(t, 4, 100, 900), 0,
           "a negative put into a bucket of live positives is refused");
    is_int(answer(t, 4, 100), APIKEY_CACHE_MISS, "and the key misses");
    ok(answer(t, 0, 100) == APIKEY_CACHE_HIT
           && answer(t, 1, 100) == APIKEY_CACHE_HIT
           && answer(t, 2, 100) == APIKEY_CACHE_HIT
           && answer(t, 3, 100) == APIKEY_CACHE_HIT,
       "all 4 positives still hit");
    is_int(put_key(t, 5, 100, 700, 90), 1, "a 5th positive is stored");
    is_int(answer(t, 5, 100), APIKEY_CACHE_HIT, "and hits");
    is_int(answer(t, 1, 100), APIKEY_CACHE_MISS,
           "it evicted the entry that expires first");
    ok(answer(t, 0, 100) == APIKEY_CACHE_HIT
           && answer(t, 2, 100) == APIKEY_CACHE_HIT
           && answer(t, 3, 100) == APIKEY_CACHE_HIT,
       "and no other");
    is_int(put_neg(t, 6, 450, 900), 1,
           "a negative put once a positive has expired is stored");
    is_int(answer(t, 0, 450), APIKEY_CACHE_MISS, "in the expired one's way");
    ok(answer(t, 2, 450) == APIKEY_CACHE_HIT
           && answer(t, 3, 450) == APIKEY_CACHE_HIT
           && answer(t, 5, 450) == APIKEY_CACHE_HIT
           && answer(t, 6, 450) == APIKEY_CACHE_NEGATIVE,
       "the live ones answer");

    t = apikey_cache_table_init(mem, apikey_cache_table_size(4, 0), 4, 0, seed);
    ok(put_key(t, 0, 100, 300, 10) && put_key(t, 1, 100, 900, 10)
           && put_neg(t, 2, 100, 800) && put_neg(t, 3, 100, 850),
       "2 positive and 2 negative entries fill the bucket");
    is_int(put_key(t, 4, 100, 1000, 10), 1, "a new positive is stored");
    is_int(answer(t, 2, 100), APIKEY_CACHE_MISS,
           "it evicted the negative that expires first");
    ok(answer(t, 0, 100) == APIKEY_CACHE_HIT
           && answer(t, 1, 100) == APIKEY_CACHE_HIT
           && answer(t, 3, 100) == APIKEY_CACHE_NEGATIVE
           && answer(t, 4, 100) == APIKEY_CACHE_HIT,
       "not the positive that expires sooner");
    is_int(put_neg(t, 5, 100, 2000), 1,
           "a negative put may evict the other negative");
    ok(answer(t, 3, 100) == APIKEY_CACHE_MISS
           && answer(t, 5, 100) == APIKEY_CACHE_NEGATIVE,
       "and did");
    is_int(put_key(t, 6, 100, 1000, 10), 1, "another positive is stored");
    is_int(answer(t, 5, 100), APIKEY_CACHE_MISS,
           "evicting the last negative, though it expires last");
    is_int(put_key(t, 7, 100, 1000, 10), 1, "another positive is stored");
    ok(answer(t, 0, 100) == APIKEY_CACHE_MISS
           && answer(t, 1, 100) == APIKEY_CACHE_HIT
           && answer(t, 4, 100) == APIKEY_CACHE_HIT
           && answer(t, 6, 100) == APIKEY_CACHE_HIT
           && answer(t, 7, 100) == APIKEY_CACHE_HIT,
       "then evicting the positive that expires first");

    apikey_cache_table_invalidate(t);
    is_int(put_neg(t, 8, 100, 1000), 1,
           "after invalidate a negative put finds a stale way");
    free(mem);
}

static void test_markers(void)
{
    apikey_cache_table_t *t;
    unsigned i, n;
    void *mem;

    t = table_new(16, 3, &mem);
    if (!t) {
        ok(0, "a table of 3 servers");
        return;
    }
    for (i = 0; i < 16; i++) {
        put_key(t, i, 100, 1000, APIKEY_CACHE_DATA_MAX);
    }
    ok(!apikey_cache_table_used(t, 0) && !apikey_cache_table_used(t, 1)
           && !apikey_cache_table_used(t, 2),
       "no server is used at first");
    apikey_cache_table_mark_used(t, 1);
    ok(!apikey_cache_table_used(t, 0) && apikey_cache_table_used(t, 1)
           && !apikey_cache_table_used(t, 2),
       "mark_used(1) marks server 1 only");
    apikey_cache_table_mark_used(t, 1);
    ok(apikey_cache_table_used(t, 1), "marking it twice keeps it used");
    apikey_cache_table_mark_used(t, 3);
    apikey_cache_table_mark_used(t, 0xffffffffu);
    ok(!apikey_cache_table_used(t, 3)
           && !apikey_cache_table_used(t, 0xffffffffu),
       "servers out of range are never used");
    ok(!apikey_cache_table_used(t, 0) && apikey_cache_table_used(t, 1)
           && !apikey_cache_table_used(t, 2),
       "marking them changes no other server");

    is_int(apikey_cache_table_marker(t, 0, 5), 1, "first marker of server 0");
    is_int(apikey_cache_table_marker(t, 0, 5), 0, "the same marker again");
    is_int(apikey_cache_table_marker(t, 0, 6), 1, "a new marker");
    is_int(apikey_cache_table_marker(t, 0, 6), 0, "that one again");
    is_int(apikey_cache_table_marker(t, 0, 5), 1, "back to the old one");
    is_int(apikey_cache_table_marker(t, 1, 0), 1,
           "a first marker of 0 counts as a change");
    is_int(apikey_cache_table_marker(t, 1, 0), 0, "and 0 again does not");
    is_int(apikey_cache_table_marker(t, 2, 5), 1,
           "server 2 has its own marker");
    is_int(apikey_cache_table_marker(t, 2, -1), 1, "a negative marker");
    is_int(apikey_cache_table_marker(t, 2, -1), 0, "a negative marker again");
    apikey_cache_table_marker(t, 3, 9);
    apikey_cache_table_marker(t, 0xffffffffu, 9);
    ok(apikey_cache_table_marker(t, 0, 5) == 0
           && apikey_cache_table_marker(t, 1, 0) == 0
           && apikey_cache_table_marker(t, 2, -1) == 0,
       "markers out of range change no server's marker");
    apikey_cache_table_invalidate(t);
    ok(apikey_cache_table_used(t, 1) && apikey_cache_table_marker(t, 0, 5) == 0,
       "invalidate keeps the servers' state");

    /* The servers' state lies between the header and the slots: neither
     * side may write over the other. */
    for (i = 0; i < 3; i++) {
        apikey_cache_table_mark_used(t, i);
        apikey_cache_table_marker(t, i, -1 - (apr_int64_t)i);
    }
    for (i = n = 0; i < 16; i++) {
        n += put_key(t, i, 100, 1000, APIKEY_CACHE_DATA_MAX);
    }
    is_int(n, 16, "16 entries of full length stored");
    ok(apikey_cache_table_marker(t, 0, -1) == 0
           && apikey_cache_table_marker(t, 1, -2) == 0
           && apikey_cache_table_marker(t, 2, -3) == 0
           && apikey_cache_table_used(t, 0) && apikey_cache_table_used(t, 2),
       "entries write over no server's state");
    for (i = 0; i < 3; i++) {
        apikey_cache_table_marker(t, i, APR_INT64_C(-0x5a5a5a5a5a5a5a5a));
    }
    for (i = n = 0; i < 16; i++) {
        n += answer(t, i, 100) == APIKEY_CACHE_HIT;
    }
    ok(n > 0, "%u of 16 entries survive the buckets' overflow", n);
    for (i = n = 0; i < 16; i++) {
        apr_int64_t ans = answer(t, i, 100);

        n += ans == APIKEY_CACHE_HIT || ans == APIKEY_CACHE_MISS;
    }
    is_int(n, 16, "server state writes over no entry");
    free(mem);

    t = table_new(4, 0, &mem);
    if (t) {
        apikey_cache_table_mark_used(t, 0);
        ok(!apikey_cache_table_used(t, 0)
               && apikey_cache_table_marker(t, 0, 1) == 0,
           "a table without servers ignores server 0");
        ok(put_key(t, 0, 100, 1000, APIKEY_CACHE_DATA_MAX)
               && answer(t, 0, 100) == APIKEY_CACHE_HIT,
           "and still caches");
    }
    free(mem);
}

/* The forked torture.  Children share the table and this block; the clock
 * only moves forward, so an entry a reader sees must expire after the
 * reader's now. */
typedef struct {
    apr_uint64_t iters, gets, hits, negatives, checked, puts, stored,
        invalidations, bad, timed_out;
} counts_t;

typedef struct {
    apr_int64_t clock;
    counts_t child[TORTURE_CHILDREN];
} torture_shared_t;

static int torture_child(apikey_cache_table_t *t, torture_shared_t *sh, int id,
                         long iters, unsigned invalidate_one_in)
{
    char buf[APIKEY_CACHE_DATA_MAX], data[APIKEY_CACHE_DATA_MAX];
    apr_uint64_t state = mix64((apr_uint64_t)getpid() << 8 | (unsigned)id);
    counts_t c;
    double end = seconds() + TORTURE_SECONDS;
    long n;

    memset(&c, 0, sizeof(c));
    for (n = 0; n < iters; n++) {
        unsigned i = (unsigned)(rnd(&state) % 2 ? rnd(&state) % HOT
                                                : rnd(&state) % NKEYS);
        apr_uint64_t scope = 1 + rnd(&state) % 2;
        apr_int64_t now;

        if (n % 128 == 0) {
            __atomic_add_fetch(&sh->clock, 1, __ATOMIC_SEQ_CST);
            if (n % 4096 == 0 && seconds() > end) {
                c.timed_out = 1;
                break;
            }
        }
        now = __atomic_load_n(&sh->clock, __ATOMIC_SEQ_CST);
        if (invalidate_one_in && rnd(&state) % invalidate_one_in == 0) {
            apikey_cache_table_invalidate(t);
            c.invalidations++;
        }
        if (rnd(&state) % 100 < 60) {
            apr_size_t len = 0;
            apikey_cache_answer_t ans = apikey_cache_table_get(
                t, TAG(scope, digests[i]), now, data, &len);
            const char *why = NULL;

            c.gets++;
            if (ans == APIKEY_CACHE_HIT) {
                c.hits++;
                why = absent(i) ? "a hit for an absent key"
                                : entry_check(data, len, i, scope, now);
                c.checked += why == NULL;
            }
            else if (ans == APIKEY_CACHE_NEGATIVE) {
                c.negatives++;
                why = !absent(i) ? "a negative answer for a present key"
                      : len      ? "a negative answer with data"
                                 : NULL;
            }
            else if (ans != APIKEY_CACHE_MISS) {
                why = "an unknown answer";
            }
            if (why && c.bad++ < 5) {
                diag("child %d, iteration %ld: key %u scope %lu len %lu at "
                     "%ld: %s",
                     id, n, i, (unsigned long)scope, (unsigned long)len,
                     (long)now, why);
            }
        }
        else {
            /* Now and then an entry that has already expired. */
            apr_int64_t expires =
                rnd(&state) % 50 ? now + 1 + (apr_int64_t)(rnd(&state) % 64)
                                 : now;
            int stored;

            c.puts++;
            if (absent(i)) {
                stored = apikey_cache_table_put(
                    t, TAG(scope, digests[i]), apikey_cache_table_generation(t),
                    now, expires, NULL, 0, 1);
            }
            else {
                apr_size_t len = 1 + rnd(&state) % APIKEY_CACHE_DATA_MAX;

                entry_fill(buf, i, scope, len, rnd(&state), expires);
                stored = apikey_cache_table_put(
                    t, TAG(scope, digests[i]), apikey_cache_table_generation(t),
                    now, expires, buf, len, 0);
            }
            c.stored += stored == 1;
        }
    }
    c.iters = (apr_uint64_t)n;
    sh->child[id] = c;
    return c.bad ? 1 : 0;
}

static void torture(const char *what, unsigned invalidate_one_in)
{
    apr_size_t size = apikey_cache_table_size(TORTURE_SLOTS, 1);
    long iters = (long)TORTURE_ITERS * scale / 100;
    torture_shared_t *sh = shared_new(sizeof(*sh));
    void *mem = shared_new(size);
    apikey_cache_table_t *t;
    pid_t pids[TORTURE_CHILDREN];
    counts_t sum;
    int k, exited = 0;
    unsigned i, s, n;
    double start;

    if (!sh || !mem) {
        ok(0, "%s: mmap: %s", what, strerror(errno));
        return;
    }
    t = apikey_cache_table_init(mem, size, TORTURE_SLOTS, 1, seed);
    start = seconds();
    fflush(stdout);
    fflush(stderr);
    for (k = 0; k < TORTURE_CHILDREN; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            _exit(torture_child(t, sh, k, iters, invalidate_one_in));
        }
    }
    for (k = 0; k < TORTURE_CHILDREN; k++) {
        int status = 0;

        if (pids[k] < 0) {
            continue;
        }
        while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR) {
        }
        exited += WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            diag("%s: child %d: status 0x%x", what, k, status);
        }
    }
    is_int(exited, TORTURE_CHILDREN, "%s: every child exited 0", what);

    memset(&sum, 0, sizeof(sum));
    for (k = 0; k < TORTURE_CHILDREN; k++) {
        counts_t *c = &sh->child[k];

        sum.iters += c->iters;
        sum.gets += c->gets;
        sum.hits += c->hits;
        sum.negatives += c->negatives;
        sum.checked += c->checked;
        sum.puts += c->puts;
        sum.stored += c->stored;
        sum.invalidations += c->invalidations;
        sum.bad += c->bad;
        sum.timed_out += c->timed_out;
    }
    diag("%s: %d children, %lu iterations in %.2fs%s: %lu gets, %lu hits "
         "checked byte for byte, %lu negative answers; %lu puts, %lu "
         "stored; %lu invalidations",
         what, TORTURE_CHILDREN, (unsigned long)sum.iters, seconds() - start,
         sum.timed_out ? " (time limit reached)" : "", (unsigned long)sum.gets,
         (unsigned long)sum.checked, (unsigned long)sum.negatives,
         (unsigned long)sum.puts, (unsigned long)sum.stored,
         (unsigned long)sum.invalidations);
    is_int((long long)sum.bad, 0, "%s: no wrong, torn or expired answer", what);
    ok(sum.checked > 1000 && sum.checked == sum.hits,
       "%s: %lu hits, all checked", what, (unsigned long)sum.checked);
    ok(sum.negatives > 0, "%s: negative answers seen", what);
    if (invalidate_one_in) {
        ok(sum.invalidations > 10, "%s: %lu invalidations", what,
           (unsigned long)sum.invalidations);
    }

    /* Every writer finished its puts, so no slot may be left busy: a
     * positive put always finds a way. */
    for (i = n = 0; i < NKEYS; i++) {
        for (s = 1; s <= 2; s++) {
            char buf[APIKEY_CACHE_DATA_MAX], data[APIKEY_CACHE_DATA_MAX];
            apr_int64_t now = sh->clock + 1000;
            apikey_cache_answer_t ans;
            apr_size_t len;

            entry_fill(buf, i, s, 100, i, now + 1);
            if (apikey_cache_table_put(t, TAG(s, digests[i]),
                                       apikey_cache_table_generation(t), now,
                                       now + 1, buf, 100, 0)) {
                ans = get(t, s, digests[i], now, data, &len);
                n += ans == APIKEY_CACHE_HIT && len == 100
                     && !memcmp(data, buf, len);
            }
        }
    }
    is_int(n, 2 * NKEYS, "%s: afterwards every put is stored and hits", what);
    apikey_cache_table_invalidate(t);
    for (i = n = 0; i < NKEYS; i++) {
        char data[APIKEY_CACHE_DATA_MAX];
        apr_size_t len;

        for (s = 1; s <= 2; s++) {
            n += get(t, s, digests[i], 0, data, &len) == APIKEY_CACHE_MISS;
        }
    }
    is_int(n, 2 * NKEYS, "%s: then invalidate misses every key", what);
    munmap(mem, size);
    munmap(sh, sizeof(*sh));
}

/* A writer that puts key i forever (or for 10 s if nobody kills it),
 * counting its puts in *progress. */
/* The longest entry put_forever writes: both regions by default. */
static apr_size_t forever_max = APIKEY_CACHE_DATA_MAX;

static void put_forever(apikey_cache_table_t *t, unsigned i,
                        apr_uint64_t *progress)
{
    char buf[APIKEY_CACHE_DATA_MAX];
    apr_uint64_t state = mix64((apr_uint64_t)getpid());
    apr_uint64_t n;
    double end = seconds() + 10;

    for (n = 1;; n++) {
        apr_size_t len = 1 + rnd(&state) % forever_max;
        apr_int64_t expires = 1000000 + (apr_int64_t)n;

        entry_fill(buf, i, 1, len, rnd(&state), expires);
        apikey_cache_table_put(t, TAG(1, digests[i]),
                               apikey_cache_table_generation(t), 100, expires,
                               buf, len, 0);
        __atomic_store_n(progress, n, __ATOMIC_RELEASE);
        if (n % 1024 == 0 && seconds() > end) {
            _exit(0);
        }
    }
}

/* Forks a writer of key i and kills it after a random number of puts.
 * Returns 1 when it died by SIGKILL. */
static int kill_writer(apikey_cache_table_t *t, unsigned i,
                       apr_uint64_t *progress, apr_uint64_t *state)
{
    apr_uint64_t target = 1 + rnd(state) % 400;
    int status = 0;
    pid_t pid;

    __atomic_store_n(progress, 0, __ATOMIC_RELEASE);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        return 0;
    }
    if (pid == 0) {
        put_forever(t, i, progress);
    }
    while (__atomic_load_n(progress, __ATOMIC_ACQUIRE) < target) {
        sched_yield();
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* What the header promises when a writer dies in the middle of a put: the
 * key it was writing misses or answers one whole entry, never a torn one,
 * and other keys are still cached.  That its slot may stay busy until a
 * restart is documented, so a failed put of that key is only counted. */
static void test_killed_writer(void)
{
    apr_size_t size = apikey_cache_table_size(TORTURE_SLOTS, 1);
    apr_uint64_t *progress = shared_new(sizeof(*progress));
    void *mem = shared_new(size);
    apr_uint64_t state = mix64((apr_uint64_t)getpid());
    int rounds = KILL_ROUNDS * scale / 100, r;
    unsigned killed = 0, bad = 0, hits = 0, stuck = 0, others_failed = 0;

    if (rounds < 20) {
        rounds = 20;
    }
    if (!progress || !mem) {
        ok(0, "mmap: %s", strerror(errno));
        return;
    }
    /* About one kill in twenty lands inside a put: go on until one has. */
    for (r = 0; r < rounds || (stuck == 0 && r < 20 * rounds); r++) {
        apikey_cache_table_t *t =
            apikey_cache_table_init(mem, size, TORTURE_SLOTS, 1, seed);
        unsigned i = (unsigned)r % (NKEYS - 3), j;
        apikey_cache_answer_t ans;

        killed += kill_writer(t, i, progress, &state);
        ans = answer(t, i, 100);
        if (ans == APIKEY_CACHE_HIT) {
            hits++;
        }
        else if (ans != APIKEY_CACHE_MISS) {
            bad++;
        }
        if (!put_key(t, i, 100, 2000000, 10)) {
            /* Its slot is dead; an entry it wrote whole in the other
             * region (a longer one) may still answer. */
            stuck++;
            ans = answer(t, i, 100);
            bad += ans != APIKEY_CACHE_MISS && ans != APIKEY_CACHE_HIT;
        }
        else {
            bad += answer(t, i, 100) != APIKEY_CACHE_HIT;
        }
        /* At most 3 of them share the dead writer's bucket, which keeps 3
         * healthy ways. */
        for (j = NKEYS - 3; j < NKEYS; j++) {
            others_failed += !put_key(t, j, 100, 2000000, 20)
                             || answer(t, j, 100) != APIKEY_CACHE_HIT;
        }
    }
    diag("killed writers: %u rounds, %u kills, %u left their slot busy, "
         "%u answered a whole entry after the kill",
         r, killed, stuck, hits);
    is_int(killed, r, "every writer died by SIGKILL");
    is_int(bad, 0, "after a kill the key misses or answers a whole entry");
    is_int(others_failed, 0, "after a kill other keys are still cached");
    ok(stuck > 0, "some kills landed in the middle of a put (%u)", stuck);
    munmap(mem, size);
    munmap(progress, sizeof(*progress));
}

/* apikey_cache_table_put says a writer that died holding its slot costs
 * "one slot" until the next restart.  In a one-bucket table, with the dead
 * writer's slot in the first way, the 3 other ways must stay usable once
 * that entry is stale (after an invalidate) or expired. */
static void test_dead_slot_costs_one_slot(void)
{
    apr_size_t size = apikey_cache_table_size(APIKEY_CACHE_WAYS, 0);
    apr_uint64_t *progress = shared_new(sizeof(*progress));
    void *mem = shared_new(size);
    apr_uint64_t state = mix64((apr_uint64_t)getpid() + 1);
    apikey_cache_table_t *t = NULL;
    unsigned i, n;
    int tries;

    if (!progress || !mem) {
        ok(0, "mmap: %s", strerror(errno));
        return;
    }
    /* One bucket of slots: entries that fit one, none in the large region
     * to answer for the dead writer's key. */
    forever_max = APIKEY_CACHE_SMALL_DATA_MAX;
    for (tries = 1; tries <= 1000; tries++) {
        t = apikey_cache_table_init(mem, size, APIKEY_CACHE_WAYS, 0, seed);
        kill_writer(t, 0, progress, &state);
        if (!put_key(t, 0, 100, 2000000, 10)) {
            break;
        }
    }
    if (!ok(tries <= 1000, "a writer died holding its slot (kill %d)", tries)) {
        munmap(mem, size);
        munmap(progress, sizeof(*progress));
        return;
    }
    ok(put_key(t, 1, 100, 1000, 10) && put_key(t, 2, 100, 1000, 10)
           && put_key(t, 3, 100, 1000, 10),
       "3 other keys fill the other ways");
    ok(answer(t, 1, 100) == APIKEY_CACHE_HIT
           && answer(t, 2, 100) == APIKEY_CACHE_HIT
           && answer(t, 3, 100) == APIKEY_CACHE_HIT
           && answer(t, 0, 100) == APIKEY_CACHE_MISS,
       "and hit, while the dead writer's key misses");
    ok(put_key(t, 4, 5000000, 6000000, 10)
           && answer(t, 4, 5000000) == APIKEY_CACHE_HIT,
       "once every entry has expired, a new key is stored");

    for (tries = 1; tries <= 1000; tries++) {
        t = apikey_cache_table_init(mem, size, APIKEY_CACHE_WAYS, 0, seed);
        kill_writer(t, 0, progress, &state);
        if (!put_key(t, 0, 100, 2000000, 10)) {
            break;
        }
    }
    ok(tries <= 1000 && put_key(t, 1, 100, 1000, 10),
       "again a writer died holding its slot (kill %d), another key stored",
       tries);
    apikey_cache_table_invalidate(t);
    ok(put_key(t, 5, 100, 1000, 10) && answer(t, 5, 100) == APIKEY_CACHE_HIT,
       "after an invalidate, a new key is stored");
    for (i = 10, n = 0; i < 30; i++) {
        n += put_key(t, i, 100, 1000, 10);
    }
    diag("after the invalidate, %u of 20 more keys were stored", n);
    munmap(mem, size);
    munmap(progress, sizeof(*progress));
    forever_max = APIKEY_CACHE_DATA_MAX;
}

/* An answer fetched from the store before an invalidation and stored after
 * it, under the generation read before the fetch, is never served. */
static void test_put_after_invalidate(void)
{
    unsigned char seed[APIKEY_CACHE_SEED_LEN] = {7};
    apr_size_t size = apikey_cache_table_size(16, 1), len = 0;
    void *mem = malloc(size);
    apikey_cache_table_t *t = apikey_cache_table_init(mem, size, 16, 1, seed);
    char data[APIKEY_CACHE_DATA_MAX];
    apr_uint32_t before = apikey_cache_table_generation(t);

    apikey_cache_table_invalidate(t); /* a revocation lands meanwhile */
    is_int(apikey_cache_table_put(t, TAG(1, digests[0]), before, 100, 200,
                                  "old", 3, 0),
           1, "put of an answer fetched before the invalidation");
    is_int(apikey_cache_table_get(t, TAG(1, digests[0]), 150, data, &len),
           APIKEY_CACHE_MISS, "is never served after it");
    is_int(apikey_cache_table_put(t, TAG(1, digests[0]),
                                  apikey_cache_table_generation(t), 100, 200,
                                  "new", 3, 0),
           1, "a fresh answer");
    is_int(apikey_cache_table_get(t, TAG(1, digests[0]), 150, data, &len),
           APIKEY_CACHE_HIT, "is");
    free(mem);
}

/* Entries of 256 bytes, and a region of 1 KiB slots (one for every 16)
 * for longer records: a record is found in whichever holds it, a record
 * that grew or shrank is found under its newer size, and the tag alone
 * (scope and key under the seed) names an entry. */
static void test_regions(void)
{
    const unsigned nslots = 64;
    apr_size_t size = apikey_cache_table_size(nslots, 0);
    apr_size_t big = APIKEY_CACHE_SMALL_DATA_MAX + 1;
    apikey_cache_tag_t a, b;
    apikey_cache_table_t *t, *u;
    char data[APIKEY_CACHE_DATA_MAX];
    unsigned char other_seed[APIKEY_CACHE_SEED_LEN];
    apr_size_t len;
    void *mem, *mem2;
    unsigned i, stored;

    is_int(APIKEY_CACHE_SLOT_SIZE, 256, "an entry is 256 bytes");
    is_int((long long)size,
           (long long)(64 + nslots * APIKEY_CACHE_SLOT_SIZE
                       + APIKEY_CACHE_WAYS * APIKEY_CACHE_LARGE_SLOT_SIZE),
           "64 entries take 16 KiB and one bucket of large slots");
    t = table_new(nslots, 0, &mem);
    if (!ok(t != NULL, "a table of %u entries", nslots)) {
        return;
    }
    ok(put_key(t, 0, 100, 1000, big) && answer(t, 0, 100) == APIKEY_CACHE_HIT,
       "a record of %lu bytes is stored and answers whole", (unsigned long)big);
    ok(put_key(t, 0, 100, 1000, 10)
           && get(t, 1, digests[0], 100, data, &len) == APIKEY_CACHE_HIT
           && len == 10,
       "the same key shrunk to 10 bytes answers its new size");
    ok(put_key(t, 1, 100, 500, 10) && put_key(t, 1, 100, 2000, big)
           && get(t, 1, digests[1], 600, data, &len) == APIKEY_CACHE_HIT
           && len == big,
       "a record grown while its old entry expired answers its new size");
    is_int(get(t, 1, digests[1], 2000, data, &len), APIKEY_CACHE_MISS,
           "and misses once that expires too");
    for (i = 10; i < 30; i++) {
        put_key(t, i, 100, 1000, APIKEY_CACHE_DATA_MAX);
    }
    for (i = 10, stored = 0; i < 30; i++) {
        stored += answer(t, i, 100) == APIKEY_CACHE_HIT;
    }
    ok(stored >= 1 && stored <= APIKEY_CACHE_WAYS,
       "large records share their own region's %d slots (%u of 20 kept)",
       APIKEY_CACHE_WAYS, stored);
    for (i = 40, stored = 0; i < 50; i++) {
        stored += put_key(t, i, 100, 1000, 50)
                  && answer(t, i, 100) == APIKEY_CACHE_HIT;
    }
    ok(stored >= 8, "small records still find room (%u of 10)", stored);

    /* Both halves of a tag name the entry: tags equal in one half only
     * (which no one can make without the seed) do not answer for each
     * other. */
    a.w[0] = b.w[0] = 12345;
    a.w[1] = 1;
    b.w[1] = 2;
    ok(apikey_cache_table_put(t, &a, apikey_cache_table_generation(t), 100,
                              1000, "abc", 3, 0)
           && apikey_cache_table_get(t, &a, 100, data, &len) == APIKEY_CACHE_HIT
           && apikey_cache_table_get(t, &b, 100, data, &len)
                  == APIKEY_CACHE_MISS,
       "a tag equal in its first half only misses");
    b.w[0] = 54321;
    b.w[1] = 1;
    is_int(apikey_cache_table_get(t, &b, 100, data, &len), APIKEY_CACHE_MISS,
           "and in its second half only");

    apikey_cache_table_tag(t, 1, "ak_key", 6, &a);
    apikey_cache_table_tag(t, 1, "ak_key", 6, &b);
    ok(a.w[0] == b.w[0] && a.w[1] == b.w[1], "a key's tag is the same twice");
    apikey_cache_table_tag(t, 2, "ak_key", 6, &b);
    ok(a.w[0] != b.w[0] && a.w[1] != b.w[1], "another scope, another tag");
    memcpy(other_seed, seed, sizeof(other_seed));
    other_seed[0] ^= 1;
    mem2 = malloc(size);
    u = mem2 ? apikey_cache_table_init(mem2, size, nslots, 0, other_seed)
             : NULL;
    if (u) {
        apikey_cache_table_tag(u, 1, "ak_key", 6, &b);
    }
    ok(u && a.w[0] != b.w[0] && a.w[1] != b.w[1],
       "another seed (another start), another tag");
    free(mem2);
    free(mem);
}

int main(void)
{
    const char *env = getenv("APIKEY_TORTURE_SCALE");

    if (env && atoi(env) > 0) {
        scale = atoi(env);
    }
    make_digests();
    test_size_init();
    test_get_put();
    test_invalidate();
    test_eviction();
    test_markers();
    torture("no invalidation", 0);
    torture("with invalidations", 2000);
    test_killed_writer();
    test_dead_slot_costs_one_slot();
    test_put_after_invalidate();
    test_regions();
    return done_testing();
}
