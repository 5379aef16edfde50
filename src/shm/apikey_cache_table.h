/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The look-up cache's table: fixed-size slots in one block of memory that
 * every child shares, read without any lock.
 *
 * An entry is named by a tag: SipHash-2-4-128 of the look-up's scope and
 * the presented key under the table's secret seed (apikey_cache_table_tag),
 * so a cached key costs no SHA-256 and the table holds no digest of the
 * store's.  Entries live in slots of 256 bytes; the few records that need
 * more (long restriction lists) go to a second region of 1 KiB slots, a
 * sixteenth as many.
 *
 * Each slot carries a sequence number, odd while a writer fills it.  A
 * reader copies the slot and keeps the copy only if the number was even and
 * unchanged across the copy (a seqlock), so a reader never blocks and never
 * sees a torn entry; a writer claims a slot with one compare-and-swap and
 * gives up when it is taken.  A global generation number invalidates every
 * entry at once (a key revoked or changed in the database).  No httpd here,
 * so unit tests can hammer it from forked processes. */
#ifndef APIKEY_CACHE_TABLE_H
#define APIKEY_CACHE_TABLE_H

#include "apr.h"

#include "apikey_key.h"
#include "apikey_segment.h"

/* A slot: 40 bytes of header, then the record. */
#define APIKEY_CACHE_SLOT_SIZE       256
#define APIKEY_CACHE_LARGE_SLOT_SIZE 1024
#define APIKEY_CACHE_SLOT_HEADER     40
/* One large slot for this many slots. */
#define APIKEY_CACHE_LARGE_SHARE 16
#define APIKEY_CACHE_WAYS        4
/* The longest record in a slot, and in a large one: callers' buffers. */
#define APIKEY_CACHE_SMALL_DATA_MAX                                            \
    (APIKEY_CACHE_SLOT_SIZE - APIKEY_CACHE_SLOT_HEADER)
#define APIKEY_CACHE_DATA_MAX                                                  \
    (APIKEY_CACHE_LARGE_SLOT_SIZE - APIKEY_CACHE_SLOT_HEADER)
#define APIKEY_CACHE_SEED_LEN APIKEY_SEGMENT_SEED_LEN

/* What names an entry: see apikey_cache_table_tag. */
typedef struct {
    apr_uint64_t w[2];
} apikey_cache_tag_t;

typedef struct apikey_cache_table_t apikey_cache_table_t;

typedef enum {
    APIKEY_CACHE_MISS = 0,
    APIKEY_CACHE_HIT,     /* a key, its data copied out */
    APIKEY_CACHE_NEGATIVE /* known to be absent from the store */
} apikey_cache_answer_t;

/* Bytes needed for nslots slots (rounded up to whole buckets), their share
 * of large slots and the state of nservers servers. */
apr_size_t apikey_cache_table_size(unsigned nslots, unsigned nservers);

/* Lays a table out in mem (size bytes from apikey_cache_table_size, zeroed
 * or not).  seed keys the tags: it must be secret (drawn at start-up, never
 * written anywhere), so that no one can compute a key's tag, choose keys
 * that collide, or find a key for a cached tag.  Returns the table, or NULL
 * when size is too small. */
apikey_cache_table_t *
apikey_cache_table_init(void *mem, apr_size_t size, unsigned nslots,
                        unsigned nservers,
                        const unsigned char seed[APIKEY_CACHE_SEED_LEN]);

/* The tag of a key of len bytes presented to the look-up scope (which
 * store, which statement). */
void apikey_cache_table_tag(const apikey_cache_table_t *t, apr_uint64_t scope,
                            const char *key, apr_size_t len,
                            apikey_cache_tag_t *tag);

/* As apikey_cache_table_lookup, without the entry's strict flag. */
apikey_cache_answer_t apikey_cache_table_get(apikey_cache_table_t *t,
                                             const apikey_cache_tag_t *tag,
                                             apr_int64_t now, char *data,
                                             apr_size_t *len);

/* Looks tag up at time now (any clock, the same as put's).  On a hit
 * copies the entry's data into data (at least APIKEY_CACHE_DATA_MAX bytes)
 * and its length into *len; on a hit or negative hit, *strict gets whether
 * the entry was put with APIKEY_CACHE_FLAG_STRICT. */
apikey_cache_answer_t apikey_cache_table_lookup(apikey_cache_table_t *t,
                                                const apikey_cache_tag_t *tag,
                                                apr_int64_t now, char *data,
                                                apr_size_t *len, int *strict);

/* The current generation.  Read it before asking the store and give it to
 * apikey_cache_table_put: an answer fetched before an invalidation is then
 * never served after it. */
apr_uint32_t apikey_cache_table_generation(apikey_cache_table_t *t);

/* Flags of a put. */
#define APIKEY_CACHE_FLAG_NEGATIVE 1 /* the key is not in the store */
#define APIKEY_CACHE_FLAG_STRICT   2 /* the key passed the checksum check */

/* Stores an entry valid until expires, as of generation gen: data of len
 * bytes (at most APIKEY_CACHE_DATA_MAX; more than APIKEY_CACHE_SMALL_DATA_MAX
 * goes to a large slot), or, with APIKEY_CACHE_FLAG_NEGATIVE in flags, the
 * absence of the key.  A
 * negative entry never evicts a live positive one.  Returns 1 when stored,
 * 0 when the slot was busy, the data too long or no slot could be given. */
int apikey_cache_table_put(apikey_cache_table_t *t,
                           const apikey_cache_tag_t *tag, apr_uint32_t gen,
                           apr_int64_t now, apr_int64_t expires,
                           const char *data, apr_size_t len, int flags);

/* Invalidates every entry. */
void apikey_cache_table_invalidate(apikey_cache_table_t *t);

/* Per-server state for the change-marker poller: whether requests used the
 * server's key store, and the last marker seen there. */
void apikey_cache_table_mark_used(apikey_cache_table_t *t, unsigned server);
int apikey_cache_table_used(apikey_cache_table_t *t, unsigned server);

/* Whether a change marker of the server is recorded. */
int apikey_cache_table_has_marker(apikey_cache_table_t *t, unsigned server);

/* Records a server's change marker; returns 1 when it differs from the one
 * recorded before (or none was), 0 when unchanged. */
int apikey_cache_table_marker(apikey_cache_table_t *t, unsigned server,
                              apr_int64_t marker);

#endif /* APIKEY_CACHE_TABLE_H */
