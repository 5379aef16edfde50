/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements.  See the NOTICE file distributed with
 * this work for additional information regarding copyright ownership.
 * The ASF licenses this file to You under the Apache License, Version 2.0
 * (the "License"); you may not use this file except in compliance with
 * the License.  You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* htapikey: creates, lists, shows, revokes and deletes API keys in any APR
 * DBD key store, in the spirit of htpasswd and htdbm. */

#include "apikey_key.h"
#include "apikey_pepper.h"
#include "apikey_time.h"
#include "apikey_time.h"
#include "htapikey.h"

#include "apr_general.h"
#include "apr_strings.h"
#include "apr_time.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *progname = "htapikey";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [-d DRIVER] [-p PARAMS] [--json] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  init                        create the key store's tables\n"
            "  create --owner OWNER [SETTINGS] [--prefix P]\n"
            "                              create a key and print it once\n"
            "  update ID SETTINGS          change a key's settings\n"
            "  rotate ID --grace DURATION  a new key with the same settings; "
            "the old\n"
            "                              one works DURATION longer (30m, "
            "24h, 7d, 0)\n"
            "  list [--owner OWNER]        list keys (never the keys "
            "themselves)\n"
            "  show ID                     show one key's settings\n"
            "  revoke ID                   revoke a key for good\n"
            "  disable ID | enable ID      suspend or resume a key\n"
            "  delete ID                   remove a key's record\n"
            "\n"
            "Options:\n"
            "  -d, --driver DRIVER   APR DBD driver: sqlite3, pgsql, mysql, "
            "...\n"
            "                        (default sqlite3, or $HTAPIKEY_DRIVER)\n"
            "  -p, --params PARAMS   connection parameters as in DBDParams\n"
            "                        (or $HTAPIKEY_PARAMS)\n"
            "  --pepper FILE         HMAC-SHA-256 digests keyed with FILE, as "
            "the\n"
            "                        server's AuthAPIKeyHash hmac-sha256 FILE\n"
            "                        (or $HTAPIKEY_PEPPER_FILE)\n"
            "  --json                machine-readable output\n"
            "  -h, --help            this help\n"
            "\n"
            "Settings (create and update):\n"
            "  --owner OWNER --name LABEL --scopes \"a b\"\n"
            "  --expires TIME --not-before TIME\n"
            "  --allow-ip LIST        client networks, e.g. "
            "192.0.2.0/24,2001:db8::/32\n"
            "  --allow-referer LIST   referer hosts, e.g. "
            "example.com,*.example.com\n"
            "  --allow-method LIST    HTTP methods, e.g. GET,HEAD\n"
            "  --rate N/s|m|h --burst B   a rate limit, e.g. --rate 20/s "
            "--burst 40\n"
            "  --quota N/hour|day|month   a calendar quota (UTC), e.g. "
            "100000/month\n"
            "  For update, 'none' clears --name, --expires, --not-before and "
            "--allow-*.\n"
            "\n"
            "TIME is ISO-8601 (2027-01-31, 2027-01-31T12:00:00Z, "
            "...+02:00), UTC\n"
            "when no offset is given.\n",
            progname);
}

static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "htapikey: <message>" and returns code, the exit status. */
static int fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (code == EXIT_USAGE) {
        fprintf(stderr, "Try '%s --help'.\n", progname);
    }
    return code;
}

/* ---- argument parsing ---- */

/* Matches "--name value" and "--name=value"; *i is advanced past what was
 * consumed.  Returns 1 on a match, 0 if argv[*i] is another option, -1 if
 * the value is missing. */
static int take_value(const char *name, int argc, const char *const *argv,
                      int *i, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, n)) {
        return 0;
    }
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') {
        return 0;
    }
    if (*i + 1 >= argc) {
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

static int parse_args(apr_pool_t *p, int argc, const char *const *argv,
                      htapikey_options_t *o)
{
    static const struct {
        const char *name, *alias;
        size_t offset;
    } valued[] = {
        {"--driver", "-d", offsetof(htapikey_options_t, driver)},
        {"--params", "-p", offsetof(htapikey_options_t, params)},
        {"--owner", NULL, offsetof(htapikey_options_t, owner)},
        {"--name", NULL, offsetof(htapikey_options_t, name)},
        {"--scopes", NULL, offsetof(htapikey_options_t, scopes)},
        {"--expires", NULL, offsetof(htapikey_options_t, expires)},
        {"--not-before", NULL, offsetof(htapikey_options_t, not_before)},
        {"--prefix", NULL, offsetof(htapikey_options_t, prefix)},
        {"--allow-ip", NULL, offsetof(htapikey_options_t, allow_ip)},
        {"--allow-referer", NULL, offsetof(htapikey_options_t, allow_referer)},
        {"--allow-method", NULL, offsetof(htapikey_options_t, allow_method)},
        {"--pepper", NULL, offsetof(htapikey_options_t, pepper_file)},
        {"--grace", NULL, offsetof(htapikey_options_t, grace)},
        {"--rate", NULL, offsetof(htapikey_options_t, rate)},
        {"--burst", NULL, offsetof(htapikey_options_t, burst)},
        {"--quota", NULL, offsetof(htapikey_options_t, quota)},
    };
    int i;

    (void)p;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t j;
        int matched = 0;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(EXIT_OK);
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        for (j = 0; j < sizeof(valued) / sizeof(valued[0]) && !matched; j++) {
            const char *v = NULL;
            int rc = take_value(valued[j].name, argc, argv, &i, &v);

            if (rc == 0 && valued[j].alias) {
                rc = take_value(valued[j].alias, argc, argv, &i, &v);
            }
            if (rc < 0) {
                return fail(EXIT_USAGE, "%s needs a value", a);
            }
            if (rc > 0) {
                *(const char **)((char *)o + valued[j].offset) = v;
                matched = 1;
            }
        }
        if (matched) {
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            return fail(EXIT_USAGE, "unknown option '%s'", a);
        }
        if (!o->command) {
            o->command = a;
        }
        else if (!o->id) {
            o->id = a;
        }
        else {
            return fail(EXIT_USAGE, "unexpected argument '%s'", a);
        }
    }
    return EXIT_OK;
}

/* Refuses options that the command does not take, so that a misplaced
 * --expires on "list" is an error, not silently ignored. */
static int only_options(const htapikey_options_t *o, int owner, int settings,
                        int id)
{
    if (o->grace && strcmp(o->command, "rotate")) {
        return fail(EXIT_USAGE, "'%s' does not take --grace", o->command);
    }
    if (!owner && o->owner) {
        return fail(EXIT_USAGE, "'%s' does not take --owner", o->command);
    }
    if (!settings
        && (o->name || o->scopes || o->expires || o->not_before || o->prefix
            || o->allow_ip || o->allow_referer || o->allow_method || o->rate
            || o->burst || o->quota)) {
        return fail(EXIT_USAGE,
                    "'%s' does not take --name, --scopes, --expires, "
                    "--not-before, --allow-*, --rate, --burst, --quota or "
                    "--prefix",
                    o->command);
    }
    if (id && !o->id) {
        return fail(EXIT_USAGE, "'%s' needs a key ID", o->command);
    }
    if (!id && o->id) {
        return fail(EXIT_USAGE, "unexpected argument '%s'", o->id);
    }
    return EXIT_OK;
}

/* ---- commands ---- */

static int open_store(apr_pool_t *p, const htapikey_options_t *o,
                      int must_exist, htapikey_db_t *db)
{
    const char *err;

    if (!o->params) {
        return fail(EXIT_USAGE, "%s",
                    "no database: give -p PARAMS (for sqlite3, the file "
                    "path) or set HTAPIKEY_PARAMS");
    }
    err = htapikey_db_open(p, o->driver, o->params, must_exist, db);
    return err ? fail(EXIT_DB, "%s", err) : EXIT_OK;
}

static int cmd_init(apr_pool_t *p, const htapikey_options_t *o)
{
    htapikey_db_t db;
    const char *err;
    int rc;

    if ((rc = only_options(o, 0, 0, 0)) || (rc = open_store(p, o, 0, &db))) {
        return rc;
    }
    if ((err = htapikey_db_init(&db)) != NULL) {
        return fail(EXIT_DB, "init failed: %s", err);
    }
    if (o->json) {
        printf("{\"initialised\":true}\n");
    }
    else {
        printf("Key store ready (%s).\n", o->driver);
    }
    return EXIT_OK;
}

static int cmd_create(apr_pool_t *p, const htapikey_options_t *o)
{
    char key[APIKEY_KEY_MAX + 1], id[APIKEY_ID_LEN + 1];
    char digest[APIKEY_DIGEST_HEX_LEN + 1];
    const char *prefix = o->prefix ? o->prefix : APIKEY_DEFAULT_PREFIX;
    const char *err;
    htapikey_row_t row;
    htapikey_db_t db;
    int rc;

    if ((rc = only_options(o, 1, 1, 0))) {
        return rc;
    }
    if (!o->owner) {
        return fail(EXIT_USAGE, "%s", "create needs --owner OWNER");
    }
    memset(&row, 0, sizeof(row));
    if ((err = htapikey_settings(p, o, &row))) {
        return fail(EXIT_USAGE, "%s", err);
    }
    if (!row.scopes) {
        row.scopes = "";
    }
    if (!apikey_key_prefix_valid(prefix)) {
        return fail(EXIT_USAGE,
                    "--prefix '%s' must be 1 to 32 letters, digits or "
                    "inner underscores",
                    prefix);
    }
    if ((rc = open_store(p, o, 1, &db))) {
        return rc;
    }
    if (apikey_key_generate(prefix, key, sizeof(key))
        || apikey_id_generate(id, sizeof(id))
        || apikey_digest_hex(o->pepper, o->pepper_len, key, strlen(key),
                             digest)) {
        apikey_wipe(key, sizeof(key));
        return fail(EXIT_DB, "%s", "the random number generator failed");
    }
    row.id = id;
    row.created = row.updated = htapikey_now(p);
    /* The key is printed only once the row is committed: a failure leaves
     * neither a key without a record nor a record without its key. */
    err = htapikey_db_insert(&db, &row, digest);
    apikey_wipe(digest, sizeof(digest));
    if (err) {
        apikey_wipe(key, sizeof(key));
        return fail(EXIT_DB, "create failed, no key was made: %s%s", err,
                    strstr(err, "column") ? " (a store made by an older "
                                            "htapikey is upgraded by "
                                            "'htapikey init')"
                                          : "");
    }
    if (o->json) {
        printf("{\"id\":");
        htapikey_json_string(id);
        printf(",\"key\":");
        htapikey_json_string(key);
        printf(",\"owner\":");
        htapikey_json_string(row.owner);
        printf(",\"scopes\":");
        htapikey_json_string(row.scopes);
        printf(",\"expires\":");
        htapikey_json_string(htapikey_iso_time(p, row.expires));
        printf("}\n");
    }
    else {
        printf("Created key %s for %s.  The key is shown once; store it "
               "now:\n%s\n",
               id, row.owner, key);
    }
    fflush(stdout);
    apikey_wipe(key, sizeof(key));
    return EXIT_OK;
}

static int cmd_rotate(apr_pool_t *p, const htapikey_options_t *o)
{
    char key[APIKEY_KEY_MAX + 1], id[APIKEY_ID_LEN + 1];
    char digest[APIKEY_DIGEST_HEX_LEN + 1], until_iso[APIKEY_TIME_ISO_LEN];
    const char *prefix = o->prefix ? o->prefix : APIKEY_DEFAULT_PREFIX;
    const char *err, *now = htapikey_now(p), *until;
    htapikey_row_t row, *old;
    htapikey_db_t db;
    long long grace_us, until_s;
    int rc;

    if ((rc = only_options(o, 0, 0, 1))) {
        return rc;
    }
    if (!o->grace) {
        return fail(EXIT_USAGE, "%s",
                    "rotate needs --grace DURATION: how long the old key "
                    "keeps working (0 to stop it now)");
    }
    if (apikey_duration_parse(o->grace, &grace_us)) {
        return fail(EXIT_USAGE,
                    "--grace '%s': expected a duration such as 0, 30m, 24h "
                    "or 7d",
                    o->grace);
    }
    if (!apikey_key_prefix_valid(prefix)) {
        return fail(EXIT_USAGE, "--prefix '%s' is not a valid key prefix",
                    prefix);
    }
    if ((rc = open_store(p, o, 1, &db))) {
        return rc;
    }
    if ((err = htapikey_db_get(&db, o->id, &old)) != NULL) {
        return fail(EXIT_DB, "%s", err);
    }
    if (!old) {
        return fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    if (old->replaced_by) {
        return fail(EXIT_USAGE, "key '%s' was already rotated into '%s'", o->id,
                    old->replaced_by);
    }
    if (strcmp(old->status, "active")) {
        return fail(EXIT_USAGE,
                    "key '%s' is %s; only an active key is "
                    "rotated",
                    o->id, old->status);
    }
    /* The new key has the old one's settings; only its secret differs. */
    row = *old;
    row.grace_until = row.replaced_by = NULL;
    if (apikey_key_generate(prefix, key, sizeof(key))
        || apikey_id_generate(id, sizeof(id))
        || apikey_digest_hex(o->pepper, o->pepper_len, key, strlen(key),
                             digest)) {
        apikey_wipe(key, sizeof(key));
        return fail(EXIT_DB, "%s", "the random number generator failed");
    }
    row.id = id;
    row.created = row.updated = now;
    /* Seconds, rounded up: a grace of 500ms still gives the old key one. */
    until_s = atoll(now) + (grace_us + 999999) / 1000000;
    until = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)until_s);
    err = htapikey_db_rotate(&db, o->id, &row, digest, until, now);
    apikey_wipe(digest, sizeof(digest));
    if (err) {
        apikey_wipe(key, sizeof(key));
        return fail(EXIT_DB, "rotate failed, no key was made: %s", err);
    }
    apikey_time_format(until_s, until_iso);
    if (o->json) {
        printf("{\"id\":");
        htapikey_json_string(id);
        printf(",\"key\":");
        htapikey_json_string(key);
        printf(",\"replaces\":");
        htapikey_json_string(o->id);
        printf(",\"grace_until\":");
        htapikey_json_string(until_iso);
        printf("}\n");
    }
    else {
        printf("Created key %s to replace %s, which works until %s.  The key "
               "is shown once; store it now:\n%s\n",
               id, o->id, until_iso, key);
    }
    fflush(stdout);
    apikey_wipe(key, sizeof(key));
    return EXIT_OK;
}

static int cmd_update(apr_pool_t *p, const htapikey_options_t *o)
{
    htapikey_row_t row, *k;
    htapikey_db_t db;
    const char *err;
    int rc, found = 0;

    if ((rc = only_options(o, 1, 1, 1))) {
        return rc;
    }
    if (o->prefix) {
        return fail(EXIT_USAGE, "%s",
                    "update cannot change a key's prefix (rotate instead)");
    }
    memset(&row, 0, sizeof(row));
    if ((err = htapikey_settings(p, o, &row))) {
        return fail(EXIT_USAGE, "%s", err);
    }
    if (!row.owner && !row.name && !row.scopes && !row.expires
        && !row.not_before && !row.allow_ip && !row.allow_referer
        && !row.allow_method && !row.rate && !row.burst && !row.quota) {
        return fail(EXIT_USAGE, "%s", "update needs at least one setting");
    }
    if ((rc = open_store(p, o, 1, &db))) {
        return rc;
    }
    if ((err = htapikey_db_update(&db, o->id, &row, htapikey_now(p), &found))) {
        return fail(EXIT_DB, "update failed: %s", err);
    }
    if (!found) {
        return fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    if ((err = htapikey_db_get(&db, o->id, &k)) || !k) {
        return fail(EXIT_DB, "updated, but cannot read the key back: %s",
                    err ? err : "gone");
    }
    htapikey_print_key(p, o->json, k);
    return EXIT_OK;
}

static int cmd_list(apr_pool_t *p, const htapikey_options_t *o)
{
    apr_array_header_t *rows;
    htapikey_db_t db;
    const char *err;
    int rc;

    if ((rc = only_options(o, 1, 0, 0)) || (rc = open_store(p, o, 1, &db))) {
        return rc;
    }
    if ((err = htapikey_db_list(&db, o->owner, &rows)) != NULL) {
        return fail(EXIT_DB, "list failed: %s", err);
    }
    htapikey_print_list(p, o->json, rows);
    return EXIT_OK;
}

static int cmd_show(apr_pool_t *p, const htapikey_options_t *o)
{
    htapikey_row_t *k;
    htapikey_db_t db;
    const char *err;
    int rc;

    if ((rc = only_options(o, 0, 0, 1)) || (rc = open_store(p, o, 1, &db))) {
        return rc;
    }
    if ((err = htapikey_db_get(&db, o->id, &k)) != NULL) {
        return fail(EXIT_DB, "show failed: %s", err);
    }
    if (!k) {
        return fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    htapikey_print_key(p, o->json, k);
    return EXIT_OK;
}

/* revoke, disable, enable and delete. */
static int cmd_change(apr_pool_t *p, const htapikey_options_t *o,
                      const char *status)
{
    const char *err, *now;
    htapikey_row_t *k;
    htapikey_db_t db;
    int rc, found = 0;

    if ((rc = only_options(o, 0, 0, 1)) || (rc = open_store(p, o, 1, &db))) {
        return rc;
    }
    if ((err = htapikey_db_get(&db, o->id, &k)) != NULL) {
        return fail(EXIT_DB, "%s", err);
    }
    if (!k) {
        return fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    /* A revoked key stays revoked: re-enabling a leaked key by mistake is
     * the error this refuses. */
    if (status && !strcmp(k->status, "revoked") && strcmp(status, "revoked")) {
        return fail(EXIT_USAGE,
                    "key '%s' is revoked; revocation is final (create a "
                    "new key)",
                    o->id);
    }
    now = htapikey_now(p);
    err = status ? htapikey_db_set_status(&db, o->id, status, now, &found)
                 : htapikey_db_delete(&db, o->id, &found);
    if (err) {
        return fail(EXIT_DB, "%s failed: %s", o->command, err);
    }
    if (!found) {
        /* Gone, or revoked by someone else since we looked. */
        if (status && !htapikey_db_get(&db, o->id, &k) && k) {
            return fail(EXIT_USAGE,
                        "key '%s' was revoked meanwhile; "
                        "revocation is final",
                        o->id);
        }
        return fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    if (o->json) {
        printf("{\"id\":");
        htapikey_json_string(o->id);
        printf(",\"status\":");
        htapikey_json_string(status ? status : "deleted");
        printf("}\n");
    }
    else {
        printf("Key %s %s.\n", o->id,
               status ? apr_pstrcat(p, "is now ", status, NULL) : "deleted");
    }
    return EXIT_OK;
}

int main(int argc, const char *const *argv)
{
    htapikey_options_t o;
    apr_pool_t *p;
    int rc;

    if (argv[0] && strrchr(argv[0], '/')) {
        progname = strrchr(argv[0], '/') + 1;
    }
    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fprintf(stderr, "%s: cannot initialise APR\n", progname);
        return EXIT_DB;
    }
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    if (apr_dbd_init(p) != APR_SUCCESS) {
        return fail(EXIT_DB, "%s", "cannot initialise APR DBD");
    }

    memset(&o, 0, sizeof(o));
    o.driver = getenv("HTAPIKEY_DRIVER");
    o.params = getenv("HTAPIKEY_PARAMS");
    if ((rc = parse_args(p, argc, argv, &o)) != EXIT_OK) {
        return rc;
    }
    if (!o.driver || !*o.driver) {
        o.driver = "sqlite3";
    }
    if (!o.pepper_file) {
        o.pepper_file = getenv("HTAPIKEY_PEPPER_FILE");
    }
    if (o.pepper_file && *o.pepper_file) {
        unsigned char *buf = apr_palloc(p, APIKEY_PEPPER_MAX);
        char msg[256];

        if (apikey_pepper_load(o.pepper_file, buf, &o.pepper_len, msg,
                               sizeof(msg))) {
            return fail(EXIT_USAGE, "%s", msg);
        }
        o.pepper = buf;
    }
    if (!o.command) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(o.command, "init")) {
        return cmd_init(p, &o);
    }
    if (!strcmp(o.command, "create")) {
        return cmd_create(p, &o);
    }
    if (!strcmp(o.command, "rotate")) {
        return cmd_rotate(p, &o);
    }
    if (!strcmp(o.command, "update")) {
        return cmd_update(p, &o);
    }
    if (!strcmp(o.command, "list")) {
        return cmd_list(p, &o);
    }
    if (!strcmp(o.command, "show")) {
        return cmd_show(p, &o);
    }
    if (!strcmp(o.command, "revoke")) {
        return cmd_change(p, &o, "revoked");
    }
    if (!strcmp(o.command, "disable")) {
        return cmd_change(p, &o, "disabled");
    }
    if (!strcmp(o.command, "enable")) {
        return cmd_change(p, &o, "active");
    }
    if (!strcmp(o.command, "delete")) {
        return cmd_change(p, &o, NULL);
    }
    return fail(EXIT_USAGE, "unknown command '%s'", o.command);
}
