/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key record: a key as the store holds it, and the verdicts on a
 * request's key.  No httpd here: the module, htapikey and the tests share
 * it. */
#ifndef APIKEY_RECORD_H
#define APIKEY_RECORD_H

#include "apr_pools.h"

/* Outcome of a request as far as its key is concerned; the strings are
 * those of %{result}K. */
typedef enum {
    APIKEY_RESULT_NONE = 0, /* not authenticated by us (yet) */
    APIKEY_RESULT_OK,
    APIKEY_RESULT_MISSING,
    APIKEY_RESULT_MALFORMED,
    APIKEY_RESULT_UNKNOWN,
    APIKEY_RESULT_EXPIRED,
    APIKEY_RESULT_NOT_YET_VALID,
    APIKEY_RESULT_REVOKED,
    APIKEY_RESULT_DISABLED,
    APIKEY_RESULT_CONFLICT,
    APIKEY_RESULT_IP_DENIED,
    APIKEY_RESULT_REFERER_DENIED,
    APIKEY_RESULT_METHOD_DENIED,
    APIKEY_RESULT_TLS_REQUIRED,
    APIKEY_RESULT_INSUFFICIENT_SCOPE,
    APIKEY_RESULT_RATE_LIMITED,
    APIKEY_RESULT_QUOTA_EXCEEDED,
    APIKEY_RESULT_THROTTLED, /* too many failures from the client */
    APIKEY_RESULT_ERROR
} apikey_result_t;

/* Most extra columns of a look-up exported to the environment. */
#define APIKEY_EXTRA_MAX 16

struct apikey_query_t;

/* A key as stored.  Strings live in a pool of the caller's (the request's
 * in the module). */
typedef struct {
    /* The look-up statement that found it (with the server, its store). */
    const struct apikey_query_t *query;
    const char *id;
    const char *owner;
    const char *scopes; /* space-separated, possibly "" */
    const char *status;
    int has_expires, has_not_before;
    long long expires, not_before; /* Unix seconds */
    /* Restrictions, comma-separated, NULL for none. */
    const char *allow_ip, *allow_referer, *allow_method;
    /* Limits of the key's own ("20/s", "100000/month"), or NULL. */
    const char *rate, *quota;
    long long burst;
    /* Rotation: the key replacing this one, and when this one stops. */
    const char *replaced_by;
    int has_grace_until;
    long long grace_until;
    /* Columns of an AuthAPIKeyQuery the module does not know, exported as
     * APIKEY_<COLUMN>. */
    int nextra;
    const char *extra_env[APIKEY_EXTRA_MAX];
    const char *extra_value[APIKEY_EXTRA_MAX];
} apikey_record_t;

/* The %{result}K string of a verdict; NULL for NONE. */
const char *apikey_result_str(apikey_result_t result);

/* A copy of rec in p, strings and all. */
apikey_record_t *apikey_record_copy(apr_pool_t *p, const apikey_record_t *rec);

#endif /* APIKEY_RECORD_H */
