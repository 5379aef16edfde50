/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for the UTC calendar arithmetic, ISO-8601 parsing and
 * formatting in apikey_time.c, checked against a day-counting reference
 * model, hand-computed instants and the C library's gmtime_r. */

/* gmtime_r is POSIX, not C99. */
#define _POSIX_C_SOURCE 200809L

#include "apikey_time.h"
#include "tap.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The reference model: the Gregorian leap rule and month lengths, stepped
 * one day at a time, with none of the era arithmetic under test. */
static int ref_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned ref_month_days(long long y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
    return days[m - 1] + (m == 2 && ref_leap(y));
}

/* Day number of 1 January of year y, counting whole years from 1970. */
static long long ref_jan1(long long y)
{
    long long d = 0, k;

    for (k = 1970; k < y; k++) {
        d += 365 + ref_leap(k);
    }
    for (k = y; k < 1970; k++) {
        d -= 365 + ref_leap(k);
    }
    return d;
}

/* Walks every day of years y0..y1 through both conversions, and returns
 * the number of days walked. */
static long long walk_days(long long y0, long long y1)
{
    long long day = ref_jan1(y0), start = day, y, bad_to = 0, bad_from = 0;
    unsigned m, d;

    for (y = y0; y <= y1; y++) {
        for (m = 1; m <= 12; m++) {
            for (d = 1; d <= ref_month_days(y, m); d++, day++) {
                long long gy;
                unsigned gm, gd;

                if (apikey_days_from_civil(y, m, d) != day && !bad_to++) {
                    diag("days_from_civil(%lld, %u, %u) = %lld, want %lld", y,
                         m, d, apikey_days_from_civil(y, m, d), day);
                }
                apikey_civil_from_days(day, &gy, &gm, &gd);
                if ((gy != y || gm != m || gd != d) && !bad_from++) {
                    diag("civil_from_days(%lld) = %lld-%u-%u, want %lld-%u-%u",
                         day, gy, gm, gd, y, m, d);
                }
            }
        }
    }
    is_int(bad_to, 0, "days_from_civil matches the model, years %lld..%lld", y0,
           y1);
    is_int(bad_from, 0, "civil_from_days matches the model, years %lld..%lld",
           y0, y1);
    return day - start;
}

static void test_civil(void)
{
    long long y;
    unsigned m, d;

    /* 501 years of 365 days plus 122 leap days (126 multiples of 4 less
     * 1900, 2100, 2200 and 2300). */
    is_int(walk_days(1900, 2400), 182987, "1900..2400 has 182987 days");
    /* Year 0 and earlier exercise the negative-era branches. */
    walk_days(-800, 9999);

    is_int(apikey_days_from_civil(1970, 1, 1), 0, "1970-01-01 is day 0");
    is_int(apikey_days_from_civil(1969, 12, 31), -1, "1969-12-31 is day -1");
    is_int(apikey_days_from_civil(2000, 1, 1), 10957, "2000-01-01");
    is_int(apikey_days_from_civil(2000, 3, 1), 11017, "2000-03-01 is 11017");
    is_int(apikey_days_from_civil(2024, 2, 29), 19782, "2024-02-29 is 19782");
    is_int(apikey_days_from_civil(1900, 1, 1), -25567, "1900-01-01");
    is_int(apikey_days_from_civil(0, 3, 1), -719468, "0000-03-01");
    is_int(apikey_days_from_civil(2024, 3, 1)
               - apikey_days_from_civil(2024, 2, 28),
           2, "2024 has a 29 February");
    is_int(apikey_days_from_civil(2000, 3, 1)
               - apikey_days_from_civil(2000, 2, 28),
           2, "2000 has a 29 February");
    is_int(apikey_days_from_civil(2100, 3, 1)
               - apikey_days_from_civil(2100, 2, 28),
           1, "2100 has no 29 February");

    apikey_civil_from_days(0, &y, &m, &d);
    ok(y == 1970 && m == 1 && d == 1, "day 0 is 1970-01-01");
    apikey_civil_from_days(-1, &y, &m, &d);
    ok(y == 1969 && m == 12 && d == 31, "day -1 is 1969-12-31");
    apikey_civil_from_days(11017, &y, &m, &d);
    ok(y == 2000 && m == 3 && d == 1, "day 11017 is 2000-03-01");
    apikey_civil_from_days(19782, &y, &m, &d);
    ok(y == 2024 && m == 2 && d == 29, "day 19782 is 2024-02-29");
}

static void test_iso_good(void)
{
    static const struct {
        const char *s;
        long long want;
    } cases[] = {
        {"2026-11-22", 1795305600LL},
        {"2026-11-22T10:20:30Z", 1795342830LL},
        {"2026-11-22T10:20Z", 1795342800LL},
        {"2026-11-22T10:20", 1795342800LL},
        {"2026-11-22 10:20:30", 1795342830LL},
        {"2026-11-22t10:20:30z", 1795342830LL},
        {"2026-11-22T10:20:30.123Z", 1795342830LL},
        {"2026-11-22T10:20:30,999999999Z", 1795342830LL},
        {"2026-11-22T10:20:30.5", 1795342830LL},
        {"2026-11-22T10:20:30+02:00", 1795342830LL - 7200},
        {"2026-11-22T10:20:30+0200", 1795342830LL - 7200},
        {"2026-11-22T10:20+02:00", 1795342800LL - 7200},
        {"2026-11-22T10:20:30-05:30", 1795342830LL + 19800},
        {"2026-11-22T10:20:30-0530", 1795342830LL + 19800},
        {"2026-11-22T10:20:30.123+02:00", 1795342830LL - 7200},
        {"2026-11-22T10:20:30+00:00", 1795342830LL},
        {"2026-11-22T10:20:30-00:00", 1795342830LL},
        {"2026-11-22T10:20:30+23:59", 1795342830LL - 86340},
        /* An offset can move the instant across midnight and the epoch. */
        {"2026-11-22T00:30:00+01:00", 1795305600LL - 1800},
        {"1970-01-01T00:00:00+00:01", -60},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59Z", -1},
        {"2000-02-29", 951782400LL},
        {"2024-02-29", 1709164800LL},
        {"2024-02-29T23:59:59Z", 1709164800LL + 86399},
        {"1900-01-01", -2208988800LL},
        {"0000-01-01T00:00:00Z", -62167219200LL},
        {"9999-12-31T23:59:59Z", 253402300799LL},
        {"2026-01-31", 1769817600LL},
        {"2026-04-30", 1777507200LL},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long got = LLONG_MIN;
        int rc = apikey_time_parse_iso8601(cases[i].s, &got);

        ok(rc == 0 && got == cases[i].want, "parse '%s' -> %lld", cases[i].s,
           cases[i].want);
        if (rc != 0 || got != cases[i].want) {
            diag("rc %d, got %lld", rc, got);
        }
    }
}

static void test_iso_bad(void)
{
    static const struct {
        const char *s, *why;
    } cases[] = {
        {"", "empty"},
        {"2023-02-29", "29 February in a common year"},
        {"2100-02-29", "29 February in a century year"},
        {"2026-00-22", "month 0"},
        {"2026-13-22", "month 13"},
        {"2026-11-00", "day 0"},
        {"2026-11-31", "31 November"},
        {"2026-04-31", "31 April"},
        {"2026-01-32", "32 January"},
        {"2026-11-22T24:00:00Z", "hour 24"},
        {"2026-11-22T10:60:00Z", "minute 60"},
        {"2026-11-22T10:20:61Z", "second 61"},
        {"2026-11-22T10:20:30+24:00", "offset hour 24"},
        {"2026-11-22T10:20:30+02:60", "offset minute 60"},
        {"2026-11", "no day"},
        {"2026-11-2", "one-digit day"},
        {"2026-1-22", "one-digit month"},
        {"26-11-22", "two-digit year"},
        {"20261122", "basic format"},
        {"2026/11/22", "slashes"},
        {"2026-11-22T", "'T' and nothing"},
        {"2026-11-22T10", "hour only"},
        {"2026-11-22T10:2", "one-digit minute"},
        {"2026-11-22T10:20:3", "one-digit second"},
        {"2026-11-22T10:20:30.", "'.' without a fraction"},
        {"2026-11-22T10:20:30+02", "offset without minutes"},
        {"2026-11-22T10:20:30+2:00", "one-digit offset hour"},
        {"2026-11-22x", "trailing letter"},
        {"2026-11-22 ", "trailing space"},
        {"2026-11-22T10:20:30Zx", "garbage after 'Z'"},
        {"2026-11-22T10:20:30Z ", "space after 'Z'"},
        {"2026-11-22T10:20:30\n", "trailing newline"},
        {"2026-11-22T10:20:30+02:00:00", "offset with seconds"},
        {"2026-11-22T10:20:30+0200x", "garbage after the offset"},
        {"2026-11-22T10:20:30ZZ", "two 'Z'"},
        {" 2026-11-22", "leading space"},
        {"+2026-11-22", "signed year"},
        {"-2026-11-22", "negative year"},
        {"2o26-11-22", "letter in the year"},
        {"2026-11-22T1a:20:30Z", "letter in the hour"},
        {"2026-11-22X10:20:30", "unknown separator"},
    };
    long long got;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(apikey_time_parse_iso8601(cases[i].s, &got) == -1,
           "parse rejects %s", cases[i].why);
    }
    ok(apikey_time_parse_iso8601(NULL, &got) == -1, "parse rejects NULL");
}

static void test_parse(void)
{
    static const struct {
        const char *s;
        long long want;
    } good[] = {
        {"0", 0},
        {"-0", 0},
        {"1700000000", 1700000000LL},
        {"-1", -1},
        {"4102444800", 4102444800LL},
        {"999999999999999999", 999999999999999999LL},
        /* Starts with digits but is a date, not the number 2026. */
        {"2026-11-22", 1795305600LL},
        {"2026-11-22T10:20:30Z", 1795342830LL},
        {"2026-11-22T10:20:30+02:00", 1795342830LL - 7200},
    };
    static const char *const bad[] = {
        "", "-", "--1", "1.5", "1e9", "12abc", " 1", "1 ", "0x10",
        /* Twenty digits would overflow: it must fail, not wrap. */
        "99999999999999999999", "2026-13-01", "abc"};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long long got = LLONG_MIN;
        int rc = apikey_time_parse(good[i].s, &got);

        ok(rc == 0 && got == good[i].want, "time_parse '%s' -> %lld", good[i].s,
           good[i].want);
        if (rc != 0 || got != good[i].want) {
            diag("rc %d, got %lld", rc, got);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long got;
        ok(apikey_time_parse(bad[i], &got) == -1, "time_parse rejects '%s'",
           bad[i]);
    }
    {
        long long got;
        ok(apikey_time_parse(NULL, &got) == -1, "time_parse rejects NULL");
    }
}

/* 1 when s looks like "YYYY-MM-DDTHH:MM:SSZ" and nothing more. */
static int iso_shaped(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t i;

    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i]) {
            return 0;
        }
    }
    return s[i] == '\0';
}

static void test_format(void)
{
    static const struct {
        long long t;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {-1, "1969-12-31T23:59:59Z"},
        {-86400, "1969-12-31T00:00:00Z"},
        {-86401, "1969-12-30T23:59:59Z"},
        {-2208988800LL, "1900-01-01T00:00:00Z"},
        {-62167219200LL, "0000-01-01T00:00:00Z"},
        {951782400LL, "2000-02-29T00:00:00Z"},
        {1709164800LL + 86399, "2024-02-29T23:59:59Z"},
        {1795342830LL, "2026-11-22T10:20:30Z"},
        {4102444800LL, "2100-01-01T00:00:00Z"},
        {253402300799LL, "9999-12-31T23:59:59Z"},
    };
    /* Outside years 0..9999 the header promises nothing about the text,
     * but the buffer is fixed, so it must still be a well-formed time. */
    static const long long extreme[] = {
        LLONG_MIN, LLONG_MIN + 1, -62167219201LL, 253402300800LL, LLONG_MAX};
    char out[APIKEY_TIME_ISO_LEN + 1];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apikey_time_format(cases[i].t, out);
        is_str(out, cases[i].want, "format %lld", cases[i].t);
    }
    for (i = 0; i < sizeof(extreme) / sizeof(extreme[0]); i++) {
        long long back;

        memset(out, '#', sizeof(out));
        apikey_time_format(extreme[i], out);
        ok(iso_shaped(out) && out[APIKEY_TIME_ISO_LEN] == '#'
               && apikey_time_parse_iso8601(out, &back) == 0,
           "format %lld gives a parseable time (%.20s)", extreme[i], out);
    }
}

/* Formats t, parses it back, and counts a mismatch; also checks the text
 * against want when given. */
static unsigned long round_trip(long long t, const char *want)
{
    char out[APIKEY_TIME_ISO_LEN];
    long long back = LLONG_MIN;

    apikey_time_format(t, out);
    if ((want && strcmp(out, want))
        || apikey_time_parse_iso8601(out, &back) != 0 || back != t) {
        diag("t %lld formatted '%s' (want '%s'), parsed back as %lld", t, out,
             want ? want : "-", back);
        return 1;
    }
    return 0;
}

static void test_round_trip(void)
{
    char want[APIKEY_TIME_ISO_LEN + 16];
    unsigned long bad = 0, n = 0;
    long long y, t, day;
    unsigned m;

    /* The first second of every month, the second before and after it,
     * and the span of every leap day, with the expected text built from
     * the reference model. */
    day = ref_jan1(1900);
    for (y = 1900; y <= 2400; y++) {
        for (m = 1; m <= 12; m++) {
            t = day * 86400;
            snprintf(want, sizeof(want), "%04lld-%02u-01T00:00:00Z", y, m);
            bad += round_trip(t, want);
            bad += round_trip(t - 1, NULL) + round_trip(t + 1, NULL);
            if (m == 2 && ref_leap(y)) {
                t += 28 * 86400;
                snprintf(want, sizeof(want), "%04lld-02-29T00:00:00Z", y);
                bad += round_trip(t, want);
                snprintf(want, sizeof(want), "%04lld-02-29T23:59:59Z", y);
                bad += round_trip(t + 86399, want);
            }
            day += ref_month_days(y, m);
            n++;
        }
    }
    is_int((long long)bad, 0,
           "parse(format(t)) == t around all %lu month starts, 1900..2400", n);

    /* A stride that is not a whole number of days visits every time of
     * day across the whole four-digit-year range. */
    bad = 0;
    for (t = -62167219200LL; t <= 253402300799LL; t += 86400LL * 997 + 3613) {
        bad += round_trip(t, NULL);
    }
    bad += round_trip(253402300799LL, NULL);
    is_int((long long)bad, 0, "parse(format(t)) == t across years 0..9999");
}

static unsigned long long rng_state = 0x2545f4914f6cdd1dULL;

static unsigned long long rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Checks format and parse against the C library on n times drawn from
 * [lo, hi]. */
static void against_gmtime(long long lo, long long hi, int n)
{
    unsigned long bad = 0;
    int i;

    for (i = 0; i < n; i++) {
        long long t =
            lo + (long long)(rng() % (unsigned long long)(hi - lo + 1));
        char want[64], got[APIKEY_TIME_ISO_LEN];
        time_t tt = (time_t)t;
        struct tm tm;
        long long back = LLONG_MIN;

        if (i == 0 || i == 1) {
            t = i ? hi : lo;
            tt = (time_t)t;
        }
        if (!gmtime_r(&tt, &tm)) {
            bad++;
            continue;
        }
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        apikey_time_format(t, got);
        if (strcmp(got, want) || apikey_time_parse_iso8601(want, &back)
            || back != t) {
            if (!bad++) {
                diag("t %lld: gmtime_r '%s', format '%s', parse %lld", t, want,
                     got, back);
            }
        }
    }
    is_int((long long)bad, 0, "%d times in [%lld, %lld] match gmtime_r", n, lo,
           hi);
}

static void test_gmtime(void)
{
    if (sizeof(time_t) < 8) {
        ok(1, "# SKIP time_t is too narrow to compare beyond 2038");
        return;
    }
    against_gmtime(0, 4102444800LL, 5000);
    against_gmtime(-2208988800LL, 0, 1000);
}

/* Durations of AuthAPIKeyRefresh, AuthAPIKeyCacheTimeout and --grace. */
static void test_duration(void)
{
    long long us = -1;

    ok(apikey_duration_parse("2", &us) == 0 && us == 2000000LL, "2");
    ok(apikey_duration_parse("500ms", &us) == 0 && us == 500000LL, "500ms");
    ok(apikey_duration_parse("30s", &us) == 0 && us == 30000000LL, "30s");
    ok(apikey_duration_parse("15m", &us) == 0 && us == 900000000LL, "15m");
    ok(apikey_duration_parse("24h", &us) == 0 && us == 86400000000LL, "24h");
    ok(apikey_duration_parse("7d", &us) == 0 && us == 604800000000LL, "7d");
    ok(apikey_duration_parse("0", &us) == 0 && us == 0, "0");
    ok(apikey_duration_parse("", &us) == -1, "empty");
    ok(apikey_duration_parse("s", &us) == -1, "unit alone");
    ok(apikey_duration_parse("-1", &us) == -1, "negative");
    ok(apikey_duration_parse("1.5s", &us) == -1, "fraction");
    ok(apikey_duration_parse("2 s", &us) == -1, "blank before unit");
    ok(apikey_duration_parse("2w", &us) == -1, "unknown unit");
    ok(apikey_duration_parse("3660d", &us) == 0, "ten years");
    ok(apikey_duration_parse("99999999999999999999", &us) == -1,
       "overflow refused");
    ok(apikey_duration_parse("4000d", &us) == -1, "over ten years");
    ok(apikey_duration_parse(NULL, &us) == -1, "NULL");
}

int main(void)
{
    test_civil();
    test_iso_good();
    test_iso_bad();
    test_parse();
    test_format();
    test_round_trip();
    test_gmtime();
    test_duration();
    return done_testing();
}
