/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Files written as root (see apikey_file.h).  The parent writes the state
 * file when it stops, as root: a name anyone else can predict or plant a
 * link at, in a directory anyone else can write, would let them choose
 * what root overwrites. */

#include "apikey_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Owned by us or root, writable by nobody else. */
static int ours(const struct stat *st)
{
    return (st->st_uid == geteuid() || st->st_uid == 0)
           && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

const char *apikey_file_check_private(const char *path, char *msg,
                                      size_t msglen)
{
    struct stat st;
    char *dir = strdup(path), *slash;

    if (!dir) {
        snprintf(msg, msglen, "out of memory");
        return msg;
    }
    slash = strrchr(dir, '/');
    if (slash == dir) {
        slash[1] = '\0';
    }
    else if (slash) {
        *slash = '\0';
    }
    else {
        strcpy(dir, ".");
    }
    if (stat(dir, &st) != 0) {
        snprintf(msg, msglen, "its directory %s: %s", dir, strerror(errno));
        free(dir);
        return msg;
    }
    if (!S_ISDIR(st.st_mode) || !ours(&st)) {
        snprintf(msg, msglen,
                 "its directory %s can be written by another user than "
                 "root or this one (owner %ld, mode %04o): make it belong "
                 "to root, mode 0755 or tighter",
                 dir, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
        free(dir);
        return msg;
    }
    free(dir);
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return NULL;
        }
        snprintf(msg, msglen, "%s", strerror(errno));
        return msg;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "%s is not a regular file (a symbolic link?)",
                 path);
        return msg;
    }
    if (!ours(&st)) {
        snprintf(msg, msglen,
                 "%s can be written by another user than root or this one "
                 "(owner %ld, mode %04o): make it belong to root, mode 0600",
                 path, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
        return msg;
    }
    return NULL;
}

FILE *apikey_file_create_temp(const char *path, char *tmp, size_t tmplen)
{
    FILE *f;
    int fd;

    if ((size_t)snprintf(tmp, tmplen, "%s.XXXXXX", path) >= tmplen) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    /* mkstemp: O_CREAT | O_EXCL, mode 0600, a name nobody can guess. */
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        return NULL;
    }
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || !(f = fdopen(fd, "wb"))) {
        int e = errno;

        close(fd);
        unlink(tmp);
        errno = e;
        return NULL;
    }
    return f;
}

int apikey_file_commit(FILE *f, const char *tmp, const char *path, int ok)
{
    int e;

    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    e = errno;
    if (fclose(f) != 0) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) == 0) {
        return 0;
    }
    e = ok ? errno : e;
    unlink(tmp);
    errno = e;
    return -1;
}

FILE *apikey_file_open_private(const char *path)
{
    struct stat st;
    FILE *f;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        /* O_NOFOLLOW: a link is ELOOP; say it is not to be trusted. */
        if (errno == ELOOP) {
            errno = EPERM;
        }
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !ours(&st)) {
        close(fd);
        errno = EPERM;
        return NULL;
    }
    if (!(f = fdopen(fd, "rb"))) {
        close(fd);
    }
    return f;
}
