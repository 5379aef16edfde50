#!/bin/sh
# Runs the tests under a memory checker, then checks the reports it wrote
# with scripts/sanitizer-reports.t, a TAP test of its own so that its count
# joins the others.  docs/sanitizers.md says what each mode covers.
#
#   test-sanitizers.sh asan [--short] [t/NNN.t ...]      make test-asan
#   test-sanitizers.sh valgrind [--short] [t/NNN.t ...]  make test-valgrind
#
# asan builds a copy of the tree in build/asan with AddressSanitizer and
# UndefinedBehaviorSanitizer (the module, htapikey, the C unit tests) and
# runs the unit tests and the whole Apache::Test suite there, httpd with
# the sanitizer runtimes preloaded.  valgrind runs the suite on the normal
# build with the main httpd in one process (-X) under memcheck; tests that
# start multi-process servers of their own skip themselves.  --short is the
# form make test runs: the subsets below.  Reports land in build/<mode>-logs.  Exits
# non-zero when a suite or the check of the reports failed.
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
MODE=$1
shift || true
SHORT=""
if [ "$1" = --short ]; then
    SHORT=1
    shift
fi
TEST_USER=${APIKEY_TEST_USER:-nobody}
HTTPD=${APACHE_TEST_HTTPD:-/usr/sbin/apache2}
MAKE=${MAKE:-make}

# What make test runs under valgrind (about 60 s of the full form's 130):
# the request path from key to quota and status page, and the directive
# parsers (050 runs httpd -t on many configurations, each under valgrind).
VALGRIND_SHORT="t/010_authn.t t/050_config.t t/060_authz.t t/110_sources.t
                t/140_cache.t t/160_limits.t t/180_status.t"

# What make test runs under ASan: every file but those that spend their
# time in load and faults (exact counts under 2,000 requests, children
# killed), which exercise no code path the others do not.
ASAN_SHORT=$(cd "$TOP" && ls t/[0-9]*.t | grep -v -e '^t/170_' -e '^t/22[01]_')

case "$MODE" in
asan|valgrind) ;;
*)  echo "usage: $0 asan|valgrind [--short] [t/NNN_feature.t ...]" >&2
    exit 2 ;;
esac

# A fresh directory for the reports, writable by the user the suite runs as
# (scripts/run-tests.sh runs it as $TEST_USER when we are root).
LOGS=$TOP/build/$MODE-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
[ "$(id -u)" = 0 ] && chown "$TEST_USER" "$LOGS"

status=0
run() {
    "$@" || status=1
}

if [ "$MODE" = asan ]; then
    # clang, not gcc: gcc splits ASan and UBSan into two runtimes, and with
    # both loaded UBSan's reports ignore log_path and go to stderr, where
    # httpd's error log and the tests' captures would lose them.  clang's
    # one runtime writes both (and the leak check's) to log_path.
    CLANG=${SAN_CC:-clang}
    SAN=address,undefined
    RT=$($CLANG -print-file-name=libclang_rt.asan-x86_64.so)
    if [ ! -f "$RT" ]; then
        echo "asan: no $CLANG or no libclang_rt.asan-x86_64.so (Debian:" \
             "clang, libclang-rt-14-dev)" >&2
        exit 1
    fi
    TREE=$TOP/build/asan
    # apxs leaves objects beside the sources: build in a copy, never in the
    # tree itself.  Only files whose content changed are copied (with a new
    # modification time), so make rebuilds what changed and nothing else;
    # sources deleted here are deleted there too.
    STAGE=$TOP/build/asan-src
    rm -rf "$STAGE"
    mkdir -p "$STAGE" "$TREE"
    (cd "$TOP" && tar --exclude=./.git --exclude=./build --exclude=./.libs \
        --exclude=./src/.libs --exclude=./src/httpd/.libs --exclude='*.lo' --exclude='*.slo' \
        --exclude='*.la' --exclude='*.o' --exclude=./htapikey \
        --exclude=./build.log --exclude=./t/logs --exclude=./t/data \
        --exclude=./bench/results -cf - .) | tar -C "$STAGE" -xf -
    (cd "$STAGE" && find . -type f) | while read -r f; do
        if ! cmp -s "$STAGE/$f" "$TREE/$f"; then
            mkdir -p "$(dirname "$TREE/$f")"
            rm -f "$TREE/$f"
            cp "$STAGE/$f" "$TREE/$f"
        fi
    done
    (cd "$TREE" && find . \( -path ./build -o -path ./.libs -o \
        -path ./src/.libs -o -path ./src/httpd/.libs -o -path ./t/logs -o -path ./t/data \) -prune -o \
        -type f \( -name '*.[ch]' -o -name '*.t' -o -name '*.pm' -o \
        -name '*.in' -o -name '*.sh' -o -name '*.pl' \) -print) |
    while read -r f; do
        [ -e "$STAGE/$f" ] || rm -f "$TREE/$f"
    done
    rm -rf "$STAGE"
    echo "asan: building $TREE with -fsanitize=$SAN"
    if ! $MAKE -C "$TREE" WERROR=1 CC="$CLANG" SANITIZE=$SAN all unit \
            >"$LOGS/build.log" 2>&1; then
        cat "$LOGS/build.log"
        exit 1
    fi

    # The module's reports need its runtime loaded before anything else:
    # httpd itself is not instrumented, so the wrapper below preloads it.
    # llvm-symbolizer (Debian: llvm) names the frames.
    SYMBOLIZER=$(command -v llvm-symbolizer ||
                 ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -1 ||
                 true)
    common="log_path=$LOGS/report:strip_path_prefix=$TREE/"
    common="$common:strict_string_checks=1:check_initialization_order=1"
    common="$common:detect_stack_use_after_return=1"
    [ -n "$SYMBOLIZER" ] && common="$common:external_symbolizer_path=$SYMBOLIZER"
    # httpd: no leak detection.  It leaves process-lifetime memory to exit
    # by design, and our own allocations come from pools; by the time a
    # leak check would run at exit, the module is unloaded and its frames
    # could not be named anyway.  valgrind's run covers leaks instead.
    # abort_on_error: a child that hits an error dies by SIGABRT, which
    # httpd logs as "exit signal Aborted".
    cat >"$TREE/build/httpd" <<EOF
#!/bin/sh
# Generated by scripts/test-sanitizers.sh: $HTTPD with the sanitizers'
# runtime preloaded, since it is not instrumented itself.
LD_PRELOAD="$RT\${LD_PRELOAD:+ \$LD_PRELOAD}"
ASAN_OPTIONS="$common:detect_leaks=0:abort_on_error=1"
export LD_PRELOAD ASAN_OPTIONS
exec $HTTPD "\$@"
EOF
    chmod 755 "$TREE/build/httpd"
    # htapikey and the unit tests: short-lived programs, leak detection on.
    ASAN_OPTIONS="$common:detect_leaks=1"
    if [ -f "$TOP/t/lsan.supp" ]; then
        LSAN_OPTIONS="suppressions=$TOP/t/lsan.supp:print_suppressions=0"
        export LSAN_OPTIONS
    fi
    # UBSan's own options (the report's destination is ASan's log_path).
    UBSAN_OPTIONS="print_stacktrace=1:report_error_type=1"
    export ASAN_OPTIONS UBSAN_OPTIONS

    echo "== asan: C unit tests"
    # --short: the forked torture and the four-byte UTF-8 sweep at a
    # quarter (38 of the 43 s the unit tests took under ASan); the plain pass of
    # make test runs them whole.
    if [ -n "$SHORT" ]; then
        APIKEY_TORTURE_SCALE=${APIKEY_TORTURE_SCALE:-25}
        export APIKEY_TORTURE_SCALE
    fi
    run prove --exec '' "$TREE"/build/unit/*.t
    if [ -n "$SHORT" ] && [ $# -eq 0 ]; then
        # shellcheck disable=SC2086
        set -- $ASAN_SHORT
    fi
    echo "== asan: Apache::Test suite"
    run env APACHE_TEST_HTTPD="$TREE/build/httpd" APIKEY_ASAN=1 \
        sh "$TREE/scripts/run-tests.sh" "$@"
else
    TREE=$TOP
    if ! command -v valgrind >/dev/null; then
        echo "valgrind: not installed (Debian: valgrind)" >&2
        exit 1
    fi
    if [ ! -f "$TREE/.libs/mod_authn_apikey.so" ] || [ ! -x "$TREE/htapikey" ]
    then
        echo "valgrind: build first (make)" >&2
        exit 1
    fi
    # Only the runs that load a configuration go under valgrind, not
    # Apache::Test's -V, -v and -l queries.  Processes httpd forks
    # (mod_cgid's daemon) are left silent: only the main process runs our
    # code in -X mode.  XML for sanitizer-reports.t, text for people.
    cat >"$TOP/build/httpd-valgrind" <<EOF
#!/bin/sh
# Generated by scripts/test-sanitizers.sh: $HTTPD under valgrind memcheck
# when it loads a configuration (not for -V, -v, -l...).
for a in "\$@"; do
    case \$a in -V|-v|-l|-L|-h|-M|-S) exec $HTTPD "\$@" ;; esac
done
exec valgrind --tool=memcheck --error-exitcode=99 \\
    --suppressions=$TOP/t/valgrind.supp --gen-suppressions=all \\
    --leak-check=full --show-leak-kinds=definite \\
    --errors-for-leak-kinds=definite --keep-debuginfo=yes \\
    --num-callers=40 --child-silent-after-fork=yes \\
    --log-file=$LOGS/vg.%p.log --xml=yes --xml-file=$LOGS/vg.%p.xml \\
    $HTTPD "\$@"
EOF
    chmod 755 "$TOP/build/httpd-valgrind"
    if [ -n "$SHORT" ] && [ $# -eq 0 ]; then
        # shellcheck disable=SC2086
        set -- $VALGRIND_SHORT
    fi
    echo "== valgrind: Apache::Test suite, httpd -X under memcheck"
    run env APACHE_TEST_HTTPD="$TOP/build/httpd-valgrind" APIKEY_VALGRIND=1 \
        APACHE_TEST_STARTUP_TIMEOUT=180 \
        sh "$TOP/scripts/run-tests.sh" -one-process "$@"
fi

echo "== $MODE: reports in $LOGS"
run env APIKEY_SAN_MODE="$MODE" APIKEY_SAN_LOGS="$LOGS" APIKEY_SAN_TREE="$TREE" \
    prove "$TOP/scripts/sanitizer-reports.t"
exit $status
