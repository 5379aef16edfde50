/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Our own error-log tags.  httpd's AH numbers are reserved for modules in
 * the httpd distribution; ours are "APIKEYnnnnn: ", never reused, the next
 * free number kept in src/log-next-number.  docs/log-messages.md lists them.
 */
#ifndef APIKEY_LOGNO_H
#define APIKEY_LOGNO_H

#define APIKEY_LOGNO(n) "APIKEY" #n ": "

#endif /* APIKEY_LOGNO_H */
