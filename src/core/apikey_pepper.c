/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The pepper file (see apikey_pepper.h). */

#include "apikey_pepper.h"
#include "apikey_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *apikey_pepper_load(const char *path, unsigned char *buf,
                               size_t *len, char *msg, size_t msglen)
{
    unsigned char tmp[APIKEY_PEPPER_MAX + 3];
    struct stat st;
    ssize_t n;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot open the pepper file %s: %s", path,
                 strerror(errno));
        return msg;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(msg, msglen, "the pepper file %s is not a regular file", path);
        return msg;
    }
    /* A pepper others can read is no secret; one they can write is not
     * ours. */
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        close(fd);
        snprintf(msg, msglen,
                 "the pepper file %s is readable or writable by others "
                 "(mode %04o); make it 0400 or 0440",
                 path, (unsigned)(st.st_mode & 07777));
        return msg;
    }
    while (got < sizeof(tmp)
           && (n = read(fd, tmp + got, sizeof(tmp) - got)) > 0) {
        got += (size_t)n;
    }
    close(fd);
    if (got > 0 && tmp[got - 1] == '\n') {
        got--;
        if (got > 0 && tmp[got - 1] == '\r') {
            got--;
        }
    }
    if (got < APIKEY_PEPPER_MIN || got > APIKEY_PEPPER_MAX) {
        apikey_wipe(tmp, sizeof(tmp));
        snprintf(msg, msglen,
                 "the pepper in %s must be %d to %d bytes (got %s%zu); "
                 "make one with: head -c 32 /dev/urandom | base64 > FILE",
                 path, APIKEY_PEPPER_MIN, APIKEY_PEPPER_MAX,
                 got > APIKEY_PEPPER_MAX ? "more than " : "", got);
        return msg;
    }
    memcpy(buf, tmp, got);
    apikey_wipe(tmp, sizeof(tmp));
    *len = got;
    return NULL;
}
