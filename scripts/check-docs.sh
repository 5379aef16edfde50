#!/bin/sh
# Fails when the docs and the code disagree: a directive of the command
# table missing from docs/directives.md, an error-log tag missing from
# docs/log-messages.md, or a tag used by two messages.
set -e
cd "$(dirname "$0")/.."
fail=0

# The command table's slices live in src/httpd's headers.
# (clang-format may break a line after "AP_INIT_TAKE123(": read the files
# whole.)
directives=$(perl -0777 -ne 'print "$1\n" while /AP_INIT_[A-Z0-9_]*\((?:\s|\\)*"([A-Za-z]*)"/g' \
                 mod_authn_apikey.c src/*/*.c src/*/*.h | sort -u)
# Finding none means this check went blind (the table moved), not that
# every directive is documented.
if [ -z "$directives" ]; then
    echo "check-docs: no AP_INIT_ line found: where did the command table go?" >&2
    exit 1
fi
for d in $directives; do
    if ! grep -q "^## $d\b\|^### $d\b" docs/directives.md; then
        echo "check-docs: directive $d has no section in docs/directives.md" >&2
        fail=1
    fi
done

tags=$(grep -ho 'APIKEY_LOGNO([0-9]*)' mod_authn_apikey.c src/*/*.c |
       sed 's/APIKEY_LOGNO(\([0-9]*\))/\1/')
dups=$(echo "$tags" | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "check-docs: log tags used twice: $dups" >&2
    fail=1
fi
next=$(cat src/httpd/log-next-number)
for t in $(echo "$tags" | sort -u); do
    if ! grep -q "APIKEY$t" docs/log-messages.md; then
        echo "check-docs: APIKEY$t is not in docs/log-messages.md" >&2
        fail=1
    fi
    if [ "$(expr "$t" + 0)" -ge "$next" ]; then
        echo "check-docs: APIKEY$t is not below src/httpd/log-next-number ($next)" >&2
        fail=1
    fi
done

[ $fail -eq 0 ] && echo "check-docs: $(echo "$directives" | wc -w) directives and $(echo "$tags" | sort -u | wc -w) log tags documented"
exit $fail
