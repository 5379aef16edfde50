#!/bin/sh
# Fails when the layers leak (src/*/README): a file of src/core, src/shm or
# src/dbd that includes an httpd header (httpd.h, http_*.h, ap_*.h,
# mod_*.h, util_*.h, scoreboard.h...) or a header of src/httpd or src/cli;
# or a file of src/core or src/shm that includes APR DBD's or one of
# src/dbd's.  The archive those layers build into is compiled without
# httpd's include directory, so the first kind would not build either; this
# says plainly which line.
cd "$(dirname "$0")/.."
fail=0
for f in src/core/*.[ch] src/shm/*.[ch] src/dbd/*.[ch]; do
    [ -f "$f" ] || continue
    layer=$(basename "$(dirname "$f")")
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$f" |
    while IFS= read -r line; do
        h=$(echo "$line" | sed 's/.*include[[:space:]]*["<]\([^">]*\)[">].*/\1/')
        why=""
        case "$h" in
        httpd.h|http_*.h|ap_*.h|mod_*.h|util_*.h|scoreboard.h|mpm_*.h|unixd.h)
            why="an httpd header" ;;
        esac
        [ -z "$why" ] && [ -f "src/httpd/$h" ] && why="a header of src/httpd"
        [ -z "$why" ] && [ -f "src/cli/$h" ] && why="a header of src/cli"
        if [ -z "$why" ] && [ "$layer" != dbd ]; then
            case "$h" in apr_dbd.h) why="APR DBD's header" ;; esac
            [ -z "$why" ] && [ -f "src/dbd/$h" ] && why="a header of src/dbd"
        fi
        if [ -n "$why" ]; then
            echo "check-layers: $f:${line%%:*} includes $h, $why" >&2
            echo x
        fi
    done
done | grep -q x && fail=1
if [ $fail -eq 0 ]; then
    echo "check-layers: src/core, src/shm and src/dbd include no httpd header"
fi
exit $fail
