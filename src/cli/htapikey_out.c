/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's output: keys as text for people and as JSON for scripts. */

#include "htapikey.h"
#include "apikey_json.h"
#include "apikey_limit.h"
#include "apikey_time.h"

#include "apr_strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void htapikey_json_string(const char *s)
{
    char small[256], *out = small;
    size_t need = s ? APIKEY_JSON_MAX(strlen(s)) : 5;

    if (need > sizeof(small) && !(out = malloc(need))) {
        fputs("htapikey: out of memory\n", stderr);
        exit(1);
    }
    apikey_json_quote(out, s);
    fputs(out, stdout);
    if (out != small) {
        free(out);
    }
}

/* A stored time as ISO-8601, or NULL. */
const char *htapikey_iso_time(apr_pool_t *p, const char *stored)
{
    char buf[APIKEY_TIME_ISO_LEN];
    long long t;

    if (!stored || apikey_time_parse(stored, &t)) {
        return stored;
    }
    apikey_time_format(t, buf);
    return apr_pstrdup(p, buf);
}

/* The fields of a key object, in their order, as JSON, TSV and the man
 * page name them (times ISO-8601; NULL for null).  A field added later
 * goes last, so that a script's cut -f keeps its columns. */
#define NFIELDS 21
static const char *const field_names[NFIELDS] = {
    "id",          "owner",     "name",          "scopes",
    "status",      "created",   "updated",       "expires",
    "not_before",  "allow_ip",  "allow_referer", "allow_method",
    "rate",        "burst",     "quota",         "grace_until",
    "replaced_by", "bandwidth", "allow_android", "allow_ios",
    "allow_cert"};

static void fields(apr_pool_t *p, const htapikey_row_t *k,
                   const char *v[NFIELDS])
{
    v[0] = k->id;
    v[1] = k->owner;
    v[2] = k->name;
    v[3] = k->scopes ? k->scopes : "";
    v[4] = k->status;
    v[5] = htapikey_iso_time(p, k->created);
    v[6] = htapikey_iso_time(p, k->updated);
    v[7] = htapikey_iso_time(p, k->expires);
    v[8] = htapikey_iso_time(p, k->not_before);
    v[9] = k->allow_ip;
    v[10] = k->allow_referer;
    v[11] = k->allow_method;
    v[12] = k->rate;
    v[13] = k->burst;
    v[14] = k->quota;
    v[15] = htapikey_iso_time(p, k->grace_until);
    v[16] = k->replaced_by;
    v[17] = k->bandwidth;
    v[18] = k->allow_android;
    v[19] = k->allow_ios;
    v[20] = k->allow_cert;
}

/* A rotated key whose replacement is set: still "active" in the store,
 * but on its way out. */
static int replaced(const htapikey_row_t *k)
{
    return k->replaced_by && k->status && !strcmp(k->status, "active");
}

/* The STATUS cell of list: "replaced (grace until TIME)" for a rotated key
 * (grace ended, once it is over: the server refuses it as expired), else
 * the status. */
static const char *status_cell(apr_pool_t *p, const htapikey_row_t *k)
{
    long long until;

    if (!replaced(k)) {
        return k->status;
    }
    if (!k->grace_until || apikey_time_parse(k->grace_until, &until)) {
        return "replaced";
    }
    return apr_psprintf(p, "replaced (grace %s %s)",
                        until > (long long)atoll(htapikey_now(p)) ? "until"
                                                                  : "ended",
                        htapikey_iso_time(p, k->grace_until));
}

static void json_row(apr_pool_t *p, const htapikey_row_t *k)
{
    const char *v[NFIELDS];
    int i;

    fields(p, k, v);
    for (i = 0; i < NFIELDS; i++) {
        printf("%s\"%s\":", i ? "," : "{", field_names[i]);
        /* burst is a number; the store's text of a BIGINT column */
        if (!strcmp(field_names[i], "burst")) {
            fputs(v[i] ? v[i] : "null", stdout);
        }
        else {
            htapikey_json_string(v[i]);
        }
    }
    /* status stays what the store holds; state says what it means. */
    printf(",\"state\":");
    htapikey_json_string(replaced(k) ? "replaced" : k->status);
    putchar('}');
}

/* TSV: a value as it is, but for the four bytes that would break a line
 * or a field, written as PostgreSQL's COPY and MySQL's batch mode write
 * them; NULL as an empty field. */
static void tsv_value(const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
            case '\\':
                fputs("\\\\", stdout);
                break;
            case '\t':
                fputs("\\t", stdout);
                break;
            case '\n':
                fputs("\\n", stdout);
                break;
            case '\r':
                fputs("\\r", stdout);
                break;
            default:
                putchar(*s);
        }
    }
}

static void tsv_header(void)
{
    int i;

    for (i = 0; i < NFIELDS; i++) {
        printf("%s%s", i ? "\t" : "", field_names[i]);
    }
    putchar('\n');
}

static void tsv_row(apr_pool_t *p, const htapikey_row_t *k)
{
    const char *v[NFIELDS];
    int i;

    fields(p, k, v);
    for (i = 0; i < NFIELDS; i++) {
        if (i) {
            putchar('\t');
        }
        tsv_value(v[i]);
    }
    putchar('\n');
}

/* How many columns a terminal gives code point cp: 0 for combining marks
 * and zero-width characters, 2 for the wide (East Asian, emoji) blocks, 1
 * for the rest.  A short table, not all of Unicode's: it keeps the
 * columns of list straight for the scripts owners are written in. */
static int cp_width(unsigned long cp)
{
    static const struct {
        unsigned long lo, hi;
        int w;
    } ranges[] = {
        {0x0300, 0x036f, 0},   {0x0483, 0x0489, 0},   {0x0591, 0x05bd, 0},
        {0x0610, 0x061a, 0},   {0x064b, 0x065f, 0},   {0x0e31, 0x0e31, 0},
        {0x0e34, 0x0e3a, 0},   {0x0e47, 0x0e4e, 0},   {0x1ab0, 0x1aff, 0},
        {0x1dc0, 0x1dff, 0},   {0x200b, 0x200f, 0},   {0x2060, 0x2064, 0},
        {0x20d0, 0x20ff, 0},   {0xfe00, 0xfe0f, 0},   {0xfe20, 0xfe2f, 0},
        {0xfeff, 0xfeff, 0},   {0x1100, 0x115f, 2},   {0x2e80, 0x303e, 2},
        {0x3041, 0x33ff, 2},   {0x3400, 0x4dbf, 2},   {0x4e00, 0x9fff, 2},
        {0xa000, 0xa4cf, 2},   {0xac00, 0xd7a3, 2},   {0xf900, 0xfaff, 2},
        {0xfe30, 0xfe4f, 2},   {0xff00, 0xff60, 2},   {0xffe0, 0xffe6, 2},
        {0x1f300, 0x1f64f, 2}, {0x1f900, 0x1f9ff, 2}, {0x20000, 0x2fffd, 2},
        {0x30000, 0x3fffd, 2},
    };
    size_t i;

    for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (cp >= ranges[i].lo && cp <= ranges[i].hi) {
            return ranges[i].w;
        }
    }
    return 1;
}

/* A value as a cell of the text table, and its width on a terminal:
 * control characters and bytes that are not UTF-8 (which htapikey refuses,
 * but another tool may have written) as \xNN, so that they can neither
 * break the table nor reach the terminal (nor may bidirectional
 * overrides).  NULL and "" as "-". */
static const char *text_cell(apr_pool_t *p, const char *s, size_t *width)
{
    char *out, *o;
    unsigned long cp;
    size_t n;

    if (!s || !*s) {
        *width = 1;
        return "-";
    }
    o = out = apr_palloc(p, 4 * strlen(s) + 1);
    *width = 0;
    for (; *s; s += n) {
        n = apikey_utf8_decode(s, &cp);
        /* and the bidirectional overrides and isolates, which would
         * reorder what the terminal shows of the line */
        if (!n || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)
            || (cp >= 0x202a && cp <= 0x202e)
            || (cp >= 0x2066 && cp <= 0x2069)) {
            size_t i, bytes = n ? n : 1;

            for (i = 0; i < bytes; i++) {
                o += sprintf(o, "\\x%02x", (unsigned char)s[i]);
            }
            *width += 4 * bytes;
            n = bytes;
            continue;
        }
        memcpy(o, s, n);
        o += n;
        *width += (size_t)cp_width(cp);
    }
    *o = '\0';
    return out;
}

/* A bandwidth as stored, and what mod_ratelimit gets of it when that is
 * not what it says (rounded down to whole KiB/s, or not applied). */
static void text_bandwidth(const char *bw)
{
    const char *err;
    char said[32];
    long long kib;

    if (!bw) {
        printf("bandwidth:  none\n");
        return;
    }
    if ((err = apikey_bandwidth_parse(bw, &kib))) {
        printf("bandwidth:  %s (not applied: %s)\n", bw, err);
        return;
    }
    snprintf(said, sizeof(said), "%lldKiB/s", kib);
    printf(strcmp(said, bw) ? "bandwidth:  %s (%lld KiB/s to mod_ratelimit)\n"
                            : "bandwidth:  %s\n",
           bw, kib);
}

static void text_row(apr_pool_t *p, const htapikey_row_t *k)
{
    printf("id:         %s\n", k->id);
    printf("owner:      %s\n", k->owner ? k->owner : "");
    printf("name:       %s\n", k->name ? k->name : "");
    printf("scopes:     %s\n", k->scopes ? k->scopes : "");
    printf("status:     %s\n", k->status ? k->status : "");
    printf("created:    %s\n",
           k->created ? htapikey_iso_time(p, k->created) : "");
    printf("updated:    %s\n",
           k->updated ? htapikey_iso_time(p, k->updated) : "");
    printf("expires:    %s\n",
           k->expires ? htapikey_iso_time(p, k->expires) : "never");
    printf("not before: %s\n",
           k->not_before ? htapikey_iso_time(p, k->not_before) : "-");
    printf("allow ip:   %s\n", k->allow_ip ? k->allow_ip : "any");
    printf("allow ref.: %s\n", k->allow_referer ? k->allow_referer : "any");
    printf("allow meth: %s\n", k->allow_method ? k->allow_method : "any");
    printf("allow andr: %s\n", k->allow_android ? k->allow_android : "any");
    printf("allow ios:  %s\n", k->allow_ios ? k->allow_ios : "any");
    printf("allow cert: %s\n", k->allow_cert ? k->allow_cert : "any");
    printf("rate:       %s", k->rate ? k->rate : "location default");
    printf(k->rate && k->burst ? ", burst %s\n" : "\n",
           k->burst ? k->burst : "");
    printf("quota:      %s\n", k->quota ? k->quota : "location default");
    text_bandwidth(k->bandwidth);
    if (k->replaced_by) {
        printf("replaced by: %s, works until %s\n", k->replaced_by,
               htapikey_iso_time(p, k->grace_until));
    }
}

void htapikey_print_key(apr_pool_t *p, const htapikey_options_t *o,
                        const htapikey_row_t *k)
{
    if (o->json) {
        json_row(p, k);
        putchar('\n');
    }
    else if (o->tsv) {
        tsv_header();
        tsv_row(p, k);
    }
    else {
        text_row(p, k);
    }
}

/* The text table's columns. */
#define NCOLS 6
static const char *const col_heads[NCOLS] = {"ID",      "OWNER", "STATUS",
                                             "EXPIRES", "NAME",  "SCOPES"};

/* Prints one line of the table: every cell but the last padded to its
 * column's width, two spaces between columns (as column -t would). */
static void table_line(const char *const cell[NCOLS], const size_t width[NCOLS],
                       const size_t col[NCOLS])
{
    int c;

    for (c = 0; c < NCOLS; c++) {
        fputs(cell[c], stdout);
        if (c < NCOLS - 1) {
            printf("%*s", (int)(col[c] - width[c] + 2), "");
        }
    }
    putchar('\n');
}

void htapikey_print_list(apr_pool_t *p, const htapikey_options_t *o,
                         const apr_array_header_t *rows)
{
    const char **cells;
    size_t *widths, col[NCOLS];
    int i, c;

    if (o->json) {
        putchar('[');
        for (i = 0; i < rows->nelts; i++) {
            if (i) {
                putchar(',');
            }
            json_row(p, &APR_ARRAY_IDX(rows, i, htapikey_row_t));
        }
        printf("]\n");
        return;
    }
    if (o->tsv) {
        tsv_header();
        for (i = 0; i < rows->nelts; i++) {
            tsv_row(p, &APR_ARRAY_IDX(rows, i, htapikey_row_t));
        }
        return;
    }
    /* Every cell first, for the widths: no value is cut short. */
    cells = apr_palloc(p, sizeof(*cells) * NCOLS * (rows->nelts + 1));
    widths = apr_palloc(p, sizeof(*widths) * NCOLS * (rows->nelts + 1));
    for (c = 0; c < NCOLS; c++) {
        cells[c] = col_heads[c];
        col[c] = widths[c] = strlen(col_heads[c]);
    }
    for (i = 0; i < rows->nelts; i++) {
        const htapikey_row_t *k = &APR_ARRAY_IDX(rows, i, htapikey_row_t);
        const char *v[NCOLS];

        v[0] = k->id;
        v[1] = k->owner;
        v[2] = status_cell(p, k);
        v[3] = k->expires ? htapikey_iso_time(p, k->expires) : "never";
        v[4] = k->name;
        v[5] = k->scopes;
        for (c = 0; c < NCOLS; c++) {
            size_t at = (size_t)(i + 1) * NCOLS + (size_t)c;

            cells[at] = text_cell(p, v[c], &widths[at]);
            if (widths[at] > col[c]) {
                col[c] = widths[at];
            }
        }
    }
    for (i = 0; i <= rows->nelts; i++) {
        table_line(cells + (size_t)i * NCOLS, widths + (size_t)i * NCOLS, col);
    }
}
