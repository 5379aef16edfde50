#!/bin/sh
# Turns conf/schema/<driver>.sql into C arrays of statements for htapikey, so
# that "htapikey init" runs exactly the schemas that ship.  One statement
# ends with ';' at the end of a line; lines starting with "--" are comments.
set -e
echo '/* Generated from conf/schema/<driver>.sql by scripts/embed-schema.sh. */'
echo '#include <string.h>'
echo '#include "htapikey_db.h"'
for f in "$@"; do
    d=$(basename "$f" .sql)
    echo "static const char *const schema_$d[] = {"
    awk '
        /^[ \t]*--/ { next }
        {
            line = $0
            gsub(/\\/, "\\\\", line); gsub(/"/, "\\\"", line)
            gsub(/[ \t]+/, " ", line); sub(/^ /, "", line)
            buf = buf (buf == "" ? "" : " ") line
        }
        /;[ \t]*$/ {
            sub(/[ \t]*;[ \t]*$/, "", buf); sub(/^ /, "", buf)
            print "    \"" buf "\","
            buf = ""
        }
        END { if (buf != "") { print "unterminated statement in " FILENAME > "/dev/stderr"; exit 1 } }
    ' "$f"
    echo "    0};"
done
echo 'const char *const *htapikey_schema(const char *driver)'
echo '{'
for f in "$@"; do
    d=$(basename "$f" .sql)
    echo "    if (!strcmp(driver, \"$d\")) {"
    echo "        return schema_$d;"
    echo "    }"
done
echo '    return 0;'
echo '}'
