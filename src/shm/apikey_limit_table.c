/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The limit table (see apikey_limit_table.h). */

#include "apikey_limit_table.h"
#include "apikey_slot.h"
#include "apikey_lease.h"
#include "apikey_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_MAGIC APR_UINT64_C(0x41504b51554f5441) /* "APKQUOTA" */
#define FILE_MAGIC  "apikey-quota-state 4\n"

/* A key's bytes: its slot's, and its lease's when the table has leases. */
static apr_uint32_t key_size(int leases)
{
    return (apr_uint32_t)(sizeof(slot_t) + (leases ? sizeof(lease_t) : 0));
}

apr_size_t apikey_limit_table_size(unsigned nslots, int leases)
{
    return sizeof(apikey_limit_table_t) + (apr_size_t)nslots * key_size(leases);
}

apikey_limit_table_t *
apikey_limit_table_init(void *mem, apr_size_t size, unsigned nslots, int leases,
                        const unsigned char seed[APIKEY_QUOTA_SEED_LEN],
                        int *adopted)
{
    if (nslots == 0 || size < apikey_limit_table_size(nslots, leases)) {
        return NULL;
    }
    *adopted = apikey_segment_init(mem, size, TABLE_MAGIC, nslots,
                                   key_size(leases), seed, 1);
    /* Adopted: kept counts, of a build that may not have counted. */
    apikey_limit_table_recount(mem);
    return mem;
}

unsigned apikey_limit_table_slots(apikey_limit_table_t *t)
{
    return t->h.nslots;
}

void apikey_limit_table_recount(apikey_limit_table_t *t)
{
    apr_uint64_t n = 0;
    unsigned i;

    for (i = 0; i < t->h.nslots; i++) {
        n += load(&slots(t)[i].owner) != 0;
    }
    __atomic_store_n(&t->used, n, __ATOMIC_RELEASE);
}

unsigned apikey_limit_table_used(apikey_limit_table_t *t)
{
    apr_uint64_t n = load(&t->used);

    return n > t->h.nslots ? t->h.nslots : (unsigned)n;
}

int apikey_limit_table_filling(apikey_limit_table_t *t, unsigned percent)
{
    apr_uint64_t no = 0;

    /* Two loads on every charge, a write once in the table's life. */
    if (load(&t->warned)
        || (apr_uint64_t)apikey_limit_table_used(t) * 100
               < (apr_uint64_t)t->h.nslots * percent) {
        return 0;
    }
    return cas(&t->warned, &no, 1);
}

void apikey_limit_table_header_get(apikey_limit_table_t *t,
                                   apikey_segment_header_t *h)
{
    *h = t->h;
}

int apikey_limit_table_header_check(apikey_limit_table_t *t,
                                    const apikey_segment_header_t *h)
{
    return apikey_segment_restore(t, h);
}

/* Checks the words a charge relies on; resets them when they cannot be
 * right (a corrupted slot).  period is now's period field of the quota
 * (when it has a limit).  Returns 1 when it reset anything. */
static int repair(slot_t *s, lease_t *ls, long long now, unsigned long period,
                  const apikey_rate_t *rate, const apikey_quota_t *quota)
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
        && APIKEY_QUOTA_PERIOD(q) > period + 1
        && APIKEY_QUOTA_PERIOD(q)
               > period_of(quota->period, now + APIKEY_QUOTA_CLOCK_SLACK)) {
        if (cas(&s->quota, &q, APIKEY_QUOTA_WORD(0, 0))) {
            fixed = 1;
        }
    }
    if (!ls) {
        return fixed;
    }
    /* The same for units held of a leased quota: they cannot be of such
     * a period (and cannot be given back to one). */
    {
        apr_uint64_t l = load(&ls->lease);

        if (quota->limit
            && PERIOD_TYPE(APIKEY_QUOTA_PERIOD(l)) == (unsigned)quota->period
            && APIKEY_QUOTA_PERIOD(l) > period + 1
            && APIKEY_QUOTA_PERIOD(l)
                   > period_of(quota->period, now + APIKEY_QUOTA_CLOCK_SLACK)
            && cas(&ls->lease, &l, 0)) {
            fixed = 1;
        }
        /* More units held than the quota has: never claimed. */
        if (quota->limit && APIKEY_QUOTA_COUNT(l) > quota->limit
            && cas(&ls->lease, &l, 0)) {
            fixed = 1;
        }
    }
    /* More owed than a server may admit on its own in a period: counted
     * as the most it may (more counted is the safe side). */
    {
        apr_uint64_t o = load(&ls->owed);

        if (quota->limit && APIKEY_QUOTA_COUNT(o) > quota->limit
            && cas(&ls->owed, &o,
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
        || s->query != key->query || s->budget != key->budget
        || strncmp(s->id, id, sizeof(s->id) - 1)
        || s->id_cut != (strnlen(id, SLOT_ID_KEPT + 1) > SLOT_ID_KEPT)) {
        s->keystore = key->store;
        s->query = key->query;
        s->budget = key->budget;
        s->rate_interval = rate->interval_us;
        s->burst = (apr_uint32_t)rate->burst;
        s->quota_limit = (apr_uint32_t)quota->limit;
        s->period = (unsigned char)quota->period;
        strncpy(s->id, id, sizeof(s->id) - 1);
        s->id[sizeof(s->id) - 1] = '\0';
        s->id_cut = strlen(id) > SLOT_ID_KEPT;
        strncpy(s->owner_name, owner ? owner : "", sizeof(s->owner_name) - 1);
        s->owner_name[sizeof(s->owner_name) - 1] = '\0';
    }
}

/* The rate limit's half of a charge: the GCRA on the slot's TAT.  0 when
 * it refuses the request (enforced: out says when to retry), else 1 with
 * the request counted (in report mode, counted however far over, and out
 * says so). */
static int charge_rate(slot_t *s, const apikey_rate_t *rate, long long now,
                       int report_only, apikey_charge_t *out)
{
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
            return 0;
        }
        if (!ok) {
            /* Report only: count it, as if admitted. */
            nt = (w > (apr_uint64_t)now ? (long long)w : now)
                 + rate->interval_us;
            out->result = APIKEY_CHARGE_RATE_LIMITED;
            out->retry_us = retry;
        }
        if (cas((apr_uint64_t *)&s->tat, &w, (apr_uint64_t)nt)) {
            return 1;
        }
    }
}

/* A request charge_rate counted is not admitted after all (the quota
 * refused it, or waits for a lease): its emission interval comes off the
 * TAT again, as if it had never come.  (Had the TAT been in the past, the
 * charge moved it to now + interval: back to now, which the GCRA reads as
 * the past did: a whole burst free.) */
static void rate_give_back(slot_t *s, const apikey_rate_t *rate, long long now,
                           apikey_charge_t *out)
{
    apr_uint64_t w = load((apr_uint64_t *)&s->tat), nw;

    /* (A TAT reset meanwhile, by a repair, is not taken below 0.) */
    do {
        nw = w > (apr_uint64_t)rate->interval_us
                 ? w - (apr_uint64_t)rate->interval_us
                 : 0;
    } while (!cas((apr_uint64_t *)&s->tat, &w, nw));
    /* The rate's own state, as the headers describe it: the request it
     * gave back is not spent, and the burst refills from the TAT left. */
    if (out->rate_remaining < rate->burst) {
        out->rate_remaining++;
    }
    out->rate_reset_us = (long long)nw > now ? (long long)nw - now : 0;
}

/* The quota's half of a charge, of this server's own count: 0 when it
 * refuses the request, else 1 with the request counted (in report mode,
 * however far over, and out says so). */
static int charge_quota(slot_t *s, const apikey_quota_t *quota,
                        unsigned long period, int report_only,
                        apikey_charge_t *out)
{
    apr_uint64_t w = load(&s->quota), nw = 0;
    unsigned long limit = report_only ? 0xffffffffUL : quota->limit;

    for (;;) {
        if (!apikey_quota_take(as_type(w, quota->period), period, limit, &nw)) {
            out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
            out->retry_us = out->quota_reset_us;
            out->quota_used =
                apikey_quota_used(as_type(w, quota->period), period);
            return 0;
        }
        if (cas(&s->quota, &w, nw)) {
            break;
        }
    }
    out->quota_used = apikey_quota_used(nw, period);
    out->quota_remaining =
        out->quota_used >= quota->limit ? 0 : quota->limit - out->quota_used;
    if (report_only && out->quota_used > quota->limit) {
        /* Over the quota outranks over the rate. */
        out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
        out->retry_us = out->quota_reset_us;
    }
    return 1;
}

/* What the quota's headers say of a request the rate limit refused, which
 * the quota never saw: its count as it stands. */
static void quota_peek(slot_t *s, lease_t *l, const apikey_quota_t *quota,
                       unsigned long period, apikey_charge_t *out)
{
    out->quota_used =
        l ? apikey_quota_lease_used(l, period)
          : apikey_quota_used(as_type(load(&s->quota), quota->period), period);
    out->quota_remaining =
        out->quota_used >= quota->limit ? 0 : quota->limit - out->quota_used;
}

void apikey_limit_table_charge(apikey_limit_table_t *t,
                               const apikey_slot_key_t *key, const char *owner,
                               const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int flags, apikey_charge_t *out)
{
    int report_only = (flags & APIKEY_CHARGE_REPORT) != 0;
    int leased = (flags & APIKEY_CHARGE_LEASED) && quota->limit;
    unsigned long period = quota->limit ? period_of(quota->period, now) : 0;
    int counted = 0; /* by the rate limit */
    slot_t *s;
    lease_t *l;

    memset(out, 0, sizeof(*out));
    s = (flags & APIKEY_CHARGE_SPARE)
                && 2 * apikey_limit_table_used(t) >= apikey_limit_table_slots(t)
            ? apikey_slot_held(t, key)
            : apikey_slot_of(t, key, now, &out->repaired);
    if (!s) {
        out->result = APIKEY_CHARGE_FULL;
        return;
    }
    l = lease_of(t, s);
    out->repaired |= repair(s, l, now, period, rate, quota);
    describe(s, key, owner, rate, quota);
    if (leased && !l) {
        /* A leased quota in a table laid out with no server keeping
         * quotas in the store (which start-up rules out): fail closed. */
        out->result = APIKEY_CHARGE_STORE_DOWN;
        return;
    }
    if (!leased) {
        l = NULL; /* the quota is this server's own */
    }
    if (quota->limit) {
        out->quota_reset_us = apikey_period_end(quota->period, now) - now;
    }

    /* The rate limit first: a request it refuses touches neither the
     * quota nor a lease, and has nothing to give back. */
    if (rate->interval_us) {
        if (!charge_rate(s, rate, now, report_only, out)) {
            /* The one unit a charge may hold before it reaches the quota:
             * the one lease_put kept for it. */
            if (l && (flags & APIKEY_CHARGE_PREPAID)) {
                apikey_quota_lease_unit_back(l, period);
            }
            if (quota->limit) {
                quota_peek(s, l, quota, period, out);
                /* Spent as well: the quota is what keeps the request out
                 * longest, and what the client is told to wait for. */
                if (out->quota_remaining == 0) {
                    out->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
                    if (out->quota_reset_us > out->retry_us) {
                        out->retry_us = out->quota_reset_us;
                    }
                }
            }
            goto done;
        }
        counted = 1;
    }
    if (quota->limit) {
        unsigned long from;
        int admitted = l ? apikey_quota_lease_charge(s, l, quota, period, flags,
                                                     out, &from)
                               != 0
                         : charge_quota(s, quota, period, report_only, out);

        if (!admitted && counted) {
            rate_give_back(s, rate, now, out);
        }
    }
done:
    __atomic_store_n(&s->last_used, now, __ATOMIC_RELEASE);
}

void apikey_limit_table_refund(apikey_limit_table_t *t,
                               const apikey_slot_key_t *key,
                               const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int flags)
{
    apikey_charge_t ignored;
    int reset = 0;
    slot_t *s = apikey_slot_of(t, key, now, &reset);

    if (!s || reset || (flags & APIKEY_CHARGE_REPORT)) {
        return;
    }
    memset(&ignored, 0, sizeof(ignored));
    if (rate->interval_us) {
        rate_give_back(s, rate, now, &ignored);
    }
    if (quota->limit) {
        unsigned long period = period_of(quota->period, now);
        apr_uint64_t w = load(&s->quota);

        /* This server's count of the period (a leased quota's admissions
         * too), and a leased unit back to the lease it came from. */
        while (APIKEY_QUOTA_PERIOD(w) == period && APIKEY_QUOTA_COUNT(w) > 0
               && !cas(&s->quota, &w, w - 1)) {
        }
        if ((flags & APIKEY_CHARGE_LEASED) && lease_of(t, s)) {
            apikey_quota_lease_unit_back(lease_of(t, s), period);
        }
    }
}

void apikey_limit_table_peek(apikey_limit_table_t *t,
                             const apikey_slot_key_t *key,
                             const apikey_quota_t *quota, long long now,
                             int flags, apikey_charge_t *out)
{
    int reset = 0;
    slot_t *s = apikey_slot_of(t, key, now, &reset);

    out->quota_used = 0;
    out->quota_remaining = quota->limit;
    out->quota_reset_us = apikey_period_end(quota->period, now) - now;
    if (s && quota->limit) {
        quota_peek(s, (flags & APIKEY_CHARGE_LEASED) ? lease_of(t, s) : NULL,
                   quota, period_of(quota->period, now), out);
    }
}

int apikey_limit_table_view(apikey_limit_table_t *t, unsigned i,
                            apikey_quota_view_t *v)
{
    slot_t *s;
    lease_t *l;
    apr_uint64_t w;
    size_t k;

    if (!(s = slot_held(t, i, &w))) {
        return 0;
    }
    l = lease_of(t, s);
    /* A leased key's id is whole in its lease; another's may be cut.  A
     * lease not named for the slot's key is a former key's: not shown. */
    v->leased = l && __atomic_load_n(&l->store, __ATOMIC_ACQUIRE) != 0
                && lease_names_slot(l, s);
    if (v->leased) {
        memcpy(v->id, l->id, sizeof(l->id));
        v->id[sizeof(l->id) - 1] = '\0';
        v->id_cut = 0;
    }
    else {
        memcpy(v->id, s->id, sizeof(s->id));
        v->id[sizeof(s->id) - 1] = '\0';
        v->id_cut = s->id_cut != 0;
    }
    memcpy(v->owner, s->owner_name, sizeof(s->owner_name));
    v->owner[sizeof(s->owner_name) - 1] = '\0';
    v->store = s->keystore;
    v->query = s->query;
    v->budget = s->budget;
    /* Racy copies of display strings: no control characters.  An id is
     * ASCII; an owner may be UTF-8 (cut at the slot's 24 bytes, perhaps in
     * the middle of a character, which the status page's writers mend). */
    for (k = 0; v->id[k]; k++) {
        if ((unsigned char)v->id[k] < ' ' || (unsigned char)v->id[k] > '~') {
            v->id[k] = '?';
        }
    }
    for (k = 0; v->owner[k]; k++) {
        if ((unsigned char)v->owner[k] < ' ' || v->owner[k] == 0x7f) {
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
    v->lease_period = v->lease_units = v->cluster_claimed = 0;
    if (v->leased) {
        apr_uint64_t lw = load(&l->lease);

        if (PERIOD_TYPE(APIKEY_QUOTA_PERIOD(lw)) == (unsigned)v->period) {
            v->lease_period = APIKEY_QUOTA_PERIOD(lw) & 0x3fffffffUL;
            v->lease_units = APIKEY_QUOTA_COUNT(lw);
        }
        v->cluster_claimed = load_32(&l->claimed);
    }
    return 1;
}

int apikey_limit_table_full_log_due(apikey_limit_table_t *t, long long now,
                                    long long interval_us)
{
    apr_uint64_t last = load(&t->h.word);

    return (long long)last + interval_us <= now
           && cas(&t->h.word, &last, (apr_uint64_t)now);
}

/* The state file: its magic, the slot count, a key's bytes (the table's
 * header's slot size: with leases or without), the seed, then the slots
 * and, when there are, the leases. */
int apikey_limit_table_save(apikey_limit_table_t *t, const char *path)
{
    char tmp[4096];
    FILE *f;
    lease_t *l = lease_of(t, slots(t));

    /* Written by the parent, as root: a temporary name nobody can guess
     * or plant a link at, mode 0600 (the file holds the table's seed). */
    if (!(f = apikey_file_create_temp(path, tmp, sizeof(tmp)))) {
        return -1;
    }
    return apikey_file_commit(
        f, tmp, path,
        fputs(FILE_MAGIC, f) >= 0
            && fwrite(&t->h.nslots, sizeof(t->h.nslots), 1, f) == 1
            && fwrite(&t->h.slot_size, sizeof(t->h.slot_size), 1, f) == 1
            && fwrite(t->h.seed, APIKEY_QUOTA_SEED_LEN, 1, f) == 1
            && fwrite(slots(t), sizeof(slot_t), t->h.nslots, f) == t->h.nslots
            && (!l
                || fwrite(l, sizeof(lease_t), t->h.nslots, f) == t->h.nslots));
}

int apikey_limit_table_load(apikey_limit_table_t *t, const char *path)
{
    const size_t magic = sizeof(FILE_MAGIC) - 1,
                 head =
                     magic + 2 * sizeof(apr_uint32_t) + APIKEY_QUOTA_SEED_LEN;
    unsigned char h[sizeof(FILE_MAGIC) - 1 + 2 * sizeof(apr_uint32_t)
                    + APIKEY_QUOTA_SEED_LEN];
    size_t want, got;
    unsigned char *buf;
    apr_uint32_t n, size;
    int leases;
    unsigned i;
    lease_t *l = lease_of(t, slots(t));
    /* Not a link, not a file another user could have written. */
    FILE *f = apikey_file_open_private(path);

    if (!f) {
        return -1;
    }
    /* The header, then the rest whole, one byte more than the header says:
     * a file cut short or too long is refused before anything is applied.
     * A file of a table with leases restores into one without (the slots)
     * and the other way round (the leases start empty). */
    if (fread(h, 1, head, f) != head || memcmp(h, FILE_MAGIC, magic)) {
        fclose(f);
        errno = EINVAL;
        return -1;
    }
    memcpy(&n, h + magic, sizeof(n));
    memcpy(&size, h + magic + sizeof(n), sizeof(size));
    leases = size == sizeof(slot_t) + sizeof(lease_t);
    if (n != t->h.nslots || (size != sizeof(slot_t) && !leases)) {
        fclose(f);
        errno = EINVAL;
        return -1;
    }
    want = (size_t)n * size;
    if (!(buf = malloc(want + 1))) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    got = fread(buf, 1, want + 1, f);
    fclose(f);
    if (got != want) {
        free(buf);
        errno = EINVAL;
        return -1;
    }
    memcpy(t->h.seed, h + magic + 2 * sizeof(n), APIKEY_QUOTA_SEED_LEN);
    for (i = 0; i < n; i++) {
        slot_t s;

        memcpy(&s, buf + (size_t)i * sizeof(slot_t), sizeof(s));
        /* Only slots that look whole are restored, and their leases. */
        if (s.owner && owner_valid(s.owner)) {
            slots(t)[i] = s;
            if (l && leases) {
                memcpy(l + i,
                       buf + (size_t)n * sizeof(slot_t)
                           + (size_t)i * sizeof(lease_t),
                       sizeof(lease_t));
            }
        }
    }
    free(buf);
    apikey_limit_table_recount(t);
    return 0;
}
