/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The usage sync's statement (see apikey_usage_sql.h).  Each node adds to
 * rows of its own (the node is in the key), so nodes never wait on each
 * other's rows; the addition itself makes two writers of one row (two
 * nodes configured with one name, two generations of one server) add up
 * as well. */

#include "apikey_usage_sql.h"

#include <string.h>

#include "apr_strings.h"

#define INSERT_ROW                                                             \
    "INSERT INTO apikey_usage (key_id, day, node, admitted, refused, "         \
    "last_used) VALUES (%s, %lld, %s, %lld, %lld, %lld) "
static const apikey_query_t add_sql[] = {
    {INSERT_ROW "ON CONFLICT (key_id, day, node) DO UPDATE SET admitted = "
                "apikey_usage.admitted + EXCLUDED.admitted, refused = "
                "apikey_usage.refused + EXCLUDED.refused, last_used = "
                "GREATEST(apikey_usage.last_used, EXCLUDED.last_used)",
     "authn_apikey_usage_add", 0, 0},
    {INSERT_ROW "ON DUPLICATE KEY UPDATE admitted = admitted + "
                "VALUES(admitted), refused = refused + VALUES(refused), "
                "last_used = GREATEST(last_used, VALUES(last_used))",
     "authn_apikey_usage_add", 0, 0},
    {INSERT_ROW "ON CONFLICT (key_id, day, node) DO UPDATE SET admitted = "
                "admitted + excluded.admitted, refused = refused + "
                "excluded.refused, last_used = MAX(last_used, "
                "excluded.last_used)",
     "authn_apikey_usage_add", 0, 0},
};

static const apikey_query_t *add_for(const apr_dbd_driver_t *driver)
{
    const char *name = apr_dbd_name(driver);

    return !strcmp(name, "pgsql")     ? &add_sql[0]
           : !strcmp(name, "mysql")   ? &add_sql[1]
           : !strcmp(name, "sqlite3") ? &add_sql[2]
                                      : NULL;
}

static const char *num(apr_pool_t *p, long long v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)v);
}

apr_status_t apikey_usage_sql_add(apikey_db_t *db, apr_pool_t *p,
                                  const char *row, long long day,
                                  const char *node, apr_uint64_t admitted,
                                  apr_uint64_t refused, long long last_used,
                                  const char **err, int *unsure)
{
    const apikey_query_t *q = add_for(db->driver);
    const char *args[6];
    int rv, nrows = 0, unprepared = 0;

    *unsure = 0;
    if (!q) {
        *err = apr_psprintf(p,
                            "no usage statement for the %s driver (sqlite3, "
                            "pgsql and mysql have one)",
                            apr_dbd_name(db->driver));
        return APR_ENOTIMPL;
    }
    args[0] = row;
    args[1] = num(p, day);
    args[2] = node;
    args[3] = num(p, (long long)admitted);
    args[4] = num(p, (long long)refused);
    args[5] = num(p, last_used);
    rv = apikey_db_run(db, p, q, 6, args, NULL, &nrows, 0, &unprepared);
    if (rv) {
        *err = apr_psprintf(p, "adding usage: %s", apikey_db_error(db, p, rv));
        /* A statement that could not be prepared (no apikey_usage table)
         * never ran; one the database said it is busy for did not either. */
        *unsure = !unprepared && !apikey_db_busy(db, rv);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
