/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * SipHash-2-4 with its 128-bit output (Aumasson and Bernstein, the
 * reference siphash.c with outlen 16): a keyed pseudo-random function.  The
 * look-up cache names a presented key by it, under a secret drawn at every
 * start, instead of computing the key's SHA-256 digest on every request
 * (docs/security.md says why that is as safe). */
#ifndef APIKEY_SIPHASH_H
#define APIKEY_SIPHASH_H

#include <stddef.h>

#include "apr.h"

#define APIKEY_SIPHASH_KEY_LEN 16

/* The 128-bit SipHash-2-4 of len bytes at in under key: out[0] is the
 * reference implementation's first eight output bytes read little-endian,
 * out[1] the last eight. */
void apikey_siphash128(const unsigned char key[APIKEY_SIPHASH_KEY_LEN],
                       const void *in, size_t len, apr_uint64_t out[2]);

#endif /* APIKEY_SIPHASH_H */
