/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's command line: the usage text, options and their checks, and
 * its error messages. */

#include "apikey_version.h"
#include "htapikey.h"

#include "apr_strings.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *progname = "htapikey";

void htapikey_set_progname(const char *argv0)
{
    if (argv0 && strrchr(argv0, '/')) {
        progname = strrchr(argv0, '/') + 1;
    }
}

void htapikey_usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [-d DRIVER] [-p PARAMS] [--pepper FILE] [--json] "
            "COMMAND [ARGS]\n"
            "       %s help [COMMAND] | --help | --version\n"
            "\n"
            "Commands:\n"
            "  init                        create the key store's tables\n"
            "  create --owner OWNER [SETTINGS] [--prefix P] [--count N]\n"
            "                              create a key (or N) and print it "
            "once\n"
            "  update ID SETTINGS          change a key's settings\n"
            "  rotate ID --grace DURATION [--prefix P]\n"
            "                              a new key with the same settings; "
            "the old\n"
            "                              one works DURATION longer (30m, "
            "24h, 7d, 0)\n"
            "  list [--owner OWNER] [--format FORMAT] [--unused-for "
            "DURATION]\n"
            "       [--expiring DURATION]  list keys (never the keys "
            "themselves)\n"
            "  show ID [--format FORMAT]   show one key's settings and last "
            "use\n"
            "  usage ID [--days N]         a key's requests a day, admitted "
            "and\n"
            "                              refused, over every node\n"
            "  revoke ID                   revoke a key for good\n"
            "  disable ID | enable ID      suspend or resume a key\n"
            "  delete ID                   remove a key's record\n"
            "  log [ID] [--limit N]        the audit trail of changes\n"
            "  export                      every key record as JSON Lines, "
            "digests\n"
            "                              included (never a key)\n"
            "  import FILE|- [--plaintext [--owner OWNER] [SETTINGS]]\n"
            "                              key records (or legacy keys) "
            "into the store,\n"
            "                              all or nothing\n"
            "  help [COMMAND]              this help, or one command's\n"
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
            "  --json                machine-readable output (--format json)\n"
            "  --format FORMAT       list and show: text (default), tsv or "
            "json\n"
            "  --count N             create: N keys in one transaction, as "
            "JSON Lines\n"
            "  --limit N             log: the last N rows\n"
            "  --days N              usage: the last N days (default 30)\n"
            "  --unused-for DURATION list: keys not used for DURATION (90d)\n"
            "  --expiring DURATION   list: keys that expire within DURATION "
            "(14d)\n"
            "  --plaintext           import: legacy keys in clear, stored as "
            "digests\n"
            "  -h, --help            this help; after a command, that "
            "command's\n"
            "  --version             the version\n"
            "\n"
            "Settings (create and update):\n"
            "  --owner OWNER --name LABEL --scopes \"a b\"\n"
            "  --expires TIME --not-before TIME\n"
            "  --allow-ip LIST        client networks, e.g. "
            "192.0.2.0/24,2001:db8::/32\n"
            "  --allow-referer LIST   referer hosts, e.g. "
            "example.com,*.example.com\n"
            "  --allow-method LIST    HTTP methods, e.g. GET,HEAD\n"
            "  --allow-android LIST   Android apps, e.g. "
            "com.example.app[:SHA1-CERT]\n"
            "  --allow-ios LIST       iOS bundle ids, e.g. com.example.app\n"
            "  --allow-cert LIST      SHA-256 fingerprints of TLS client "
            "certificates\n"
            "  --rate N/s|m|h --burst B   a rate limit, e.g. --rate 20/s "
            "--burst 40\n"
            "  --quota N/hour|day|month   a calendar quota (UTC), e.g. "
            "100000/month\n"
            "  --bandwidth SPEED      the key's responses at most SPEED "
            "through\n"
            "                         mod_ratelimit: N B/s, KiB/s, MiB/s or "
            "GiB/s,\n"
            "                         e.g. 512KiB/s\n"
            "  For update, 'none' clears --name, --expires, --not-before, "
            "--allow-*,\n"
            "  --rate, --burst, --quota and --bandwidth; --scopes \"\" "
            "removes every\n"
            "  scope.\n"
            "\n"
            "TIME is ISO-8601 (2027-01-31, 2027-01-31T12:00:00Z, "
            "...+02:00), UTC\n"
            "when no offset is given.\n",
            progname, progname);
}

void htapikey_version(void)
{
    printf("htapikey %s (mod_authn_apikey)\n", APIKEY_VERSION);
}

/* Prints "htapikey: <message>" and returns code, the exit status. */
int htapikey_fail(int code, const char *fmt, ...)
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

int htapikey_parse_args(apr_pool_t *p, int argc, const char *const *argv,
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
        {"--allow-android", NULL, offsetof(htapikey_options_t, allow_android)},
        {"--allow-ios", NULL, offsetof(htapikey_options_t, allow_ios)},
        {"--allow-cert", NULL, offsetof(htapikey_options_t, allow_cert)},
        {"--pepper", NULL, offsetof(htapikey_options_t, pepper_file)},
        {"--grace", NULL, offsetof(htapikey_options_t, grace)},
        {"--rate", NULL, offsetof(htapikey_options_t, rate)},
        {"--burst", NULL, offsetof(htapikey_options_t, burst)},
        {"--quota", NULL, offsetof(htapikey_options_t, quota)},
        {"--bandwidth", NULL, offsetof(htapikey_options_t, bandwidth)},
        {"--format", NULL, offsetof(htapikey_options_t, format)},
        {"--limit", NULL, offsetof(htapikey_options_t, limit)},
        {"--count", NULL, offsetof(htapikey_options_t, count)},
        {"--days", NULL, offsetof(htapikey_options_t, days)},
        {"--unused-for", NULL, offsetof(htapikey_options_t, unused_for)},
        {"--expiring", NULL, offsetof(htapikey_options_t, expiring)},
    };
    int i;

    (void)p;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t j;
        int matched = 0;

        /* After a command, its own help: "htapikey create --help". */
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            if (!o->command) {
                htapikey_usage(stdout);
                exit(EXIT_OK);
            }
            if (htapikey_command_usage(stdout, o->command)) {
                return htapikey_fail(EXIT_USAGE, "unknown command '%s'",
                                     o->command);
            }
            exit(EXIT_OK);
        }
        if (!strcmp(a, "--version")) {
            htapikey_version();
            exit(EXIT_OK);
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--plaintext")) {
            o->plaintext = 1;
            continue;
        }
        for (j = 0; j < sizeof(valued) / sizeof(valued[0]) && !matched; j++) {
            const char *v = NULL;
            int rc = take_value(valued[j].name, argc, argv, &i, &v);

            if (rc == 0 && valued[j].alias) {
                rc = take_value(valued[j].alias, argc, argv, &i, &v);
            }
            if (rc < 0) {
                return htapikey_fail(EXIT_USAGE, "%s needs a value", a);
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
            return htapikey_fail(EXIT_USAGE, "unknown option '%s'", a);
        }
        if (!o->command) {
            o->command = a;
        }
        else if (!o->id) {
            o->id = a;
        }
        else {
            return htapikey_fail(EXIT_USAGE, "unexpected argument '%s'", a);
        }
    }
    if (o->format) {
        if (!strcmp(o->format, "tsv")) {
            o->tsv = 1;
        }
        else if (!strcmp(o->format, "json")) {
            o->json = 1;
        }
        else if (strcmp(o->format, "text")) {
            return htapikey_fail(EXIT_USAGE,
                                 "--format '%s': expected text, tsv or json",
                                 o->format);
        }
        if (o->json && strcmp(o->format, "json")) {
            return htapikey_fail(EXIT_USAGE, "--json and --format %s disagree",
                                 o->format);
        }
    }
    return EXIT_OK;
}

/* Refuses options that the command does not take, so that a misplaced
 * --expires on "list" is an error, not silently ignored. */
int htapikey_only_options(const htapikey_options_t *o, int owner, int settings,
                          int id)
{
    if (o->grace && strcmp(o->command, "rotate")) {
        return htapikey_fail(EXIT_USAGE, "'%s' does not take --grace",
                             o->command);
    }
    if (o->limit && strcmp(o->command, "log")) {
        return htapikey_fail(
            EXIT_USAGE, "'%s' does not take --limit (log does)", o->command);
    }
    if (o->count && strcmp(o->command, "create")) {
        return htapikey_fail(
            EXIT_USAGE, "'%s' does not take --count (create does)", o->command);
    }
    if (o->days && strcmp(o->command, "usage")) {
        return htapikey_fail(
            EXIT_USAGE, "'%s' does not take --days (usage does)", o->command);
    }
    if ((o->unused_for || o->expiring) && strcmp(o->command, "list")) {
        return htapikey_fail(EXIT_USAGE,
                             "'%s' does not take --unused-for or --expiring "
                             "(list does)",
                             o->command);
    }
    if (o->plaintext && strcmp(o->command, "import")) {
        return htapikey_fail(EXIT_USAGE,
                             "'%s' does not take --plaintext (import does)",
                             o->command);
    }
    if (!owner && o->owner) {
        return htapikey_fail(EXIT_USAGE, "'%s' does not take --owner",
                             o->command);
    }
    if (!settings
        && (o->name || o->scopes || o->expires || o->not_before || o->prefix
            || o->allow_ip || o->allow_referer || o->allow_method
            || o->allow_android || o->allow_ios || o->allow_cert || o->rate
            || o->burst || o->quota || o->bandwidth)) {
        return htapikey_fail(
            EXIT_USAGE,
            "'%s' does not take --name, --scopes, --expires, "
            "--not-before, --allow-*, --rate, --burst, --quota, "
            "--bandwidth or --prefix",
            o->command);
    }
    if (o->tsv && strcmp(o->command, "list") && strcmp(o->command, "show")) {
        return htapikey_fail(EXIT_USAGE,
                             "'%s' does not take --format tsv (list and "
                             "show do)",
                             o->command);
    }
    if (id && !o->id) {
        return htapikey_fail(EXIT_USAGE, "'%s' needs a key ID", o->command);
    }
    if (!id && o->id) {
        return htapikey_fail(EXIT_USAGE, "unexpected argument '%s'", o->id);
    }
    return EXIT_OK;
}

/* ---- commands ---- */
