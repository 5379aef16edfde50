/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's output: keys as text for people and as JSON for scripts. */

#include "htapikey.h"
#include "apikey_json.h"
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

static void json_row(apr_pool_t *p, const htapikey_row_t *k)
{
    printf("{\"id\":");
    htapikey_json_string(k->id);
    printf(",\"owner\":");
    htapikey_json_string(k->owner);
    printf(",\"name\":");
    htapikey_json_string(k->name);
    printf(",\"scopes\":");
    htapikey_json_string(k->scopes ? k->scopes : "");
    printf(",\"status\":");
    htapikey_json_string(k->status);
    printf(",\"created\":");
    htapikey_json_string(htapikey_iso_time(p, k->created));
    printf(",\"updated\":");
    htapikey_json_string(htapikey_iso_time(p, k->updated));
    printf(",\"expires\":");
    htapikey_json_string(htapikey_iso_time(p, k->expires));
    printf(",\"not_before\":");
    htapikey_json_string(htapikey_iso_time(p, k->not_before));
    printf(",\"allow_ip\":");
    htapikey_json_string(k->allow_ip);
    printf(",\"allow_referer\":");
    htapikey_json_string(k->allow_referer);
    printf(",\"allow_method\":");
    htapikey_json_string(k->allow_method);
    printf(",\"rate\":");
    htapikey_json_string(k->rate);
    printf(",\"burst\":%s", k->burst ? k->burst : "null");
    printf(",\"quota\":");
    htapikey_json_string(k->quota);
    printf(",\"grace_until\":");
    htapikey_json_string(htapikey_iso_time(p, k->grace_until));
    printf(",\"replaced_by\":");
    htapikey_json_string(k->replaced_by);
    putchar('}');
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
    printf("rate:       %s", k->rate ? k->rate : "location default");
    printf(k->rate && k->burst ? ", burst %s\n" : "\n",
           k->burst ? k->burst : "");
    printf("quota:      %s\n", k->quota ? k->quota : "location default");
    if (k->replaced_by) {
        printf("replaced by: %s, works until %s\n", k->replaced_by,
               htapikey_iso_time(p, k->grace_until));
    }
}

void htapikey_print_key(apr_pool_t *p, int json, const htapikey_row_t *k)
{
    if (json) {
        json_row(p, k);
        putchar('\n');
    }
    else {
        text_row(p, k);
    }
}

void htapikey_print_list(apr_pool_t *p, int json,
                         const apr_array_header_t *rows)
{
    int i;

    if (json) {
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
    printf("%-12s  %-20s  %-8s  %-20s  %s\n", "ID", "OWNER", "STATUS",
           "EXPIRES", "SCOPES");
    for (i = 0; i < rows->nelts; i++) {
        const htapikey_row_t *k = &APR_ARRAY_IDX(rows, i, htapikey_row_t);

        printf("%-12s  %-20s  %-8s  %-20s  %s\n", k->id, k->owner, k->status,
               k->expires ? htapikey_iso_time(p, k->expires) : "never",
               k->scopes ? k->scopes : "");
    }
}
