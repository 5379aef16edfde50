/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The apikey-status handler (see apikey_status.h).  It only reads the
 * table; every string shown is escaped for HTML or JSON. */

#include "apikey_status.h"
#include "apikey_json.h"
#include "apikey_version.h"
#include "apikey_config.h"
#include "apikey_logno.h"
#include "apikey_budget.h"
#include "apikey_limits.h"
#include "apikey_counters.h"
#include "apikey_time.h"
#include "apikey_usage.h"

#include "apr_strings.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_script.h"

APLOG_USE_MODULE(authn_apikey);

#define SEC 1000000LL

/* What the page says of one key, worked out from its slot at now. */
typedef struct {
    apikey_quota_view_t v;
    long long rate_remaining; /* -1: no rate limit */
    unsigned long quota_used;
    long long quota_reset; /* seconds; -1: no quota */
    unsigned long quota_remaining;
    unsigned long lease_units; /* leased quota: units this server holds */
} row_t;

static void work_out(const apikey_quota_view_t *v, long long now, row_t *row)
{
    row->v = *v;
    row->rate_remaining = -1;
    row->quota_reset = -1;
    row->quota_used = 0;
    row->lease_units = 0;
    if (v->rate_interval_us > 0) {
        long long tau = v->rate_interval_us * (v->burst - 1);
        long long tat = v->tat > now ? v->tat : now;
        long long left = (now + tau - tat) / v->rate_interval_us + 1;

        row->rate_remaining = left < 0 ? 0 : left > v->burst ? v->burst : left;
    }
    if (v->quota_limit) {
        /* A count of a later period than now's (the clock stepped back)
         * is still the one charged. */
        if (v->quota_period >= apikey_period_index(v->period, now)) {
            row->quota_used = v->quota_count;
        }
        row->quota_remaining = row->quota_used >= v->quota_limit
                                   ? 0
                                   : v->quota_limit - row->quota_used;
        if (v->leased) {
            /* What this server may still admit, as far as it knows: the
             * units nobody has claimed and those it holds. */
            unsigned long spoken;

            if (v->lease_period >= apikey_period_index(v->period, now)) {
                row->lease_units = v->lease_units;
            }
            spoken = v->cluster_claimed > row->lease_units
                         ? v->cluster_claimed - row->lease_units
                         : 0;
            row->quota_remaining =
                spoken >= v->quota_limit ? 0 : v->quota_limit - spoken;
        }
        row->quota_reset =
            (apikey_period_end(v->period, now) - now + SEC - 1) / SEC;
    }
}

static const char *num(apr_pool_t *p, long long v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)v);
}

static const char *iso(apr_pool_t *p, long long us)
{
    char buf[APIKEY_TIME_ISO_LEN];

    apikey_time_format(us / SEC, buf);
    return apr_pstrdup(p, buf);
}

static void json_row(request_rec *r, const row_t *row, int first)
{
    apr_pool_t *p = r->pool;

    ap_rvputs(
        r, first ? "" : ",", "\n  {\"id\":", apikey_json_str(p, row->v.id),
        /* Longer than its slot keeps: "id" is its start. */
        row->v.id_cut ? ",\"id_cut\":true" : "",
        ",\"owner\":", apikey_json_str(p, row->v.owner),
        /* Whose budget, and which: an owner's slot's id is the owner. */
        ",\"by\":\"", row->v.budget & APIKEY_BUDGET_OWNER ? "owner" : "key",
        "\",\"budget\":",
        apikey_json_str(p, apikey_budget_name(p, row->v.budget)),
        ",\"last_used\":", apikey_json_str(p, iso(p, row->v.last_used)), NULL);
    if (row->rate_remaining >= 0) {
        ap_rvputs(r, ",\"rate\":{\"interval_ms\":",
                  num(p, row->v.rate_interval_us / 1000),
                  ",\"burst\":", num(p, row->v.burst),
                  ",\"remaining\":", num(p, row->rate_remaining), "}", NULL);
    }
    if (row->quota_reset >= 0) {
        ap_rvputs(
            r, ",\"quota\":{\"limit\":", num(p, (long long)row->v.quota_limit),
            ",\"period\":\"", apikey_period_name(row->v.period),
            "\",\"used\":", num(p, (long long)row->quota_used),
            ",\"remaining\":", num(p, (long long)row->quota_remaining),
            ",\"reset\":", num(p, row->quota_reset), NULL);
        if (row->v.leased) {
            /* A cluster-wide quota: "used" is this server's share. */
            ap_rvputs(r, ",\"store\":\"dbd\",\"held\":",
                      num(p, (long long)row->lease_units),
                      ",\"cluster_claimed\":",
                      num(p, (long long)row->v.cluster_claimed), NULL);
        }
        ap_rputs("}", r);
    }
    ap_rputs("}", r);
}

static void html_row(request_rec *r, const row_t *row)
{
    apr_pool_t *p = r->pool;
    const char *budget = apikey_budget_name(p, row->v.budget);

    ap_rvputs(r, "<tr><td>", ap_escape_html(p, row->v.id),
              row->v.id_cut ? "&hellip;" : "",
              row->v.budget & APIKEY_BUDGET_OWNER ? " (all the owner's keys)"
                                                  : "",
              budget ? " budget " : "", budget ? ap_escape_html(p, budget) : "",
              "</td><td>", NULL);
    ap_rvputs(r, ap_escape_html(p, apikey_utf8_mend(p, row->v.owner)),
              "</td><td>", iso(p, row->v.last_used), "</td><td>", NULL);
    if (row->rate_remaining >= 0) {
        /* The bar: how much of the burst is spent. */
        ap_rvputs(r, num(p, row->rate_remaining), " of ", num(p, row->v.burst),
                  " (one per ", num(p, row->v.rate_interval_us / 1000),
                  " ms) <meter min=\"0\" max=\"", num(p, row->v.burst),
                  "\" value=\"", num(p, row->v.burst - row->rate_remaining),
                  "\">burst spent</meter>", NULL);
    }
    ap_rputs("</td><td>", r);
    if (row->quota_reset >= 0) {
        ap_rvputs(r, num(p, (long long)row->quota_used), " of ",
                  num(p, (long long)row->v.quota_limit), " per ",
                  apikey_period_name(row->v.period), ", resets in ",
                  num(p, row->quota_reset), " s <meter min=\"0\" max=\"",
                  num(p, (long long)row->v.quota_limit), "\" value=\"",
                  num(p, (long long)row->quota_used), "\">quota used</meter>",
                  NULL);
        if (row->v.leased) {
            ap_rvputs(r, " (this server's share of a cluster-wide quota; ",
                      num(p, (long long)row->lease_units),
                      " units held, the cluster had claimed ",
                      num(p, (long long)row->v.cluster_claimed), ")", NULL);
        }
    }
    ap_rputs("</td></tr>\n", r);
}

/* Slots of the limit table in use: the count its claims keep, which the
 * 80 % warning reads too. */
static unsigned used_slots(apikey_limit_table_t *t)
{
    return t ? apikey_limit_table_used(t) : 0;
}

/* ?format=prometheus: the text exposition format a scrape expects. */
static int prometheus(request_rec *r, apikey_limit_table_t *t)
{
    apr_pool_t *p = r->pool;
    unsigned n = t ? apikey_limit_table_slots(t) : 0, used = used_slots(t);
    apikey_counters_t st;
    int i;

    apikey_counters_get(&st);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    ap_rputs("# HELP apikey_build_info The version of mod_authn_apikey.\n"
             "# TYPE apikey_build_info gauge\n"
             "apikey_build_info{version=\"" APIKEY_VERSION "\"} 1\n"
             "# HELP apikey_requests_total Requests by what became of their "
             "API key.\n# TYPE apikey_requests_total counter\n",
             r);
    for (i = APIKEY_RESULT_OK; i < APIKEY_RESULTS; i++) {
        ap_rvputs(r, "apikey_requests_total{result=\"",
                  apikey_result_str((apikey_result_t)i), "\"} ",
                  num(p, (long long)st.results[i]), "\n", NULL);
    }
    ap_rvputs(r,
              "# HELP apikey_cache_lookups_total Look-up cache answers.\n"
              "# TYPE apikey_cache_lookups_total counter\n"
              "apikey_cache_lookups_total{answer=\"hit\"} ",
              num(p, (long long)st.cache_hit),
              "\napikey_cache_lookups_total{answer=\"negative\"} ",
              num(p, (long long)st.cache_negative),
              "\napikey_cache_lookups_total{answer=\"miss\"} ",
              num(p, (long long)st.cache_miss),
              "\n# HELP apikey_db_errors_total Key look-ups the database "
              "could not answer.\n# TYPE apikey_db_errors_total counter\n"
              "apikey_db_errors_total ",
              num(p, (long long)st.db_errors),
              "\n# HELP apikey_limit_slots Slots of the limit table.\n"
              "# TYPE apikey_limit_slots gauge\n"
              "apikey_limit_slots{state=\"used\"} ",
              num(p, used), "\napikey_limit_slots{state=\"free\"} ",
              num(p, n - used),
              "\n# HELP apikey_quota_store_statements_total Statements run "
              "against the cluster-wide quota store (claims and give-backs)."
              "\n# TYPE apikey_quota_store_statements_total counter\n"
              "apikey_quota_store_statements_total ",
              num(p, (long long)st.quota_statements),
              "\n# HELP apikey_quota_store_claims_total Lease claims.\n"
              "# TYPE apikey_quota_store_claims_total counter\n"
              "apikey_quota_store_claims_total ",
              num(p, (long long)st.quota_claims),
              "\n# HELP apikey_quota_store_errors_total Claims and give-backs "
              "the quota store could not answer.\n"
              "# TYPE apikey_quota_store_errors_total counter\n"
              "apikey_quota_store_errors_total ",
              num(p, (long long)st.quota_errors), "\n", NULL);
    return OK;
}

/* ?auto: "Name: value" lines, as mod_status's ?auto. */
static int automatic(request_rec *r, apikey_limit_table_t *t)
{
    apr_pool_t *p = r->pool;
    unsigned n = t ? apikey_limit_table_slots(t) : 0, used = used_slots(t);
    apikey_counters_t st;
    int i;

    apikey_counters_get(&st);
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_rputs("Version: " APIKEY_VERSION "\n", r);
    for (i = APIKEY_RESULT_OK; i < APIKEY_RESULTS; i++) {
        ap_rvputs(r, "Requests_", apikey_result_str((apikey_result_t)i), ": ",
                  num(p, (long long)st.results[i]), "\n", NULL);
    }
    ap_rvputs(
        r, "CacheHits: ", num(p, (long long)st.cache_hit),
        "\nCacheNegativeHits: ", num(p, (long long)st.cache_negative),
        "\nCacheMisses: ", num(p, (long long)st.cache_miss),
        "\nDatabaseErrors: ", num(p, (long long)st.db_errors),
        "\nLimitSlotsUsed: ", num(p, used),
        "\nLimitSlotsFree: ", num(p, n - used),
        "\nQuotaStoreClaims: ", num(p, (long long)st.quota_claims),
        "\nQuotaStoreStatements: ", num(p, (long long)st.quota_statements),
        "\nQuotaStoreUnitsBack: ", num(p, (long long)st.quota_units_back),
        "\nQuotaStoreErrors: ", num(p, (long long)st.quota_errors), "\n", NULL);
    return OK;
}

/* Every key of the server's store that the usage table holds (with
 * AuthAPIKeyUsageSync on): limits or none, their requests since the start
 * and last use. */
static void seen_keys(request_rec *r, const apikey_srv_conf_t *srv, int json)
{
    apikey_usage_table_t *u = apikey_usage_table();
    apr_pool_t *p = r->pool;
    unsigned i, n = u ? apikey_usage_table_slots(u) : 0, shown = 0;

    if (!u) {
        return;
    }
    ap_rputs(json ? ",\"seen\":["
                  : "<h2>Keys seen since the start</h2>\n<table border=\"1\">"
                    "\n<tr><th>key id</th><th>last used</th><th>admitted</th>"
                    "<th>refused</th></tr>\n",
             r);
    for (i = 0; i < n; i++) {
        apr_uint32_t store, query;
        char id[APIKEY_USAGE_ID_MAX + 1];
        apr_uint64_t adm, ref;
        long long last;

        if (!apikey_usage_table_entry(u, i, &store, &query, id, &adm, &ref,
                                      &last)
            || store != srv->store_id) {
            continue;
        }
        if (json) {
            ap_rvputs(r, shown ? "," : "",
                      "\n  {\"id\":", apikey_json_str(p, id),
                      ",\"last_used\":", apikey_json_str(p, iso(p, last * SEC)),
                      ",\"admitted\":", num(p, (long long)adm),
                      ",\"refused\":", num(p, (long long)ref), "}", NULL);
        }
        else {
            ap_rvputs(r, "<tr><td>", ap_escape_html(p, id), "</td><td>",
                      iso(p, last * SEC), "</td><td>", num(p, (long long)adm),
                      "</td><td>", num(p, (long long)ref), "</td></tr>\n",
                      NULL);
        }
        shown++;
    }
    if (json) {
        ap_rvputs(r, "\n],\"seen_dropped\":",
                  num(p, (long long)apikey_usage_table_dropped(u)), NULL);
    }
    else {
        ap_rvputs(r, "</table>\n<p>", num(p, shown),
                  " keys seen; requests not counted for want of room: ",
                  num(p, (long long)apikey_usage_table_dropped(u)), ".</p>\n",
                  NULL);
    }
}

int apikey_status_handler(request_rec *r)
{
    const apikey_dir_conf_t *conf;
    const apikey_srv_conf_t *srv;
    apikey_limit_table_t *t;
    long long now = apr_time_now();
    int json, first = 1;
    unsigned i, n, used = 0;

    if (!r->handler || strcmp(r->handler, "apikey-status")) {
        return DECLINED;
    }
    /* SetHandler is FileInfo: any tenant may set it in .htaccess.  The
     * page serves only where the server's own configuration says. */
    conf = ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    if (conf->status != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00052) "SetHandler apikey-status refused: "
                                          "it serves only where the server "
                                          "configuration (not .htaccess) "
                                          "says AuthAPIKeyStatus On");
        return HTTP_NOT_FOUND;
    }
    srv = ap_get_module_config(r->server->module_config, &authn_apikey_module);
    t = apikey_limits_table();
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (r->args && ap_strstr_c(r->args, "format=prometheus")) {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        return r->header_only ? OK : prometheus(r, t);
    }
    if (r->args && !strcmp(r->args, "auto")) {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        return r->header_only ? OK : automatic(r, t);
    }
    json = r->args && ap_strstr_c(r->args, "format=json") != NULL;
    ap_set_content_type(r,
                        json ? "application/json" : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    n = t ? apikey_limit_table_slots(t) : 0;
    if (json) {
        ap_rvputs(r, "{\"version\":\"" APIKEY_VERSION "\",\"generated\":",
                  apikey_json_str(r->pool, iso(r->pool, now)),
                  ",\"slots\":", num(r->pool, n),
                  ",\"slots_used\":", num(r->pool, used_slots(t)),
                  ",\"keys\":[", NULL);
    }
    else {
        ap_rputs("<!DOCTYPE html>\n<html><head><title>API key usage</title>"
                 "</head><body>\n<h1>API key usage</h1>\n"
                 "<p>mod_authn_apikey " APIKEY_VERSION "</p>\n"
                 "<table border=\"1\">"
                 "\n<tr><th>key id</th><th>owner</th><th>last used</th>"
                 "<th>rate (left in burst)</th><th>quota</th></tr>\n",
                 r);
    }
    for (i = 0; i < n; i++) {
        apikey_quota_view_t v;
        row_t row;

        /* Only the keys of this virtual host's store: another host's
         * tenants, ids and usage are none of its business. */
        if (!apikey_limit_table_view(t, i, &v) || v.store != srv->store_id) {
            continue;
        }
        used++;
        work_out(&v, now, &row);
        if (json) {
            json_row(r, &row, first);
            first = 0;
        }
        else {
            html_row(r, &row);
        }
    }
    if (json) {
        ap_rvputs(r, "\n],\"used\":", num(r->pool, used), NULL);
        seen_keys(r, srv, json);
        ap_rputs("}\n", r);
    }
    else {
        ap_rvputs(r, "</table>\n<p>", num(r->pool, used), " of ",
                  num(r->pool, n), " slots in use.</p>\n", NULL);
        seen_keys(r, srv, json);
        ap_rputs("</body></html>\n", r);
    }
    return OK;
}
