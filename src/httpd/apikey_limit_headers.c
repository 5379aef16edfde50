/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The RateLimit headers (see apikey_limit_headers.h). */

#include "apikey_limit_headers.h"
#include "apikey_config.h"
#include "apikey_limit.h"
#include "apikey_limits.h"

#include <string.h>

#include "apr_strings.h"

/* The longest header text: four items (the rate and three quota windows)
 * of a budget name of at most 32 characters (AuthAPIKeyLimitName), a
 * window name and two 20-digit numbers each, is under 500 bytes. */
#define TEXT_MAX 1024

typedef struct {
    char b[TEXT_MAX];
    size_t n;
    int over; /* never, by TEXT_MAX: then the header is left out */
} text_t;

static void put(text_t *t, const char *s, size_t len)
{
    if (t->over || len > sizeof(t->b) - t->n) {
        t->over = 1;
        return;
    }
    memcpy(t->b + t->n, s, len);
    t->n += len;
}

static void put_s(text_t *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_n(text_t *t, long long v)
{
    char d[24];
    size_t i = sizeof(d);
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        d[--i] = '-';
    }
    put(t, d + i, sizeof(d) - i);
}

static const char *text_of(apr_pool_t *p, const text_t *t)
{
    return t->over ? NULL : apr_pstrmemdup(p, t->b, t->n);
}

const char *apikey_header_num(apr_pool_t *p, long long v)
{
    text_t t;

    t.n = 0;
    t.over = 0;
    put_n(&t, v);
    return text_of(p, &t);
}

long long apikey_up_to_sec(long long us)
{
    return us <= 0 ? 0 : (us + 999999) / 1000000;
}

/* One item's start: a separator after the first, the policy's name in
 * quotes ("rate", "quota", "quota-hour"..., after "NAME." for an
 * AuthAPIKeyLimitName, whose characters are all a header may carry). */
static void item(text_t *t, const char *budget, const char *name,
                 const char *window)
{
    if (t->n) {
        put(t, ", ", 2);
    }
    put(t, "\"", 1);
    if (budget) {
        put_s(t, budget);
        put(t, ".", 1);
    }
    put_s(t, name);
    if (window) {
        put(t, "-", 1);
        put_s(t, window);
    }
    put(t, "\"", 1);
}

/* The policy's and the state's parameters of one item. */
static void pair(text_t *t, const char *a, long long x, const char *b,
                 long long y)
{
    put(t, a, 3);
    put_n(t, x);
    put(t, b, 3);
    put_n(t, y);
}

void apikey_limit_headers(request_rec *r, int how, const char *budget,
                          const apikey_request_t *rq)
{
    apr_pool_t *p = r->pool;
    text_t policy, state;
    long long limit, remaining, reset;
    unsigned i;

    policy.n = state.n = 0;
    policy.over = state.over = 0;
    if (rq->rate.interval_us) {
        item(&policy, budget, "rate", NULL);
        pair(&policy, ";q=", rq->rate.burst,
             ";w=", apikey_up_to_sec(rq->rate.interval_us * rq->rate.burst));
        item(&state, budget, "rate", NULL);
        pair(&state, ";r=", rq->charge.rate_remaining,
             ";t=", apikey_up_to_sec(rq->charge.rate_reset_us));
    }
    for (i = 0; i < rq->quota.n; i++) {
        const apikey_quota_t *q = &rq->quota.w[i];
        const char *window =
            rq->quota.n == 1 ? NULL : apikey_period_name(q->period);

        item(&policy, budget, "quota", window);
        pair(&policy, ";q=", (long long)q->limit,
             ";w=", apikey_period_seconds(q->period));
        item(&state, budget, "quota", window);
        pair(&state, ";r=", (long long)rq->window[i].remaining,
             ";t=", apikey_up_to_sec(rq->window[i].reset_us));
    }
    if (!policy.n) {
        return;
    }
    if (how & APIKEY_HEADERS_DRAFT) {
        const char *pv = text_of(p, &policy), *sv = text_of(p, &state);

        if (pv && sv) {
            apr_table_setn(r->err_headers_out, "RateLimit-Policy", pv);
            apr_table_setn(r->err_headers_out, "RateLimit", sv);
        }
    }
    if ((how & APIKEY_HEADERS_LEGACY)
        && apikey_limits_bound(rq, &limit, &remaining, &reset)) {
        apr_table_setn(r->err_headers_out, "RateLimit-Limit",
                       apikey_header_num(p, limit));
        apr_table_setn(r->err_headers_out, "RateLimit-Remaining",
                       apikey_header_num(p, remaining));
        apr_table_setn(r->err_headers_out, "RateLimit-Reset",
                       apikey_header_num(p, apikey_up_to_sec(reset)));
    }
}
