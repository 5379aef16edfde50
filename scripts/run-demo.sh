#!/bin/sh
# "make run": a private httpd in the foreground on 127.0.0.1:PORT serving a
# small API protected by mod_authn_apikey, with a fresh SQLite key store
# holding one demo key.  Ctrl-C stops it and removes its files.
set -e
PORT=${1:-8080}
TOP=$(cd "$(dirname "$0")/.." && pwd)
HTTPD=${HTTPD:-/usr/sbin/apache2}
LIBEXECDIR=$(apxs -q LIBEXECDIR)

# Outside the tree: when run as root, httpd's children run as www-data and
# must be able to read the store and documents (a home directory often is
# closed to them).
RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/apikey-demo.XXXXXX")
cleanup() {
    if [ -f "$RUNDIR/httpd.pid" ]; then
        kill "$(cat "$RUNDIR/httpd.pid")" 2>/dev/null || true
        sleep 1
    fi
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUNDIR/htdocs"
cp -R "$TOP/conf/demo/." "$RUNDIR/htdocs/"
"$TOP/htapikey" -p "$RUNDIR/keys.db" init >/dev/null
KEY=$("$TOP/htapikey" -p "$RUNDIR/keys.db" --json create --owner demo \
        --scopes "demo:read" --name "make run" |
      sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[ -n "$KEY" ] || { echo "run-demo: could not create the demo key" >&2; exit 1; }

USER_LINE=""
if [ "$(id -u)" = 0 ]; then
    USER_LINE="User www-data
Group www-data"
    chown -R www-data:www-data "$RUNDIR"
fi
chmod 755 "$RUNDIR"

sed -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@PORT@|$PORT|g" \
    -e "s|@LIBEXECDIR@|$LIBEXECDIR|g" \
    -e "s|@MODULE@|$TOP/.libs/mod_authn_apikey.so|g" \
    "$TOP/conf/demo.conf.in" | awk -v u="$USER_LINE" '{ if ($0 == "@USER@") print u; else print }' \
    >"$RUNDIR/httpd.conf"

"$HTTPD" -t -f "$RUNDIR/httpd.conf" >/dev/null 2>&1 || "$HTTPD" -t -f "$RUNDIR/httpd.conf"

cat <<MSG

mod_authn_apikey demo on http://127.0.0.1:$PORT/  (Ctrl-C stops it)

  With the demo key (200):
    curl -H 'X-API-Key: $KEY' http://127.0.0.1:$PORT/api/whoami.json
  Without a key (401):
    curl -i http://127.0.0.1:$PORT/api/whoami.json

  Key store: $RUNDIR/keys.db   (htapikey -p $RUNDIR/keys.db list)

MSG
"$HTTPD" -f "$RUNDIR/httpd.conf" -DFOREGROUND
