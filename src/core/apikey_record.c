/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The key record (see apikey_record.h). */

#include "apikey_record.h"

#include <string.h>

#include "apr_strings.h"

/* The descriptor of each column: offsetof names the record's field, so a
 * list and a record that disagree do not build. */
#define OFF_ID(n)     offsetof(apikey_record_t, n)
#define OFF_TEXT(n)   offsetof(apikey_record_t, n)
#define OFF_STATUS(n) offsetof(apikey_record_t, n)
#define OFF_OPT(n)    offsetof(apikey_record_t, n)
#define OFF_TIME(n)   offsetof(apikey_record_t, n)
#define OFF_NUM(n)    offsetof(apikey_record_t, n)
#define OFF_DIGEST(n) 0
#define OFF_CLI(n)    0
#define HAS_ID(n)     0
#define HAS_TEXT(n)   0
#define HAS_STATUS(n) 0
#define HAS_OPT(n)    0
#define HAS_TIME(n)   offsetof(apikey_record_t, has_##n)
#define HAS_NUM(n)    0
#define HAS_DIGEST(n) 0
#define HAS_CLI(n)    0
#define DESCRIBE(n, kind, added, ph)                                           \
    {#n, APIKEY_COL_##kind, OFF_##kind(n), HAS_##kind(n), added, ph},

const apikey_column_t apikey_columns[] = {APIKEY_COLUMNS(DESCRIBE)};
const int apikey_ncolumns =
    (int)(sizeof(apikey_columns) / sizeof(apikey_columns[0]));

const char *apikey_result_str(apikey_result_t result)
{
    switch (result) {
        case APIKEY_RESULT_NONE:
            return NULL;
        case APIKEY_RESULT_OK:
            return "ok";
        case APIKEY_RESULT_MISSING:
            return "missing";
        case APIKEY_RESULT_MALFORMED:
            return "malformed";
        case APIKEY_RESULT_UNKNOWN:
            return "unknown";
        case APIKEY_RESULT_EXPIRED:
            return "expired";
        case APIKEY_RESULT_NOT_YET_VALID:
            return "not_yet_valid";
        case APIKEY_RESULT_REVOKED:
            return "revoked";
        case APIKEY_RESULT_DISABLED:
            return "disabled";
        case APIKEY_RESULT_CONFLICT:
            return "conflict";
        case APIKEY_RESULT_IP_DENIED:
            return "ip_denied";
        case APIKEY_RESULT_REFERER_DENIED:
            return "referer_denied";
        case APIKEY_RESULT_METHOD_DENIED:
            return "method_denied";
        case APIKEY_RESULT_TLS_REQUIRED:
            return "tls_required";
        case APIKEY_RESULT_INSUFFICIENT_SCOPE:
            return "insufficient_scope";
        case APIKEY_RESULT_RATE_LIMITED:
            return "rate_limited";
        case APIKEY_RESULT_QUOTA_EXCEEDED:
            return "quota_exceeded";
        case APIKEY_RESULT_THROTTLED:
            return "throttled";
        case APIKEY_RESULT_ERROR:
            return "error";
    }
    return NULL;
}

static const char *copy_str(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

apikey_record_t *apikey_record_copy(apr_pool_t *p, const apikey_record_t *rec)
{
    apikey_record_t *c = apr_pmemdup(p, rec, sizeof(*rec));
    int i;

    for (i = 0; i < apikey_ncolumns; i++) {
        const apikey_column_t *col = &apikey_columns[i];

        if (col->kind <= APIKEY_COL_OPT) {
            const char **f = (const char **)((char *)c + col->off);

            *f = copy_str(p, *f);
        }
    }
    for (i = 0; i < rec->nextra; i++) {
        c->extra_env[i] = copy_str(p, rec->extra_env[i]);
        c->extra_value[i] = copy_str(p, rec->extra_value[i]);
    }
    return c;
}

/* Packing: a header of three bytes (the layout's version, the number of
 * columns packed, the number of extra columns), then for each column the
 * module keeps a byte saying whether it has a value (a NULL string, a TIME
 * with no has_ flag, a NUM of 0 have none) and, if it has, its value as a
 * NUL-terminated string (numbers in decimal), then name and value of each
 * extra column.  The header's column count makes a block of a build with
 * other columns fail to unpack, rather than unpack shifted; the version
 * stands for the rest of the layout. */
#define PACK_VERSION 4

static int kept(const apikey_column_t *col)
{
    return col->kind != APIKEY_COL_DIGEST && col->kind != APIKEY_COL_CLI;
}

/* How many columns kept() keeps, counted as the compiler builds. */
#define KEPT_ID                  1
#define KEPT_TEXT                1
#define KEPT_STATUS              1
#define KEPT_OPT                 1
#define KEPT_TIME                1
#define KEPT_NUM                 1
#define KEPT_DIGEST              0
#define KEPT_CLI                 0
#define KEPT(n, kind, added, ph) +KEPT_##kind
enum { NKEPT = 0 APIKEY_COLUMNS(KEPT) };

static int put(char *buf, size_t size, size_t *at, const char *s)
{
    size_t n = strlen(s) + 1;

    if (n > size - *at) {
        return -1;
    }
    memcpy(buf + *at, s, n);
    *at += n;
    return 0;
}

size_t apikey_record_pack(const apikey_record_t *rec, char *buf, size_t size)
{
    size_t at = 3;
    int i, ncols = 0;

    if (size < 3) {
        return 0;
    }
    for (i = 0; i < apikey_ncolumns; i++) {
        const apikey_column_t *col = &apikey_columns[i];
        const char *f = (const char *)rec + col->off;
        const char *value = NULL;
        char num[24];

        if (!kept(col)) {
            continue;
        }
        ncols++;
        if (col->kind == APIKEY_COL_TIME || col->kind == APIKEY_COL_NUM) {
            long long v = *(const long long *)f;

            if (col->kind == APIKEY_COL_TIME
                    ? *(const int *)((const char *)rec + col->has_off)
                    : v != 0) {
                apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT,
                             (apr_int64_t)v);
                value = num;
            }
        }
        else {
            value = *(const char *const *)f;
        }
        if (at >= size) {
            return 0;
        }
        buf[at++] = value != NULL;
        if (value && put(buf, size, &at, value)) {
            return 0;
        }
    }
    buf[0] = PACK_VERSION;
    buf[1] = (char)ncols;
    buf[2] = (char)rec->nextra;
    for (i = 0; i < rec->nextra; i++) {
        if (put(buf, size, &at, rec->extra_env[i])
            || put(buf, size, &at, rec->extra_value[i])) {
            return 0;
        }
    }
    return at;
}

/* The next string of a packed block, or NULL when the block is short. */
static const char *next_str(const char **p, const char *end)
{
    const char *s = *p, *nul = memchr(s, '\0', (size_t)(end - s));

    if (!nul) {
        return NULL;
    }
    *p = nul + 1;
    return s;
}

int apikey_record_unpack(apr_pool_t *pool, const char *data, size_t len,
                         apikey_record_t *rec)
{
    const char *p, *end;
    int i;

    if (len < 3 || data[0] != PACK_VERSION) {
        return -1;
    }
    p = apr_pmemdup(pool, data, len);
    end = p + len;
    rec->nextra = (unsigned char)p[2];
    if (rec->nextra > APIKEY_EXTRA_MAX) {
        return -1;
    }
    if ((unsigned char)p[1] != NKEPT) {
        return -1;
    }
    p += 3;
    for (i = 0; i < apikey_ncolumns; i++) {
        const apikey_column_t *col = &apikey_columns[i];
        char *f = (char *)rec + col->off;
        const char *value = NULL;

        if (!kept(col)) {
            continue;
        }
        if (p >= end) {
            return -1;
        }
        if (*p++ && !(value = next_str(&p, end))) {
            return -1;
        }
        switch (col->kind) {
            case APIKEY_COL_TIME:
                *(int *)((char *)rec + col->has_off) = value != NULL;
                /* fall through */
            case APIKEY_COL_NUM:
                *(long long *)f = value ? apr_atoi64(value) : 0;
                break;
            case APIKEY_COL_ID:
            case APIKEY_COL_TEXT:
            case APIKEY_COL_STATUS:
                /* Never NULL in a record the store read. */
                *(const char **)f = value ? value : "";
                break;
            default:
                *(const char **)f = value;
                break;
        }
    }
    for (i = 0; i < rec->nextra; i++) {
        if (!(rec->extra_env[i] = next_str(&p, end))
            || !(rec->extra_value[i] = next_str(&p, end))) {
            return -1;
        }
    }
    return 0;
}
