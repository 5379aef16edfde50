#!/bin/sh
# Starts and stops a private database server for the test suite: a fresh
# PostgreSQL or MariaDB cluster in DIR, owned by the user running this (never
# root: postgres refuses it), listening only on a Unix socket in DIR (no TCP
# port at all), with one empty database "apikey".  System services are never
# used or touched.
#
#   db-server.sh start pgsql|mysql DIR   prints the DBDParams to reach it;
#                                        on a DIR it was stopped in, starts
#                                        the same server again
#   db-server.sh stop  pgsql|mysql DIR   stops it (idempotent), leaves DIR
#   db-server.sh check pgsql|mysql       exit 0 when it could be started,
#                                        else prints why not
#
# Durability is off (fsync, synchronous commit): the data lives for one run.
set -e
cmd=$1 backend=$2 dir=$3

PGBIN=${APIKEY_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

# An APR DBD driver is a DSO beside APR-util's others.
have_driver() {
    for f in /usr/lib/*/apr-util-1/apr_dbd_$1*.so /usr/lib*/apr-util-1/apr_dbd_$1*.so \
             /usr/local/lib*/apr-util-1/apr_dbd_$1*.so; do
        [ -f "$f" ] && return 0
    done
    return 1
}

# Why the backend cannot run here, or nothing.
missing() {
    case $backend in
    pgsql)
        for b in initdb pg_ctl postgres psql; do
            [ -x "$PGBIN/$b" ] || { echo "no $b (install postgresql)"; return; }
        done
        have_driver pgsql ||
            echo "no APR DBD pgsql driver (install libaprutil1-dbd-pgsql)" ;;
    mysql)
        for b in mariadb-install-db mariadbd mariadb mariadb-admin; do
            command -v $b >/dev/null 2>&1 ||
                [ -x /usr/sbin/$b ] || { echo "no $b (install mariadb-server)"; return; }
        done
        have_driver mysql ||
            echo "no APR DBD mysql driver (install libaprutil1-dbd-mysql)" ;;
    *)
        echo "unknown backend '$backend' (pgsql or mysql)" ;;
    esac
}

die() {
    echo "db-server: $backend: $*" >&2
    exit 1
}

pg_start() {
    params="host=$dir port=5432 user=apikey dbname=apikey"
    if [ -f "$dir/pgdata/PG_VERSION" ]; then
        "$PGBIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 \
            start >/dev/null || die "postgres did not start again"
        echo "$params"
        return
    fi
    "$PGBIN/initdb" -D "$dir/pgdata" -A trust -U apikey -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$dir/initdb.log")"
    cat >>"$dir/pgdata/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
max_connections = 200
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    "$PGBIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 start \
        >/dev/null || die "postgres did not start: $(tail -3 "$dir/postgres.log")"
    "$PGBIN/psql" -X -q -h "$dir" -U apikey -d postgres \
        -c 'CREATE DATABASE apikey' >/dev/null || die "CREATE DATABASE failed"
    echo "$params"
}

pg_stop() {
    [ -f "$dir/pgdata/postmaster.pid" ] || return 0
    pid=$(head -1 "$dir/pgdata/postmaster.pid")
    "$PGBIN/pg_ctl" -D "$dir/pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        "$PGBIN/pg_ctl" -D "$dir/pgdata" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
        kill -9 "$pid" 2>/dev/null || true
}

my_bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

my_start() {
    params="host=localhost user=root dbname=apikey sock=$dir/mysqld.sock"
    again=""
    [ -d "$dir/mydata/mysql" ] && again=1
    [ -n "$again" ] || "$(my_bin mariadb-install-db)" --no-defaults \
        --datadir="$dir/mydata" --auth-root-authentication-method=normal \
        --skip-test-db >"$dir/install.log" 2>&1 ||
        die "mariadb-install-db failed: $(tail -3 "$dir/install.log")"
    # Its output in a file, stdin closed: nothing ties it to the caller's
    # terminal or pipes.  Its pid is known before it writes the file itself.
    "$(my_bin mariadbd)" --no-defaults --datadir="$dir/mydata" \
        --socket="$dir/mysqld.sock" --skip-networking \
        --pid-file="$dir/mysqld.pid" --log-error="$dir/mysqld.log" \
        --tmpdir="$dir" --skip-log-bin --innodb-buffer-pool-size=32M \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
        --max-connections=300 </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/mysqld.pid"
    i=0
    until "$(my_bin mariadb-admin)" --no-defaults -S "$dir/mysqld.sock" -u root \
            ping >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 300 ] || { my_stop; die "mariadbd did not start: $(tail -3 "$dir/mysqld.log")"; }
        kill -0 $! 2>/dev/null || die "mariadbd exited: $(tail -3 "$dir/mysqld.log")"
        sleep 0.1
    done
    [ -n "$again" ] || "$(my_bin mariadb)" --no-defaults -S "$dir/mysqld.sock" \
        -u root -e 'CREATE DATABASE apikey' || die "CREATE DATABASE failed"
    echo "$params"
}

my_stop() {
    [ -f "$dir/mysqld.pid" ] || return 0
    pid=$(cat "$dir/mysqld.pid")
    "$(my_bin mariadb-admin)" --no-defaults -S "$dir/mysqld.sock" -u root \
        shutdown >/dev/null 2>&1 || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
        i=$((i + 1))
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/mysqld.pid"
}

case $cmd in
check)
    why=$(missing)
    [ -z "$why" ] || { echo "$why"; exit 1; } ;;
start)
    [ "$(id -u)" != 0 ] || die "refusing to run a database server as root"
    why=$(missing)
    [ -z "$why" ] || die "$why"
    mkdir -p "$dir"
    case $backend in pgsql) pg_start ;; mysql) my_start ;; esac ;;
stop)
    case $backend in pgsql) pg_stop ;; mysql) my_stop ;; esac ;;
*)
    echo "usage: db-server.sh start|stop|check pgsql|mysql [DIR]" >&2
    exit 2 ;;
esac
