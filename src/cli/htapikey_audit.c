/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's audit trail: who changes the store, from where, and "log",
 * which prints the apikey_audit rows that every change writes in its own
 * transaction (htapikey_db.c). */

#include "apikey_time.h"
#include "htapikey.h"

#include "apr_network_io.h"
#include "apr_strings.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most max bytes of s, every byte that is not printable ASCII as '?':
 * SUDO_USER is whatever the environment says, and the columns are
 * VARCHAR(255) of UTF-8 in every schema. */
static const char *clean(apr_pool_t *p, const char *s, size_t max)
{
    char *c = apr_pstrndup(p, s, max), *o;

    for (o = c; *o; o++) {
        if (*o < 0x20 || *o > 0x7e) {
            *o = '?';
        }
    }
    return c;
}

void htapikey_audit_whoami(apr_pool_t *p, const char **user, const char **host)
{
    const struct passwd *pw = getpwuid(geteuid());
    const char *sudo = getenv("SUDO_USER");
    char name[APRMAXHOSTLEN + 1];
    const char *u;

    u = pw && pw->pw_name && *pw->pw_name
            ? clean(p, pw->pw_name, 64)
            : apr_psprintf(p, "uid %ld", (long)geteuid());
    /* sudo says who asked: root alone would name nobody.  It is what the
     * environment says, so it informs; it proves nothing. */
    if (sudo && *sudo) {
        u = apr_psprintf(p, "%s (sudo: %s)", u, clean(p, sudo, 64));
    }
    *user = u;
    if (apr_gethostname(name, sizeof(name), p) != APR_SUCCESS || !*name) {
        apr_cpystrn(name, "unknown", sizeof(name));
    }
    *host = clean(p, name, 200);
}

/* A value of the trail for a text line: as in list's table, a control
 * character or a byte that is not printable ASCII (another tool may have
 * written the row) as \xNN; NULL as "-". */
static const char *text(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (!s || !*s) {
        return "-";
    }
    o = out = apr_palloc(p, 4 * strlen(s) + 1);
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            o += sprintf(o, "\\x%02x", (unsigned char)*s);
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

int htapikey_cmd_log(apr_pool_t *p, const htapikey_options_t *o)
{
    static const char *const names[] = {"id",     "time",   "os_user", "host",
                                        "key_id", "action", "fields"};
    apr_array_header_t *rows;
    const char *args[1], *sql, *err;
    htapikey_db_t db;
    long long limit = 0;
    char *end;
    int rc, i, j;

    if ((rc = htapikey_only_options(o, 0, 0, o->id != NULL))) {
        return rc;
    }
    if (o->limit) {
        limit = strtoll(o->limit, &end, 10);
        if (*end || end == o->limit || limit < 1 || limit > 1000000000LL) {
            return htapikey_fail(EXIT_USAGE,
                                 "--limit '%s': expected a number of rows "
                                 "from 1 to 1000000000",
                                 o->limit);
        }
    }
    if ((rc = htapikey_open_store(p, o, HTAPIKEY_DB_MUST_EXIST, &db))) {
        return rc;
    }
    /* The newest rows first, so that LIMIT keeps them; printed oldest
     * first. */
    sql = apr_pstrcat(
        p,
        "SELECT id, time, os_user, host, key_id, action, "
        "fields FROM apikey_audit",
        o->id ? " WHERE key_id = %s" : "", " ORDER BY id DESC",
        limit ? apr_psprintf(p, " LIMIT %" APR_INT64_T_FMT, (apr_int64_t)limit)
              : "",
        NULL);
    args[0] = o->id;
    err = htapikey_db_select(&db, sql, o->id ? 1 : 0, args, 7, &rows);
    if (err) {
        return htapikey_fail(EXIT_DB,
                             "cannot read the audit trail: %s (a store made "
                             "by an older htapikey gets its apikey_audit "
                             "table from 'htapikey init')",
                             err);
    }
    if (o->json) {
        putchar('[');
    }
    for (i = rows->nelts - 1; i >= 0; i--) {
        const char **v = APR_ARRAY_IDX(rows, i, const char **);

        v[1] = htapikey_iso_time(p, v[1]);
        if (o->json) {
            for (j = 0; j < 7; j++) {
                printf("%s\"%s\":", j ? "," : "{", names[j]);
                if (j == 0) {
                    fputs(v[0] ? v[0] : "null", stdout);
                }
                else {
                    htapikey_json_string(v[j]);
                }
            }
            printf("}%s", i ? "," : "");
            continue;
        }
        printf("%s  %-7s  %s  by %s on %s", text(p, v[1]), text(p, v[5]),
               text(p, v[4]), text(p, v[2]), text(p, v[3]));
        printf(v[6] && *v[6] ? ": %s\n" : "\n", text(p, v[6]));
    }
    if (o->json) {
        printf("]\n");
    }
    return EXIT_OK;
}
