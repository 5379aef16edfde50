/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The shared memory of the module's tables (look-up cache, failure table,
 * limit table, counters): found again after a restart through httpd's
 * retained data, or made, with a fresh seed for its hashes.  Anonymous
 * segments made by the parent, inherited by children at fork: no file, no
 * attach. */
#ifndef APIKEY_SHM_H
#define APIKEY_SHM_H

#include "httpd.h"

#include "apikey_segment.h"

typedef struct {
    void *base;
    apr_size_t size;
    /* Kept from before a restart (a table to adopt), or made now (zeroed
     * by the kernel). */
    int kept;
    /* A kept segment of another size or shape was left to the children of
     * the previous generation, which still use it: its shape, and whether
     * only its size differed (another build's layout). */
    int replaced, relaid;
    unsigned old_shape;
} apikey_shm_t;

/* Finds or makes size bytes of shared memory for a table.  With key, the
 * segment comes from the process pool and is kept across restarts under
 * that retained-data key (name it for the layout: another build's layout
 * gets a segment of its own) while its size and shape (what else its
 * layout depends on: a slot count) stay the same; without, it is made from
 * pconf for this generation only.  APR_SUCCESS, or the error of the
 * creation (not logged: the caller says which table, and what to lower). */
apr_status_t apikey_shm_get(server_rec *s, apr_pool_t *pconf, const char *key,
                            apr_size_t size, unsigned shape, apikey_shm_t *shm);

/* A fresh seed for the hashes of the table called what ("the look-up
 * cache"): 0, or -1 when the system's random source failed (logged). */
int apikey_shm_seed(server_rec *s, const char *what,
                    unsigned char seed[APIKEY_SEGMENT_SEED_LEN]);

#endif /* APIKEY_SHM_H */
