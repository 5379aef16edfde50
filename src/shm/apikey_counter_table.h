/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The counter table: the status page's counters (requests by result, cache
 * answers...) as rows of shared memory, one row a process, so that no
 * request writes a cache line another process writes; a reader sums them.
 * A row is split into lanes, one cache-line-aligned cell of counters each,
 * that the threads of the process spread over.  A process claims a free
 * row, or the row of a process that has exited (its totals kept: nothing
 * counted goes back); with none left it counts in the overflow row, which
 * any number of processes share.  Every add is an atomic add, so a row or
 * lane shared by mistake (a row released while a thread still counts, the
 * overflow) still counts exactly: owning a row only keeps cache lines
 * apart.  No lock, no httpd: unit tests fork processes over it. */
#ifndef APIKEY_COUNTER_TABLE_H
#define APIKEY_COUNTER_TABLE_H

#include "apr.h"

/* What a process knows of the table: its bounds, fixed when the table was
 * laid out or adopted, never read back from the shared memory. */
typedef struct {
    char *base;
    unsigned nrows;   /* rows a process may claim; row nrows is the overflow */
    unsigned nlanes;  /* cells a row */
    unsigned nfields; /* 64-bit counters a cell */
    apr_size_t cell_size, row_size;
} apikey_counter_table_t;

/* Bytes of a table of nrows rows (the overflow row besides) of nlanes
 * cells of nfields counters. */
apr_size_t apikey_counter_table_size(unsigned nrows, unsigned nlanes,
                                     unsigned nfields);

/* Lays a table out in the size bytes at mem, or adopts the one there when
 * it has this layout (a restart keeping the memory: every row's totals
 * and owner kept).  Returns 1 adopted, 0 laid out anew, -1 when the
 * arguments do not fit in size (t is then unusable). */
int apikey_counter_table_init(apikey_counter_table_t *t, void *mem,
                              apr_size_t size, unsigned nrows, unsigned nlanes,
                              unsigned nfields);

/* Claims a row for process pid: a free one, else one whose owner has
 * exited (kill(owner, 0) says ESRCH), whose totals it goes on adding to;
 * *took_over says which.  Returns the row, or nrows (the overflow row)
 * when every row belongs to a live process. */
unsigned apikey_counter_table_claim(const apikey_counter_table_t *t,
                                    apr_uint32_t pid, int *took_over);

/* Frees row for the next process when pid still owns it; its totals stay. */
void apikey_counter_table_release(const apikey_counter_table_t *t, unsigned row,
                                  apr_uint32_t pid);

/* The pid that owns row, 0 when none. */
apr_uint32_t apikey_counter_table_owner(const apikey_counter_table_t *t,
                                        unsigned row);

/* Adds n to counter field of cell lane of row (lane taken modulo the
 * lanes; a row past the table counts in the overflow row). */
void apikey_counter_table_add(const apikey_counter_table_t *t, unsigned row,
                              unsigned lane, unsigned field, apr_uint64_t n);

/* out[field] = the sum of that counter over every cell of every row.  Each
 * counter only grows, so a later sum is never smaller than an earlier
 * one, adds racing with it or not. */
void apikey_counter_table_sum(const apikey_counter_table_t *t,
                              apr_uint64_t *out);

#endif /* APIKEY_COUNTER_TABLE_H */
