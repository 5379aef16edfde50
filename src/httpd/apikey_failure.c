/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Failed-authentication throttling (see apikey_failure.h).
 *
 * A client is its address as mod_remoteip or the connection gives it
 * (r->useragent_addr): an IPv4 address, or the /64 prefix of an IPv6 one,
 * since a single IPv6 host commonly holds a whole /64 and would otherwise
 * start afresh at every address it picks. */

#include "apikey_failure.h"
#include "apikey_failure_table.h"
#include "apikey_key.h"
#include "apikey_logno.h"
#include "apikey_shm.h"

#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"

#if APR_HAVE_NETINET_IN_H
#include <netinet/in.h>
#endif
#if APR_HAVE_ARPA_INET_H
#include <arpa/inet.h>
#endif

APLOG_USE_MODULE(authn_apikey);

/* Named for the layout (v2: the shared segment header; v3: the latest
 * time in its word, which an older build would not raise): another
 * build's table is left to its children. */
#define RETAINED_KEY "mod_authn_apikey-failure-table-v3"
/* Clients the table follows at once: 128 KiB.  A client pushed out by
 * others starts afresh, which only a large botnet achieves, and each of
 * its addresses still has its own budget. */
#define FAILURE_SLOTS 16384

static apikey_failure_table_t *table;

int apikey_failure_init(server_rec *s)
{
    apr_size_t size = apikey_failure_table_size(FAILURE_SLOTS);
    unsigned char seed[APIKEY_FAILURE_SEED_LEN];
    apikey_shm_t shm;
    apr_status_t rv;
    int adopted;

    table = NULL;
    /* Kept across restarts (see apikey_limits.c). */
    rv = apikey_shm_get(s, NULL, RETAINED_KEY, size, FAILURE_SLOTS, &shm);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00035) "cannot create the failure "
                                         "table (%" APR_SIZE_T_FMT " bytes)",
                     size);
        return -1;
    }
    if (apikey_shm_seed(s, "the failure table", seed)) {
        return -1;
    }
    table = apikey_failure_table_init(shm.base, size, FAILURE_SLOTS, seed,
                                      &adopted);
    apikey_wipe(seed, sizeof(seed));
    return table ? 0 : -1;
}

/* The bytes that name r's client: 4 for IPv4 (also IPv4-mapped IPv6), the
 * first 8 for IPv6.  Returns the length, 0 when there is no address. */
static apr_size_t client_bytes(const request_rec *r, unsigned char out[9])
{
    const apr_sockaddr_t *a = r->useragent_addr;

    if (!a) {
        return 0;
    }
#if APR_HAVE_IPV6
    if (a->family == AF_INET6) {
        const unsigned char *b = a->ipaddr_ptr;

        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a->ipaddr_ptr)) {
            memcpy(out, b + 12, 4);
            return 4;
        }
        out[0] = 6; /* never equal to the 4 bytes of an IPv4 address */
        memcpy(out + 1, b, 8);
        return 9;
    }
#endif
    if (a->family == AF_INET) {
        memcpy(out, a->ipaddr_ptr, 4);
        return 4;
    }
    return 0;
}

const char *apikey_failure_client_name(request_rec *r)
{
    unsigned char b[9];
    apr_size_t n = client_bytes(r, b);
    char text[64];

    if (n == 4) {
        return apr_psprintf(r->pool, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    }
#if APR_HAVE_IPV6
    if (n == 9) {
        unsigned char a[16] = {0};

        memcpy(a, b + 1, 8);
        if (inet_ntop(AF_INET6, a, text, sizeof(text))) {
            return apr_pstrcat(r->pool, text, "/64", NULL);
        }
    }
#endif
    (void)text;
    return NULL;
}

/* The limit where AuthAPIKeyFailureLimit is not set: generous enough for
 * a whole office behind one address mistyping keys, tight enough that a
 * client forging well-formed keys (the checksum stops typos, not forgers)
 * gets a database query per 0.5 s once 60 are spent: 120/m burst=60. */
static const apikey_rate_t default_limit = {APIKEY_FAILURE_DEFAULT_INTERVAL,
                                            APIKEY_FAILURE_DEFAULT_BURST, 120,
                                            60 * 1000000LL};

static const apikey_rate_t *limit_of(const apikey_dir_conf_t *conf)
{
    const apikey_rate_t *rate =
        conf->failure_rate ? conf->failure_rate : &default_limit;

    return table && rate->interval_us > 0 ? rate : NULL;
}

int apikey_failure_check(request_rec *r, const apikey_dir_conf_t *conf,
                         long long *retry_us)
{
    const apikey_rate_t *rate = limit_of(conf);
    unsigned char addr[9];
    apr_size_t len;

    if (!rate || !(len = client_bytes(r, addr))) {
        return 0;
    }
    return apikey_failure_table_blocked(table, addr, len, rate, apr_time_now(),
                                        retry_us);
}

void apikey_failure_refused(request_rec *r, long long retry_us)
{
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)((retry_us + APR_USEC_PER_SEC - 1)
                                              / APR_USEC_PER_SEC)));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  APIKEY_LOGNO(00036) "refused without a look-up: client "
                                      "%s has too many failed "
                                      "authentications (AuthAPIKeyFailureLimit"
                                      "), retry in %" APR_INT64_T_FMT " ms",
                  r->useragent_ip, (apr_int64_t)(retry_us / 1000));
}

static int is_guess(apikey_result_t result)
{
    switch (result) {
        case APIKEY_RESULT_MALFORMED:
        case APIKEY_RESULT_UNKNOWN:
        case APIKEY_RESULT_EXPIRED:
        case APIKEY_RESULT_NOT_YET_VALID:
        case APIKEY_RESULT_REVOKED:
        case APIKEY_RESULT_DISABLED:
        case APIKEY_RESULT_CONFLICT:
            return 1;
        default:
            return 0;
    }
}

void apikey_failure_record(request_rec *r, const apikey_dir_conf_t *conf,
                           apikey_result_t result)
{
    const apikey_rate_t *rate = limit_of(conf);
    unsigned char addr[9];
    apr_size_t len;

    if (!rate || !is_guess(result) || !(len = client_bytes(r, addr))) {
        return;
    }
    if (apikey_failure_table_record(table, addr, len, rate, apr_time_now())
        == 0) {
        /* Once per spell: the next requests are refused before they can
         * fail again. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      APIKEY_LOGNO(00037) "client %s reached "
                                          "AuthAPIKeyFailureLimit: its "
                                          "requests get 429 until its "
                                          "budget of failures refills",
                      r->useragent_ip);
    }
}
