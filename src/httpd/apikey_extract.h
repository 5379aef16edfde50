/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Finding a request's key in the sources AuthAPIKeySource lists, and
 * hiding it from everything that runs after authentication. */
#ifndef APIKEY_EXTRACT_H
#define APIKEY_EXTRACT_H

#include "httpd.h"

#include "apikey_config.h"
#include "apikey_request.h"

typedef struct {
    const char *key; /* not NUL-terminated necessarily */
    size_t len;
    apikey_source_kind_t source;
    const apikey_source_t *from; /* the configured source */
} apikey_found_t;

/* Looks for the key in every configured source.  Returns MISSING, CONFLICT
 * (two sources, or one header or parameter given twice, with different
 * keys), MALFORMED (a query value that does not decode), or OK with the
 * key in *found (from the first source that has it).  found->source is
 * also set for CONFLICT (the source of the second key) and MALFORMED. */
apikey_result_t apikey_extract(request_rec *r, const apikey_dir_conf_t *conf,
                               apikey_found_t *found);

/* Removes the key from every configured source (headers, Authorization,
 * the query string and the request line), and any X-APIKey-* identity
 * header the client sent, so that no handler, CGI, PHP or proxied backend
 * sees them.  Called once the key was read, whatever the verdict. */
void apikey_extract_hide(request_rec *r, const apikey_dir_conf_t *conf);

/* Removes the X-APIKey-Id, -Owner and -Scopes request headers a client
 * sent, in every spelling a backend folds into those names. */
void apikey_extract_hide_identity(request_rec *r);

/* Sets the X-APIKey-Id, -Owner and -Scopes request headers for backends
 * (AuthAPIKeyIdentityHeaders On). */
void apikey_extract_identity(request_rec *r, const apikey_record_t *rec);

#endif /* APIKEY_EXTRACT_H */
