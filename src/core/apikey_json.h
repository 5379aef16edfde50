/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * JSON strings, for the status page and htapikey alike: quoted, with '"',
 * '\' and control characters escaped, and every byte that is not part of
 * well-formed UTF-8 (a stray continuation byte, a sequence cut short, an
 * overlong form, a surrogate, past U+10FFFF) written as U+FFFD, so that
 * what a database column or a key's owner holds never makes the output
 * invalid JSON. */
#ifndef APIKEY_JSON_H
#define APIKEY_JSON_H

#include <stddef.h>

#include "apr_pools.h"

/* The most bytes the quoting of len bytes takes, its NUL included. */
#define APIKEY_JSON_MAX(len) (6 * (len) + 3)

/* Writes s quoted into out (APIKEY_JSON_MAX(strlen(s)) bytes, or 5 for
 * NULL, which is written as null) and returns the length written. */
size_t apikey_json_quote(char *out, const char *s);

/* The same, allocated from p. */
const char *apikey_json_str(apr_pool_t *p, const char *s);

/* A copy of s in p with every byte that is not part of well-formed UTF-8
 * replaced by U+FFFD (for text that is not JSON: the status page's HTML);
 * s itself when it is well-formed. */
const char *apikey_utf8_mend(apr_pool_t *p, const char *s);

/* The length (1 to 4) of the well-formed UTF-8 sequence at s, its code
 * point in *cp; 0 when the bytes there are none (or s is at its NUL). */
size_t apikey_utf8_decode(const char *s, unsigned long *cp);

#endif /* APIKEY_JSON_H */
