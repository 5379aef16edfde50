/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Whether a request came over TLS (its connection, or a proxy of
 * AuthAPIKeyTrustedProxy), and AuthAPIKeyRequireTLS, for the key's
 * authentication, its verification again in a subrequest, and the Basic
 * provider alike. */
#ifndef APIKEY_TLS_H
#define APIKEY_TLS_H

#include "httpd.h"

#include "apikey_config.h"

/* Retrieves mod_ssl's optional function (post_config). */
void apikey_tls_init(void);

/* 1 when the request came over TLS: its connection is TLS, or it came
 * from a proxy of AuthAPIKeyTrustedProxy with X-Forwarded-Proto: https. */
int apikey_tls_over(request_rec *r);

/* 0, logged, when AuthAPIKeyRequireTLS is on and the request came over
 * plain HTTP; 1 otherwise. */
int apikey_tls_ok(request_rec *r, const apikey_dir_conf_t *conf);

/* The SHA-256 fingerprint (lower-case hex) of the TLS client certificate
 * that mod_ssl verified on the request's connection, for allow_cert; NULL,
 * logged, when there is none (plain HTTP, no certificate, one mod_ssl did
 * not verify, no mod_ssl).  Computed once per connection. */
const char *apikey_tls_client_cert(request_rec *r);

#endif /* APIKEY_TLS_H */
