/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The bodies of the module's refusals: a sentence as text/plain, or with
 * AuthAPIKeyErrorFormat json an RFC 9457 application/problem+json object,
 * unless the admin's ErrorDocument says otherwise; and the error path's
 * filter that lets `Header always` reach the module's headers. */
#ifndef APIKEY_ERRORS_H
#define APIKEY_ERRORS_H

#include "httpd.h"
#include "http_config.h"

/* Why the module refused a request, as its body tells the client: no more
 * than the status and the RFC 6750 error code already say (an unknown, an
 * expired and a revoked key read the same). */
typedef enum {
    APIKEY_PROBLEM_TWO_KEYS,  /* 400 invalid_request */
    APIKEY_PROBLEM_NO_KEY,    /* 401, no error code */
    APIKEY_PROBLEM_BAD_KEY,   /* 401 invalid_token */
    APIKEY_PROBLEM_TLS,       /* 403: a key over plain HTTP */
    APIKEY_PROBLEM_NOT_HERE,  /* 403: the key's restrictions, a Require */
    APIKEY_PROBLEM_SCOPE,     /* 403 insufficient_scope */
    APIKEY_PROBLEM_RATE,      /* 429: the key's rate limit */
    APIKEY_PROBLEM_QUOTA,     /* 429: the key's quota */
    APIKEY_PROBLEM_FAILURES,  /* 429: too many bad keys from the client */
    APIKEY_PROBLEM_STORE,     /* 503: the key store did not answer */
    APIKEY_PROBLEM_UNCOUNTED, /* 503: the limits cannot count it now */
    APIKEY_PROBLEM_COUNT
} apikey_problem_t;

/* AuthAPIKeyErrorFormat */
#define APIKEY_ERRORS_TEXT 0
#define APIKEY_ERRORS_JSON 1

/* Sets the body of r's answer for why (its status is the problem's):
 * unless an ErrorDocument (or an earlier answer) for that status applies
 * to r, which wins.  retry_after: the Retry-After seconds, for a 429 or a
 * 503 (NULL: none); scope: the missing scopes, for SCOPE (NULL: none).
 * With the text format, only 429s and the TLS 403 get a sentence; httpd's
 * own page answers the rest. */
void apikey_errors_answer(request_rec *r, apikey_problem_t why,
                          const char *retry_after, const char *scope);

/* insert_error_filter hook: on the error path of a request the module
 * answered, a filter that sets the body's Content-Type and hands the
 * module's headers to `Header always` (mod_headers edits err_headers_out
 * there, which httpd emptied into headers_out). */
void apikey_errors_insert_filter(request_rec *r);

/* register_hooks: the filter. */
void apikey_errors_register(void);

const char *apikey_errors_set_format(cmd_parms *cmd, void *mconfig,
                                     const char *how);

#define APIKEY_ERRORS_DIRECTIVES                                               \
    AP_INIT_TAKE1("AuthAPIKeyErrorFormat", apikey_errors_set_format, NULL,     \
                  RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,                        \
                  "The bodies of refusals: text (default: a sentence for "     \
                  "429 and the TLS 403, httpd's pages otherwise) or json "     \
                  "(RFC 9457 application/problem+json for every status)")

#endif /* APIKEY_ERRORS_H */
