/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The limit table's memory, under its two halves: the table and its
 * charges (apikey_limit_table.c) and the leases of cluster-wide quotas
 * (apikey_lease.c), which depend on it and it on neither: the layout of
 * slots and header, their words and the slot of a key (apikey_slot.c).
 * Private to them. */
#ifndef APIKEY_SLOT_H
#define APIKEY_SLOT_H

#include <stddef.h>
#include <string.h>

#include "apikey_limit_table.h"
#include "apikey_segment.h"

/* What the store answered a claim that got nothing. */
#define DRY_FULL 1
#define DRY_DOWN 2

/* The bytes of an id a slot keeps (with a NUL): a UUID, or any of the
 * default format's, whole. */
#define SLOT_ID_KEPT 40

/* A key's slot: 128 bytes, two cache lines.  The words a charge writes
 * come first; the rest is for the status page. */
typedef struct {
    /* The key's hash with a check byte on top; 0: free.  The one word that
     * says whose slot this is, claimed by compare-and-swap. */
    apr_uint64_t owner;
    apr_int64_t tat; /* GCRA theoretical arrival time */
    /* period | count: the quota's count; with a leased (cluster-wide)
     * quota, this server's admissions, which the lease size follows. */
    apr_uint64_t quota;
    apr_int64_t last_used;
    /* For the status page only: written racily, shown after checks. */
    apr_int64_t rate_interval;
    apr_uint32_t quota_limit;
    apr_uint32_t burst;
    /* The key's store and look-up statement (apikey_slot_key_t): the
     * owner word is a hash of them with the id; here for the status page,
     * which shows a virtual host only its own stores' keys, and the sync. */
    apr_uint32_t keystore, query;
    apr_uint32_t budget; /* apikey_slot_key_t's */
    unsigned char period;
    /* The id is longer than the slot keeps (SLOT_ID_KEPT bytes): the
     * status page marks it cut.  A leased key's lease keeps it whole. */
    unsigned char id_cut;
    char id[SLOT_ID_KEPT + 1];
    char owner_name[25];
} slot_t;

/* The lease of a key's cluster-wide quota (AuthAPIKeyQuotaStore dbd): in a
 * second array, lease i for slot i, there only when some server uses a
 * dbd quota store, so that a key counted on this server alone costs its
 * slot's 128 bytes and no more. */
typedef struct {
    /* period | units this server holds, taken one by one by
     * compare-and-swap and drained by the sync; what the store last
     * answered a claim that got nothing (period | DRY_FULL or DRY_DOWN),
     * until the next sync. */
    apr_uint64_t lease;
    apr_uint64_t dry;
    /* period | units admitted on this server's own count while the store
     * did not answer (AuthAPIKeyQuotaStore dbd fallback=local), to be
     * added to the store's count by the sync. */
    apr_uint64_t owed;
    apr_uint32_t lease_size; /* units the next claim asks for */
    apr_uint32_t claimed;    /* the cluster's claimed units, last reported */
    apr_uint32_t synced;     /* the count at the last sync (sync only) */
    /* Which store holds the quota (where the sync gives units back); 0:
     * none, the slot's quota is this server's own.  Written after the id,
     * before the first units. */
    apr_uint32_t store;
    /* Whole (the sync gives units back under it), NUL-terminated. */
    char id[APIKEY_QUOTA_ID_MAX + 1];
} lease_t;

/* The header's word is the time of the last "table full" line; used
 * counts the slots ever claimed (slots are taken over, never freed), warned
 * whether the filling warning was given.  The segment header's slot size
 * is a key's bytes: its slot's, and its lease's when the table has
 * leases (which makes the two layouts different shapes, never adopted one
 * for the other, and the flag one the header check puts back). */
struct apikey_limit_table_t {
    apikey_segment_header_t h;
    apr_uint64_t used;
    apr_uint64_t warned;
    apr_uint64_t pad;
};

typedef char slot_is_128[sizeof(slot_t) == APIKEY_QUOTA_SLOT_SIZE ? 1 : -1];
typedef char lease_is_112[sizeof(lease_t) == APIKEY_QUOTA_LEASE_SIZE ? 1 : -1];
/* t/lib/ApiKeyFault.pm reads the id at this offset (the fault tests write
 * over slots in a running httpd's memory): keep the two in step. */
typedef char id_at_62[offsetof(slot_t, id) == 62 ? 1 : -1];
/* The view's copies hold the slot's and the lease's strings whole. */
typedef char view_holds_id[sizeof(((apikey_quota_view_t *)0)->id)
                                   >= sizeof(((lease_t *)0)->id)
                               ? 1
                               : -1];
typedef char drain_holds_id[sizeof(((apikey_lease_return_t *)0)->id)
                                    == sizeof(((lease_t *)0)->id)
                                ? 1
                                : -1];
typedef char view_holds_owner[sizeof(((apikey_quota_view_t *)0)->owner)
                                      >= sizeof(((slot_t *)0)->owner_name)
                                  ? 1
                                  : -1];
typedef char header_is_64[sizeof(struct apikey_limit_table_t) == 64 ? 1 : -1];

static inline slot_t *slots(apikey_limit_table_t *t)
{
    return (slot_t *)(t + 1);
}

/* The lease of slot s, or NULL when the table has none (no server uses a
 * dbd quota store). */
static inline lease_t *lease_of(apikey_limit_table_t *t, slot_t *s)
{
    return t->h.slot_size == sizeof(slot_t) + sizeof(lease_t)
               ? (lease_t *)(slots(t) + t->h.nslots) + (s - slots(t))
               : NULL;
}

/* Whether lease l is named for the key of its slot s (the id's first
 * bytes alike): else it is a former key's, whose name a reset slot may
 * still hold for an instant, and neither shown nor given back under. */
static inline int lease_names_slot(const lease_t *l, const slot_t *s)
{
    return !strncmp(l->id, s->id, SLOT_ID_KEPT);
}

static inline apr_uint64_t load(apr_uint64_t *w)
{
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static inline unsigned long load_32(apr_uint32_t *w)
{
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static inline int cas(apr_uint64_t *w, apr_uint64_t *expected, apr_uint64_t v)
{
    return __atomic_compare_exchange_n(w, expected, v, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* The period field of a quota word: the period type in the top two bits
 * and its index below, so that a word written for another kind of period
 * (a slot taken over, a key whose quota changed from hourly to monthly)
 * reads as an old period, never as one in the future. */
#define PERIOD_TYPE(p) ((unsigned)((p) >> 30))
#define PERIOD_FIELD(type, index)                                              \
    ((unsigned long)(((unsigned long)(type) << 30) | ((index)&0x3fffffffUL)))

static inline unsigned long period_of(apikey_period_t type, long long now)
{
    return PERIOD_FIELD(type, apikey_period_index(type, now));
}

/* A quota word as seen by a quota of type: one of another type counts as
 * unused. */
static inline apr_uint64_t as_type(apr_uint64_t w, apikey_period_t type)
{
    return PERIOD_TYPE(APIKEY_QUOTA_PERIOD(w)) == (unsigned)type ? w : 0;
}

/* Whether the period field p (of a quota or lease word) is one of its
 * type before now's: its count or units belong to a period that is over. */
static inline int period_over(unsigned long p, long long now)
{
    apikey_period_t type = (apikey_period_t)PERIOD_TYPE(p);

    return type < APIKEY_PERIOD_HOUR || type > APIKEY_PERIOD_MONTH
           || p < period_of(type, now);
}

/* Whether an owner word passes its check byte (see owner_word). */
static inline int owner_valid(apr_uint64_t w)
{
    apr_uint64_t h = w & APR_UINT64_C(0x00ffffffffffffff);
    apr_uint64_t c = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24) ^ (h >> 32)
                      ^ (h >> 40) ^ (h >> 48) ^ 0xa5)
                     & 0xff;

    return (w >> 56) == (c ? c : 1);
}

/* Slot i, or NULL when i is not one of the table's (an index from the
 * status page or the sync, never trusted). */
static inline slot_t *slot_at(apikey_limit_table_t *t, unsigned i)
{
    return i < t->h.nslots ? slots(t) + i : NULL;
}

/* Slot i when a key holds it (an owner word that passes its check, in
 * *w), else NULL. */
static inline slot_t *slot_held(apikey_limit_table_t *t, unsigned i,
                                apr_uint64_t *w)
{
    slot_t *s = slot_at(t, i);

    if (!s) {
        return NULL;
    }
    *w = load(&s->owner);
    return *w && owner_valid(*w) ? s : NULL;
}

/* The slot of key: found, claimed or taken over (see find_slot); NULL
 * when the table is full.  *reset is set when a corrupt slot was taken. */
/* The key's slot when it has one, never claiming one; NULL otherwise. */
slot_t *apikey_slot_held(apikey_limit_table_t *t, const apikey_slot_key_t *key);

slot_t *apikey_slot_of(apikey_limit_table_t *t, const apikey_slot_key_t *key,
                       long long now, int *reset);

#endif /* APIKEY_SLOT_H */
