/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey import: key records as export writes them, or legacy keys in
 * clear, into any driver's store, all or nothing.
 * Every line is checked as create checks its options before anything is
 * written, and then every key goes in one transaction. */

#include "apikey_json.h"
#include "apikey_json_read.h"
#include "apikey_key.h"
#include "htapikey.h"

#include "apr_hash.h"
#include "apr_strings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int htapikey_column_numeric(const apikey_column_t *col)
{
    return !strcmp(col->placeholder, "%lld");
}

int htapikey_integer(const char *s)
{
    size_t n = 0;

    s += *s == '-';
    while (s[n] >= '0' && s[n] <= '9') {
        n++;
    }
    return n > 0 && n <= 18 && !s[n];
}

/* What import gathers before it writes: the keys, the line each came from,
 * and the ids and digests already taken (by the store, line 0, or by an
 * earlier line). */
typedef struct {
    apr_pool_t *p;
    const htapikey_options_t *o;
    apr_array_header_t *rows, *digests, *lines;
    apr_hash_t *ids, *digests_seen;
    const char *now;
} batch_t;

/* A message of htapikey_settings for a field: "--allow-ip 'x': ..." reads
 * "allow_ip 'x': ..." in an import. */
static const char *as_field(apr_pool_t *p, const char *msg)
{
    char *m = apr_pstrdup(p, msg), *c;
    size_t n = strlen(m), tail = strlen("; nothing was written");

    /* The import's own message says so once. */
    if (n > tail && !strcmp(m + n - tail, "; nothing was written")) {
        m[n - tail] = '\0';
    }
    if (strncmp(m, "--", 2)) {
        return m;
    }
    for (c = m + 2; *c && *c != ' '; c++) {
        if (*c == '-') {
            *c = '_';
        }
    }
    return m + 2;
}

/* An id: 1 to 64 bytes of printable ASCII without blanks or quotes (as the
 * ids htapikey makes, and a legacy store's). */
static const char *check_id(const char *what, const char *id)
{
    const char *c;

    if (!id || !*id || strlen(id) > 64) {
        return what;
    }
    for (c = id; *c; c++) {
        if (*c <= ' ' || *c > '~' || *c == '"' || *c == '\'' || *c == '\\') {
            return what;
        }
    }
    return NULL;
}

/* Takes a new key's id and digest for line, or says which line or the
 * store has it already. */
static const char *claim(batch_t *b, long line, const char *id,
                         const char *digest)
{
    const long *at;
    long *mine;

    if ((at = apr_hash_get(b->ids, id, APR_HASH_KEY_STRING))) {
        return *at ? apr_psprintf(b->p, "key id '%s' is already on line %ld",
                                  id, *at)
                   : apr_psprintf(b->p, "key id '%s' is already in the store",
                                  id);
    }
    if ((at = apr_hash_get(b->digests_seen, digest, APR_HASH_KEY_STRING))) {
        return *at ? apr_psprintf(b->p, "the same key (digest) as line %ld",
                                  *at)
                   : "the store holds that key (digest) already";
    }
    mine = apr_palloc(b->p, sizeof(*mine));
    *mine = line;
    apr_hash_set(b->ids, id, APR_HASH_KEY_STRING, mine);
    apr_hash_set(b->digests_seen, apr_pstrdup(b->p, digest),
                 APR_HASH_KEY_STRING, mine);
    return NULL;
}

static const char *add(batch_t *b, long line, const htapikey_row_t *row,
                       const char *digest)
{
    const char *err = claim(b, line, row->id, digest);

    if (err) {
        return err;
    }
    APR_ARRAY_PUSH(b->rows, htapikey_row_t) = *row;
    APR_ARRAY_PUSH(b->digests, const char *) = apr_pstrdup(b->p, digest);
    APR_ARRAY_PUSH(b->lines, long) = line;
    return NULL;
}

/* The settings create checks (owner, name, scopes, restrictions, limits),
 * with its checks, into row; the values as given by the line or the
 * command line. */
static const char *settings(batch_t *b, htapikey_options_t *opts,
                            htapikey_row_t *row)
{
    const char *err;

    opts->command = "import";
    if (!opts->owner) {
        return "no owner (give one on the line, or --owner)";
    }
    if ((err = htapikey_settings(b->p, opts, row))) {
        return as_field(b->p, err);
    }
    if (!row->scopes) {
        row->scopes = "";
    }
    return NULL;
}

/* The text columns that record() checks itself or through create's
 * checks; any other (a column added to the list later) gets text's. */
static const char *const checked[] = {
    "id",        "owner",         "name",         "scopes",
    "status",    "rate",          "quota",        "bandwidth",
    "allow_ip",  "allow_referer", "allow_method", "allow_android",
    "allow_ios", "allow_cert",    "digest",       "replaced_by",
    NULL};

/* UTF-8 without control characters, at most 1024 bytes. */
static int plain_text(const char *v)
{
    unsigned long cp;
    size_t n;

    if (strlen(v) > 1024) {
        return 0;
    }
    for (; *v; v += n) {
        if (!(n = apikey_utf8_decode(v, &cp)) || cp < 0x20
            || (cp >= 0x7f && cp <= 0x9f)) {
            return 0;
        }
    }
    return 1;
}

/* A record of export's: every field checked, the key record's columns
 * only. */
static const char *record(batch_t *b, long line,
                          const apr_array_header_t *members)
{
    htapikey_options_t opts = *b->o;
    htapikey_row_t row;
    const char *digest = NULL, *err;
    int i, c;

    memset(&row, 0, sizeof(row));
    opts.owner = opts.name = opts.scopes = opts.allow_ip = NULL;
    opts.allow_referer = opts.allow_method = opts.rate = NULL;
    opts.allow_android = opts.allow_ios = opts.allow_cert = NULL;
    opts.burst = opts.quota = opts.bandwidth = NULL;
    opts.expires = opts.not_before = NULL;
    for (i = 0; i < members->nelts; i++) {
        const apikey_json_member_t *m =
            &APR_ARRAY_IDX(members, i, apikey_json_member_t);
        const apikey_column_t *col = NULL;
        const char **f;

        for (c = 0; c < apikey_ncolumns && !col; c++) {
            if (!strcmp(apikey_columns[c].name, m->name)) {
                col = &apikey_columns[c];
            }
        }
        if (!col) {
            return apr_psprintf(b->p,
                                "unknown field '%s' (not a column of the "
                                "key record)",
                                m->name);
        }
        if (m->type == APIKEY_JSON_NULL) {
            continue;
        }
        if (htapikey_column_numeric(col)
                ? m->type != APIKEY_JSON_NUMBER || !htapikey_integer(m->value)
                : m->type != APIKEY_JSON_STRING) {
            return apr_psprintf(b->p, "field %s: expected %s", m->name,
                                htapikey_column_numeric(col)
                                    ? "an integer or null"
                                    : "a string or null");
        }
        if (!strcmp(m->name, "digest")) {
            digest = m->value;
            continue;
        }
        for (c = 0; checked[c] && strcmp(checked[c], m->name); c++) {
        }
        if (!htapikey_column_numeric(col) && !checked[c]
            && !plain_text(m->value)) {
            return apr_psprintf(b->p,
                                "field %s: not UTF-8 text without control "
                                "characters of at most 1024 bytes",
                                m->name);
        }
        f = htapikey_row_field(&row, m->name);
        *f = m->value;
    }
    if (!row.id || (err = check_id("bad", row.id))) {
        return "field id: 1 to 64 bytes of printable ASCII without blanks "
               "or quotes";
    }
    if (!digest || strlen(digest) != APIKEY_DIGEST_HEX_LEN
        || strspn(digest, "0123456789abcdef") != APIKEY_DIGEST_HEX_LEN) {
        return "field digest: expected 64 lower-case hex digits";
    }
    if (row.replaced_by && check_id("bad", row.replaced_by)) {
        return "field replaced_by: not a key id";
    }
    if (!row.status) {
        row.status = "active";
    }
    if (strcmp(row.status, "active") && strcmp(row.status, "disabled")
        && strcmp(row.status, "revoked")) {
        return apr_psprintf(b->p,
                            "field status '%s': expected active, disabled "
                            "or revoked",
                            row.status);
    }
    if (!row.owner) {
        return "field owner: missing";
    }
    /* Through create's checks, and as it normalises them. */
    opts.owner = row.owner;
    opts.name = row.name;
    opts.scopes = row.scopes;
    opts.allow_ip = row.allow_ip;
    opts.allow_referer = row.allow_referer;
    opts.allow_method = row.allow_method;
    opts.allow_android = row.allow_android;
    opts.allow_ios = row.allow_ios;
    opts.allow_cert = row.allow_cert;
    opts.rate = row.rate;
    opts.burst = row.burst;
    opts.quota = row.quota;
    opts.bandwidth = row.bandwidth;
    if ((err = settings(b, &opts, &row))) {
        return err;
    }
    if (!row.created) {
        row.created = b->now;
    }
    if (!row.updated) {
        row.updated = row.created;
    }
    return add(b, line, &row, digest);
}

/* A legacy key in clear: a line of its own, or a JSON object with key,
 * owner, scopes, name and id. */
static const char *plaintext(batch_t *b, long line, char *text, size_t len)
{
    htapikey_options_t opts = *b->o;
    apr_array_header_t *members = NULL;
    char digest[APIKEY_DIGEST_HEX_LEN + 1], id[APIKEY_ID_LEN + 1];
    htapikey_row_t row;
    const char *key = text, *err;
    size_t keylen = len;
    apikey_key_check_t kc;
    int i;

    memset(&row, 0, sizeof(row));
    if (*text == '{') {
        if ((err = apikey_json_object_parse(b->p, text, len, &members))) {
            return apr_psprintf(b->p, "not a JSON object: %s", err);
        }
        key = NULL;
        for (i = 0; i < members->nelts; i++) {
            const apikey_json_member_t *m =
                &APR_ARRAY_IDX(members, i, apikey_json_member_t);
            const char **to = !strcmp(m->name, "key")      ? &key
                              : !strcmp(m->name, "owner")  ? &opts.owner
                              : !strcmp(m->name, "scopes") ? &opts.scopes
                              : !strcmp(m->name, "name")   ? &opts.name
                              : !strcmp(m->name, "id")     ? &row.id
                                                           : NULL;

            if (!to) {
                return apr_psprintf(b->p,
                                    "unknown field '%s' (key, owner, "
                                    "scopes, name, id)",
                                    m->name);
            }
            if (m->type != APIKEY_JSON_STRING
                && !(to == &opts.scopes && m->type == APIKEY_JSON_STRINGS)) {
                return apr_psprintf(
                    b->p, "field %s: expected a string%s", m->name,
                    to == &opts.scopes ? " or an array of them" : "");
            }
            *to = m->value;
        }
        if (!key) {
            return "no field key";
        }
        keylen = strlen(key);
    }
    /* Never the key in a message: only why. */
    if ((kc = apikey_key_check_legacy(key, keylen)) != APIKEY_KEY_OK) {
        return apr_psprintf(b->p,
                            "not a key AuthAPIKeyFormat any accepts (%s: 1 "
                            "to %d visible ASCII characters)",
                            apikey_key_check_str(kc), APIKEY_KEY_LEGACY_MAX);
    }
    if (apikey_digest_hex(b->o->pepper, b->o->pepper_len, key, keylen,
                          digest)) {
        return "cannot compute the digest";
    }
    apikey_wipe((char *)key, keylen);
    if (row.id && check_id("bad", row.id)) {
        return "field id: 1 to 64 bytes of printable ASCII without blanks "
               "or quotes";
    }
    if (!row.id) {
        if (apikey_id_generate(id, sizeof(id))) {
            return "the random number generator failed";
        }
        row.id = apr_pstrdup(b->p, id);
    }
    if ((err = settings(b, &opts, &row))) {
        return err;
    }
    row.created = row.updated = b->now;
    err = add(b, line, &row, digest);
    apikey_wipe(digest, sizeof(digest));
    return err;
}

/* The ids and digests the store holds already, as line 0. */
static const char *taken(batch_t *b, htapikey_db_t *db)
{
    static const long store = 0;
    apr_array_header_t *rows;
    const char *err;
    int i;

    err = htapikey_db_select(db, "SELECT id, digest FROM apikey", 0, NULL, 2,
                             &rows);
    for (i = 0; !err && i < rows->nelts; i++) {
        const char **v = APR_ARRAY_IDX(rows, i, const char **);

        if (v[0]) {
            apr_hash_set(b->ids, v[0], APR_HASH_KEY_STRING, &store);
        }
        if (v[1]) {
            apr_hash_set(b->digests_seen, v[1], APR_HASH_KEY_STRING, &store);
        }
    }
    return err;
}

/* Reads every line of in into b; EXIT_OK or an exit status (reported). */
static int read_lines(batch_t *b, FILE *in, const char *file)
{
    char *buf = NULL;
    size_t size = 0;
    ssize_t got;
    long line = 0;
    int rc = EXIT_OK;

    while (rc == EXIT_OK && (got = getline(&buf, &size, in)) >= 0) {
        size_t len = (size_t)got;
        const char *err = NULL;
        char *text = buf;

        line++;
        while (len
               && (text[len - 1] == '\n' || text[len - 1] == '\r'
                   || text[len - 1] == ' ' || text[len - 1] == '\t')) {
            len--;
        }
        while (len && (*text == ' ' || *text == '\t')) {
            text++;
            len--;
        }
        if (!len) {
            continue;
        }
        text[len] = '\0';
        if (memchr(text, '\0', len) || len > APIKEY_JSON_OBJECT_MAX) {
            err = "a NUL byte, or longer than 65536 bytes";
        }
        else if (b->o->plaintext) {
            err = plaintext(b, line, text, len);
        }
        else {
            apr_array_header_t *members;

            err = apikey_json_object_parse(b->p, text, len, &members);
            err = err ? apr_psprintf(b->p, "not a JSON object: %s", err)
                      : record(b, line, members);
        }
        if (err) {
            rc = htapikey_fail(EXIT_USAGE, "%s:%ld: %s; nothing was written",
                               file, line, err);
        }
    }
    if (rc == EXIT_OK && ferror(in)) {
        rc = htapikey_fail(EXIT_USAGE, "cannot read %s; nothing was written",
                           file);
    }
    if (buf) {
        apikey_wipe(buf, size);
        free(buf);
    }
    return rc;
}

int htapikey_cmd_import(apr_pool_t *p, const htapikey_options_t *o)
{
    const char *file = o->id, *err;
    htapikey_db_t db;
    batch_t b;
    FILE *in;
    int rc, i, failed = -1;

    if ((rc = htapikey_only_options(o, o->plaintext, o->plaintext, 1))) {
        return rc;
    }
    if (o->plaintext && o->prefix) {
        return htapikey_fail(EXIT_USAGE, "%s",
                             "import does not take --prefix: a legacy key "
                             "keeps its own");
    }
    if ((rc = htapikey_open_store(
             p, o, HTAPIKEY_DB_MUST_EXIST | HTAPIKEY_DB_WRITES, &db))) {
        return rc;
    }
    memset(&b, 0, sizeof(b));
    b.p = p;
    b.o = o;
    b.now = htapikey_now(p);
    b.rows = apr_array_make(p, 64, sizeof(htapikey_row_t));
    b.digests = apr_array_make(p, 64, sizeof(const char *));
    b.lines = apr_array_make(p, 64, sizeof(long));
    b.ids = apr_hash_make(p);
    b.digests_seen = apr_hash_make(p);
    if ((err = taken(&b, &db))) {
        return htapikey_fail(EXIT_DB,
                             "import failed: %s (is the store initialised? "
                             "run 'htapikey init')",
                             err);
    }
    in = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!in) {
        return htapikey_fail(EXIT_USAGE, "cannot open %s: %s", file,
                             strerror(errno));
    }
    rc = read_lines(&b, in, strcmp(file, "-") ? file : "stdin");
    if (in != stdin) {
        fclose(in);
    }
    if (rc) {
        return rc;
    }
    if (b.rows->nelts > 0) {
        err = htapikey_db_insert_keys(
            &db, "import", (const htapikey_row_t *)b.rows->elts,
            (const char *const *)b.digests->elts, b.rows->nelts, &failed);
        if (err) {
            /* A missing audit table is no line's fault. */
            return failed >= 0 && !strstr(err, "audit row")
                       ? htapikey_fail(EXIT_DB,
                                       "import failed at line %ld: %s; nothing "
                                       "was written",
                                       APR_ARRAY_IDX(b.lines, failed, long),
                                       err)
                       : htapikey_fail(EXIT_DB,
                                       "import failed: %s; nothing was written",
                                       err);
        }
    }
    for (i = 0; i < b.rows->nelts; i++) {
        const htapikey_row_t *r = &APR_ARRAY_IDX(b.rows, i, htapikey_row_t);
        long line = APR_ARRAY_IDX(b.lines, i, long);

        if (o->json) {
            printf("{\"line\":%ld,\"id\":", line);
            htapikey_json_string(r->id);
            printf("}\n");
        }
        else if (o->plaintext) {
            printf("line %ld: %s\n", line, r->id);
        }
    }
    if (!o->json) {
        printf("Imported %d key%s.\n", b.rows->nelts,
               b.rows->nelts == 1 ? "" : "s");
    }
    return EXIT_OK;
}
