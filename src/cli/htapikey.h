/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's parts: the options of a command line, the check of key
 * settings, and the output. */
#ifndef HTAPIKEY_H
#define HTAPIKEY_H

#include <stdio.h>

#include "apr_pools.h"
#include "apr_tables.h"

#include "apikey_record.h"
#include "htapikey_db.h"

/* Exit statuses, documented in docs/htapikey.md. */
#define EXIT_OK       0
#define EXIT_DB       1
#define EXIT_USAGE    2
#define EXIT_NOTFOUND 3

typedef struct {
    const char *driver, *params;
    int json;
    int tsv;            /* --format tsv: list and show */
    const char *format; /* --format as given */
    const char *command;
    const char *id; /* the ID operand of show/revoke/... */
    const char *owner, *name, *scopes, *expires, *not_before, *prefix;
    const char *allow_ip, *allow_referer, *allow_method;
    const char *allow_android, *allow_ios, *allow_cert;
    const char *rate, *burst, *quota;
    const char *bandwidth; /* for mod_ratelimit: 512KiB/s */
    const char *grace;     /* rotate --grace DURATION */
    const char *limit;     /* log --limit N */
    const char *count;     /* create --count N */
    int plaintext;         /* import --plaintext */
    /* --pepper FILE: HMAC-SHA-256 digests, as AuthAPIKeyHash hmac-sha256 */
    const char *pepper_file;
    const unsigned char *pepper;
    size_t pepper_len;
    const char *days;       /* usage --days N */
    const char *unused_for; /* list --unused-for DURATION */
    const char *expiring;   /* list --expiring DURATION */
} htapikey_options_t;

/* The command line (htapikey_args.c). */
void htapikey_set_progname(const char *argv0);
void htapikey_usage(FILE *out);
/* Prints one command's usage, options and an example to out; 0, or -1
 * when there is no such command (nothing printed). */
int htapikey_command_usage(FILE *out, const char *command);
/* "htapikey VERSION (mod_authn_apikey)" on stdout. */
void htapikey_version(void);
/* Prints "htapikey: <message>" (and a hint for usage errors) to stderr and
 * returns code, the exit status. */
int htapikey_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Parses argv into o; EXIT_OK or an exit status (already reported). */
int htapikey_parse_args(apr_pool_t *p, int argc, const char *const *argv,
                        htapikey_options_t *o);
/* Refuses options the command does not take: EXIT_OK or EXIT_USAGE. */
int htapikey_only_options(const htapikey_options_t *o, int owner, int settings,
                          int id);

/* Opens the store of -d and -p (flags: HTAPIKEY_DB_MUST_EXIST,
 * HTAPIKEY_DB_WRITES): EXIT_OK, or an exit status (already reported). */
int htapikey_open_store(apr_pool_t *p, const htapikey_options_t *o, int flags,
                        htapikey_db_t *db);

/* The commands of their own files: log (htapikey_audit.c), export
 * (htapikey_export.c), import (htapikey_io.c), create --count
 * (htapikey_count.c). */
int htapikey_cmd_log(apr_pool_t *p, const htapikey_options_t *o);
int htapikey_cmd_export(apr_pool_t *p, const htapikey_options_t *o);
int htapikey_cmd_import(apr_pool_t *p, const htapikey_options_t *o);
/* usage (htapikey_usage.c), and show's line of the last use. */
int htapikey_cmd_usage(apr_pool_t *p, const htapikey_options_t *o);
/* Prints "last used: TIME (node NAME)" or "last used: never" for key id,
 * from apikey_usage (nothing when the store has no such table). */
void htapikey_print_last_used(htapikey_db_t *db, const char *id);
/* list --unused-for and --expiring: removes from rows (htapikey_row_t)
 * the keys that do not match; NULL or a message. */
const char *htapikey_filter_list(htapikey_db_t *db, const htapikey_options_t *o,
                                 apr_array_header_t *rows);
int htapikey_create_count(apr_pool_t *p, const htapikey_options_t *o,
                          const htapikey_row_t *settings, const char *prefix);

/* Whether export writes a column as a number (its BIGINT columns), and
 * whether s is an integer as they hold one: -?[0-9]{1,18}. */
int htapikey_column_numeric(const apikey_column_t *col);
int htapikey_integer(const char *s);

/* The key settings of create and update, checked, as the store keeps them
 * (htapikey_db_null for "none" in update).  Returns NULL or a message. */
const char *htapikey_settings(apr_pool_t *p, const htapikey_options_t *o,
                              htapikey_row_t *row);

/* The current time as stored: decimal Unix seconds. */
const char *htapikey_now(apr_pool_t *p);

/* Output on stdout. */
void htapikey_json_string(const char *s);
const char *htapikey_iso_time(apr_pool_t *p, const char *stored);
/* A key as text, one line a setting; with --json one object; with
 * --format tsv a header line and the key's. */
void htapikey_print_key(apr_pool_t *p, const htapikey_options_t *o,
                        const htapikey_row_t *k);
/* Keys as a table (columns as wide as their widest cell), a JSON array or
 * TSV (a header line, then a line a key). */
void htapikey_print_list(apr_pool_t *p, const htapikey_options_t *o,
                         const apr_array_header_t *rows);

#endif /* HTAPIKEY_H */
