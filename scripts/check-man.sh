#!/bin/sh
# Fails when the manual page and htapikey disagree: a command or long
# option of "htapikey --help" missing from man/htapikey.1, one named there
# that --help does not know, a version in its .TH line other than
# APIKEY_VERSION; or when mandoc's lint (and groff's warnings, where groff
# is installed) find anything in the page.  Needs the built htapikey;
# installs mandoc through scripts/deps.sh when it is missing.
set -e
cd "$(dirname "$0")/.."
page=man/htapikey.1
fail=0

if [ ! -x ./htapikey ]; then
    echo "check-man: no ./htapikey: build it first (make)" >&2
    exit 1
fi
if ! command -v mandoc >/dev/null 2>&1; then
    APIKEY_EXTRA_PKGS=mandoc sh scripts/deps.sh
fi

help=$(./htapikey --help)
# The page's text with roff's \- as -, for the option names.
text=$(sed 's/\\-/-/g' "$page")

# Commands: the first word of each line of --help's "Commands:" section
# ("disable ID | enable ID" names two); in the page, the first word of
# each .TP item of COMMANDS.
help_cmds=$(printf '%s\n' "$help" |
    awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 }
         on && /^  [a-z]/ { print $1; if ($3 == "|") print $4 }' | sort -u)
page_cmds=$(printf '%s\n' "$text" |
    awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH/ { on = 0 }
         on && item { w = $2; gsub(/"/, "", w); print w; item = 0 }
         on && /^\.TP/ { item = 1 }' | sort -u)
# The words of list $1 (one a line) that list $2 lacks.
missing_from() {
    for w in $1; do
        printf '%s\n' "$2" | grep -qx -- "$w" || printf '%s\n' "$w"
    done
}

# Finding none means this check went blind, not that all agree.
if [ -z "$help_cmds" ] || [ -z "$page_cmds" ]; then
    echo "check-man: no command found in --help or in $page's COMMANDS" >&2
    exit 1
fi
for c in $(missing_from "$help_cmds" "$page_cmds"); do
    echo "check-man: command '$c' of htapikey --help is not in $page's COMMANDS" >&2
    fail=1
done
for c in $(missing_from "$page_cmds" "$help_cmds"); do
    echo "check-man: $page's COMMANDS has '$c', which htapikey --help does not" >&2
    fail=1
done

# "--allow-*" in --help stands for the --allow-... options it names too.
help_opts=$(printf '%s\n' "$help" | sed 's/--allow-\*//g' |
    grep -o -- '--[a-z][a-z-]*[a-z]' | sort -u)
page_opts=$(printf '%s\n' "$text" | grep -o -- '--[a-z][a-z-]*[a-z]' | sort -u)
for o in $(missing_from "$help_opts" "$page_opts"); do
    echo "check-man: option $o of htapikey --help is not in $page" >&2
    fail=1
done
for o in $(missing_from "$page_opts" "$help_opts"); do
    echo "check-man: $page names $o, which htapikey --help does not" >&2
    fail=1
done

version=$(sed -n 's/^#define APIKEY_VERSION "\(.*\)"/\1/p' src/core/apikey_version.h)
grep -q "^\.TH HTAPIKEY 1 .*\"mod_authn_apikey $version\"" "$page" || {
    echo "check-man: $page's .TH line does not name mod_authn_apikey $version" >&2
    fail=1
}

lint=$(mandoc -T lint -W warning "$page" 2>&1) || true
if [ -n "$lint" ]; then
    echo "check-man: mandoc -T lint -W warning:" >&2
    printf '%s\n' "$lint" >&2
    fail=1
fi
if command -v groff >/dev/null 2>&1; then
    warn=$(groff -man -ww -z "$page" 2>&1) || true
    if [ -n "$warn" ]; then
        echo "check-man: groff -man -ww -z:" >&2
        printf '%s\n' "$warn" >&2
        fail=1
    fi
fi

[ $fail -eq 0 ] && echo "check-man: $(echo "$help_cmds" | wc -w) commands and $(echo "$help_opts" | wc -w) long options of htapikey --help in $page, which lints clean"
exit $fail
