#!/bin/sh
# Runs the Apache::Test suite (t/*.t) against the built module and htapikey.
#
# Apache::Test refuses to run as root (httpd could not drop privileges for
# its children), so as root this copies the tree to a temporary directory
# owned by an unprivileged user (nobody, or $APIKEY_TEST_USER) and runs the
# suite there as that user.  Beside another suite (APIKEY_TEST_START_LOCK,
# scripts/test-all.sh) it runs in a copy too, as any user.  Logs of a failed run are kept and their path
# printed (and always with KEEP=1).  Extra arguments are passed to t/TEST.PL (e.g. t/010_authn.t).
#
# APIKEY_TEST_BACKEND=pgsql|mysql puts the main key store on a private
# database server run for the suite (scripts/test-backends.sh).
# "run-tests.sh --cleanup" only stops what a run that was killed left behind.
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
TEST_USER=${APIKEY_TEST_USER:-nobody}

# Nothing of the run may outlive it, however it ends: the suite's httpd
# (when the harness was killed), private servers a test left behind (t/lib/
# ApiKeyServer.pm), the database server (named in build/db-server.run while
# it runs).  Only processes of this tree are signalled (a stale pid file may
# name someone else's process by now).
cleanup() {
    # The harness, when it runs in the background (beside another suite).
    if [ -n "${harness:-}" ]; then
        kill "$harness" 2>/dev/null
    fi
    for pid in "$TOP"/t/logs/httpd.pid "$TOP"/t/logs/srv-*/httpd.pid; do
        [ -f "$pid" ] || continue
        pid=$(cat "$pid")
        ps -o args= -p "$pid" 2>/dev/null | grep -qF "$TOP/" &&
            kill "$pid" 2>/dev/null
    done
    if [ -f "$TOP/build/db-server.run" ]; then
        read -r db_backend db_dir <"$TOP/build/db-server.run"
        sh "$TOP/scripts/db-server.sh" stop "$db_backend" "$db_dir"
        mkdir -p "$TOP/t/logs"
        cp "$db_dir"/*.log "$TOP/t/logs/" 2>/dev/null || true
        rm -rf "$db_dir" "$TOP/build/db-server.run"
    fi
}
if [ "$1" = --cleanup ]; then
    cleanup
    exit 0
fi

# As root, and beside another suite (scripts/test-all.sh's lanes, which
# must not share t/), the suite runs in a copy of the tree: as root owned by
# and run as the test user, else as this user.
as_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$TEST_USER" -- env HOME="$WORK" PATH="$PATH" \
            APIKEY_TEST_IN_COPY=1 "$@"
    else
        env APIKEY_TEST_IN_COPY=1 "$@"
    fi
}
if [ -z "${APIKEY_TEST_IN_COPY:-}" ] &&
    { [ "$(id -u)" = 0 ] || [ -n "${APIKEY_TEST_START_LOCK:-}" ]; }; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/apikey-test.XXXXXX")
    # Not the sanitizer builds' copy and reports (scripts/test-sanitizers.sh).
    # Nor what another suite beside this one may be writing (scripts/
    # test-all.sh): the sanitizer build's staging copy, the fuzz targets,
    # the package build.
    tar -C "$TOP" --exclude=./.git --exclude=./t/logs --exclude=./t/data \
        --exclude=./build/mutate \
        --exclude=./build/asan --exclude=./build/asan-src \
        --exclude=./build/fuzz --exclude=./build/deb --exclude='./build/*-logs' \
        --exclude=./build/db-server.run -cf - . | tar -C "$WORK" -xf -
    if [ "$(id -u)" = 0 ]; then
        chown -R "$TEST_USER" "$WORK"
    fi
    chmod 755 "$WORK"
    set +e
    # A signal ends the run below; this shell stays to clean up after it.
    trap 'echo "run-tests: interrupted" >&2' HUP INT TERM
    as_user sh "$WORK/scripts/run-tests.sh" "$@"
    rc=$?
    # runuser kills the test user's shell 2 s after passing a SIGTERM on,
    # maybe before its own clean-up is done: finish it.
    as_user sh "$WORK/scripts/run-tests.sh" --cleanup
    set -e
    if [ $rc -eq 0 ] && [ -z "$KEEP" ]; then
        rm -rf "$WORK"
    else
        echo "run-tests: logs kept in $WORK/t/logs (exit status $rc)" >&2
    fi
    exit $rc
fi

cd "$TOP"
APXS=$(command -v apxs)
HTTPD=${APACHE_TEST_HTTPD:-/usr/sbin/apache2}
LIBEXECDIR=$($APXS -q LIBEXECDIR)

# Modules the suite needs beyond those Debian enables, passed with
# -httpd_conf_extra so that need_module() sees them.
mkdir -p build
{
    echo "LoadModule dbd_module $LIBEXECDIR/mod_dbd.so"
    echo "LoadModule include_module $LIBEXECDIR/mod_include.so"
    echo "LoadModule headers_module $LIBEXECDIR/mod_headers.so"
    echo "LoadModule rewrite_module $LIBEXECDIR/mod_rewrite.so"
    echo "LoadModule remoteip_module $LIBEXECDIR/mod_remoteip.so"
    echo "LoadModule ssl_module $LIBEXECDIR/mod_ssl.so"
    echo "LoadModule proxy_module $LIBEXECDIR/mod_proxy.so"
    echo "LoadModule proxy_http_module $LIBEXECDIR/mod_proxy_http.so"
    echo "LoadModule ratelimit_module $LIBEXECDIR/mod_ratelimit.so"
    if $HTTPD -V 2>/dev/null | grep -q 'threaded:.*yes'; then
        echo "LoadModule cgid_module $LIBEXECDIR/mod_cgid.so"
    else
        echo "LoadModule cgi_module $LIBEXECDIR/mod_cgi.so"
    fi
    echo "LoadModule authn_apikey_module $TOP/.libs/mod_authn_apikey.so"
} >build/test-modules.conf

# Fresh key stores (the main one, and a tenant's own); the tests create
# their keys with htapikey.  A throwaway certificate for the TLS tests.
rm -rf t/data
mkdir -p t/data/tls

trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The main store's backend (APIKEY_TEST_BACKEND, see scripts/test-backends.sh):
# sqlite3, or a private PostgreSQL or MariaDB server started here, as this
# user, and stopped when this script ends.
BACKEND=${APIKEY_TEST_BACKEND:-sqlite3}
skip() {
    echo "1..0 # SKIP $BACKEND backend: $1"
    echo "SKIPPED: $BACKEND backend: $1"
    exit 0
}
case $BACKEND in
sqlite3)
    PARAMS=$TOP/t/data/keys.db ;;
pgsql|mysql)
    why=$(sh scripts/db-server.sh check "$BACKEND") || skip "$why"
    # Under /tmp: a Unix socket's path must stay short.
    DBDIR=$(mktemp -d "${TMPDIR:-/tmp}/apikey-db.XXXXXX")
    echo "$BACKEND $DBDIR" >build/db-server.run
    PARAMS=$(sh scripts/db-server.sh start "$BACKEND" "$DBDIR" 2>"$DBDIR/start.log") ||
        skip "the private server did not start: $(cat "$DBDIR/start.log")" ;;
*)
    echo "run-tests: unknown APIKEY_TEST_BACKEND '$BACKEND'" >&2
    exit 2 ;;
esac
./htapikey -d "$BACKEND" -p "$PARAMS" init >/dev/null
printf 'DBDriver %s\nDBDParams "%s"\n' "$BACKEND" "$PARAMS" >t/data/store.conf
# APIKEY_TEST_DBDIR lets a test stop and start the server (db-server.sh).
export APIKEY_TEST_BACKEND="$BACKEND" APIKEY_TEST_DBPARAMS="$PARAMS" \
    APIKEY_TEST_DBDIR="${DBDIR:-}"
./htapikey -p t/data/tenant.db init >/dev/null
./htapikey -p t/data/cache.db init >/dev/null
# The pepper of the HMAC tests, private to the test user.
head -c 32 /dev/urandom | base64 >t/data/pepper
chmod 600 t/data/pepper
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout t/data/tls/key.pem -out t/data/tls/cert.pem 2>/dev/null
# For allow_cert (t/085_app_restrictions.t): a CA that mod_ssl trusts for
# client certificates, two client certificates it signed, and one signed
# by nobody (self-signed), made afresh for every run.
tls=t/data/tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=apikey-test-ca -keyout $tls/ca.key -out $tls/ca.pem \
    2>/dev/null
for n in client1 client2; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=$n -keyout $tls/$n.key -out $tls/$n.csr 2>/dev/null
    openssl x509 -req -in $tls/$n.csr -CA $tls/ca.pem -CAkey $tls/ca.key \
        -CAcreateserial -days 2 -out $tls/$n.pem 2>/dev/null
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=selfsigned -keyout $tls/self.key -out $tls/self.pem \
    2>/dev/null

export APIKEY_TOP="$TOP"
perl t/TEST.PL -clean >/dev/null 2>&1 || true
set +e
if [ -z "$APIKEY_TEST_START_LOCK" ]; then
    perl t/TEST.PL -apxs "$APXS" -httpd "$HTTPD" -port select \
        -httpd_conf_extra "$TOP/build/test-modules.conf" "$@"
    exit $?
fi
# Another suite runs beside this one (scripts/test-all.sh).  Apache::Test
# takes its ports when it writes the configuration (-port select: the first
# free block of 20 from 8529), so two suites configuring at once would take
# the same block.  The lock is held from before this one configures until
# its server listens (httpd writes its pid file once its ports are bound)
# or the harness has ended, whichever comes first.
exec 9>>"$APIKEY_TEST_START_LOCK"
flock 9
perl t/TEST.PL -apxs "$APXS" -httpd "$HTTPD" -port select \
    -httpd_conf_extra "$TOP/build/test-modules.conf" "$@" 9>&- &
harness=$!
while [ ! -s t/logs/httpd.pid ] && kill -0 "$harness" 2>/dev/null; do
    sleep 0.2
done
flock -u 9
exec 9>&-
wait "$harness"
rc=$?
harness=
exit $rc
