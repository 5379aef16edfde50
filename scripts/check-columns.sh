#!/bin/sh
# Fails when the key record's column list (APIKEY_COLUMNS in
# src/core/apikey_record.h: the default look-up's SQL, the reading of its
# rows, the look-up cache, htapikey) and the schemas that "htapikey init"
# creates (conf/schema/*.sql) disagree: a column of the list that a schema's
# apikey table lacks, a column of the table the list lacks, or a column
# added after the first schema whose type in the list (what "htapikey init"
# adds to an older store) is not the schema's.
cd "$(dirname "$0")/.."
list=$(sed -n 's/^[[:space:]]*X(\([a-z_]*\), *\([A-Z]*\), *\([^,]*\),.*/\1 \3/p' \
    src/core/apikey_record.h)
if [ -z "$list" ]; then
    echo "check-columns: no column list found in src/core/apikey_record.h" >&2
    exit 1
fi
bad=$(for schema in conf/schema/*.sql; do
    # The apikey table's column lines: "name TYPE ...", comments dropped.
    cols=$(awk '/^CREATE TABLE IF NOT EXISTS apikey \(/ { in_table = 1; next }
                in_table && /^\)/ { exit }
                in_table {
                    sub(/--.*/, "")
                    if (NF && $1 !~ /^(PRIMARY|UNIQUE|KEY|INDEX|CONSTRAINT)$/) {
                        t = $2; sub(/,$/, "", t); print $1, toupper(t)
                    }
                }' "$schema")
    echo "$list" | while read -r name added; do
        type=$(echo "$cols" | awk -v n="$name" '$1 == n { print $2 }')
        if [ -z "$type" ]; then
            echo "check-columns: $schema: the apikey table has no column $name" \
                 "(src/core/apikey_record.h lists it)" >&2
            echo x
        elif [ "$added" != NULL ]; then
            want=$(echo "$added" | tr -d '"' | tr a-z A-Z)
            if [ "$type" != "$want" ]; then
                echo "check-columns: $schema: column $name is $type, but" \
                     "htapikey init adds it to an older store as $want" >&2
                echo x
            fi
        fi
    done
    echo "$cols" | while read -r name type; do
        if ! echo "$list" | grep -q "^$name "; then
            echo "check-columns: $schema: column $name of the apikey table is" \
                 "not in APIKEY_COLUMNS (src/core/apikey_record.h)" >&2
            echo x
        fi
    done
done | grep -c x)
if [ "$bad" = 0 ]; then
    echo "check-columns: APIKEY_COLUMNS and conf/schema/*.sql agree" \
         "($(echo "$list" | wc -l) columns)"
    exit 0
fi
exit 1
