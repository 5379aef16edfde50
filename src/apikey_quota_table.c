/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements.  See the NOTICE file distributed with
 * this work for additional information regarding copyright ownership.
 * The ASF licenses this file to You under the Apache License, Version 2.0
 * (the "License"); you may not use this file except in compliance with
 * the License.  You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* The limit table (see apikey_quota_table.h). */

#include "apikey_quota_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apr_siphash.h"

#define TABLE_MAGIC APR_UINT64_C(0x41504b51554f5441) /* "APKQUOTA" */
#define FILE_MAGIC  "apikey-quota-state 2\n"

/* What the store answered a claim that got nothing. */
#define DRY_FULL 1
#define DRY_DOWN 2

typedef struct {
    /* The key's hash with a check byte on top; 0: free.  The one word that
     * says whose slot this is, claimed by compare-and-swap. */
    apr_uint64_t owner;
    apr_int64_t tat; /* GCRA theoretical arrival time */
    /* period | count: the quota's count; with a leased (cluster-wide)
     * quota, this server's admissions, which the lease size follows. */
    apr_uint64_t quota;
    apr_int64_t last_used;
    /* Leased quotas.  period | units this server holds, taken one by one
     * by compare-and-swap and drained by the sync; what the store last
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
    /* For the status page only: written racily, shown after checks. */
    apr_uint32_t quota_limit;
    apr_int64_t rate_interval;
    apr_uint32_t burst;
    /* Which store holds a leased quota (an identity of the server whose
     * DBD it is, the same across restarts); 0: the quota is this
     * server's own.  Written before the first units. */
    apr_uint32_t store;
    unsigned char period;
    /* Whole (the sync gives units back under it), NUL-terminated. */
    char id[APIKEY_QUOTA_ID_MAX + 1];
    char owner_name[38];
} slot_t;

struct apikey_quota_table_t {
    apr_uint64_t magic;
    apr_uint32_t nslots;
    apr_uint32_t slot_size;
    apr_int64_t last_full_log;
    unsigned char seed[APIKEY_QUOTA_SEED_LEN];
    apr_uint64_t pad[3];
};

typedef char slot_is_192[sizeof(slot_t) == APIKEY_QUOTA_SLOT_SIZE ? 1 : -1];
typedef char header_is_64[sizeof(struct apikey_quota_table_t) == 64 ? 1 : -1];

static slot_t *slots(apikey_quota_table_t *t)
{
    return (slot_t *)(t + 1);
}

/* The owner word of a key: 56 bits of its hash and a check byte, so that a
 * corrupted word is recognised as such. */
static apr_uint64_t owner_word(apikey_quota_table_t *t, const char *id)
{
    apr_uint64_t h = apr_siphash24(id, strlen(id), t->seed) >> 8;
    apr_uint64_t c = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24) ^ (h >> 32)
                      ^ (h >> 40) ^ (h >> 48) ^ 0xa5)
                     & 0xff;

    return (c << 56) | h | APR_UINT64_C(0x0100000000000000) * (c == 0);
}

static int owner_valid(apr_uint64_t w)
{
    apr_uint64_t h = w & APR_UINT64_C(0x00ffffffffffffff);
    apr_uint64_t c = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24) ^ (h >> 32)
                      ^ (h >> 40) ^ (h >> 48) ^ 0xa5)
                     & 0xff;

    return (w >> 56) == (c ? c : 1);
}

apr_size_t apikey_quota_table_size(unsigned nslots)
{
    return sizeof(apikey_quota_table_t) + (apr_size_t)nslots * sizeof(slot_t);
}

apikey_quota_table_t *
apikey_quota_table_init(void *mem, apr_size_t size, unsigned nslots,
                        const unsigned char seed[APIKEY_QUOTA_SEED_LEN],
                        int *adopted)
{
    apikey_quota_table_t *t = mem;

    if (nslots == 0 || size < apikey_quota_table_size(nslots)) {
        return NULL;
    }
    *adopted = t->magic == TABLE_MAGIC && t->nslots == nslots
               && t->slot_size == sizeof(slot_t);
    if (*adopted) {
        return t;
    }
    memset(mem, 0, size);
    t->nslots = nslots;
    t->slot_size = sizeof(slot_t);
    memcpy(t->seed, seed, APIKEY_QUOTA_SEED_LEN);
    __atomic_store_n(&t->magic, TABLE_MAGIC, __ATOMIC_RELEASE);
    return t;
}

unsigned apikey_quota_table_slots(apikey_quota_table_t *t)
{
    return t->nslots;
}

void apikey_quota_table_header_get(apikey_quota_table_t *t,
                                   apikey_quota_header_t *h)
{
    h->nslots = t->nslots;
    h->slot_size = t->slot_size;
    memcpy(h->seed, t->seed, APIKEY_QUOTA_SEED_LEN);
}

int apikey_quota_table_header_check(apikey_quota_table_t *t,
                                    const apikey_quota_header_t *h)
{
    int fixed = 0;

    if (__atomic_load_n(&t->nslots, __ATOMIC_RELAXED) != h->nslots) {
        __atomic_store_n(&t->nslots, h->nslots, __ATOMIC_RELAXED);
        fixed = 1;
    }
    if (__atomic_load_n(&t->slot_size, __ATOMIC_RELAXED) != h->slot_size) {
        __atomic_store_n(&t->slot_size, h->slot_size, __ATOMIC_RELAXED);
        fixed = 1;
    }
    if (memcmp(t->seed, h->seed, APIKEY_QUOTA_SEED_LEN)) {
        memcpy(t->seed, h->seed, APIKEY_QUOTA_SEED_LEN);
        fixed = 1;
    }
    if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != TABLE_MAGIC) {
        __atomic_store_n(&t->magic, TABLE_MAGIC, __ATOMIC_RELEASE);
        fixed = 1;
    }
    return fixed;
}

static apr_uint64_t load(apr_uint64_t *w)
{
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static unsigned long load_32(apr_uint32_t *w)
{
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static int cas(apr_uint64_t *w, apr_uint64_t *expected, apr_uint64_t v)
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

static unsigned long period_of(apikey_period_t type, long long now)
{
    return PERIOD_FIELD(type, apikey_period_index(type, now));
}

/* A quota word as seen by a quota of type: one of another type counts as
 * unused. */
static apr_uint64_t as_type(apr_uint64_t w, apikey_period_t type)
{
    return PERIOD_TYPE(APIKEY_QUOTA_PERIOD(w)) == (unsigned)type ? w : 0;
}

/* Whether the period field p (of a quota or lease word) is one of its
 * type before now's: its count or units belong to a period that is over. */
static int period_over(unsigned long p, long long now)
{
    apikey_period_t type = (apikey_period_t)PERIOD_TYPE(p);

    return type < APIKEY_PERIOD_HOUR || type > APIKEY_PERIOD_MONTH
           || p < period_of(type, now);
}

/* Whether a slot's windows have all expired, it holds no units of a
 * cluster-wide quota, and it has been left alone long enough to give it to
 * another key. */
static int idle(slot_t *s, long long now)
{
    apr_int64_t tat = (apr_int64_t)load((apr_uint64_t *)&s->tat);
    apr_int64_t last = (apr_int64_t)load((apr_uint64_t *)&s->last_used);
    apr_uint64_t q = load(&s->quota);
    apr_uint64_t l = load(&s->lease);
    int quota_over =
        APIKEY_QUOTA_COUNT(q) == 0 || period_over(APIKEY_QUOTA_PERIOD(q), now);
    apr_uint64_t o = load(&s->owed);
    int lease_over =
        APIKEY_QUOTA_COUNT(l) == 0 || period_over(APIKEY_QUOTA_PERIOD(l), now);
    int owed_over =
        APIKEY_QUOTA_COUNT(o) == 0 || period_over(APIKEY_QUOTA_PERIOD(o), now);
    apr_uint64_t d = load(&s->dry);

    /* A key the store just refused still has its answer here. */
    owed_over =
        owed_over && (d == 0 || period_over(APIKEY_QUOTA_PERIOD(d), now));

    return tat <= now && quota_over && lease_over && owed_over
           && now - last >= APIKEY_QUOTA_REUSE_AFTER;
}

/* The key's slot: found along its probe sequence, else the first free one
 * claimed, else a corrupt or idle one taken over.  NULL when all are busy.
 * *reset is set when a corrupt slot was taken (its counts are gone). */
static slot_t *find_slot(apikey_quota_table_t *t, apr_uint64_t me,
                         long long now, int *reset)
{
    slot_t *base = slots(t), *reuse = NULL;
    unsigned i, start = (unsigned)((me & 0xffffffffffffff) % t->nslots);

    for (i = 0; i < APIKEY_QUOTA_PROBES && i < t->nslots; i++) {
        slot_t *s = base + (start + i) % t->nslots;
        apr_uint64_t w = load(&s->owner);

        if (w == me) {
            return s;
        }
        if (w == 0) {
            /* Slots are never freed, only taken over: past a free slot the
             * key cannot be.  Claim it (another may beat us to it: that one
             * may even be for our key). */
            if (cas(&s->owner, &w, me) || w == me) {
                return s;
            }
            continue;
        }
        if (!owner_valid(w)) {
            /* Scribbled over: whoever it was cannot be told; it is reset
             * and given to us, and the caller logs it. */
            __atomic_store_n(&s->quota, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&s->tat, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&s->lease, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&s->dry, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&s->owed, 0, __ATOMIC_RELEASE);
            if (cas(&s->owner, &w, me) || w == me) {
                *reset = 1;
                return s;
            }
            continue;
        }
        if (!reuse && idle(s, now)) {
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
        if (idle(reuse, now) && cas(&reuse->owner, &w, me)) {
            /* The old key's lease bookkeeping is not ours. */
            __atomic_store_n(&reuse->dry, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&reuse->claimed, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&reuse->synced, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&reuse->lease_size, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&reuse->store, 0, __ATOMIC_RELEASE);
            return reuse;
        }
        if (load(&reuse->owner) == me) {
            return reuse;
        }
    }
    /* Before failing: another request of the same key may have claimed a
     * slot while this one looked (a slot stops looking idle once charged). */
    for (i = 0; i < APIKEY_QUOTA_PROBES && i < t->nslots; i++) {
        slot_t *s = base + (start + i) % t->nslots;

        if (load(&s->owner) == me) {
            return s;
        }
    }
    return NULL;
}

/* Checks the words a charge relies on; resets them when they cannot be
 * right (a corrupted slot).  Returns 1 when it reset anything. */
static int repair(slot_t *s, long long now, const apikey_rate_t *rate,
                  const apikey_quota_t *quota)
{
    apr_uint64_t q = load(&s->quota);
    apr_int64_t tat = (apr_int64_t)load((apr_uint64_t *)&s->tat);
    int fixed = 0;

    /* A TAT further ahead than a whole burst plus the slack cannot come
     * from charging with this clock. */
    if (rate->interval_us
        && tat > now + rate->interval_us * rate->burst
                     + APIKEY_QUOTA_CLOCK_SLACK) {
        if (cas((apr_uint64_t *)&s->tat, (apr_uint64_t *)&tat, 0)) {
            fixed = 1;
        }
    }
    /* A period ahead of both the next one and the one the slack reaches:
     * corrupt, or a clock set far back; either way not a count to keep.
     * (A clock stepped back less keeps its count: see apikey_quota_take.
     * The next period for monthly quotas, the slack for hourly ones.) */
    if (quota->limit
        && PERIOD_TYPE(APIKEY_QUOTA_PERIOD(q)) == (unsigned)quota->period
        && APIKEY_QUOTA_PERIOD(q) > period_of(quota->period, now) + 1
        && APIKEY_QUOTA_PERIOD(q)
               > period_of(quota->period, now + APIKEY_QUOTA_CLOCK_SLACK)) {
        if (cas(&s->quota, &q, APIKEY_QUOTA_WORD(0, 0))) {
            fixed = 1;
        }
    }
    /* The same for units held of a leased quota: they cannot be of such
     * a period (and cannot be given back to one). */
    {
        apr_uint64_t l = load(&s->lease);

        if (quota->limit
            && PERIOD_TYPE(APIKEY_QUOTA_PERIOD(l)) == (unsigned)quota->period
            && APIKEY_QUOTA_PERIOD(l) > period_of(quota->period, now) + 1
            && APIKEY_QUOTA_PERIOD(l)
                   > period_of(quota->period, now + APIKEY_QUOTA_CLOCK_SLACK)
            && cas(&s->lease, &l, 0)) {
            fixed = 1;
        }
        /* More units held than the quota has: never claimed. */
        if (quota->limit && APIKEY_QUOTA_COUNT(l) > quota->limit
            && cas(&s->lease, &l, 0)) {
            fixed = 1;
        }
    }
    /* More owed than a server may admit on its own in a period: counted
     * as the most it may (more counted is the safe side). */
    {
        apr_uint64_t o = load(&s->owed);

        if (quota->limit && APIKEY_QUOTA_COUNT(o) > quota->limit
            && cas(&s->owed, &o,
                   APIKEY_QUOTA_WORD(APIKEY_QUOTA_PERIOD(o), quota->limit))) {
            fixed = 1;
        }
    }
    return fixed;
}

static void describe(slot_t *s, const char *id, const char *owner,
                     const apikey_rate_t *rate, const apikey_quota_t *quota)
{
    /* Display only: plain stores, read back with care by the status page.
     * Skipped when unchanged, to keep the hot path to its atomics. */
    if (s->quota_limit != quota->limit || s->rate_interval != rate->interval_us
        || s->burst != (apr_uint32_t)rate->burst
        || strncmp(s->id, id, sizeof(s->id) - 1)) {
        s->rate_interval = rate->interval_us;
        s->burst = (apr_uint32_t)rate->burst;
        s->quota_limit = (apr_uint32_t)quota->limit;
        s->period = (unsigned char)quota->period;
        strncpy(s->id, id, sizeof(s->id) - 1);
        s->id[sizeof(s->id) - 1] = '\0';
        strncpy(s->owner_name, owner ? owner : "", sizeof(s->owner_name) - 1);
        s->owner_name[sizeof(s->owner_name) - 1] = '\0';
    }
}

/* The most units a claim asks for: a sixteenth of the quota, so that
 * leases held across a fleet leave most of it to whichever server needs
 * it. */
static unsigned long lease_cap(unsigned long limit)
{
    return limit / 16 ? limit / 16 : 1;
}

static unsigned long lease_want(slot_t *s, unsigned long limit)
{
    unsigned long n = load_32(&s->lease_size);

    return n < 1 ? 1 : n > lease_cap(limit) ? lease_cap(limit) : n;
}

/* Takes one unit of the lease for period (or, the clock having stepped
 * back, of a later period of the same type, as the quota count would):
 * returns the period field taken from, or 0 when none is held. */
static unsigned long lease_take(slot_t *s, apikey_period_t type,
                                unsigned long period)
{
    apr_uint64_t w = load(&s->lease);

    for (;;) {
        unsigned long p = APIKEY_QUOTA_PERIOD(w);

        if (PERIOD_TYPE(p) != (unsigned)type || p < period
            || APIKEY_QUOTA_COUNT(w) == 0) {
            return 0;
        }
        if (cas(&s->lease, &w, w - 1)) {
            return p;
        }
    }
}

/* Gives a unit back to the lease it was taken from, while the lease is
 * still of that period, or empty: a sync may have drained it meanwhile,
 * and handed back all but this unit, which the next sync hands back. */
static void lease_give_back(slot_t *s, unsigned long period)
{
    apr_uint64_t w = load(&s->lease);

    for (;;) {
        apr_uint64_t nw;

        if (w == 0) {
            nw = APIKEY_QUOTA_WORD(period, 1);
        }
        else if (APIKEY_QUOTA_PERIOD(w) == period
                 && APIKEY_QUOTA_COUNT(w) < 0xffffffffUL) {
            nw = w + 1;
        }
        else {
            return; /* a unit of a period that is over */
        }
        if (cas(&s->lease, &w, nw)) {
            return;
        }
    }
}

/* Adds n units to an owed word for period (units owed for a period that
 * is over are dropped with it). */
static void owe(slot_t *s, unsigned long period, unsigned long long n)
{
    apr_uint64_t w = load(&s->owed);

    for (;;) {
        unsigned long long held =
            APIKEY_QUOTA_PERIOD(w) == period ? APIKEY_QUOTA_COUNT(w) : 0;

        /* Units owed for a later period are never replaced by an earlier
         * one's (a restore that comes late): the earlier ones are over. */
        if ((!held && APIKEY_QUOTA_COUNT(w)
             && PERIOD_TYPE(APIKEY_QUOTA_PERIOD(w)) == PERIOD_TYPE(period)
             && APIKEY_QUOTA_PERIOD(w) > period)
            || held + n > 0xffffffffULL
            || cas(&s->owed, &w, APIKEY_QUOTA_WORD(period, held + n))) {
            return;
        }
    }
}

/* A leased charge while the store does not answer, with FALLBACK: this
 * server's count of its admissions in the period, held to the quota, and
 * one unit owed to the store.  Returns 1 when admitted (on the count), 0
 * with QUOTA_EXCEEDED. */
static int charge_fallback(slot_t *s, const apikey_quota_t *quota,
                           unsigned long period, int flags,
                           apikey_charge_t *out)
{
    apr_uint64_t w = load(&s->quota), nw = 0;
    unsigned long limit =
        (flags & APIKEY_CHARGE_REPORT) ? 0xffffffffUL : quota->limit;

    for (;;) {
        if (!apikey_quota_take(as_type(w, quota->period), period, limit, &nw)) {
            out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
            out->retry_us = out->quota_reset_us;
            out->quota_used = quota->limit;
            return 0;
        }
        if (cas(&s->quota, &w, nw)) {
            break;
        }
    }
    owe(s, APIKEY_QUOTA_PERIOD(nw), 1);
    out->quota_used = apikey_quota_used(nw, period);
    out->quota_remaining =
        out->quota_used >= quota->limit ? 0 : quota->limit - out->quota_used;
    if (out->quota_used > quota->limit) {
        out->result = APIKEY_CHARGE_QUOTA_EXCEEDED; /* report only */
    }
    return 1;
}

/* The quota of a leased charge: one unit of the lease, then the count of
 * this server's admissions.  Returns 0 when the charge ends here (out
 * says why), 2 when admitted on this server's own count (FALLBACK), else 1
 * with the period the unit came from in *from (0 when none was taken:
 * report only). */
static int charge_leased(slot_t *s, const apikey_quota_t *quota,
                         unsigned long period, int flags, apikey_charge_t *out,
                         unsigned long *from)
{
    apr_uint64_t w, nw = 0;
    unsigned long held, claimed;

    *from = period;
    if (!(flags & APIKEY_CHARGE_PREPAID)
        && !(*from = lease_take(s, quota->period, period))) {
        apr_uint64_t d = load(&s->dry);

        if (APIKEY_QUOTA_PERIOD(d) != period) {
            out->result = APIKEY_CHARGE_NEED_LEASE;
            out->lease_want = lease_want(s, quota->limit);
            out->lease_period = period;
            return 0;
        }
        if (APIKEY_QUOTA_COUNT(d) == DRY_DOWN
            && (flags & APIKEY_CHARGE_FALLBACK)) {
            return charge_fallback(s, quota, period, flags, out) ? 2 : 0;
        }
        if (APIKEY_QUOTA_COUNT(d) == DRY_DOWN) {
            out->result = APIKEY_CHARGE_STORE_DOWN;
            return 0;
        }
        out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
        out->retry_us = out->quota_reset_us;
        out->quota_used = quota->limit;
        if (!(flags & APIKEY_CHARGE_REPORT)) {
            return 0;
        }
    }
    /* This server's admissions: no limit, the lease was the limit. */
    w = load(&s->quota);
    while (
        apikey_quota_take(as_type(w, quota->period), period, 0xffffffffUL, &nw)
        && !cas(&s->quota, &w, nw)) {
    }
    /* Used as far as this server knows: what the cluster has claimed
     * less what this server still holds. */
    w = load(&s->lease);
    held = APIKEY_QUOTA_PERIOD(w) == period ? APIKEY_QUOTA_COUNT(w) : 0;
    claimed = load_32(&s->claimed);
    if (out->result != APIKEY_CHARGE_QUOTA_EXCEEDED) {
        out->quota_used = claimed > held ? claimed - held : 0;
    }
    out->quota_remaining =
        out->quota_used >= quota->limit ? 0 : quota->limit - out->quota_used;
    return 1;
}

void apikey_quota_table_charge(apikey_quota_table_t *t, const char *id,
                               const char *owner, const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int flags, apikey_charge_t *out)
{
    apr_uint64_t me = owner_word(t, id);
    int report_only = (flags & APIKEY_CHARGE_REPORT) != 0;
    int leased = (flags & APIKEY_CHARGE_LEASED) && quota->limit;
    unsigned long period = 0;
    apr_uint64_t taken = 0;        /* the quota word this charge wrote */
    unsigned long leased_from = 0; /* the lease period a unit came from */
    int took = 0, fallback = 0;
    slot_t *s;

    memset(out, 0, sizeof(*out));
    s = find_slot(t, me, now, &out->repaired);
    if (!s) {
        out->result = APIKEY_CHARGE_FULL;
        return;
    }
    out->repaired |= repair(s, now, rate, quota);
    describe(s, id, owner, rate, quota);

    if (leased) {
        period = period_of(quota->period, now);
        out->quota_reset_us = apikey_period_end(quota->period, now) - now;
        int how = charge_leased(s, quota, period, flags, out, &leased_from);

        if (!how) {
            return;
        }
        fallback = how == 2;
        took = !fallback && leased_from != 0;
    }
    else if (quota->limit) {
        apr_uint64_t w = load(&s->quota), nw = 0;
        unsigned long limit = report_only ? 0xffffffffUL : quota->limit;

        period = period_of(quota->period, now);
        out->quota_reset_us = apikey_period_end(quota->period, now) - now;
        for (;;) {
            if (!apikey_quota_take(as_type(w, quota->period), period, limit,
                                   &nw)) {
                out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
                out->retry_us = out->quota_reset_us;
                out->quota_used =
                    apikey_quota_used(as_type(w, quota->period), period);
                return;
            }
            if (cas(&s->quota, &w, nw)) {
                break;
            }
        }
        took = 1;
        taken = nw;
        out->quota_used = apikey_quota_used(nw, period);
        out->quota_remaining = out->quota_used >= quota->limit
                                   ? 0
                                   : quota->limit - out->quota_used;
        if (report_only && out->quota_used > quota->limit) {
            out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
            out->retry_us = out->quota_reset_us;
        }
    }
    if (rate->interval_us) {
        apr_uint64_t w = load((apr_uint64_t *)&s->tat);

        for (;;) {
            long long nt, rem, retry, reset;
            int ok =
                apikey_gcra((long long)w, now, rate, &nt, &rem, &retry, &reset);

            out->rate_remaining = rem;
            out->rate_reset_us = reset;
            if (!ok && !report_only) {
                out->result = APIKEY_CHARGE_RATE_LIMITED;
                out->retry_us = retry;
                break;
            }
            if (!ok) {
                /* Report only: count it, as if admitted. */
                nt = (w > (apr_uint64_t)now ? (long long)w : now)
                     + rate->interval_us;
                if (out->result == APIKEY_CHARGE_ADMIT) {
                    out->result = APIKEY_CHARGE_RATE_LIMITED;
                    out->retry_us = retry;
                }
            }
            if (cas((apr_uint64_t *)&s->tat, &w, (apr_uint64_t)nt)) {
                break;
            }
        }
        if (out->result == APIKEY_CHARGE_RATE_LIMITED && !report_only
            && fallback) {
            /* Not admitted after all: neither counted nor owed. */
            apr_uint64_t q = load(&s->quota), nq;

            while (apikey_quota_give_back(q, period, &nq)
                   && !cas(&s->quota, &q, nq)) {
            }
            q = load(&s->owed);
            while (APIKEY_QUOTA_PERIOD(q) == period && APIKEY_QUOTA_COUNT(q)
                   && !cas(&s->owed, &q, q - 1)) {
            }
        }
        else if (out->result == APIKEY_CHARGE_RATE_LIMITED && !report_only
                 && took && leased) {
            /* The unit goes back to the lease (and the admission is not
             * counted). */
            apr_uint64_t q = load(&s->quota), nq;

            lease_give_back(s, leased_from);
            while (apikey_quota_give_back(q, period, &nq)
                   && !cas(&s->quota, &q, nq)) {
            }
            out->quota_remaining++;
        }
        else if (out->result == APIKEY_CHARGE_RATE_LIMITED && !report_only
                 && took) {
            /* The quota took a request the rate limit refused: give it
             * back, so that a refused request costs nothing.  Into the
             * period it was taken from: with the clock stepped back, a
             * later one than now's. */
            apr_uint64_t q = load(&s->quota), nq;

            while (apikey_quota_give_back(q, APIKEY_QUOTA_PERIOD(taken), &nq)
                   && !cas(&s->quota, &q, nq)) {
            }
            out->quota_used = apikey_quota_used(load(&s->quota), period);
            out->quota_remaining = out->quota_used >= quota->limit
                                       ? 0
                                       : quota->limit - out->quota_used;
        }
    }
    __atomic_store_n(&s->last_used, now, __ATOMIC_RELEASE);
}

int apikey_quota_table_lease_put(apikey_quota_table_t *t, const char *id,
                                 const apikey_quota_t *quota, long long now,
                                 unsigned long period, unsigned long units,
                                 unsigned long claimed, apr_uint32_t store)
{
    int reset = 0;
    slot_t *s = find_slot(t, owner_word(t, id), now, &reset);
    unsigned long size;
    apr_uint64_t w, nw;

    if (!s || units == 0 || !quota->limit) {
        return 0;
    }
    /* Where a sync gives them back: set before the units are there. */
    __atomic_store_n(&s->store, store, __ATOMIC_RELEASE);
    w = load(&s->lease);
    for (;;) {
        unsigned long p = APIKEY_QUOTA_PERIOD(w);
        unsigned long long held = 0;

        if (PERIOD_TYPE(period) != (unsigned)quota->period
            || (PERIOD_TYPE(p) == (unsigned)quota->period && p > period
                && APIKEY_QUOTA_COUNT(w))) {
            return 0; /* a later period's units, the clock stepped back */
        }
        if (p == period) {
            held = APIKEY_QUOTA_COUNT(w);
        }
        /* Units of a period that is over are dropped: they are spent
         * with it, nothing to give back. */
        if (held + units - 1 > 0xffffffffULL) {
            return 0;
        }
        nw = APIKEY_QUOTA_WORD(period, held + units - 1);
        if (cas(&s->lease, &w, nw)) {
            break;
        }
    }
    if (claimed == (unsigned long)-1) {
        __atomic_fetch_add(&s->claimed, (apr_uint32_t)units, __ATOMIC_RELAXED);
    }
    else {
        __atomic_store_n(&s->claimed, (apr_uint32_t)claimed, __ATOMIC_RELEASE);
    }
    /* The next claim asks for twice as much, up to the cap: a busy key
     * that runs dry within a sync interval makes fewer round trips. */
    size = lease_want(s, quota->limit);
    size =
        size > lease_cap(quota->limit) / 2 ? lease_cap(quota->limit) : size * 2;
    __atomic_store_n(&s->lease_size, (apr_uint32_t)size, __ATOMIC_RELEASE);
    return 1;
}

void apikey_quota_table_lease_dry(apikey_quota_table_t *t, const char *id,
                                  const apikey_quota_t *quota, long long now,
                                  int full, apr_uint32_t store)
{
    int reset = 0;
    slot_t *s = find_slot(t, owner_word(t, id), now, &reset);

    if (s && quota->limit) {
        __atomic_store_n(&s->store, store, __ATOMIC_RELEASE);
        __atomic_store_n(&s->dry,
                         APIKEY_QUOTA_WORD(period_of(quota->period, now),
                                           full ? DRY_FULL : DRY_DOWN),
                         __ATOMIC_RELEASE);
    }
}

int apikey_quota_table_lease_drain(apikey_quota_table_t *t, unsigned i,
                                   long long now, apikey_lease_return_t *out)
{
    slot_t *s;
    apr_uint64_t w, l, o;
    unsigned long count, before, spent, cap;
    apr_uint32_t store;
    size_t k;

    if (i >= t->nslots) {
        return 0;
    }
    s = slots(t) + i;
    w = load(&s->owner);
    store = __atomic_load_n(&s->store, __ATOMIC_ACQUIRE);
    if (w == 0 || !owner_valid(w) || store == 0) {
        return 0; /* no leased quota here */
    }
    /* The next lease: what this server admitted since the last sync. */
    count = APIKEY_QUOTA_COUNT(load(&s->quota));
    before = load_32(&s->synced);
    spent = count >= before ? count - before : count;
    __atomic_store_n(&s->synced, (apr_uint32_t)count, __ATOMIC_RELEASE);
    cap = lease_cap(load_32(&s->quota_limit));
    __atomic_store_n(&s->lease_size,
                     (apr_uint32_t)(spent < 1     ? 1
                                    : spent > cap ? cap
                                                  : spent),
                     __ATOMIC_RELEASE);
    /* Units can go back only under the key's whole id: a slot whose id
     * was scribbled over keeps what it holds (its key spends it). */
    memcpy(out->id, s->id, sizeof(out->id));
    out->id[APIKEY_QUOTA_ID_MAX] = '\0';
    for (k = 0; out->id[k]; k++) {
        if ((unsigned char)out->id[k] < ' '
            || (unsigned char)out->id[k] > '~') {
            return 0;
        }
    }
    if (k == 0) {
        return 0;
    }
    /* Ask the store again at the next claim. */
    __atomic_store_n(&s->dry, 0, __ATOMIC_RELEASE);
    l = __atomic_exchange_n(&s->lease, 0, __ATOMIC_ACQ_REL);
    o = __atomic_exchange_n(&s->owed, 0, __ATOMIC_ACQ_REL);
    out->period = out->units = out->owed = out->owed_period = 0;
    if (APIKEY_QUOTA_COUNT(l) && !period_over(APIKEY_QUOTA_PERIOD(l), now)) {
        out->period = APIKEY_QUOTA_PERIOD(l);
        out->units = APIKEY_QUOTA_COUNT(l);
    }
    if (APIKEY_QUOTA_COUNT(o) && !period_over(APIKEY_QUOTA_PERIOD(o), now)) {
        out->owed_period = APIKEY_QUOTA_PERIOD(o);
        out->owed = APIKEY_QUOTA_COUNT(o);
    }
    if (!out->units && !out->owed) {
        return 0;
    }
    out->store = store;
    return 1;
}

int apikey_quota_table_lease_restore(apikey_quota_table_t *t, unsigned i,
                                     const apikey_lease_return_t *r)
{
    slot_t *s;
    apr_uint64_t w;

    if (i >= t->nslots) {
        return 0;
    }
    s = slots(t) + i;
    if (r->owed) {
        owe(s, r->owed_period, r->owed);
    }
    if (!r->units) {
        return 1;
    }
    w = load(&s->lease);
    for (;;) {
        unsigned long long held =
            APIKEY_QUOTA_PERIOD(w) == r->period ? APIKEY_QUOTA_COUNT(w) : 0;

        if ((held == 0 && APIKEY_QUOTA_COUNT(w) != 0)
            || held + r->units > 0xffffffffULL) {
            return 0;
        }
        if (cas(&s->lease, &w, APIKEY_QUOTA_WORD(r->period, held + r->units))) {
            return 1;
        }
    }
}

void apikey_quota_table_lease_claimed(apikey_quota_table_t *t, unsigned i,
                                      unsigned long claimed)
{
    if (i < t->nslots) {
        __atomic_store_n(&slots(t)[i].claimed, (apr_uint32_t)claimed,
                         __ATOMIC_RELEASE);
    }
}

int apikey_quota_table_view(apikey_quota_table_t *t, unsigned i,
                            apikey_quota_view_t *v)
{
    slot_t *s;
    apr_uint64_t w;
    size_t k;

    if (i >= t->nslots) {
        return 0;
    }
    s = slots(t) + i;
    w = load(&s->owner);
    if (w == 0 || !owner_valid(w)) {
        return 0;
    }
    memcpy(v->id, s->id, sizeof(s->id));
    v->id[APIKEY_QUOTA_ID_MAX] = '\0';
    memcpy(v->owner, s->owner_name, sizeof(s->owner_name));
    v->owner[sizeof(v->owner) - 1] = '\0';
    /* Racy copies of display strings: keep them printable. */
    for (k = 0; v->id[k]; k++) {
        if ((unsigned char)v->id[k] < ' ' || (unsigned char)v->id[k] > '~') {
            v->id[k] = '?';
        }
    }
    for (k = 0; v->owner[k]; k++) {
        if ((unsigned char)v->owner[k] < ' '
            || (unsigned char)v->owner[k] > '~') {
            v->owner[k] = '?';
        }
    }
    v->tat = (long long)load((apr_uint64_t *)&s->tat);
    v->last_used = (long long)load((apr_uint64_t *)&s->last_used);
    v->quota_limit = s->quota_limit;
    v->period = (apikey_period_t)(s->period ? s->period : 1);
    {
        apr_uint64_t q = load(&s->quota);

        /* A count of another kind of period than the key's (its quota
         * just changed) is no count of its quota. */
        if (PERIOD_TYPE(APIKEY_QUOTA_PERIOD(q)) == (unsigned)v->period) {
            v->quota_period = APIKEY_QUOTA_PERIOD(q) & 0x3fffffffUL;
            v->quota_count = APIKEY_QUOTA_COUNT(q);
        }
        else {
            v->quota_period = v->quota_count = 0;
        }
    }
    v->rate_interval_us = s->rate_interval;
    v->burst = s->burst;
    v->leased = __atomic_load_n(&s->store, __ATOMIC_ACQUIRE) != 0;
    v->lease_period = v->lease_units = v->cluster_claimed = 0;
    if (v->leased) {
        apr_uint64_t l = load(&s->lease);

        if (PERIOD_TYPE(APIKEY_QUOTA_PERIOD(l)) == (unsigned)v->period) {
            v->lease_period = APIKEY_QUOTA_PERIOD(l) & 0x3fffffffUL;
            v->lease_units = APIKEY_QUOTA_COUNT(l);
        }
        v->cluster_claimed = load_32(&s->claimed);
    }
    return 1;
}

int apikey_quota_table_full_log_due(apikey_quota_table_t *t, long long now,
                                    long long interval_us)
{
    apr_uint64_t last = load((apr_uint64_t *)&t->last_full_log);

    return (long long)last + interval_us <= now
           && cas((apr_uint64_t *)&t->last_full_log, &last, (apr_uint64_t)now);
}

int apikey_quota_table_save(apikey_quota_table_t *t, const char *path)
{
    char tmp[4096];
    FILE *f;
    int ok;

    if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid())
        >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!(f = fopen(tmp, "wb"))) {
        return -1;
    }
    ok = fputs(FILE_MAGIC, f) >= 0
         && fwrite(&t->nslots, sizeof(t->nslots), 1, f) == 1
         && fwrite(t->seed, APIKEY_QUOTA_SEED_LEN, 1, f) == 1
         && fwrite(slots(t), sizeof(slot_t), t->nslots, f) == t->nslots;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int apikey_quota_table_load(apikey_quota_table_t *t, const char *path)
{
    const size_t head =
        sizeof(FILE_MAGIC) - 1 + sizeof(apr_uint32_t) + APIKEY_QUOTA_SEED_LEN;
    size_t want = head + (size_t)t->nslots * sizeof(slot_t), got = 0;
    unsigned char *buf;
    apr_uint32_t n;
    unsigned i;
    FILE *f = fopen(path, "rb");

    if (!f) {
        return -1;
    }
    /* Read it whole, one byte more than expected: a file cut short or too
     * long is refused before anything is applied. */
    if (!(buf = malloc(want + 1))) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    got = fread(buf, 1, want + 1, f);
    fclose(f);
    memcpy(&n, buf + sizeof(FILE_MAGIC) - 1, sizeof(n));
    if (got != want || memcmp(buf, FILE_MAGIC, sizeof(FILE_MAGIC) - 1)
        || n != t->nslots) {
        free(buf);
        errno = EINVAL;
        return -1;
    }
    memcpy(t->seed, buf + sizeof(FILE_MAGIC) - 1 + sizeof(n),
           APIKEY_QUOTA_SEED_LEN);
    for (i = 0; i < n; i++) {
        slot_t s;

        memcpy(&s, buf + head + (size_t)i * sizeof(slot_t), sizeof(s));
        /* Only slots that look whole are restored. */
        if (s.owner && owner_valid(s.owner)) {
            slots(t)[i] = s;
        }
    }
    free(buf);
    return 0;
}
