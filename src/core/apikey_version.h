/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The version of mod_authn_apikey and htapikey: the one place it is set.
 * The Makefile reads it from here (make deb, make version), the module
 * logs it at start-up and shows it on its status page, htapikey prints it
 * with --version, and scripts/check-version.sh fails make test when
 * debian/changelog or CHANGES.md name another. */

#ifndef APIKEY_VERSION_H
#define APIKEY_VERSION_H

#define APIKEY_VERSION "0.1.0"

#endif
