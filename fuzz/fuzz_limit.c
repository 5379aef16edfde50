/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzzes the parsers of limit and time strings, which arrive in
 * directives and in database columns a key's owner may have written:
 * apikey_rate_parse ("20/s"), apikey_quota_parse ("1000/day"),
 * apikey_bandwidth_parse ("512KiB/s"), apikey_duration_parse ("500ms")
 * and apikey_time_parse (expiry times, ISO-8601 or Unix), then the
 * arithmetic that consumes what they return.  The input is
 * "STRING\0TAIL": STRING goes to every parser; TAIL's bytes are the burst
 * (4 bytes, signed), a time in microseconds (8 bytes) and a run of request
 * gaps for the rate limiter.
 *
 * Beyond not crashing: every value parsed comes back the same from its
 * canonical spelling (parse, format, parse); a rate limit admits exactly
 * its burst at once, then at most one request an interval; a quota grants
 * exactly its limit; a bandwidth is 1 KiB/s to what mod_ratelimit holds,
 * never more than it says; periods and their ends agree with the
 * calendar; a time prints and reads back unchanged. */

#include "apikey_limit.h"
#include "apikey_time.h"
#include "fuzz.h"

#define SEC 1000000LL
/* 1970-01-01 to 9999-12-31, the times a clock and ISO-8601 can show. */
#define TIME_MAX_US (253402300800LL * SEC)

static void check_rate(const char *s, long long burst, const uint8_t *gaps,
                       size_t ngaps)
{
    apikey_rate_t r, r2;
    long long now = 1700000000LL * SEC, tat = 0, t0, admitted = 0;
    long long new_tat, remaining, retry, reset, k;
    char canon[64];
    size_t i;

    memset(&r, 0, sizeof(r));
    if (apikey_rate_parse(s, burst, &r)) {
        return;
    }
    FUZZ_CHECK(r.rate >= 1 && r.rate <= 1000000000LL);
    FUZZ_CHECK(r.window_us == SEC || r.window_us == 60 * SEC
               || r.window_us == 3600 * SEC);
    FUZZ_CHECK(r.interval_us >= 1 && r.interval_us <= r.window_us);
    FUZZ_CHECK(r.burst == (burst ? burst : r.rate));
    snprintf(canon, sizeof(canon), "%lld/%s", r.rate,
             r.window_us == SEC        ? "s"
             : r.window_us == 60 * SEC ? "m"
                                       : "h");
    memset(&r2, 0, sizeof(r2));
    FUZZ_CHECK(apikey_rate_parse(canon, burst, &r2) == NULL);
    FUZZ_CHECK(!memcmp(&r, &r2, sizeof(r)));

    /* From idle, the whole burst at one instant, then a refusal that
     * names the wait, after which one more is admitted. */
    if (r.burst <= 1000) {
        for (k = 0; k < r.burst; k++) {
            FUZZ_CHECK(apikey_gcra(tat, now, &r, &new_tat, &remaining, &retry,
                                   &reset));
            FUZZ_CHECK(remaining == r.burst - 1 - k && retry == 0);
            tat = new_tat;
        }
        FUZZ_CHECK(
            !apikey_gcra(tat, now, &r, &new_tat, &remaining, &retry, &reset));
        FUZZ_CHECK(retry == r.interval_us && remaining == 0 && reset >= retry);
        FUZZ_CHECK(apikey_gcra(tat, now + retry, &r, &new_tat, &remaining,
                               &retry, &reset));
    }

    /* Requests at the gaps the input gives: never more than the burst
     * plus one an interval since the first. */
    tat = 0;
    t0 = now;
    for (i = 0; i + 2 <= ngaps; i += 2) {
        long long before = tat;

        now +=
            (long long)(gaps[i] | gaps[i + 1] << 8) * (r.interval_us / 64 + 1);
        if (apikey_gcra(tat, now, &r, &new_tat, &remaining, &retry, &reset)) {
            admitted++;
            FUZZ_CHECK(new_tat
                       == (before > now ? before : now) + r.interval_us);
            FUZZ_CHECK(remaining >= 0 && remaining < r.burst && retry == 0);
            FUZZ_CHECK(admitted <= r.burst + (now - t0) / r.interval_us);
            tat = new_tat;
        }
        else {
            FUZZ_CHECK(retry > 0 && remaining == 0 && reset >= retry);
            FUZZ_CHECK(new_tat == tat);
        }
    }
}

static void check_bandwidth(const char *s)
{
    long long kib = 0, kib2 = 0;
    char canon[64];

    if (apikey_bandwidth_parse(s, &kib)) {
        return;
    }
    FUZZ_CHECK(kib >= 1 && kib <= APIKEY_BANDWIDTH_MAX_KIB);
    snprintf(canon, sizeof(canon), "%lldKiB/s", kib);
    FUZZ_CHECK(apikey_bandwidth_parse(canon, &kib2) == NULL && kib2 == kib);
    /* In bytes, rounded down: never more than the value said. */
    if (strstr(s, "B/s") == s + strspn(s, "0123456789")) {
        FUZZ_CHECK(kib * 1024 <= atoll(s) && atoll(s) < (kib + 1) * 1024);
    }
}

/* The calendar, worked out directly. */
static long long month_index_ref(long long days)
{
    long long y;
    unsigned m, d;

    apikey_civil_from_days(days, &y, &m, &d);
    return (y - 1970) * 12 + (long long)m - 1;
}

static void check_periods(long long now)
{
    static const apikey_period_t periods[] = {
        APIKEY_PERIOD_HOUR, APIKEY_PERIOD_DAY, APIKEY_PERIOD_MONTH};
    size_t i;

    for (i = 0; i < 3; i++) {
        apikey_period_t p = periods[i];
        unsigned long idx = apikey_period_index(p, now);
        long long end = apikey_period_end(p, now);

        FUZZ_CHECK(end > now);
        FUZZ_CHECK(end - now <= apikey_period_seconds(p) * SEC + 86400 * SEC);
        FUZZ_CHECK(apikey_period_index(p, end - 1) == idx);
        FUZZ_CHECK(apikey_period_index(p, end) == idx + 1);
        if (p == APIKEY_PERIOD_HOUR) {
            FUZZ_CHECK(idx == (unsigned long)(now / (3600 * SEC)));
        }
        else if (p == APIKEY_PERIOD_DAY) {
            FUZZ_CHECK(idx == (unsigned long)(now / (86400 * SEC)));
        }
        else {
            /* The remembered month must never answer for another. */
            FUZZ_CHECK(idx
                       == (unsigned long)month_index_ref(now / (86400 * SEC)));
        }
    }
}

static void check_quota(const char *s, long long now)
{
    apikey_quota_t q, q2;
    char canon[64];
    uint64_t w, w2;
    unsigned long period;

    memset(&q, 0, sizeof(q));
    if (apikey_quota_parse(s, &q)) {
        return;
    }
    FUZZ_CHECK(q.limit >= 1 && q.limit <= 4294967295UL);
    FUZZ_CHECK(q.period == APIKEY_PERIOD_HOUR || q.period == APIKEY_PERIOD_DAY
               || q.period == APIKEY_PERIOD_MONTH);
    snprintf(canon, sizeof(canon), "%lu/%s", q.limit,
             apikey_period_name(q.period));
    memset(&q2, 0, sizeof(q2));
    FUZZ_CHECK(apikey_quota_parse(canon, &q2) == NULL);
    FUZZ_CHECK(q.limit == q2.limit && q.period == q2.period);

    /* The last request of the period is granted, the next is not, and a
     * new period starts again from one. */
    period = apikey_period_index(q.period, now);
    FUZZ_CHECK(apikey_quota_take(APIKEY_QUOTA_WORD(period, q.limit - 1), period,
                                 q.limit, &w));
    FUZZ_CHECK(APIKEY_QUOTA_COUNT(w) == q.limit);
    FUZZ_CHECK(apikey_quota_used(w, period) == q.limit);
    FUZZ_CHECK(!apikey_quota_take(w, period, q.limit, &w2));
    FUZZ_CHECK(apikey_quota_take(w, period + 1, q.limit, &w2));
    FUZZ_CHECK(APIKEY_QUOTA_COUNT(w2) == 1
               && apikey_quota_used(w, period + 1) == 0);
    FUZZ_CHECK(apikey_quota_give_back(w, period, &w2)
               && APIKEY_QUOTA_COUNT(w2) == q.limit - 1);
}

static void check_duration(const char *s)
{
    long long us, us2;
    char canon[64];

    if (apikey_duration_parse(s, &us)) {
        return;
    }
    FUZZ_CHECK(us >= 0 && us <= 10LL * 366 * 86400 * SEC);
    FUZZ_CHECK(us % 1000 == 0);
    snprintf(canon, sizeof(canon), "%lldms", us / 1000);
    FUZZ_CHECK(apikey_duration_parse(canon, &us2) == 0 && us2 == us);
    if (us % SEC == 0) {
        snprintf(canon, sizeof(canon), "%lld", us / SEC);
        FUZZ_CHECK(apikey_duration_parse(canon, &us2) == 0 && us2 == us);
    }
}

/* A time prints as 20 characters and, inside the years ISO-8601 can
 * show, reads back to the same second. */
static void check_format(long long t)
{
    char iso[APIKEY_TIME_ISO_LEN];
    long long back;

    apikey_time_format(t, iso);
    FUZZ_CHECK(strlen(iso) == APIKEY_TIME_ISO_LEN - 1);
    FUZZ_CHECK(apikey_time_parse_iso8601(iso, &back) == 0);
    if (t >= -62167219200LL && t < 253402300800LL) {
        FUZZ_CHECK(back == t);
        FUZZ_CHECK(apikey_time_parse(iso, &back) == 0 && back == t);
    }
}

static void check_time(const char *s)
{
    long long t, t2;
    int iso = apikey_time_parse_iso8601(s, &t);

    if (iso == 0) {
        FUZZ_CHECK(apikey_time_parse(s, &t2) == 0 && t2 == t);
        check_format(t);
    }
    if (apikey_time_parse(s, &t2) == 0) {
        check_format(t2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *tail;
    size_t tail_len;
    char *s = fuzz_split(data, size, &tail, &tail_len);
    long long burst = (int32_t)fuzz_take_u64(&tail, &tail_len, 4);
    uint64_t raw = fuzz_take_u64(&tail, &tail_len, 8);
    long long now = (long long)(raw % (uint64_t)TIME_MAX_US);

    check_rate(s, burst, tail, tail_len);
    check_rate(s, 0, tail, tail_len);
    check_quota(s, now);
    check_bandwidth(s);
    check_duration(s);
    check_time(s);
    check_periods(now);
    check_format((long long)raw);
    free(s);
    return 0;
}
