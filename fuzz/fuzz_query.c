/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes the query:NAME source: apikey_query_param, apikey_query_strip and
 * apikey_url_decode, and the masking of keys in a logged request line,
 * apikey_request_redact.  The input is "NAME\0QUERY": a parameter name
 * (used only when query:NAME would be accepted as a directive, else
 * "api_key") and a query string as r->args holds it, which also serves as
 * a request line; without a NUL it is all query.  apikey_url_decode takes
 * a length, so it gets copies without a terminator; every output buffer is
 * as long as the function may use, no longer.
 *
 * Beyond not crashing: the parameter found is the one a plain split of
 * the string finds, names compared as an application decodes and folds
 * them (a conflict when two values differ); the stripped
 * string is no longer than the original, holds the other parameters in
 * order, holds NAME no more, and strips to itself; decoding never grows a
 * value, refuses what a plain decoder refuses, and reverses encoding; a
 * redacted line keeps every byte but the secret values, each now the
 * marker, and redacts to itself. */

#include "apikey_source.h"
#include "fuzz.h"

#define DEFAULT_NAME "api_key"

static int hexval(unsigned char c);

static char fold_ref(char c)
{
    c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    return c == '-' || c == '.' || c == ' ' ? '_' : c;
}

/* Whether the parameter name [p, p + klen) is name as an application reads
 * it: decoded whole first (escapes that do not decode stay as written, '+'
 * is a blank), then PHP's rules on the C string (cut at a NUL): leading
 * blanks dropped, ' ' and '.' to '_' before the first '['; at that '[' the
 * name ends if a ']' follows, else it and every ' ', '.', '[' after it
 * become '_'; ASCII case and '-' for '_' alike on top. */
static int name_ref(const char *p, size_t klen, const char *name)
{
    char *dec = malloc(klen + 1), *v, *br;
    size_t i, d = 0, n = strlen(name);
    int match;

    FUZZ_CHECK(dec != NULL);
    for (i = 0; i < klen; i++) {
        if (p[i] == '%' && i + 2 < klen && hexval((unsigned char)p[i + 1]) >= 0
            && hexval((unsigned char)p[i + 2]) >= 0) {
            dec[d++] = (char)(hexval((unsigned char)p[i + 1]) * 16
                              + hexval((unsigned char)p[i + 2]));
            i += 2;
        }
        else {
            dec[d++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    dec[d] = '\0';
    for (v = dec; *v == ' '; v++) {
    }
    br = strchr(v, '[');
    if (br && strchr(br + 1, ']')) {
        *br = '\0';
    }
    else if (br) {
        char *q;

        for (q = br; *q; q++) {
            if (*q == '[') {
                *q = '_';
            }
        }
    }
    match = strlen(v) == n;
    for (i = 0; match && i < n; i++) {
        match = fold_ref(v[i]) == fold_ref(name[i]);
    }
    free(dec);
    return match;
}

/* The reference split: the first value of name in args (returns the count
 * of occurrences, -1 when two values differ) and the string with every
 * occurrence and every empty item removed, into strip. */
static int query_ref(const char *args, const char *name, const char **val,
                     size_t *vlen, char *strip)
{
    size_t w = 0;
    const char *p = args;
    int found = 0, conflict = 0;

    for (;;) {
        size_t item = strcspn(p, "&;");
        const char *eq = memchr(p, '=', item);
        size_t klen = eq ? (size_t)(eq - p) : item;

        if (name_ref(p, klen, name)) {
            const char *v = eq ? eq + 1 : p + item;
            size_t l = (size_t)(p + item - v);

            if (!found) {
                *val = v;
                *vlen = l;
            }
            else if (l != *vlen || memcmp(v, *val, l)) {
                conflict = 1;
            }
            found++;
        }
        else if (item) {
            if (w) {
                strip[w++] = '&';
            }
            memcpy(strip + w, p, item);
            w += item;
        }
        if (!p[item]) {
            break;
        }
        p += item + 1;
    }
    strip[w] = '\0';
    return conflict ? -1 : found;
}

static int hexval(unsigned char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static long decode_ref(const char *in, size_t len, char *out)
{
    size_t i, w = 0;

    for (i = 0; i < len; i++) {
        if (in[i] == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)in[i + 2]) : -1;

            if (hi < 0 || lo < 0 || hi * 16 + lo == 0) {
                return -1;
            }
            out[w++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (in[i] == '\0') {
            return -1;
        }
        else {
            out[w++] = in[i] == '+' ? ' ' : in[i];
        }
    }
    return (long)w;
}

/* Decodes [in, in + len) from an exact copy into an exact buffer, checks
 * it against the reference, and checks that encoding the result every
 * byte as %XX decodes back to it. */
static void decode(const char *in, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *src = fuzz_bytes((const uint8_t *)in, len);
    char *out = fuzz_alloc(len), *ref = malloc(len + 1);
    char *enc, *back;
    long n = apikey_url_decode(src, len, out), i;

    FUZZ_CHECK(ref != NULL);
    FUZZ_CHECK(n == decode_ref(src, len, ref));
    FUZZ_CHECK(n <= (long)len);
    if (n >= 0) {
        FUZZ_CHECK(!memcmp(out, ref, (size_t)n));
        FUZZ_CHECK(!memchr(out, '\0', (size_t)n));
        enc = malloc(3 * (size_t)n + 1);
        back = fuzz_alloc(3 * (size_t)n);
        FUZZ_CHECK(enc != NULL);
        for (i = 0; i < n; i++) {
            enc[3 * i] = '%';
            enc[3 * i + 1] = hex[(unsigned char)out[i] >> 4];
            enc[3 * i + 2] = hex[(unsigned char)out[i] & 15];
        }
        FUZZ_CHECK(apikey_url_decode(enc, 3 * (size_t)n, back) == n);
        FUZZ_CHECK(!memcmp(back, out, (size_t)n));
        free(enc);
        free(back);
    }
    free(src);
    free(out);
    free(ref);
}

/* In the request line, NAME's value and any value that starts like a key
 * are secrets. */
static int secret(const char *name, size_t nlen, const char *val, size_t vlen,
                  void *ctx)
{
    const char *want = ctx;

    return (nlen == strlen(want) && !memcmp(name, want, nlen))
           || (vlen >= 3 && !memcmp(val, "ak_", 3));
}

/* The query of a request line as the reference reads it: after the first
 * '?' between the first blank and the next; NULL when there is none. */
static const char *line_query(const char *line, const char **end)
{
    const char *sp1 = strchr(line, ' '), *q;

    if (!sp1) {
        return NULL;
    }
    *end = strchr(sp1 + 1, ' ');
    if (!*end) {
        *end = sp1 + strlen(sp1);
    }
    for (q = sp1; q < *end && *q != '?'; q++) {
    }
    return q < *end ? q + 1 : NULL;
}

static void check_redact(const char *line, const char *name)
{
    size_t size = apikey_request_redact_size(line), n, m;
    char *out = fuzz_alloc(size), *again;
    const char *q, *end, *oq, *oend, *p, *o;

    n = apikey_request_redact(line, secret, (void *)name, out);
    FUZZ_CHECK(n == strlen(out) && n < size);
    q = line_query(line, &end);
    if (!q) {
        FUZZ_CHECK(!strcmp(out, line));
        free(out);
        return;
    }
    oq = line_query(out, &oend);
    FUZZ_CHECK(oq && oq - out == q - line && !memcmp(out, line, q - line));
    FUZZ_CHECK(!strcmp(oend, end));
    /* Item by item: a secret value is the marker, all else unchanged. */
    for (p = q, o = oq;;) {
        size_t il = strcspn(p, "&; "), ol = strcspn(o, "&; ");
        const char *eq = memchr(p, '=', p + il > end ? (size_t)(end - p) : il);

        if (p + il > end) {
            il = (size_t)(end - p);
        }
        if (o + ol > oend) {
            ol = (size_t)(oend - o);
        }
        if (eq
            && secret(p, (size_t)(eq - p), eq + 1, il - (eq + 1 - p),
                      (void *)name)) {
            m = (size_t)(eq + 1 - p);
            FUZZ_CHECK(ol == m + sizeof(APIKEY_REDACTED) - 1);
            FUZZ_CHECK(!memcmp(o, p, m));
            FUZZ_CHECK(!memcmp(o + m, APIKEY_REDACTED, ol - m));
        }
        else {
            FUZZ_CHECK(ol == il && !memcmp(o, p, il));
        }
        p += il;
        o += ol;
        if (p == end) {
            FUZZ_CHECK(o == oend);
            break;
        }
        FUZZ_CHECK(*o == *p);
        p++;
        o++;
    }
    again = fuzz_alloc(apikey_request_redact_size(out));
    FUZZ_CHECK(apikey_request_redact(out, secret, (void *)name, again) == n);
    FUZZ_CHECK(!strcmp(again, out));
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *tail;
    size_t tail_len, alen, len = 0, rlen = 0, w;
    char *word = fuzz_split(data, size, &tail, &tail_len), *args, *out, *ref;
    const char *name = DEFAULT_NAME, *val = NULL, *rval = NULL;
    apikey_source_t src;
    int rc, rrc;

    if (!memchr(data, 0, size)) {
        /* No name given: the whole input is the query. */
        tail = data;
        tail_len = size;
    }
    else {
        char *directive = malloc(strlen(word) + 7);

        FUZZ_CHECK(directive != NULL);
        memcpy(directive, "query:", 6);
        strcpy(directive + 6, word);
        if (!apikey_source_parse(directive, &src)) {
            name = word;
        }
        free(directive);
    }
    args = fuzz_cstr(tail, tail_len);
    alen = strlen(args);
    out = malloc(alen + 1);
    ref = malloc(alen + 1);
    FUZZ_CHECK(out && ref);

    rc = apikey_query_param(args, name, &val, &len);
    rrc = query_ref(args, name, &rval, &rlen, ref);
    FUZZ_CHECK(rc == (rrc > 1 ? 1 : rrc));
    if (rc == 1) {
        FUZZ_CHECK(val == rval && len == rlen);
        FUZZ_CHECK(val >= args && val + len <= args + alen);
        FUZZ_CHECK(!memchr(val, '&', len) && !memchr(val, ';', len));
        decode(val, len);
    }

    w = apikey_query_strip(args, name, out);
    FUZZ_CHECK(w == strlen(out) && w <= alen);
    FUZZ_CHECK(!strcmp(out, ref));
    FUZZ_CHECK(apikey_query_param(out, name, &val, &len) == 0);
    /* Stripping what is stripped changes nothing. */
    FUZZ_CHECK(apikey_query_strip(out, name, ref) == w && !strcmp(out, ref));

    check_redact(args, name);

    /* The raw input, NULs and all, as a value to decode. */
    decode((const char *)data, size);

    free(word);
    free(args);
    free(out);
    free(ref);
    return 0;
}
