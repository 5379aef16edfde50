/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * AuthType APIKey: the check_authn hook that finds, checks and looks up
 * the key of a request, and the challenge sent when it fails. */
#ifndef APIKEY_AUTHN_H
#define APIKEY_AUTHN_H

#include "httpd.h"

#include "apikey_config.h"
#include "apikey_request.h"

/* r->user of a request let in without a key by AuthAPIKeyAnonymous (httpd
 * needs one; APIKEY_ANONYMOUS=1 tells it from a key of that id). */
#define APIKEY_ANONYMOUS_USER "anonymous"

/* 1 when the request's AuthType is APIKey. */
int apikey_authn_is_ours(request_rec *r);

/* Sets our RFC 6750 challenge (WWW-Authenticate, or Proxy-Authenticate for
 * proxy requests): error and scope are left out when NULL. */
void apikey_authn_challenge(request_rec *r, const char *error,
                            const char *scope);

/* Removes our challenge. */
void apikey_authn_challenge_clear(request_rec *r);

/* Makes rec the identity of r (see apikey_verify_admit) and r's own
 * verdict, which authorization reads. */
void apikey_authn_admit(request_rec *r, const apikey_dir_conf_t *conf,
                        const apikey_record_t *rec);

/* Answers a refusal of the key for r (401, 403, 400, 503 with their
 * headers), and records it as the client request's result unless r is a
 * subrequest.  Returns the status. */
int apikey_authn_refuse(request_rec *r, apikey_request_t *rq,
                        apikey_result_t why);

/* check_authn hook. */
int apikey_authn_check(request_rec *r);

/* note_auth_failure hook: adds our challenge when authorization refuses a
 * request that AuthType APIKey authenticated. */
int apikey_authn_note_failure(request_rec *r, const char *auth_type);

#endif /* APIKEY_AUTHN_H */
