/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The header every shared table starts with (the look-up cache, the
 * failure table, the limit table): a magic word, the slot count and size
 * that bound every index, one word of the table's own, the seed of its
 * hashes.  Laying a table out or adopting the one a previous generation of
 * children left (a graceful restart), and putting a header scribbled over
 * back from a process's copy, are done here once for all of them.  No
 * httpd here: src/httpd/apikey_shm.c finds or makes the memory. */
#ifndef APIKEY_SEGMENT_H
#define APIKEY_SEGMENT_H

#include "apr.h"

/* Bytes of a table's hash seed. */
#define APIKEY_SEGMENT_SEED_LEN 16

/* 40 bytes; a table's header adds its own to fill a cache line. */
typedef struct {
    apr_uint64_t
        magic; /* written last: a table whose magic reads is laid out */
    apr_uint32_t nslots;
    apr_uint32_t slot_size;
    apr_uint64_t word; /* the table's own (a generation, a time) */
    unsigned char seed[APIKEY_SEGMENT_SEED_LEN];
} apikey_segment_header_t;

/* Lays a table out in the size bytes at mem, or, with adopt, keeps the
 * one there when its magic, slot count and slot size are these (its
 * counts, seed and word with it).  Laid out: zeroed, the header written,
 * the magic last.  Returns 1 when adopted, 0 when laid out anew. */
int apikey_segment_init(void *mem, apr_size_t size, apr_uint64_t magic,
                        apr_uint32_t nslots, apr_uint32_t slot_size,
                        const unsigned char seed[APIKEY_SEGMENT_SEED_LEN],
                        int adopt);

/* Compares the header at mem with copy (what it was when the process set
 * it up) and writes copy back where they differ, the word aside; returns 1
 * when it restored anything, else 0.  Every process restoring at once
 * writes the same words. */
int apikey_segment_restore(void *mem, const apikey_segment_header_t *copy);

#endif /* APIKEY_SEGMENT_H */
