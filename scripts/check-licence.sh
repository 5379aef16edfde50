#!/bin/sh
# Fails when a C file of the project does not open with its copyright and
# licence lines ("Copyright ... the mod_authn_apikey authors" and
# "SPDX-License-Identifier: Apache-2.0"), or when any file carries the
# Apache Software Foundation's contributor header, which is not true of
# this project and points at a NOTICE file it does not have.
cd "$(dirname "$0")/.."
fail=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]'); do
    if ! head -2 "$f" | grep -q '^/\* Copyright [0-9]* the mod_authn_apikey authors$' ||
       ! head -2 "$f" | grep -q '^ \* SPDX-License-Identifier: Apache-2.0'; then
        echo "check-licence: $f does not open with the copyright and SPDX lines" >&2
        fail=1
    fi
done
if git grep -l 'Licensed to the Apache Software Foundation' -- . ':!scripts/check-licence.sh' >/dev/null 2>&1; then
    git grep -l 'Licensed to the Apache Software Foundation' -- . ':!scripts/check-licence.sh' |
        sed 's/^/check-licence: the ASF contributor header in /' >&2
    fail=1
fi
[ $fail = 0 ] && echo "check-licence: every C file has the project's copyright and SPDX lines"
exit $fail
