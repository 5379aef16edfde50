/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The limit table's slots (see apikey_slot.h): whose a slot is, and the
 * slot of a key, found, claimed or taken over.  The layer under both the
 * charges (apikey_limit_table.c) and the leases (apikey_lease.c), which
 * depends on neither. */

#include "apikey_slot.h"

#include <string.h>

#include "apr_siphash.h"

/* The owner word of a key: 56 bits of a hash of its store, its look-up
 * statement and its id, and a check byte, so that a corrupted word is
 * recognised as such. */
static apr_uint64_t owner_word(apikey_limit_table_t *t,
                               const apikey_slot_key_t *key)
{
    size_t n = strlen(key->id);
    unsigned char buf[8 + 120];
    apr_uint64_t h, c;

    memcpy(buf, &key->store, 4);
    memcpy(buf + 4, &key->query, 4);
    if (n <= sizeof(buf) - 8) {
        memcpy(buf + 8, key->id, n);
        h = apr_siphash24(buf, 8 + n, t->h.seed);
    }
    else {
        /* A long id: its own hash stands in for it. */
        h = apr_siphash24(key->id, n, t->h.seed);
        memcpy(buf + 8, &h, 8);
        h = apr_siphash24(buf, 16, t->h.seed);
    }
    h >>= 8;
    c = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24) ^ (h >> 32) ^ (h >> 40)
         ^ (h >> 48) ^ 0xa5)
        & 0xff;
    return (c << 56) | h | APR_UINT64_C(0x0100000000000000) * (c == 0);
}

/* Whether a slot's windows have all expired, it holds no units of a
 * cluster-wide quota, and it has been left alone long enough to give it to
 * another key. */
static int idle(apikey_limit_table_t *t, slot_t *s, long long now)
{
    apr_int64_t tat = (apr_int64_t)load((apr_uint64_t *)&s->tat);
    apr_int64_t last = (apr_int64_t)load((apr_uint64_t *)&s->last_used);
    apr_uint64_t q = load(&s->quota);
    int quota_over =
        APIKEY_QUOTA_COUNT(q) == 0 || period_over(APIKEY_QUOTA_PERIOD(q), now);
    lease_t *ls = lease_of(t, s);

    if (!(tat <= now && quota_over && now - last >= APIKEY_QUOTA_REUSE_AFTER)) {
        return 0;
    }
    if (ls) {
        apr_uint64_t l = load(&ls->lease), o = load(&ls->owed),
                     d = load(&ls->dry);

        /* Units held or owed, or a key the store just refused (its answer
         * is still here): not to be given away. */
        if ((APIKEY_QUOTA_COUNT(l) && !period_over(APIKEY_QUOTA_PERIOD(l), now))
            || (APIKEY_QUOTA_COUNT(o)
                && !period_over(APIKEY_QUOTA_PERIOD(o), now))
            || (d && !period_over(APIKEY_QUOTA_PERIOD(d), now))) {
            return 0;
        }
    }
    return 1;
}

/* Forgets a former key's lease (ls may be NULL: no leases), the store
 * first: the sync gives nothing back under a lease without one, nor does
 * the status page show its name.  (A slot taken over when idle holds no
 * units of a current period; one reset for being scribbled over loses
 * them, as it loses its counts.) */
static void lease_clear(lease_t *ls)
{
    if (!ls) {
        return;
    }
    __atomic_store_n(&ls->store, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->lease, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->dry, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->owed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->claimed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->synced, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->lease_size, 0, __ATOMIC_RELEASE);
    ls->id[0] = '\0';
}

/* The key's slot: found along its probe sequence, else the first free one
 * claimed, else a corrupt or idle one taken over.  NULL when all are busy.
 * *reset is set when a corrupt slot was taken (its counts are gone). */
static slot_t *find_slot(apikey_limit_table_t *t, apr_uint64_t me,
                         long long now, int *reset)
{
    slot_t *base = slots(t), *reuse = NULL;
    unsigned i, start = (unsigned)((me & 0xffffffffffffff) % t->h.nslots);

    for (i = 0; i < APIKEY_QUOTA_PROBES && i < t->h.nslots; i++) {
        slot_t *s = base + (start + i) % t->h.nslots;
        apr_uint64_t w = load(&s->owner);

        if (w == me) {
            return s;
        }
        if (w == 0) {
            /* Slots are never freed, only taken over: past a free slot the
             * key cannot be.  Claim it (another may beat us to it: that one
             * may even be for our key). */
            if (cas(&s->owner, &w, me)) {
                __atomic_add_fetch(&t->used, 1, __ATOMIC_RELAXED);
                return s;
            }
            if (w == me) {
                return s;
            }
            continue;
        }
        if (!owner_valid(w)) {
            /* Scribbled over: whoever it was cannot be told; it is reset
             * and given to us, and the caller logs it. */
            __atomic_store_n(&s->quota, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&s->tat, 0, __ATOMIC_RELEASE);
            lease_clear(lease_of(t, s));
            if (cas(&s->owner, &w, me) || w == me) {
                *reset = 1;
                return s;
            }
            continue;
        }
        if (!reuse && idle(t, s, now)) {
            reuse = s;
        }
    }
    if (reuse) {
        apr_uint64_t w = load(&reuse->owner);

        /* Nothing to zero: an idle slot's TAT is in the past and its quota
         * and lease words are of an old period, which a charge reads as
         * unused.  A
         * loser of the race may find the slot taken for its own key. */
        if (w == me) {
            return reuse;
        }
        if (idle(t, reuse, now) && cas(&reuse->owner, &w, me)) {
            /* The old key's lease bookkeeping is not ours. */
            lease_clear(lease_of(t, reuse));
            return reuse;
        }
        if (load(&reuse->owner) == me) {
            return reuse;
        }
    }
    /* Before failing: another request of the same key may have claimed a
     * slot while this one looked (a slot stops looking idle once charged). */
    for (i = 0; i < APIKEY_QUOTA_PROBES && i < t->h.nslots; i++) {
        slot_t *s = base + (start + i) % t->h.nslots;

        if (load(&s->owner) == me) {
            return s;
        }
    }
    return NULL;
}

slot_t *apikey_slot_held(apikey_limit_table_t *t, const apikey_slot_key_t *key)
{
    slot_t *base = slots(t);
    apr_uint64_t me = owner_word(t, key);
    unsigned i, start = (unsigned)((me & 0xffffffffffffff) % t->h.nslots);

    for (i = 0; i < APIKEY_QUOTA_PROBES && i < t->h.nslots; i++) {
        slot_t *s = base + (start + i) % t->h.nslots;
        apr_uint64_t w = load(&s->owner);

        if (w == me) {
            return s;
        }
        if (w == 0) {
            return NULL; /* past a free slot the key cannot be */
        }
    }
    return NULL;
}

slot_t *apikey_slot_of(apikey_limit_table_t *t, const apikey_slot_key_t *key,
                       long long now, int *reset)
{
    return find_slot(t, owner_word(t, key), now, reset);
}
