/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Rate limits and quotas (see apikey_limits.h).
 *
 * The table lives in memory allocated from the process pool and found
 * again through ap_retained_data at every restart, so old and new children
 * of a graceful restart charge the same counters; it is written to
 * AuthAPIKeyStateFile when the parent stops or restarts, and read back when
 * httpd starts. */

#include "apikey_limits.h"
#include "apikey_config.h"
#include "apikey_budget.h"
#include "apikey_errors.h"
#include "apikey_failure.h"
#include "apikey_key.h"
#include "apikey_limit_headers.h"
#include "apikey_logno.h"
#include "apikey_quota_sql.h"
#include "apikey_store.h"
#include "apikey_counters.h"
#include "apikey_request.h"
#include "apikey_shm.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"

APLOG_USE_MODULE(authn_apikey);

/* Named for the slot layout: a build with another layout (a graceful
 * restart after an upgrade) makes a segment of its own, and leaves the old
 * one to the old generation's children, which still charge it. */
#define RETAINED_KEY    "mod_authn_apikey-limit-table-v4"
#define RETAINED_KEY_V3 "mod_authn_apikey-limit-table-v3"
#define RETAINED_KEY_V2 "mod_authn_apikey-limit-table"
/* The segment's shape: the slot count, and whether leases follow. */
#define SHAPE_LEASES 0x80000000U
/* One "table full" line per this long, however many requests fail. */
#define FULL_LOG_INTERVAL (60 * 1000000LL)

static apikey_limit_table_t *table;
/* The table's header as this process set it up (children inherit it). */
static apikey_segment_header_t header;
static const char *state_file;
static pid_t parent_pid;

apikey_limit_table_t *apikey_limits_table(void)
{
    if (table && apikey_limit_table_header_check(table, &header)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     APIKEY_LOGNO(00038) "the limit table's header was not "
                                         "valid and was restored");
    }
    return table;
}

/* Runs in the parent when pconf is cleared: at a restart and at a stop. */
static apr_status_t save_state(void *data)
{
    server_rec *s = data;

    if (!table || !state_file || getpid() != parent_pid) {
        return APR_SUCCESS;
    }
    /* The header as this process set it up first: a slot count or size
     * written over would have the save read past the segment. */
    apikey_limit_table_header_check(table, &header);
    if (apikey_limit_table_save(table, state_file) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, apr_get_os_error(), s,
                     APIKEY_LOGNO(00025) "cannot write the limit state "
                                         "file %s",
                     state_file);
    }
    return APR_SUCCESS;
}

/* Once the table is this full, a warning (once in its life): well before
 * new keys are refused. */
#define FILL_WARN_PERCENT 80

static void warn_filling(server_rec *s, apikey_limit_table_t *t)
{
    unsigned n = apikey_limit_table_slots(t), used = apikey_limit_table_used(t);

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 APIKEY_LOGNO(00057) "the limit table is %u%% full (%u of "
                                     "AuthAPIKeyLimitSlots %u): once it is "
                                     "full, requests of keys new to it get "
                                     "503; raise AuthAPIKeyLimitSlots",
                 (unsigned)((apr_uint64_t)used * 100 / (n ? n : 1)), used, n);
}

/* Whether some server keeps quotas in the store (AuthAPIKeyQuotaStore
 * dbd): only then does the table hold leases beside its slots. */
static int quota_stores_in(server_rec *s)
{
    for (; s; s = s->next) {
        const apikey_srv_conf_t *c =
            ap_get_module_config(s->module_config, &authn_apikey_module);

        if (c && c->quota_store == APIKEY_QUOTA_STORE_DBD) {
            return 1;
        }
    }
    return 0;
}

int apikey_limits_init(apr_pool_t *pconf, server_rec *s)
{
    const apikey_srv_conf_t *conf =
        ap_get_module_config(s->module_config, &authn_apikey_module);
    unsigned nslots = (unsigned)conf->limit_slots;
    int leases = quota_stores_in(s);
    apr_size_t size = apikey_limit_table_size(nslots, leases);
    unsigned char seed[APIKEY_QUOTA_SEED_LEN];
    apikey_shm_t shm;
    apr_status_t rv;
    int adopted = 0, upgraded;

    /* A build of the module with other slots (a graceful restart after an
     * upgrade) cannot adopt the old segment: it would write past it, or
     * lay out anew what old children still charge.  A layout of the same
     * size is told by the retained key's name. */
    upgraded = !ap_retained_data_get(RETAINED_KEY)
               && (ap_retained_data_get(RETAINED_KEY_V3)
                   || ap_retained_data_get(RETAINED_KEY_V2));
    rv = apikey_shm_get(s, NULL, RETAINED_KEY, size,
                        nslots | (leases ? SHAPE_LEASES : 0), &shm);
    if (upgraded || shm.relaid) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     APIKEY_LOGNO(00039) "the limit table's layout changed "
                                         "with this build: limit counters "
                                         "start afresh");
    }
    else if (shm.replaced && (shm.old_shape & ~SHAPE_LEASES) == nslots) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     APIKEY_LOGNO(00090) "AuthAPIKeyQuotaStore dbd is now "
                                         "%s: the limit table %s leases of "
                                         "cluster-wide quotas; limit "
                                         "counters start afresh unless "
                                         "AuthAPIKeyStateFile restores "
                                         "them",
                     leases ? "used" : "used nowhere",
                     leases ? "makes room for" : "drops its");
    }
    else if (shm.replaced) {
        /* The old segment stays with children of the old generation. */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     APIKEY_LOGNO(00026) "AuthAPIKeyLimitSlots changed from "
                                         "%u to %u: limit counters start "
                                         "afresh",
                     shm.old_shape & ~SHAPE_LEASES, nslots);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00027) "cannot create the limit table "
                                         "(%" APR_SIZE_T_FMT " bytes)",
                     size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apikey_shm_seed(s, "the limit table", seed)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    table =
        apikey_limit_table_init(shm.base, size, nslots, leases, seed, &adopted);
    apikey_wipe(seed, sizeof(seed));
    state_file = conf->state_file;
    parent_pid = getpid();
    if (table && !adopted && state_file) {
        if (apikey_limit_table_load(table, state_file) == 0) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         APIKEY_LOGNO(00028) "limit counters restored from %s",
                         state_file);
        }
        else if (errno != ENOENT) {
            int e = errno;

            /* Never trusted when it does not check out: counts a stranger
             * wrote would let keys spend quotas again. */
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, apr_get_os_error(), s,
                APIKEY_LOGNO(00029) "cannot restore limit counters from %s "
                                    "(%s); it is ignored and the counters "
                                    "start afresh",
                state_file,
                e == EINVAL  ? "not a state file of this build and "
                               "AuthAPIKeyLimitSlots"
                : e == EPERM ? "a link, or a file another user than root could "
                               "have written"
                             : "unreadable");
        }
    }
    if (table) {
        apikey_limit_table_header_get(table, &header);
        /* Restored or kept that full: said at start-up (and not again). */
        if (apikey_limit_table_filling(table, FILL_WARN_PERCENT)) {
            warn_filling(s, table);
        }
    }
    apr_pool_cleanup_register(pconf, s, save_state, apr_pool_cleanup_null);
    return 0;
}

/* The limits that apply: the key's own, else the location's. */
static void limits_for(request_rec *r, const apikey_dir_conf_t *conf,
                       const apikey_record_t *key, apikey_rate_t *rate,
                       apikey_quotas_t *quota)
{
    const char *err;

    memset(rate, 0, sizeof(*rate));
    memset(quota, 0, sizeof(*quota));
    if (key->rate) {
        if ((err = apikey_rate_parse(key->rate, key->burst, rate))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00030) "key %s: unreadable rate '%s' "
                                              "(%s); no rate limit applied",
                          key->id, key->rate, err);
            memset(rate, 0, sizeof(*rate));
        }
    }
    else if (conf->rate) {
        *rate = *conf->rate;
    }
    if (key->quota) {
        if ((err = apikey_quotas_parse(key->quota, quota))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00031) "key %s: unreadable quota '%s' "
                                              "(%s); no quota applied",
                          key->id, key->quota, err);
            memset(quota, 0, sizeof(*quota));
        }
    }
    else if (conf->quota) {
        *quota = *conf->quota;
    }
}

int apikey_limits_bound(const apikey_request_t *rq, long long *limit,
                        long long *remaining, long long *reset_us)
{
    int b = rq->charged ? rq->binding : -2;

    if (b == -1) {
        *limit = rq->rate.burst;
        *remaining = rq->charge.rate_remaining;
        *reset_us = rq->charge.rate_reset_us;
        return 1;
    }
    if (b >= 0 && (unsigned)b < rq->quota.n) {
        *limit = (long long)rq->quota.w[b].limit;
        *remaining = (long long)rq->window[b].remaining;
        *reset_us = rq->window[b].reset_us;
        return 1;
    }
    return 0;
}

/* Which limit binds (see apikey_request_t's binding): the one that refused
 * the request, the one that keeps it out longest when several would,
 * else the one with fewer requests left (the rate limit on a tie). */
static int binding_of(const apikey_request_t *rq, int refused_window)
{
    const apikey_charge_t *c = &rq->charge;
    long long fewest = -1;
    unsigned i;
    int b = -2;

    if (refused_window >= 0) {
        return refused_window;
    }
    if (c->result == APIKEY_CHARGE_RATE_LIMITED) {
        return -1;
    }
    if (rq->rate.interval_us) {
        b = -1;
        fewest = c->rate_remaining;
    }
    for (i = 0; i < rq->quota.n; i++) {
        if (b == -2 || (long long)rq->window[i].remaining < fewest) {
            b = (int)i;
            fewest = (long long)rq->window[i].remaining;
        }
    }
    return b;
}

/* A charge of a cluster-wide quota whose lease ran out: claims units
 * from the store (one round trip as a rule), hands them to the slot and
 * charges again.  Leaves in c what became of the request. */
static void charge_from_store(request_rec *r, const apikey_record_t *key,
                              const apikey_slot_key_t sk,
                              const apikey_rate_t *rate,
                              const apikey_quota_t *quota, long long now,
                              int flags, apikey_charge_t *c)
{
    const apikey_srv_conf_t *srv =
        ap_get_module_config(r->server->module_config, &authn_apikey_module);
    apikey_limit_table_t *t = apikey_limits_table();
    const char *id = sk.id;
    /* Its rows in the store: named by the id, and the statement that found
     * it when that is not the default look-up. */
    const char *row = apikey_quota_sql_row(r->pool, id, sk.query);
    /* One connection for the claims and what may follow them. */
    apikey_db_t *db = apikey_store_db(r->pool, r->server);
    int claims;

    for (claims = 0; c->result == APIKEY_CHARGE_NEED_LEASE && claims < 2;
         claims++) {
        unsigned long period = c->lease_period, got = 0, claimed = 0;
        unsigned statements = 0;
        const char *err = NULL;
        apr_status_t rv;

        if (!db) {
            err = "no database connection";
            rv = APR_EGENERAL;
        }
        else {
            rv = apikey_quota_sql_claim(
                db, r->pool, row, period,
                apikey_period_end(quota->period, now) / 1000000, quota->limit,
                c->lease_want, &got, &claimed, &err, &statements);
        }
        apikey_counters_quota_claim(statements, rv != APR_SUCCESS);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "key %s: claimed %lu of %lu quota units in %u "
                      "statements",
                      id, got, c->lease_want, statements);
        if (rv == APR_EAGAIN) {
            /* Busy, not down: this request only (no fallback either: the
             * store counts, other servers are spending the last units). */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          APIKEY_LOGNO(00047) "key %s: the quota store is "
                                              "busy (%s): 503",
                          id, err);
            c->result = APIKEY_CHARGE_STORE_DOWN;
            break;
        }
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00045) "key %s: cannot claim quota "
                                              "units from the quota store "
                                              "(%s): %s until the next sync",
                          id, err,
                          srv->quota_fallback
                              ? "counting on this server (fallback=local)"
                              : "requests that need more get 503");
            apikey_limit_table_lease_dry(t, &sk, quota, now, 0, srv->store_id);
        }
        else if (got == 0) {
            apikey_limit_table_lease_dry(t, &sk, quota, now, 1, srv->store_id);
        }
        else if (apikey_limit_table_lease_put(t, &sk, quota, now, period, got,
                                              claimed, srv->store_id)) {
            apikey_limit_table_charge(t, &sk, key->owner, rate, quota, now,
                                      flags | APIKEY_CHARGE_PREPAID, c);
            break;
        }
        else {
            /* The slot could not take them: back where they came from. */
            int unsure;

            apikey_quota_sql_give_back(db, r->pool, row, period, got, &err,
                                       &unsure);
        }
        /* Again: units another request put meanwhile, or what the store
         * answered. */
        apikey_limit_table_charge(t, &sk, key->owner, rate, quota, now, flags,
                                  c);
    }
    if (db) {
        apikey_store_db_done(r->server, db);
    }
    if (c->result == APIKEY_CHARGE_NEED_LEASE) {
        c->result = APIKEY_CHARGE_STORE_DOWN;
    }
}

/* A refusal of the limits, with its Retry-After (seconds) and body. */
static int refuse(request_rec *r, int status, int rate_limited,
                  const char *retry_after)
{
    if (retry_after) {
        apr_table_setn(r->err_headers_out, "Retry-After", retry_after);
    }
    apikey_errors_answer(r,
                         status == HTTP_SERVICE_UNAVAILABLE
                             ? APIKEY_PROBLEM_UNCOUNTED
                         : rate_limited ? APIKEY_PROBLEM_RATE
                                        : APIKEY_PROBLEM_QUOTA,
                         retry_after, NULL);
    return status;
}

/* The result of a request that the limits refused, on the client
 * request's record: a subrequest's refusal is not the client's answer. */
static void refused_as(request_rec *r, apikey_request_t *rq,
                       apikey_result_t why)
{
    if (!r->main) {
        rq->result = why;
    }
}

/* One slot's charge: the table's, and the store's when the slot's lease of
 * a cluster-wide quota ran out. */
static void slot_charge(request_rec *r, const apikey_record_t *key,
                        const apikey_slot_key_t *sk, const apikey_rate_t *rate,
                        const apikey_quota_t *quota, long long now, int flags,
                        apikey_charge_t *c)
{
    apikey_limit_table_charge(apikey_limits_table(), sk, key->owner, rate,
                              quota, now, flags, c);
    if (c->result == APIKEY_CHARGE_NEED_LEASE) {
        charge_from_store(r, key, *sk, rate, quota, now, flags, c);
    }
}

/* Charges key for r under conf's limits (rate, quota windows): returns
 * DECLINED when admitted (or only reported), else the status, with its
 * headers.  The rate limit and the first window count in the budget's
 * slot, each other window in one of its own, in turn: a window that
 * refuses gives back what those before it took (a request refused costs
 * nothing), and one it kept from being charged is still told of. */
static int charge(request_rec *r, apikey_request_t *rq,
                  const apikey_record_t *key, const apikey_dir_conf_t *conf,
                  const apikey_rate_t *rate_in, const apikey_quotas_t *quota_in,
                  int anonymous)
{
    static const apikey_rate_t no_rate;
    static const apikey_quota_t no_quota;
    apikey_rate_t rate = *rate_in;
    apikey_quotas_t quota = *quota_in;
    const apikey_quota_t *first = quota.n ? &quota.w[0] : &no_quota;
    apikey_slot_key_t sk;
    const apikey_srv_conf_t *srv;
    apikey_charge_t *c, wc;
    long long now;
    int report, flags, going, refused = -1;
    int known[APIKEY_QUOTAS_MAX] = {0};
    unsigned i;

    report = conf->limit_report == 1;
    srv = ap_get_module_config(r->server->module_config, &authn_apikey_module);
    /* Anonymous clients are counted on this server only: the store knows
     * keys, not addresses. */
    flags = (report ? APIKEY_CHARGE_REPORT : 0)
            | (srv->quota_store == APIKEY_QUOTA_STORE_DBD && !anonymous
                   ? APIKEY_CHARGE_LEASED
                   : 0)
            | (srv->quota_fallback ? APIKEY_CHARGE_FALLBACK : 0)
            | (anonymous ? APIKEY_CHARGE_SPARE : 0);
    c = &rq->charge;
    c->result = APIKEY_CHARGE_ADMIT; /* until charged (not zeroed) */
    sk = apikey_budget_slot_key(srv, conf, key, anonymous, &quota);
    if ((flags & APIKEY_CHARGE_LEASED) && quota.n
        && strlen(sk.id) > apikey_quota_sql_id_max(sk.query)) {
        /* Its units could not be given back under its whole id. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00048) "key %.64s...: an id longer than "
                                          "%d bytes cannot have a "
                                          "cluster-wide quota "
                                          "(AuthAPIKeyQuotaStore dbd): 503",
                      key->id, (int)apikey_quota_sql_id_max(sk.query));
        refused_as(r, rq, APIKEY_RESULT_ERROR);
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, 0, "60");
    }
    /* One instant for the whole charge: units claimed for a period are
     * spent in it, even when the claim took the clock past its end. */
    now = apr_time_now();
    slot_charge(r, key, &sk, &rate, first, now, flags, c);
    rq->charged = 1;
    rq->rate = rate;
    rq->quota = quota;
    if (quota.n) {
        rq->window[0].remaining = c->quota_remaining;
        rq->window[0].reset_us = c->quota_reset_us;
        if (c->result == APIKEY_CHARGE_QUOTA_EXCEEDED && !report) {
            refused = 0;
        }
    }
    /* The other windows, while the request is admitted (or reported). */
    known[0] = 1;
    going = c->result == APIKEY_CHARGE_ADMIT
            || (report
                && (c->result == APIKEY_CHARGE_RATE_LIMITED
                    || c->result == APIKEY_CHARGE_QUOTA_EXCEEDED));
    for (i = 1; i < quota.n && going; i++) {
        apikey_slot_key_t wk = apikey_budget_window_key(sk, &quota.w[i]);
        unsigned k;

        slot_charge(r, key, &wk, &no_rate, &quota.w[i], now, flags, &wc);
        known[i] = 1;
        c->repaired |= wc.repaired;
        rq->window[i].remaining = wc.quota_remaining;
        rq->window[i].reset_us = wc.quota_reset_us;
        if (wc.result == APIKEY_CHARGE_ADMIT) {
            continue;
        }
        if (report && wc.result == APIKEY_CHARGE_QUOTA_EXCEEDED) {
            c->result = wc.result; /* would be refused: counted all the same */
            continue;
        }
        /* Refused here (or no slot, or no store): what the request took
         * before goes back. */
        apikey_limit_table_refund(apikey_limits_table(), &sk, &rate, first, now,
                                  flags);
        rq->window[0].remaining += quota.n != 0;
        c->rate_remaining += rate.interval_us && c->rate_remaining < rate.burst;
        for (k = 1; k < i; k++) {
            apikey_slot_key_t bk = apikey_budget_window_key(sk, &quota.w[k]);

            apikey_limit_table_refund(apikey_limits_table(), &bk, &no_rate,
                                      &quota.w[k], now, flags);
            rq->window[k].remaining++;
        }
        c->result = wc.result;
        c->retry_us = wc.retry_us;
        refused = wc.result == APIKEY_CHARGE_QUOTA_EXCEEDED ? (int)i : -1;
        going = 0;
    }
    /* The windows the request did not reach: their state, and the longest
     * wait of those that are spent too (the client is told when it may
     * come back, not when the next limit would refuse it). */
    for (i = 1; i < quota.n; i++) {
        if (!known[i]) {
            apikey_slot_key_t wk = apikey_budget_window_key(sk, &quota.w[i]);

            apikey_limit_table_peek(apikey_limits_table(), &wk, &quota.w[i],
                                    now, flags, &wc);
            rq->window[i].remaining = wc.quota_remaining;
            rq->window[i].reset_us = wc.quota_reset_us;
        }
        if (!report
            && (c->result == APIKEY_CHARGE_RATE_LIMITED
                || c->result == APIKEY_CHARGE_QUOTA_EXCEEDED)
            && rq->window[i].remaining == 0
            && rq->window[i].reset_us > c->retry_us) {
            c->result = APIKEY_CHARGE_QUOTA_EXCEEDED;
            c->retry_us = rq->window[i].reset_us;
            refused = (int)i;
        }
    }
    rq->binding = binding_of(rq, refused);
    if (apikey_limit_table_filling(table, FILL_WARN_PERCENT)) {
        warn_filling(r->server, table);
    }
    if (c->repaired) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      APIKEY_LOGNO(00032) "key %s: its limit counters were "
                                          "not valid and were reset",
                      key->id);
    }
    if (c->result == APIKEY_CHARGE_FULL && anonymous) {
        if (apikey_limit_table_full_log_due(table, apr_time_now(),
                                            FULL_LOG_INTERVAL)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00089) "the limit table is half full "
                                              "(%u of %u slots): anonymous "
                                              "clients new to it get 503, "
                                              "the other half is kept for "
                                              "keys; raise "
                                              "AuthAPIKeyLimitSlots",
                          apikey_limit_table_used(table),
                          apikey_limit_table_slots(table));
        }
        refused_as(r, rq, APIKEY_RESULT_ERROR);
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, 0, "60");
    }
    if (c->result == APIKEY_CHARGE_FULL) {
        if (apikey_limit_table_full_log_due(table, apr_time_now(),
                                            FULL_LOG_INTERVAL)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APIKEY_LOGNO(00033) "the limit table is full (%u "
                                              "keys, none idle): requests of "
                                              "new keys get 503; raise "
                                              "AuthAPIKeyLimitSlots",
                          apikey_limit_table_slots(table));
        }
        refused_as(r, rq, APIKEY_RESULT_ERROR);
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, 0, "60");
    }
    if (c->result == APIKEY_CHARGE_STORE_DOWN) {
        /* Fails closed: a fleet's quota is never granted without the
         * store that counts it (logged when the claim failed). */
        if (report) {
            return DECLINED;
        }
        refused_as(r, rq, APIKEY_RESULT_ERROR);
        return refuse(
            r, HTTP_SERVICE_UNAVAILABLE, 0,
            apikey_header_num(r->pool, apikey_up_to_sec(srv->quota_sync)
                                           ? apikey_up_to_sec(srv->quota_sync)
                                           : 1));
    }
    if (conf->limit_headers > 0) {
        apikey_limit_headers(
            r, conf->limit_headers,
            conf->limit_name && *conf->limit_name ? conf->limit_name : NULL,
            rq);
    }
    if (c->result == APIKEY_CHARGE_ADMIT) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  APIKEY_LOGNO(00034) "%s %s %s: %s",
                  anonymous ? "anonymous client" : "API key", key->id,
                  report ? "would be refused" : "refused",
                  c->result == APIKEY_CHARGE_RATE_LIMITED ? "rate limited"
                                                          : "quota exceeded");
    if (report) {
        return DECLINED;
    }
    refused_as(r, rq,
               c->result == APIKEY_CHARGE_RATE_LIMITED
                   ? APIKEY_RESULT_RATE_LIMITED
                   : APIKEY_RESULT_QUOTA_EXCEEDED);
    return refuse(r, HTTP_TOO_MANY_REQUESTS,
                  c->result == APIKEY_CHARGE_RATE_LIMITED,
                  apikey_header_num(r->pool, apikey_up_to_sec(c->retry_us)
                                                 ? apikey_up_to_sec(c->retry_us)
                                                 : 1));
}

/* The owner the status page shows for anonymous clients' slots, and the
 * look-up statement their slots are told apart by: no key's id is in
 * them, whatever ids a store holds. */
#define ANONYMOUS_OWNER "(anonymous)"
static const apikey_query_t anonymous_query = {NULL, "anonymous", 0,
                                               APIKEY_QUERY_ANONYMOUS};

static int same_limits(const apikey_charged_t *ch, const apikey_rate_t *rate,
                       const apikey_quotas_t *quota)
{
    unsigned i;

    if (ch->rate.interval_us != rate->interval_us
        || ch->rate.burst != rate->burst || ch->quota.n != quota->n) {
        return 0;
    }
    for (i = 0; i < quota->n; i++) {
        if (ch->quota.w[i].limit != quota->w[i].limit
            || ch->quota.w[i].period != quota->w[i].period) {
            return 0;
        }
    }
    return 1;
}

int apikey_limits_fixups(request_rec *r)
{
    const apikey_dir_conf_t *conf;
    const apikey_record_t *key;
    apikey_record_t anon;
    apikey_request_t *rq;
    apikey_here_t *here;
    apikey_rate_t rate;
    apikey_quotas_t quota;
    apr_uint32_t budget;
    int i, status, anonymous;

    /* An ErrorDocument's page (httpd's internal redirect with the error
     * status) is the answer to a request already judged, not one of the
     * client's: a 429's own page is not refused again. */
    if (!table || (r->prev && ap_is_HTTP_ERROR(r->status))) {
        return DECLINED;
    }
    rq = apikey_request_find(r);
    if (!rq || !(here = apikey_request_here(r))->granted) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    anonymous = here->anonymous;
    if (anonymous) {
        /* Counted by client address, in slots no key's can be. */
        memset(&anon, 0, sizeof(anon));
        memset(&rate, 0, sizeof(rate));
        memset(&quota, 0, sizeof(quota));
        if (conf->anon_rate) {
            rate = *conf->anon_rate;
        }
        if (conf->anon_quota) {
            quota = *conf->anon_quota;
        }
        if ((!rate.interval_us && !quota.n)
            || !(anon.id = apikey_failure_client_name(r))) {
            return DECLINED;
        }
        anon.owner = ANONYMOUS_OWNER;
        anon.query = &anonymous_query;
        key = &anon;
    }
    else if (!(key = apikey_request_key(r))) {
        return DECLINED;
    }
    else {
        limits_for(r, conf, key, &rate, &quota);
    }
    if (!rate.interval_us && !quota.n) {
        return DECLINED;
    }
    budget = apikey_budget_of(conf, key, anonymous);
    /* Once per client request for each key and limits: in the first
     * request_rec that an apikey provider granted them (the initial request
     * as a rule; else the internal redirect or subrequest that first used
     * the key, or the first that took it into a section of other limits: a
     * free or lenient page that redirects to or includes a limited one is
     * no way round them).  A later one with the same key and limits gets
     * the same answer: a subrequest refused does not make the next one
     * free. */
    for (i = 0; i < rq->ncharges; i++) {
        const apikey_charged_t *ch = &rq->charges[i];

        if (!strcmp(ch->id, key->id) && ch->budget == budget
            && same_limits(ch, &rate, &quota)) {
            if (ch->status == DECLINED) {
                return DECLINED;
            }
            return refuse(r, ch->status, ch->rate_limited, ch->retry_after);
        }
    }
    status = charge(r, rq, key, conf, &rate, &quota, anonymous);
    if (rq->ncharges < APIKEY_CHARGES_MAX) {
        apikey_charged_t *ch = &rq->charges[rq->ncharges++];

        ch->id = apr_pstrdup(rq->pool, key->id);
        ch->budget = budget;
        ch->rate = rate;
        ch->quota = quota;
        ch->status = status;
        ch->rate_limited = rq->charge.result == APIKEY_CHARGE_RATE_LIMITED;
        ch->retry_after =
            status == DECLINED
                ? NULL
                : apr_pstrdup(rq->pool,
                              apr_table_get(r->err_headers_out, "Retry-After"));
    }
    return status;
}
