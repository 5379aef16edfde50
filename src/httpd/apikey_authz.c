/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Require apikey family (see apikey_authz.h).  Providers read the record
 * that authentication attached to the request; they never look a key up.
 * Arguments are split and checked once, at configuration time. */

#include "apikey_authz.h"
#include "apikey_authn.h"
#include "apikey_errors.h"
#include "apikey_match.h"
#include "apikey_request.h"

#include "apr_strings.h"
#include "http_core.h"
#include "http_request.h"

/* The key our authentication admitted for this very request_rec, or
 * NULL, and its verdict (here): a subrequest's or redirect's own, never
 * another section's.  Providers return AUTHZ_DENIED_NO_USER before
 * authentication (mod_authz_core's user-less pass) so that it runs. */
static const apikey_record_t *authenticated_key(request_rec *r,
                                                apikey_here_t **here)
{
    /* r->user may come from another AuthType: only our keys count. */
    const apikey_record_t *key = apikey_request_key(r);

    *here = key ? apikey_request_here(r) : NULL;
    return key;
}

static authz_status check_any(request_rec *r, const char *require_line,
                              const void *parsed)
{
    apikey_here_t *here;

    (void)require_line;
    (void)parsed;
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!authenticated_key(r, &here)) {
        return AUTHZ_DENIED;
    }
    here->granted = 1;
    return AUTHZ_GRANTED;
}

/* Require apikey-anonymous: a request AuthAPIKeyAnonymous let in without
 * a key (a request with a key is not anonymous). */
static authz_status check_anonymous(request_rec *r, const char *require_line,
                                    const void *parsed)
{
    apikey_here_t *here;

    (void)require_line;
    (void)parsed;
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    here = apikey_request_here(r);
    if (!here->anonymous) {
        return AUTHZ_DENIED;
    }
    here->granted = 1;
    return AUTHZ_GRANTED;
}

/* A Require line that takes no arguments: refused with them, naming the
 * provider (and what to use instead, hint, when not NULL). */
static const char *no_arguments(cmd_parms *cmd, const char *provider,
                                const char *require_line, const char *hint)
{
    if (require_line && *require_line) {
        return apr_psprintf(
            cmd->pool, "'Require %s' takes no arguments (got '%s')%s%s",
            provider, require_line, hint ? "; " : "", hint ? hint : "");
    }
    return NULL;
}

static const char *parse_any(cmd_parms *cmd, const char *require_line,
                             const void **parsed)
{
    (void)parsed;
    return no_arguments(cmd, "apikey", require_line,
                        "for scopes use 'Require apikey-scope'");
}

const authz_provider apikey_authz_any = {
    &check_any,
    &parse_any,
};

static const char *parse_anonymous(cmd_parms *cmd, const char *require_line,
                                   const void **parsed)
{
    (void)parsed;
    return no_arguments(cmd, "apikey-anonymous", require_line, NULL);
}

const authz_provider apikey_authz_anonymous = {
    &check_anonymous,
    &parse_anonymous,
};

/* ---- lists: apikey-scope, apikey-id, apikey-owner ---- */

/* What a provider compares its words with. */
typedef enum { BY_SCOPE, BY_ID, BY_OWNER } match_by_t;

typedef struct {
    match_by_t by;
    apr_array_header_t *words; /* const char * */
    const char *joined;        /* the words, space-separated */
} word_list_t;

static const char *check_word(match_by_t by, const char *w)
{
    const unsigned char *p = (const unsigned char *)w;

    if (by == BY_SCOPE) {
        return apikey_scope_check(w);
    }
    for (; *p; p++) {
        if (*p < ' ' || *p == 0x7f) {
            return "contains a control character";
        }
    }
    return NULL;
}

static const char *parse_words(cmd_parms *cmd, const char *require_line,
                               const void **parsed, match_by_t by,
                               const char *what)
{
    word_list_t *list = apr_pcalloc(cmd->pool, sizeof(*list));
    const char *line = require_line, *w;

    list->by = by;
    list->words = apr_array_make(cmd->pool, 4, sizeof(const char *));
    list->joined = "";
    while (*(w = ap_getword_conf(cmd->pool, &line))) {
        const char *err = check_word(by, w);

        if (err) {
            return apr_psprintf(cmd->pool, "Require apikey-%s '%s': %s", what,
                                w, err);
        }
        APR_ARRAY_PUSH(list->words, const char *) = w;
        list->joined = *list->joined
                           ? apr_pstrcat(cmd->pool, list->joined, " ", w, NULL)
                           : w;
    }
    if (list->words->nelts == 0) {
        return apr_psprintf(cmd->pool,
                            "Require apikey-%s needs at least one "
                            "%s",
                            what, what);
    }
    *parsed = list;
    return NULL;
}

static authz_status check_words(request_rec *r, const void *parsed)
{
    const word_list_t *list = parsed;
    const apikey_record_t *key;
    apikey_request_t *rq;
    apikey_here_t *here;
    int i;

    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!(key = authenticated_key(r, &here))) {
        return AUTHZ_DENIED;
    }
    rq = apikey_request_get(r);
    for (i = 0; i < list->words->nelts; i++) {
        const char *w = APR_ARRAY_IDX(list->words, i, const char *);
        int hit = list->by == BY_SCOPE   ? apikey_scope_has(key->scopes, w)
                  : list->by == BY_OWNER ? !strcmp(key->owner, w)
                                         : !strcmp(key->id, w);
        if (hit) {
            here->granted = 1;
            return AUTHZ_GRANTED;
        }
    }
    if (list->by == BY_SCOPE) {
        /* Remembered for the insufficient_scope challenge, should the
         * request be refused in the end. */
        rq->missing_scopes = rq->missing_scopes
                                 ? apr_pstrcat(r->pool, rq->missing_scopes, " ",
                                               list->joined, NULL)
                                 : list->joined;
    }
    return AUTHZ_DENIED;
}

static authz_status check_list(request_rec *r, const char *require_line,
                               const void *parsed)
{
    (void)require_line;
    return check_words(r, parsed);
}

static const char *parse_scope(cmd_parms *cmd, const char *require_line,
                               const void **parsed)
{
    return parse_words(cmd, require_line, parsed, BY_SCOPE, "scope");
}

static const char *parse_id(cmd_parms *cmd, const char *require_line,
                            const void **parsed)
{
    return parse_words(cmd, require_line, parsed, BY_ID, "id");
}

static const char *parse_owner(cmd_parms *cmd, const char *require_line,
                               const void **parsed)
{
    return parse_words(cmd, require_line, parsed, BY_OWNER, "owner");
}

const authz_provider apikey_authz_scope = {&check_list, &parse_scope};
const authz_provider apikey_authz_id = {&check_list, &parse_id};
const authz_provider apikey_authz_owner = {&check_list, &parse_owner};

/* ---- 403 for a valid key ----
 *
 * mod_authz_core answers an authenticated request that its Require lines
 * refuse with 401 (403 only under AuthzSendForbiddenOnFailure).  For a
 * bearer key that is the wrong answer: the key is valid, sending it again
 * cannot help, and RFC 6750 asks for 403 with error="insufficient_scope"
 * when a scope was missing.  No provider can return a status, so this hook
 * runs first in the auth_checker phase, runs the rest of the phase exactly
 * as httpd's RUN_FIRST would (mod_authz_core's hook among them), and turns
 * the refusal of a key we accepted into 403. */
int apikey_authz_forbid(request_rec *r)
{
    apr_array_header_t *hooks;
    const ap_LINK_auth_checker_t *h;
    apikey_request_t *rq;
    apikey_here_t *here;
    int i, rv = DECLINED;

    if (!apikey_authn_is_ours(r)) {
        return DECLINED;
    }
    hooks = ap_hook_get_auth_checker();
    h = (const ap_LINK_auth_checker_t *)hooks->elts;
    for (i = 0; i < hooks->nelts && rv == DECLINED; i++) {
        if (h[i].pFunc != apikey_authz_forbid) {
            rv = h[i].pFunc(r);
        }
    }
    if (rv == HTTP_UNAUTHORIZED && r->user && apikey_request_here(r)->anonymous
        && !r->main) {
        /* Refused for want of a key: the client's result says so. */
        apikey_request_get(r)->result = APIKEY_RESULT_MISSING;
    }
    if ((rv != HTTP_UNAUTHORIZED && rv != HTTP_FORBIDDEN) || !r->user
        || !authenticated_key(r, &here)) {
        return rv;
    }
    rq = apikey_request_get(r);
    if (rq->missing_scopes) {
        if (!r->main) {
            rq->result = APIKEY_RESULT_INSUFFICIENT_SCOPE;
        }
        apikey_authn_challenge(r, "insufficient_scope", rq->missing_scopes);
        apikey_errors_answer(r, APIKEY_PROBLEM_SCOPE, NULL, rq->missing_scopes);
    }
    else {
        apikey_authn_challenge_clear(r);
        apikey_errors_answer(r, APIKEY_PROBLEM_NOT_HERE, NULL, NULL);
    }
    return HTTP_FORBIDDEN;
}
