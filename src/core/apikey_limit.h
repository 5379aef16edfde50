/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Limit arithmetic, pure C: rate limits by GCRA (one theoretical arrival
 * time per key), calendar quotas per UTC hour, day or month (one word of
 * period and count per key), and the parsing of "20/s", "100000/month"
 * and of a bandwidth for mod_ratelimit, "512KiB/s".  Times are
 * microseconds since the Unix epoch. */
#ifndef APIKEY_LIMIT_H
#define APIKEY_LIMIT_H

#include <stdint.h>

typedef enum {
    APIKEY_PERIOD_HOUR = 1,
    APIKEY_PERIOD_DAY,
    APIKEY_PERIOD_MONTH
} apikey_period_t;

/* A rate limit: one request per interval, bursts of up to burst. */
typedef struct {
    long long interval_us; /* 0: no rate limit */
    long long burst;
    long long rate;      /* the N of N per unit, for headers */
    long long window_us; /* the unit: 1 s, 1 min or 1 h */
} apikey_rate_t;

/* A calendar quota: limit requests per period. */
typedef struct {
    unsigned long limit; /* 0: no quota */
    apikey_period_t period;
} apikey_quota_t;

/* Parses "N/s", "N/m" or "N/h" (also second, minute, hour) with N from 1
 * to 1000000000; burst 0 means "N".  Returns NULL or an English message. */
const char *apikey_rate_parse(const char *s, long long burst,
                              apikey_rate_t *out);

/* Parses "N/hour", "N/day" or "N/month" with N from 1 to 4294967295.
 * Returns NULL or an English message. */
const char *apikey_quota_parse(const char *s, apikey_quota_t *out);

/* Several calendar quotas at once ("1000/hour 20000/day"), at most one
 * of each period, in the order hour, day, month; n 0: none. */
#define APIKEY_QUOTAS_MAX 3
typedef struct {
    unsigned n;
    apikey_quota_t w[APIKEY_QUOTAS_MAX];
} apikey_quotas_t;

/* Parses one quota or several, separated by commas and/or blanks (a key
 * record's "1000/hour,20000/day", a directive's words joined).  Returns
 * NULL or an English message naming the window at fault. */
const char *apikey_quotas_parse(const char *s, apikey_quotas_t *out);

/* The most mod_ratelimit applies: it multiplies its rate-limit (KiB/s)
 * by 1024 in an int, and takes a product that is not positive (0, or one
 * that overflowed) as no limit at all. */
#define APIKEY_BANDWIDTH_MAX_KIB 2097151LL

/* Parses a key's bandwidth, "N" and a unit without a blank between: B/s,
 * KiB/s (1024 B/s), MiB/s or GiB/s, N a decimal number without leading
 * zeros.  *kib gets the whole KiB/s of mod_ratelimit's rate-limit, rounded
 * down (a key never gets more than its bandwidth), 1 to
 * APIKEY_BANDWIDTH_MAX_KIB: less than 1 KiB/s, which mod_ratelimit would
 * take as no limit, is refused, and so are kB/s and the other decimal
 * units (whose k is 1000).  Returns NULL or an English message. */
const char *apikey_bandwidth_parse(const char *s, long long *kib);

/* GCRA.  Given the stored theoretical arrival time tat, admits a request
 * at now (returns 1 with the new TAT) or refuses it (returns 0, with the
 * wait in *retry_us).  *remaining gets the requests left in the burst
 * afterwards, *reset_us the time until the burst is whole again. */
int apikey_gcra(long long tat, long long now, const apikey_rate_t *r,
                long long *new_tat, long long *remaining, long long *retry_us,
                long long *reset_us);

/* The index of the period holding now (hours, days or months since
 * 1970), and the start of the next period, in microseconds. */
unsigned long apikey_period_index(apikey_period_t p, long long now);
long long apikey_period_end(apikey_period_t p, long long now);

/* The period's name ("hour", "day", "month") and length in seconds as the
 * RateLimit headers give it (a month as 30 days: the headers want one
 * number; the reset time is exact). */
const char *apikey_period_name(apikey_period_t p);
long long apikey_period_seconds(apikey_period_t p);

/* Quota words: period index in the high 32 bits, count in the low 32.  One
 * word, changed by one compare-and-swap, is never torn. */
#define APIKEY_QUOTA_WORD(period, count)                                       \
    (((uint64_t)(period) << 32) | (uint64_t)(count))
#define APIKEY_QUOTA_PERIOD(w) ((unsigned long)((w) >> 32))
#define APIKEY_QUOTA_COUNT(w)  ((unsigned long)((w)&0xffffffffU))

/* Takes one request from a quota word in period: returns 1 and the new
 * word, or 0 when the quota is spent.  A new period starts at zero; a
 * period before the stored one (the clock went back) counts as the stored
 * one, so a quota is never granted twice. */
int apikey_quota_take(uint64_t word, unsigned long period, unsigned long limit,
                      uint64_t *new_word);

/* Gives one request back (a rate limit refused what the quota took),
 * when word is still of exactly that period.  Returns 1 and the new word,
 * or 0. */
int apikey_quota_give_back(uint64_t word, unsigned long period,
                           uint64_t *new_word);

/* Requests used in period according to word. */
unsigned long apikey_quota_used(uint64_t word, unsigned long period);

#endif /* APIKEY_LIMIT_H */
