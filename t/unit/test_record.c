/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the key record's packing (apikey_record.c), the block the
 * look-up cache keeps for a key: every field of a record comes back as it
 * went in, NULL and "" and 0 included; a block too big for its buffer, cut
 * short anywhere, or of another layout is refused, never half read; and
 * the column list, the record and the copy agree. */

#include "apikey_record.h"
#include "tap.h"

#include <string.h>

#include "apr_general.h"
#include "apr_strings.h"

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field the packing keeps, compared one by one through the column
 * list (so a column added to the list is compared too). */
static int same_record(const apikey_record_t *a, const apikey_record_t *b,
                       const char **which)
{
    int i;

    for (i = 0; i < apikey_ncolumns; i++) {
        const apikey_column_t *col = &apikey_columns[i];
        const char *fa = (const char *)a + col->off;
        const char *fb = (const char *)b + col->off;

        *which = col->name;
        switch (col->kind) {
            case APIKEY_COL_DIGEST:
            case APIKEY_COL_CLI:
                break;
            case APIKEY_COL_TIME:
                if (*(const int *)((const char *)a + col->has_off)
                    != *(const int *)((const char *)b + col->has_off)) {
                    return 0;
                }
                /* fall through */
            case APIKEY_COL_NUM:
                if (*(const long long *)fa != *(const long long *)fb) {
                    return 0;
                }
                break;
            default:
                if (!same_str(*(const char *const *)fa,
                              *(const char *const *)fb)) {
                    return 0;
                }
        }
    }
    *which = "extra columns";
    if (a->nextra != b->nextra) {
        return 0;
    }
    for (i = 0; i < a->nextra; i++) {
        if (!same_str(a->extra_env[i], b->extra_env[i])
            || !same_str(a->extra_value[i], b->extra_value[i])) {
            return 0;
        }
    }
    return 1;
}

static void full_record(apikey_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->id = "k-42";
    rec->owner = "tenant-a";
    rec->scopes = "read write";
    rec->status = "active";
    rec->has_expires = 1;
    rec->expires = 4102444800LL; /* 2100-01-01 */
    rec->has_not_before = 1;
    rec->not_before = -86400; /* before 1970 */
    rec->allow_ip = "10.0.0.0/8,::1";
    rec->allow_referer = "https://example.org/*";
    rec->allow_method = "GET,HEAD";
    rec->has_grace_until = 1;
    rec->grace_until = 0; /* has_ set, value 0: kept apart from none */
    rec->replaced_by = "k-43";
    rec->rate = "20/s";
    rec->burst = 40;
    rec->quota = "100000/month";
    rec->nextra = 2;
    rec->extra_env[0] = "APIKEY_PLAN";
    rec->extra_value[0] = "gold";
    rec->extra_env[1] = "APIKEY_EMPTY";
    rec->extra_value[1] = "";
}

int main(void)
{
    apr_pool_t *p;
    apikey_record_t in, out;
    char buf[4096];
    const char *which = "";
    size_t len, cut;
    int i, refused, same;

    apr_initialize();
    apr_pool_create(&p, NULL);

    /* A record with every field set. */
    full_record(&in);
    len = apikey_record_pack(&in, buf, sizeof(buf));
    ok(len > 3, "a full record packs (%lu bytes)", (unsigned long)len);
    memset(&out, 0xa5, sizeof(out));
    is_int(apikey_record_unpack(p, buf, len, &out), 0, "and unpacks");
    same = same_record(&in, &out, &which);
    ok(same, "every field comes back%s%s", same ? "" : ": not ",
       same ? "" : which);
    ok(out.id != in.id && out.quota != in.quota,
       "the strings are copies, not the caller's");

    /* A record with nothing optional: NULL, no has_ flags, 0. */
    memset(&in, 0, sizeof(in));
    in.id = "k-1";
    in.owner = "";
    in.scopes = "";
    in.status = "active";
    len = apikey_record_pack(&in, buf, sizeof(buf));
    memset(&out, 0xa5, sizeof(out));
    is_int(apikey_record_unpack(p, buf, len, &out), 0, "a bare record unpacks");
    same = same_record(&in, &out, &which);
    ok(same, "NULL, absent and 0 come back%s%s", same ? "" : ": not ",
       same ? "" : which);
    ok(out.allow_ip == NULL && out.rate == NULL && !out.has_expires
           && out.burst == 0,
       "an absent restriction is NULL, not \"\"");

    /* The buffer's size is respected, to the byte. */
    full_record(&in);
    len = apikey_record_pack(&in, buf, sizeof(buf));
    is_int((long long)apikey_record_pack(&in, buf, len), (long long)len,
           "a buffer of exactly its size is enough");
    refused = 1;
    for (cut = 0; cut < len; cut++) {
        char small[4096];

        memset(small, 'x', sizeof(small));
        if (apikey_record_pack(&in, small, cut) != 0 || small[cut] != 'x') {
            refused = 0;
            diag("packed into %lu bytes, or wrote past them",
                 (unsigned long)cut);
            break;
        }
    }
    ok(refused, "every smaller buffer is refused, and never overrun");

    /* A block cut short anywhere is refused. */
    len = apikey_record_pack(&in, buf, sizeof(buf));
    refused = 1;
    for (cut = 0; cut < len; cut++) {
        if (apikey_record_unpack(p, buf, cut, &out) == 0) {
            refused = 0;
            diag("a block cut at %lu of %lu bytes unpacked", (unsigned long)cut,
                 (unsigned long)len);
            break;
        }
    }
    ok(refused, "a block cut short at any byte is refused");

    /* Another layout: another version, another number of columns, more
     * extra columns than a record holds. */
    buf[0]++;
    ok(apikey_record_unpack(p, buf, len, &out) != 0,
       "a block of another version is refused");
    buf[0]--;
    buf[1]++;
    ok(apikey_record_unpack(p, buf, len, &out) != 0,
       "a block of another column list is refused");
    buf[1]--;
    buf[2] = APIKEY_EXTRA_MAX + 1;
    ok(apikey_record_unpack(p, buf, len, &out) != 0,
       "a block with too many extra columns is refused");

    /* The copy copies every string the list names. */
    full_record(&in);
    {
        apikey_record_t *c = apikey_record_copy(p, &in);

        same = same_record(&in, c, &which);
        ok(same, "a copy is equal%s%s", same ? "" : ": not ",
           same ? "" : which);
        ok(c->owner != in.owner && c->quota != in.quota
               && c->extra_value[1] != in.extra_value[1],
           "and holds its own strings");
    }

    /* The list itself: names unique, the id first. */
    refused = 0;
    for (i = 0; i < apikey_ncolumns; i++) {
        int j;

        for (j = i + 1; j < apikey_ncolumns; j++) {
            refused |=
                strcmp(apikey_columns[i].name, apikey_columns[j].name) == 0;
        }
    }
    ok(!refused, "the column names are unique");
    is_str(apikey_columns[0].name, "id", "the id is the first column");

    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
