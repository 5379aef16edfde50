#!/bin/sh
# Runs the Apache::Test suite (t/*.t) against the built module and htapikey.
#
# Apache::Test refuses to run as root (httpd could not drop privileges for
# its children), so as root this copies the tree to a temporary directory
# owned by an unprivileged user (nobody, or $APIKEY_TEST_USER) and runs the
# suite there as that user.  Logs of a failed run are kept and their path
# printed (and always with KEEP=1).  Extra arguments are passed to t/TEST.PL (e.g. t/010_authn.t).
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
TEST_USER=${APIKEY_TEST_USER:-nobody}

if [ "$(id -u)" = 0 ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/apikey-test.XXXXXX")
    # Not the sanitizer builds' copy and reports (scripts/test-sanitizers.sh).
    tar -C "$TOP" --exclude=./.git --exclude=./t/logs --exclude=./t/data \
        --exclude=./build/asan --exclude='./build/*-logs' \
        -cf - . | tar -C "$WORK" -xf -
    chown -R "$TEST_USER" "$WORK"
    chmod 755 "$WORK"
    set +e
    runuser -u "$TEST_USER" -- env HOME="$WORK" PATH="$PATH" \
        sh "$WORK/scripts/run-tests.sh" "$@"
    rc=$?
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
./htapikey -p t/data/keys.db init >/dev/null
./htapikey -p t/data/tenant.db init >/dev/null
./htapikey -p t/data/cache.db init >/dev/null
# The pepper of the HMAC tests, private to the test user.
head -c 32 /dev/urandom | base64 >t/data/pepper
chmod 600 t/data/pepper
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout t/data/tls/key.pem -out t/data/tls/cert.pem 2>/dev/null

export APIKEY_TOP="$TOP"
perl t/TEST.PL -clean >/dev/null 2>&1 || true
set +e
perl t/TEST.PL -apxs "$APXS" -httpd "$HTTPD" -port select \
    -httpd_conf_extra "$TOP/build/test-modules.conf" "$@"
rc=$?
# A test that died may leave one of its private servers (t/lib/
# ApiKeyServer.pm) behind: nothing of the run may outlive it.
for pid in t/logs/srv-*/httpd.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
done
exit $rc
