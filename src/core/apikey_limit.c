/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Limit arithmetic (see apikey_limit.h). */

#include "apikey_limit.h"
#include "apikey_time.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEC 1000000LL

/* "N/unit": N into *n (1 to max), the unit into *unit. */
static const char *split(const char *s, unsigned long long max,
                         unsigned long long *n, const char **unit)
{
    const char *p = s;
    unsigned long long v = 0;

    if (!s || *p < '1' || *p > '9') {
        return "expected a positive number, a '/' and a unit";
    }
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long long)(*p++ - '0');
        if (v > max) {
            return "the number is too large";
        }
    }
    if (*p++ != '/') {
        return "expected a '/' after the number";
    }
    *n = v;
    *unit = p;
    return NULL;
}

const char *apikey_rate_parse(const char *s, long long burst,
                              apikey_rate_t *out)
{
    unsigned long long n;
    const char *unit, *err = split(s, 1000000000ULL, &n, &unit);

    if (err) {
        return err;
    }
    if (!strcasecmp(unit, "s") || !strcasecmp(unit, "second")) {
        out->window_us = SEC;
    }
    else if (!strcasecmp(unit, "m") || !strcasecmp(unit, "minute")) {
        out->window_us = 60 * SEC;
    }
    else if (!strcasecmp(unit, "h") || !strcasecmp(unit, "hour")) {
        out->window_us = 3600 * SEC;
    }
    else {
        return "the unit of a rate is s, m or h";
    }
    if (burst < 0 || burst > 1000000000LL) {
        return "the burst is out of range";
    }
    out->rate = (long long)n;
    out->interval_us = out->window_us / (long long)n;
    if (out->interval_us < 1) {
        out->interval_us = 1;
    }
    out->burst = burst ? burst : (long long)n;
    return NULL;
}

const char *apikey_quotas_parse(const char *s, apikey_quotas_t *out)
{
    char one[64];
    const char *p = s;

    out->n = 0;
    if (!s) {
        return "no quota given";
    }
    for (;;) {
        apikey_quota_t q;
        const char *err;
        size_t len;
        unsigned i;

        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (!*p) {
            break;
        }
        len = strcspn(p, " \t,");
        if (len >= sizeof(one)) {
            return "a window is too long";
        }
        memcpy(one, p, len);
        one[len] = '\0';
        p += len;
        if ((err = apikey_quota_parse(one, &q))) {
            return err;
        }
        for (i = 0; i < out->n; i++) {
            if (out->w[i].period == q.period) {
                return "two quotas of the same period";
            }
        }
        /* Kept in the order of their periods, shortest first. */
        for (i = out->n; i > 0 && out->w[i - 1].period > q.period; i--) {
            out->w[i] = out->w[i - 1];
        }
        out->w[i] = q;
        out->n++;
    }
    return out->n ? NULL : "no quota given";
}

const char *apikey_quota_parse(const char *s, apikey_quota_t *out)
{
    unsigned long long n;
    const char *unit, *err = split(s, 4294967295ULL, &n, &unit);

    if (err) {
        return err;
    }
    if (!strcasecmp(unit, "hour")) {
        out->period = APIKEY_PERIOD_HOUR;
    }
    else if (!strcasecmp(unit, "day")) {
        out->period = APIKEY_PERIOD_DAY;
    }
    else if (!strcasecmp(unit, "month")) {
        out->period = APIKEY_PERIOD_MONTH;
    }
    else {
        return "the period of a quota is hour, day or month";
    }
    out->limit = (unsigned long)n;
    return NULL;
}

const char *apikey_bandwidth_parse(const char *s, long long *kib)
{
    static const struct {
        const char *unit;
        int shift; /* bytes = N << shift */
    } units[] = {{"B/s", 0}, {"KiB/s", 10}, {"MiB/s", 20}, {"GiB/s", 30}};
    const char *p = s;
    unsigned long long n = 0, bytes;
    size_t i;

    if (!s || *p < '1' || *p > '9') {
        return "expected a positive number and a unit: B/s, KiB/s, MiB/s or "
               "GiB/s";
    }
    while (*p >= '0' && *p <= '9') {
        /* Past the most in bytes, whatever the unit. */
        n = n * 10 + (unsigned long long)(*p++ - '0');
        if (n > (unsigned long long)APIKEY_BANDWIDTH_MAX_KIB * 1024 + 1023) {
            return "more than mod_ratelimit can apply (2097151 KiB/s, just "
                   "under 2 GiB/s)";
        }
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (!strcmp(p, units[i].unit)) {
            break;
        }
    }
    if (i == sizeof(units) / sizeof(units[0])) {
        if (*p && strchr("kKMG", *p) && !strcmp(p + 1, "B/s")) {
            return "decimal units (kB/s, MB/s, GB/s) are ambiguous: write "
                   "KiB/s (1024 B/s), MiB/s or GiB/s, or the number in B/s";
        }
        if (*p && strstr(p, "b/s") && !strstr(p, "B/s")) {
            return "b/s is bits: the units are bytes, B/s, KiB/s, MiB/s or "
                   "GiB/s";
        }
        return "the unit of a bandwidth is B/s, KiB/s, MiB/s or GiB/s, "
               "right after the number";
    }
    if (n > ((unsigned long long)APIKEY_BANDWIDTH_MAX_KIB * 1024 + 1023)
        >> units[i].shift) {
        return "more than mod_ratelimit can apply (2097151 KiB/s, just under "
               "2 GiB/s)";
    }
    bytes = n << units[i].shift;
    if (bytes < 1024) {
        return "less than 1 KiB/s, the least mod_ratelimit applies";
    }
    *kib = (long long)(bytes / 1024);
    return NULL;
}

static long long floor_div(long long a, long long b)
{
    long long q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int apikey_gcra(long long tat, long long now, const apikey_rate_t *r,
                long long *new_tat, long long *remaining, long long *retry_us,
                long long *reset_us)
{
    long long tau = r->interval_us * (r->burst - 1);
    long long allow_at;

    /* An idle key's TAT lags behind: it starts from now. */
    if (tat < now) {
        tat = now;
    }
    allow_at = tat - tau;
    if (now < allow_at) {
        *retry_us = allow_at - now;
        *remaining = 0;
        *reset_us = tat - now;
        *new_tat = tat;
        return 0;
    }
    *new_tat = tat + r->interval_us;
    /* Whole intervals of credit left, rounded down (C division rounds a
     * negative quotient up). */
    *remaining = floor_div(now + tau - *new_tat, r->interval_us) + 1;
    if (*remaining < 0) {
        *remaining = 0;
    }
    *retry_us = 0;
    *reset_us = *new_tat - now;
    return 1;
}

/* Seconds, and civil date, of a time in microseconds. */
static long long secs(long long now)
{
    return now >= 0 ? now / SEC : -((-now + SEC - 1) / SEC);
}

/* The month of a day since the epoch: its index since January 1970, its
 * first day and the first day of the next.  Every request with a monthly
 * quota asks for the same month, so the last answer is remembered in one
 * word (first day, length, index) that threads read and replace whole (an
 * empty word has length 0 and holds no day); days before 1970 or past the
 * word's range are worked out each time. */
typedef struct month_t {
    long long index, first, next;
} month_t;

static uint64_t month_memo;

static void month_of(long long days, month_t *out)
{
    uint64_t w = __atomic_load_n(&month_memo, __ATOMIC_RELAXED);
    long long first = (long long)(w >> 40), len = (long long)((w >> 32) & 0xff);
    long long y;
    unsigned m, d;

    if (days >= first && days < first + len) {
        out->index = (long long)(w & 0xffffffffUL);
        out->first = first;
        out->next = first + len;
        return;
    }
    apikey_civil_from_days(days, &y, &m, &d);
    out->index = (y - 1970) * 12 + (long long)(m - 1);
    out->first = days - (long long)(d - 1);
    out->next = m == 12 ? apikey_days_from_civil(y + 1, 1, 1)
                        : apikey_days_from_civil(y, m + 1, 1);
    if (out->index >= 0 && out->index <= 0xffffffffLL
        && out->first < (1LL << 24)) {
        __atomic_store_n(&month_memo,
                         ((uint64_t)out->first << 40)
                             | ((uint64_t)(out->next - out->first) << 32)
                             | (uint64_t)out->index,
                         __ATOMIC_RELAXED);
    }
}

unsigned long apikey_period_index(apikey_period_t p, long long now)
{
    long long t = secs(now),
              days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    month_t month;

    switch (p) {
        case APIKEY_PERIOD_HOUR:
            return (unsigned long)(t / 3600);
        case APIKEY_PERIOD_DAY:
            return (unsigned long)days;
        case APIKEY_PERIOD_MONTH:
            month_of(days, &month);
            return (unsigned long)month.index;
    }
    return 0;
}

long long apikey_period_end(apikey_period_t p, long long now)
{
    long long t = secs(now), days = t / 86400;
    month_t month;

    switch (p) {
        case APIKEY_PERIOD_HOUR:
            return (t / 3600 + 1) * 3600 * SEC;
        case APIKEY_PERIOD_DAY:
            return (days + 1) * 86400 * SEC;
        case APIKEY_PERIOD_MONTH:
            month_of(days, &month);
            return month.next * 86400 * SEC;
    }
    return now;
}

const char *apikey_period_name(apikey_period_t p)
{
    return p == APIKEY_PERIOD_HOUR  ? "hour"
           : p == APIKEY_PERIOD_DAY ? "day"
                                    : "month";
}

long long apikey_period_seconds(apikey_period_t p)
{
    return p == APIKEY_PERIOD_HOUR  ? 3600
           : p == APIKEY_PERIOD_DAY ? 86400
                                    : 30 * 86400;
}

int apikey_quota_take(uint64_t word, unsigned long period, unsigned long limit,
                      uint64_t *new_word)
{
    unsigned long stored = APIKEY_QUOTA_PERIOD(word);
    unsigned long count = APIKEY_QUOTA_COUNT(word);

    if (period > stored) {
        stored = period;
        count = 0;
    }
    if (count >= limit) {
        return 0;
    }
    *new_word = APIKEY_QUOTA_WORD(stored, count + 1);
    return 1;
}

int apikey_quota_give_back(uint64_t word, unsigned long period,
                           uint64_t *new_word)
{
    unsigned long stored = APIKEY_QUOTA_PERIOD(word);
    unsigned long count = APIKEY_QUOTA_COUNT(word);

    /* Only into the period it was taken from: a new period's count is not
     * ours to lower. */
    if (stored != period || count == 0) {
        return 0;
    }
    *new_word = APIKEY_QUOTA_WORD(stored, count - 1);
    return 1;
}

unsigned long apikey_quota_used(uint64_t word, unsigned long period)
{
    return APIKEY_QUOTA_PERIOD(word) < period ? 0 : APIKEY_QUOTA_COUNT(word);
}
