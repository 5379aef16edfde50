/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What htapikey reads of the apikey_usage table: usage ID (a key's
 * requests a day, summed over the nodes that counted them), the last use
 * that show prints, and list's --unused-for and --expiring. */

#include "apikey_time.h"
#include "htapikey.h"

#include "apr_hash.h"
#include "apr_strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_SECONDS  86400LL
#define DEFAULT_DAYS 30
#define MAX_DAYS     3660
/* The widest bar on a terminal, in character cells. */
#define BAR_CELLS 40

/* The text of a BIGINT entry as a number; NULL (no rows) is 0. */
static long long num(const char *v)
{
    return v ? atoll(v) : 0;
}

/* "YYYY-MM-DD" of a day number. */
static const char *day_text(apr_pool_t *p, long long day)
{
    long long y;
    unsigned m, d;

    apikey_civil_from_days(day, &y, &m, &d);
    return apr_psprintf(p, "%04" APR_INT64_T_FMT "-%02u-%02u", (apr_int64_t)y,
                        m, d);
}

static const char *iso(apr_pool_t *p, long long t)
{
    char buf[APIKEY_TIME_ISO_LEN];

    apikey_time_format(t, buf);
    return apr_pstrdup(p, buf);
}

/* The latest use of key id and the node that saw it: 0 when there is
 * none, -1 when apikey_usage cannot be read (err set). */
static int last_use(htapikey_db_t *db, const char *id, long long *when,
                    const char **node, const char **err)
{
    apr_array_header_t *rows;
    const char *args[1];
    const char **v;

    args[0] = id;
    *err = htapikey_db_select(db,
                              "SELECT last_used, node FROM apikey_usage "
                              "WHERE key_id = %s AND last_used > 0 "
                              "ORDER BY last_used DESC, node LIMIT 1",
                              1, args, 2, &rows);
    if (*err) {
        return -1;
    }
    if (rows->nelts == 0) {
        return 0;
    }
    v = APR_ARRAY_IDX(rows, 0, const char **);
    *when = num(v[0]);
    *node = v[1] ? v[1] : "";
    return 1;
}

void htapikey_print_last_used(htapikey_db_t *db, const char *id)
{
    apr_pool_t *p = db->conn.pool;
    const char *node = NULL, *err = NULL;
    long long when = 0;
    int rc = last_use(db, id, &when, &node, &err);

    /* A store made before apikey_usage: show still shows the key. */
    if (rc < 0) {
        return;
    }
    if (rc == 0) {
        printf("last used:  never (as far as the servers wrote)\n");
        return;
    }
    printf("last used:  %s (node %s)\n", iso(p, when), node);
}

/* A duration option as seconds, or -1. */
static long long duration_s(const char *v)
{
    long long us;

    if (apikey_duration_parse(v, &us) || us < 0) {
        return -1;
    }
    return us / 1000000;
}

const char *htapikey_filter_list(htapikey_db_t *db, const htapikey_options_t *o,
                                 apr_array_header_t *rows)
{
    apr_pool_t *p = db->conn.pool;
    long long now = atoll(htapikey_now(p)), unused = -1, expiring = -1;
    apr_hash_t *used = NULL;
    int i, kept = 0;

    if (o->unused_for && (unused = duration_s(o->unused_for)) < 0) {
        return apr_psprintf(p,
                            "--unused-for '%s': expected a duration such as "
                            "90d, 12h or 30m",
                            o->unused_for);
    }
    if (o->expiring && (expiring = duration_s(o->expiring)) < 0) {
        return apr_psprintf(p,
                            "--expiring '%s': expected a duration such as "
                            "14d, 12h or 30m",
                            o->expiring);
    }
    if (unused >= 0) {
        apr_array_header_t *last;
        const char *err = htapikey_db_select(
            db,
            "SELECT key_id, MAX(last_used) FROM apikey_usage GROUP BY key_id",
            0, NULL, 2, &last);

        if (err) {
            return apr_psprintf(p,
                                "cannot read apikey_usage: %s (a store made "
                                "by an older htapikey gets it from 'htapikey "
                                "init')",
                                err);
        }
        used = apr_hash_make(p);
        for (i = 0; i < last->nelts; i++) {
            const char **v = APR_ARRAY_IDX(last, i, const char **);

            if (v[0]) {
                apr_hash_set(
                    used, v[0], APR_HASH_KEY_STRING,
                    apr_pmemdup(p, &(long long){num(v[1])}, sizeof(long long)));
            }
        }
    }
    for (i = 0; i < rows->nelts; i++) {
        htapikey_row_t *k = &APR_ARRAY_IDX(rows, i, htapikey_row_t);
        int keep = 1;

        if (used) {
            const long long *t = apr_hash_get(used, k->id, APR_HASH_KEY_STRING);
            /* Never used: stale once it has existed that long. */
            long long since = t && *t > 0 ? *t : num(k->created);

            keep = since <= now - unused;
        }
        if (keep && expiring >= 0) {
            long long e = num(k->expires);

            keep = k->expires && e > now && e <= now + expiring;
        }
        if (keep) {
            if (kept != i) {
                APR_ARRAY_IDX(rows, kept, htapikey_row_t) = *k;
            }
            kept++;
        }
    }
    rows->nelts = kept;
    return NULL;
}

/* Appends n eighths of a cell of U+2588 FULL BLOCK (U+2589..U+258F for
 * the last, partial cell). */
static void bar(long long eighths)
{
    static const char *const part[8] = {"",       "\u258f", "\u258e", "\u258d",
                                        "\u258c", "\u258b", "\u258a", "\u2589"};

    for (; eighths >= 8; eighths -= 8) {
        fputs("\u2588", stdout);
    }
    fputs(part[eighths], stdout);
}

int htapikey_cmd_usage(apr_pool_t *p, const htapikey_options_t *o)
{
    long long days = DEFAULT_DAYS, today, first, d, max = 0, when = 0;
    long long total_a = 0, total_r = 0, *adm, *ref;
    apr_array_header_t *rows;
    const char *args[2], *err, *node = NULL;
    htapikey_row_t *k;
    htapikey_db_t db;
    char *end;
    int rc, i, have;

    if ((rc = htapikey_only_options(o, 0, 0, 1))) {
        return rc;
    }
    if (o->days) {
        days = strtoll(o->days, &end, 10);
        if (*end || end == o->days || days < 1 || days > MAX_DAYS) {
            return htapikey_fail(EXIT_USAGE,
                                 "--days '%s': expected a number of days "
                                 "from 1 to %d",
                                 o->days, MAX_DAYS);
        }
    }
    if ((rc = htapikey_open_store(p, o, HTAPIKEY_DB_MUST_EXIST, &db))) {
        return rc;
    }
    today = atoll(htapikey_now(p)) / DAY_SECONDS;
    first = today - days + 1;
    args[0] = o->id;
    args[1] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)first);
    err = htapikey_db_select(&db,
                             "SELECT day, SUM(admitted), SUM(refused) FROM "
                             "apikey_usage WHERE key_id = %s AND day >= %lld "
                             "GROUP BY day ORDER BY day",
                             2, args, 3, &rows);
    if (err) {
        return htapikey_fail(EXIT_DB,
                             "cannot read apikey_usage: %s (a store made by "
                             "an older htapikey gets it from 'htapikey "
                             "init')",
                             err);
    }
    have = last_use(&db, o->id, &when, &node, &err);
    if (have < 0) {
        return htapikey_fail(EXIT_DB, "%s", err);
    }
    /* A deleted key's history is still its history. */
    if (!have && rows->nelts == 0) {
        if ((err = htapikey_db_get(&db, o->id, &k)) != NULL) {
            return htapikey_fail(EXIT_DB, "%s", err);
        }
        if (!k) {
            return htapikey_fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
        }
    }
    /* Every day of the range, those without requests as 0. */
    adm = apr_pcalloc(p, (apr_size_t)days * sizeof(*adm));
    ref = apr_pcalloc(p, (apr_size_t)days * sizeof(*ref));
    for (i = 0; i < rows->nelts; i++) {
        const char **v = APR_ARRAY_IDX(rows, i, const char **);

        d = num(v[0]);
        if (d < first || d > today) {
            continue; /* a node whose clock runs ahead */
        }
        adm[d - first] = num(v[1]);
        ref[d - first] = num(v[2]);
    }
    for (d = 0; d < days; d++) {
        total_a += adm[d];
        total_r += ref[d];
        if (adm[d] + ref[d] > max) {
            max = adm[d] + ref[d];
        }
    }
    if (o->json) {
        printf("{\"id\":");
        htapikey_json_string(o->id);
        printf(",\"last_used\":");
        htapikey_json_string(have ? iso(p, when) : NULL);
        printf(",\"last_used_node\":");
        htapikey_json_string(have ? node : NULL);
        printf(",\"admitted\":%lld,\"refused\":%lld,\"days\":[", total_a,
               total_r);
        for (d = 0; d < days; d++) {
            printf("%s{\"day\":\"%s\",\"admitted\":%lld,\"refused\":%lld}",
                   d ? "," : "", day_text(p, first + d), adm[d], ref[d]);
        }
        printf("]}\n");
        return EXIT_OK;
    }
    printf("key %s, last used %s%s%s%s\n", o->id, have ? iso(p, when) : "never",
           have ? " (node " : "", have ? node : "", have ? ")" : "");
    if (isatty(STDOUT_FILENO)) {
        /* A bar a day as long as its requests: admitted in full blocks,
         * refused after them in light shade. */
        for (d = 0; d < days; d++) {
            long long a8 = max ? adm[d] * BAR_CELLS * 8 / max : 0;
            long long r8 = max ? (adm[d] + ref[d]) * BAR_CELLS * 8 / max : 0;
            long long cells = (r8 + 7) / 8 - (a8 + 7) / 8, c;

            printf("%s  ", day_text(p, first + d));
            bar(a8);
            for (c = 0; c < cells; c++) {
                fputs("\u2591", stdout);
            }
            printf(" %lld", adm[d]);
            printf(ref[d] ? " (%lld refused)\n" : "\n", ref[d]);
        }
        printf("total       %lld admitted, %lld refused (\u2588 admitted, "
               "\u2591 refused)\n",
               total_a, total_r);
        return EXIT_OK;
    }
    printf("%-10s  %12s  %12s\n", "DAY", "ADMITTED", "REFUSED");
    for (d = 0; d < days; d++) {
        printf("%-10s  %12lld  %12lld\n", day_text(p, first + d), adm[d],
               ref[d]);
    }
    printf("%-10s  %12lld  %12lld\n", "total", total_a, total_r);
    return EXIT_OK;
}
