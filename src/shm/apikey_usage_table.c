/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage table (see apikey_usage_table.h).
 *
 * An entry is free (0), being claimed (1) or in use (2).  A claim writes
 * the key into a free entry it won by compare-and-swap and then marks it
 * in use; a reader that finds an entry being claimed waits a little for
 * it, then probes on (a child that died mid-claim leaves it so for good).
 * The same key in two entries (a probe that gave up waiting) is harmless:
 * the sync writes each entry's counts as additions to the store's rows.
 *
 * A day's counts live in the half of the entry of the day's parity,
 * tagged with the day.  The first request of a new day moves the tag
 * forward; what that half held (the day before yesterday's) was taken by
 * the sync long before, unless the store failed for a day, when it is
 * counted into the new day: nothing is lost, a day may be wrong. */

#include "apikey_usage_table.h"

#include <stddef.h>
#include <string.h>

#include "apr_atomic.h"

#define MAGIC    0x55534731U /* "USG1" */
#define FREE     0U
#define CLAIMING 1U
#define IN_USE   2U
/* Reads of an entry being claimed before the probe moves on. */
#define CLAIM_WAIT 10000

typedef struct {
    volatile apr_uint32_t state;
    apr_uint32_t store, query, unused;
    char id[72]; /* APIKEY_USAGE_ID_MAX + 1, rounded up */
    volatile apr_uint64_t last_used;
    volatile apr_uint64_t day[2];
    volatile apr_uint64_t admitted[2], refused[2];
    volatile apr_uint64_t total_admitted, total_refused;
    char pad[32]; /* 192 bytes: three cache lines of their own */
} entry_t;

struct apikey_usage_table_t {
    apr_uint32_t magic, nslots;
    volatile apr_uint32_t used;
    apr_uint32_t unused;
    volatile apr_uint64_t dropped;
    char pad[40];
    entry_t entry[1];
};

apr_size_t apikey_usage_table_size(unsigned nslots)
{
    return offsetof(apikey_usage_table_t, entry)
           + (apr_size_t)(nslots ? nslots : 1) * sizeof(entry_t);
}

apikey_usage_table_t *apikey_usage_table_init(void *mem, apr_size_t size,
                                              unsigned nslots)
{
    apikey_usage_table_t *t = mem;

    if (!mem || !nslots || size < apikey_usage_table_size(nslots)) {
        return NULL;
    }
    /* Not cleared: the memory is fresh (zeroed by the kernel), and pages
     * of entries never claimed are never touched. */
    t->nslots = nslots;
    t->magic = MAGIC;
    return t;
}

static apr_uint32_t hash(apr_uint32_t store, apr_uint32_t query, const char *id)
{
    apr_uint32_t h = 2166136261U ^ store;

    h = (h * 16777619U) ^ query;
    for (; *id; id++) {
        h = (h ^ (unsigned char)*id) * 16777619U;
    }
    return h;
}

static int same(const entry_t *e, apr_uint32_t store, apr_uint32_t query,
                const char *id)
{
    return e->store == store && e->query == query && !strcmp(e->id, id);
}

/* The entry of the key, claimed when it has none; NULL when full. */
static entry_t *find(apikey_usage_table_t *t, apr_uint32_t store,
                     apr_uint32_t query, const char *id)
{
    unsigned n = t->nslots, start = hash(store, query, id) % n, k;

    for (k = 0; k < n; k++) {
        entry_t *e = &t->entry[(start + k) % n];
        apr_uint32_t s = apr_atomic_read32(&e->state);
        int wait;

        if (s == FREE) {
            s = apr_atomic_cas32(&e->state, CLAIMING, FREE);
            if (s == FREE) {
                e->store = store;
                e->query = query;
                strcpy(e->id, id);
                apr_atomic_inc32(&t->used);
                /* The key written before anyone reads it as in use (the
                 * atomic is a full barrier). */
                apr_atomic_set32(&e->state, IN_USE);
                return e;
            }
        }
        for (wait = 0; s == CLAIMING && wait < CLAIM_WAIT; wait++) {
            s = apr_atomic_read32(&e->state);
        }
        if (s == IN_USE && same(e, store, query, id)) {
            return e;
        }
    }
    return NULL;
}

int apikey_usage_table_count(apikey_usage_table_t *t, apr_uint32_t store,
                             apr_uint32_t query, const char *id, long long now,
                             int admitted)
{
    apr_uint64_t day = (apr_uint64_t)(now / 86400), tag, last;
    entry_t *e;
    int half = (int)(day & 1);

    if (strlen(id) > APIKEY_USAGE_ID_MAX || !(e = find(t, store, query, id))) {
        apr_atomic_inc64(&t->dropped);
        return -1;
    }
    tag = apr_atomic_read64(&e->day[half]);
    if (tag < day) {
        apr_atomic_cas64(&e->day[half], day, tag);
    }
    if (admitted) {
        apr_atomic_inc64(&e->admitted[half]);
        apr_atomic_inc64(&e->total_admitted);
    }
    else {
        apr_atomic_inc64(&e->refused[half]);
        apr_atomic_inc64(&e->total_refused);
    }
    for (last = apr_atomic_read64(&e->last_used); last < (apr_uint64_t)now;) {
        apr_uint64_t was =
            apr_atomic_cas64(&e->last_used, (apr_uint64_t)now, last);

        if (was == last) {
            break;
        }
        last = was;
    }
    return 0;
}

unsigned apikey_usage_table_slots(const apikey_usage_table_t *t)
{
    return t->nslots;
}

int apikey_usage_table_take(apikey_usage_table_t *t, unsigned i, int half,
                            apikey_usage_take_t *out)
{
    entry_t *e = &t->entry[i];
    long long last, end;

    memset(out, 0, sizeof(*out));
    if (i >= t->nslots || apr_atomic_read32(&e->state) != IN_USE) {
        return 0;
    }
    out->admitted = apr_atomic_xchg64(&e->admitted[half], 0);
    out->refused = apr_atomic_xchg64(&e->refused[half], 0);
    /* After the counts: a request tags its day before it counts, so what
     * was taken is of this day (or of days the sync failed to write). */
    out->day = (long long)apr_atomic_read64(&e->day[half]);
    if (!out->admitted && !out->refused) {
        return 0;
    }
    out->store = e->store;
    out->query = e->query;
    memcpy(out->id, e->id, sizeof(out->id));
    out->id[APIKEY_USAGE_ID_MAX] = '\0';
    /* The last use as far as this day goes. */
    last = (long long)apr_atomic_read64(&e->last_used);
    end = (out->day + 1) * 86400 - 1;
    out->last_used = last > end ? end : last;
    return 1;
}

void apikey_usage_table_restore(apikey_usage_table_t *t, unsigned i, int half,
                                const apikey_usage_take_t *taken)
{
    entry_t *e = &t->entry[i];

    if (i >= t->nslots) {
        return;
    }
    apr_atomic_add64(&e->admitted[half], taken->admitted);
    apr_atomic_add64(&e->refused[half], taken->refused);
}

apr_uint64_t apikey_usage_table_dropped(const apikey_usage_table_t *t)
{
    return apr_atomic_read64(&((apikey_usage_table_t *)t)->dropped);
}

unsigned apikey_usage_table_used(const apikey_usage_table_t *t)
{
    return apr_atomic_read32(&((apikey_usage_table_t *)t)->used);
}

int apikey_usage_table_entry(const apikey_usage_table_t *t, unsigned i,
                             apr_uint32_t *store, apr_uint32_t *query,
                             char id[APIKEY_USAGE_ID_MAX + 1],
                             apr_uint64_t *admitted, apr_uint64_t *refused,
                             long long *last_used)
{
    entry_t *e = (entry_t *)&t->entry[i];

    if (i >= t->nslots || apr_atomic_read32(&e->state) != IN_USE) {
        return 0;
    }
    *store = e->store;
    *query = e->query;
    memcpy(id, e->id, APIKEY_USAGE_ID_MAX + 1);
    id[APIKEY_USAGE_ID_MAX] = '\0';
    *admitted = apr_atomic_read64(&e->total_admitted);
    *refused = apr_atomic_read64(&e->total_refused);
    *last_used = (long long)apr_atomic_read64(&e->last_used);
    return 1;
}
