#!/bin/sh
# Runs every test suite of "make test" in turn and closes with one line
# counting them all ("N passed, N failed"), since each harness prints its
# own summary, then a "SKIPPED: ..." line for each suite that could not run
# (a database backend that is not installed, say).  Exits non-zero when any
# suite failed.
#
# APIKEY_TEST_BUSY=N keeps N CPU-bound loops running beside the whole run
# (a shared CI host, a laptop compiling something): no assertion may depend
# on how fast the machine is.
cd "$(dirname "$0")/.."

# The suites wait far more than they compute (the SQLite suite's 230 s take
# 70 s of CPU), so they run in two lanes at once: this script runs lane A
# and starts itself again as lane B ("test-all.sh --lane-b LOG") in a
# process group of its own, whose output goes to LOG and is shown once
# lane A is done.  Their Apache::Test servers take turns to configure
# (APIKEY_TEST_START_LOCK, see scripts/run-tests.sh).
# lane_log is the log a lane's suites write to; status its failures.
status=0
suite() {
    echo "== $*" | tee -a "$lane_log"
    t0=$(date +%s)
    # sh has no pipefail: record each suite's status beside its output.
    { "$@"; echo $? >"$lane_log.rc"; } 2>&1 | tee -a "$lane_log"
    [ "$(cat "$lane_log.rc")" = 0 ] || status=1
    echo "== $*: $(($(date +%s) - t0)) s" | tee -a "$lane_log"
}
if [ "$1" = --lane-b ]; then
    lane_log=$2
    # The files whose meaning depends on the database, again on a private
    # PostgreSQL and a private MariaDB (each reports SKIPPED when it cannot
    # run).
    suite sh scripts/test-backends.sh pgsql
    suite sh scripts/test-backends.sh mysql
    # The Debian package (make deb), unpacked: its files, lintian, and a
    # private httpd loading its module (about 25 s).
    suite prove --exec sh scripts/test-deb.sh
    # The fuzz targets, briefly: 8 s each, two at a time (about 35 s in
    # all, with their build; half a million to a million runs a target).
    suite env FUZZ_SECONDS=8 prove --exec sh scripts/fuzz.sh
    # The short form of make test-valgrind (docs/sanitizers.md).
    suite sh scripts/test-sanitizers.sh valgrind --short
    rm -f "$lane_log.rc"
    echo $status >"$lane_log.status"
    exit $status
fi

log=$(mktemp "${TMPDIR:-/tmp}/apikey-tests.XXXXXX")
lane_log=$log
lane_b=""

busy=""
stop_busy() {
    if [ -n "$busy" ]; then
        kill $busy 2>/dev/null
    fi
    busy=""
}
stop_lane_b() {
    if [ -n "$lane_b" ]; then
        kill -TERM -- "-$lane_b" 2>/dev/null
    fi
    lane_b=""
}
# An EXIT trap's own status would become the script's (dash): keep ours.
trap 'rc=$?; stop_busy; stop_lane_b; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -n "$APIKEY_TEST_BUSY" ] && [ "$APIKEY_TEST_BUSY" -gt 0 ] 2>/dev/null; then
    i=0
    while [ $i -lt "$APIKEY_TEST_BUSY" ]; do
        sh -c 'while :; do :; done' &
        busy="$busy $!"
        i=$((i + 1))
    done
    echo "== $APIKEY_TEST_BUSY CPU-bound loops beside the run (APIKEY_TEST_BUSY):$busy"
fi
t_start=$(date +%s)

suite prove --exec '' build/unit/*.t
# The scripts' own tests (scripts/*.t): deps.sh's install path.
suite prove scripts/deps.t

# The lock the two lanes' Apache::Test servers take turns with, which the
# unprivileged test user must open too.
lockdir=$(mktemp -d "${TMPDIR:-/tmp}/apikey-lanes.XXXXXX")
chmod 755 "$lockdir"
: >"$lockdir/start.lock"
chmod 666 "$lockdir/start.lock"
APIKEY_TEST_START_LOCK=$lockdir/start.lock
export APIKEY_TEST_START_LOCK
: >"$log.b"
setsid sh scripts/test-all.sh --lane-b "$log.b" </dev/null >/dev/null 2>&1 &
lane_b=$!
echo "== lane B (scripts/test-all.sh --lane-b, pid $lane_b): PostgreSQL," \
     "MariaDB, package, fuzz, valgrind; its output follows lane A's"

suite sh scripts/run-tests.sh
# The short form of make test-asan (docs/sanitizers.md).
suite sh scripts/test-sanitizers.sh asan --short

echo "== lane A done; waiting for lane B"
wait "$lane_b"
lane_b=""
cat "$log.b"
cat "$log.b" >>"$log"
[ "$(cat "$log.b.status" 2>/dev/null)" = 0 ] || status=1
rm -rf "$lockdir" "$log.b" "$log.b.status" "$log.b.rc"

total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" |
        awk '{ s += $1 } END { print s + 0 }')
skipped=$(sed -n 's/^SKIPPED: //p' "$log")
failed=$(sed -n 's/.*Tests: [0-9]* Failed: \([0-9]*\)).*/\1/p' "$log" |
         awk '{ s += $1 } END { print s + 0 }')
# prove's "Test Summary Report" names each failing file and assertion;
# CI shows only the tail of the output, so repeat them under the count.
report=$(awk '/^Test Summary Report/ { on = 1; next }
              /^Files=[0-9]*, Tests=/ { on = 0 }
              on && NF && !/^-+$/ { print }
              /^# *Failed test / { names = names "\n" $0 }
              END { if (names != "") print substr(names, 2) }' "$log")
rm -f "$log" "$log.rc"
# A suite that died before its tests ran counted nothing: count it as one
# failure so the closing line never reads as a clean run.
note=""
if [ $status -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    note=" (a suite failed outside its tests; see above)"
fi
stop_busy
echo
echo "all suites: $((total - failed)) passed, $failed failed$note, in $(($(date +%s) - t_start)) s${APIKEY_TEST_BUSY:+ (with $APIKEY_TEST_BUSY CPU-bound loops beside)}"
if [ -n "$report" ]; then
    echo "failed, as prove reported them:"
    echo "$report" | sed 's/^/  /'
fi
# A suite that could not run is neither: say so under the count.
if [ -n "$skipped" ]; then
    echo "$skipped" | sed 's/^/SKIPPED: /'
fi
exit $status
