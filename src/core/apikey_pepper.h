/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The pepper of HMAC-SHA-256 key digests: a secret file read by httpd at
 * start-up and by htapikey, checked the same way by both. */
#ifndef APIKEY_PEPPER_H
#define APIKEY_PEPPER_H

#include <stddef.h>

#define APIKEY_PEPPER_MIN 16
#define APIKEY_PEPPER_MAX 1024

/* Reads the pepper from path into buf (APIKEY_PEPPER_MAX bytes): the file's
 * bytes less one trailing newline.  Refuses a file that others may read or
 * write, that is not a regular file, or whose pepper is shorter than
 * APIKEY_PEPPER_MIN or longer than APIKEY_PEPPER_MAX bytes.  Returns NULL
 * and the length in *len, or an English message (into msg, msglen bytes). */
const char *apikey_pepper_load(const char *path, unsigned char *buf,
                               size_t *len, char *msg, size_t msglen);

#endif /* APIKEY_PEPPER_H */
