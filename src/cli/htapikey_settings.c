/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * htapikey's key settings: the checks of --owner, --scopes, --expires,
 * --allow-* and the rest, turning them into what the store keeps. */

#include "htapikey.h"
#include "apikey_json.h"
#include "apikey_limit.h"
#include "apikey_match.h"
#include "apikey_time.h"

#include "apr_strings.h"
#include "apr_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column widths of the schemas in conf/schema/. */
#define OWNER_MAX       255
#define NAME_MAX_       255
#define SCOPES_MAX      1024
#define RESTRICTION_MAX 1024

/* Text of at most max bytes: well-formed UTF-8 (what the JSON of --json,
 * the status page and the log fields carry as it is), without control
 * characters (C0, DEL, C1: a newline would forge a line of list's output
 * or of a log). */
static const char *check_text(const char *what, const char *v, size_t max,
                              int allow_empty)
{
    static char msg[160];
    const char *c;
    unsigned long cp;
    size_t n;

    if (!v || (!*v && !allow_empty)) {
        snprintf(msg, sizeof(msg), "%s must not be empty", what);
        return msg;
    }
    if (strlen(v) > max) {
        snprintf(msg, sizeof(msg), "%s is longer than %zu bytes", what, max);
        return msg;
    }
    for (c = v; *c; c += n) {
        if (!(n = apikey_utf8_decode(c, &cp))) {
            snprintf(msg, sizeof(msg),
                     "%s is not valid UTF-8 (byte %zu, 0x%02x); nothing "
                     "was written",
                     what, (size_t)(c - v) + 1, (unsigned char)*c);
            return msg;
        }
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            snprintf(msg, sizeof(msg),
                     "%s contains a control character (U+%04lX at byte "
                     "%zu); nothing was written",
                     what, cp, (size_t)(c - v) + 1);
            return msg;
        }
    }
    return NULL;
}

/* Scopes: words separated by single spaces, normalised from any run of
 * blanks or commas. */
static const char *normalise_scopes(apr_pool_t *p, const char *in,
                                    const char **out)
{
    char *copy = apr_pstrdup(p, in), *tok, *state = NULL;
    const char *res = "";

    for (tok = apr_strtok(copy, " \t,", &state); tok;
         tok = apr_strtok(NULL, " \t,", &state)) {
        const char *err = apikey_scope_check(tok);

        if (err) {
            return apr_psprintf(p, "--scopes '%s': %s", tok, err);
        }
        res = *res ? apr_pstrcat(p, res, " ", tok, NULL) : tok;
    }
    *out = res;
    return check_text("--scopes", res, SCOPES_MAX, 1);
}

/* A Unix time as the decimal text stored in BIGINT columns.  (APR's
 * formatter knows APR_INT64_T_FMT, not %lld.) */
static const char *unix_text(apr_pool_t *p, long long t)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)t);
}

const char *htapikey_now(apr_pool_t *p)
{
    return unix_text(p, (long long)apr_time_sec(apr_time_now()));
}

static const char *parse_time_opt(apr_pool_t *p, const char *opt, const char *v,
                                  const char **out)
{
    long long t;

    if (apikey_time_parse_iso8601(v, &t)) {
        return apr_psprintf(p,
                            "%s '%s' is not an ISO-8601 time such as "
                            "2027-01-31 or 2027-01-31T12:00:00Z",
                            opt, v);
    }
    *out = unix_text(p, t);
    return NULL;
}

/* An optional setting that update may clear with "none". */
static int clears(const htapikey_options_t *o, const char *v)
{
    return v && !strcmp(o->command, "update") && !strcmp(v, "none");
}

/* A comma-separated restriction list, checked and with blanks removed. */
static const char *restriction(apr_pool_t *p, const htapikey_options_t *o,
                               const char *opt, const char *v, const char **out)
{
    char bad[APIKEY_HOST_MAX + 1] = "";
    const char *err;
    char *copy, *tok, *state = NULL;
    const char *res = "";

    if (!v) {
        return NULL;
    }
    if (clears(o, v)) {
        *out = htapikey_db_null;
        return NULL;
    }
    err = !strcmp(opt, "--allow-ip")        ? apikey_networks_check(v, p, bad)
          : !strcmp(opt, "--allow-referer") ? apikey_referers_check(v, bad)
          : !strcmp(opt, "--allow-android") ? apikey_androids_check(v, bad)
          : !strcmp(opt, "--allow-ios")     ? apikey_bundles_check(v, bad)
          : !strcmp(opt, "--allow-cert")    ? apikey_certs_check(v, bad)
                                            : apikey_methods_check(v, bad);
    if (err) {
        return *bad ? apr_psprintf(p, "%s '%s': %s", opt, bad, err)
                    : apr_psprintf(p, "%s: %s", opt, err);
    }
    /* Fingerprints stored one way (lower-case hex, no colons), so that the
     * module compares them as strings and show prints them alike. */
    if (!strcmp(opt, "--allow-android") || !strcmp(opt, "--allow-cert")) {
        *out = apikey_pins_normalise(p, v, !strcmp(opt, "--allow-android"));
        return check_text(opt, *out, RESTRICTION_MAX, 0);
    }
    copy = apr_pstrdup(p, v);
    for (tok = apr_strtok(copy, " \t,", &state); tok;
         tok = apr_strtok(NULL, " \t,", &state)) {
        res = *res ? apr_pstrcat(p, res, ",", tok, NULL) : tok;
    }
    *out = res;
    return check_text(opt, res, RESTRICTION_MAX, 0);
}

/* The quota column's VARCHAR(32) (conf/schema/). */
#define HTAPIKEY_QUOTA_MAX 32

/* --rate, --burst, --quota and --bandwidth, checked with the module's own
 * parsers so that the server reads what the tool accepted. */
static const char *limits(apr_pool_t *p, const htapikey_options_t *o,
                          htapikey_row_t *row)
{
    apikey_rate_t rate;
    apikey_quotas_t quota;
    const char *err;
    char *end;
    long long burst = 0, kib;

    if (o->burst && !clears(o, o->burst)) {
        burst = strtoll(o->burst, &end, 10);
        if (*end || end == o->burst || burst < 1 || burst > 1000000000LL) {
            return apr_psprintf(p,
                                "--burst '%s': expected a number of "
                                "requests from 1 to 1000000000",
                                o->burst);
        }
        row->burst = o->burst;
    }
    else if (o->burst) {
        row->burst = htapikey_db_null;
    }
    if (clears(o, o->rate)) {
        row->rate = htapikey_db_null;
    }
    else if (o->rate) {
        if ((err = apikey_rate_parse(o->rate, burst, &rate))) {
            return apr_psprintf(p, "--rate '%s': %s (as in 20/s, 600/m)",
                                o->rate, err);
        }
        row->rate = o->rate;
    }
    else if (o->burst && !clears(o, o->burst)
             && !strcmp(o->command, "create")) {
        return "--burst goes with --rate";
    }
    if (clears(o, o->quota)) {
        row->quota = htapikey_db_null;
    }
    else if (o->quota) {
        const char *stored = NULL;
        unsigned i;

        if ((err = apikey_quotas_parse(o->quota, &quota))) {
            return apr_psprintf(p,
                                "--quota '%s': %s (as in 100000/month, or "
                                "1000/hour,20000/day)",
                                o->quota, err);
        }
        /* Stored as the module reads it, windows in order, commas. */
        for (i = 0; i < quota.n; i++) {
            stored = apr_psprintf(p, "%s%s%lu/%s", stored ? stored : "",
                                  stored ? "," : "", quota.w[i].limit,
                                  apikey_period_name(quota.w[i].period));
        }
        if (strlen(stored) > HTAPIKEY_QUOTA_MAX) {
            return apr_psprintf(p,
                                "--quota '%s': longer than the store's "
                                "%d characters as '%s'",
                                o->quota, HTAPIKEY_QUOTA_MAX, stored);
        }
        row->quota = stored;
    }
    if (clears(o, o->bandwidth)) {
        row->bandwidth = htapikey_db_null;
    }
    else if (o->bandwidth) {
        if ((err = apikey_bandwidth_parse(o->bandwidth, &kib))) {
            return apr_psprintf(p, "--bandwidth '%s': %s (as in 512KiB/s)",
                                o->bandwidth, err);
        }
        row->bandwidth = o->bandwidth;
    }
    return NULL;
}

/* Checks the settings of create and update and puts them in row as the
 * store keeps them.  Returns NULL or a message. */
const char *htapikey_settings(apr_pool_t *p, const htapikey_options_t *o,
                              htapikey_row_t *row)
{
    const char *err, *now = htapikey_now(p);

    if (o->owner && (err = check_text("--owner", o->owner, OWNER_MAX, 0))) {
        return err;
    }
    row->owner = o->owner;
    if (clears(o, o->name)) {
        row->name = htapikey_db_null;
    }
    else if (o->name) {
        if ((err = check_text("--name", o->name, NAME_MAX_, 1))) {
            return err;
        }
        row->name = o->name;
    }
    if (o->scopes && (err = normalise_scopes(p, o->scopes, &row->scopes))) {
        return err;
    }
    if (clears(o, o->expires)) {
        row->expires = htapikey_db_null;
    }
    else if (o->expires) {
        if ((err = parse_time_opt(p, "--expires", o->expires, &row->expires))) {
            return err;
        }
        if (atoll(row->expires) <= atoll(now)) {
            return apr_psprintf(p,
                                "--expires %s is in the past (use "
                                "disable or revoke to stop a key now)",
                                o->expires);
        }
    }
    if (clears(o, o->not_before)) {
        row->not_before = htapikey_db_null;
    }
    else if (o->not_before
             && (err = parse_time_opt(p, "--not-before", o->not_before,
                                      &row->not_before))) {
        return err;
    }
    if (o->expires && o->not_before && row->expires != htapikey_db_null
        && row->not_before != htapikey_db_null
        && atoll(row->not_before) >= atoll(row->expires)) {
        return "--not-before must be earlier than --expires";
    }
    if ((err = limits(p, o, row))) {
        return err;
    }
    if ((err = restriction(p, o, "--allow-ip", o->allow_ip, &row->allow_ip))
        || (err = restriction(p, o, "--allow-referer", o->allow_referer,
                              &row->allow_referer))
        || (err = restriction(p, o, "--allow-method", o->allow_method,
                              &row->allow_method))
        || (err = restriction(p, o, "--allow-android", o->allow_android,
                              &row->allow_android))
        || (err =
                restriction(p, o, "--allow-ios", o->allow_ios, &row->allow_ios))
        || (err = restriction(p, o, "--allow-cert", o->allow_cert,
                              &row->allow_cert))) {
        return err;
    }
    return NULL;
}
