/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the limit arithmetic in apikey_limit.c: rate, quota and
 * bandwidth parsing, GCRA against a token-bucket reference model, the UTC
 * calendar periods against gmtime_r and timegm, and the quota words. */

/* timegm is neither C99 nor POSIX. */
#define _DEFAULT_SOURCE

#include "apikey_limit.h"
#include "tap.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEC 1000000LL

/* Requests per rate in the comparison with the model. */
#define MODEL_REQUESTS 6000

/* splitmix64's finaliser, for reproducible random inputs. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t *state)
{
    *state = mix64(*state);
    return *state;
}

/* Parsing */

typedef struct {
    const char *s;
    long long burst_in;
    long long interval_us, burst, rate, window_us;
} rate_case_t;

static void test_rate_parse(void)
{
    static const rate_case_t good[] = {
        {"20/s", 0, 50000, 20, 20, SEC},
        {"20/second", 0, 50000, 20, 20, SEC},
        {"20/S", 0, 50000, 20, 20, SEC},
        {"20/SECOND", 0, 50000, 20, 20, SEC},
        {"20/Second", 0, 50000, 20, 20, SEC},
        {"1/s", 0, SEC, 1, 1, SEC},
        {"3/s", 0, 333333, 3, 3, SEC},
        {"1/m", 0, 60 * SEC, 1, 1, 60 * SEC},
        {"30/minute", 0, 2 * SEC, 30, 30, 60 * SEC},
        {"7/M", 0, 8571428, 7, 7, 60 * SEC},
        {"1/h", 0, 3600 * SEC, 1, 1, 3600 * SEC},
        {"3600/hour", 0, SEC, 3600, 3600, 3600 * SEC},
        {"100/HOUR", 0, 36 * SEC, 100, 100, 3600 * SEC},
        {"10/s", 1, 100000, 1, 10, SEC},
        {"10/s", 25, 100000, 25, 10, SEC},
        {"10/s", 1000000000, 100000, 1000000000, 10, SEC},
        {"1000000/s", 0, 1, 1000000, 1000000, SEC},
        /* Faster than one per microsecond: the interval stays 1. */
        {"2000000/s", 0, 1, 2000000, 2000000, SEC},
        {"1000000000/s", 0, 1, 1000000000, 1000000000, SEC},
        {"1000000000/h", 0, 3, 1000000000, 1000000000, 3600 * SEC},
    };
    static const struct {
        const char *s;
        long long burst;
    } bad[] = {
        {"", 0},
        {"/s", 0},
        {"0/s", 0},
        {"00/s", 0},
        {"020/s", 0},
        {"-1/s", 0},
        {"+1/s", 0},
        {" 20/s", 0},
        {"20 /s", 0},
        {"20/ s", 0},
        {"20/s ", 0},
        {"20", 0},
        {"20s", 0},
        {"20/", 0},
        {"20/x", 0},
        {"20/ms", 0},
        {"20/sec", 0},
        {"20/seconds", 0},
        {"20/d", 0},
        {"20/day", 0},
        {"20/s/s", 0},
        {"2.5/s", 0},
        {"0x10/s", 0},
        {"1000000001/s", 0},
        {"4294967297/s", 0},
        {"18446744073709551617/s", 0},
        {"99999999999999999999999999999/s", 0},
        {"20/s", -1},
        {"20/s", 1000000001},
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        apikey_rate_t r;
        const char *err;

        memset(&r, 0xa5, sizeof(r));
        err = apikey_rate_parse(good[i].s, good[i].burst_in, &r);
        ok(err == NULL && r.interval_us == good[i].interval_us
               && r.burst == good[i].burst && r.rate == good[i].rate
               && r.window_us == good[i].window_us,
           "rate '%s' burst %lld: interval %lld, burst %lld, rate %lld, "
           "window %lld",
           good[i].s, good[i].burst_in, good[i].interval_us, good[i].burst,
           good[i].rate, good[i].window_us);
        if (err) {
            diag("error: %s", err);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apikey_rate_t r;
        const char *err = apikey_rate_parse(bad[i].s, bad[i].burst, &r);

        ok(err != NULL && *err, "rate '%s' burst %lld is refused (%s)",
           bad[i].s, bad[i].burst, err ? err : "accepted");
    }
    {
        apikey_rate_t r;
        const char *err = apikey_rate_parse(NULL, 0, &r);

        ok(err != NULL, "a NULL rate is refused");
    }
}

static void test_quota_parse(void)
{
    static const struct {
        const char *s;
        unsigned long limit;
        apikey_period_t period;
    } good[] = {
        {"100000/month", 100000, APIKEY_PERIOD_MONTH},
        {"1/hour", 1, APIKEY_PERIOD_HOUR},
        {"5/day", 5, APIKEY_PERIOD_DAY},
        {"5/DAY", 5, APIKEY_PERIOD_DAY},
        {"5/Month", 5, APIKEY_PERIOD_MONTH},
        {"7/HoUr", 7, APIKEY_PERIOD_HOUR},
        {"4294967295/day", 4294967295UL, APIKEY_PERIOD_DAY},
    };
    static const char *const bad[] = {
        "",
        "/day",
        "0/day",
        "00/day",
        "05/day",
        "-5/day",
        "+5/day",
        "5",
        "5/",
        "5/d",
        "5/h",
        "5/m",
        "5/s",
        "5/week",
        "5/year",
        "5/days",
        "5/months",
        " 5/day",
        "5 /day",
        "5/ day",
        "5/day ",
        "5/day/day",
        "1.5/day",
        "4294967296/day",
        "99999999999999999999/day",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        apikey_quota_t q;
        const char *err;

        memset(&q, 0xa5, sizeof(q));
        err = apikey_quota_parse(good[i].s, &q);
        ok(err == NULL && q.limit == good[i].limit
               && q.period == good[i].period,
           "quota '%s': %lu per %s", good[i].s, good[i].limit,
           apikey_period_name(good[i].period));
        if (err) {
            diag("error: %s", err);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apikey_quota_t q;
        const char *err = apikey_quota_parse(bad[i], &q);

        ok(err != NULL && *err, "quota '%s' is refused (%s)", bad[i],
           err ? err : "accepted");
    }
    {
        apikey_quota_t q;

        ok(apikey_quota_parse(NULL, &q) != NULL, "a NULL quota is refused");
    }
}

/* GCRA */

typedef struct {
    long long tat;
    int admitted;
    long long remaining, retry, reset;
} gcra_out_t;

static gcra_out_t gcra(long long tat, long long now, const apikey_rate_t *r)
{
    gcra_out_t o;

    o.tat = o.remaining = o.retry = o.reset = -12345;
    o.admitted =
        apikey_gcra(tat, now, r, &o.tat, &o.remaining, &o.retry, &o.reset);
    return o;
}

/* A bandwidth: whole KiB/s, rounded down, never 0 (mod_ratelimit's "no
 * limit"), never past what mod_ratelimit's int arithmetic holds. */
/* Several windows: each as one quota is read, at most one a period, kept
 * in the order hour, day, month. */
static void test_quotas_parse(void)
{
    apikey_quotas_t q;

    ok(apikey_quotas_parse("1000/hour", &q) == NULL && q.n == 1
           && q.w[0].limit == 1000 && q.w[0].period == APIKEY_PERIOD_HOUR,
       "one window");
    ok(apikey_quotas_parse("500000/month 1000/hour,20000/day", &q) == NULL
           && q.n == 3 && q.w[0].period == APIKEY_PERIOD_HOUR
           && q.w[1].period == APIKEY_PERIOD_DAY && q.w[1].limit == 20000
           && q.w[2].period == APIKEY_PERIOD_MONTH && q.w[2].limit == 500000,
       "three windows, blanks and commas, put in order of their periods");
    ok(apikey_quotas_parse(" ,1/day, ", &q) == NULL && q.n == 1,
       "stray separators are skipped");
    ok(apikey_quotas_parse("1/day,2/day", &q) != NULL,
       "two windows of one period are refused");
    ok(apikey_quotas_parse("1/day,2/week", &q) != NULL && q.n == 1,
       "a bad window is refused");
    ok(apikey_quotas_parse("", &q) != NULL && apikey_quotas_parse(NULL, &q),
       "none at all is refused");
    ok(apikey_quotas_parse("1/hour 1/day 1/month 1/hour", &q) != NULL,
       "a fourth window is refused (a period twice)");
}

static void test_bandwidth_parse(void)
{
    static const struct {
        const char *s;
        long long kib;
    } good[] = {
        {"1KiB/s", 1},
        {"16KiB/s", 16},
        {"512KiB/s", 512},
        {"1024B/s", 1},
        /* Rounded down: never more than the key's bandwidth. */
        {"1025B/s", 1},
        {"2047B/s", 1},
        {"2048B/s", 2},
        {"1500000B/s", 1464},
        {"1MiB/s", 1024},
        {"3MiB/s", 3072},
        {"2047MiB/s", 2096128},
        {"1GiB/s", 1048576},
        {"2097151KiB/s", 2097151},
        {"2147483647B/s", 2097151},
    };
    static const char *const bad[] = {
        "",
        "0",
        "0KiB/s",
        "00KiB/s",
        "016KiB/s",
        "-16KiB/s",
        "+16KiB/s",
        " 16KiB/s",
        "16 KiB/s",
        "16KiB/s ",
        "16",
        "16K",
        "16KiB",
        "16KiB/",
        "16kib/s",
        "16KIB/S",
        "16Kib/s",
        "16kb/s",
        "16kB/s",
        "16KB/s",
        "16MB/s",
        "16GB/s",
        "16b/s",
        "16TiB/s",
        "16KiB/m",
        "1.5KiB/s",
        "0x10KiB/s",
        "16KiB/s/s",
        "none",
        /* Under 1 KiB/s: mod_ratelimit would not limit at all. */
        "1B/s",
        "1023B/s",
        /* Past mod_ratelimit's int: an overflow it takes as no limit. */
        "2097152KiB/s",
        "2048MiB/s",
        "2GiB/s",
        "2147483648B/s",
        "18446744073709551617B/s",
        "99999999999999999999999999999KiB/s",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long long kib = -1;
        const char *err = apikey_bandwidth_parse(good[i].s, &kib);

        ok(err == NULL && kib == good[i].kib, "bandwidth '%s' is %lld KiB/s",
           good[i].s, good[i].kib);
        if (err) {
            diag("error: %s", err);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long kib = -7;
        const char *err = apikey_bandwidth_parse(bad[i], &kib);

        ok(err != NULL && *err && kib == -7, "bandwidth '%s' refused (%s)",
           bad[i], err ? err : "accepted");
    }
    ok(apikey_bandwidth_parse(NULL, NULL) != NULL, "bandwidth NULL refused");
    ok(strstr(apikey_bandwidth_parse("1023B/s", NULL), "1 KiB/s") != NULL,
       "under 1 KiB/s: the message says the least");
    ok(strstr(apikey_bandwidth_parse("64kB/s", NULL), "KiB/s") != NULL,
       "kB/s: the message names KiB/s");
}

static void test_gcra_exact(void)
{
    apikey_rate_t r;
    long long now = 1700000000LL * SEC, tat = 0, k;
    int good = 1;
    gcra_out_t o;

    apikey_rate_parse("20/s", 0, &r);
    for (k = 1; k <= r.burst; k++) {
        o = gcra(tat, now, &r);
        if (!o.admitted || o.remaining != r.burst - k
            || o.reset != k * r.interval_us || o.retry != 0
            || o.tat != now + k * r.interval_us) {
            diag("request %lld: admitted %d remaining %lld reset %lld "
                 "retry %lld tat %lld",
                 k, o.admitted, o.remaining, o.reset, o.retry, o.tat - now);
            good = 0;
        }
        tat = o.tat;
    }
    ok(good, "20/s after an idle period: 20 requests at one instant pass, "
             "remaining 19..0, reset 1..20 intervals");
    o = gcra(tat, now, &r);
    ok(!o.admitted && o.retry == r.interval_us && o.remaining == 0
           && o.reset == r.burst * r.interval_us && o.tat == tat,
       "the 21st is refused: retry one interval, remaining 0, reset 1 s, "
       "TAT unchanged");
    o = gcra(tat, now + r.interval_us - 1, &r);
    ok(!o.admitted && o.retry == 1,
       "one microsecond before the interval: refused, retry 1");
    o = gcra(tat, now + r.interval_us, &r);
    ok(o.admitted && o.remaining == 0 && o.reset == r.burst * r.interval_us,
       "after one interval: one more passes, remaining 0");
    o = gcra(tat, now + r.burst * r.interval_us, &r);
    ok(o.admitted && o.remaining == r.burst - 1,
       "after a whole burst's worth of intervals: remaining %lld", r.burst - 1);
    o = gcra(now + 5 * r.interval_us, now + 10 * SEC, &r);
    ok(o.admitted && o.remaining == r.burst - 1
           && o.tat == now + 10 * SEC + r.interval_us,
       "a TAT in the past counts from now");

    apikey_rate_parse("1/s", 0, &r);
    o = gcra(0, now, &r);
    ok(o.admitted && o.remaining == 0 && o.reset == SEC,
       "1/s burst 1: the first passes, remaining 0, reset 1 s");
    tat = o.tat;
    o = gcra(tat, now, &r);
    ok(!o.admitted && o.retry == SEC, "a second at once waits 1 s");
    o = gcra(tat, now + SEC - 1, &r);
    ok(!o.admitted && o.retry == 1, "one microsecond early waits 1");
    o = gcra(tat, now + SEC, &r);
    ok(o.admitted, "exactly 1 s later passes");

    /* Remaining after an admission that leaves half an interval of
     * credit: the next request at the same instant is refused, so none
     * remain. */
    r.interval_us = 1000;
    r.burst = 2;
    o = gcra(0, 0, &r);
    ok(o.admitted && o.remaining == 1, "1000 us, burst 2: t=0 passes, 1 left");
    tat = o.tat;
    o = gcra(tat, 500, &r);
    is_int(o.admitted, 1, "t=500 passes");
    tat = o.tat;
    is_int(gcra(tat, 500, &r).admitted, 0, "another at t=500 is refused");
    is_int(o.remaining, 0, "so the admission at t=500 leaves remaining 0");
}

/* The reference model: a bucket of burst tokens refilled one token per
 * interval, counted in microseconds of credit so that every quantity is
 * an integer (one token is interval_us of credit; a microsecond adds one,
 * up to burst * interval_us).  A request passes when a whole token is
 * there and takes it.  The TAT it reports is only derived from the level,
 * for the comparison. */
typedef struct {
    long long cap, level, last;
    long long interval;
} bucket_t;

static void bucket_init(bucket_t *b, const apikey_rate_t *r, long long start)
{
    b->interval = r->interval_us;
    b->cap = r->burst * r->interval_us;
    b->level = b->cap;
    b->last = start;
}

static gcra_out_t bucket_request(bucket_t *b, long long now)
{
    gcra_out_t o;

    b->level += now - b->last;
    if (b->level > b->cap) {
        b->level = b->cap;
    }
    b->last = now;
    o.admitted = b->level >= b->interval;
    if (o.admitted) {
        b->level -= b->interval;
    }
    /* Tokens still whole now; credit missing until the next token and
     * until the bucket is full. */
    o.remaining = o.admitted ? b->level / b->interval : 0;
    o.retry = o.admitted ? 0 : b->interval - b->level;
    o.reset = b->cap - b->level;
    o.tat = now + o.reset;
    return o;
}

static void test_gcra_model(void)
{
    static const struct {
        const char *rate;
        long long burst;
    } rates[] = {
        {"20/s", 0},   {"3/s", 0},          {"1/s", 1},   {"1000/s", 2},
        {"7/m", 10},   {"1/h", 1},          {"100/h", 3}, {"60/m", 5},
        {"5/s", 1000}, {"1000000000/s", 5},
    };
    size_t i;

    for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        apikey_rate_t r;
        bucket_t b;
        uint64_t state = mix64(i + 1);
        long long now = 1700000000LL * SEC, tat = 0, n;
        long long decisions = 0, admitted = 0, refused = 0, bad_retry = 0,
                  bad_reset = 0, bad_remaining = 0, bad_tat = 0;

        apikey_rate_parse(rates[i].rate, rates[i].burst, &r);
        bucket_init(&b, &r, now);
        for (n = 0; n < MODEL_REQUESTS; n++) {
            gcra_out_t want, got;
            uint64_t kind = rnd(&state) % 100;

            /* A third at the same instant, the rest within two intervals,
             * less than one interval apart on average so that the bucket
             * runs dry, and now and then an idle period that fills it. */
            if (n > 0) {
                if (kind >= 55) {
                    now += (long long)(rnd(&state)
                                       % (uint64_t)(2 * r.interval_us + 1));
                }
                else if (kind >= 30) {
                    now += (long long)(rnd(&state) % (uint64_t)r.interval_us);
                }
                if (rnd(&state) % (uint64_t)(4 * r.burst + 30) == 0) {
                    now += (long long)(rnd(&state)
                                       % (uint64_t)(2 * r.burst * r.interval_us
                                                    + 1));
                }
            }
            want = bucket_request(&b, now);
            got = gcra(tat, now, &r);
            if (got.admitted != want.admitted) {
                if (decisions++ < 3) {
                    diag("%s: request %lld at +%lld: gcra %d, model %d",
                         rates[i].rate, n, now - 1700000000LL * SEC,
                         got.admitted, want.admitted);
                }
            }
            else if (!got.admitted && got.retry != want.retry) {
                if (bad_retry++ < 3) {
                    diag("%s: request %lld: retry %lld, model %lld",
                         rates[i].rate, n, got.retry, want.retry);
                }
            }
            if (got.reset != want.reset && bad_reset++ < 3) {
                diag("%s: request %lld: reset %lld, model %lld", rates[i].rate,
                     n, got.reset, want.reset);
            }
            if (got.remaining != want.remaining && bad_remaining++ < 3) {
                diag("%s: request %lld (%s, %lld us of credit left): "
                     "remaining %lld, model %lld",
                     rates[i].rate, n, got.admitted ? "admitted" : "refused",
                     b.level, got.remaining, want.remaining);
            }
            if (got.tat != want.tat) {
                bad_tat++;
            }
            admitted += want.admitted;
            refused += !want.admitted;
            tat = got.tat;
        }
        diag("%s burst %lld: %lld admitted, %lld refused", rates[i].rate,
             r.burst, admitted, refused);
        ok(decisions == 0 && admitted > 0 && refused > 0,
           "%s burst %lld: %d admit/refuse decisions match the model",
           rates[i].rate, r.burst, MODEL_REQUESTS);
        ok(bad_retry == 0 && bad_reset == 0 && bad_tat == 0,
           "%s burst %lld: retry, reset and TAT match the model", rates[i].rate,
           r.burst);
        is_int(bad_remaining, 0, "%s burst %lld: remaining matches the model",
               rates[i].rate, r.burst);
    }
}

/* Calendar periods against the C library. */

static long long utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (long long)timegm(&tm) * SEC;
}

/* The reference index and end of the period holding now (now >= 0),
 * through gmtime_r and a normalising timegm. */
static void ref_period(apikey_period_t p, long long now, unsigned long *index,
                       long long *end)
{
    time_t t = (time_t)(now / SEC);
    struct tm tm;

    *index = 0;
    gmtime_r(&t, &tm);
    tm.tm_sec = 0;
    tm.tm_min = 0;
    switch (p) {
        case APIKEY_PERIOD_HOUR:
            *index = (unsigned long)(t / 3600);
            tm.tm_hour++;
            break;
        case APIKEY_PERIOD_DAY:
            *index = (unsigned long)(t / 86400);
            tm.tm_hour = 0;
            tm.tm_mday++;
            break;
        case APIKEY_PERIOD_MONTH:
            *index = (unsigned long)(tm.tm_year - 70) * 12
                     + (unsigned long)tm.tm_mon;
            tm.tm_hour = 0;
            tm.tm_mday = 1;
            tm.tm_mon++;
            break;
    }
    *end = (long long)timegm(&tm) * SEC;
}

static const apikey_period_t periods[] = {APIKEY_PERIOD_HOUR, APIKEY_PERIOD_DAY,
                                          APIKEY_PERIOD_MONTH};

/* Checks one instant in every period; returns the number of mismatches. */
static int check_instant(long long now, int *shown)
{
    int bad = 0;
    size_t k;

    for (k = 0; k < 3; k++) {
        apikey_period_t p = periods[k];
        unsigned long want_index, index = apikey_period_index(p, now);
        long long want_end, end = apikey_period_end(p, now);

        ref_period(p, now, &want_index, &want_end);
        if (index != want_index || end != want_end
            || apikey_period_index(p, end) != index + 1
            || apikey_period_index(p, end - 1) != index) {
            bad++;
            if ((*shown)++ < 5) {
                diag("%s at %lld us: index %lu end %lld, want %lu and %lld",
                     apikey_period_name(p), now, index, end, want_index,
                     want_end);
            }
        }
    }
    return bad;
}

static void test_periods_named(void)
{
    long long ms = SEC - 1; /* .999999 */
    long long t;

    ok(!strcmp(apikey_period_name(APIKEY_PERIOD_HOUR), "hour")
           && !strcmp(apikey_period_name(APIKEY_PERIOD_DAY), "day")
           && !strcmp(apikey_period_name(APIKEY_PERIOD_MONTH), "month"),
       "period names");
    ok(apikey_period_seconds(APIKEY_PERIOD_HOUR) == 3600
           && apikey_period_seconds(APIKEY_PERIOD_DAY) == 86400
           && apikey_period_seconds(APIKEY_PERIOD_MONTH) == 30 * 86400,
       "period lengths for the headers: 3600, 86400, 30 days");

    ok(apikey_period_index(APIKEY_PERIOD_HOUR, 0) == 0
           && apikey_period_index(APIKEY_PERIOD_DAY, 0) == 0
           && apikey_period_index(APIKEY_PERIOD_MONTH, 0) == 0,
       "the epoch is in period 0 of each kind");
    ok(apikey_period_end(APIKEY_PERIOD_HOUR, 0) == 3600 * SEC
           && apikey_period_end(APIKEY_PERIOD_DAY, 0) == 86400 * SEC
           && apikey_period_end(APIKEY_PERIOD_MONTH, 0) == 31 * 86400 * SEC,
       "and its periods end at 01:00, 2 Jan and 1 Feb 1970");

    t = utc(2024, 1, 31, 23, 59, 59) + ms;
    is_int((long long)apikey_period_index(APIKEY_PERIOD_MONTH, t), 54 * 12,
           "2024-01-31T23:59:59.999999Z is in month 648 (January 2024)");
    is_int(apikey_period_end(APIKEY_PERIOD_MONTH, t), utc(2024, 2, 1, 0, 0, 0),
           "whose month ends on 1 February");
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2024, 2, 1, 0, 0, 0),
           "as does its day");
    is_int(apikey_period_end(APIKEY_PERIOD_HOUR, t), utc(2024, 2, 1, 0, 0, 0),
           "and its hour");
    is_int((long long)apikey_period_index(APIKEY_PERIOD_MONTH, t + 1),
           54 * 12 + 1, "one microsecond later is February (649)");

    t = utc(2024, 2, 28, 23, 59, 59) + ms;
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2024, 2, 29, 0, 0, 0),
           "2024 (leap): 28 Feb ends at 29 Feb");
    is_int(apikey_period_end(APIKEY_PERIOD_MONTH, t), utc(2024, 3, 1, 0, 0, 0),
           "and February ends at 1 March");
    t = utc(2024, 2, 29, 23, 59, 59) + ms;
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2024, 3, 1, 0, 0, 0),
           "2024: 29 Feb ends at 1 March");
    is_int((long long)apikey_period_index(APIKEY_PERIOD_MONTH, t), 54 * 12 + 1,
           "29 Feb 2024 is still in February");

    t = utc(2023, 2, 28, 23, 59, 59) + ms;
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2023, 3, 1, 0, 0, 0),
           "2023 (not leap): 28 Feb ends at 1 March");
    is_int(apikey_period_end(APIKEY_PERIOD_MONTH, t), utc(2023, 3, 1, 0, 0, 0),
           "and so does February");

    t = utc(2100, 2, 28, 23, 59, 59) + ms;
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2100, 3, 1, 0, 0, 0),
           "2100 (not leap): 28 Feb ends at 1 March");
    is_int(apikey_period_end(APIKEY_PERIOD_MONTH, t), utc(2100, 3, 1, 0, 0, 0),
           "and so does February");
    is_int((long long)apikey_period_index(APIKEY_PERIOD_MONTH, t), 130 * 12 + 1,
           "February 2100 is month %d", 130 * 12 + 1);

    t = utc(2000, 2, 28, 23, 59, 59) + ms;
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2000, 2, 29, 0, 0, 0),
           "2000 (leap): 28 Feb ends at 29 Feb");
    is_int(apikey_period_end(APIKEY_PERIOD_MONTH, t), utc(2000, 3, 1, 0, 0, 0),
           "and February at 1 March");

    t = utc(2023, 12, 31, 23, 59, 59) + ms;
    is_int((long long)apikey_period_index(APIKEY_PERIOD_MONTH, t), 53 * 12 + 11,
           "31 Dec 2023 is month 647");
    is_int(apikey_period_end(APIKEY_PERIOD_MONTH, t), utc(2024, 1, 1, 0, 0, 0),
           "whose month ends at the new year");
    is_int(apikey_period_end(APIKEY_PERIOD_DAY, t), utc(2024, 1, 1, 0, 0, 0),
           "as does its day");
    is_int((long long)apikey_period_index(APIKEY_PERIOD_MONTH, t + 1), 54 * 12,
           "and the new year is month 648");
    is_int((long long)apikey_period_index(APIKEY_PERIOD_DAY, t + 1),
           utc(2024, 1, 1, 0, 0, 0) / SEC / 86400, "and day %lld",
           utc(2024, 1, 1, 0, 0, 0) / SEC / 86400);

    t = utc(2024, 6, 15, 12, 34, 56) + 789;
    is_int(apikey_period_end(APIKEY_PERIOD_HOUR, t), utc(2024, 6, 15, 13, 0, 0),
           "12:34:56 ends at 13:00");
    is_int((long long)apikey_period_index(APIKEY_PERIOD_HOUR, t),
           utc(2024, 6, 15, 12, 0, 0) / SEC / 3600, "in hour %lld",
           utc(2024, 6, 15, 12, 0, 0) / SEC / 3600);
}

/* Every month start from 1970 to 2400, a microsecond either side and in
 * the middle, then random instants over the same range. */
static void test_periods_sweep(void)
{
    long long limit = utc(2400, 1, 1, 0, 0, 0), n = 0;
    uint64_t state = 42;
    int bad = 0, shown = 0, y, m, i;

    for (y = 1970; y < 2400; y++) {
        for (m = 1; m <= 12; m++) {
            long long start = utc(y, m, 1, 0, 0, 0);
            long long mid = utc(y, m, 15, 11, 29, 30) + 500000;

            if (start > 0) {
                bad += check_instant(start - 1, &shown);
                n++;
            }
            bad += check_instant(start, &shown);
            bad += check_instant(start + 1, &shown);
            bad += check_instant(mid, &shown);
            n += 3;
        }
    }
    is_int(bad, 0,
           "%lld instants around every month start of 1970-2399 "
           "agree with gmtime_r and timegm",
           n);
    for (i = bad = 0; i < 200000; i++) {
        bad +=
            check_instant((long long)(rnd(&state) % (uint64_t)limit), &shown);
    }
    is_int(bad, 0, "200000 random instants of 1970-2399 agree too");
    ok(apikey_period_index(APIKEY_PERIOD_HOUR, limit) < 0xffffffffUL,
       "hour indices of 2400 fit the 32 bits of a quota word");
}

/* Quota words */

static void test_quota_words(void)
{
    uint64_t w = 0, nw;
    unsigned long p = 19700, n;
    int rc;

    ok(APIKEY_QUOTA_PERIOD(APIKEY_QUOTA_WORD(0xfffffffeUL, 0xffffffffUL))
               == 0xfffffffeUL
           && APIKEY_QUOTA_COUNT(APIKEY_QUOTA_WORD(0xfffffffeUL, 0xffffffffUL))
                  == 0xffffffffUL
           && APIKEY_QUOTA_WORD(3, 4) == ((uint64_t)3 << 32 | 4),
       "a quota word holds period << 32 | count");

    for (n = 0; apikey_quota_take(w, p, 500, &nw); n++) {
        w = nw;
        if (n > 1000) {
            break;
        }
    }
    is_int((long long)n, 500, "a limit of 500 takes exactly 500");
    ok(APIKEY_QUOTA_PERIOD(w) == p && APIKEY_QUOTA_COUNT(w) == 500,
       "the word then holds the period and 500");
    is_int((long long)apikey_quota_used(w, p), 500, "used: 500");
    is_int(apikey_quota_take(w, p, 500, &nw), 0, "a 501st is refused");

    nw = 0;
    rc = apikey_quota_take(w, p + 1, 500, &nw);
    ok(rc == 1 && nw == APIKEY_QUOTA_WORD(p + 1, 1),
       "a new period starts again at 1");
    ok(apikey_quota_take(w, p + 30, 500, &nw)
           && nw == APIKEY_QUOTA_WORD(p + 30, 1),
       "as does one 30 periods later");
    is_int((long long)apikey_quota_used(w, p + 1), 0,
           "used in the next period: 0");

    is_int(apikey_quota_take(w, p - 1, 500, &nw), 0,
           "a spent quota is not granted again when the clock steps back");
    is_int(apikey_quota_take(w, 0, 500, &nw), 0, "nor when it says 1970");
    nw = 0;
    ok(apikey_quota_take(APIKEY_QUOTA_WORD(p, 7), p - 1, 500, &nw)
           && nw == APIKEY_QUOTA_WORD(p, 8),
       "a period before the stored one counts against the stored one");
    is_int((long long)apikey_quota_used(APIKEY_QUOTA_WORD(p, 7), p - 1), 7,
           "and used says so");

    is_int(apikey_quota_take(0, 0, 0, &nw), 0, "a limit of 0 takes nothing");
    ok(apikey_quota_take(0, 5, 1, &nw) && nw == APIKEY_QUOTA_WORD(5, 1)
           && !apikey_quota_take(nw, 5, 1, &nw),
       "a limit of 1 takes once");
    nw = 0;
    ok(apikey_quota_take(APIKEY_QUOTA_WORD(p, 0xfffffffeUL), p, 0xffffffffUL,
                         &nw)
           && nw == APIKEY_QUOTA_WORD(p, 0xffffffffUL)
           && !apikey_quota_take(nw, p, 0xffffffffUL, &nw),
       "the largest limit takes up to 4294967295 and no further");

    nw = 0;
    ok(apikey_quota_give_back(APIKEY_QUOTA_WORD(p, 3), p, &nw)
           && nw == APIKEY_QUOTA_WORD(p, 2),
       "give_back in the same period: 3 becomes 2");
    is_int(apikey_quota_give_back(APIKEY_QUOTA_WORD(p, 0), p, &nw), 0,
           "give_back never goes below 0");
    is_int(apikey_quota_give_back(APIKEY_QUOTA_WORD(p - 1, 3), p, &nw), 0,
           "give_back of an older period gives nothing");
    nw = 0;
    rc = apikey_quota_give_back(APIKEY_QUOTA_WORD(p + 1, 3), p, &nw);
    if (!is_int(rc, 0,
                "give_back when the word is of a later period gives "
                "nothing (the header: only 'when word is still of period')")) {
        diag("it returned word (%lu, %lu): another process's request of "
             "period %lu is given back for a request of period %lu",
             APIKEY_QUOTA_PERIOD(nw), APIKEY_QUOTA_COUNT(nw), p + 1, p);
    }

    for (n = 0, w = APIKEY_QUOTA_WORD(p, 10);
         apikey_quota_give_back(w, p, &nw) && n < 100; n++) {
        w = nw;
    }
    ok(n == 10 && w == APIKEY_QUOTA_WORD(p, 0),
       "10 can be given back of 10, then none");
    ok(apikey_quota_take(w, p, 10, &nw) && apikey_quota_give_back(nw, p, &nw)
           && nw == w,
       "take then give_back restores the word");
    is_int((long long)apikey_quota_used(APIKEY_QUOTA_WORD(p, 9), p), 9,
           "used: the count of the same period");
    is_int((long long)apikey_quota_used(APIKEY_QUOTA_WORD(p - 1, 9), p), 0,
           "used: 0 for an older period");
    is_int((long long)apikey_quota_used(0, p), 0, "used: 0 for a fresh word");
}

int main(void)
{
    test_rate_parse();
    test_quota_parse();
    test_quotas_parse();
    test_bandwidth_parse();
    test_gcra_exact();
    test_gcra_model();
    test_periods_named();
    test_periods_sweep();
    test_quota_words();
    return done_testing();
}
