/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey help COMMAND: each command's usage, options and an example. */

#include "htapikey.h"

#include <stdio.h>
#include <string.h>

/* The settings of create and update, as their help shows them. */
#define SETTINGS_HELP                                                          \
    "  --name LABEL           a label for people (at most 255 bytes)\n"        \
    "  --scopes \"a b\"         scopes, separated by blanks or commas\n"       \
    "  --expires TIME         refused from TIME on (ISO-8601, in the "         \
    "future)\n"                                                                \
    "  --not-before TIME      refused before TIME\n"                           \
    "  --allow-ip LIST        client networks, e.g. "                          \
    "192.0.2.0/24,2001:db8::/32\n"                                             \
    "  --allow-referer LIST   referer hosts, e.g. "                            \
    "example.com,*.example.com\n"                                              \
    "  --allow-method LIST    HTTP methods, e.g. GET,HEAD\n"                   \
    "  --allow-android LIST   Android apps (X-Android-Package, and\n"          \
    "                         X-Android-Cert when pinned), e.g.\n"             \
    "                         com.example.app or com.example.app:SHA1\n"       \
    "  --allow-ios LIST       iOS bundle ids (X-Ios-Bundle-Identifier),\n"     \
    "                         e.g. com.example.app\n"                          \
    "  --allow-cert LIST      SHA-256 fingerprints of TLS client\n"            \
    "                         certificates (mod_ssl), colons optional\n"       \
    "  --rate N/s|m|h         a rate limit, e.g. 20/s\n"                       \
    "  --burst B              how many requests at once (default N)\n"         \
    "  --quota N/hour|day|month\n"                                             \
    "                         a calendar quota (UTC), e.g. 100000/month\n"     \
    "  --bandwidth SPEED      the key's responses at most SPEED through\n"     \
    "                         mod_ratelimit: N B/s, KiB/s, MiB/s or GiB/s,\n"  \
    "                         e.g. 512KiB/s (at least 1KiB/s)\n"

#define SETTINGS_NOTE                                                          \
    "\n"                                                                       \
    "OWNER and LABEL are UTF-8 without control characters; TIME is "           \
    "ISO-8601\n"                                                               \
    "(2027-01-31, 2027-01-31T12:00:00Z, ...+02:00), UTC when no offset is "    \
    "given.\n"

/* Each command's help: its synopsis, what it does, its options and an
 * example.  The global options (-d, -p, --pepper, --json) are in
 * htapikey --help. */
static const struct {
    const char *name, *text;
} command_help[] = {
    {"init",
     "Usage: htapikey [-d DRIVER] -p PARAMS init\n"
     "\n"
     "Creates the key store's tables from the schema built in for DRIVER\n"
     "(sqlite3, pgsql, mysql).  Idempotent: on an existing store it keeps\n"
     "every key and adds what a store made by an older htapikey lacks.\n"
     "With sqlite3 it creates the file, mode 0640; its directory must\n"
     "exist and be writable.\n"
     "\n"
     "Example:\n"
     "  htapikey -p /var/lib/apikey/keys.db init\n"},
    {"create",
     "Usage: htapikey create --owner OWNER [SETTINGS] [--prefix P] "
     "[--count N]\n"
     "\n"
     "Creates a key and prints it once, on the last line (with --json, an\n"
     "object with id and key).  Only its digest is stored.  With --count N\n"
     "(1 to 10000) it creates N keys with the same settings in one\n"
     "transaction and prints one JSON object a line (JSON Lines), each with\n"
     "id and key.\n"
     "\n"
     "Options:\n"
     "  --owner OWNER          required: who the key belongs to (1 to 255 "
     "bytes)\n" SETTINGS_HELP
     "  --prefix P             the key's prefix (default ak): 1 to 32 "
     "letters,\n"
     "                         digits or inner underscores\n"
     "  --count N              N keys, 1 to 10000, printed as JSON "
     "Lines\n" SETTINGS_NOTE "\n"
     "Example:\n"
     "  htapikey create --owner billing --name \"invoice sync\" \\\n"
     "      --scopes \"orders:read invoices:write\" --expires 2027-06-30\n"},
    {"update",
     "Usage: htapikey update ID SETTINGS\n"
     "\n"
     "Changes the settings given, and nothing else, and prints the key as\n"
     "show does.  'none' clears --name, --expires, --not-before, --allow-*,\n"
     "--rate, --burst, --quota and --bandwidth; --scopes \"\" removes every\n"
     "scope.\n"
     "\n"
     "Options:\n"
     "  --owner OWNER          who the key belongs to (1 to 255 "
     "bytes)\n" SETTINGS_HELP SETTINGS_NOTE "\n"
     "Example:\n"
     "  htapikey update WoEIpLEs1o0h --allow-method GET,HEAD --expires "
     "none\n"},
    {"rotate",
     "Usage: htapikey rotate ID --grace DURATION [--prefix P]\n"
     "\n"
     "Creates a key with the settings of key ID and prints it once; the old\n"
     "key keeps working for DURATION (0, 30m, 24h, 7d; seconds without a\n"
     "unit), then is refused as expired.  Only an active key that is not\n"
     "already being replaced is rotated.\n"
     "\n"
     "Options:\n"
     "  --grace DURATION       required: how long the old key keeps "
     "working\n"
     "  --prefix P             the new key's prefix (default ak)\n"
     "\n"
     "Example:\n"
     "  htapikey rotate WoEIpLEs1o0h --grace 7d\n"},
    {"list",
     "Usage: htapikey list [--owner OWNER] [--format text|tsv|json]\n"
     "                     [--unused-for DURATION] [--expiring DURATION]\n"
     "\n"
     "Lists every key, or those of OWNER, ordered by owner, creation and "
     "id;\n"
     "never the keys themselves.  text: a table, each column as wide as its\n"
     "widest value; tsv: a header line of the JSON field names, then a line "
     "a\n"
     "key, tab-separated, with \\\\, tab, newline and carriage return "
     "written\n"
     "as \\\\, \\t, \\n and \\r, empty for null; json (--json): an array "
     "of\n"
     "key objects.\n"
     "\n"
     "Options:\n"
     "  --owner OWNER          only the keys of OWNER\n"
     "  --format FORMAT        text (default), tsv or json\n"
     "  --unused-for DURATION  only keys no server used for DURATION (90d,\n"
     "                         12h, 30m; a key never used counts from its\n"
     "                         creation), as written to apikey_usage\n"
     "  --expiring DURATION    only keys that expire within DURATION\n"
     "\n"
     "Example:\n"
     "  htapikey list --owner billing --format tsv | cut -f1,5\n"
     "  htapikey list --unused-for 90d\n"},
    {"show",
     "Usage: htapikey show ID [--format text|tsv|json]\n"
     "\n"
     "Shows one key's settings (never the key itself): one line a setting,\n"
     "then its last use and the node that saw it (from apikey_usage), or\n"
     "as list --format tsv or --json does (the settings only).\n"
     "\n"
     "Options:\n"
     "  --format FORMAT        text (default), tsv or json\n"
     "\n"
     "Example:\n"
     "  htapikey show WoEIpLEs1o0h\n"},
    {"usage",
     "Usage: htapikey usage ID [--days N] [--json]\n"
     "\n"
     "Prints key ID's requests a UTC day, admitted and refused (429, 403),\n"
     "summed over every node that wrote them to apikey_usage, oldest day\n"
     "first, and its last use.  On a terminal a bar a day; piped, plain\n"
     "columns; with --json an object with a days array.\n"
     "\n"
     "Options:\n"
     "  --days N               the last N days, today included (default 30,\n"
     "                         at most 3660)\n"
     "\n"
     "Example:\n"
     "  htapikey usage WoEIpLEs1o0h --days 7\n"},
    {"revoke",
     "Usage: htapikey revoke ID\n"
     "\n"
     "Revokes key ID for good: enable and disable refuse it from then on.\n"
     "\n"
     "Example:\n"
     "  htapikey revoke WoEIpLEs1o0h\n"},
    {"disable", "Usage: htapikey disable ID\n"
                "\n"
                "Suspends key ID until it is enabled again.\n"
                "\n"
                "Example:\n"
                "  htapikey disable WoEIpLEs1o0h\n"},
    {"enable", "Usage: htapikey enable ID\n"
               "\n"
               "Makes a disabled key ID active again (not a revoked one).\n"
               "\n"
               "Example:\n"
               "  htapikey enable WoEIpLEs1o0h\n"},
    {"delete",
     "Usage: htapikey delete ID\n"
     "\n"
     "Removes key ID's record: the key is then unknown to the server.\n"
     "\n"
     "Example:\n"
     "  htapikey delete WoEIpLEs1o0h\n"},
    {"log",
     "Usage: htapikey log [ID] [--limit N] [--json]\n"
     "\n"
     "Prints the audit trail, oldest first: a line for every change made\n"
     "by htapikey (create, update, rotate, revoke, disable, enable,\n"
     "delete, import), or only those of key ID, with its time, action, key\n"
     "id, the OS user (\"root (sudo: alice)\" under sudo) and host that\n"
     "made it, and the names of the fields it set: never a key or a\n"
     "digest.  With --json an array of objects.\n"
     "\n"
     "Options:\n"
     "  --limit N              only the last N rows\n"
     "\n"
     "Example:\n"
     "  htapikey log WoEIpLEs1o0h --limit 20\n"},
    {"export",
     "Usage: htapikey export [> FILE]\n"
     "\n"
     "Writes every key record on standard output, one JSON object a line\n"
     "(JSON Lines): every column of the store, the digest included, times\n"
     "as Unix seconds; never a key.  'htapikey import' reads it into any\n"
     "driver's store.\n"
     "\n"
     "Example:\n"
     "  htapikey -p /var/lib/apikey/keys.db export | \\\n"
     "      htapikey -d pgsql -p \"dbname=apikey\" import -\n"},
    {"import",
     "Usage: htapikey import FILE|- [--plaintext [--owner OWNER] "
     "[SETTINGS]]\n"
     "\n"
     "Reads key records, as export writes them, from FILE (- for standard\n"
     "input) into the store, in one transaction: a bad line is named by\n"
     "its number and nothing is written.  Every field is checked as create\n"
     "checks it; an id or digest the store or an earlier line holds is an\n"
     "error.\n"
     "\n"
     "With --plaintext, the lines are legacy keys in clear: a key a line,\n"
     "or a JSON object with key and optional owner, scopes, name and id.\n"
     "Only their digests are stored (with --pepper, HMAC-SHA-256), and\n"
     "only the new ids are printed, so clients keep their keys under\n"
     "AuthAPIKeyFormat any.  --owner and SETTINGS apply to every line; a\n"
     "line's owner, scopes and name take precedence.  Blank lines are\n"
     "skipped.\n"
     "\n"
     "Options:\n"
     "  --plaintext            the lines are keys in clear\n"
     "  --owner OWNER          the owner of keys whose line names none\n"
     "\n"
     "Example:\n"
     "  htapikey import --plaintext legacy-keys.txt --owner legacy \\\n"
     "      --scopes orders:read\n"},
    {"help", "Usage: htapikey help [COMMAND]\n"
             "\n"
             "Prints the usage of htapikey, or of COMMAND: its options and an\n"
             "example.\n"
             "\n"
             "Example:\n"
             "  htapikey help create\n"},
};

int htapikey_command_usage(FILE *out, const char *command)
{
    size_t i;

    for (i = 0; i < sizeof(command_help) / sizeof(command_help[0]); i++) {
        if (!strcmp(command, command_help[i].name)) {
            fputs(command_help[i].text, out);
            return 0;
        }
    }
    return -1;
}
