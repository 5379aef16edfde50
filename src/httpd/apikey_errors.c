/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The bodies of the module's refusals (see apikey_errors.h).
 *
 * httpd writes a custom response (ap_custom_response) as text after
 * setting "text/html; charset=iso-8859-1", and before that it moves
 * err_headers_out into headers_out, where `Header always` (which edits
 * err_headers_out from a filter of the error path) no longer finds them.
 * A filter of ours, ahead of mod_headers', puts both right. */

#include "apikey_errors.h"
#include "apikey_config.h"
#include "apikey_json.h"

#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_core.h"
#include "util_filter.h"

APLOG_USE_MODULE(authn_apikey);

#define FILTER_NAME "APIKEY_ERROR"
/* In r->notes, where the module set r's body: "STATUS CONTENT-TYPE". */
#define NOTE "apikey-error-body"

#define TEXT_TYPE "text/plain; charset=utf-8"
#define JSON_TYPE "application/problem+json"

static const struct {
    int status;
    const char *error; /* RFC 6750's code, or NULL */
    const char *detail;
    int text; /* a sentence with the text format too */
} problems[APIKEY_PROBLEM_COUNT] = {
    [APIKEY_PROBLEM_TWO_KEYS] = {HTTP_BAD_REQUEST, "invalid_request",
                                 "The request carries more than one API "
                                 "key.",
                                 0},
    [APIKEY_PROBLEM_NO_KEY] = {HTTP_UNAUTHORIZED, NULL,
                               "This resource needs an API key.", 0},
    [APIKEY_PROBLEM_BAD_KEY] = {HTTP_UNAUTHORIZED, "invalid_token",
                                "The API key is not valid.", 0},
    [APIKEY_PROBLEM_TLS] = {HTTP_FORBIDDEN, NULL,
                            "API keys must be sent over HTTPS; this request "
                            "used plain HTTP.",
                            1},
    [APIKEY_PROBLEM_NOT_HERE] = {HTTP_FORBIDDEN, NULL,
                                 "This API key may not be used for this "
                                 "request.",
                                 0},
    [APIKEY_PROBLEM_SCOPE] = {HTTP_FORBIDDEN, "insufficient_scope",
                              "This API key lacks a scope this resource "
                              "needs.",
                              0},
    [APIKEY_PROBLEM_RATE] = {HTTP_TOO_MANY_REQUESTS, NULL,
                             "Too many requests for this API key; see "
                             "Retry-After.",
                             1},
    [APIKEY_PROBLEM_QUOTA] = {HTTP_TOO_MANY_REQUESTS, NULL,
                              "This API key's quota is used up; see "
                              "Retry-After.",
                              1},
    [APIKEY_PROBLEM_FAILURES] = {HTTP_TOO_MANY_REQUESTS, NULL,
                                 "Too many failed attempts from this "
                                 "address; see Retry-After.",
                                 1},
    [APIKEY_PROBLEM_STORE] = {HTTP_SERVICE_UNAVAILABLE, NULL,
                              "The API key could not be checked now; see "
                              "Retry-After.",
                              0},
    [APIKEY_PROBLEM_UNCOUNTED] = {HTTP_SERVICE_UNAVAILABLE, NULL,
                                  "This request cannot be counted against "
                                  "its limits now; see Retry-After.",
                                  0},
};

/* RFC 9457: no type of our own (about:blank), so the title is the
 * status's phrase; the RFC 6750 code and the wait as extension members. */
static const char *problem_json(request_rec *r, apikey_problem_t why,
                                const char *retry_after, const char *scope)
{
    apr_pool_t *p = r->pool;
    int status = problems[why].status;
    /* "429 Too Many Requests": the phrase after the code. */
    const char *line = ap_get_status_line(status);
    const char *body =
        apr_psprintf(p,
                     "{\"type\":\"about:blank\",\"title\":%s,\"status\":%d,"
                     "\"detail\":%s",
                     apikey_json_str(p, strlen(line) > 4 ? line + 4 : line),
                     status, apikey_json_str(p, problems[why].detail));

    if (problems[why].error) {
        body = apr_pstrcat(p, body, ",\"error\":\"", problems[why].error, "\"",
                           NULL);
    }
    if (scope) {
        body = apr_pstrcat(p, body, ",\"scope\":", apikey_json_str(p, scope),
                           NULL);
    }
    if (retry_after) {
        body = apr_pstrcat(p, body, ",\"retry_after\":", retry_after, NULL);
    }
    return apr_pstrcat(p, body, "}\n", NULL);
}

void apikey_errors_answer(request_rec *r, apikey_problem_t why,
                          const char *retry_after, const char *scope)
{
    const apikey_dir_conf_t *conf =
        ap_get_module_config(r->per_dir_config, &authn_apikey_module);
    int json = conf->error_format == APIKEY_ERRORS_JSON;
    int status = problems[why].status;

    if (!json && !problems[why].text) {
        return;
    }
    /* The admin's ErrorDocument for the status wins, as does whatever
     * answer r already has for it. */
    if (ap_response_code_string(r, ap_index_of_response(status))) {
        return;
    }
    ap_custom_response(
        r, status,
        json ? problem_json(r, why, retry_after, scope)
             : apr_pstrcat(r->pool, problems[why].detail, "\n", NULL));
    apr_table_setn(
        r->notes, NOTE,
        apr_psprintf(r->pool, "%d %s", status, json ? JSON_TYPE : TEXT_TYPE));
}

/* The headers the module sets on a refusal: for `Header always`. */
static const char *const moved[] = {
    "Retry-After",      "RateLimit-Policy",    "RateLimit",
    "RateLimit-Limit",  "RateLimit-Remaining", "RateLimit-Reset",
    "WWW-Authenticate", "Proxy-Authenticate",  NULL};

static int add_to(void *table, const char *key, const char *value)
{
    apr_table_addn(table, key, value);
    return 1;
}

static apr_status_t error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *note = apr_table_get(r->notes, NOTE);
    int i;

    for (i = 0; moved[i]; i++) {
        if (apr_table_get(r->headers_out, moved[i])) {
            apr_table_do(add_to, r->err_headers_out, r->headers_out, moved[i],
                         NULL);
            apr_table_unset(r->headers_out, moved[i]);
        }
    }
    /* Our body, for the status it was set for (not a later error's). */
    if (note && atoi(note) == r->status && strlen(note) > 4) {
        ap_set_content_type(r, note + 4);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void apikey_errors_insert_filter(request_rec *r)
{
    if (apr_table_get(r->notes, NOTE) || ap_auth_type(r)) {
        ap_add_output_filter(FILTER_NAME, NULL, r, r->connection);
    }
}

void apikey_errors_register(void)
{
    /* A resource filter runs before mod_headers' content-set one. */
    ap_register_output_filter(FILTER_NAME, error_filter, NULL,
                              AP_FTYPE_RESOURCE);
}

const char *apikey_errors_set_format(cmd_parms *cmd, void *mconfig,
                                     const char *how)
{
    apikey_dir_conf_t *conf = mconfig;

    if (!strcasecmp(how, "text")) {
        conf->error_format = APIKEY_ERRORS_TEXT;
    }
    else if (!strcasecmp(how, "json")) {
        conf->error_format = APIKEY_ERRORS_JSON;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "AuthAPIKeyErrorFormat '%s': expected text or "
                            "json",
                            how);
    }
    return NULL;
}
