/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The look-up cache's table (see apikey_cache_table.h).  Shared-memory
 * ordering uses the compiler's __atomic builtins (GCC and clang). */

#include "apikey_cache_table.h"
#include "apikey_segment.h"

#include <string.h>

#include "apr_siphash.h"

#define TABLE_MAGIC APR_UINT64_C(0x41504b4341434845) /* "APKCACHE" */

typedef struct {
    apr_uint64_t seq;        /* even: stable; odd: a writer is filling it */
    apr_int64_t expires;     /* entry valid while now < expires; 0: empty */
    apr_uint64_t scope;      /* which look-up the entry answers */
    apr_uint32_t generation; /* the table's generation when stored */
    apr_uint16_t len;
    unsigned char negative;
    unsigned char unused;
    char digest[APIKEY_DIGEST_HEX_LEN];
    char data[APIKEY_CACHE_DATA_MAX];
} slot_t;

typedef struct {
    apr_uint64_t used;
    apr_int64_t marker;
    apr_uint64_t have_marker;
    apr_uint64_t unused;
} server_state_t;

/* The header's slots are buckets (of APIKEY_CACHE_WAYS slots), its word
 * the generation. */
struct apikey_cache_table_t {
    apikey_segment_header_t h;
    apr_uint32_t nservers;
    apr_uint32_t pad32;
    apr_uint64_t pad[2]; /* the header fills one cache line */
};

/* The layout is part of the contract with children already running it:
 * fail the build if it drifts. */
typedef char slot_is_1k[sizeof(slot_t) == APIKEY_CACHE_SLOT_SIZE ? 1 : -1];
typedef char header_is_a_line[sizeof(apikey_cache_table_t) == 64 ? 1 : -1];

static server_state_t *servers(apikey_cache_table_t *t)
{
    return (server_state_t *)(t + 1);
}

static slot_t *bucket(apikey_cache_table_t *t, apr_uint64_t scope,
                      const char *digest)
{
    unsigned char in[sizeof(scope) + APIKEY_DIGEST_HEX_LEN];
    apr_uint64_t h;
    slot_t *slots = (slot_t *)(servers(t) + t->nservers);

    memcpy(in, &scope, sizeof(scope));
    memcpy(in + sizeof(scope), digest, APIKEY_DIGEST_HEX_LEN);
    h = apr_siphash24(in, sizeof(in), t->h.seed);
    return slots + (h % t->h.nslots) * APIKEY_CACHE_WAYS;
}

static apr_uint32_t buckets_for(unsigned nslots)
{
    apr_size_t b =
        ((apr_size_t)nslots + APIKEY_CACHE_WAYS - 1) / APIKEY_CACHE_WAYS;

    return b ? (apr_uint32_t)b : 1;
}

apr_size_t apikey_cache_table_size(unsigned nslots, unsigned nservers)
{
    apr_size_t buckets = buckets_for(nslots);

    return sizeof(apikey_cache_table_t) + nservers * sizeof(server_state_t)
           + buckets * APIKEY_CACHE_WAYS * sizeof(slot_t);
}

apikey_cache_table_t *
apikey_cache_table_init(void *mem, apr_size_t size, unsigned nslots,
                        unsigned nservers,
                        const unsigned char seed[APIKEY_CACHE_SEED_LEN])
{
    apikey_cache_table_t *t = mem;

    if (size < apikey_cache_table_size(nslots, nservers)) {
        return NULL;
    }
    /* Made anew at every restart (from pconf): never adopted. */
    apikey_segment_init(mem, size, TABLE_MAGIC, buckets_for(nslots),
                        APIKEY_CACHE_WAYS * sizeof(slot_t), seed, 0);
    t->nservers = nservers;
    t->h.word = 1; /* the generation */
    return t;
}

apikey_cache_answer_t apikey_cache_table_get(apikey_cache_table_t *t,
                                             apr_uint64_t scope,
                                             const char *digest,
                                             apr_int64_t now, char *data,
                                             apr_size_t *len)
{
    apr_uint32_t gen =
        (apr_uint32_t)__atomic_load_n(&t->h.word, __ATOMIC_ACQUIRE);
    slot_t *s = bucket(t, scope, digest);
    int w;

    for (w = 0; w < APIKEY_CACHE_WAYS; w++, s++) {
        apr_uint64_t seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), seq2;
        apr_int64_t expires;
        apr_uint32_t sgen;
        apr_uint16_t n;
        int negative;

        if (seq1 & 1) {
            continue;
        }
        /* Everything read between the two loads of seq is kept only if seq
         * did not move: a torn copy is never used. */
        if (s->scope != scope
            || memcmp(s->digest, digest, APIKEY_DIGEST_HEX_LEN)) {
            continue;
        }
        expires = s->expires;
        sgen = s->generation;
        negative = s->negative;
        n = s->len;
        if (n > APIKEY_CACHE_DATA_MAX) {
            continue;
        }
        memcpy(data, s->data, n);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        seq2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (seq1 != seq2 || sgen != gen || now >= expires) {
            return APIKEY_CACHE_MISS;
        }
        *len = n;
        return negative ? APIKEY_CACHE_NEGATIVE : APIKEY_CACHE_HIT;
    }
    return APIKEY_CACHE_MISS;
}

/* Picks the slot of a bucket to (over)write: the key's own, a free, stale or
 * expired one, else the entry that expires first; negatives go first and a
 * negative entry never displaces a live positive one.  Busy slots (odd
 * sequence: being written, or left so by a writer killed mid-write) are
 * never picked, so a dead writer costs its one slot, not the bucket.
 * Reads are racy: the choice is a hint, the write itself is claimed by
 * compare-and-swap. */
static int busy(slot_t *s)
{
    return (int)(__atomic_load_n(&s->seq, __ATOMIC_RELAXED) & 1);
}

static slot_t *victim(slot_t *b, apr_uint64_t scope, const char *digest,
                      apr_uint32_t gen, apr_int64_t now, int negative)
{
    slot_t *best = NULL;
    int w, best_neg = 0;

    for (w = 0; w < APIKEY_CACHE_WAYS; w++) {
        slot_t *s = b + w;

        if (s->scope == scope
            && !memcmp(s->digest, digest, APIKEY_DIGEST_HEX_LEN)) {
            return s;
        }
    }
    for (w = 0; w < APIKEY_CACHE_WAYS; w++) {
        slot_t *s = b + w;

        if (busy(s)) {
            continue;
        }
        if (s->expires == 0 || s->generation != gen || now >= s->expires) {
            return s;
        }
    }
    for (w = 0; w < APIKEY_CACHE_WAYS; w++) {
        slot_t *s = b + w;
        int s_neg = s->negative;

        if (busy(s)) {
            continue;
        }
        if (negative && !s_neg) {
            continue;
        }
        if (!best || (s_neg && !best_neg)
            || (s_neg == best_neg && s->expires < best->expires)) {
            best = s;
            best_neg = s_neg;
        }
    }
    return best;
}

apr_uint32_t apikey_cache_table_generation(apikey_cache_table_t *t)
{
    return (apr_uint32_t)__atomic_load_n(&t->h.word, __ATOMIC_ACQUIRE);
}

int apikey_cache_table_put(apikey_cache_table_t *t, apr_uint64_t scope,
                           const char *digest, apr_uint32_t gen,
                           apr_int64_t now, apr_int64_t expires,
                           const char *data, apr_size_t len, int negative)
{
    slot_t *s;
    apr_uint64_t seq;

    if (len > APIKEY_CACHE_DATA_MAX || (negative && len)) {
        return 0;
    }
    s = victim(bucket(t, scope, digest), scope, digest, gen, now, negative);
    if (!s) {
        return 0;
    }
    seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    /* Odd: another writer has it (or died holding it; the slot then stays
     * unused until the next restart, costing one slot, never a wrong
     * answer). */
    if ((seq & 1)
        || !__atomic_compare_exchange_n(&s->seq, &seq, seq + 1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        return 0;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->scope = scope;
    memcpy(s->digest, digest, APIKEY_DIGEST_HEX_LEN);
    s->generation = gen;
    s->expires = expires;
    s->negative = negative ? 1 : 0;
    s->len = (apr_uint16_t)len;
    if (len) {
        memcpy(s->data, data, len);
    }
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
    return 1;
}

void apikey_cache_table_invalidate(apikey_cache_table_t *t)
{
    __atomic_add_fetch(&t->h.word, 1, __ATOMIC_ACQ_REL);
}

void apikey_cache_table_mark_used(apikey_cache_table_t *t, unsigned server)
{
    if (server < t->nservers
        && !__atomic_load_n(&servers(t)[server].used, __ATOMIC_RELAXED)) {
        __atomic_store_n(&servers(t)[server].used, 1, __ATOMIC_RELAXED);
    }
}

int apikey_cache_table_used(apikey_cache_table_t *t, unsigned server)
{
    return server < t->nservers
           && __atomic_load_n(&servers(t)[server].used, __ATOMIC_RELAXED);
}

int apikey_cache_table_marker(apikey_cache_table_t *t, unsigned server,
                              apr_int64_t marker)
{
    server_state_t *st;

    if (server >= t->nservers) {
        return 0;
    }
    st = &servers(t)[server];
    /* One poller at a time (a watchdog singleton): plain stores suffice;
     * the atomics only keep the compiler honest. */
    if (__atomic_load_n(&st->have_marker, __ATOMIC_ACQUIRE)
        && __atomic_load_n(&st->marker, __ATOMIC_RELAXED) == marker) {
        return 0;
    }
    __atomic_store_n(&st->marker, marker, __ATOMIC_RELAXED);
    __atomic_store_n(&st->have_marker, 1, __ATOMIC_RELEASE);
    return 1;
}
