/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Whether a request came over TLS, and AuthAPIKeyRequireTLS (see
 * apikey_tls.h). */

#include "apikey_tls.h"
#include "apikey_logno.h"

#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "http_ssl.h"
#include "mod_ssl.h"

APLOG_USE_MODULE(authn_apikey);

static APR_OPTIONAL_FN_TYPE(ssl_is_https) * is_https;

void apikey_tls_init(void)
{
    is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
}

/* Did the request arrive over TLS?  The connection says so (mod_ssl, or
 * whoever terminates TLS in this process); never the environment, which
 * mod_setenvif in a tenant's .htaccess can set.  Behind a TLS-terminating
 * proxy, only a proxy the server configuration trusts
 * (AuthAPIKeyTrustedProxy, matched against the connection's peer, not the
 * client address mod_remoteip may put in its place) vouches for the
 * client's side with X-Forwarded-Proto; its last element is the one that
 * proxy set. */
int apikey_tls_over(request_rec *r)
{
    const apikey_srv_conf_t *srv;
    const char *proto, *last;
    int i;

#if AP_MODULE_MAGIC_AT_LEAST(20120211, 102)
    if (ap_ssl_conn_is_ssl(r->connection)) {
        return 1;
    }
#else
    if (is_https && is_https(r->connection)) {
        return 1;
    }
#endif
    srv = ap_get_module_config(r->server->module_config, &authn_apikey_module);
    if (!srv->tls_proxies
        || !(proto = apr_table_get(r->headers_in, "X-Forwarded-Proto"))) {
        return 0;
    }
    for (i = 0; i < srv->tls_proxies->nelts; i++) {
        if (apr_ipsubnet_test(
                APR_ARRAY_IDX(srv->tls_proxies, i, apr_ipsubnet_t *),
                r->connection->client_addr)) {
            last = strrchr(proto, ',');
            last = last ? last + 1 : proto;
            while (*last == ' ' || *last == '\t') {
                last++;
            }
            return !ap_cstr_casecmpn(last, "https", 5)
                   && (last[5] == '\0' || last[5] == ' ' || last[5] == '\t');
        }
    }
    return 0;
}

int apikey_tls_ok(request_rec *r, const apikey_dir_conf_t *conf)
{
    if (conf->require_tls != 1 || apikey_tls_over(r)) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  APIKEY_LOGNO(00016) "refused: AuthAPIKeyRequireTLS is on "
                                      "and the request came over plain HTTP");
    return 0;
}
