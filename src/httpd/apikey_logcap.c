/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Log caps (see apikey_logcap.h).  A key is in the request until
 * authentication hides it, and after it when nobody protects the URL; some
 * modules trace it before that at levels an admin sets to debug something
 * else: core writes the request line (with its query) at trace5, mod_rewrite
 * the URLs it proxies and redirects to, query included, from trace1 on and
 * its conditions' input (%{QUERY_STRING}, %{HTTP:X-API-Key}) at trace4,
 * mod_http2 every request header at trace2, mod_ssl and mod_dumpio the raw
 * bytes at trace7, mod_proxy a nocanon URL with its query at trace1.  Those
 * levels are capped below that in every server's configuration (whose
 * module levels are copied first: virtual hosts share the main server's),
 * and again in a request's when a section's own LogLevel replaces it.  The
 * cost is nil unless a LogLevel above a cap is configured. */

#include "apikey_logcap.h"
#include "apikey_logno.h"

#include "http_config.h"
#include "http_core.h"
#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

typedef struct {
    const char *module; /* as ap_find_linked_module knows it */
    int cap;            /* the highest level kept */
    const char *why;
} cap_t;

static const cap_t caps[] = {
    {"core.c", APLOG_TRACE4, "the request line, query included, at trace5"},
    {"mod_rewrite.c", APLOG_DEBUG,
     "rewritten and proxied URLs with their query from trace1, RewriteCond "
     "input (%{QUERY_STRING}, %{HTTP:X-API-Key}) from trace4"},
    {"mod_http2.c", APLOG_TRACE1, "every request header from trace2"},
    {"mod_ssl.c", APLOG_TRACE6, "the decrypted bytes of requests at trace7"},
    {"mod_dumpio.c", APLOG_TRACE6, "the bytes of requests at trace7"},
    {"mod_proxy.c", APLOG_DEBUG,
     "a ProxyPass nocanon URL with its query at trace1"},
};
#define NCAPS (sizeof(caps) / sizeof(caps[0]))

/* Module indexes of the caps' modules (-1: not loaded). */
static int cap_index[NCAPS];

static const char *level_name(int level)
{
    static const char *const names[] = {"emerg",  "alert",  "crit",   "error",
                                        "warn",   "notice", "info",   "debug",
                                        "trace1", "trace2", "trace3", "trace4",
                                        "trace5", "trace6", "trace7", "trace8"};

    return level >= 0 && level < 16 ? names[level] : "?";
}

static int level_of(const struct ap_logconf *l, int index)
{
    return l->module_levels && l->module_levels[index] >= 0
               ? l->module_levels[index]
               : l->level;
}

static int exceeds(const struct ap_logconf *l)
{
    size_t i;

    for (i = 0; i < NCAPS; i++) {
        if (cap_index[i] >= 0 && level_of(l, cap_index[i]) > caps[i].cap) {
            return 1;
        }
    }
    return 0;
}

/* Caps l, whose module levels are l's own (not shared).  With s, says so
 * once per module (*told: the modules already told of). */
static void cap(apr_pool_t *p, struct ap_logconf *l, server_rec *s,
                unsigned *told)
{
    size_t i;

    for (i = 0; i < NCAPS; i++) {
        if (cap_index[i] >= 0 && level_of(l, cap_index[i]) > caps[i].cap) {
            if (s && !(*told & (1U << i))) {
                /* As LogLevel names it: "rewrite" for mod_rewrite.c. */
                const char *name = caps[i].module;
                size_t n;

                name += strncmp(name, "mod_", 4) ? 0 : 4;
                n = strlen(name) - 2;
                *told |= 1U << i;
                ap_log_error(
                    APLOG_MARK, APLOG_WARNING, 0, s,
                    APIKEY_LOGNO(00053) "LogLevel %.*s:%s would write "
                                        "API keys to the error log (%s): "
                                        "capped at %s",
                    (int)n, name, level_name(level_of(l, cap_index[i])),
                    caps[i].why, level_name(caps[i].cap));
            }
            ap_set_module_loglevel(p, l, cap_index[i], caps[i].cap);
        }
    }
}

void apikey_logcap_init(apr_pool_t *pconf, server_rec *s)
{
    server_rec *sp;
    unsigned told = 0;
    size_t i;

    for (i = 0; i < NCAPS; i++) {
        module *m = ap_find_linked_module(caps[i].module);

        cap_index[i] = m ? m->module_index : -1;
    }
    for (sp = s; sp; sp = sp->next) {
        if (exceeds(&sp->log)) {
            /* A copy of the module levels first: a virtual host without a
             * LogLevel of its own shares the main server's array. */
            struct ap_logconf *own = ap_new_log_config(pconf, &sp->log);

            cap(pconf, own, sp, &told);
            sp->log = *own;
        }
    }
    if (ap_find_linked_module("mod_log_forensic.c")) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     APIKEY_LOGNO(00054) "mod_log_forensic writes every "
                                         "request's headers and query, API "
                                         "keys included, to its ForensicLog: "
                                         "keep that file as secret as the "
                                         "keys, or unload the module");
    }
}

int apikey_logcap_request(request_rec *r)
{
    struct ap_logconf *own;

    /* The server's own is capped already (apikey_logcap_init). */
    if (!r->log || r->log == &r->server->log || !exceeds(r->log)) {
        return DECLINED;
    }
    /* A section's LogLevel: its configuration is shared by every request
     * of the section, so the capped one is the request's own. */
    own = ap_new_log_config(r->pool, r->log);
    cap(r->pool, own, NULL, NULL);
    r->log = own;
    return DECLINED;
}
