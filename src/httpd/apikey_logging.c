/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Log fields, result counters and the error-log guard (see
 * apikey_logging.h). */

#include "apikey_logging.h"
#include "apikey_config_keys.h"
#include "apikey_key.h"
#include "apikey_limits.h"
#include "apikey_request.h"
#include "apikey_counters.h"
#include "apikey_time.h"
#include "apikey_usage.h"

#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "mod_log_config.h"

/* Modules of httpd that write the request itself to the error log: core
 * (the request line, at trace5, as it reads it) and http (every request
 * header, at trace4).  Their indexes, or -1. */
static int core_module_index = -1, http_module_index = -1;
/* Whether any server's LogLevel has either module at trace4 or above: if
 * none has, a request that follows its server's LogLevel needs no cap. */
static int any_server_traces;

static const request_rec *original(const request_rec *r)
{
    while (r->prev || r->main) {
        r = r->prev ? r->prev : r->main;
    }
    return r;
}

static const char *num(apr_pool_t *p, long long v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)v);
}

static int query_source(const apikey_source_t *src, int n, const char *name,
                        size_t len)
{
    int k;

    for (k = 0; k < n; k++) {
        if (src[k].kind == APIKEY_SOURCE_QUERY
            && apikey_param_name_is(name, len, src[k].name)) {
            return 1;
        }
    }
    return 0;
}

struct secrets {
    const apikey_source_t *src;
    int n;
};

/* A configured source's value, or anything shaped like one of our keys (a
 * client sending it where it is not read): the checksum tells it from
 * other parameters. */
static int secret_param(const char *name, size_t nlen, const char *val,
                        size_t vlen, void *ctx)
{
    const struct secrets *s = ctx;

    return query_source(s->src, s->n, name, nlen)
           || apikey_key_check(val, vlen) == APIKEY_KEY_OK;
}

/* The request line with the value of every query-string source masked,
 * and of every parameter holding a well-formed key: %r for sites that take
 * keys in the query (with AuthAPIKeyHideCredentials On the module has
 * removed those it reads already). */
static const char *redacted_request(request_rec *r)
{
    const request_rec *o = original(r);
    const apikey_dir_conf_t *conf =
        ap_get_module_config(o->per_dir_config, &authn_apikey_module);
    const char *line = o->the_request;
    struct secrets s;
    char *out;

    if (!line || !strchr(line, '?')) {
        return line;
    }
    s.src = apikey_config_sources(conf, &s.n);
    out = apr_palloc(r->pool, apikey_request_redact_size(line));
    apikey_request_redact(line, secret_param, &s, out);
    return out;
}

/* %{FIELD}K.  mod_log_config prints "-" for NULL or "", and escapes
 * nothing itself for module fields: every value goes through
 * ap_escape_logitem. */
static const char *log_field(request_rec *r, char *field)
{
    const apikey_request_t *rq = apikey_request_find(r);
    const apikey_record_t *key = rq ? rq->key : NULL;
    const apikey_charge_t *c = rq && rq->charged ? &rq->charge : NULL;
    const char *v = NULL;
    long long limit = 0, remaining = 0, reset_us = 0;
    int bound;

    if (!strcmp(field, "request")) {
        return ap_escape_logitem(r->pool, redacted_request(r));
    }
    if (!rq) {
        return NULL;
    }
    bound = c && apikey_limits_bound(rq, &limit, &remaining, &reset_us);
    if (!strcmp(field, "id")) {
        v = key ? key->id : NULL;
    }
    else if (!strcmp(field, "owner")) {
        v = key ? key->owner : NULL;
    }
    else if (!strcmp(field, "scopes")) {
        v = key ? key->scopes : NULL;
    }
    else if (!strcmp(field, "result")) {
        v = apikey_result_str(rq->result);
    }
    else if (!strcmp(field, "source")) {
        v = rq->result != APIKEY_RESULT_NONE
                    && rq->result != APIKEY_RESULT_MISSING
                    && rq->result != APIKEY_RESULT_TLS_REQUIRED
                ? apikey_source_kind_str(rq->source)
                : NULL;
    }
    else if (!strcmp(field, "grace")) {
        if (key && key->has_grace_until) {
            char iso[APIKEY_TIME_ISO_LEN];

            apikey_time_format(key->grace_until, iso);
            v = apr_pstrdup(r->pool, iso);
        }
    }
    else if (bound && !strcmp(field, "limit")) {
        v = num(r->pool, limit);
    }
    else if (bound && !strcmp(field, "remaining")) {
        v = num(r->pool, remaining);
    }
    else if (bound && !strcmp(field, "reset")) {
        v = num(r->pool, (reset_us + 999999) / 1000000);
    }
    return v ? ap_escape_logitem(r->pool, v) : NULL;
}

void apikey_logging_pre_config(apr_pool_t *pconf)
{
    APR_OPTIONAL_FN_TYPE(ap_register_log_handler) *reg =
        APR_RETRIEVE_OPTIONAL_FN(ap_register_log_handler);

    /* Original request by default: fields stay right after an internal
     * redirect such as an ErrorDocument. */
    if (reg) {
        reg(pconf, "K", log_field, 1);
    }
}

static int traces(const struct ap_logconf *l, int index)
{
    return index >= 0 && ap_get_module_loglevel(l, index) >= APLOG_TRACE4;
}

int apikey_logging_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    module *core = ap_find_linked_module("core.c");
    module *http = ap_find_linked_module("http_core.c");

    core_module_index = core ? core->module_index : -1;
    http_module_index = http ? http->module_index : -1;
    any_server_traces = 0;
    for (; s; s = s->next) {
        any_server_traces |= traces(&s->log, core_module_index)
                             | traces(&s->log, http_module_index);
    }
    (void)pconf;
    (void)plog;
    (void)ptemp;
    return OK;
}

/* Caps one module at trace3 for this request, when it is above. */
static int cap(request_rec *r, struct ap_logconf **l, int index)
{
    if (index < 0 || ap_get_request_module_loglevel(r, index) < APLOG_TRACE4) {
        return 0;
    }
    if (!*l) {
        *l = ap_new_log_config(r->pool, r->log ? r->log : &r->server->log);
    }
    ap_set_module_loglevel(r->pool, *l, index, APLOG_TRACE3);
    return 1;
}

int apikey_logging_guard(request_rec *r)
{
    struct ap_logconf *l = NULL;

    /* The request logs as its server does (no module set it otherwise for
     * the request or its connection), and no server traces: no cap. */
    if (!any_server_traces && !r->log && !r->connection->log) {
        return DECLINED;
    }
    if (cap(r, &l, core_module_index) | cap(r, &l, http_module_index)) {
        r->log = l;
    }
    return DECLINED;
}

int apikey_logging_count(request_rec *r)
{
    const apikey_request_t *rq = apikey_request_find(r);

    if (rq) {
        apikey_counters_result(rq->result);
        apikey_usage_count(r, rq);
    }
    return DECLINED;
}
