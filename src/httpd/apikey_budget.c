/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Budgets (see apikey_budget.h): which slot of the limit table, and which
 * rows of the quota store, a request's limits are counted in. */

#include "apikey_budget.h"
#include "apikey_db.h"

#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

/* AuthAPIKeyLimitName's names by number, for the status page: those of
 * this configuration (a slot of a name no longer configured shows its
 * number). */
static apr_hash_t *budget_names;

void apikey_budget_pre_config(apr_pool_t *pconf)
{
    budget_names = apr_hash_make(pconf);
}

apr_uint32_t apikey_budget_number(apr_pool_t *p, const char *name,
                                  const char **other)
{
    apr_uint32_t n = apikey_db_hash(name, strlen(name), 0) & APIKEY_BUDGET_NAME;
    const char *known;

    n = n ? n : 1;
    *other = NULL;
    if (!budget_names) {
        return n;
    }
    if ((known = apr_hash_get(budget_names, &n, sizeof(n)))) {
        /* Two names of one number would share their counters. */
        *other = strcmp(known, name) ? known : NULL;
        return n;
    }
    {
        apr_uint32_t *k = apr_palloc(p, sizeof(*k));

        *k = n;
        apr_hash_set(budget_names, k, sizeof(*k), apr_pstrdup(p, name));
    }
    return n;
}

const char *apikey_budget_name(apr_pool_t *p, apr_uint32_t budget)
{
    apr_uint32_t n = budget & APIKEY_BUDGET_NAME;
    const char *name =
        n && budget_names ? apr_hash_get(budget_names, &n, sizeof(n)) : NULL;

    return name ? name : n ? apr_psprintf(p, "#%08x", (unsigned)n) : NULL;
}

/* The budget a request of key spends here: 0 for the key's one budget,
 * else AuthAPIKeyLimitName's number and/or APIKEY_BUDGET_OWNER. */
apr_uint32_t apikey_budget_of(const apikey_dir_conf_t *conf,
                              const apikey_record_t *key, int anonymous)
{
    return (conf->limit_name && *conf->limit_name ? conf->limit_budget : 0)
           | (conf->limit_by == 1 && !anonymous && key->owner
                  ? APIKEY_BUDGET_OWNER
                  : 0);
}

/* A budget other than the key's one folded into the slot's statement
 * number: its slot and its rows in the quota store are its own. */
static void fold_budget(apikey_slot_key_t *sk)
{
    unsigned char b[4] = {
        (unsigned char)(sk->budget >> 24), (unsigned char)(sk->budget >> 16),
        (unsigned char)(sk->budget >> 8), (unsigned char)sk->budget};

    if (sk->budget) {
        sk->query = apikey_db_hash((const char *)b, sizeof(b), sk->query);
        if (sk->query == APIKEY_QUERY_ANONYMOUS) {
            sk->query--;
        }
    }
}

/* The slot of a key's budget: its id (its owner's name, for
 * AuthAPIKeyLimitBy owner) in its server's store, found through its
 * look-up statement; a budget other than the key's one (a name, an
 * owner's) folded into the statement's number, so that its slot and its
 * rows in the quota store are its own and no key's. */
apikey_slot_key_t apikey_budget_slot_key(const apikey_srv_conf_t *srv,
                                         const apikey_dir_conf_t *conf,
                                         const apikey_record_t *key,
                                         int anonymous,
                                         const apikey_quotas_t *quota)
{
    apikey_slot_key_t sk;

    sk.budget = apikey_budget_of(conf, key, anonymous);
    sk.id = sk.budget & APIKEY_BUDGET_OWNER ? key->owner : key->id;
    sk.store = srv->store_id;
    sk.query = key->query ? key->query->id : 0;
    fold_budget(&sk);
    if (quota->n > 1) {
        /* Several windows: their set folded in too.  The first window
         * counts in this slot, whatever its period: a location of other
         * windows counting here would write a word of another period,
         * which this one reads as unused (each would reset the other). */
        unsigned char set[2] = {0xfe, 0};
        unsigned i;

        for (i = 0; i < quota->n; i++) {
            set[1] |= (unsigned char)(1u << quota->w[i].period);
        }
        sk.query = apikey_db_hash((const char *)set, sizeof(set), sk.query);
        if (sk.query == APIKEY_QUERY_ANONYMOUS) {
            sk.query--;
        }
    }
    return sk;
}

/* The slot of the quota window w of a key's budget sk (not its first: that
 * one counts beside the rate limit in sk's own). */
apikey_slot_key_t apikey_budget_window_key(apikey_slot_key_t sk,
                                           const apikey_quota_t *w)
{
    sk.budget = (sk.budget & ~APIKEY_BUDGET_WINDOW)
                | ((apr_uint32_t)w->period << APIKEY_BUDGET_WINDOW_SHIFT);
    fold_budget(&sk);
    return sk;
}
