/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The failure table: failed authentications per client address, one
 * 64-bit word a client (a GCRA time and a tag, changed by one
 * compare-and-swap) in memory that every child shares.  No lock, no
 * request_rec: unit tests hammer it from forked processes. */
#ifndef APIKEY_FAILURE_TABLE_H
#define APIKEY_FAILURE_TABLE_H

#include "apr.h"

#include "apikey_limit.h"
#include "apikey_segment.h"

#define APIKEY_FAILURE_SEED_LEN APIKEY_SEGMENT_SEED_LEN
/* Slots a client may live in, from its hash on. */
#define APIKEY_FAILURE_PROBES 8

typedef struct apikey_failure_table_t apikey_failure_table_t;

apr_size_t apikey_failure_table_size(unsigned nslots);

/* Lays a table out in mem, or adopts the one already there when it has the
 * same layout (a restart keeping the memory): returns the table and sets
 * *adopted, or NULL when size is too small. */
apikey_failure_table_t *
apikey_failure_table_init(void *mem, apr_size_t size, unsigned nslots,
                          const unsigned char seed[APIKEY_FAILURE_SEED_LEN],
                          int *adopted);

/* 1 when the client whose address is addr (len bytes) has used up the
 * failures rate allows at now, with the wait in *retry_us; else 0. */
int apikey_failure_table_blocked(apikey_failure_table_t *t, const void *addr,
                                 apr_size_t len, const apikey_rate_t *rate,
                                 long long now, long long *retry_us);

/* Records one failed authentication of the client at now.  Returns the
 * failures it has left (0: it is blocked from now on), or -1 when it was
 * blocked already (a concurrent request got there first). */
long long apikey_failure_table_record(apikey_failure_table_t *t,
                                      const void *addr, apr_size_t len,
                                      const apikey_rate_t *rate, long long now);

#endif /* APIKEY_FAILURE_TABLE_H */
