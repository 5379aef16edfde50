/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Other modules' traces that would write a key to the error log: capped
 * where they are set, with a warning at start-up (docs/logging.md). */
#ifndef APIKEY_LOGCAP_H
#define APIKEY_LOGCAP_H

#include "httpd.h"

/* Caps the log levels of the modules that trace request lines, headers or
 * raw I/O (core above trace4, mod_rewrite above trace1, ...) in every
 * server's configuration, logging a warning for each cap and for modules
 * that write requests to logs of their own (mod_log_forensic).  Real
 * post_config pass. */
void apikey_logcap_init(apr_pool_t *pconf, server_rec *s);

/* The same caps on a request's log configuration when a <Directory>,
 * <Location> or <If> LogLevel put its own in place: run after each of
 * httpd's section walks (pre_translate_name, translate_name and
 * post_perdir_config hooks).  Returns DECLINED. */
int apikey_logcap_request(request_rec *r);

#endif /* APIKEY_LOGCAP_H */
