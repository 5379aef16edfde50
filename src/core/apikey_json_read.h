/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A strict reader of one flat JSON object (RFC 8259), for the lines of
 * htapikey import: string, number, true, false and null members, and arrays
 * of strings; nothing nested deeper. */
#ifndef APIKEY_JSON_READ_H
#define APIKEY_JSON_READ_H

#include <stddef.h>

#include "apr_pools.h"
#include "apr_tables.h"

/* Most members of an object, and most bytes of an object. */
#define APIKEY_JSON_MEMBERS_MAX 64
#define APIKEY_JSON_OBJECT_MAX  65536

typedef enum {
    APIKEY_JSON_NULL,
    APIKEY_JSON_STRING,
    APIKEY_JSON_NUMBER,
    APIKEY_JSON_BOOL,
    APIKEY_JSON_STRINGS
} apikey_json_type_t;

/* A member: its name (UTF-8, unescaped) and value.  value is NULL for
 * null; the unescaped text of a string (well-formed UTF-8, no NUL); a
 * number as written; "true" or "false"; for an array of strings, its
 * strings joined by single spaces ("" for []). */
typedef struct {
    const char *name;
    apikey_json_type_t type;
    const char *value;
} apikey_json_member_t;

/* Reads the object in the len bytes at s (blanks around it allowed,
 * nothing else): NULL with *members, an array of apikey_json_member_t in
 * p in the object's order, or an English message naming the byte (from 1)
 * where it went wrong.  Refused: anything that is not one JSON object,
 * nesting beyond arrays of strings, a name given twice, control
 * characters or bytes that are not UTF-8 in a string, \u0000 and lone
 * surrogates, more than APIKEY_JSON_MEMBERS_MAX members or
 * APIKEY_JSON_OBJECT_MAX bytes. */
const char *apikey_json_object_parse(apr_pool_t *p, const char *s, size_t len,
                                     apr_array_header_t **members);

/* The member called name, or NULL. */
const apikey_json_member_t *
apikey_json_member(const apr_array_header_t *members, const char *name);

#endif /* APIKEY_JSON_READ_H */
