/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey create --count N: N keys with the same settings, in one
 * transaction, printed as JSON Lines once every row is committed. */

#include "apikey_key.h"
#include "htapikey.h"

#include "apr_strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_MAX 10000

int htapikey_create_count(apr_pool_t *p, const htapikey_options_t *o,
                          const htapikey_row_t *settings, const char *prefix)
{
    htapikey_row_t *rows;
    const char **digests;
    char *keys, *end;
    const char *err, *now = htapikey_now(p);
    htapikey_db_t db;
    long long n;
    int rc, i;

    n = strtoll(o->count, &end, 10);
    if (*end || end == o->count || n < 1 || n > COUNT_MAX) {
        return htapikey_fail(EXIT_USAGE,
                             "--count '%s': expected a number of keys from 1 "
                             "to %d",
                             o->count, COUNT_MAX);
    }
    if ((rc = htapikey_open_store(
             p, o, HTAPIKEY_DB_MUST_EXIST | HTAPIKEY_DB_WRITES, &db))) {
        return rc;
    }
    rows = apr_palloc(p, (size_t)n * sizeof(*rows));
    digests = apr_palloc(p, (size_t)n * sizeof(*digests));
    keys = apr_pcalloc(p, (size_t)n * (APIKEY_KEY_MAX + 1));
    for (i = 0; i < n; i++) {
        char id[APIKEY_ID_LEN + 1], digest[APIKEY_DIGEST_HEX_LEN + 1];
        char *key = keys + (size_t)i * (APIKEY_KEY_MAX + 1);

        if (apikey_key_generate(prefix, key, APIKEY_KEY_MAX + 1)
            || apikey_id_generate(id, sizeof(id))
            || apikey_digest_hex(o->pepper, o->pepper_len, key, strlen(key),
                                 digest)) {
            apikey_wipe(keys, (size_t)n * (APIKEY_KEY_MAX + 1));
            return htapikey_fail(EXIT_DB, "%s",
                                 "the random number generator failed");
        }
        rows[i] = *settings;
        rows[i].id = apr_pstrdup(p, id);
        rows[i].created = rows[i].updated = now;
        digests[i] = apr_pstrdup(p, digest);
        apikey_wipe(digest, sizeof(digest));
    }
    /* As for one key: printed only once every row is committed. */
    err = htapikey_db_insert_keys(&db, "create", rows, digests, (int)n, NULL);
    if (err) {
        apikey_wipe(keys, (size_t)n * (APIKEY_KEY_MAX + 1));
        return htapikey_fail(EXIT_DB, "create failed, no key was made: %s",
                             err);
    }
    for (i = 0; i < n; i++) {
        printf("{\"id\":");
        htapikey_json_string(rows[i].id);
        printf(",\"key\":");
        htapikey_json_string(keys + (size_t)i * (APIKEY_KEY_MAX + 1));
        printf(",\"owner\":");
        htapikey_json_string(rows[i].owner);
        printf(",\"scopes\":");
        htapikey_json_string(rows[i].scopes);
        printf(",\"expires\":");
        htapikey_json_string(htapikey_iso_time(p, rows[i].expires));
        printf("}\n");
    }
    fflush(stdout);
    apikey_wipe(keys, (size_t)n * (APIKEY_KEY_MAX + 1));
    return EXIT_OK;
}
