/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * UTC civil-time arithmetic and ISO-8601 (see apikey_time.h). */

#include "apikey_time.h"

#include <stdio.h>
#include <string.h>

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian
 * date, no tables, no time zone. */
long long apikey_days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void apikey_civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    long long era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(long long y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30,
                                           31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits. */
static int digits(const char **s, int n, long long *out)
{
    long long v = 0;

    while (n-- > 0) {
        if (**s < '0' || **s > '9') {
            return -1;
        }
        v = v * 10 + (**s - '0');
        (*s)++;
    }
    *out = v;
    return 0;
}

int apikey_time_parse_iso8601(const char *s, long long *out)
{
    long long y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    int sign = 0;

    if (!s || digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo)
        || *s++ != '-' || digits(&s, 2, &d)) {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, (unsigned)mo)) {
        return -1;
    }
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi)) {
            return -1;
        }
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &sec)) {
                return -1;
            }
            if (*s == '.' || *s == ',') {
                s++;
                if (*s < '0' || *s > '9') {
                    return -1;
                }
                while (*s >= '0' && *s <= '9') {
                    s++;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60) {
            return -1;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        }
        else if (*s == '+' || *s == '-') {
            sign = *s++ == '-' ? -1 : 1;
            if (digits(&s, 2, &oh)) {
                return -1;
            }
            if (*s == ':') {
                s++;
            }
            if (digits(&s, 2, &om) || oh > 23 || om > 59) {
                return -1;
            }
        }
    }
    if (*s != '\0') {
        return -1;
    }
    *out = apikey_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400
           + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    return 0;
}

int apikey_time_parse(const char *s, long long *out)
{
    const char *p = s;
    long long v = 0;

    if (!s || !*s) {
        return -1;
    }
    if (*p == '-') {
        p++;
    }
    if (*p >= '0' && *p <= '9') {
        const char *start = p;
        while (*p >= '0' && *p <= '9' && p - start < 18) {
            v = v * 10 + (*p++ - '0');
        }
        if (*p == '\0') {
            *out = *s == '-' ? -v : v;
            return 0;
        }
    }
    return apikey_time_parse_iso8601(s, out);
}

void apikey_time_format(long long t, char out[APIKEY_TIME_ISO_LEN])
{
    long long days = t / 86400, rem = t % 86400, y;
    unsigned m, d;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    apikey_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(out, APIKEY_TIME_ISO_LEN, "%s",
                 y < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
        return;
    }
    snprintf(out, APIKEY_TIME_ISO_LEN, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
             y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
}

int apikey_duration_parse(const char *s, long long *usec)
{
    static const struct {
        const char *unit;
        long long usec;
    } units[] = {{"", 1000000LL},   {"s", 1000000LL},    {"ms", 1000LL},
                 {"m", 60000000LL}, {"h", 3600000000LL}, {"d", 86400000000LL}};
    const long long max = 10LL * 366 * 86400000000LL;
    long long n = 0;
    size_t i;

    if (!s || *s < '0' || *s > '9') {
        return -1;
    }
    while (*s >= '0' && *s <= '9') {
        n = n * 10 + (*s++ - '0');
        if (n > max / 1000) {
            return -1;
        }
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (!strcmp(s, units[i].unit)) {
            if (n > max / units[i].usec) {
                return -1;
            }
            *usec = n * units[i].usec;
            return 0;
        }
    }
    return -1;
}
