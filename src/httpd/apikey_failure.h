/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * AuthAPIKeyFailureLimit: a client address that fails authentication too
 * often gets 429 for every request of ours, whatever key it sends, until
 * its budget of failures refills.  The counts live in the failure table
 * (apikey_failure_table.h) in retained shared memory. */
#ifndef APIKEY_FAILURE_H
#define APIKEY_FAILURE_H

#include "httpd.h"

#include "apikey_config.h"
#include "apikey_request.h"

/* AuthAPIKeyFailureLimit where none is set: 120/m burst=60. */
#define APIKEY_FAILURE_DEFAULT_INTERVAL 500000LL
#define APIKEY_FAILURE_DEFAULT_BURST    60

/* Creates or finds the table (real post_config pass); 0 or -1. */
int apikey_failure_init(server_rec *s);

/* 1 when r's client has used up its failures under conf, with the time
 * until it may try again in *retry_us; 0 when it may try, or
 * AuthAPIKeyFailureLimit is off.  No side effect: a key the look-up cache
 * knows may still be let in (see apikey_verify). */
int apikey_failure_check(request_rec *r, const apikey_dir_conf_t *conf,
                         long long *retry_us);

/* The answer to a blocked client's request: Retry-After and a log line. */
void apikey_failure_refused(request_rec *r, long long retry_us);

/* r's client as the failure table and the anonymous tier count it, in
 * words: an IPv4 address ("203.0.113.5"), or the /64 of an IPv6 one
 * ("2001:db8:1:2::/64"); NULL when r has no address. */
const char *apikey_failure_client_name(request_rec *r);

/* Counts a verdict against r's client when it is a failure that guessing
 * produces (a malformed, unknown, expired, revoked or disabled key, or two
 * keys); other verdicts are left alone. */
void apikey_failure_record(request_rec *r, const apikey_dir_conf_t *conf,
                           apikey_result_t result);

#endif /* APIKEY_FAILURE_H */
