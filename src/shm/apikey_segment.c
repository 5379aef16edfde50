/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The header of a shared table (see apikey_segment.h). */

#include "apikey_segment.h"

#include <string.h>

int apikey_segment_init(void *mem, apr_size_t size, apr_uint64_t magic,
                        apr_uint32_t nslots, apr_uint32_t slot_size,
                        const unsigned char seed[APIKEY_SEGMENT_SEED_LEN],
                        int adopt)
{
    apikey_segment_header_t *h = mem;

    if (adopt && __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == magic
        && h->nslots == nslots && h->slot_size == slot_size) {
        return 1;
    }
    memset(mem, 0, size);
    h->nslots = nslots;
    h->slot_size = slot_size;
    memcpy(h->seed, seed, APIKEY_SEGMENT_SEED_LEN);
    __atomic_store_n(&h->magic, magic, __ATOMIC_RELEASE);
    return 0;
}

int apikey_segment_restore(void *mem, const apikey_segment_header_t *copy)
{
    apikey_segment_header_t *h = mem;
    int fixed = 0;

    if (__atomic_load_n(&h->nslots, __ATOMIC_RELAXED) != copy->nslots) {
        __atomic_store_n(&h->nslots, copy->nslots, __ATOMIC_RELAXED);
        fixed = 1;
    }
    if (__atomic_load_n(&h->slot_size, __ATOMIC_RELAXED) != copy->slot_size) {
        __atomic_store_n(&h->slot_size, copy->slot_size, __ATOMIC_RELAXED);
        fixed = 1;
    }
    if (memcmp(h->seed, copy->seed, APIKEY_SEGMENT_SEED_LEN)) {
        memcpy(h->seed, copy->seed, APIKEY_SEGMENT_SEED_LEN);
        fixed = 1;
    }
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != copy->magic) {
        __atomic_store_n(&h->magic, copy->magic, __ATOMIC_RELEASE);
        fixed = 1;
    }
    return fixed;
}
