/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Leases of cluster-wide quotas in the limit table (see
 * apikey_limit_table.h): the units a server holds of a key's quota, taken
 * one per request by compare-and-swap, put by the claims the module makes
 * from the store, drained by the sync; and, with fallback=local, what the
 * server admitted on its own count while the store did not answer. */

#include "apikey_lease.h"

#include <string.h>

/* The most units a claim asks for: a sixteenth of the quota, so that
 * leases held across a fleet leave most of it to whichever server needs
 * it. */
static unsigned long lease_cap(unsigned long limit)
{
    return limit / 16 ? limit / 16 : 1;
}

static unsigned long lease_want(lease_t *l, unsigned long limit)
{
    unsigned long n = load_32(&l->lease_size);

    return n < 1 ? 1 : n > lease_cap(limit) ? lease_cap(limit) : n;
}

/* Takes one unit of the lease for period (or, the clock having stepped
 * back, of a later period of the same type, as the quota count would):
 * returns the period field taken from, or 0 when none is held. */
static unsigned long lease_take(lease_t *l, apikey_period_t type,
                                unsigned long period)
{
    apr_uint64_t w = load(&l->lease);

    for (;;) {
        unsigned long p = APIKEY_QUOTA_PERIOD(w);

        if (PERIOD_TYPE(p) != (unsigned)type || p < period
            || APIKEY_QUOTA_COUNT(w) == 0) {
            return 0;
        }
        if (cas(&l->lease, &w, w - 1)) {
            return p;
        }
    }
}

/* Gives a unit back to the lease it was taken from, while the lease is
 * still of that period, or empty: a sync may have drained it meanwhile,
 * and handed back all but this unit, which the next sync hands back. */
void apikey_quota_lease_unit_back(lease_t *l, unsigned long period)
{
    apr_uint64_t w = load(&l->lease);

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
        if (cas(&l->lease, &w, nw)) {
            return;
        }
    }
}

/* Adds n units to an owed word for period (units owed for a period that
 * is over are dropped with it). */
static void owe(lease_t *l, unsigned long period, unsigned long long n)
{
    apr_uint64_t w = load(&l->owed);

    for (;;) {
        unsigned long long held =
            APIKEY_QUOTA_PERIOD(w) == period ? APIKEY_QUOTA_COUNT(w) : 0;

        /* Units owed for a later period are never replaced by an earlier
         * one's (a restore that comes late): the earlier ones are over. */
        if ((!held && APIKEY_QUOTA_COUNT(w)
             && PERIOD_TYPE(APIKEY_QUOTA_PERIOD(w)) == PERIOD_TYPE(period)
             && APIKEY_QUOTA_PERIOD(w) > period)
            || held + n > 0xffffffffULL
            || cas(&l->owed, &w, APIKEY_QUOTA_WORD(period, held + n))) {
            return;
        }
    }
}

/* A leased charge while the store does not answer, with FALLBACK: this
 * server's count of its admissions in the period, held to the quota, and
 * one unit owed to the store.  Returns 1 when admitted (on the count), 0
 * with QUOTA_EXCEEDED. */
static int charge_fallback(slot_t *s, lease_t *l, const apikey_quota_t *quota,
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
    owe(l, APIKEY_QUOTA_PERIOD(nw), 1);
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
unsigned long apikey_quota_lease_used(lease_t *l, unsigned long period)
{
    apr_uint64_t w = load(&l->lease);
    unsigned long held =
        APIKEY_QUOTA_PERIOD(w) == period ? APIKEY_QUOTA_COUNT(w) : 0;
    unsigned long claimed = load_32(&l->claimed);

    return claimed > held ? claimed - held : 0;
}

int apikey_quota_lease_charge(slot_t *s, lease_t *l,
                              const apikey_quota_t *quota, unsigned long period,
                              int flags, apikey_charge_t *out,
                              unsigned long *from)
{
    apr_uint64_t w, nw = 0;

    *from = period;
    if (!(flags & APIKEY_CHARGE_PREPAID)
        && !(*from = lease_take(l, quota->period, period))) {
        apr_uint64_t d = load(&l->dry);

        if (APIKEY_QUOTA_PERIOD(d) != period) {
            out->result = APIKEY_CHARGE_NEED_LEASE;
            out->lease_want = lease_want(l, quota->limit);
            out->lease_period = period;
            return 0;
        }
        if (APIKEY_QUOTA_COUNT(d) == DRY_DOWN
            && (flags & APIKEY_CHARGE_FALLBACK)) {
            return charge_fallback(s, l, quota, period, flags, out) ? 2 : 0;
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
    if (out->result != APIKEY_CHARGE_QUOTA_EXCEEDED) {
        out->quota_used = apikey_quota_lease_used(l, period);
    }
    out->quota_remaining =
        out->quota_used >= quota->limit ? 0 : quota->limit - out->quota_used;
    return 1;
}

/* Names the lease: the key's whole id and the store its units are of,
 * the id first (a sync reads the store, then the id).  Written only when
 * it changed: a lease is named at every claim. */
static void lease_name(lease_t *l, const apikey_slot_key_t *key,
                       apr_uint32_t store)
{
    if (strncmp(l->id, key->id, sizeof(l->id) - 1)) {
        strncpy(l->id, key->id, sizeof(l->id) - 1);
        l->id[sizeof(l->id) - 1] = '\0';
    }
    __atomic_store_n(&l->store, store, __ATOMIC_RELEASE);
}

int apikey_limit_table_lease_put(apikey_limit_table_t *t,
                                 const apikey_slot_key_t *key,
                                 const apikey_quota_t *quota, long long now,
                                 unsigned long period, unsigned long units,
                                 unsigned long claimed, apr_uint32_t store)
{
    int reset = 0;
    slot_t *s = apikey_slot_of(t, key, now, &reset);
    lease_t *l = s ? lease_of(t, s) : NULL;
    unsigned long size;
    apr_uint64_t w, nw;

    if (!l || units == 0 || !quota->limit) {
        return 0;
    }
    /* Where and under what id a sync gives them back: set before the
     * units are there. */
    lease_name(l, key, store);
    w = load(&l->lease);
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
        if (cas(&l->lease, &w, nw)) {
            break;
        }
    }
    if (claimed == (unsigned long)-1) {
        __atomic_fetch_add(&l->claimed, (apr_uint32_t)units, __ATOMIC_RELAXED);
    }
    else {
        __atomic_store_n(&l->claimed, (apr_uint32_t)claimed, __ATOMIC_RELEASE);
    }
    /* The next claim asks for twice as much, up to the cap: a busy key
     * that runs dry within a sync interval makes fewer round trips. */
    size = lease_want(l, quota->limit);
    size =
        size > lease_cap(quota->limit) / 2 ? lease_cap(quota->limit) : size * 2;
    __atomic_store_n(&l->lease_size, (apr_uint32_t)size, __ATOMIC_RELEASE);
    return 1;
}

void apikey_limit_table_lease_dry(apikey_limit_table_t *t,
                                  const apikey_slot_key_t *key,
                                  const apikey_quota_t *quota, long long now,
                                  int full, apr_uint32_t store)
{
    int reset = 0;
    slot_t *s = apikey_slot_of(t, key, now, &reset);
    lease_t *l = s ? lease_of(t, s) : NULL;

    if (l && quota->limit) {
        lease_name(l, key, store);
        __atomic_store_n(&l->dry,
                         APIKEY_QUOTA_WORD(period_of(quota->period, now),
                                           full ? DRY_FULL : DRY_DOWN),
                         __ATOMIC_RELEASE);
    }
}

int apikey_limit_table_lease_drain(apikey_limit_table_t *t, unsigned i,
                                   long long now, apikey_lease_return_t *out)
{
    slot_t *s;
    lease_t *l;
    apr_uint64_t w, lw, o;
    unsigned long count, before, spent, cap;
    apr_uint32_t store;
    size_t k;

    if (!(s = slot_held(t, i, &w)) || !(l = lease_of(t, s))
        || (store = __atomic_load_n(&l->store, __ATOMIC_ACQUIRE)) == 0) {
        return 0; /* no leased quota here */
    }
    /* The next lease: what this server admitted since the last sync. */
    count = APIKEY_QUOTA_COUNT(load(&s->quota));
    before = load_32(&l->synced);
    spent = count >= before ? count - before : count;
    __atomic_store_n(&l->synced, (apr_uint32_t)count, __ATOMIC_RELEASE);
    cap = lease_cap(load_32(&s->quota_limit));
    __atomic_store_n(&l->lease_size,
                     (apr_uint32_t)(spent < 1     ? 1
                                    : spent > cap ? cap
                                                  : spent),
                     __ATOMIC_RELEASE);
    /* Units can go back only under the key's whole id: a slot whose id
     * was scribbled over keeps what it holds (its key spends it), and a
     * lease not named for its slot's key gives nothing back. */
    if (!lease_names_slot(l, s)) {
        return 0;
    }
    memcpy(out->id, l->id, sizeof(out->id));
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
    __atomic_store_n(&l->dry, 0, __ATOMIC_RELEASE);
    lw = __atomic_exchange_n(&l->lease, 0, __ATOMIC_ACQ_REL);
    o = __atomic_exchange_n(&l->owed, 0, __ATOMIC_ACQ_REL);
    out->period = out->units = out->owed = out->owed_period = 0;
    if (APIKEY_QUOTA_COUNT(lw) && !period_over(APIKEY_QUOTA_PERIOD(lw), now)) {
        out->period = APIKEY_QUOTA_PERIOD(lw);
        out->units = APIKEY_QUOTA_COUNT(lw);
    }
    if (APIKEY_QUOTA_COUNT(o) && !period_over(APIKEY_QUOTA_PERIOD(o), now)) {
        out->owed_period = APIKEY_QUOTA_PERIOD(o);
        out->owed = APIKEY_QUOTA_COUNT(o);
    }
    if (!out->units && !out->owed) {
        return 0;
    }
    out->store = store;
    out->query = __atomic_load_n(&s->query, __ATOMIC_ACQUIRE);
    return 1;
}

int apikey_limit_table_lease_restore(apikey_limit_table_t *t, unsigned i,
                                     const apikey_lease_return_t *r)
{
    slot_t *s;
    lease_t *l;
    apr_uint64_t w;

    if (!(s = slot_at(t, i)) || !(l = lease_of(t, s))) {
        return 0;
    }
    if (r->owed) {
        owe(l, r->owed_period, r->owed);
    }
    if (!r->units) {
        return 1;
    }
    w = load(&l->lease);
    for (;;) {
        unsigned long long held =
            APIKEY_QUOTA_PERIOD(w) == r->period ? APIKEY_QUOTA_COUNT(w) : 0;

        if ((held == 0 && APIKEY_QUOTA_COUNT(w) != 0)
            || held + r->units > 0xffffffffULL) {
            return 0;
        }
        if (cas(&l->lease, &w, APIKEY_QUOTA_WORD(r->period, held + r->units))) {
            return 1;
        }
    }
}

void apikey_limit_table_lease_returned(apikey_limit_table_t *t, unsigned i,
                                       unsigned long units)
{
    slot_t *s = slot_at(t, i);
    lease_t *l = s ? lease_of(t, s) : NULL;
    apr_uint32_t *c;
    apr_uint32_t w, nw;

    if (!l) {
        return;
    }
    c = &l->claimed;
    w = __atomic_load_n(c, __ATOMIC_ACQUIRE);
    do {
        nw = w > units ? (apr_uint32_t)(w - units) : 0;
    } while (!__atomic_compare_exchange_n(c, &w, nw, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
}
