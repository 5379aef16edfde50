/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Why a key store cannot be opened, said before APR's or SQLite's less
 * telling words: a driver that is misspelt or not installed (with its
 * Debian package), an SQLite store's directory that is missing or not
 * writable. */
#ifndef HTAPIKEY_DB_HINT_H
#define HTAPIKEY_DB_HINT_H

#include "apr_pools.h"

/* APR could not load driver: a driver APR has whose package is missing, a
 * name meant for another driver, or none at all. */
const char *htapikey_db_no_driver(apr_pool_t *p, const char *driver);

/* NULL when the directory of the SQLite file is there and, when writes,
 * writable by this user; else what is wrong, in p. */
const char *htapikey_db_sqlite_dir(apr_pool_t *p, const char *file, int writes);

#endif
