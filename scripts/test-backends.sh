#!/bin/sh
# Runs the Apache::Test files whose meaning depends on the key store's
# database against another backend than the main run's SQLite: a private
# PostgreSQL (pgsql) or MariaDB (mysql) server, started for the run as the
# test user and stopped at its end (scripts/run-tests.sh, scripts/db-server.sh).
# The keys, the schema (made by "htapikey init"), the look-ups of httpd and
# of the private httpds of t/lib/ApiKeyServer.pm all go to that server.
#
#   sh scripts/test-backends.sh pgsql|mysql [t/NNN_x.t ...]
#
# A backend whose packages are missing, or whose server does not start, is
# reported as "1..0 # SKIP" and a line "SKIPPED: <backend> backend: <why>".
set -e
cd "$(dirname "$0")/.."
BACKEND=${1:?usage: test-backends.sh pgsql|mysql [t/NNN_x.t ...]}
shift
# What reads or writes the store: keys and their life cycle through
# htapikey (its audit trail, export and import too), look-ups and the
# columns they return (attributes, restrictions, limits, rotation), custom
# SQL, and the fleet of nodes sharing one server.
if [ $# -eq 0 ]; then
    set -- t/010_authn.t t/020_backend.t t/030_lifecycle.t \
        t/036_htapikey_io.t t/060_authz.t \
        t/070_scope.t t/080_restrictions.t t/085_app_restrictions.t \
        t/100_storage.t t/130_legacy.t \
        t/146_cache_record.t t/150_rotate.t t/160_limits.t \
        t/164_budgets.t t/165_bandwidth.t t/166_store_upgrade.t \
        t/167_windows.t \
        t/185_store_scope.t \
        t/240_fleet.t \
        t/245_quota_store.t t/250_quota_fleet.t t/255_usage.t
fi
APIKEY_TEST_BACKEND=$BACKEND
export APIKEY_TEST_BACKEND
exec sh scripts/run-tests.sh "$@"
