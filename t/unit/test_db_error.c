/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests for apikey_db_one_line (src/dbd/apikey_db.c): a database's
 * error message on one line, as httpd's log needs it.  PostgreSQL's
 * messages end with a line break and can hold several lines; logged as
 * they are, each break showed as a literal "\n". */

#include "apikey_db.h"
#include "tap.h"

#include "apr_general.h"

int main(void)
{
    static const struct {
        const char *in, *want, *what;
    } cases[] = {
        {"", "", "an empty message"},
        {"no such table: apikey", "no such table: apikey",
         "one line (SQLite's) unchanged"},
        {"could not connect to server\n", "could not connect to server",
         "a final line break dropped"},
        {"ERROR:  relation \"apikey\" does not exist\nLINE 1: SELECT id FROM "
         "apikey\n                       ^\n",
         "ERROR:  relation \"apikey\" does not exist; LINE 1: SELECT id FROM "
         "apikey; ^",
         "PostgreSQL's three lines joined with '; ', their indents gone"},
        {"a \r\n\r\n  b \n", "a; b", "CR LF, blank lines and blanks at breaks"},
        {"\n\nstarts late", "starts late", "leading breaks dropped"},
        {"in  the\tmiddle", "in  the\tmiddle", "blanks inside a line kept"},
    };
    apr_pool_t *p;
    size_t i;

    apr_initialize();
    apr_pool_create(&p, NULL);
    plan((int)(sizeof(cases) / sizeof(cases[0])) + 1);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_str(apikey_db_one_line(p, cases[i].in), cases[i].want, "%s",
               cases[i].what);
    }
    {
        /* Breaks alone, many: the output fits its buffer and is empty. */
        char many[4097];

        memset(many, '\n', sizeof(many) - 1);
        many[sizeof(many) - 1] = '\0';
        is_str(apikey_db_one_line(p, many), "", "4,096 line breaks: nothing");
    }
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
