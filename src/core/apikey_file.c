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

/* Whether no one but us or root can replace what dir holds, up to "/":
 * each directory of its real path is ours (or root's) and writable by no
 * one else, or sticky (as /tmp: others cannot rename what is not theirs,
 * and the next directory down is checked to be ours).  Else writes why. */
static const char *safe_dir(const char *dir, char *msg, size_t msglen)
{
    char *real = realpath(dir, NULL), *slash;
    struct stat st;

    if (!real) {
        snprintf(msg, msglen, "its directory %s: %s", dir, strerror(errno));
        return msg;
    }
    for (;;) {
        if (stat(real, &st) != 0) {
            snprintf(msg, msglen, "%s: %s", real, strerror(errno));
            free(real);
            return msg;
        }
        if ((st.st_uid != geteuid() && st.st_uid != 0)
            || ((st.st_mode & (S_IWGRP | S_IWOTH))
                && !(st.st_mode & S_ISVTX))) {
            snprintf(msg, msglen,
                     "the directory %s can be written by another user than "
                     "root or this one (owner %ld, mode %04o): every "
                     "directory above the state file must belong to root "
                     "(or be sticky, as /tmp)",
                     real, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
            free(real);
            return msg;
        }
        if (!strcmp(real, "/")) {
            break;
        }
        /* The parent: "/a/b" to "/a", "/a" to "/". */
        slash = strrchr(real, '/');
        slash[slash == real ? 1 : 0] = '\0';
    }
    free(real);
    return NULL;
}

const char *apikey_file_check_private(const char *path, char *msg,
                                      size_t msglen)
{
    struct stat st;
    char *dir = strdup(path), *slash;
    const char *err;

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
    /* The directory itself may not be sticky-and-shared: others could
     * plant the state file's name there before it exists. */
    if (stat(dir, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        snprintf(msg, msglen,
                 "its directory %s can be written by another user than "
                 "root or this one (owner %ld, mode %04o): make it belong "
                 "to root, mode 0755 or tighter",
                 dir, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
        free(dir);
        return msg;
    }
    err = safe_dir(dir, msg, msglen);
    free(dir);
    if (err) {
        return err;
    }
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
