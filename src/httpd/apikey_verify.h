/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Verifying a presented key: format, digest, look-up, tenant, status and
 * the key's own restrictions.  Shared by AuthType APIKey and the apikey
 * authn provider (AuthBasicProvider apikey). */
#ifndef APIKEY_VERIFY_H
#define APIKEY_VERIFY_H

#include "httpd.h"

#include "apikey_config.h"
#include "apikey_request.h"

/* Verifies key (len bytes), found in source, for r.  Records the verdict
 * in rq->result, where it was found (rq->srv, rq->query,
 * rq->strict_format) and, when the key is accepted, the key in rq->key;
 * logs the reason of any refusal.  ERROR means the store could not
 * answer.  With cache_only (a client over AuthAPIKeyFailureLimit), only a
 * key the look-up cache holds as found goes on; anything else is THROTTLED,
 * without a look-up or a log line. */
apikey_result_t apikey_verify(request_rec *r, const apikey_dir_conf_t *conf,
                              const char *key, size_t len, apikey_request_t *rq,
                              int cache_only);

/* Judges again, for a subrequest or internal redirect r whose section is
 * configured otherwise, the key rq->key that an earlier section of the
 * same client request accepted: the same answer a direct request with
 * that key would get from r's section, as far as its policy goes.  TLS
 * (AuthAPIKeyRequireTLS), the source (with check_source: the section must
 * read keys where this one came from), the format (AuthAPIKeyFormat), the
 * store (the server's and AuthAPIKeyQuery: a key found through another
 * statement is refused, never taken for a key of this one) and the tenant
 * (AuthAPIKeyTenant).  Logs the reason of a refusal. */
apikey_result_t apikey_verify_again(request_rec *r,
                                    const apikey_dir_conf_t *conf,
                                    const apikey_request_t *rq,
                                    int check_source);

/* Makes an accepted key the request's identity: r->user, the APIKEY_*
 * environment and, with AuthAPIKeyIdentityHeaders On, the X-APIKey-*
 * request headers. */
void apikey_verify_admit(request_rec *r, const apikey_dir_conf_t *conf,
                         const apikey_record_t *rec);

#endif /* APIKEY_VERIFY_H */
