/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The look-up cache's table (see apikey_cache_table.h).  Shared-memory
 * ordering uses the compiler's __atomic builtins (GCC and clang). */

#include "apikey_cache_table.h"
#include "apikey_segment.h"

#include <string.h>

#include "apikey_siphash.h"

#define TABLE_MAGIC APR_UINT64_C(0x41504b4341434832) /* "APKCACH2" */

typedef struct {
    apr_uint64_t seq;        /* even: stable; odd: a writer is filling it */
    apikey_cache_tag_t tag;  /* whose entry */
    apr_int64_t expires;     /* entry valid while now < expires; 0: empty */
    apr_uint32_t generation; /* the table's generation when stored */
    apr_uint16_t len;
    unsigned char negative;
    unsigned char strict; /* the key passed the checksum format's check */
    char data[];          /* to the end of the slot */
} slot_t;

typedef struct {
    apr_uint64_t used;
    apr_int64_t marker;
    apr_uint64_t have_marker;
    apr_uint64_t unused;
} server_state_t;

/* The header's slots are buckets (of APIKEY_CACHE_WAYS slots) of the
 * small region, its word the generation; the large region's buckets
 * follow them. */
struct apikey_cache_table_t {
    apikey_segment_header_t h;
    apr_uint32_t nservers;
    apr_uint32_t nlarge; /* buckets of large slots */
    apr_uint64_t pad[2]; /* the header fills one cache line */
};

/* The layout is part of the contract with children already running it:
 * fail the build if it drifts. */
typedef char
    slot_header_is_40[sizeof(slot_t) == APIKEY_CACHE_SLOT_HEADER ? 1 : -1];
typedef char header_is_a_line[sizeof(apikey_cache_table_t) == 64 ? 1 : -1];

/* One region: where its slots start, how many buckets, how big a slot. */
typedef struct {
    char *base;
    apr_uint32_t nbuckets;
    apr_size_t slot_size;
} region_t;

static server_state_t *servers(apikey_cache_table_t *t)
{
    return (server_state_t *)(t + 1);
}

static region_t region(apikey_cache_table_t *t, int large)
{
    region_t g;

    g.base = (char *)(servers(t) + t->nservers);
    g.nbuckets = t->h.nslots;
    g.slot_size = APIKEY_CACHE_SLOT_SIZE;
    if (large) {
        g.base += (apr_size_t)t->h.nslots * APIKEY_CACHE_WAYS
                  * APIKEY_CACHE_SLOT_SIZE;
        g.nbuckets = t->nlarge;
        g.slot_size = APIKEY_CACHE_LARGE_SLOT_SIZE;
    }
    return g;
}

static slot_t *next_way(const region_t *g, slot_t *s)
{
    return (slot_t *)((char *)s + g->slot_size);
}

static slot_t *bucket(const region_t *g, const apikey_cache_tag_t *tag)
{
    return (slot_t *)(g->base
                      + (apr_size_t)(tag->w[0] % g->nbuckets)
                            * APIKEY_CACHE_WAYS * g->slot_size);
}

static int same_tag(const slot_t *s, const apikey_cache_tag_t *tag)
{
    return ((s->tag.w[0] ^ tag->w[0]) | (s->tag.w[1] ^ tag->w[1])) == 0;
}

static apr_uint32_t buckets_for(unsigned nslots)
{
    apr_size_t b =
        ((apr_size_t)nslots + APIKEY_CACHE_WAYS - 1) / APIKEY_CACHE_WAYS;

    return b ? (apr_uint32_t)b : 1;
}

static apr_uint32_t large_buckets_for(unsigned nslots)
{
    return buckets_for(nslots / APIKEY_CACHE_LARGE_SHARE);
}

apr_size_t apikey_cache_table_size(unsigned nslots, unsigned nservers)
{
    return sizeof(apikey_cache_table_t) + nservers * sizeof(server_state_t)
           + (apr_size_t)buckets_for(nslots) * APIKEY_CACHE_WAYS
                 * APIKEY_CACHE_SLOT_SIZE
           + (apr_size_t)large_buckets_for(nslots) * APIKEY_CACHE_WAYS
                 * APIKEY_CACHE_LARGE_SLOT_SIZE;
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
                        APIKEY_CACHE_WAYS * APIKEY_CACHE_SLOT_SIZE, seed, 0);
    t->nservers = nservers;
    t->nlarge = large_buckets_for(nslots);
    t->h.word = 1; /* the generation */
    return t;
}

void apikey_cache_table_tag(const apikey_cache_table_t *t, apr_uint64_t scope,
                            const char *key, apr_size_t len,
                            apikey_cache_tag_t *tag)
{
    unsigned char in[8 + APIKEY_KEY_LEGACY_MAX];
    int i;

    /* Callers never pass a longer key (no format takes one); were one
     * passed, it is cut rather than overrun the buffer. */
    if (len > APIKEY_KEY_LEGACY_MAX) {
        len = APIKEY_KEY_LEGACY_MAX;
    }
    for (i = 0; i < 8; i++) {
        in[i] = (unsigned char)(scope >> (8 * i));
    }
    memcpy(in + 8, key, len);
    apikey_siphash128(t->h.seed, in, 8 + len, tag->w);
}

/* An entry of tag in one region, if it is there and still good. */
static apikey_cache_answer_t find(const region_t *g,
                                  const apikey_cache_tag_t *tag,
                                  apr_uint32_t gen, apr_int64_t now, char *data,
                                  apr_size_t *len, int *strict)
{
    slot_t *s = bucket(g, tag);
    apr_size_t max = g->slot_size - sizeof(slot_t);
    int w;

    for (w = 0; w < APIKEY_CACHE_WAYS; w++, s = next_way(g, s)) {
        apr_uint64_t seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), seq2;
        apr_int64_t expires;
        apr_uint32_t sgen;
        apr_uint16_t n;
        int negative, sstrict;

        if (seq1 & 1) {
            continue;
        }
        /* Everything read between the two loads of seq is kept only if seq
         * did not move: a torn copy is never used. */
        if (!same_tag(s, tag)) {
            continue;
        }
        expires = s->expires;
        sgen = s->generation;
        negative = s->negative;
        sstrict = s->strict;
        n = s->len;
        if (n > max) {
            continue;
        }
        memcpy(data, s->data, n);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        seq2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (seq1 != seq2 || sgen != gen || now >= expires) {
            return APIKEY_CACHE_MISS;
        }
        *len = n;
        *strict = sstrict;
        return negative ? APIKEY_CACHE_NEGATIVE : APIKEY_CACHE_HIT;
    }
    return APIKEY_CACHE_MISS;
}

apikey_cache_answer_t apikey_cache_table_lookup(apikey_cache_table_t *t,
                                                const apikey_cache_tag_t *tag,
                                                apr_int64_t now, char *data,
                                                apr_size_t *len, int *strict)
{
    apr_uint32_t gen =
        (apr_uint32_t)__atomic_load_n(&t->h.word, __ATOMIC_ACQUIRE);
    region_t g = region(t, 0);
    apikey_cache_answer_t ans = find(&g, tag, gen, now, data, len, strict);

    /* A record too long for a slot is in the large region; so is a record
     * that grew, while its old entry in a slot has gone stale. */
    if (ans == APIKEY_CACHE_MISS) {
        g = region(t, 1);
        ans = find(&g, tag, gen, now, data, len, strict);
    }
    return ans;
}

apikey_cache_answer_t apikey_cache_table_get(apikey_cache_table_t *t,
                                             const apikey_cache_tag_t *tag,
                                             apr_int64_t now, char *data,
                                             apr_size_t *len)
{
    int strict;

    return apikey_cache_table_lookup(t, tag, now, data, len, &strict);
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

static slot_t *victim(const region_t *g, const apikey_cache_tag_t *tag,
                      apr_uint32_t gen, apr_int64_t now, int negative)
{
    slot_t *b = bucket(g, tag), *s, *best = NULL;
    int w, best_neg = 0;

    for (w = 0, s = b; w < APIKEY_CACHE_WAYS; w++, s = next_way(g, s)) {
        if (same_tag(s, tag)) {
            return s;
        }
    }
    for (w = 0, s = b; w < APIKEY_CACHE_WAYS; w++, s = next_way(g, s)) {
        if (busy(s)) {
            continue;
        }
        if (s->expires == 0 || s->generation != gen || now >= s->expires) {
            return s;
        }
    }
    for (w = 0, s = b; w < APIKEY_CACHE_WAYS; w++, s = next_way(g, s)) {
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

int apikey_cache_table_put(apikey_cache_table_t *t,
                           const apikey_cache_tag_t *tag, apr_uint32_t gen,
                           apr_int64_t now, apr_int64_t expires,
                           const char *data, apr_size_t len, int flags)
{
    int negative = flags & APIKEY_CACHE_FLAG_NEGATIVE;
    region_t g = region(t, len > APIKEY_CACHE_SMALL_DATA_MAX);
    slot_t *s;
    apr_uint64_t seq;

    if (len > APIKEY_CACHE_DATA_MAX || (negative && len)) {
        return 0;
    }
    s = victim(&g, tag, gen, now, negative);
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
    s->tag = *tag;
    s->generation = gen;
    s->expires = expires;
    s->negative = negative ? 1 : 0;
    s->strict = flags & APIKEY_CACHE_FLAG_STRICT ? 1 : 0;
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
        /* Ordered before the look-up that follows: the poller reads a
         * baseline marker and then this flag (apikey_refresh.c). */
        __atomic_store_n(&servers(t)[server].used, 1, __ATOMIC_SEQ_CST);
    }
}

int apikey_cache_table_used(apikey_cache_table_t *t, unsigned server)
{
    return server < t->nservers
           && __atomic_load_n(&servers(t)[server].used, __ATOMIC_SEQ_CST);
}

int apikey_cache_table_has_marker(apikey_cache_table_t *t, unsigned server)
{
    return server < t->nservers
           && __atomic_load_n(&servers(t)[server].have_marker,
                              __ATOMIC_ACQUIRE);
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
