/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The lease half of a charge (apikey_lease.c), for the charge in
 * apikey_limit_table.c: the one way the two halves of the limit table
 * depend on each other.  Private to them. */
#ifndef APIKEY_LEASE_H
#define APIKEY_LEASE_H

#include "apikey_slot.h"

/* The quota of a leased charge: returns 0 when the charge ends there (out
 * says why: no units held and a lease to claim, the quota spent, the store
 * down), 2 when admitted on the server's own count (fallback=local), else
 * 1 with the period the unit came from in *from (0 when none was taken:
 * report only). */
int apikey_quota_lease_charge(slot_t *s, lease_t *l,
                              const apikey_quota_t *quota, unsigned long period,
                              int flags, apikey_charge_t *out,
                              unsigned long *from);

/* The unit lease_put kept for a prepaid charge goes back to the lease
 * (the rate limit refused the request), while the lease is still of that
 * period, or empty: a sync may have drained it meanwhile, and handed back
 * all but this unit, which the next sync hands back. */
void apikey_quota_lease_unit_back(lease_t *l, unsigned long period);

/* The units of period used as far as this server knows: what the cluster
 * has claimed less what this server still holds. */
unsigned long apikey_quota_lease_used(lease_t *l, unsigned long period);

#endif /* APIKEY_LEASE_H */
