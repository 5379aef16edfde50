/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Budgets: the counters a request's limits are charged to.  A key has one
 * by default; AuthAPIKeyLimitName gives a location one of its own,
 * AuthAPIKeyLimitBy owner makes an owner's keys share one, and a set of
 * several quota windows is one.  Each is a slot key of the limit table
 * (and, for a cluster-wide quota, rows of the store) no other budget's,
 * key's or anonymous client's can be. */
#ifndef APIKEY_BUDGET_H
#define APIKEY_BUDGET_H

#include "apikey_config.h"
#include "apikey_limit_table.h"
#include "apikey_record.h"

/* A budget's number: AuthAPIKeyLimitName's name (its low bits), the bit
 * of an owner's, and for a key's second or third quota window (a slot of
 * its own) the window's period. */
#define APIKEY_BUDGET_OWNER        0x80000000U
#define APIKEY_BUDGET_WINDOW_SHIFT 29
#define APIKEY_BUDGET_WINDOW       0x60000000U
#define APIKEY_BUDGET_NAME         0x1fffffffU

/* The names of this configuration by number: pre_config resets them; the
 * directive numbers a name, with *other the name of this configuration
 * that has the same number, if any; the status page names a number
 * (NULL for 0, "#hex" for a name no longer configured). */
void apikey_budget_pre_config(apr_pool_t *pconf);
apr_uint32_t apikey_budget_number(apr_pool_t *p, const char *name,
                                  const char **other);
const char *apikey_budget_name(apr_pool_t *p, apr_uint32_t budget);

/* The budget a request of key spends under conf: 0 for the key's one,
 * else the name's number and/or APIKEY_BUDGET_OWNER. */
apr_uint32_t apikey_budget_of(const apikey_dir_conf_t *conf,
                              const apikey_record_t *key, int anonymous);

/* The slot of key's budget in srv's store for the windows of quota (the
 * first window counts there beside the rate limit), and the slot of one
 * of its other windows. */
apikey_slot_key_t apikey_budget_slot_key(const apikey_srv_conf_t *srv,
                                         const apikey_dir_conf_t *conf,
                                         const apikey_record_t *key,
                                         int anonymous,
                                         const apikey_quotas_t *quota);
apikey_slot_key_t apikey_budget_window_key(apikey_slot_key_t sk,
                                           const apikey_quota_t *w);

#endif /* APIKEY_BUDGET_H */
