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

/* The limit table (see apikey_limit_table.h). */

#include "apikey_limit_table.h"
#include "apikey_slot.h"
#include "apikey_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apr_siphash.h"

#define TABLE_MAGIC APR_UINT64_C(0x41504b51554f5441) /* "APKQUOTA" */
#define FILE_MAGIC  "apikey-quota-state 3\n"

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
        h = apr_siphash24(buf, 8 + n, t->seed);
    }
    else {
        /* A long id: its own hash stands in for it. */
        h = apr_siphash24(key->id, n, t->seed);
        memcpy(buf + 8, &h, 8);
        h = apr_siphash24(buf, 16, t->seed);
    }
    h >>= 8;
    c = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24) ^ (h >> 32) ^ (h >> 40)
         ^ (h >> 48) ^ 0xa5)
        & 0xff;
    return (c << 56) | h | APR_UINT64_C(0x0100000000000000) * (c == 0);
}

apr_size_t apikey_limit_table_size(unsigned nslots)
{
    return sizeof(apikey_limit_table_t) + (apr_size_t)nslots * sizeof(slot_t);
}

apikey_limit_table_t *
apikey_limit_table_init(void *mem, apr_size_t size, unsigned nslots,
                        const unsigned char seed[APIKEY_QUOTA_SEED_LEN],
                        int *adopted)
{
    apikey_limit_table_t *t = mem;

    if (nslots == 0 || size < apikey_limit_table_size(nslots)) {
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

unsigned apikey_limit_table_slots(apikey_limit_table_t *t)
{
    return t->nslots;
}

void apikey_limit_table_header_get(apikey_limit_table_t *t,
                                   apikey_quota_header_t *h)
{
    h->nslots = t->nslots;
    h->slot_size = t->slot_size;
    memcpy(h->seed, t->seed, APIKEY_QUOTA_SEED_LEN);
}

int apikey_limit_table_header_check(apikey_limit_table_t *t,
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
static slot_t *find_slot(apikey_limit_table_t *t, apr_uint64_t me,
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

slot_t *apikey_slot_of(apikey_limit_table_t *t, const apikey_slot_key_t *key,
                       long long now, int *reset)
{
    return find_slot(t, owner_word(t, key), now, reset);
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

static void describe(slot_t *s, const apikey_slot_key_t *key, const char *owner,
                     const apikey_rate_t *rate, const apikey_quota_t *quota)
{
    const char *id = key->id;

    /* Display only: plain stores, read back with care by the status page.
     * Skipped when unchanged, to keep the hot path to its atomics. */
    if (s->quota_limit != quota->limit || s->rate_interval != rate->interval_us
        || s->burst != (apr_uint32_t)rate->burst || s->keystore != key->store
        || s->query != key->query || strncmp(s->id, id, sizeof(s->id) - 1)) {
        s->keystore = key->store;
        s->query = key->query;
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

void apikey_limit_table_charge(apikey_limit_table_t *t,
                               const apikey_slot_key_t *key, const char *owner,
                               const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int flags, apikey_charge_t *out)
{
    apr_uint64_t me = owner_word(t, key);
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
    describe(s, key, owner, rate, quota);

    if (leased) {
        period = period_of(quota->period, now);
        out->quota_reset_us = apikey_period_end(quota->period, now) - now;
        int how = apikey_quota_lease_charge(s, quota, period, flags, out,
                                            &leased_from);

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
            apikey_quota_lease_unowe(s, period);
        }
        else if (out->result == APIKEY_CHARGE_RATE_LIMITED && !report_only
                 && took && leased) {
            /* The unit goes back to the lease (and the admission is not
             * counted). */
            apr_uint64_t q = load(&s->quota), nq;

            apikey_quota_lease_unit_back(s, leased_from);
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

int apikey_limit_table_view(apikey_limit_table_t *t, unsigned i,
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
    memcpy(v->owner, s->owner_name, sizeof(v->owner));
    v->owner[sizeof(v->owner) - 1] = '\0';
    v->store = s->keystore;
    v->query = s->query;
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

int apikey_limit_table_full_log_due(apikey_limit_table_t *t, long long now,
                                    long long interval_us)
{
    apr_uint64_t last = load((apr_uint64_t *)&t->last_full_log);

    return (long long)last + interval_us <= now
           && cas((apr_uint64_t *)&t->last_full_log, &last, (apr_uint64_t)now);
}

int apikey_limit_table_save(apikey_limit_table_t *t, const char *path)
{
    char tmp[4096];
    FILE *f;

    /* Written by the parent, as root: a temporary name nobody can guess
     * or plant a link at, mode 0600 (the file holds the table's seed). */
    if (!(f = apikey_file_create_temp(path, tmp, sizeof(tmp)))) {
        return -1;
    }
    return apikey_file_commit(
        f, tmp, path,
        fputs(FILE_MAGIC, f) >= 0
            && fwrite(&t->nslots, sizeof(t->nslots), 1, f) == 1
            && fwrite(t->seed, APIKEY_QUOTA_SEED_LEN, 1, f) == 1
            && fwrite(slots(t), sizeof(slot_t), t->nslots, f) == t->nslots);
}

int apikey_limit_table_load(apikey_limit_table_t *t, const char *path)
{
    const size_t head =
        sizeof(FILE_MAGIC) - 1 + sizeof(apr_uint32_t) + APIKEY_QUOTA_SEED_LEN;
    size_t want = head + (size_t)t->nslots * sizeof(slot_t), got = 0;
    unsigned char *buf;
    apr_uint32_t n;
    unsigned i;
    /* Not a link, not a file another user could have written. */
    FILE *f = apikey_file_open_private(path);

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
