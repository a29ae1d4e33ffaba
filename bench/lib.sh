# bench/lib.sh: helpers the benchmark scripts share. Sourced, not run:
#   LOG_TAG=gateway
#   . "$ROOT/bench/lib.sh"
# LOG_TAG names the script in its log lines. The server helpers work on SERVER_PID and
# SERVER_LOG, the generator helpers on GEN_PID, the work-directory helpers on WORK and KEEP:
# globals the sourcing script sets as it goes (they start empty here). Everything logs to
# stderr, so that stdout stays the report.
# shellcheck shell=bash

PY=/usr/bin/python3
# Where the throwaway work directory goes, whether to keep it, and where to copy the report.
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}
KEEP=${KEEP:-0}
OUT=${OUT:-}
SERVER_PID=
SERVER_LOG=
GEN_PID=

# gateway_scenarios: the defaults of the gateway benchmark's scenarios (see bench/gateway.sh),
# which its same-run baseline, bench/gateway-baseline.sh, runs too.
# shellcheck disable=SC2034 # the sourcing script reads them
gateway_scenarios() {
    BUILD=${BUILD:-$ROOT/build}
    IDLE_SESSIONS=${IDLE_SESSIONS:-"5000 19000"}
    HEARTBEAT_MS=${HEARTBEAT_MS:-41250}
    HOLD=${HOLD:-$((HEARTBEAT_MS / 1000 + 15))}
    RAMP_TIMEOUT=${RAMP_TIMEOUT:-900}
    CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-300}
    LAT_SESSIONS=${LAT_SESSIONS:-"1000 5000:10 5000:40"}
    LAT_MESSAGES=${LAT_MESSAGES:-200}
    LAT_RATE=${LAT_RATE:-20}
    SKIP_IDLE=${SKIP_IDLE:-0}
    SKIP_LATENCY=${SKIP_LATENCY:-0}
    MALLOC_STATS=${MALLOC_STATS:-$(command -v gdb >/dev/null && echo 1 || echo 0)}
}

log() { printf '[%s %s] %s\n' "$LOG_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_alive() { kill -0 "$SERVER_PID" 2>/dev/null; }

# raise_nofile: the soft open-file limit up to the hard one (every session needs a descriptor
# on both sides); sets FD_LIMIT to the limit now in force.
raise_nofile() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    # shellcheck disable=SC2034 # read by the sourcing script's report
    FD_LIMIT=$(ulimit -n)
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

STOP_NOTE= # how the last stop_pid went
stop_pid() { # PID NAME [SECONDS]: SIGTERM, up to SECONDS (default 10), then SIGKILL
    local pid=$1 name=$2 limit=${3:-10} i
    STOP_NOTE=
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    STOP_NOTE="$((i / 10)).$((i % 10))"
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not stop within $limit s of SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        STOP_NOTE="killed after $limit"
    fi
    wait "$pid" 2>/dev/null || true
}

# end_server TAG NAME: stops the server (a minute's grace: closing thousands of sessions
# takes a while) and notes in $WORK/stops.txt how long it took.
end_server() {
    stop_pid "$SERVER_PID" "$2" 60
    echo "tag=$1 stop_s=${STOP_NOTE// /_}" >>"$WORK/stops.txt"
    SERVER_PID=
}

# finish_work RC LINES WHAT: the end of a run (from the EXIT trap, servers stopped): on a
# failure the last LINES lines of the server log; then $WORK is removed, unless KEEP=1 or the
# run failed (WHAT says what it holds).
finish_work() {
    local rc=$1 lines=$2 what=$3
    if [[ $rc -ne 0 && -n $SERVER_LOG && -s $SERVER_LOG ]]; then
        log "last lines of the server log:"
        tail -n "$lines" "$SERVER_LOG" >&2
    fi
    if [[ $KEEP == 1 || $rc -ne 0 ]]; then
        log "kept $WORK ($what)"
    else
        rm -rf "$WORK"
    fi
}

# heap_stats: "system-bytes in-use-bytes" of the server's malloc, all arenas, from glibc's
# malloc_stats() called through gdb (it prints to the server's stderr, i.e. its log); "-1 -1"
# when MALLOC_STATS is not 1 or it fails. It stops the server for a moment.
heap_stats() {
    if [[ $MALLOC_STATS != 1 ]]; then
        echo "-1 -1"
        return
    fi
    local before
    before=$(wc -l <"$SERVER_LOG")
    timeout 60 gdb -p "$SERVER_PID" -batch -nx -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
    sleep 0.5
    tail -n "+$((before + 1))" "$SERVER_LOG" | awk '
        /^Total/ { t = 1 }
        t && /^system bytes/ { s = $NF }
        t && /^in use bytes/ { u = $NF }
        END { print (s == "" ? -1 : s), (u == "" ? -1 : u) }'
}

# run_generator TAG BUDGET OUT READY GEN SERVER CMD...: runs a load generator, CMD, in the
# background (GEN_PID, so that the EXIT trap can stop it) with its output in OUT, and waits
# for it. It bounds itself; BUDGET seconds is a backstop after which it is interrupted, as it
# is when the server dies (it then reports what it has). GEN and SERVER name the two in the
# log. READY, when not empty, is the generator's line saying that every client is ready (an
# idle run): heap_stats is then read once, a few seconds before the end of the hold (HOLD).
# Sets GEN_RC (its exit status) and HEAP_HELD ("-1 -1" when not read, "-1 -2" when it failed).
run_generator() {
    local tag=$1 budget=$2 out=$3 ready=$4 gen=$5 server=$6 ticks=0 ready_tick=-1
    shift 6
    GEN_RC=0
    HEAP_HELD="-1 -1"
    "$@" >"$out" 2>&1 &
    GEN_PID=$!
    while kill -0 "$GEN_PID" 2>/dev/null; do
        if [[ -n $ready && $ready_tick -lt 0 ]] && grep -q "$ready" "$out" 2>/dev/null; then
            ready_tick=$ticks
        fi
        if ((ready_tick >= 0 && (ticks - ready_tick) * 2 >= HOLD - 6)) && [[ $HEAP_HELD == "-1 -1" ]]; then
            HEAP_HELD=$(heap_stats)
            [[ $HEAP_HELD != "-1 -1" ]] || HEAP_HELD="-1 -2" # tried once
        fi
        if ! server_alive; then
            log "$tag: $server died while $gen ran"
            kill -INT "$GEN_PID" 2>/dev/null || true
            break
        fi
        if ((ticks * 2 > budget)); then
            log "$tag: $gen still running after $budget s: interrupting it"
            kill -INT "$GEN_PID" 2>/dev/null || true
            break
        fi
        sleep 2
        ticks=$((ticks + 1))
    done
    wait "$GEN_PID" || GEN_RC=$?
    GEN_PID=
}

# gen_result TAG OUT GEN SERVER: sets RESULT_LINE to the generator's last 'result:' line in
# OUT; when there is none, shows the end of OUT and fails the run (naming the server when it
# died).
gen_result() {
    local tag=$1 out=$2 gen=$3 server=$4
    RESULT_LINE=$(grep '^result:' "$out" | tail -n 1 || true)
    if [[ -z $RESULT_LINE ]]; then
        tail -n 5 "$out" >&2
        server_alive || die "$tag: $server died (see $SERVER_LOG)"
        die "$tag: $gen printed no result (rc $GEN_RC)"
    fi
}

# api METHOD PATH [JSON]: prints the response body; fails (with the status) on a non-2xx.
# Talks to 127.0.0.1:$PORT with Authorization: $TOKEN when TOKEN is set.
api() {
    "$PY" - "$1" "http://127.0.0.1:$PORT$2" "${3-}" "${TOKEN-}" <<'EOF'
import sys, urllib.request, urllib.error
method, url, body, token = sys.argv[1:5]
req = urllib.request.Request(url, method=method, data=body.encode() if body else None)
if body:
    req.add_header("Content-Type", "application/json")
if token:
    req.add_header("Authorization", token)
try:
    with urllib.request.urlopen(req, timeout=60) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stderr.write(f"{method} {url.split('?')[0]}: HTTP {e.code}: {e.read().decode()[:500]}\n")
    sys.exit(1)
except OSError as e:
    sys.stderr.write(f"{method} {url.split('?')[0]}: {e}\n")
    sys.exit(1)
EOF
}

# wait_healthz PREFIX: waits (30 s at most) until the Hearth server answers GET /healthz;
# fails the run, its message starting with PREFIX, when it exits or is not ready in time.
wait_healthz() {
    local i
    for i in $(seq 300); do
        if api GET /healthz >/dev/null 2>&1; then
            break
        fi
        server_alive || die "${1}the server exited at startup"
        [[ $i -lt 300 ]] || die "${1}the server was not ready within 30 s"
        sleep 0.1
    done
}

# json_get PATH < json: prints one field; PATH is dot-separated keys and list indexes.
json_get() {
    "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"
}

# report_py ARGS... <<'EOF' ... EOF: runs a Python report program, read from stdin, with ARGS
# (sys.argv[1:]), after the helpers the reports share (REPORT_PY).
REPORT_PY=$(
    cat <<'EOF'
import os, sys

def load_runs(path):
    """One dict per line of a results file: its key=value fields."""
    return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in open(path)]

def load_stops(path):
    """tag -> how many seconds the server took to stop after SIGTERM (stops.txt)."""
    return {kv["tag"]: kv.get("stop_s", "").replace("_", " ") for kv in load_runs(path)}

def f(r, k, d=0):
    """Field k of run r with d decimals and thousands separators; n/a when absent or < 0."""
    v = float(r.get(k, "nan"))
    return "n/a" if v != v or v < 0 else f"{v:,.{d}f}"

def heap_delta(r, key):
    """Heap bytes per client held (key: heap_used or heap_sys); None when not read."""
    b, a, n = float(r.get(key + "_before", -1)), float(r.get(key + "_held", -1)), int(r["ready"])
    return (a - b) / n if a >= 0 and b >= 0 and n > 0 else None

def delivery_row(r, msgs_key, extra):
    """A row of a fan-out delay table; extra is the cell between the delays and the CPU."""
    exp = int(r["expected"])
    pct = 100 * int(r["deliveries"]) / exp if exp else 0
    return (f"| {int(r['ready']):,} | {r[msgs_key]} | {float(r['rate']):g} "
            f"| {int(r['deliveries']):,} / {exp:,} ({pct:.1f} %) | {f(r, 'deliveries_per_s')} "
            f"| **{f(r, 'p50_ms', 2)}** | **{f(r, 'p99_ms', 2)}** | **{f(r, 'p999_ms', 2)}** "
            f"| {f(r, 'max_ms', 2)} | {f(r, 'last_p50_ms', 2)} / {f(r, 'last_p99_ms', 2)} "
            f"| {extra} | {f(r, 'srv_us_per_msg', 0)} "
            f"| **{f(r, 'srv_us_per_delivery', 2)}** | {f(r, 'gen_us_per_delivery', 2)} |")
EOF
)
report_py() {
    "$PY" -c "$REPORT_PY
$(cat)" "$@"
}
