/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes apikey_source_parse, the parser of AuthAPIKeySource words (which
 * a .htaccess author may write).  The input is one word, a C string as
 * httpd hands it over.
 *
 * Beyond not crashing: a word either gets a message or a source whose
 * name lies inside the word and holds only the characters its kind
 * allows; the keywords do not care about case, so the word upper-cased or
 * lower-cased is judged alike; and a query source's name finds itself in
 * a query string and is stripped from it. */

#include "apikey_source.h"
#include "fuzz.h"

#include <ctype.h>
#include <strings.h>

static int tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int param_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~';
}

static void same_case_insensitively(const char *word, const apikey_source_t *s,
                                    const char *err, int (*conv)(int))
{
    char *w = fuzz_cstr((const uint8_t *)word, strlen(word));
    apikey_source_t t;
    const char *err2;
    size_t i;

    for (i = 0; w[i]; i++) {
        w[i] = (char)conv((unsigned char)w[i]);
    }
    err2 = apikey_source_parse(w, &t);
    FUZZ_CHECK((err == NULL) == (err2 == NULL));
    if (!err) {
        FUZZ_CHECK(t.kind == s->kind);
        FUZZ_CHECK((t.name == NULL) == (s->name == NULL));
        FUZZ_CHECK(!t.name || !strcasecmp(t.name, s->name));
    }
    free(w);
}

/* The name as a query parameter: found with its value, and stripped from
 * beside another parameter (the name and a '~', so never the same). */
static void query_name_works(const char *name)
{
    size_t n = strlen(name), len = 0, cap = 2 * n + 16;
    char *q = malloc(cap), *out = malloc(cap), *other = malloc(cap);
    const char *v = NULL;

    FUZZ_CHECK(q && out && other);
    snprintf(q, cap, "%s=v&%s~=1", name, name);
    snprintf(other, cap, "%s~=1", name);
    FUZZ_CHECK(apikey_query_param(q, name, &v, &len) == 1);
    FUZZ_CHECK(len == 1 && v == q + n + 1);
    FUZZ_CHECK(apikey_query_strip(q, name, out) == n + 3);
    FUZZ_CHECK(!strcmp(out, other));
    free(q);
    free(out);
    free(other);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *word = fuzz_cstr(data, size);
    size_t wlen = strlen(word), i, nlen;
    apikey_source_t src;
    const char *err;

    src.name = word; /* must be overwritten, with NULL at least */
    err = apikey_source_parse(word, &src);
    if (err) {
        FUZZ_CHECK(*err != '\0');
        FUZZ_CHECK(src.name == NULL);
    }
    else {
        switch (src.kind) {
            case APIKEY_SOURCE_BEARER:
            case APIKEY_SOURCE_BASIC:
                FUZZ_CHECK(src.name == NULL);
                FUZZ_CHECK(!strcasecmp(word, apikey_source_kind_str(src.kind)));
                break;
            case APIKEY_SOURCE_HEADER:
            case APIKEY_SOURCE_QUERY:
                FUZZ_CHECK(src.name != NULL);
                FUZZ_CHECK(src.name > word && src.name <= word + wlen);
                nlen = strlen(src.name);
                FUZZ_CHECK(nlen >= 1 && nlen <= APIKEY_SOURCE_NAME_MAX);
                FUZZ_CHECK(src.name[-1] == ':');
                FUZZ_CHECK(!strncasecmp(word, apikey_source_kind_str(src.kind),
                                        (size_t)(src.name - 1 - word)));
                for (i = 0; i < nlen; i++) {
                    unsigned char c = (unsigned char)src.name[i];
                    FUZZ_CHECK(src.kind == APIKEY_SOURCE_HEADER
                                   ? tchar(c)
                                   : param_char(c));
                }
                if (src.kind == APIKEY_SOURCE_HEADER) {
                    FUZZ_CHECK(strcasecmp(src.name, "Authorization"));
                    FUZZ_CHECK(strcasecmp(src.name, "Proxy-Authorization"));
                }
                else {
                    query_name_works(src.name);
                }
                break;
            default:
                FUZZ_CHECK(!"a kind outside the enum");
        }
    }
    same_case_insensitively(word, &src, err, toupper);
    same_case_insensitively(word, &src, err, tolower);
    free(word);
    return 0;
}
