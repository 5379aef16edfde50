/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * SetHandler apikey-status: per-key usage from the shared limit table, as
 * an HTML page, JSON (?format=json) or Prometheus text (?format=prometheus),
 * where AuthAPIKeyStatus On lets it serve. */
#ifndef APIKEY_STATUS_H
#define APIKEY_STATUS_H

#include <stddef.h>

#include "httpd.h"

#include "apikey_config.h"

/* handler hook. */
int apikey_status_handler(request_rec *r);

/* Its directive's slice of the command table (mod_authn_apikey.c). */
#define APIKEY_STATUS_DIRECTIVES                                               \
    AP_INIT_FLAG("AuthAPIKeyStatus", ap_set_flag_slot,                         \
                 (void *)offsetof(apikey_dir_conf_t, status),                  \
                 RSRC_CONF | ACCESS_CONF,                                      \
                 "Let SetHandler apikey-status serve here (default Off; "      \
                 "never from .htaccess)")

#endif /* APIKEY_STATUS_H */
