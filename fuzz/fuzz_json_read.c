/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes the reader of htapikey import's lines, apikey_json_object_parse.
 * The input is one line of a file an admin imports, as bytes without a
 * terminator.
 *
 * Beyond not crashing: an object read holds at most the most members, each
 * name once, every name and string value well-formed UTF-8 without a NUL
 * (the C strings the checks and the store get); a number is spelt as
 * RFC 8259 spells one; and the object written again with the status page's
 * JSON writer (apikey_json_quote) reads back to the same members. */

#include "apikey_json.h"
#include "apikey_json_read.h"
#include "fuzz.h"

#include "apr_general.h"
#include "apr_strings.h"

static void utf8_ok(const char *s)
{
    unsigned long cp;
    size_t n;

    for (; *s; s += n) {
        n = apikey_utf8_decode(s, &cp);
        FUZZ_CHECK(n > 0);
    }
}

static void number_ok(const char *s)
{
    s += *s == '-';
    FUZZ_CHECK(*s >= '0' && *s <= '9');
    if (*s == '0') {
        FUZZ_CHECK(s[1] < '0' || s[1] > '9');
    }
    FUZZ_CHECK(strspn(s, "0123456789.eE+-") == strlen(s));
}

/* The members written again as an object. */
static const char *rewrite(apr_pool_t *p, const apr_array_header_t *m)
{
    const char *out = "{";
    int i;

    for (i = 0; i < m->nelts; i++) {
        const apikey_json_member_t *e =
            &APR_ARRAY_IDX(m, i, apikey_json_member_t);
        const char *v =
            e->type == APIKEY_JSON_NULL     ? "null"
            : e->type == APIKEY_JSON_STRING ? apikey_json_str(p, e->value)
            : e->type == APIKEY_JSON_STRINGS
                ? apr_pstrcat(p, "[", apikey_json_str(p, e->value), "]", NULL)
                : e->value;

        out = apr_pstrcat(p, out, i ? "," : "", apikey_json_str(p, e->name),
                          ":", v, NULL);
    }
    return apr_pstrcat(p, out, "}", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apr_pool_t *root;
    apr_pool_t *p;
    apr_array_header_t *m, *again;
    const char *err, *text;
    char *in = fuzz_bytes(data, size);
    int i;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);
    err = apikey_json_object_parse(p, in, size, &m);
    if (!err) {
        FUZZ_CHECK(m->nelts <= APIKEY_JSON_MEMBERS_MAX);
        for (i = 0; i < m->nelts; i++) {
            const apikey_json_member_t *e =
                &APR_ARRAY_IDX(m, i, apikey_json_member_t);

            utf8_ok(e->name);
            FUZZ_CHECK(apikey_json_member(m, e->name) == e);
            if (e->type == APIKEY_JSON_STRING
                || e->type == APIKEY_JSON_STRINGS) {
                utf8_ok(e->value);
            }
            if (e->type == APIKEY_JSON_NUMBER) {
                number_ok(e->value);
            }
            FUZZ_CHECK((e->value == NULL) == (e->type == APIKEY_JSON_NULL));
        }
        /* An array of strings reads back as one string: compare values. */
        text = rewrite(p, m);
        if (strlen(text) <= APIKEY_JSON_OBJECT_MAX) {
            FUZZ_CHECK(
                !apikey_json_object_parse(p, text, strlen(text), &again));
            FUZZ_CHECK(again->nelts == m->nelts);
            for (i = 0; i < m->nelts; i++) {
                const apikey_json_member_t *a =
                    &APR_ARRAY_IDX(m, i, apikey_json_member_t);
                const apikey_json_member_t *b =
                    &APR_ARRAY_IDX(again, i, apikey_json_member_t);

                FUZZ_CHECK(!strcmp(a->name, b->name));
                FUZZ_CHECK((a->value == NULL) == (b->value == NULL));
                FUZZ_CHECK(!a->value || !strcmp(a->value, b->value));
            }
        }
    }
    else {
        FUZZ_CHECK(*err != '\0');
    }
    apr_pool_destroy(p);
    free(in);
    return 0;
}
