/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What the module gives the logs: the %{FIELD}K fields of mod_log_config,
 * the counting of each request's result for the metrics, and the guard
 * that keeps keys out of the error log at every level. */
#ifndef APIKEY_LOGGING_H
#define APIKEY_LOGGING_H

#include "httpd.h"

/* Registers %{...}K with mod_log_config (pre_config). */
void apikey_logging_pre_config(apr_pool_t *pconf);

/* Finds the modules whose logging the guard caps, and whether any of s's
 * servers has them at trace4 or above (post_config, really last: after
 * any module that sets a server's LogLevel in its own post_config). */
int apikey_logging_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s);

/* create_request and post_read_request hook: at trace4 and above httpd
 * writes the request line (core, trace5, while reading it) and every
 * request header (http, trace4), keys included, to the error log, before
 * authentication can hide anything.  Caps both modules at trace3 for the
 * request: before the request is read, and again once its virtual host is
 * known. */
int apikey_logging_guard(request_rec *r);

/* log_transaction hook: counts the request's result. */
int apikey_logging_count(request_rec *r);

#endif /* APIKEY_LOGGING_H */
