/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Civil-time arithmetic in UTC: ISO-8601 parsing and formatting for key
 * expiry, free of the C library's time zone state so the module, the tool
 * and the tests agree to the second. */
#ifndef APIKEY_TIME_H
#define APIKEY_TIME_H

#include <stddef.h>

/* Longest formatted time, "YYYY-MM-DDTHH:MM:SSZ" plus NUL. */
#define APIKEY_TIME_ISO_LEN 21

/* Days since 1970-01-01 of a proleptic Gregorian date. */
long long apikey_days_from_civil(long long y, unsigned m, unsigned d);

/* The date of a day number (inverse of apikey_days_from_civil). */
void apikey_civil_from_days(long long days, long long *y, unsigned *m,
                            unsigned *d);

/* Parses "YYYY-MM-DD", optionally followed by 'T' or ' ' and "HH:MM" or
 * "HH:MM:SS" (a fraction of seconds is ignored), optionally followed by
 * 'Z', "+HH:MM", "-HH:MM", "+HHMM" or "-HHMM".  Without an offset the time
 * is UTC.  Returns 0 and the Unix time in *out, or -1. */
int apikey_time_parse_iso8601(const char *s, long long *out);

/* Parses a stored time: a decimal Unix time, or ISO-8601 as above.
 * Returns 0 or -1. */
int apikey_time_parse(const char *s, long long *out);

/* Formats a Unix time as "YYYY-MM-DDTHH:MM:SSZ". */
void apikey_time_format(long long t, char out[APIKEY_TIME_ISO_LEN]);

/* Parses a duration: a number of seconds, or a number with one unit of
 * ms, s, m, h or d ("500ms", "30s", "15m", "24h", "7d").  Returns 0 and
 * the duration in microseconds, or -1 (no number, unknown unit, or more
 * than ten years). */
int apikey_duration_parse(const char *s, long long *usec);

#endif /* APIKEY_TIME_H */
