/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Matching a key's restrictions against a request: scopes, HTTP methods,
 * referer host patterns and client networks.  No request_rec here, so unit
 * tests and fuzzers reach every parser; the CIDR part uses APR's subnet
 * code.  Lists are stored comma-separated (spaces allowed around items);
 * scopes space-separated. */
#ifndef APIKEY_MATCH_H
#define APIKEY_MATCH_H

#include <stddef.h>

#include "apr_network_io.h"
#include "apr_pools.h"

/* Longest host name taken from a Referer. */
#define APIKEY_HOST_MAX 255

/* 1 when the space-separated list scopes holds scope exactly. */
int apikey_scope_has(const char *scopes, const char *scope);

/* 1 when the comma-separated list holds item (case-insensitively when
 * nocase is set). */
int apikey_list_has(const char *list, const char *item, int nocase);

/* 1 when host matches pattern: an exact host name (case-insensitive),
 * "*.example.com" for any name below example.com (not example.com itself),
 * or "*" for any host. */
int apikey_host_match(const char *pattern, const char *host);

/* Copies the lower-cased host of an absolute URL ("https://a.b:8443/x")
 * into out.  Returns 0, or -1 when there is no host or it does not fit. */
int apikey_url_host(const char *url, char *out, size_t outlen);

/* 1 when the Referer value's host matches one of the comma-separated
 * patterns; 0 when it matches none, or referer is NULL or has no host. */
int apikey_referer_allowed(const char *patterns, const char *referer);

/* 1 when addr lies in one of the comma-separated networks ("192.0.2.0/24",
 * "2001:db8::/32", "198.51.100.7"); 0 otherwise or on an unparsable item
 * (the list was checked when it was stored). */
int apikey_ip_allowed(const char *networks, apr_sockaddr_t *addr,
                      apr_pool_t *p);

/* Hex digits of a SHA-1 and a SHA-256 fingerprint. */
#define APIKEY_SHA1_HEX   40
#define APIKEY_SHA256_HEX 64

/* Writes the certificate fingerprint s (n bytes: hex digits, either case,
 * colons anywhere ignored, as "AB:CD:..." or "abcd...") into out as
 * lower-case hex without colons: exactly digits of them, and a NUL (out
 * holds digits + 1 bytes).  0, or -1 when s is not such a fingerprint. */
int apikey_fingerprint_hex(const char *s, size_t n, size_t digits, char *out);

/* 1 when an item of the comma-separated Android list ("package" or
 * "package:sha1", as allow_android stores them) names package (compared
 * exactly) and, when it has a certificate fingerprint, cert is that
 * fingerprint (in any spelling apikey_fingerprint_hex takes).  0 when
 * package is NULL; cert may be NULL. */
int apikey_android_allowed(const char *list, const char *package,
                           const char *cert);

/* 1 when the comma-separated list of iOS bundle ids holds bundle (compared
 * exactly); 0 when bundle is NULL. */
int apikey_ios_allowed(const char *list, const char *bundle);

/* 1 when the comma-separated list of SHA-256 fingerprints holds sha256, a
 * certificate's in lower-case hex; 0 when sha256 is NULL. */
int apikey_cert_allowed(const char *list, const char *sha256);

/* The list, as apikey_androids_check (android set) or apikey_certs_check
 * passed it, with blanks removed
 * and its fingerprints as apikey_fingerprint_hex writes them: what
 * allow_android (android set) or allow_cert stores. */
const char *apikey_pins_normalise(apr_pool_t *p, const char *list, int android);

/* Validation of stored lists, for htapikey: NULL when valid, else a static
 * English message.  *bad is set to the offending item (into a buffer of
 * APIKEY_HOST_MAX + 1 bytes). */
const char *apikey_networks_check(const char *list, apr_pool_t *p, char *bad);
const char *apikey_referers_check(const char *list, char *bad);
const char *apikey_methods_check(const char *list, char *bad);
/* Android: items "package" (a Java package name: letters, digits and '_',
 * at least two parts, each starting with a letter) or "package:SHA1" (40
 * hex digits, colons allowed).  iOS: bundle ids (letters, digits, '.' and
 * '-').  Certificates: SHA-256 fingerprints (64 hex digits, colons
 * allowed). */
const char *apikey_androids_check(const char *list, char *bad);
const char *apikey_bundles_check(const char *list, char *bad);
const char *apikey_certs_check(const char *list, char *bad);
/* A scope: printable ASCII, no blanks, quotes, backslashes or commas. */
const char *apikey_scope_check(const char *scope);

#endif /* APIKEY_MATCH_H */
