/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey: creates, lists, shows, revokes and deletes API keys in any APR
 * DBD key store, in the spirit of htpasswd and htdbm. */

#include "apikey_key.h"
#include "apikey_pepper.h"
#include "apikey_time.h"
#include "htapikey.h"

#include "apr_general.h"
#include "apr_strings.h"
#include "apr_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a command that changes an existing store opens it with. */
#define CHANGES (HTAPIKEY_DB_MUST_EXIST | HTAPIKEY_DB_WRITES)

int htapikey_open_store(apr_pool_t *p, const htapikey_options_t *o, int flags,
                        htapikey_db_t *db)
{
    const char *err;

    if (!o->params) {
        return htapikey_fail(
            EXIT_USAGE, "%s",
            "no database: give -p PARAMS (for sqlite3, the file "
            "path) or set HTAPIKEY_PARAMS");
    }
    err = htapikey_db_open(p, o->driver, o->params, flags, db);
    return err ? htapikey_fail(EXIT_DB, "%s", err) : EXIT_OK;
}

static int cmd_init(apr_pool_t *p, const htapikey_options_t *o)
{
    htapikey_db_t db;
    const char *err;
    int rc;

    if ((rc = htapikey_only_options(o, 0, 0, 0))
        || (rc = htapikey_open_store(p, o, HTAPIKEY_DB_WRITES, &db))) {
        return rc;
    }
    if ((err = htapikey_db_init(&db)) != NULL) {
        return htapikey_fail(EXIT_DB, "init failed: %s", err);
    }
    if (o->json) {
        printf("{\"initialised\":true}\n");
    }
    else {
        printf("Key store ready (%s).\n", o->driver);
    }
    return EXIT_OK;
}

/* A new key, its id and its digest (with the pepper, when given). */
static int new_key(const htapikey_options_t *o, const char *prefix,
                   char key[APIKEY_KEY_MAX + 1], char id[APIKEY_ID_LEN + 1],
                   char digest[APIKEY_DIGEST_HEX_LEN + 1])
{
    if (apikey_key_generate(prefix, key, APIKEY_KEY_MAX + 1)
        || apikey_id_generate(id, APIKEY_ID_LEN + 1)
        || apikey_digest_hex(o->pepper, o->pepper_len, key, strlen(key),
                             digest)) {
        apikey_wipe(key, APIKEY_KEY_MAX + 1);
        return htapikey_fail(EXIT_DB, "%s",
                             "the random number generator failed");
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

    if ((rc = htapikey_only_options(o, 1, 1, 0))) {
        return rc;
    }
    if (!o->owner) {
        return htapikey_fail(EXIT_USAGE, "%s", "create needs --owner OWNER");
    }
    memset(&row, 0, sizeof(row));
    if ((err = htapikey_settings(p, o, &row))) {
        return htapikey_fail(EXIT_USAGE, "%s", err);
    }
    if (!row.scopes) {
        row.scopes = "";
    }
    if (!apikey_key_prefix_valid(prefix)) {
        return htapikey_fail(EXIT_USAGE,
                             "--prefix '%s' must be 1 to 32 letters, digits or "
                             "inner underscores",
                             prefix);
    }
    if (o->count) {
        return htapikey_create_count(p, o, &row, prefix);
    }
    if ((rc = htapikey_open_store(p, o, CHANGES, &db))) {
        return rc;
    }
    if ((rc = new_key(o, prefix, key, id, digest))) {
        return rc;
    }
    row.id = id;
    row.created = row.updated = htapikey_now(p);
    /* The key is printed only once the row is committed: a failure leaves
     * neither a key without a record nor a record without its key. */
    err = htapikey_db_insert(&db, &row, digest);
    apikey_wipe(digest, sizeof(digest));
    if (err) {
        apikey_wipe(key, sizeof(key));
        return htapikey_fail(
            EXIT_DB, "create failed, no key was made: %s%s", err,
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

    if ((rc = htapikey_only_options(o, 0, 0, 1))) {
        return rc;
    }
    if (!o->grace) {
        return htapikey_fail(
            EXIT_USAGE, "%s",
            "rotate needs --grace DURATION: how long the old key "
            "keeps working (0 to stop it now)");
    }
    if (apikey_duration_parse(o->grace, &grace_us)) {
        return htapikey_fail(
            EXIT_USAGE,
            "--grace '%s': expected a duration such as 0, 30m, 24h "
            "or 7d",
            o->grace);
    }
    if (!apikey_key_prefix_valid(prefix)) {
        return htapikey_fail(EXIT_USAGE,
                             "--prefix '%s' is not a valid key prefix", prefix);
    }
    if ((rc = htapikey_open_store(p, o, CHANGES, &db))) {
        return rc;
    }
    if ((err = htapikey_db_get(&db, o->id, &old)) != NULL) {
        return htapikey_fail(EXIT_DB, "%s", err);
    }
    if (!old) {
        return htapikey_fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    if (old->replaced_by) {
        return htapikey_fail(EXIT_USAGE,
                             "key '%s' was already rotated into '%s'", o->id,
                             old->replaced_by);
    }
    if (strcmp(old->status, "active")) {
        return htapikey_fail(EXIT_USAGE,
                             "key '%s' is %s; only an active key is "
                             "rotated",
                             o->id, old->status);
    }
    /* The new key has the old one's settings; only its secret differs. */
    row = *old;
    row.grace_until = row.replaced_by = NULL;
    if ((rc = new_key(o, prefix, key, id, digest))) {
        return rc;
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
        return htapikey_fail(EXIT_DB, "rotate failed, no key was made: %s",
                             err);
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

    if ((rc = htapikey_only_options(o, 1, 1, 1))) {
        return rc;
    }
    if (o->prefix) {
        return htapikey_fail(
            EXIT_USAGE, "%s",
            "update cannot change a key's prefix (rotate instead)");
    }
    memset(&row, 0, sizeof(row));
    if ((err = htapikey_settings(p, o, &row))) {
        return htapikey_fail(EXIT_USAGE, "%s", err);
    }
    if (!row.owner && !row.name && !row.scopes && !row.expires
        && !row.not_before && !row.allow_ip && !row.allow_referer
        && !row.allow_method && !row.allow_android && !row.allow_ios
        && !row.allow_cert && !row.rate && !row.burst && !row.quota
        && !row.bandwidth) {
        return htapikey_fail(EXIT_USAGE, "%s",
                             "update needs at least one setting");
    }
    if ((rc = htapikey_open_store(p, o, CHANGES, &db))) {
        return rc;
    }
    if ((err = htapikey_db_update(&db, o->id, &row, htapikey_now(p), &found))) {
        return htapikey_fail(EXIT_DB, "update failed: %s", err);
    }
    if (!found) {
        return htapikey_fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    if ((err = htapikey_db_get(&db, o->id, &k)) || !k) {
        return htapikey_fail(EXIT_DB,
                             "updated, but cannot read the key back: %s",
                             err ? err : "gone");
    }
    htapikey_print_key(p, o, k);
    return EXIT_OK;
}

static int cmd_list(apr_pool_t *p, const htapikey_options_t *o)
{
    apr_array_header_t *rows;
    htapikey_db_t db;
    const char *err;
    int rc;

    if ((rc = htapikey_only_options(o, 1, 0, 0))
        || (rc = htapikey_open_store(p, o, HTAPIKEY_DB_MUST_EXIST, &db))) {
        return rc;
    }
    if ((err = htapikey_db_list(&db, o->owner, &rows)) != NULL) {
        return htapikey_fail(EXIT_DB, "list failed: %s", err);
    }
    if ((o->unused_for || o->expiring)
        && (err = htapikey_filter_list(&db, o, rows)) != NULL) {
        return htapikey_fail(strncmp(err, "--", 2) ? EXIT_DB : EXIT_USAGE, "%s",
                             err);
    }
    htapikey_print_list(p, o, rows);
    return EXIT_OK;
}

static int cmd_show(apr_pool_t *p, const htapikey_options_t *o)
{
    htapikey_row_t *k;
    htapikey_db_t db;
    const char *err;
    int rc;

    if ((rc = htapikey_only_options(o, 0, 0, 1))
        || (rc = htapikey_open_store(p, o, HTAPIKEY_DB_MUST_EXIST, &db))) {
        return rc;
    }
    if ((err = htapikey_db_get(&db, o->id, &k)) != NULL) {
        return htapikey_fail(EXIT_DB, "show failed: %s", err);
    }
    if (!k) {
        return htapikey_fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    htapikey_print_key(p, o, k);
    if (!o->json && !o->tsv) {
        htapikey_print_last_used(&db, o->id);
    }
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

    if ((rc = htapikey_only_options(o, 0, 0, 1))
        || (rc = htapikey_open_store(p, o, CHANGES, &db))) {
        return rc;
    }
    if ((err = htapikey_db_get(&db, o->id, &k)) != NULL) {
        return htapikey_fail(EXIT_DB, "%s", err);
    }
    if (!k) {
        return htapikey_fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
    }
    /* A revoked key stays revoked: re-enabling a leaked key by mistake is
     * the error this refuses. */
    if (status && !strcmp(k->status, "revoked") && strcmp(status, "revoked")) {
        return htapikey_fail(
            EXIT_USAGE,
            "key '%s' is revoked; revocation is final (create a "
            "new key)",
            o->id);
    }
    now = htapikey_now(p);
    err = status ? htapikey_db_set_status(&db, o->id, status, now, &found)
                 : htapikey_db_delete(&db, o->id, &found);
    if (err) {
        return htapikey_fail(EXIT_DB, "%s failed: %s", o->command, err);
    }
    if (!found) {
        /* Gone, or revoked by someone else since we looked. */
        if (status && !htapikey_db_get(&db, o->id, &k) && k) {
            return htapikey_fail(EXIT_USAGE,
                                 "key '%s' was revoked meanwhile; "
                                 "revocation is final",
                                 o->id);
        }
        return htapikey_fail(EXIT_NOTFOUND, "no key with ID '%s'", o->id);
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

/* help [COMMAND]: the usage, or one command's. */
static int cmd_help(const htapikey_options_t *o)
{
    if (o->owner || o->name || o->scopes || o->expires || o->not_before
        || o->prefix || o->allow_ip || o->allow_referer || o->allow_method
        || o->allow_android || o->allow_ios || o->allow_cert || o->rate
        || o->burst || o->quota || o->bandwidth || o->grace || o->format
        || o->json || o->limit || o->count || o->plaintext || o->days
        || o->unused_for || o->expiring) {
        return htapikey_fail(EXIT_USAGE, "%s",
                             "'help' takes only a command name");
    }
    if (!o->id) {
        htapikey_usage(stdout);
        return EXIT_OK;
    }
    if (htapikey_command_usage(stdout, o->id)) {
        return htapikey_fail(EXIT_USAGE,
                             "unknown command '%s': no help for it (the "
                             "commands are in 'htapikey --help')",
                             o->id);
    }
    return EXIT_OK;
}

int main(int argc, const char *const *argv)
{
    htapikey_options_t o;
    apr_pool_t *p;
    int rc;

    htapikey_set_progname(argv[0]);
    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        return htapikey_fail(EXIT_DB, "%s", "cannot initialise APR");
    }
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    if (apr_dbd_init(p) != APR_SUCCESS) {
        return htapikey_fail(EXIT_DB, "%s", "cannot initialise APR DBD");
    }

    memset(&o, 0, sizeof(o));
    o.driver = getenv("HTAPIKEY_DRIVER");
    o.params = getenv("HTAPIKEY_PARAMS");
    if ((rc = htapikey_parse_args(p, argc, argv, &o)) != EXIT_OK) {
        return rc;
    }
    /* Before the pepper and the store: help needs neither. */
    if (o.command && !strcmp(o.command, "help")) {
        return cmd_help(&o);
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
            return htapikey_fail(EXIT_USAGE, "%s", msg);
        }
        o.pepper = buf;
    }
    if (!o.command) {
        htapikey_usage(stderr);
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
    if (!strcmp(o.command, "usage")) {
        return htapikey_cmd_usage(p, &o);
    }
    if (!strcmp(o.command, "log")) {
        return htapikey_cmd_log(p, &o);
    }
    if (!strcmp(o.command, "export")) {
        return htapikey_cmd_export(p, &o);
    }
    if (!strcmp(o.command, "import")) {
        return htapikey_cmd_import(p, &o);
    }
    return htapikey_fail(EXIT_USAGE, "unknown command '%s'", o.command);
}
