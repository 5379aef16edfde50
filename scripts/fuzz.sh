#!/bin/sh
# Builds the libFuzzer targets of fuzz/ into build/fuzz/ and runs each for
# FUZZ_SECONDS (default 60), FUZZ_JOBS (default 2) at a time, printing TAP
# so that prove counts it: one line per target with its runs and CPU time.
#
#   sh scripts/fuzz.sh                  every target
#   FUZZ_TARGETS="key query" sh ...     some of them
#   FUZZ_MERGE=1 sh scripts/fuzz.sh     then merge inputs that reach new
#                                       code back into fuzz/corpus/ (minimised)
#
# Each target runs on build/fuzz/corpus-<target>, the seeds of
# fuzz/corpus/<target> copied in, so what it finds stays out of the repo
# until merged.  A crash, leak, timeout or sanitizer report leaves its input
# in build/fuzz/crashes/ and makes the target's line "not ok"; see
# docs/fuzzing.md to replay it.
set -u
cd "$(dirname "$0")/.."
self=scripts/fuzz.sh

out=build/fuzz
seconds=${FUZZ_SECONDS:-60}
clang=${FUZZ_CC:-clang}

# The fuzzers link the layers' archive (core, shm and dbd), built here with
# the fuzzer's instrumentation: coverage and ASan reach the code under
# test, not only the target.  The longest input worth trying: a header or
# query can be long; keys, words and limits cannot.
LIB_SRC=$(ls src/core/*.c src/shm/*.c src/dbd/*.c 2>/dev/null)
LIB_INC="-Isrc/core -Isrc/shm -Isrc/dbd"
FUZZ_FLAGS="-g -O1 -fno-omit-frame-pointer -Wall -Wextra \
    -fsanitize=address,undefined -fno-sanitize-recover=undefined"

# build/fuzz/libapikey.a, with -fsanitize=fuzzer-no-link; 0 or 1.
build_lib() {
    lib=$out/libapikey.a
    if [ -f "$lib" ] && [ -z "$(find $LIB_SRC src/*/*.h "$self" -newer "$lib" \
        2>/dev/null)" ]; then
        return 0
    fi
    mkdir -p "$out/lib"
    rm -f "$out"/lib/*.o
    for c in $LIB_SRC; do
        $clang $FUZZ_FLAGS -fsanitize=fuzzer-no-link $LIB_INC \
            $(apr-1-config --cflags --cppflags --includes) \
            $(apu-1-config --includes) -c -o "$out/lib/$(basename "$c" .c).o" \
            "$c" >>"$out/lib.build" 2>&1 || return 1
    done
    rm -f "$lib"
    ar rcs "$lib" "$out"/lib/*.o
}

max_len() {
    case $1 in
        key) echo 1024 ;;
        source_word) echo 512 ;;
        limit) echo 256 ;;
        *) echo 16384 ;;
    esac
}

# Builds into $out, logging to $out/<target>.build; 0 or 1.
build() {
    t=$1
    bin=$out/fuzz_$t
    # Up to date: newer than its source, the archive, the shared header and
    # this file.
    if [ -x "$bin" ] && [ -z "$(find fuzz/fuzz_$t.c "$out/libapikey.a" \
        fuzz/fuzz.h "$self" -newer "$bin" 2>/dev/null)" ]; then
        return 0
    fi
    $clang $FUZZ_FLAGS -fsanitize=fuzzer $LIB_INC -Ifuzz \
        $(apr-1-config --cflags --cppflags --includes) \
        $(apu-1-config --includes) -o "$bin" fuzz/fuzz_$t.c "$out/libapikey.a" \
        $(apu-1-config --link-ld --libs) $(apr-1-config --link-ld --libs) \
        -lcrypto -lz >"$out/$t.build" 2>&1
}

# One target, in the background of the main run: writes
# $out/<target>.result as "status runs seconds cpu artifact".
run_one() {
    t=$1
    if ! build "$t"; then
        cp "$out/$t.build" "$out/$t.log"
        echo "build 0 0 0 -" >"$out/$t.result"
        return
    fi
    bin=$out/fuzz_$t
    log=$out/$t.log
    corpus=$out/corpus-$t
    dict=
    [ -f fuzz/dict/$t.dict ] && dict=-dict=fuzz/dict/$t.dict
    mkdir -p "$corpus" "$out/crashes"
    cp fuzz/corpus/$t/* "$corpus/" 2>/dev/null
    # The CPU time of this shell's children so far (the build), from the
    # second line of "times", run here: in a pipe's subshell it would count
    # that subshell's children.
    times >"$out/$t.times"
    # halt_on_error makes UBSan findings crashes that libFuzzer keeps.
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ASAN_OPTIONS=detect_leaks=1 \
        "./$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$t-" $dict "$corpus" >"$log" 2>&1
    rc=$?
    times >>"$out/$t.times"
    cpu=$(sed -n '2p;4p' "$out/$t.times" | awk '{
        split($1, u, /[ms]/); split($2, s, /[ms]/);
        c[NR] = u[1] * 60 + u[2] + s[1] * 60 + s[2] }
        END { printf "%.1f", c[2] - c[1] }')
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" |
           tail -1)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [ $rc -eq 0 ] && [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "./$bin" -merge=1 -max_len="$(max_len "$t")" fuzz/corpus/$t \
            "$corpus" >>"$log" 2>&1 || rc=$?
    fi
    echo "$rc ${runs:-0} ${secs:-$seconds} $cpu ${artifact:--}" \
        >"$out/$t.result"
}

if [ "${1:-}" = --run ]; then
    run_one "$2"
    exit 0
fi

if ! command -v "$clang" >/dev/null 2>&1; then
    echo "1..0 # SKIP $clang is not installed (scripts/deps.sh)"
    exit 0
fi

targets=${FUZZ_TARGETS:-$(ls fuzz/fuzz_*.c | sed 's,fuzz/fuzz_\(.*\)\.c,\1,')}
set -- $targets
echo "1..$#"
mkdir -p "$out"

for t; do
    rm -f "$out/$t.result"
done
# The archive once, before the targets that link it.
if ! build_lib; then
    n=0
    for t; do
        n=$((n + 1))
        echo "not ok $n - fuzz_$t: the archive does not build, see $out/lib.build"
    done
    exit 1
fi
# Two at a time on two cores, each target built then run (one builds while
# another runs); each writes its own result file.
printf '%s\n' "$@" | xargs -r -n 1 -P "${FUZZ_JOBS:-2}" sh "$self" --run

# TAP on stdout; each line again on stderr, which prove shows even when it
# is not verbose, so that make test tells how long each target ran and
# where a crash's input is.
tap() {
    echo "$*"
    echo "# $*" >&2
}

n=0
status=0
for t; do
    n=$((n + 1))
    # A run killed before its end left no result.
    [ -s "$out/$t.result" ] || echo "lost 0 0 0 -" >"$out/$t.result"
    read -r rc runs secs cpu artifact <"$out/$t.result"
    if [ "$rc" = 0 ]; then
        tap "ok $n - fuzz_$t: $runs runs in $secs s ($cpu CPU s), no crash"
        continue
    fi
    status=1
    if [ "$rc" = build ]; then
        tap "not ok $n - fuzz_$t: does not build, see $out/$t.log"
    elif [ "$artifact" != - ]; then
        tap "not ok $n - fuzz_$t: failed after $runs runs; input kept in" \
            "$artifact"
    else
        tap "not ok $n - fuzz_$t: failed (exit $rc), see $out/$t.log"
    fi
    # The sanitizer's report (its first frames), for prove to show.
    grep -E 'ERROR|SUMMARY|invariant broken|runtime error|^ +#[0-9]+ 0x' \
        "$out/$t.log" | head -12 | sed 's/^/# /' >&2
done
exit $status
