/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A minimal header-only TAP producer so the C unit tests run under prove.
 *
 * Each test program includes this header once, calls plan(n) first or
 * done_testing() last, and returns done_testing()'s value from main: it is
 * non-zero when a test failed or the count differs from the plan.  The
 * functions are static inline so a program that uses only some of them
 * still builds under -Wall -Wextra -Werror.
 */
#ifndef APIKEY_TAP_H
#define APIKEY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Lets the compiler check our format strings where it knows how. */
#if defined(__GNUC__)
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TAP_PRINTF(f, a)
#endif

static int tap_planned = -1; /* -1 until plan() or done_testing() */
static int tap_run;
static int tap_failed;

static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

/* Diagnostics go to stderr, which prove shows but does not parse. */
static inline void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline void diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static inline int tap_vok(int cond, const char *fmt, va_list ap)
    TAP_PRINTF(2, 0);
static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_run++;
    if (!cond) {
        tap_failed++;
    }
    printf("%sok %d - ", cond ? "" : "not ", tap_run);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    return cond;
}

/* n tests not run, and why: TAP's "# skip", which prove counts apart. */
static inline void skip(int n, const char *why)
{
    while (n-- > 0) {
        printf("ok %d # skip %s\n", ++tap_run, why);
    }
    fflush(stdout);
}

static inline int ok(int cond, const char *fmt, ...) TAP_PRINTF(2, 3);
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = tap_vok(cond, fmt, ap);
    va_end(ap);
    return rc;
}

static inline int is_int(long long got, long long want, const char *fmt, ...)
    TAP_PRINTF(3, 4);
static inline int is_int(long long got, long long want, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (!rc) {
        diag("     got: %lld", got);
        diag("expected: %lld", want);
    }
    return rc;
}

/* NULL equals only NULL, so a function wrongly returning NULL fails
 * cleanly instead of crashing the whole program. */
static inline int is_str(const char *got, const char *want, const char *fmt,
                         ...) TAP_PRINTF(3, 4);
static inline int is_str(const char *got, const char *want, const char *fmt,
                         ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = tap_vok(got && want ? strcmp(got, want) == 0 : got == want, fmt, ap);
    va_end(ap);
    if (!rc) {
        diag("     got: %s%s%s", got ? "'" : "", got ? got : "NULL",
             got ? "'" : "");
        diag("expected: %s%s%s", want ? "'" : "", want ? want : "NULL",
             want ? "'" : "");
    }
    return rc;
}

/* Prints the plan if none was given, and returns the exit status. */
static inline int done_testing(void)
{
    if (tap_planned < 0) {
        plan(tap_run);
    }
    else if (tap_planned != tap_run) {
        diag("planned %d tests but ran %d", tap_planned, tap_run);
        return 255;
    }
    if (tap_failed) {
        diag("failed %d of %d tests", tap_failed, tap_run);
        return tap_failed < 254 ? tap_failed : 254;
    }
    return 0;
}

#endif /* APIKEY_TAP_H */
