/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The failure table (see apikey_failure_table.h).
 *
 * A slot is one word: the top 24 bits tag the client (from a keyed hash of
 * its address, never 0), the low 40 bits hold its GCRA theoretical arrival
 * time in milliseconds since BASE_US, 0 for "no failures owed".  A word
 * whose time has passed owes nothing: any client may take it over without
 * losing anything, so the table needs no expiry sweep.  Two clients whose
 * tags and slots collide share one budget, which only makes the limit
 * stricter for them.
 *
 * The header's word is the latest time any slot was given (milliseconds,
 * as in a slot).  While it has passed no client can be blocked, and the
 * check every request makes is one read of it: no hash, no probe.  It
 * never goes down: a clock set ahead by mistake and put right keeps every
 * check on the slots (the answer the same, only slower) until that time
 * comes, and a busy server with failures within the last burst window
 * checks the slots anyway. */

#include "apikey_failure_table.h"
#include "apikey_segment.h"

#include <string.h>

#include "apr_siphash.h"

/* "APKFAIL2": v2 keeps the latest time in the header's word. */
#define TABLE_MAGIC APR_UINT64_C(0x41504b4641494c32)
/* 2024-01-01T00:00:00Z: 40 bits of milliseconds from here last to 2058. */
#define BASE_US   (1704067200LL * 1000000LL)
#define TIME_BITS 40
#define TIME_MASK ((APR_UINT64_C(1) << TIME_BITS) - 1)

struct apikey_failure_table_t {
    apikey_segment_header_t h; /* slots of one word; h.word: the latest */
    apr_uint64_t pad[3];
};

typedef char header_is_64[sizeof(struct apikey_failure_table_t) == 64 ? 1 : -1];

static apr_uint64_t *slots(apikey_failure_table_t *t)
{
    return (apr_uint64_t *)(t + 1);
}

apr_size_t apikey_failure_table_size(unsigned nslots)
{
    return sizeof(apikey_failure_table_t)
           + (apr_size_t)nslots * sizeof(apr_uint64_t);
}

apikey_failure_table_t *
apikey_failure_table_init(void *mem, apr_size_t size, unsigned nslots,
                          const unsigned char seed[APIKEY_FAILURE_SEED_LEN],
                          int *adopted)
{
    if (nslots == 0 || size < apikey_failure_table_size(nslots)) {
        return NULL;
    }
    *adopted = apikey_segment_init(mem, size, TABLE_MAGIC, nslots,
                                   sizeof(apr_uint64_t), seed, 1);
    return mem;
}

/* A word's time in microseconds since the epoch (0: owes nothing). */
static long long word_time(apr_uint64_t w)
{
    apr_uint64_t ms = w & TIME_MASK;

    return ms ? BASE_US + (long long)ms * 1000 : 0;
}

/* The word of tag at time us, rounded up to the next millisecond (a
 * client never gets a fraction of a failure back early). */
static apr_uint64_t make_word(apr_uint64_t tag, long long us)
{
    long long ms = us > BASE_US ? (us - BASE_US + 999) / 1000 : 1;

    if ((apr_uint64_t)ms > TIME_MASK) {
        ms = (long long)TIME_MASK;
    }
    return tag << TIME_BITS | (apr_uint64_t)ms;
}

/* The GCRA time a word stands for at now.  A time further ahead than a
 * whole burst can put it means the clock went back: the client stays
 * blocked for one burst, no longer. */
static long long effective_tat(apr_uint64_t w, const apikey_rate_t *rate,
                               long long now)
{
    long long tat = word_time(w);
    long long most = now + rate->interval_us * rate->burst;

    return tat > most ? most : tat;
}

typedef struct {
    apr_uint64_t tag;
    unsigned first;
} where_t;

static where_t locate(apikey_failure_table_t *t, const void *addr,
                      apr_size_t len)
{
    apr_uint64_t h = apr_siphash24(addr, len, t->h.seed);
    where_t w;

    w.tag = h >> TIME_BITS;
    if (!w.tag) {
        w.tag = 1;
    }
    w.first = (unsigned)((h & TIME_MASK) % t->h.nslots);
    return w;
}

static apr_uint64_t *slot(apikey_failure_table_t *t, const where_t *w,
                          unsigned i)
{
    return &slots(t)[(w->first + i) % t->h.nslots];
}

static apr_uint64_t load(apr_uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* The client's slot, or NULL when it has none. */
static apr_uint64_t *find(apikey_failure_table_t *t, const where_t *w)
{
    unsigned i;

    for (i = 0; i < APIKEY_FAILURE_PROBES && i < t->h.nslots; i++) {
        apr_uint64_t *p = slot(t, w, i);

        if (load(p) >> TIME_BITS == w->tag) {
            return p;
        }
    }
    return NULL;
}

/* A slot to take for a client that has none: a free one or one that owes
 * nothing, else the one whose debt ends first. */
static apr_uint64_t *victim(apikey_failure_table_t *t, const where_t *w,
                            long long now)
{
    apr_uint64_t *best = NULL;
    long long best_time = 0;
    unsigned i;

    for (i = 0; i < APIKEY_FAILURE_PROBES && i < t->h.nslots; i++) {
        apr_uint64_t *p = slot(t, w, i);
        long long tt = word_time(load(p));

        if (tt <= now) {
            return p;
        }
        if (!best || tt < best_time) {
            best = p;
            best_time = tt;
        }
    }
    return best;
}

/* Raises the latest time to that of word w.  Done before w is written:
 * a process that reads w's debt has the latest time that covers it. */
static void raise_latest(apikey_failure_table_t *t, apr_uint64_t w)
{
    apr_uint64_t ms = w & TIME_MASK;
    apr_uint64_t cur = load(&t->h.word);

    while (cur < ms
           && !__atomic_compare_exchange_n(
               &t->h.word, &cur, ms, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
}

int apikey_failure_table_blocked(apikey_failure_table_t *t, const void *addr,
                                 apr_size_t len, const apikey_rate_t *rate,
                                 long long now, long long *retry_us)
{
    where_t w;
    apr_uint64_t *p;
    long long new_tat, remaining, reset;

    *retry_us = 0;
    /* A client is blocked only while its time is ahead of now. */
    if (word_time(load(&t->h.word)) <= now) {
        return 0;
    }
    w = locate(t, addr, len);
    if (!(p = find(t, &w))) {
        return 0;
    }
    return !apikey_gcra(effective_tat(load(p), rate, now), now, rate, &new_tat,
                        &remaining, retry_us, &reset);
}

long long apikey_failure_table_record(apikey_failure_table_t *t,
                                      const void *addr, apr_size_t len,
                                      const apikey_rate_t *rate, long long now)
{
    where_t w = locate(t, addr, len);
    long long new_tat, remaining, retry, reset;
    int tries;

    /* Each lap loses a race to another process that changed the word; a
     * handful of laps settles any real contention. */
    for (tries = 0; tries < 64; tries++) {
        apr_uint64_t *p = find(t, &w);
        apr_uint64_t old, tat_word;
        long long tat = 0;

        if (p) {
            old = load(p);
            if (old >> TIME_BITS != w.tag) {
                continue; /* taken over meanwhile */
            }
            tat = effective_tat(old, rate, now);
        }
        else {
            p = victim(t, &w, now);
            old = load(p);
            if (old >> TIME_BITS == w.tag) {
                continue; /* our own, claimed meanwhile */
            }
        }
        if (!apikey_gcra(tat, now, rate, &new_tat, &remaining, &retry,
                         &reset)) {
            return -1;
        }
        tat_word = make_word(w.tag, new_tat);
        raise_latest(t, tat_word);
        if (__atomic_compare_exchange_n(p, &old, tat_word, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            return remaining;
        }
    }
    return -1; /* not counted: unreachable but for pathological contention */
}
