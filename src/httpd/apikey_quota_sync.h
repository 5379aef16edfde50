/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sync of cluster-wide quotas (AuthAPIKeyQuotaStore dbd): a watchdog
 * thread in one child that, every AuthAPIKeyQuotaSync, hands the units
 * this server holds back to the key store, sizes each key's next lease
 * from its admissions since, and lets requests ask the store again where
 * it last had nothing to give. */
#ifndef APIKEY_QUOTA_SYNC_H
#define APIKEY_QUOTA_SYNC_H

#include "httpd.h"

/* Registers the sync with mod_watchdog when a server counts its quotas in
 * the store (real post_config pass).  Returns 0, or an HTTP error status
 * for post_config (logged: such a server needs mod_watchdog). */
int apikey_quota_sync_init(apr_pool_t *pconf, server_rec *s);

#endif /* APIKEY_QUOTA_SYNC_H */
