#!/bin/sh
# The Debian package (make deb), as an admin gets it, in TAP: builds it,
# checks what dpkg-deb -c lists and lintian says (no E: line), unpacks it
# with dpkg-deb -x into a scratch root, checks that its authn_apikey.conf
# is safe to enable as is, makes a SQLite key store with the
# unpacked htapikey, and starts a private httpd (/usr/sbin/apache2 -k start
# on 127.0.0.1, a free port) loading the unpacked module through the
# unpacked authn_apikey.load and authn_apikey.conf as a2enmod enables them
# there (with mod_dbd, which the .load depends on): the key gets 200, no
# key and an unknown key 401.  Run by scripts/test-all.sh (make test) with
# prove.
#
# It runs as whoever runs it: as root, httpd's children run as nobody;
# dpkg-buildpackage needs no root (debian/control says Rules-Requires-Root:
# no, so no fakeroot either), and a run as nobody passes too.
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
HTTPD=${APACHE_TEST_HTTPD:-/usr/sbin/apache2}
LIBEXECDIR=$(apxs -q LIBEXECDIR)
PKG=libapache2-mod-authn-apikey
WORK=$(mktemp -d "${TMPDIR:-/tmp}/apikey-deb.XXXXXX")
ROOT=$WORK/root
RUN=$WORK/run

cleanup() {
    if [ -f "$RUN/httpd.pid" ]; then
        pid=$(cat "$RUN/httpd.pid")
        ps -o args= -p "$pid" 2>/dev/null | grep -qF "$RUN/" &&
            kill "$pid" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

n=0
ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
# Indents a file (or stdin) as TAP diagnostics.
diag() { sed 's/^/# /' "$@" 2>/dev/null; }

echo "1..19"

# 1: the build, its output kept for when it fails.
if make deb >"$WORK/build.log" 2>&1; then
    ok 0 "make deb builds the package"
else
    ok 1 "make deb builds the package"
    tail -40 "$WORK/build.log" | diag
    echo "Bail out! no package to test"
    exit 1
fi
DEB=$(sed -n 's/^build-deb: \(.*\.deb\)$/\1/p' "$WORK/build.log" | tail -1)
VERSION=$(sed -n 's/^#define APIKEY_VERSION "\(.*\)"/\1/p' src/core/apikey_version.h)
case $(basename "$DEB") in
"${PKG}_$VERSION-"*"_$(dpkg-architecture -qDEB_HOST_ARCH).deb") r=0 ;;
*) r=1; echo "# make deb printed '$DEB'" ;;
esac
ok $r "make deb prints build/deb/${PKG}_$VERSION-N_ARCH.deb"

# What the package holds.
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$WORK/list"
has() { grep -qx "$1" "$WORK/list"; }
has_all() {
    for f; do has "$f" || { echo "# not in the package: $f"; return 1; }; done
}
has_all /usr/lib/apache2/modules/mod_authn_apikey.so /usr/bin/htapikey \
    /etc/apache2/mods-available/authn_apikey.load \
    /etc/apache2/mods-available/authn_apikey.conf
ok $? "dpkg-deb -c: the module, htapikey, the .load and the .conf"
schemas=""
for f in conf/schema/*.sql; do
    schemas="$schemas /usr/share/mod_authn_apikey/schema/$(basename "$f")"
done
# shellcheck disable=SC2086
has_all $schemas
ok $? "dpkg-deb -c: the schemas in /usr/share/mod_authn_apikey/schema"
DOC=/usr/share/doc/$PKG
has_all $DOC/copyright "$DOC/README.md.gz" "$DOC/docs/directives.md.gz" \
    "$DOC/docs/htapikey.md.gz" "$DOC/changelog.gz"
ok $? "dpkg-deb -c: copyright, README, docs and CHANGES.md as changelog in $DOC"
has_all /usr/share/man/man1/htapikey.1.gz
ok $? "dpkg-deb -c: the man page htapikey.1"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "$depends" | grep -q 'apache2-api-[0-9]*' &&
    echo "$depends" | grep -q 'libaprutil1-dbd-sqlite3 | libaprutil1-dbd-pgsql | libaprutil1-dbd-mysql'
ok $? "Depends: apache2-api-N and a DBD driver"

# lintian, on the .changes (the package and its -dbgsym); its output is
# shown in full.
# Its status is 1 for an error tag, more when it could not run (127: none).
lintian --tag-display-limit 0 "${DEB%.deb}.changes" >"$WORK/lintian" 2>&1
lrc=$?
diag "$WORK/lintian"
[ $lrc -le 1 ] && ! grep -q '^E:' "$WORK/lintian"
ok $? "lintian ran and reports no error (E:; status $lrc)"

# Unpacked, as dpkg would install it.
dpkg-deb -x "$DEB" "$ROOT"
head -3 "$ROOT/etc/apache2/mods-available/authn_apikey.load" |
    grep -qx '# Depends: dbd'
ok $? "authn_apikey.load declares '# Depends: dbd' on its first lines"
# Safe to enable as it ships: every directive inside <IfModule>, and no
# DBDriver or DBDParams (one would replace a store mod_authn_dbd uses).
awk '/^[ \t]*#/ || /^[ \t]*$/ { next }
     /^[ \t]*<IfModule[ \t>]/ { depth++; next }
     /^[ \t]*<\/IfModule>/ { depth--; next }
     depth < 1 || /^[ \t]*DBD(river|Params)[ \t]/ { print FILENAME ":" FNR ": " $0; bad = 1 }
     END { exit bad }' "$ROOT/etc/apache2/mods-available/authn_apikey.conf" >"$WORK/conf.bad"
r=$?
diag "$WORK/conf.bad"
ok $r "authn_apikey.conf: every directive commented or inside <IfModule>, no store named"

mkdir -p "$RUN/htdocs/api"
echo "hello" >"$RUN/htdocs/api/index.txt"
"$ROOT/usr/bin/htapikey" -p "$RUN/keys.db" init >"$WORK/htapikey.log" 2>&1 &&
    KEY=$("$ROOT/usr/bin/htapikey" -p "$RUN/keys.db" --json create --owner x \
              2>>"$WORK/htapikey.log" |
          sed -n 's/.*"key":"\([^"]*\)".*/\1/p') &&
    [ -n "$KEY" ]
r=$?
[ $r = 0 ] || diag "$WORK/htapikey.log"
ok $r "the unpacked htapikey: -p DB init, create --owner x"

# a2enmod in the unpacked root, beside the system's dbd.load, with its
# state markers there too.
CONFDIR=$ROOT/etc/apache2
cp /etc/apache2/mods-available/dbd.load "$CONFDIR/mods-available/"
mkdir -p "$CONFDIR/mods-enabled" "$WORK/a2state"
APACHE_CONFDIR=$CONFDIR APACHE_STATE_DIRECTORY=$WORK/a2state \
    a2enmod authn_apikey >"$WORK/a2enmod.log" 2>&1 &&
    [ -e "$CONFDIR/mods-enabled/dbd.load" ] &&
    [ -e "$CONFDIR/mods-enabled/authn_apikey.load" ] &&
    [ -e "$CONFDIR/mods-enabled/authn_apikey.conf" ]
r=$?
[ $r = 0 ] || { diag "$WORK/a2enmod.log"; ls -l "$CONFDIR/mods-enabled" | diag; }
ok $r "a2enmod authn_apikey enables dbd too"

# What a2enmod enabled, the .load pointed at the unpacked module, the .conf
# as it ships (enabling it as is must change nothing), then this test's
# store.
USER_LINES=""
if [ "$(id -u)" = 0 ]; then
    USER_LINES="User nobody
Group $(id -gn nobody)"
    chown -R nobody "$RUN"
fi
chmod 755 "$WORK"
PORT=$(perl -MIO::Socket::INET -e \
    'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                 LocalPort => 0)->sockport')
sed -i "s|/usr/lib/apache2/modules/mod_authn_apikey.so|$ROOT/usr/lib/apache2/modules/mod_authn_apikey.so|" \
    "$CONFDIR/mods-available/authn_apikey.load"
cat >"$RUN/httpd.conf" <<EOF
ServerRoot "$RUN"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$RUN/httpd.pid"
DefaultRuntimeDir "$RUN"
ErrorLog "$RUN/error.log"
LogLevel warn authn_apikey:info
$USER_LINES
LoadModule mpm_event_module  $LIBEXECDIR/mod_mpm_event.so
LoadModule authn_core_module $LIBEXECDIR/mod_authn_core.so
LoadModule authz_core_module $LIBEXECDIR/mod_authz_core.so
Include "$CONFDIR/mods-enabled/*.load"
Include "$CONFDIR/mods-enabled/*.conf"
DBDriver sqlite3
DBDParams "$RUN/keys.db"
DocumentRoot "$RUN/htdocs"
<Directory />
    Require all denied
</Directory>
<Directory "$RUN/htdocs">
    Require all granted
</Directory>
<Location /api>
    AuthType APIKey
    AuthName "deb"
    Require apikey
</Location>
EOF
"$HTTPD" -t -f "$RUN/httpd.conf" >"$WORK/httpd-t.log" 2>&1
r=$?
[ $r = 0 ] || diag "$WORK/httpd-t.log"
ok $r "apache2 -t: the enabled .load files and authn_apikey.conf"

"$HTTPD" -f "$RUN/httpd.conf" -k start >"$WORK/start.log" 2>&1
r=$?
URL=http://127.0.0.1:$PORT/api/index.txt
# Until it answers (a generous deadline: a busy machine must pass too).
code=000
if [ $r = 0 ]; then
    i=0
    while [ $i -lt 300 ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
        [ "$code" != 000 ] && break
        sleep 0.1
        i=$((i + 1))
    done
fi
[ "$code" != 000 ]
r=$?
[ $r = 0 ] || { diag "$WORK/start.log"; diag "$RUN/error.log"; }
ok $r "apache2 -k start on 127.0.0.1:$PORT"

code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-API-Key: $KEY" "$URL")
[ "$code" = 200 ] && grep -qx hello "$WORK/body"
ok $? "the key: 200 (got $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL")
[ "$code" = 200 ]
ok $? "the key as a Bearer token: 200 (got $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 401 ]
ok $? "no key: 401 (got $code)"
# A well-formed key of another store: its checksum holds, the look-up fails.
OTHER=$("$ROOT/usr/bin/htapikey" -p "$WORK/other.db" init >/dev/null 2>&1 &&
        "$ROOT/usr/bin/htapikey" -p "$WORK/other.db" --json create --owner y \
            2>/dev/null | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: ${OTHER:-ak_unknown}" "$URL")
[ "$code" = 401 ] && [ -n "$OTHER" ]
ok $? "an unknown key: 401 (got $code)"

# Stopped, and gone within a generous deadline.
pid=$(cat "$RUN/httpd.pid" 2>/dev/null)
"$HTTPD" -f "$RUN/httpd.conf" -k stop >/dev/null 2>&1
i=0
while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null
r=$?
if grep -q ':emerg\]\|:crit\]' "$RUN/error.log" 2>/dev/null; then
    r=1
    diag "$RUN/error.log"
fi
ok $r "apache2 -k stop; no emerg or crit line in its error log"
