#!/bin/bash
# make bench: private httpd instances on 127.0.0.1, one per configuration,
# loaded with wrk round by round (A B C ... A B C ...), then an instruction
# count with callgrind.  Writes bench/results/<time>.md and the table of
# docs/benchmarks.md.  Environment: BENCH_ROUNDS (5), BENCH_SECONDS (5),
# BENCH_CONNECTIONS (32), BENCH_CONFIGS (all), BENCH_CALLGRIND (the
# configurations profiled: all but B), BENCH_KEEP (keep the work
# directory).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-7}
SECONDS_EACH=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNECTIONS:-32}
CONFIGS=${BENCH_CONFIGS:-"A A_log B C D M1 M2 M3 M4 M5"}
CALLGRIND=${BENCH_CALLGRIND:-"A A_log C D M1 M2 M3 M4 M5"}
HTTPD=/usr/sbin/apache2
LIB=$(apxs -q LIBEXECDIR)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/apikey-bench.XXXXXX")
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="$TOP/bench/results/$STAMP.md"
mkdir -p "$TOP/bench/results"

stop_all() {
    for pid in "$WORK"/*/httpd.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    sleep 1
}
trap 'stop_all; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"' EXIT

echo "bench: data in $WORK"
MILLION=""
[[ " $CONFIGS " == *" M5 "* ]] && MILLION=million
perl "$TOP/bench/make-data.pl" "$TOP" "$WORK" $MILLION >/dev/null
mkdir -p "$WORK/htdocs"
printf 'hello, benchmark\n' >"$WORK/htdocs/index.txt"
USERLINE=""
if [ "$(id -u)" = 0 ]; then
    USERLINE="User nobody
Group nogroup"
    chown -R nobody:nogroup "$WORK"
    chmod 755 "$WORK"
fi
SINGLE_KEY=$(head -1 "$WORK/keys.txt")

# The configuration of each instance.  All share the MPM settings (a fixed
# number of processes, so that CPU accounting stays simple).
conf() {
    local name=$1 port=$2 extra=""
    case $name in
        A) extra="" ;;
        A_log) extra="LogFormat \"%h %u %>s %b\" plain
CustomLog $WORK/$name/access_log plain" ;;
        B) extra="<Directory $WORK/htdocs>
    Require expr \"%{HTTP:X-Token} == 'secret'\"
</Directory>" ;;
        C|D) extra="LoadModule authn_dbd_module $LIB/mod_authn_dbd.so
LoadModule auth_basic_module $LIB/mod_auth_basic.so
LoadModule authz_user_module $LIB/mod_authz_user.so
DBDriver sqlite3
DBDParams $WORK/users.db"
            if [ "$name" = D ]; then
                extra="$extra
LoadModule socache_shmcb_module $LIB/mod_socache_shmcb.so
LoadModule authn_socache_module $LIB/mod_authn_socache.so
AuthnCacheSOCache shmcb"
            fi
            extra="$extra
<Directory $WORK/htdocs>
    AuthType Basic
    AuthName bench
    AuthBasicProvider $([ "$name" = D ] && echo "socache dbd" || echo dbd)
    $([ "$name" = D ] && echo "AuthnCacheProvideFor dbd" || true)
    $([ "$name" = D ] && echo "AuthnCacheTimeout 300" || true)
    AuthDBDUserPWQuery \"SELECT password FROM users WHERE user = %s\"
    Require valid-user
</Directory>" ;;
        M1|M2|M3|M4|M5)
            local store=keys.db slots=65536 entries=65536
            [ "$name" = M3 ] && store=keys-1m.db
            # A million keys in the load: the cache sized for them, the
            # limit table with room (a full one refuses new keys)
            [ "$name" = M5 ] && store=keys-m5.db slots=2097152 entries=1048576
            extra="LoadModule authn_apikey_module $TOP/.libs/mod_authn_apikey.so
DBDriver sqlite3
DBDParams $WORK/$store
AuthAPIKeyLimitSlots $slots
AuthAPIKeyCacheSize $entries
$([ "$name" = M4 ] && echo "AuthAPIKeyCacheTimeout 0" || echo "AuthAPIKeyCacheTimeout 3600")
<Directory $WORK/htdocs>
    AuthType APIKey
    AuthName bench"
            if [ "$name" = M1 ] || [ "$name" = M4 ]; then
                extra="$extra
    Require apikey
</Directory>"
            else
                extra="$extra
    Require apikey-scope api
    AuthAPIKeyRateLimit 1000000/s burst=1000000
    AuthAPIKeyQuota 4000000000/month
</Directory>
LogFormat \"%h %{id}K %{result}K %>s %b\" apikey
CustomLog $WORK/$name/access_log apikey"
            fi ;;
    esac
    mkdir -p "$WORK/$name"
    cat >"$WORK/$name/httpd.conf" <<CONF
ServerRoot $WORK/$name
ServerName localhost
Listen 127.0.0.1:$port
PidFile $WORK/$name/httpd.pid
DefaultRuntimeDir $WORK/$name
ErrorLog $WORK/$name/error_log
LogLevel warn
$USERLINE
LoadModule mpm_event_module $LIB/mod_mpm_event.so
LoadModule authn_core_module $LIB/mod_authn_core.so
LoadModule authz_core_module $LIB/mod_authz_core.so
LoadModule dbd_module $LIB/mod_dbd.so
StartServers 2
ServerLimit 2
ThreadsPerChild 64
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 128
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot $WORK/htdocs
$extra
CONF
    [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$WORK/$name"
}

declare -A PORT
port=18400
for c in $CONFIGS; do
    port=$((port + 1))
    PORT[$c]=$port
    conf "$c" "$port"
    "$HTTPD" -f "$WORK/$c/httpd.conf" -k start
done
sleep 2

# What a configuration's requests carry, in ARGS.
wrk_args() {
    ARGS=()
    case $1 in
        B) ARGS=(-H "X-Token: secret") ;;
        C|D) ARGS=(-H "Authorization: Basic $(printf 'user00042:secret42' | base64)") ;;
        M1|M2|M4) ARGS=(-H "X-API-Key: $SINGLE_KEY") ;;
        M3|M5) ARGS=(-s "$TOP/bench/keys.lua") ;;
    esac
}

# The keys a configuration's load cycles through.
keys_of() {
    [ "$1" = M5 ] && echo "$WORK/keys-m5.txt" || echo "$WORK/keys.txt"
}

# Shared memory an instance's parent maps (its rw-s mappings: httpd's
# scoreboard and the module's tables), in KiB.
shm_kib() {
    local pid
    pid=$(cat "$WORK/$1/httpd.pid" 2>/dev/null) || { echo 0; return; }
    awk '$2 ~ /s$/ { split($1, a, "-"); s += (strtonum("0x" a[2]) - strtonum("0x" a[1])) / 1024 } END { printf "%.0f", s }' "/proc/$pid/maps" 2>/dev/null || echo 0
}

declare -A SHM
for c in $CONFIGS; do SHM[$c]=$(shm_kib "$c"); done

# M5's load is a million keys: every one is looked up once, by 16 clients
# at a time, before any round, so that the rounds measure a warm cache.
if [[ " $CONFIGS " == *" M5 "* ]]; then
    echo "bench: M5: looking up the million keys once"
    for part in $(seq 0 15); do
        perl "$TOP/bench/client.pl" "${PORT[M5]}" "$WORK/keys-m5.txt" 62500 0 $((part * 62500)) &
    done
    wait
fi

cpu_ticks() {   # utime + stime of every process of an instance
    local t=0 pid
    for pid in $(pgrep -f "$WORK/$1/httpd.conf"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo $t
}

to_ms() {   # wrk's "123.45us" / "1.23ms" / "1.00s" in milliseconds
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.3f", n }'
}

HZ=$(getconf CLK_TCK)
RAW="$WORK/raw.tsv"
: >"$RAW"
for r in $(seq "$ROUNDS"); do
    for c in $CONFIGS; do
        wrk_args "$c"
        # warm the instance (and its caches) before each measured run
        BENCH_KEYS=$(keys_of "$c") wrk -t1 -c"$CONNS" -d1s "${ARGS[@]}" \
            "http://127.0.0.1:${PORT[$c]}/index.txt" >/dev/null
        before=$(cpu_ticks "$c")
        out=$(BENCH_KEYS=$(keys_of "$c") wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" \
              --latency "${ARGS[@]}" "http://127.0.0.1:${PORT[$c]}/index.txt")
        after=$(cpu_ticks "$c")
        rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
        reqs=$(echo "$out" | awk '/requests in/ {print $1}')
        p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
        p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
        non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        cpu_us=$(awk -v d=$((after - before)) -v n="$reqs" -v hz="$HZ" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "$rps" "$p50" "$p99" "$cpu_us" "${non2xx:-0}" >>"$RAW"
        echo "bench: round $r $c: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, ${cpu_us} us CPU/req, non-2xx ${non2xx:-0}"
    done
done

# Callgrind: instructions per request in a single process (httpd -X).
# Counting starts only after a warm-up (callgrind_control -i on), and the
# figure is the difference between 300 and 1300 measured requests, so that
# the warm-up (10,000 SQLite lookups for M3 and M5, whose run-to-run noise
# would otherwise swamp a request), start-up and shutdown all cancel out.
# "own" is what the profile puts in mod_authn_apikey.so itself (libcrypto's
# SHA-256, APR and httpd are counted in the total).
CG=""
AS_USER=""
if [ "$(id -u)" = 0 ]; then
    # httpd drops its privileges in -X too and could not then write a
    # root-owned profile: valgrind runs as the instances' user
    AS_USER="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi
ir() {   # $1 config, $2 requests: "total own" instructions
    local c=$1 n=$2 f="$WORK/cg.$1.$2" i vpid
    $AS_USER valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$f" \
        "$HTTPD" -f "$WORK/$c/httpd.conf" -X >/dev/null 2>&1 &
    vpid=$!
    for i in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$c]}/" && break; sleep 0.3
    done
    wrk_args "$c"
    if [ "$c" = M3 ] || [ "$c" = M5 ]; then
        # 10,000 distinct keys, each looked up once before counting starts;
        # the measured requests cycle over them, cached (for M5, in the
        # cache sized for a million)
        perl "$TOP/bench/client.pl" "${PORT[$c]}" "$(keys_of "$c")" 10000 0 >&2 \
            || echo "bench: $c: the warm-up failed" >&2
    else
        ab -q -n 100 -c 1 -k "${ARGS[@]}" \
            "http://127.0.0.1:${PORT[$c]}/index.txt" >/dev/null 2>&1
    fi
    $AS_USER callgrind_control -i on "$vpid" >/dev/null 2>&1 \
        || echo "bench: $c: callgrind_control failed" >&2
    if [ "$c" = M3 ] || [ "$c" = M5 ]; then
        CLIENT_WARM=0 perl "$TOP/bench/client.pl" "${PORT[$c]}" "$(keys_of "$c")" 10000 "$n" >&2 \
            || echo "bench: $c: the client failed" >&2
    else
        ab -q -n "$n" -c 1 -k "${ARGS[@]}" \
            "http://127.0.0.1:${PORT[$c]}/index.txt" >/dev/null 2>&1
    fi
    kill -TERM "$vpid"; wait "$vpid" 2>/dev/null || true
    for i in $(seq 100); do   # the next run needs the port
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$c]}/" || break; sleep 0.3
    done
    # Module code shows as "file:function [.../mod_authn_apikey.so]", or,
    # where debug information gives no file, as "???:function" with no
    # object: those count when the function is one of the module's.
    nm --defined-only "$TOP/.libs/mod_authn_apikey.so" | awk '$2 ~ /^[tT]$/ { print $3 }' >"$WORK/module.syms"
    callgrind_annotate --threshold=100 "$f" 2>/dev/null | awk -v syms="$WORK/module.syms" '
        BEGIN { while ((getline s < syms) > 0) mine["???:" s] = 1 }
        /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
        /Auto-annotated source/ { exit }
        /mod_authn_apikey\.so\]/ || $NF in mine { v = $1; gsub(",", "", v); own += v }
        END { printf "%s %s\n", total, own + 0 }'
}
if command -v valgrind >/dev/null && command -v ab >/dev/null; then
    for c in $CALLGRIND; do
        [[ " $CONFIGS " == *" $c "* ]] || continue
        "$HTTPD" -f "$WORK/$c/httpd.conf" -k stop; sleep 1
        [ -n "$AS_USER" ] && chown -R nobody:nogroup "$WORK/$c"   # logs the root parent opened
        read -r t1 o1 < <(ir "$c" 300)
        read -r t2 o2 < <(ir "$c" 1300)
        line=$(awk -v c="$c" -v t1="$t1" -v t2="$t2" -v o1="$o1" -v o2="$o2" 'BEGIN {
            t = (t2 - t1) / 1000; o = (o2 - o1) / 1000;
            printf "| %s | %.0f | %.0f | %.2f %% |", c, t, o, t ? 100 * o / t : 0 }')
        echo "bench: callgrind: $line"
        CG="$CG$line
"
    done
fi

# Issue 17's targets, from the instruction counts: met or missed.
TARGETS=""
if [ -n "$CG" ]; then
    TARGETS=$(printf '%s' "$CG" | awk -F'|' '
        { gsub(/ /, "", $2); t[$2] = $3 + 0; o[$2] = $4 + 0 }
        function row(what, have, value, goal, ok) {
            if (!have) { printf "| %s | not measured | %s | |\n", what, goal; return }
            printf "| %s | %s | %s | %s |\n", what, value, goal, ok ? "met" : "missed"
        }
        END {
            print "| target | measured | goal | |"
            print "|---|---|---|---|"
            d = ("D" in t) && ("A" in t) ? t["D"] - t["A"] : 0
            m2 = ("M2" in t) && ("A_log" in t) ? t["M2"] - t["A_log"] : 0
            m1 = ("M1" in t) && ("A" in t) ? t["M1"] - t["A"] : 0
            row("M2 over A_log <= D over A", m2 && d, sprintf("%d vs %d", m2, d), "<= D over A", m2 <= d)
            row("M2 over A_log, the aim", m2, sprintf("%d", m2), "<= 5000", m2 <= 5000)
            row("M1 over A", m1, sprintf("%d", m1), "<= 5000", m1 <= 5000)
            row("own code, M1", "M1" in t, sprintf("%.2f %%", t["M1"] ? 100 * o["M1"] / t["M1"] : 0), "<= 3 %", t["M1"] && o["M1"] <= 0.03 * t["M1"])
            row("own code, M2", "M2" in t, sprintf("%.2f %%", t["M2"] ? 100 * o["M2"] / t["M2"] : 0), "<= 3 %", t["M2"] && o["M2"] <= 0.03 * t["M2"])
            row("M4 <= C", ("M4" in t) && ("C" in t), sprintf("%d vs %d", t["M4"], t["C"]), "<= C", t["M4"] <= t["C"])
            row("M3 within 5 % of M2", ("M3" in t) && ("M2" in t), sprintf("%+.1f %%", t["M2"] ? 100 * (t["M3"] - t["M2"]) / t["M2"] : 0), "within 5 %", t["M2"] && (t["M3"] - t["M2"]) <= 0.05 * t["M2"] && (t["M2"] - t["M3"]) <= 0.05 * t["M2"])
            row("M5 (1 M keys) within 5 % of M2", ("M5" in t) && ("M2" in t), sprintf("%+.1f %%", t["M2"] ? 100 * (t["M5"] - t["M2"]) / t["M2"] : 0), "within 5 %", t["M2"] && (t["M5"] - t["M2"]) <= 0.05 * t["M2"] && (t["M2"] - t["M5"]) <= 0.05 * t["M2"])
        }')
fi
SHMTABLE="| config | shared memory (parent's rw-s mappings) | over A |
|---|---|---|"
for c in $CONFIGS; do
    SHMTABLE="$SHMTABLE
| $c | $(awk -v k="${SHM[$c]}" 'BEGIN { printf "%.1f MiB", k / 1024 }') | $(awk -v k="${SHM[$c]}" -v a="${SHM[A]:-0}" 'BEGIN { printf "%+.1f MiB", (k - a) / 1024 }') |"
done

# The table: medians over the rounds, min..max, ratios to A in this run.
TABLE=$(awk -F'\t' -v order="$CONFIGS" '
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ");
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function lo(list,   a, n, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
    function hi(list,   a, n, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
    { rps[$1] = rps[$1] " " $3; p50[$1] = p50[$1] " " $4; p99[$1] = p99[$1] " " $5; cpu[$1] = cpu[$1] " " $6; bad[$1] += $7 }
    END {
        base = median(rps["A"]); cbase = median(cpu["A"]); lbase = median(p50["A"]);
        print "| config | req/s (median) | min..max | ratio to A | p50 ms | p99 ms | CPU us/req | CPU over A | non-2xx |";
        print "|---|---|---|---|---|---|---|---|---|";
        n = split(order, o, " ");
        for (i = 1; i <= n; i++) { c = o[i]; if (!(c in rps)) continue;
            printf "| %s | %.0f | %.0f..%.0f | %.3f | %.3f | %.3f | %.1f | %+.1f | %d |\n", c, median(rps[c]), lo(rps[c]), hi(rps[c]),
                   base ? median(rps[c]) / base : 0, median(p50[c]), median(p99[c]), median(cpu[c]), median(cpu[c]) - cbase, bad[c] }
    }' "$RAW")

{
    echo "# make bench, $STAMP (UTC)"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $($HTTPD -v | head -1 | sed 's/Server version: //'), event MPM."
    echo "wrk: 1 thread, $CONNS keep-alive connections, ${SECONDS_EACH} s a run, $ROUNDS rounds interleaved; a 1 s warm-up before each run."
    echo
    echo "$TABLE"
    echo
    if [ -n "$CG" ]; then
        echo "Callgrind, one process (httpd -X), 1000 requests, instructions per request:"
        echo
        echo "| config | whole request | module's own code | share |"
        echo "|---|---|---|---|"
        printf '%s' "$CG"
        echo
        echo "M3 and M5 send 10,000 distinct keys (bench/client.pl), each looked up once before the"
        echo "measured requests; M5's cache and limit table are sized for a million keys over a store of a"
        echo "million real keys. The others send one key (ab); client.pl's requests have ab's form. Counting"
        echo "starts after a warm-up (100 requests, or the 10,000 lookups), so every measured request is cached."
        echo
        echo "Targets (issue 17), from the instructions above:"
        echo
        echo "$TARGETS"
    fi
    echo
    echo "Shared memory at start-up:"
    echo
    echo "$SHMTABLE"
    echo
    echo "Raw runs (config, round, req/s, p50 ms, p99 ms, CPU us/req, non-2xx):"
    echo
    echo '```'
    cat "$RAW"
    echo '```'
} >"$OUT"
echo "bench: results in $OUT"

# latest.md and docs/benchmarks.md (the part between the markers) show full
# runs only: a quick look at two configurations must not replace them.
FULL=""
[ -z "${BENCH_CONFIGS:-}" ] && [ "$ROUNDS" -ge 5 ] && FULL=1
[ -n "$FULL" ] && cp "$OUT" "$TOP/bench/results/latest.md"
DOC="$TOP/docs/benchmarks.md"
if [ -n "$FULL" ] && [ -f "$DOC" ] && grep -q '<!-- bench:begin -->' "$DOC"; then
    awk -v f="$OUT" '
        /<!-- bench:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- bench:end -->/ { skip = 0 }
        !skip' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
fi
echo "$TABLE"
