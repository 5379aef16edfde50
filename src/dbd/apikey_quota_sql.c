/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The cluster-wide quota store's statements (see apikey_quota_sql.h).
 *
 * A claim is one conditional UPDATE (claimed + n, where claimed + n stays
 * within the quota) in the common case.  Only when it changes no row does
 * the claim read the row: absent, it is created (a race to create it is
 * lost harmlessly: the insert ignores a duplicate) and the update runs
 * again; present, what is left is claimed instead, or nothing when the
 * quota is spent.  Every statement stands alone (autocommit): the database
 * serialises updates of one row, and re-checks the condition on the row
 * it locks (PostgreSQL in READ COMMITTED, InnoDB, SQLite's write lock),
 * which is what makes the fleet exact.  Numbers are passed as text and
 * compared with the column on one side, so that SQLite applies the
 * column's numeric affinity to them. */

#include "apikey_quota_sql.h"

#include <string.h>

#include "apr_strings.h"

static const apikey_query_t claim_sql = {
    "UPDATE apikey_quota SET claimed = claimed + %lld WHERE key_id = %s AND "
    "period = %lld AND claimed <= %lld",
    "authn_apikey_quota_claim", 0, 0};
static const apikey_query_t read_sql = {
    "SELECT claimed FROM apikey_quota WHERE key_id = %s AND period = %lld",
    "authn_apikey_quota_read", 0, 0};
static const apikey_query_t give_back_sql = {
    "UPDATE apikey_quota SET claimed = claimed - %lld WHERE key_id = %s AND "
    "period = %lld AND claimed >= %lld",
    "authn_apikey_quota_give_back", 0, 0};
static const apikey_query_t add_sql = {
    "UPDATE apikey_quota SET claimed = claimed + %lld WHERE key_id = %s AND "
    "period = %lld",
    "authn_apikey_quota_add", 0, 0};
static const apikey_query_t purge_sql = {
    "DELETE FROM apikey_quota WHERE expires < %lld", "authn_apikey_quota_purge",
    0, 0};

/* A row for a new key and period, in each driver's words for "unless it
 * is there"; other drivers insert and take the duplicate error. */
#define INSERT_ROW                                                             \
    "INTO apikey_quota (key_id, period, claimed, expires) "                    \
    "VALUES (%s, %lld, 0, %lld)"
static const apikey_query_t insert_sql[] = {
    {"INSERT " INSERT_ROW " ON CONFLICT DO NOTHING", "authn_apikey_quota_new",
     0, 0},
    {"INSERT IGNORE " INSERT_ROW, "authn_apikey_quota_new", 0, 0},
    {"INSERT OR IGNORE " INSERT_ROW, "authn_apikey_quota_new", 0, 0},
    {"INSERT " INSERT_ROW, "authn_apikey_quota_new", 0, 0},
};

static const apikey_query_t *insert_for(const apr_dbd_driver_t *driver)
{
    const char *name = apr_dbd_name(driver);

    return !strcmp(name, "pgsql")     ? &insert_sql[0]
           : !strcmp(name, "mysql")   ? &insert_sql[1]
           : !strcmp(name, "sqlite3") ? &insert_sql[2]
                                      : &insert_sql[3];
}

/* Rounds a claim may lose to other servers' before it gives up. */
#define ROUNDS 8

static const char *num(apr_pool_t *p, long long v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)v);
}

static const char *failed(apikey_db_t *db, apr_pool_t *p, const char *what,
                          int rv)
{
    return apr_psprintf(p, "%s: %s", what, apikey_db_error(db, p, rv));
}

/* The row's claimed count: 1 with *claimed, 0 when there is no row, -1 on
 * an error (*err). */
static int read_claimed(apikey_db_t *db, apr_pool_t *p, const char *id,
                        const char *period, unsigned long *claimed,
                        const char **err)
{
    const char *args[2] = {id, period};
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, n = 0, found = 0;

    if ((rv = apikey_db_run(db, p, &read_sql, 2, args, &res, NULL, 1, NULL))) {
        *err = failed(db, p, "reading the quota row", rv);
        return -1;
    }
    /* Every row read, by number (as the key look-up does). */
    for (rv = apr_dbd_get_row(db->driver, p, res, &row, ++n); rv != -1;
         rv = apr_dbd_get_row(db->driver, p, res, &row, ++n)) {
        const char *v = rv == 0 ? apr_dbd_get_entry(db->driver, row, 0) : NULL;

        if (rv != 0) {
            *err = failed(db, p, "reading the quota row", rv);
            return -1;
        }
        if (v && !found) {
            apr_int64_t c = apr_atoi64(v);

            *claimed = c < 0 ? 0 : (unsigned long)c;
            found = 1;
        }
    }
    return found;
}

const char *apikey_quota_sql_row(apr_pool_t *p, const char *id,
                                 apr_uint32_t query)
{
    return query ? apr_psprintf(p, "q%08x:%s", (unsigned)query, id) : id;
}

size_t apikey_quota_sql_id_max(apr_uint32_t query)
{
    return APIKEY_QUOTA_ROW_MAX - (query ? 10 : 0);
}

apr_status_t apikey_quota_sql_claim(apikey_db_t *db, apr_pool_t *p,
                                    const char *id, unsigned long period,
                                    long long period_end, unsigned long limit,
                                    unsigned long want, unsigned long *got,
                                    unsigned long *claimed, const char **err,
                                    unsigned *statements)
{
    const char *period_s = num(p, (long long)period);
    apr_status_t status = APR_EGENERAL;
    int attempt, created = 0;

    *got = 0;
    *claimed = APIKEY_CLAIMED_UNKNOWN;
    if (want > limit) {
        want = limit;
    }
    /* A claim that lost to other servers' reads the row and tries again
     * with what is left.  Each lost round means another claim went
     * through; after ROUNDS of them the claim gives up with APR_EAGAIN
     * (busy, not down: this request fails, nothing is remembered), as
     * when SQLite reports its lock. */
    for (attempt = 0; attempt < ROUNDS; attempt++) {
        const char *args[4];
        int rv, nrows = 0, have;
        unsigned long c = 0;

        args[0] = num(p, (long long)want);
        args[1] = id;
        args[2] = period_s;
        args[3] = num(p, (long long)(limit - want));
        ++*statements;
        if ((rv = apikey_db_run(db, p, &claim_sql, 4, args, NULL, &nrows, 1,
                                NULL))) {
            *err = failed(db, p, "claiming quota units", rv);
            status = apikey_db_busy(db, rv) ? APR_EAGAIN : APR_EGENERAL;
            break;
        }
        if (nrows > 0) {
            *got = want;
            status = APR_SUCCESS;
            break;
        }
        ++*statements;
        if ((have = read_claimed(db, p, id, period_s, &c, err)) < 0) {
            break;
        }
        if (have == 0) {
            const char *ins[3] = {id, period_s, num(p, period_end)};

            if (created++) {
                *err = "the quota row cannot be created";
                break;
            }
            ++*statements;
            /* A duplicate (another server was first) is no error here. */
            apikey_db_run(db, p, insert_for(db->driver), 3, ins, NULL, &nrows,
                          1, NULL);
            continue;
        }
        *claimed = c;
        if (c >= limit) {
            status = APR_SUCCESS; /* nothing left */
            break;
        }
        want = want < limit - c ? want : limit - c;
    }
    if (status == APR_SUCCESS && *got && *claimed != APIKEY_CLAIMED_UNKNOWN) {
        *claimed += *got;
    }
    if (attempt == ROUNDS) {
        *err = "other servers' claims kept winning";
        status = APR_EAGAIN;
    }
    return status;
}

apr_status_t apikey_quota_sql_give_back(apikey_db_t *db, apr_pool_t *p,
                                        const char *id, unsigned long period,
                                        unsigned long units, const char **err,
                                        int *unsure)
{
    const char *args[4];
    int rv, nrows = 0;

    *unsure = 0;
    args[0] = num(p, (long long)units);
    args[1] = id;
    args[2] = num(p, (long long)period);
    args[3] = args[0];
    /* Run once only: run twice, it would give back twice (a connection
     * that died after the database applied it, say), and the fleet could
     * admit more than the quota. */
    rv = apikey_db_run(db, p, &give_back_sql, 4, args, NULL, &nrows, 0, NULL);
    if (rv) {
        *err = failed(db, p, "giving quota units back", rv);
        *unsure = !apikey_db_busy(db, rv);
    }
    return rv ? APR_EGENERAL : APR_SUCCESS;
}

apr_status_t apikey_quota_sql_add(apikey_db_t *db, apr_pool_t *p,
                                  const char *id, unsigned long period,
                                  long long period_end, unsigned long units,
                                  const char **err)
{
    const char *args[3], *ins[3];
    int rv, nrows = 0, attempt;

    args[0] = num(p, (long long)units);
    args[1] = ins[0] = id;
    args[2] = ins[1] = num(p, (long long)period);
    ins[2] = num(p, period_end);
    /* The row may not exist yet (no claim reached the store this period):
     * made, then updated. */
    for (attempt = 0; attempt < 2; attempt++) {
        rv = apikey_db_run(db, p, &add_sql, 3, args, NULL, &nrows, 1, NULL);
        if (rv || nrows > 0 || attempt) {
            break;
        }
        apikey_db_run(db, p, insert_for(db->driver), 3, ins, NULL, &nrows, 1,
                      NULL);
    }
    if (rv) {
        *err = failed(db, p, "adding owed quota units", rv);
    }
    else if (nrows == 0) {
        *err = "the quota row cannot be created";
        rv = -1;
    }
    return rv ? APR_EGENERAL : APR_SUCCESS;
}

apr_status_t apikey_quota_sql_purge(apikey_db_t *db, apr_pool_t *p,
                                    long long before, const char **err)
{
    const char *arg;
    int rv, nrows = 0;

    arg = num(p, before);
    rv = apikey_db_run(db, p, &purge_sql, 1, &arg, NULL, &nrows, 1, NULL);
    if (rv) {
        *err = failed(db, p, "purging old quota rows", rv);
    }
    return rv ? APR_EGENERAL : APR_SUCCESS;
}
