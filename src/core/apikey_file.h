/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Files the parent writes as root (AuthAPIKeyStateFile): where they may
 * live, how they are created and how they are read back.  No httpd here. */
#ifndef APIKEY_FILE_H
#define APIKEY_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Checks that path may hold a file only this process's user (or root)
 * controls: its directory and, when it exists, the file itself are owned by
 * that user or root and writable by nobody else, and the file is a regular
 * file, not a symbolic link.  Returns NULL, or msg (of msglen bytes) with an
 * English sentence naming what is wrong. */
const char *apikey_file_check_private(const char *path, char *msg,
                                      size_t msglen);

/* Opens a new temporary file beside path (path.XXXXXX, created with
 * O_EXCL: never an existing file or a link planted there), mode 0600.
 * Returns it with its name in tmp (of tmplen bytes), or NULL with errno. */
FILE *apikey_file_create_temp(const char *path, char *tmp, size_t tmplen);

/* Closes f (flushed to disk) and renames tmp over path; on any failure
 * removes tmp.  ok 0 says the writing failed already: tmp is removed and
 * path left alone.  Returns 0, or -1 with errno. */
int apikey_file_commit(FILE *f, const char *tmp, const char *path, int ok);

/* Opens path for reading when it passes the checks of
 * apikey_file_check_private (without following a link); NULL with errno
 * otherwise (EPERM: it exists but is not to be trusted). */
FILE *apikey_file_open_private(const char *path);

#endif /* APIKEY_FILE_H */
