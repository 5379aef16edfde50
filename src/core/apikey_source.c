/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Key source parsing (see apikey_source.h). */

#include "apikey_source.h"

#include <string.h>
#include <strings.h>

#include "apr_base64.h"

/* RFC 9110 token characters, the only ones a header field name may use. */
static int tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')) {
        return 1;
    }
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Characters of a query parameter name we accept in query:NAME. */
static int param_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
           || (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.'
           || c == '~';
}

const char *apikey_source_parse(const char *word, apikey_source_t *out)
{
    out->name = NULL;
    if (!strcasecmp(word, "bearer")) {
        out->kind = APIKEY_SOURCE_BEARER;
        return NULL;
    }
    if (!strcasecmp(word, "basic")) {
        out->kind = APIKEY_SOURCE_BASIC;
        return NULL;
    }
    if (!strncasecmp(word, "query:", 6)) {
        const char *name = word + 6, *p;

        if (!*name) {
            return "query: needs a parameter name, as in query:api_key";
        }
        for (p = name; *p; p++) {
            if (!param_char((unsigned char)*p)) {
                return "parameter name may hold letters, digits and "
                       "_ - . ~ only";
            }
        }
        if (p - name > APIKEY_SOURCE_NAME_MAX) {
            return "parameter name is too long";
        }
        out->kind = APIKEY_SOURCE_QUERY;
        out->name = name;
        return NULL;
    }
    if (!strncasecmp(word, "header:", 7)) {
        const char *name = word + 7, *p;

        if (!*name) {
            return "header: needs a header name, as in header:X-API-Key";
        }
        for (p = name; *p; p++) {
            if (!tchar((unsigned char)*p)) {
                return "header name contains a character not allowed in an "
                       "HTTP field name";
            }
        }
        if (p - name > APIKEY_SOURCE_NAME_MAX) {
            return "header name is too long";
        }
        if (!strcasecmp(name, "Authorization")
            || !strcasecmp(name, "Proxy-Authorization")) {
            return "use 'bearer' to read keys from the Authorization "
                   "header";
        }
        out->kind = APIKEY_SOURCE_HEADER;
        out->name = name;
        return NULL;
    }
    return "unknown key source; expected header:NAME, bearer, query:NAME "
           "or basic";
}

const char *apikey_source_kind_str(apikey_source_kind_t kind)
{
    switch (kind) {
        case APIKEY_SOURCE_HEADER:
            return "header";
        case APIKEY_SOURCE_BEARER:
            return "bearer";
        case APIKEY_SOURCE_QUERY:
            return "query";
        case APIKEY_SOURCE_BASIC:
            return "basic";
    }
    return "-";
}

int apikey_bearer_token(const char *value, const char **tok, size_t *len)
{
    const char *p, *end;

    if (!value) {
        return 0;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (strncasecmp(value, "Bearer", 6)
        || (value[6] != '\0' && value[6] != ' ' && value[6] != '\t')) {
        return 0;
    }
    p = value + 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *tok = p;
    *len = (size_t)(end - p);
    return 1;
}

int apikey_header_one_value(const char **v, size_t *len, const char *scheme)
{
    const char *s = *v, *end = *v + *len, *comma;
    size_t first = 0, slen = scheme ? strlen(scheme) : 0;
    int parts = 0;

    while (s < end) {
        const char *part;
        size_t plen;

        comma = memchr(s, ',', (size_t)(end - s));
        part = s;
        plen = (size_t)((comma ? comma : end) - s);
        while (plen && (*part == ' ' || *part == '\t')) {
            part++;
            plen--;
        }
        /* The first part's scheme is the caller's to strip (it decides
         * whether the value is ours at all); a repeated header brings its
         * own. */
        if (parts && slen && plen > slen && !strncasecmp(part, scheme, slen)
            && (part[slen] == ' ' || part[slen] == '\t')) {
            part += slen + 1;
            plen -= slen + 1;
            while (plen && (*part == ' ' || *part == '\t')) {
                part++;
                plen--;
            }
        }
        if (!parts) {
            *v = part;
            first = plen;
        }
        else if (plen != first || memcmp(part, *v, plen)) {
            return -1;
        }
        parts++;
        if (!comma) {
            break;
        }
        s = comma + 1;
    }
    *len = first;
    return 1;
}

#define fold_header apikey_header_fold

int apikey_header_name_is(const char *a, const char *b)
{
    size_t i;

    /* Most names differ in their first byte: no length is taken. */
    for (i = 0; a[i]; i++) {
        /* Bytes alike need no folding: a name spelled as configured. */
        if (a[i] != b[i]
            && fold_header((unsigned char)a[i])
                   != fold_header((unsigned char)b[i])) {
            return 0;
        }
    }
    return b[i] == '\0';
}

static int hexval(unsigned char c);

static unsigned char fold_param(unsigned char c)
{
    c = fold_header(c);
    return c == '.' || c == ' ' ? '_' : c;
}

/* A parameter name being decoded: p[i..n). */
typedef struct {
    const char *p;
    size_t n, i;
} name_iter_t;

/* The next character of the name, percent escapes and '+' decoded; -1 at
 * its end, or at a decoded NUL (PHP's names end there). */
static int name_next(name_iter_t *it)
{
    unsigned char c;
    int hi, lo;

    if (it->i >= it->n) {
        return -1;
    }
    c = (unsigned char)it->p[it->i++];
    if (c == '%' && it->i + 1 < it->n
        && (hi = hexval((unsigned char)it->p[it->i])) >= 0
        && (lo = hexval((unsigned char)it->p[it->i + 1])) >= 0) {
        c = (unsigned char)(hi * 16 + lo);
        it->i += 2;
    }
    else if (c == '+') {
        c = ' ';
    }
    return c ? c : -1;
}

/* As PHP's php_register_variable_ex reads a name, with ASCII case and
 * '-' for '_' folded on top: leading blanks dropped; ' ' and '.' are '_';
 * at the first '[', the name ends there when a ']' follows (an array of
 * that name), else that '[' and every later ' ', '.' and '[' are '_'. */
int apikey_param_name_is(const char *p, size_t n, const char *name)
{
    name_iter_t it = {p, n, 0};
    int c, unclosed = 0;
    size_t k = 0;

    do {
        c = name_next(&it);
    } while (c == ' ');
    for (; c >= 0; c = name_next(&it)) {
        if (c == '[' && !unclosed) {
            name_iter_t look = it;
            int d;

            while ((d = name_next(&look)) >= 0 && d != ']') {
            }
            if (d == ']') {
                return name[k] == '\0';
            }
            unclosed = 1;
            c = '_';
        }
        else if (c == '[') {
            c = '_';
        }
        if (!name[k]
            || fold_param((unsigned char)c)
                   != fold_param((unsigned char)name[k])) {
            return 0;
        }
        k++;
    }
    return name[k] == '\0';
}

/* The next parameter of a query string: its name [*p, *eq) and value
 * [*eq + 1, *end) (*eq == *end when there is no '='). */
static int next_param(const char **p, const char **eq, const char **end)
{
    const char *s = *p;

    if (!*s) {
        return 0;
    }
    *end = s + strcspn(s, "&;");
    *eq = memchr(s, '=', (size_t)(*end - s));
    if (!*eq) {
        *eq = *end;
    }
    return 1;
}

static const char *after(const char *end)
{
    return *end ? end + 1 : end;
}

int apikey_query_param(const char *args, const char *name, const char **val,
                       size_t *len)
{
    const char *p = args, *eq, *end;
    int found = 0;

    for (; p && next_param(&p, &eq, &end); p = after(end)) {
        const char *v = eq < end ? eq + 1 : end;
        size_t vlen = (size_t)(end - v);

        if (!apikey_param_name_is(p, (size_t)(eq - p), name)) {
            continue;
        }
        if (!found) {
            *val = v;
            *len = vlen;
            found = 1;
        }
        else if (vlen != *len || memcmp(v, *val, vlen)) {
            return -1;
        }
    }
    return found;
}

size_t apikey_query_strip(const char *args, const char *name, char *out)
{
    size_t w = 0;
    const char *p = args, *eq, *end;

    for (; p && next_param(&p, &eq, &end); p = after(end)) {
        if (apikey_param_name_is(p, (size_t)(eq - p), name)) {
            continue;
        }
        if (end > p) {
            if (w) {
                out[w++] = '&';
            }
            memcpy(out + w, p, (size_t)(end - p));
            w += (size_t)(end - p);
        }
    }
    out[w] = '\0';
    return w;
}

/* The query of a request line's target: [*q, *end), after the '?' and up
 * to the blank before the protocol.  0 when there is none. */
static int line_query(const char *line, const char **q, const char **end)
{
    const char *sp1 = strchr(line, ' '), *e;

    if (!sp1) {
        return 0;
    }
    e = strchr(sp1 + 1, ' ');
    if (!e) {
        e = sp1 + strlen(sp1);
    }
    *q = memchr(sp1, '?', (size_t)(e - sp1));
    if (!*q) {
        return 0;
    }
    (*q)++;
    *end = e;
    return 1;
}

size_t apikey_request_redact_size(const char *line)
{
    const char *q, *end, *p;
    size_t params = 1;

    if (!line_query(line, &q, &end)) {
        return strlen(line) + 1;
    }
    for (p = q; p < end; p++) {
        params += *p == '&' || *p == ';';
    }
    /* At worst every value, even an empty one, becomes the marker. */
    return strlen(line) + 1 + params * (sizeof(APIKEY_REDACTED) - 1);
}

size_t apikey_request_redact(const char *line, apikey_secret_fn *secret,
                             void *ctx, char *out)
{
    const char *q, *end, *p;
    size_t w, n;

    if (!line_query(line, &q, &end)) {
        n = strlen(line);
        memcpy(out, line, n + 1);
        return n;
    }
    /* One pass into one buffer: a line of thousands of parameters must
     * not cost a copy of the line for each. */
    w = (size_t)(q - line);
    memcpy(out, line, w);
    for (p = q; p < end;) {
        const char *item = p, *eq;

        while (item < end && *item != '&' && *item != ';') {
            item++;
        }
        eq = memchr(p, '=', (size_t)(item - p));
        if (eq
            && secret(p, (size_t)(eq - p), eq + 1, (size_t)(item - eq - 1),
                      ctx)) {
            n = (size_t)(eq + 1 - p);
            memcpy(out + w, p, n);
            memcpy(out + w + n, APIKEY_REDACTED, sizeof(APIKEY_REDACTED) - 1);
            w += n + sizeof(APIKEY_REDACTED) - 1;
        }
        else {
            memcpy(out + w, p, (size_t)(item - p));
            w += (size_t)(item - p);
        }
        if (item < end) {
            out[w++] = *item++;
        }
        p = item;
    }
    n = strlen(end);
    memcpy(out + w, end, n + 1);
    return w + n;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long apikey_url_decode(const char *in, size_t len, char *out)
{
    size_t i, w = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == '%') {
            int hi, lo;

            /* Two hex digits must follow. */
            if (i + 2 >= len) {
                return -1;
            }
            hi = hexval((unsigned char)in[i + 1]);
            lo = hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return -1;
            }
            out[w++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (c == '\0') {
            return -1;
        }
        else {
            out[w++] = c == '+' ? ' ' : (char)c;
        }
    }
    return (long)w;
}

/* The base64 credentials of a Basic value, or NULL for another scheme. */
static const char *basic_credentials(const char *value)
{
    const char *sp;

    if (!value) {
        return NULL;
    }
    sp = strchr(value, ' ');
    if ((sp ? (size_t)(sp - value) : strlen(value)) != 5
        || strncasecmp(value, "Basic", 5)) {
        return NULL;
    }
    value = sp ? sp : "";
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    return value;
}

size_t apikey_basic_buf_len(const char *value)
{
    const char *cred = basic_credentials(value);

    return cred ? (size_t)apr_base64_decode_len(cred) + 1 : 1;
}

int apikey_basic_key(const char *value, char *buf, const char **key,
                     size_t *len)
{
    const char *cred = basic_credentials(value), *colon;
    int n;

    if (!cred) {
        return 0;
    }
    n = apr_base64_decode_binary((unsigned char *)buf, cred);
    if (n < 0) {
        n = 0;
    }
    colon = memchr(buf, ':', (size_t)n);
    if (colon && colon + 1 < buf + n) {
        *key = colon + 1;
        *len = (size_t)(buf + n - *key);
    }
    else {
        *key = buf;
        *len = colon ? (size_t)(colon - buf) : (size_t)n;
    }
    return 1;
}
