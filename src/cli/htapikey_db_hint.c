/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Why a key store cannot be opened, in words that point at the cause
 * (see htapikey_db_hint.h). */

#include "htapikey_db_hint.h"

#include "apr_strings.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* APR's DBD drivers, and the Debian package of each that Debian ships. */
static const struct {
    const char *name, *package;
} drivers[] = {
    {"sqlite3", "libaprutil1-dbd-sqlite3"},
    {"pgsql", "libaprutil1-dbd-pgsql"},
    {"mysql", "libaprutil1-dbd-mysql"},
    {"odbc", "libaprutil1-dbd-odbc"},
    {"freetds", NULL},
    {"oracle", NULL},
    {"sqlite2", NULL},
};

/* Names people type for a driver, and the driver APR calls it. */
static const struct {
    const char *alias, *name;
} driver_aliases[] = {
    {"sqlite", "sqlite3"}, {"postgres", "pgsql"}, {"postgresql", "pgsql"},
    {"pg", "pgsql"},       {"psql", "pgsql"},     {"mariadb", "mysql"},
    {"sybase", "freetds"}, {"mssql", "freetds"},
};

static const char *driver_package(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        if (!strcmp(name, drivers[i].name)) {
            return drivers[i].package;
        }
    }
    return NULL;
}

/* APR could not load driver: a driver APR has whose package is missing,
 * a name meant for another driver, or none at all. */
const char *htapikey_db_no_driver(apr_pool_t *p, const char *driver)
{
    const char *meant = NULL, *pkg, *all = "";
    size_t i;

    for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        if (!strcmp(driver, drivers[i].name)) {
            pkg = drivers[i].package;
            return pkg ? apr_psprintf(p,
                                      "the APR DBD driver '%s' is not "
                                      "installed (on Debian, install %s)",
                                      driver, pkg)
                       : apr_psprintf(p,
                                      "the APR DBD driver '%s' is not "
                                      "installed (Debian ships no package "
                                      "of it: APR-util must be built with "
                                      "it)",
                                      driver);
        }
        if (!strcasecmp(driver, drivers[i].name)) {
            meant = drivers[i].name;
        }
        all = apr_pstrcat(p, all, i ? ", " : "", drivers[i].name, NULL);
    }
    for (i = 0;
         !meant && i < sizeof(driver_aliases) / sizeof(driver_aliases[0]);
         i++) {
        if (!strcasecmp(driver, driver_aliases[i].alias)) {
            meant = driver_aliases[i].name;
        }
    }
    if (meant) {
        pkg = driver_package(meant);
        return apr_psprintf(p, "no APR DBD driver '%s': did you mean %s?%s%s%s",
                            driver, meant, pkg ? " (package " : "",
                            pkg ? pkg : "", pkg ? ")" : "");
    }
    return apr_psprintf(p, "no APR DBD driver '%s': APR's drivers are %s",
                        driver, all);
}

/* The directory of an SQLite store, checked before SQLite's own "unable
 * to open database file" would say less: it must exist and, for a command
 * that writes, be writable (SQLite makes its journal beside the file). */
const char *htapikey_db_sqlite_dir(apr_pool_t *p, const char *file, int writes)
{
    const char *slash = strrchr(file, '/');
    const char *dir = !slash          ? "."
                      : slash == file ? "/"
                                      : apr_pstrndup(p, file, slash - file);
    struct stat st;

    if (stat(dir, &st) != 0) {
        if (errno == ENOENT) {
            return apr_psprintf(p,
                                "directory %s does not exist: create it "
                                "first, e.g. install -d -o root -g "
                                "www-data -m 2750 %s",
                                dir, dir);
        }
        return apr_psprintf(p, "cannot reach directory %s: %s", dir,
                            strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return apr_psprintf(p, "%s is not a directory", dir);
    }
    if (writes && access(dir, W_OK | X_OK) != 0) {
        return apr_psprintf(p,
                            "directory %s is not writable by this user "
                            "(uid %ld), and SQLite writes its journal "
                            "there: run htapikey as a user who may (root?), "
                            "or make the directory writable for this one",
                            dir, (long)getuid());
    }
    return NULL;
}
