/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for AuthAPIKeySource word parsing and Bearer token extraction
 * in apikey_source.c. */

#include "apikey_source.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* A value no parse result can hold, to show a field was really written. */
#define UNSET_KIND ((apikey_source_kind_t)77)

static const char poison[] = "poison";

static void parse_ok(const char *word, apikey_source_kind_t kind,
                     const char *name)
{
    apikey_source_t src;
    const char *err;

    src.kind = UNSET_KIND;
    src.name = poison;
    err = apikey_source_parse(word, &src);
    ok(err == NULL, "'%s' parses", word);
    if (err) {
        diag("error: %s", err);
        return;
    }
    is_int(src.kind, kind, "'%s' is a %s source", word,
           apikey_source_kind_str(kind));
    if (name) {
        /* The header promises name points into word, not at a copy. */
        ok(src.name == word + strlen(word) - strlen(name)
               && !strcmp(src.name, name),
           "'%s' names header %s, inside the word", word, name);
    }
    else {
        ok(src.name == NULL, "'%s' has no header name", word);
    }
}

static void parse_err(const char *word, const char *why)
{
    apikey_source_t src;
    const char *err;

    src.kind = UNSET_KIND;
    src.name = poison;
    err = apikey_source_parse(word, &src);
    ok(err != NULL && *err != '\0', "%s is refused with a message", why);
    if (err == NULL) {
        diag("accepted as kind %d, name %s", (int)src.kind,
             src.name ? src.name : "NULL");
    }
}

static void test_parse(void)
{
    char name[APIKEY_SOURCE_NAME_MAX + 16];

    parse_ok("bearer", APIKEY_SOURCE_BEARER, NULL);
    parse_ok("BEARER", APIKEY_SOURCE_BEARER, NULL);
    parse_ok("Bearer", APIKEY_SOURCE_BEARER, NULL);
    parse_ok("header:X-API-Key", APIKEY_SOURCE_HEADER, "X-API-Key");
    parse_ok("Header:x-api-key", APIKEY_SOURCE_HEADER, "x-api-key");
    parse_ok("HEADER:X-Key", APIKEY_SOURCE_HEADER, "X-Key");
    parse_ok("header:K", APIKEY_SOURCE_HEADER, "K");
    /* Every RFC 9110 tchar punctuation mark is allowed in a field name. */
    parse_ok("header:!#$%&'*+-.^_`|~", APIKEY_SOURCE_HEADER, "!#$%&'*+-.^_`|~");
    /* Names that merely start with "Authorization" are other headers. */
    parse_ok("header:Authorization-Key", APIKEY_SOURCE_HEADER,
             "Authorization-Key");

    memcpy(name, "header:", 7);
    memset(name + 7, 'x', APIKEY_SOURCE_NAME_MAX);
    name[7 + APIKEY_SOURCE_NAME_MAX] = '\0';
    parse_ok(name, APIKEY_SOURCE_HEADER, name + 7);
    name[7 + APIKEY_SOURCE_NAME_MAX] = 'x';
    name[7 + APIKEY_SOURCE_NAME_MAX + 1] = '\0';
    parse_err(name, "a name of APIKEY_SOURCE_NAME_MAX + 1 characters");

    parse_err("", "an empty word");
    parse_err("bogus", "an unknown keyword");
    parse_err("header:", "'header:' without a name");
    parse_err("header", "'header' without a colon");
    parse_err("header:Bad Name", "a name with a space");
    parse_err("header:X-Key ", "a name with a trailing space");
    parse_err("header:X\tKey", "a name with a tab");
    parse_err("header:X:Key", "a name with a colon");
    parse_err("header:X\"Key", "a name with a quote");
    parse_err("header:X\r\nKey", "a name with CR LF");
    parse_err("header:\xc3\x9c-Key", "a name with UTF-8");
    parse_err("header:Authorization", "header:Authorization");
    parse_err("header:authorization", "header:authorization");
    parse_err("HEADER:AUTHORIZATION", "HEADER:AUTHORIZATION");
    parse_err("query:", "'query:' without a name");
    parse_err("query:a b", "a parameter name with a space");
    parse_err("query:a&b", "a parameter name with '&'");
    parse_err("query:a=b", "a parameter name with '='");
    parse_err("basic:x", "'basic:x'");
    parse_err("header:Proxy-Authorization", "header:Proxy-Authorization");
    parse_err("bearer:", "'bearer:'");
    parse_err("bearer ", "'bearer ' with a trailing space");
    parse_err(" bearer", "' bearer' with a leading space");
    parse_err("bearerx", "'bearerx'");
    parse_err("header :X-Key", "a space before the colon");
}

/* query:NAME and basic; the query-string helpers. */
static void test_query_and_basic(void)
{
    apikey_source_t src;
    const char *v = NULL;
    size_t len = 0;
    char out[128], dec[64];

    ok(apikey_source_parse("query:api_key", &src) == NULL
           && src.kind == APIKEY_SOURCE_QUERY && !strcmp(src.name, "api_key"),
       "query:api_key");
    ok(apikey_source_parse("QUERY:k.e-y~", &src) == NULL
           && src.kind == APIKEY_SOURCE_QUERY && !strcmp(src.name, "k.e-y~"),
       "QUERY:k.e-y~ (keyword case-insensitive)");
    ok(apikey_source_parse("Basic", &src) == NULL
           && src.kind == APIKEY_SOURCE_BASIC && src.name == NULL,
       "Basic");
    is_str(apikey_source_kind_str(APIKEY_SOURCE_QUERY), "query", "query name");
    is_str(apikey_source_kind_str(APIKEY_SOURCE_BASIC), "basic", "basic name");

    is_int(apikey_query_param("a=1&k=v&b=2", "k", &v, &len), 1, "k found");
    ok(len == 1 && !strncmp(v, "v", 1), "k's value");
    is_int(apikey_query_param("a=1;k=v", "k", &v, &len), 1, "';' separates");
    is_int(apikey_query_param("kk=1&xk=2", "k", &v, &len), 0,
           "no partial name match");
    is_int(apikey_query_param("k=v&k=v", "k", &v, &len), 1,
           "twice, same value");
    is_int(apikey_query_param("k=v&k=w", "k", &v, &len), -1,
           "twice, different values");
    is_int(apikey_query_param("k", "k", &v, &len), 1, "name without '='");
    ok(len == 0, "and an empty value");
    is_int(apikey_query_param("", "k", &v, &len), 0, "empty query");
    is_int(apikey_query_param(NULL, "k", &v, &len), 0, "no query");

    apikey_query_strip("a=1&k=v&b=2", "k", out);
    is_str(out, "a=1&b=2", "strip from the middle");
    apikey_query_strip("k=v", "k", out);
    is_str(out, "", "strip the only parameter");
    apikey_query_strip("k=v&k=w&x", "k", out);
    is_str(out, "x", "strip every occurrence");
    apikey_query_strip("a=1&&kk=2&", "k", out);
    is_str(out, "a=1&kk=2", "keep others, drop empty items");

    is_int((int)apikey_url_decode("ak%5Fx+y", 8, dec), 6, "decode length");
    dec[6] = '\0';
    is_str(dec, "ak_x y", "%%5F and '+'");
    is_int((int)apikey_url_decode("a%00b", 5, dec), -1, "%%00 refused");
    is_int((int)apikey_url_decode("a%0", 3, dec), -1, "truncated escape");
    is_int((int)apikey_url_decode("a%zz", 4, dec), -1, "bad hex");
    is_int((int)apikey_url_decode("%252F", 5, dec), 3,
           "double encoding decodes once");
}

/* Names as backends fold them: headers with '-' and '_' alike, query
 * parameters percent-decoded, PHP's '.' and ' ' and arrays. */
static void test_name_folding(void)
{
    const char *v = NULL;
    size_t len = 0;
    char out[128];

    ok(apikey_header_name_is("X_APIKey_Owner", "X-APIKey-Owner"),
       "header: X_APIKey_Owner is X-APIKey-Owner");
    ok(apikey_header_name_is("x-apikey-OWNER", "X-APIKey-Owner"),
       "header: case ignored");
    ok(apikey_header_name_is("X_API_Key", "X-API-Key"),
       "header: X_API_Key is X-API-Key");
    ok(!apikey_header_name_is("X-API-Keys", "X-API-Key"),
       "header: a longer name is another");
    ok(!apikey_header_name_is("X-API-Ke", "X-API-Key"),
       "header: a shorter name is another");
    ok(!apikey_header_name_is("X.API.Key", "X-API-Key"),
       "header: '.' is not '-'");

    ok(apikey_param_name_is("api%6B%65%79", 12, "apikey"),
       "query: percent-encoded name");
    ok(apikey_param_name_is("API_KEY", 7, "api_key"), "query: case ignored");
    ok(apikey_param_name_is("api.key", 7, "api_key"),
       "query: '.' as PHP reads it");
    ok(apikey_param_name_is("api+key", 7, "api_key"),
       "query: '+' (a blank) as PHP reads it");
    ok(apikey_param_name_is("api%20key", 9, "api_key"), "query: %%20");
    ok(apikey_param_name_is("api-key", 7, "api_key"), "query: '-'");
    ok(apikey_param_name_is("api_key[]", 9, "api_key"), "query: PHP array");
    ok(apikey_param_name_is("api_key%5B0%5D", 14, "api_key"),
       "query: encoded array");
    ok(!apikey_param_name_is("api_keys", 8, "api_key"),
       "query: a longer name is another");
    ok(!apikey_param_name_is("api_ke", 6, "api_key"),
       "query: a shorter name is another");
    ok(!apikey_param_name_is("api%6", 5, "api6"),
       "query: a cut escape stays as written");
    ok(apikey_param_name_is("k%00", 4, "k"),
       "query: a decoded NUL ends the name, as PHP reads it");
    ok(apikey_param_name_is("api_key%00x", 11, "api_key"),
       "query: api_key%%00x is api_key to PHP");
    ok(apikey_param_name_is("+api_key", 8, "api_key"),
       "query: PHP drops leading blanks ('+')");
    ok(apikey_param_name_is("%20%20api_key", 13, "api_key"), "query: and %%20");
    ok(apikey_param_name_is("api[key", 7, "api_key"),
       "query: an unclosed '[' is '_' to PHP");
    ok(apikey_param_name_is("api[key.x[", 10, "api_key_x_"),
       "query: and every ' ', '.' and '[' after it");
    ok(!apikey_param_name_is("api[key]", 8, "api_key"),
       "query: api[key] is an array named api");
    ok(apikey_param_name_is("api[key]", 8, "api"), "query: as api[...]");
    ok(!apikey_param_name_is("x+api_key", 9, "api_key"),
       "query: a blank inside is '_', not dropped");

    is_int(apikey_query_param("a=1&api%6B%65%79=K&b=2", "apikey", &v, &len), 1,
           "found under an encoded name");
    ok(len == 1 && *v == 'K', "and its value");
    is_int(apikey_query_param("apikey=K&api%6B%65%79=L", "apikey", &v, &len),
           -1, "two spellings, two keys: a conflict");
    apikey_query_strip("a=1&api%6B%65%79=K&API.KEY=K&b=2", "api_key", out);
    is_str(out, "a=1&api%6B%65%79=K&b=2", "strip: only spellings of the name");
    apikey_query_strip("a=1&api%6B%65%79=K&b=2", "apikey", out);
    is_str(out, "a=1&b=2", "strip: the encoded name too");
}

static void test_kind_str(void)
{
    is_str(apikey_source_kind_str(APIKEY_SOURCE_HEADER), "header",
           "kind_str of a header source");
    is_str(apikey_source_kind_str(APIKEY_SOURCE_BEARER), "bearer",
           "kind_str of a bearer source");
    ok(apikey_source_kind_str(UNSET_KIND) != NULL,
       "kind_str of an unknown kind is not NULL");
}

/* Checks that value carries the Bearer token want, at offset off of value
 * (so the token is known to point into the value, not a copy). */
static void bearer_is(const char *value, size_t off, const char *want,
                      const char *what)
{
    const char *tok = NULL;
    size_t len = (size_t)-1;
    int rc = apikey_bearer_token(value, &tok, &len);

    ok(rc == 1 && tok == value + off && len == strlen(want)
           && !memcmp(tok, want, len),
       "%s: token '%s'", what, want);
    if (rc != 1 || tok != value + off || len != strlen(want)) {
        diag("rc %d, offset %ld, len %ld", rc, tok ? (long)(tok - value) : -1L,
             (long)len);
    }
}

static void bearer_not(const char *value, const char *what)
{
    const char *tok = NULL;
    size_t len = 0;

    is_int(apikey_bearer_token(value, &tok, &len), 0, "%s: not Bearer", what);
}

static void test_bearer(void)
{
    bearer_is("Bearer abc", 7, "abc", "Bearer abc");
    bearer_is("bearer abc", 7, "abc", "lower-case scheme");
    bearer_is("BEARER   abc  ", 9, "abc",
              "upper-case scheme, extra and trailing spaces");
    bearer_is("bEaReR abc", 7, "abc", "mixed-case scheme");
    bearer_is("Bearer\tabc\t", 7, "abc", "tabs around the token");
    bearer_is("Bearer", 6, "", "scheme alone");
    bearer_is("Bearer ", 7, "", "scheme and a space");
    bearer_is("Bearer \t  ", 10, "", "scheme and only whitespace");
    bearer_is("  Bearer abc", 9, "abc", "leading spaces");
    bearer_is("\t Bearer abc", 9, "abc", "leading tab and space");
    bearer_is("Bearer ak_0123456789abcdefABCDEF-._~+/==", 7,
              "ak_0123456789abcdefABCDEF-._~+/==", "every b64token character");

    bearer_not("Basic abc", "Basic scheme");
    bearer_not("Bearerabc", "no space after the scheme");
    bearer_not("Bearer,abc", "comma after the scheme");
    bearer_not("Bear abc", "truncated scheme");
    bearer_not("XBearer abc", "longer scheme");
    bearer_not("", "empty value");
    bearer_not("   ", "only spaces");
    bearer_not(NULL, "NULL value");
}

/* Checks that value of vlen bytes (read no further: a copy without a
 * terminator) gives rc and, when 1, the key want at offset off. */
static void one_value_is(const char *value, size_t vlen, const char *scheme,
                         int want_rc, size_t off, const char *want,
                         const char *what)
{
    char *copy = malloc(vlen ? vlen : 1);
    const char *v;
    size_t len = vlen;
    int rc;

    memcpy(copy, value, vlen);
    v = copy;
    rc = apikey_header_one_value(&v, &len, scheme);
    if (want_rc != 1) {
        is_int(rc, want_rc, "%s: conflict", what);
    }
    else {
        ok(rc == 1 && v == copy + off && len == strlen(want)
               && !memcmp(v, want, len),
           "%s: key '%s'", what, want);
        if (rc != 1 || v != copy + off || len != strlen(want)) {
            diag("rc %d, offset %ld, len %ld", rc, (long)(v - copy), (long)len);
        }
    }
    free(copy);
}

/* A header sent twice reaches us joined as "a, b". */
#define WHOLE(s) (s), strlen(s)

static void test_one_value(void)
{
    one_value_is(WHOLE("abc"), NULL, 1, 0, "abc", "one value");
    one_value_is(WHOLE("  abc"), NULL, 1, 2, "abc", "leading blanks dropped");
    one_value_is(WHOLE("abc, abc"), NULL, 1, 0, "abc", "the same key twice");
    one_value_is(WHOLE("abc,abc,\tabc"), NULL, 1, 0, "abc", "three times");
    one_value_is(WHOLE("abc, abd"), NULL, -1, 0, NULL, "two keys");
    one_value_is(WHOLE("abc, abcd"), NULL, -1, 0, NULL,
                 "a key and a longer one");
    one_value_is(WHOLE("abc, "), NULL, -1, 0, NULL, "a key and an empty part");
    one_value_is(WHOLE("abc,"), NULL, 1, 0, "abc", "a trailing comma");
    one_value_is(WHOLE(""), NULL, 1, 0, "", "an empty value");
    one_value_is(WHOLE("abc, Bearer abc"), "Bearer", 1, 0, "abc",
                 "a repeated Authorization header brings its scheme");
    one_value_is(WHOLE("abc, bearer\t abc"), "Bearer", 1, 0, "abc",
                 "scheme matched without case, blanks after it");
    one_value_is(WHOLE("abc, Bearer abd"), "Bearer", -1, 0, NULL,
                 "two Bearer tokens");
    one_value_is(WHOLE("abc, Bearerabc"), "Bearer", -1, 0, NULL,
                 "no blank after the scheme: not the scheme");
    one_value_is(WHOLE("abc, Bearer"), "Bearer", -1, 0, NULL,
                 "the scheme alone is a different value");
    one_value_is(WHOLE("abc, Bearer abc"), NULL, -1, 0, NULL,
                 "no scheme is stripped from a header:NAME value");
    /* Only len bytes are the value: what follows is not read. */
    one_value_is("abc, abd", 3, NULL, 1, 0, "abc", "a value cut at its length");
}

/* For the redaction tests: "k" is a source, and any value starting with
 * "ak_" stands for a well-formed key. */
static int secret_k(const char *name, size_t nlen, const char *val, size_t vlen,
                    void *ctx)
{
    (void)ctx;
    return (nlen == 1 && name[0] == 'k')
           || (vlen >= 3 && !memcmp(val, "ak_", 3));
}

static void redact_is(const char *line, const char *want, const char *what)
{
    size_t size = apikey_request_redact_size(line);
    /* Exactly the size promised, so a tool such as ASan sees any byte
     * written past it. */
    char *out = malloc(size);
    size_t n = apikey_request_redact(line, secret_k, NULL, out);

    is_str(out, want, "redact: %s", what);
    ok(n == strlen(out) && n < size, "redact: %s: length %ld of at most %ld",
       what, (long)n, (long)size - 1);
    free(out);
}

static void test_redact(void)
{
    char *line, *want, *p;
    size_t i, n = 4000, size;

    redact_is("GET /p?a=1&k=secret&b=2 HTTP/1.1",
              "GET /p?a=1&k=[REDACTED]&b=2 HTTP/1.1", "a source's value");
    redact_is("GET /p?x=ak_123;k= HTTP/1.1",
              "GET /p?x=[REDACTED];k=[REDACTED] HTTP/1.1",
              "a key anywhere, an empty value, ';' kept");
    redact_is("GET /p?k&kk=1&=ak_ HTTP/1.1",
              "GET /p?k&kk=1&=[REDACTED] HTTP/1.1",
              "no '=', no value to mask; an empty name");
    redact_is("GET /p HTTP/1.1", "GET /p HTTP/1.1", "no query");
    redact_is("GET /p?k=1", "GET /p?k=[REDACTED]", "HTTP/0.9: no protocol");
    redact_is("GET /p HTTP/1.1?k=1", "GET /p HTTP/1.1?k=1",
              "a '?' after the target is not a query");
    redact_is("GET /p?a&&k=v& HTTP/1.1", "GET /p?a&&k=[REDACTED]& HTTP/1.1",
              "empty items and a trailing separator kept");
    redact_is("garbage?k=1", "garbage?k=1", "no blank: not a request line");
    redact_is("", "", "empty");

    /* Thousands of parameters: one pass, within the size given. */
    line = malloc(3 * n + 32);
    want = malloc(13 * n + 32);
    p = line + sprintf(line, "GET /?");
    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s=", i ? "&k" : "k");
    }
    strcpy(p, " HTTP/1.1");
    p = want + sprintf(want, "GET /?");
    for (i = 0; i < n; i++) {
        p += sprintf(p, "%sk=[REDACTED]", i ? "&" : "");
    }
    strcpy(p, " HTTP/1.1");
    size = apikey_request_redact_size(line);
    ok(size == strlen(line) + 1 + n * 10, "redact: the size of %ld parameters",
       (long)n);
    redact_is(line, want, "every one of 4000 empty values");
    free(line);
    free(want);
}

static void basic_is(const char *value, int want_rc, const char *want,
                     size_t want_len, const char *what)
{
    char *buf = malloc(apikey_basic_buf_len(value));
    const char *key = NULL;
    size_t len = 0;
    int rc = apikey_basic_key(value, buf, &key, &len);

    ok(rc == want_rc
           && (!want_rc || (len == want_len && !memcmp(key, want, want_len))),
       "basic: %s", what);
    free(buf);
}

static void test_basic_key(void)
{
    /* base64("user:ak_key"), ("ak_key:"), ("ak_key:\0x"), (":pw") */
    basic_is("Basic dXNlcjpha19rZXk=", 1, "ak_key", 6, "the password");
    basic_is("basic   dXNlcjpha19rZXk=", 1, "ak_key", 6,
             "scheme in any case, several blanks");
    basic_is("Basic YWtfa2V5Og==", 1, "ak_key", 6,
             "the user when the password is empty");
    basic_is("Basic YWtfa2V5", 1, "ak_key", 6, "no colon: the whole");
    basic_is("Basic dTpha19rZXkAanVuaw==", 1, "ak_key\0junk", 11,
             "a NUL stays in the key, with its length");
    basic_is("Basic OnB3", 1, "pw", 2, "an empty user");
    basic_is("Basic", 1, "", 0, "no credentials: an empty key");
    basic_is("Bearer dXNlcjpha19rZXk=", 0, NULL, 0, "another scheme");
    basic_is("Basicx dXNlcjpha19rZXk=", 0, NULL, 0, "a longer scheme word");
    basic_is(NULL, 0, NULL, 0, "no header");
    basic_is("Basic !!!!", 1, "", 0, "not base64: nothing decodes");
    /* Found by fuzz_bearer: the size once came from the scheme word. */
    ok(apikey_basic_buf_len("Basic dXNlcjpwYXNzd29yZHBhc3N3b3Jk") >= 20 + 1,
       "basic: the buffer fits the decoded credentials, not the scheme word");
    ok(apikey_basic_buf_len("Bearer x") >= 1, "basic: another scheme: 1");
}

int main(void)
{
    test_basic_key();
    test_parse();
    test_kind_str();
    test_query_and_basic();
    test_name_folding();
    test_bearer();
    test_one_value();
    test_redact();
    return done_testing();
}
