/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Key sources: the parsing of AuthAPIKeySource values and of the request
 * values keys arrive in (an Authorization header), pure C so that unit
 * tests and fuzzers reach them without an httpd. */
#ifndef APIKEY_SOURCE_H
#define APIKEY_SOURCE_H

#include <stddef.h>

typedef enum {
    APIKEY_SOURCE_HEADER = 0, /* header:NAME, the whole value is the key */
    APIKEY_SOURCE_BEARER,     /* Authorization: Bearer <key> */
    APIKEY_SOURCE_QUERY,      /* query:NAME, a query-string parameter */
    APIKEY_SOURCE_BASIC       /* Authorization: Basic, key as password or as
                               * user with an empty password */
} apikey_source_kind_t;

typedef struct {
    apikey_source_kind_t kind;
    const char *name; /* header or parameter name, else NULL */
} apikey_source_t;

/* Most sources one AuthAPIKeySource lists. */
#define APIKEY_SOURCES_MAX 12

/* Longest header name accepted in header:NAME. */
#define APIKEY_SOURCE_NAME_MAX 128

/* Parses one AuthAPIKeySource word ("header:X-API-Key", "bearer",
 * "query:api_key", "basic"; keywords case-insensitive).  On success fills
 * *out (out->name points into word) and returns NULL; otherwise returns a
 * static English message. */
const char *apikey_source_parse(const char *word, apikey_source_t *out);

/* The source's name as written in logs and %{source}K: "header",
 * "bearer", "query" or "basic". */
const char *apikey_source_kind_str(apikey_source_kind_t kind);

/* Finds the token of an Authorization value using the Bearer scheme
 * (matched case-insensitively, RFC 6750 section 2.1).  Returns 1 and the
 * token's start and length (possibly 0: "Bearer" alone) when the scheme is
 * Bearer, 0 when it is another scheme or the value is NULL. */
int apikey_bearer_token(const char *value, const char **tok, size_t *len);

/* Finds the key of an Authorization value using the Basic scheme: the
 * password, or the user when the password is empty (Stripe's way).  Unlike
 * ap_get_basic_auth_components, which returns C strings, the credentials
 * keep their decoded length, so a NUL inside stays in the key (and fails
 * the format check) instead of cutting "KEY\0junk" down to KEY.  buf must
 * hold apikey_basic_buf_len(value) bytes; the key points into it.  Returns
 * 1 when the scheme is Basic, 0 when it is another or value is NULL. */
int apikey_basic_key(const char *value, char *buf, const char **key,
                     size_t *len);
size_t apikey_basic_buf_len(const char *value);

/* httpd joins a header sent twice into "a, b".  Given a value *v of *len
 * bytes (read no further), returns 1 with *v and *len narrowed to the key
 * when every comma-separated part holds the same key, blanks before it
 * dropped and, in the parts after the first, an optional scheme word (such
 * as "Bearer") too; -1 when the parts differ.  A value without a comma
 * comes back with only its leading blanks dropped: generated keys never
 * hold a comma. */
int apikey_header_one_value(const char **v, size_t *len, const char *scheme);

/* Finds parameter name in a query string (args, without '?'; '&' or ';'
 * separated), under any spelling apikey_param_name_is takes for it.
 * Returns 0 when absent; 1 with the first value, still
 * URL-encoded, in *val (of *len bytes) when every occurrence has the same
 * value; -1 when it occurs with different values. */
int apikey_query_param(const char *args, const char *name, const char **val,
                       size_t *len);

/* Copies args into out (at least strlen(args) + 1 bytes) without any
 * occurrence of parameter name (any spelling of it, as above), keeping the
 * other parameters and their order.  Returns the length written. */
size_t apikey_query_strip(const char *args, const char *name, char *out);

/* A header name's byte as apikey_header_name_is compares it. */
static inline unsigned char apikey_header_fold(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (unsigned char)(c - 'A' + 'a');
    }
    return c == '-' ? '_' : c;
}

/* Whether header field name a is name b as a backend may read it: ASCII case
 * ignored and '-' taken for '_', the way CGI, PHP-FPM, WSGI and Rack servers
 * fold names into HTTP_* variables. */
int apikey_header_name_is(const char *a, const char *b);

/* Whether a query parameter's name p (n bytes, still URL-encoded) is name
 * as an application may read it: percent escapes and '+' decoded (as
 * application/x-www-form-urlencoded parsing does), then read as PHP does
 * (leading blanks dropped, the name cut at a NUL, ' ' and '.' taken for
 * '_', "name[...]" an array of name, an unclosed '[' taken for '_'), with
 * ASCII case ignored and '-' taken for '_' on top. */
int apikey_param_name_is(const char *p, size_t n, const char *name);

/* What replaces a secret in a logged request line. */
#define APIKEY_REDACTED "[REDACTED]"

/* Says whether a query parameter holds a secret: its name and value, of
 * nlen and vlen bytes, not NUL-terminated. */
typedef int apikey_secret_fn(const char *name, size_t nlen, const char *val,
                             size_t vlen, void *ctx);

/* The bytes apikey_request_redact may write for line, NUL included. */
size_t apikey_request_redact_size(const char *line);

/* Copies a request line ("GET /p?a=1&k=v HTTP/1.1") into out (of
 * apikey_request_redact_size(line) bytes) with the value of every query
 * parameter that has a '=' and for which secret returns non-zero replaced
 * by APIKEY_REDACTED; every other byte as it was.  Returns the length
 * written.  Linear in the line, whatever it holds. */
size_t apikey_request_redact(const char *line, apikey_secret_fn *secret,
                             void *ctx, char *out);

/* Decodes a URL-encoded value of len bytes ('+' is a blank) into out (at
 * least len bytes).  Returns the decoded length, or -1 for a bad escape or
 * an encoded NUL (%00), which no key may hold. */
long apikey_url_decode(const char *in, size_t len, char *out);

#endif /* APIKEY_SOURCE_H */
