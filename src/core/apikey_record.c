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
        case APIKEY_RESULT_ANONYMOUS:
            return "anonymous";
        case APIKEY_RESULT_ERROR:
            return "error";
        case APIKEY_RESULT_APP_DENIED:
            return "app_denied";
        case APIKEY_RESULT_CERT_DENIED:
            return "cert_denied";
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

/* Packing: a fixed layout that the look-up cache's readers take in place.
 * A header of six bytes (the layout's version, the number of columns
 * packed, the number of extra columns, 0, the block's length in two
 * bytes), then a two-byte offset for each
 * column the module keeps and two for each extra column (its name and its
 * value), then the values: strings NUL-terminated, numbers as eight bytes.
 * Offset 0 means none (a NULL string, a TIME with no has_ flag, a NUM of
 * 0).  The block ends with a NUL, so every string in it is terminated
 * inside it.  The header's column count makes a block of a build with
 * other columns fail to unpack, rather than unpack shifted; the version
 * stands for the rest of the layout. */
#define PACK_VERSION 7
#define PACK_HEADER  6

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

/* Appends n bytes of v at *at, and writes its offset into *off. */
static int put(char *buf, size_t size, size_t *at, unsigned char *off,
               const void *v, size_t n)
{
    if (n > size - *at || *at > 0xffff) {
        return -1;
    }
    memcpy(buf + *at, v, n);
    off[0] = (unsigned char)(*at & 0xff);
    off[1] = (unsigned char)(*at >> 8);
    *at += n;
    return 0;
}

static int put_str(char *buf, size_t size, size_t *at, unsigned char *off,
                   const char *s)
{
    return put(buf, size, at, off, s, strlen(s) + 1);
}

size_t apikey_record_pack(const apikey_record_t *rec, char *buf, size_t size)
{
    size_t at = PACK_HEADER + 2 * (NKEPT + 2 * (size_t)rec->nextra);
    unsigned char *off = (unsigned char *)buf + PACK_HEADER;
    int i;

    if (size < at + 1 || rec->nextra > APIKEY_EXTRA_MAX) {
        return 0;
    }
    memset(buf, 0, at);
    for (i = 0; i < apikey_ncolumns; i++) {
        const apikey_column_t *col = &apikey_columns[i];
        const char *f = (const char *)rec + col->off;
        int rc = 0;

        if (!kept(col)) {
            continue;
        }
        if (col->kind == APIKEY_COL_TIME || col->kind == APIKEY_COL_NUM) {
            long long v = *(const long long *)f;

            if (col->kind == APIKEY_COL_TIME
                    ? *(const int *)((const char *)rec + col->has_off)
                    : v != 0) {
                rc = put(buf, size, &at, off, &v, sizeof(v));
            }
        }
        else if (*(const char *const *)f) {
            rc = put_str(buf, size, &at, off, *(const char *const *)f);
        }
        if (rc) {
            return 0;
        }
        off += 2;
    }
    for (i = 0; i < rec->nextra; i++, off += 4) {
        if (put_str(buf, size, &at, off, rec->extra_env[i])
            || put_str(buf, size, &at, off + 2, rec->extra_value[i])) {
            return 0;
        }
    }
    if (at >= size || at >= 0xffff) {
        return 0;
    }
    buf[at++] = '\0';
    buf[0] = PACK_VERSION;
    buf[1] = (char)NKEPT;
    buf[2] = (char)rec->nextra;
    buf[4] = (char)(at & 0xff);
    buf[5] = (char)(at >> 8);
    return at;
}

/* Where an offset points in a block of len bytes, or NULL for none (0) or
 * one that points outside the values. */
static const char *at_off(const char *p, const unsigned char *off, size_t first,
                          size_t len, size_t need)
{
    size_t o = (size_t)off[0] | (size_t)off[1] << 8;

    return o >= first && o + need <= len ? p + o : NULL;
}

/* Each column read by the list, unrolled: no loop over the columns, no
 * switch on their kinds (an unpack is on every cached request).  ID, TEXT
 * and STATUS are never NULL in a record the store read. */
#define UNPACK_STRING(n, none)                                                 \
    do {                                                                       \
        const char *v_ = at_off(p, off, first, len, 1);                        \
        if (!v_ && (off[0] | off[1])) {                                        \
            return -1;                                                         \
        }                                                                      \
        rec->n = v_ ? v_ : none;                                               \
        off += 2;                                                              \
    } while (0);
#define UNPACK_NUMBER(n)                                                       \
    do {                                                                       \
        const char *v_ = at_off(p, off, first, len, sizeof(long long));        \
        rec->n = 0;                                                            \
        if (v_) {                                                              \
            memcpy(&rec->n, v_, sizeof(long long));                            \
        }                                                                      \
        off += 2;                                                              \
    } while (0);
#define UNPACK_ID(n)     UNPACK_STRING(n, "")
#define UNPACK_TEXT(n)   UNPACK_STRING(n, "")
#define UNPACK_STATUS(n) UNPACK_STRING(n, "")
#define UNPACK_OPT(n)    UNPACK_STRING(n, NULL)
#define UNPACK_TIME(n)                                                         \
    rec->has_##n = at_off(p, off, first, len, sizeof(long long)) != NULL;      \
    UNPACK_NUMBER(n)
#define UNPACK_NUM(n) UNPACK_NUMBER(n)
#define UNPACK_DIGEST(n)
#define UNPACK_CLI(n)
#define UNPACK(n, kind, added, ph) UNPACK_##kind(n)

int apikey_record_unpack(apr_pool_t *pool, const char *data, size_t len,
                         apikey_record_t *rec)
{
    const unsigned char *off;
    size_t first;
    char *p;
    int i;

    if (len < PACK_HEADER || data[0] != PACK_VERSION
        || (unsigned char)data[1] != NKEPT
        || (unsigned char)data[2] > APIKEY_EXTRA_MAX) {
        return -1;
    }
    rec->nextra = (unsigned char)data[2];
    first = PACK_HEADER + 2 * (NKEPT + 2 * (size_t)rec->nextra);
    if (len <= first || data[len - 1] != '\0'
        || ((size_t)(unsigned char)data[4]
            | (size_t)(unsigned char)data[5] << 8)
               != len) {
        return -1;
    }
    p = apr_palloc(pool, len);
    memcpy(p, data, len);
    off = (const unsigned char *)p + PACK_HEADER;
    APIKEY_COLUMNS(UNPACK)
    for (i = 0; i < rec->nextra; i++, off += 4) {
        if (!(rec->extra_env[i] = at_off(p, off, first, len, 1))
            || !(rec->extra_value[i] = at_off(p, off + 2, first, len, 1))) {
            return -1;
        }
    }
    return 0;
}
