/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Whether a request came over TLS, and AuthAPIKeyRequireTLS (see
 * apikey_tls.h). */

#include "apikey_tls.h"
#include "apikey_logno.h"
#include "apikey_match.h"

#include "apr_strings.h"
#include "http_config.h"
#include "http_log.h"
#include "http_ssl.h"
#include "mod_ssl.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

APLOG_USE_MODULE(authn_apikey);

static APR_OPTIONAL_FN_TYPE(ssl_is_https) * is_https;
static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) * var_lookup;

void apikey_tls_init(void)
{
    is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    var_lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}

/* Whether the connection itself is TLS, and mod_ssl's variables of it:
 * httpd's own API where it has one (2.4.47 on; it asks whoever terminates
 * TLS in this process), mod_ssl's optional functions before. */
static int conn_is_tls(conn_rec *c)
{
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 102)
    return ap_ssl_conn_is_ssl(c);
#else
    return is_https && is_https(c);
#endif
}

static const char *ssl_var(request_rec *r, const char *name)
{
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 102)
    return ap_ssl_var_lookup(r->pool, r->server, r->connection, r, name);
#else
    return var_lookup ? var_lookup(r->pool, r->server, r->connection, r, name)
                      : NULL;
#endif
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

    if (conn_is_tls(r->connection)) {
        return 1;
    }
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

/* What a connection keeps of its client certificate: the SHA-256
 * fingerprint, once a request needed it and mod_ssl had verified it. */
typedef struct {
    char sha256[APIKEY_SHA256_HEX + 1];
} conn_cert_t;

/* The fingerprint of the DER form of a PEM certificate, into hex. */
static int pem_sha256(const char *pem, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int ok = x && X509_digest(x, EVP_sha256(), md, &n) && n == 32;

    X509_free(x);
    BIO_free(bio);
    if (!ok) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
    return 0;
}

/* Only a certificate mod_ssl verified counts (SSL_CLIENT_VERIFY SUCCESS;
 * not GENEROUS or FAILED:..., what SSLVerifyClient optional_no_ca lets
 * through without a good chain, expiry or revocation check).  Found once per
 * connection and kept on it; a connection without one is asked again by the
 * next request that needs it, since a renegotiation or TLS 1.3 post-handshake
 * authentication for a section's SSLVerifyClient may bring one later. */
const char *apikey_tls_client_cert(request_rec *r)
{
    conn_rec *c = r->connection;
    conn_cert_t *cc =
        ap_get_module_config(c->conn_config, &authn_apikey_module);
    const char *verify, *pem;
    char hex[APIKEY_SHA256_HEX + 1];

    if (cc) {
        return cc->sha256;
    }
    /* The connection's own TLS, never a proxy's word for it. */
    if (!conn_is_tls(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00074) "no verified TLS client "
                                          "certificate: the connection is not "
                                          "TLS");
        return NULL;
    }
    verify = ssl_var(r, "SSL_CLIENT_VERIFY");
    if (!verify || strcmp(verify, "SUCCESS")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APIKEY_LOGNO(00073) "no verified TLS client "
                                          "certificate: SSL_CLIENT_VERIFY is "
                                          "'%s'",
                      verify ? verify : "");
        return NULL;
    }
    pem = ssl_var(r, "SSL_CLIENT_CERT");
    if (!pem || !*pem || pem_sha256(pem, hex)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APIKEY_LOGNO(00072) "mod_ssl's SSL_CLIENT_CERT does "
                                          "not read as a PEM certificate");
        return NULL;
    }
    cc = apr_palloc(c->pool, sizeof(*cc));
    memcpy(cc->sha256, hex, sizeof(hex));
    ap_set_module_config(c->conn_config, &authn_apikey_module, cc);
    return cc->sha256;
}
