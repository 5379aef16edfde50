/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The limit table: one slot of 128 bytes per key (and, when some server
 * keeps quotas in the store, a lease of 112 bytes beside it), in memory
 * that every child of every generation shares, charged with 64-bit
 * compare-and-swap only.  No lock: a child killed at any instant leaves every
 * word whole. No httpd here, so unit tests hammer it from forked processes. */
#ifndef APIKEY_LIMIT_TABLE_H
#define APIKEY_LIMIT_TABLE_H

#include "apr.h"

#include "apikey_limit.h"
#include "apikey_segment.h"

#define APIKEY_QUOTA_SLOT_SIZE  128
#define APIKEY_QUOTA_LEASE_SIZE 112
#define APIKEY_QUOTA_SEED_LEN   APIKEY_SEGMENT_SEED_LEN
/* Slots a key may live in, from its hash on.  A key is refused only when
 * this many slots in a row are taken: with linear probing, runs grow long
 * well before the table is full (16 refused one key in 45 at 80 % full and
 * one in 2,500 at 50 %; the longest run in a million keys at 80 % was 226
 * slots).  The whole window is read only for a key new to the table. */
#define APIKEY_QUOTA_PROBES 512
/* A slot whose windows have expired is reused only after this long
 * untouched, so that no request can still be charging its old key. */
#define APIKEY_QUOTA_REUSE_AFTER (10 * 1000000LL)
/* How far back a clock may step and still find its counts kept: a quota
 * count of a period up to this far ahead (or of the next period), and a
 * rate limit's TAT up to this far beyond a whole burst, are never reset,
 * so a spent quota or burst is not granted again.  Further ahead they
 * cannot come from this clock's charges (corrupt, or a clock that was
 * wrong then): they are reset and the charge says so (repaired). */
#define APIKEY_QUOTA_CLOCK_SLACK (86400 * 1000000LL)

typedef struct apikey_limit_table_t apikey_limit_table_t;

/* Whose counters a slot holds: a key id, in a store.  Ids are only unique
 * within a store (two virtual hosts with their own legacy tables may each
 * have a key 1), so a slot is the key's id with the identity of its store
 * (the server's DBDriver and DBDParams, never 0) and of the look-up
 * statement that found it (0: the default one). */
typedef struct {
    const char *id;
    apr_uint32_t store;
    apr_uint32_t query;
    /* For the status page: which budget the slot counts, as the caller
     * numbers them (0: the key's one budget).  What tells budgets apart is
     * in id and query: the caller folds it in. */
    apr_uint32_t budget;
} apikey_slot_key_t;

/* The longest key id a slot keeps whole (the schemas' VARCHAR(64)): a
 * cluster-wide quota gives its units back under this id. */
#define APIKEY_QUOTA_ID_MAX 64

typedef enum {
    APIKEY_CHARGE_ADMIT = 0,
    APIKEY_CHARGE_RATE_LIMITED,
    APIKEY_CHARGE_QUOTA_EXCEEDED,
    APIKEY_CHARGE_FULL, /* no slot for the key: fail closed */
    /* Leased quotas only: */
    APIKEY_CHARGE_NEED_LEASE, /* no units held: claim lease_want, then
                                 charge again with APIKEY_CHARGE_PREPAID */
    APIKEY_CHARGE_STORE_DOWN  /* none held and the store did not answer
                                 since the last sync: fail closed */
} apikey_charge_result_t;

/* Flags of a charge:
 * REPORT   count, never refuse;
 * LEASED   the quota is admitted from the key's lease of cluster-wide
 *          units;
 * PREPAID  with LEASED: the quota unit of this request is taken
 *          (apikey_limit_table_lease_put); charge the rate limit only;
 * FALLBACK with LEASED: when the store does not answer, admit up to the
 *          quota on this server's own count, and owe the store those
 *          units. */
#define APIKEY_CHARGE_REPORT   1
#define APIKEY_CHARGE_LEASED   2
#define APIKEY_CHARGE_PREPAID  4
#define APIKEY_CHARGE_FALLBACK 8
/* SPARE: a client that may not take a slot of its own once half the table
 * is used (anonymous clients: many addresses must not crowd keys out);
 * the charge is then FULL. */
#define APIKEY_CHARGE_SPARE 16

typedef struct {
    apikey_charge_result_t result;
    int repaired;       /* the key's slot was invalid and was reset */
    long long retry_us; /* when refused: how long until it would pass */
    long long rate_remaining, rate_reset_us;
    unsigned long quota_used, quota_remaining;
    long long quota_reset_us;
    /* NEED_LEASE: units to claim, for the period numbered lease_period
     * (the store's period column). */
    unsigned long lease_want, lease_period;
} apikey_charge_t;

/* A slot as the status page shows it. */
typedef struct {
    char id[APIKEY_QUOTA_ID_MAX + 1];
    int id_cut; /* the id is longer than its slot keeps: id is its start */
    char owner[26];
    apr_uint32_t store, query, budget; /* the key's (apikey_slot_key_t) */
    long long tat, last_used;
    /* The quota's current count: the period it belongs to (an index of
     * the slot's period type, as apikey_period_index gives; a period
     * after now's when the clock stepped back, whose count still
     * applies) and the count. */
    unsigned long quota_period, quota_count;
    unsigned long quota_limit;
    apikey_period_t period;
    long long rate_interval_us, burst;
    /* A leased (cluster-wide) quota: quota_count is this server's
     * admissions; the units it holds (of the period lease_period, an index
     * as quota_period), and the cluster's units claimed when it last asked
     * the store; else 0. */
    int leased;
    unsigned long lease_period, lease_units, cluster_claimed;
} apikey_quota_view_t;

/* The bytes of a table of nslots keys, with leases (cluster-wide quotas:
 * some server has AuthAPIKeyQuotaStore dbd) or without. */
apr_size_t apikey_limit_table_size(unsigned nslots, int leases);

/* Lays a table out in mem, or adopts the one already there when it has the
 * same layout (a restart keeping the memory): returns the table and sets
 * *adopted, or NULL when size is too small.  A table without leases
 * refuses a leased charge (STORE_DOWN: fail closed). */
apikey_limit_table_t *
apikey_limit_table_init(void *mem, apr_size_t size, unsigned nslots, int leases,
                        const unsigned char seed[APIKEY_QUOTA_SEED_LEN],
                        int *adopted);

/* Charges one request of key (owner for display) at now against rate
 * and quota (either may be unlimited: interval 0, limit 0).  flags are
 * APIKEY_CHARGE_* bits.  With REPORT, counts but never refuses (results
 * still say what enforcing would have done).
 *
 * With LEASED, the quota is the cluster's: a request takes one unit of the
 * units this server holds (its lease), lock-free, and counts it in the
 * slot's own word too (this server's admissions, for the status page and
 * the lease size).  With none held the result is NEED_LEASE: the caller
 * claims lease_want units from the store, hands them over with
 * apikey_limit_table_lease_put (which keeps one for the request) and
 * charges again with LEASED | PREPAID.  When the store said since the last
 * sync that nothing is left (or did not answer), the result is
 * QUOTA_EXCEEDED (or STORE_DOWN) without asking it again; with FALLBACK, a
 * store that did not answer is replaced by this server's count of its own
 * admissions, held to the quota, and what is admitted so is owed to the
 * store (see apikey_limit_table_lease_drain). */
void apikey_limit_table_charge(apikey_limit_table_t *t,
                               const apikey_slot_key_t *key, const char *owner,
                               const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int flags, apikey_charge_t *out);

/* Undoes an admitted charge of key at now (a request another of its
 * windows refused): its rate limit's interval and its quota's unit (to the
 * lease, with LEASED) come back, while they are of the same period.  Not
 * for REPORT charges, which refuse nothing. */
void apikey_limit_table_refund(apikey_limit_table_t *t,
                               const apikey_slot_key_t *key,
                               const apikey_rate_t *rate,
                               const apikey_quota_t *quota, long long now,
                               int flags);

/* What the headers say of key's quota that a request did not reach
 * (another limit refused it first): its count as it stands, in out's
 * quota_used, quota_remaining and quota_reset_us. */
void apikey_limit_table_peek(apikey_limit_table_t *t,
                             const apikey_slot_key_t *key,
                             const apikey_quota_t *quota, long long now,
                             int flags, apikey_charge_t *out);

/* Leases (see apikey_limit_table_charge).  Hands units claimed from the
 * store for key id's quota in period (a NEED_LEASE's lease_period) to its
 * slot, keeping one for the request; claimed is the cluster's total
 * claimed units the store reported (all ones: not read, add units to the
 * last known), store a non-zero identity of the store they came from
 * (where a sync gives unused units back), the same across restarts.  Returns 1,
 * or 0 when the slot cannot take them (it was taken over, or holds a later
 * period's units after the clock stepped back): then the caller gives all units
 * back to the store. */
int apikey_limit_table_lease_put(apikey_limit_table_t *t,
                                 const apikey_slot_key_t *key,
                                 const apikey_quota_t *quota, long long now,
                                 unsigned long period, unsigned long units,
                                 unsigned long claimed, apr_uint32_t store);

/* Records what the store answered a claim with nothing to give: the quota
 * is used up (full 1) or the store failed (full 0).  Requests that find no
 * units then fail without asking it, until the next sync.  store as for
 * apikey_limit_table_lease_put (where owed units go). */
void apikey_limit_table_lease_dry(apikey_limit_table_t *t,
                                  const apikey_slot_key_t *key,
                                  const apikey_quota_t *quota, long long now,
                                  int full, apr_uint32_t store);

/* What a sync takes back from a slot. */
typedef struct {
    char id[APIKEY_QUOTA_ID_MAX + 1];
    unsigned long period; /* the period field the units were claimed in */
    unsigned long units;
    /* Units admitted while the store did not answer (FALLBACK), in the
     * period owed_period: to be added to the store's count. */
    unsigned long owed, owed_period;
    apr_uint32_t store; /* the store that holds the quota */
    apr_uint32_t query; /* the key's look-up statement (its rows' names) */
} apikey_lease_return_t;

/* The sync of slot i at now: sizes the key's next lease from its
 * admissions since the last sync, forgets what the store answered, and
 * takes back the units the slot holds for a current period and the units
 * it owes.  Returns 1 with what to give back (and to add) to the store in
 * *out, else 0. */
int apikey_limit_table_lease_drain(apikey_limit_table_t *t, unsigned i,
                                   long long now, apikey_lease_return_t *out);

/* When the store could not take drained units back: they return to slot
 * i's lease (this server spends them) while it holds none of another
 * period, and what was owed is owed again.  Returns 1, or 0 when the
 * units were dropped. */
int apikey_limit_table_lease_restore(apikey_limit_table_t *t, unsigned i,
                                     const apikey_lease_return_t *r);

/* After slot i's drained units went back to the store: they are no
 * longer among the cluster's claimed units as this server knows them (the
 * remaining count of the headers and the status page). */
void apikey_limit_table_lease_returned(apikey_limit_table_t *t, unsigned i,
                                       unsigned long units);

/* Copies slot i when it is in use and valid; returns 1, else 0. */
int apikey_limit_table_view(apikey_limit_table_t *t, unsigned i,
                            apikey_quota_view_t *v);

unsigned apikey_limit_table_slots(apikey_limit_table_t *t);

/* The header words every slot depends on: the slot count and size bound
 * every index, the seed makes every key's owner word.  A process keeps a
 * copy from when the table is set up (children inherit it), so that memory
 * scribbled over there cannot send a charge outside the table (a crash at
 * every request of a limited key) nor lose every key's slot (all quotas
 * granted again). */
void apikey_limit_table_header_get(apikey_limit_table_t *t,
                                   apikey_segment_header_t *h);

/* Compares t's header with h and writes h back where they differ (with the
 * table's magic); returns 1 when it restored anything, else 0.  Every
 * process restoring at once writes the same words. */
int apikey_limit_table_header_check(apikey_limit_table_t *t,
                                    const apikey_segment_header_t *h);

/* 1 when the caller should log "table full" now: at most once per
 * interval_us across all processes. */
int apikey_limit_table_full_log_due(apikey_limit_table_t *t, long long now,
                                    long long interval_us);

/* Writes the table to path (via a temporary file renamed over it) and
 * reads it back: 0 or -1 with errno set.  Loading keeps only valid slots
 * and requires the same number of slots. */
int apikey_limit_table_save(apikey_limit_table_t *t, const char *path);
int apikey_limit_table_load(apikey_limit_table_t *t, const char *path);

/* Slots in use (ever claimed: they are taken over, never freed), counted
 * as they are claimed; recount scans them (after a load, an adoption). */
unsigned apikey_limit_table_used(apikey_limit_table_t *t);
void apikey_limit_table_recount(apikey_limit_table_t *t);

/* 1 once in the table's life (the first caller to see it), when at least
 * percent of its slots are in use; else 0.  No write until then. */
int apikey_limit_table_filling(apikey_limit_table_t *t, unsigned percent);

#endif /* APIKEY_LIMIT_TABLE_H */
