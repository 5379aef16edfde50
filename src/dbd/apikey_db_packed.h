/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The default look-up for the drivers whose SQL we know (sqlite3, pgsql,
 * mysql): the columns added since the first schema (the rarely set ones:
 * restrictions, limits, rotation) asked for as one, APIKEY_DB_PACKED_NAME,
 * each value ended by the byte 0x1f.  apr_dbd_sqlite3 makes four calls of
 * SQLite's API for each column of a row, each under SQLite's mutex: twelve
 * columns fewer take about 8 % off a look-up (docs/benchmarks.md, M4).
 * NULL and "" are one to every column packed (none, for restrictions,
 * limits and times alike).  A value that does not split back into exactly
 * twelve (one holding the separator, one a driver cut short) is refused
 * (APIKEY_DB_BAD_PACK), never read shifted or short.  Private to
 * apikey_db.c. */
#ifndef APIKEY_DB_PACKED_H
#define APIKEY_DB_PACKED_H

#include "apikey_db.h"
#include "apikey_record.h"

/* The packed column's name in a result. */
#define APIKEY_DB_PACKED_NAME "apikey_packed"

/* Whether col is one of the packed ones: added after the first schema. */
int apikey_db_packed(const apikey_column_t *col);

/* Builds each dialect's packed look-up (apikey_db_reset). */
void apikey_db_packed_reset(void);

/* The n values of a packed column (its copy, cut in place) into part:
 * 0, or -1 when it is NULL (no look-up of ours makes one) or does not hold
 * exactly n values each ended by the separator. */
int apikey_db_split_pack(char *v, int n, const char **part);

#endif /* APIKEY_DB_PACKED_H */
