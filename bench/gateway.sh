#!/usr/bin/env bash
# bench/gateway.sh: Hearth's gateway benchmark. A benchmark, not a test: it prints figures.
#
# For each count in IDLE_SESSIONS (default 5000 and 19000) it starts a fresh build/hearthd on
# a free loopback port with a throwaway data directory, registers a user, creates a guild and
# has build/hearth-gwload open that many gateway sessions (one user, one token: a user may
# have many sessions), identify them and hold them idle for HOLD seconds, heartbeating on the
# server's interval. The server's VmRSS is read before the first connection, 2 s after the
# last session is READY, and at the end of the hold; HOLD is longer than one heartbeat
# interval by default, so every session has sent a heartbeat (which lets the server trim its
# replay buffer) before the last reading. Memory per idle session is
# (VmRSS at the end of the hold - VmRSS before) / sessions held: user space only; the kernel's
# ~3.8 KB per TCP socket (shared/reference/perf-notes.md §2.1) is not in VmRSS.
#
# Then, on another fresh server, the latency run: LAT_SESSIONS sessions, LAT_MESSAGES
# messages POSTed at LAT_RATE per second; each message carries its send time, and every
# MESSAGE_CREATE arriving at every session gives a sample of the POST -> MESSAGE_CREATE
# delay (p50/p99/p99.9), with the server's CPU time per message and per delivery from
# /proc/PID/stat.
#
# This machine allows 20,000 open files per process, for the server and the generator
# alike, so 19,000 sessions is about the most one server process can hold here.
#
# Usage: bench/gateway.sh        (after `make`; about 5 minutes with the defaults, plus
#                                 whatever the server takes to identify the sessions)
# It runs copies of hearthd and hearth-gwload made at its start, so that a rebuild during the
# run cannot mix two servers in one report.
# Environment: BUILD (default ./build), GWLOAD (default $BUILD/hearth-gwload),
#   IDLE_SESSIONS ("5000 19000"), HEARTBEAT_MS (the server's heartbeat_interval, 41250),
#   HOLD (s; default one heartbeat interval + 15), RAMP (new connections/s, 0 = no limit),
#   INFLIGHT (handshakes in progress at most, 20), RAMP_TIMEOUT (s, 900: open no more
#   connections after this), CONNECT_TIMEOUT (s a connection may take to get READY, 300),
#   LAT_SESSIONS ("1000 5000:10 5000:40": session counts, each optionally with its own rate),
#   LAT_MESSAGES (200), LAT_RATE (messages/s where LAT_SESSIONS gives none, 20), SKIP_IDLE,
#   SKIP_LATENCY, SERVER_ARGS (more hearthd options for every server), MALLOC_STATS (1, the default when gdb is installed: also read the server's
#   malloc heap in use, through gdb and glibc's malloc_stats(), before connecting and near
#   the end of the hold; it pauses the server for a moment),
#   DATA_PARENT (default $TMPDIR or /tmp), KEEP (1 keeps the work directory), OUT (also
#   write the markdown report to this file).
#
# Same-run baseline: with BASELINE=1 (the default when InspIRCd is installed or can be
# installed with apt-get), the same idle and fan-out scenarios then run against InspIRCd, an
# IRC server from Debian, through bench/gateway-baseline.sh and build/hearth-ircload, and the
# report ends with InspIRCd's rows and a Hearth ÷ InspIRCd table (memory per idle session,
# CPU per delivery, p50/p99). IRCLOAD (default $BUILD/hearth-ircload); the baseline's own
# settings (IRC_INFLIGHT, JOIN_INFLIGHT) are described in that script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_TAG=gateway
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
gateway_scenarios
GWLOAD=${GWLOAD:-$BUILD/hearth-gwload}
RAMP=${RAMP:-0}
INFLIGHT=${INFLIGHT:-20}
# ---- same-run baseline (bench/gateway-baseline.sh) -------------------------------------------
BASELINE=${BASELINE:-$("$ROOT/bench/gateway-baseline.sh" --check >/dev/null 2>&1 && echo 1 || echo 0)}
IRCLOAD=${IRCLOAD:-$BUILD/hearth-ircload}
BASELINE_REPORT=

HEARTHD_SRC=$BUILD/hearthd

for bin in "$HEARTHD_SRC" "$GWLOAD"; do
    [[ -x $bin ]] || die "$bin is missing: run 'make' in $ROOT first (or set GWLOAD)"
done

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'without commits')
DIRTY=$(git -C "$ROOT" status --porcelain -- client-api homeserver 2>/dev/null | wc -l)
WORK=$(mktemp -d "$DATA_PARENT/hearth-gateway.XXXXXX")
RESULTS=$WORK/results.txt # one "tag=... result-fields" line per run
RAW=$WORK/raw.log         # everything hearth-gwload printed
: >"$RESULTS"
: >"$RAW"
: >"$WORK/stops.txt"

# Run copies, so that a rebuild while the benchmark runs (it takes a while) cannot mix two
# servers in one report.
cp "$HEARTHD_SRC" "$WORK/hearthd"
cp "$GWLOAD" "$WORK/hearth-gwload"
HEARTHD=$WORK/hearthd
GWLOAD=$WORK/hearth-gwload
if [[ $BASELINE == 1 ]]; then
    [[ -x $IRCLOAD ]] || die "$IRCLOAD is missing: run 'make' (or set IRCLOAD, or BASELINE=0)"
    cp "$IRCLOAD" "$WORK/hearth-ircload"
fi
BIN_NOTE="hearthd $(stat -c '%y' "$HEARTHD_SRC" | cut -d. -f1) sha256 $(sha256sum "$HEARTHD" | cut -c1-12)"
# The POSTs of the latency run would hit the per-channel message limit (5 per 5 s).
EXTRA_ARGS=()
if "$HEARTHD" --help 2>&1 | grep -q -- '--ratelimit-enabled'; then
    EXTRA_ARGS+=(--ratelimit-enabled 0)
fi
# SERVER_ARGS: more hearthd options for every server of the run (e.g. --gateway-writers 1).
read -r -a more_args <<<"${SERVER_ARGS:-}"
EXTRA_ARGS+=("${more_args[@]}")

# Every session needs a descriptor on both sides; the hard limit here is 20,000.
raise_nofile

cleanup() {
    local rc=$?
    stop_pid "$GEN_PID" hearth-gwload
    stop_pid "$SERVER_PID" hearthd
    finish_work "$rc" 30 "server logs, raw output"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server TAG SESSIONS: a fresh hearthd with its own data directory; sets PORT, TOKEN,
# CHANNEL, SERVER_PID, SERVER_LOG.
start_server() {
    local tag=$1 sessions=$2 data=$WORK/data-$1
    local maxconn=$((sessions + 500))
    ((maxconn < 19900)) || maxconn=19900
    mkdir -p "$data"
    SERVER_LOG=$WORK/server-$tag.log
    PORT=$(free_port)
    log "$tag: starting $HEARTHD on 127.0.0.1:$PORT (--max-connections $maxconn)"
    "$HEARTHD" --data-dir "$data" --listen "127.0.0.1:$PORT" --server-name bench.local \
        --max-connections "$maxconn" --gateway-heartbeat-ms "$HEARTBEAT_MS" \
        --argon2-mem-kib 8192 --argon2-ops 1 "${EXTRA_ARGS[@]}" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    wait_healthz "$tag: "
    TOKEN=
    local reg guild
    reg=$(api POST /api/v10/auth/register '{"username":"gwbench","password":"gw-bench-password-1"}')
    TOKEN=$(json_get token <<<"$reg")
    guild=$(api POST /api/v10/guilds '{"name":"gateway bench"}')
    CHANNEL=$(json_get system_channel_id <<<"$guild")
    api POST "/api/v10/channels/$CHANNEL/messages" '{"content":"hello, gateway bench"}' >/dev/null
    log "$tag: server pid $SERVER_PID ready, $(grep -E '^(VmRSS|Threads)' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
}

# run_gwload TAG BUDGET ARGS...: one hearth-gwload run in the background (so that the trap
# can stop it). The tool bounds itself (--ramp-timeout, --timeout, --hold, --drain); BUDGET
# seconds is a backstop after which it is interrupted (it then reports what it has).
# Appends its result line to $RESULTS.
run_gwload() {
    local tag=$1 budget=$2
    shift 2
    local out=$WORK/gwload-$tag.out heap0="-1 -1" ready=
    # The heap before connecting, and once a few seconds before the end of an idle run's hold
    # (the RSS is read at the very end, by hearth-gwload).
    if [[ $tag == idle-* ]]; then
        heap0=$(heap_stats)
        ready='sessions ready after'
    fi
    run_generator "$tag" "$budget" "$out" "$ready" hearth-gwload "the server" \
        "$GWLOAD" --host 127.0.0.1 --port "$PORT" --token "$TOKEN" --server-pid "$SERVER_PID" \
        --verbose "$@"
    { printf '== %s: hearth-gwload %s\n' "$tag" "$*"; cat "$out"; } |
        sed -e "s/${TOKEN:-@@none@@}/TOKEN/g" >>"$RAW"
    grep -E '^hearth-gwload: .*(ready after|ramp-timeout|gave up|first POST error|interrupted)' \
        "$out" >&2 || true
    gen_result "$tag" "$out" hearth-gwload "the server"
    local alive=1 status=
    if ! server_alive; then
        alive=0
        wait "$SERVER_PID" 2>/dev/null && status=$? || status=$?
        log "$tag: the server is gone (exit status $status)"
    fi
    local warn
    warn=$(grep -c -E ' (WARN|ERROR|FATAL) ' "$SERVER_LOG" 2>/dev/null || true)
    read -r hs0 hu0 <<<"$heap0"
    read -r hs1 hu1 <<<"$HEAP_HELD"
    echo "tag=$tag ${RESULT_LINE#result: } heap_sys_before=$hs0 heap_used_before=$hu0 heap_sys_held=$hs1 heap_used_held=$hu1 server_alive=$alive server_log_warnings=${warn:-0}" >>"$RESULTS"
    log "$tag: $(grep -E '^  (sessions|ramp|server user|POST ->|deliveries|heartbeats)' "$out" | tr -s ' ' | tr '\n' ';')"
}

LOADAVG_START=$(loadavg)

# ---- idle sessions ---------------------------------------------------------------------------
if [[ $SKIP_IDLE != 1 ]]; then
    for n in $IDLE_SESSIONS; do
        start_server "idle-$n" "$n"
        run_gwload "idle-$n" $((RAMP_TIMEOUT + CONNECT_TIMEOUT + HOLD + 120)) --mode idle --sessions "$n" --hold "$HOLD" --ramp "$RAMP" \
            --inflight "$INFLIGHT" --ramp-timeout "$RAMP_TIMEOUT" --timeout "$CONNECT_TIMEOUT"
        cut -d' ' -f2- "$SERVER_LOG" | grep -E '^(WARN|ERROR|FATAL) ' | sort | uniq -c |
            sort -rn | head -n 5 |
            sed -e 's/^/    server log: /' >&2 || true
        end_server "idle-$n" hearthd
    done
fi

# ---- latency ---------------------------------------------------------------------------------
if [[ $SKIP_LATENCY != 1 ]]; then
    for spec in $LAT_SESSIONS; do
        n=${spec%%:*}
        rate=$LAT_RATE
        [[ $spec == *:* ]] && rate=${spec#*:}
        start_server "latency-$n-$rate" "$n"
        run_gwload "latency-$n-$rate" \
            "$(awk -v a="$RAMP_TIMEOUT" -v b="$CONNECT_TIMEOUT" -v m="$LAT_MESSAGES" -v r="$rate" \
                'BEGIN { printf "%d", a + b + m / r + 200 }')" --mode latency --sessions "$n" \
            --hold 3 --ramp "$RAMP" --inflight "$INFLIGHT" --ramp-timeout "$RAMP_TIMEOUT" \
            --timeout "$CONNECT_TIMEOUT" --channel "$CHANNEL" --messages "$LAT_MESSAGES" \
            --rate "$rate" --drain 30
        cut -d' ' -f2- "$SERVER_LOG" | grep -E '^(WARN|ERROR|FATAL) ' | sort | uniq -c |
            sort -rn | head -n 5 | sed -e 's/^/    server log: /' >&2 || true
        end_server "latency-$n-$rate" hearthd
    done
fi

LOADAVG_END=$(loadavg)

# ---- same-run baseline: InspIRCd on the same scenarios (bench/gateway-baseline.sh) -----------
if [[ $BASELINE == 1 ]]; then
    log "same-run baseline: bench/gateway-baseline.sh"
    if ! BASELINE_REPORT=$(BUILD=$BUILD IRCLOAD=$WORK/hearth-ircload IDLE_SESSIONS=$IDLE_SESSIONS \
        HEARTBEAT_MS=$HEARTBEAT_MS HOLD=$HOLD CONNECT_TIMEOUT=$CONNECT_TIMEOUT \
        RAMP_TIMEOUT=$RAMP_TIMEOUT LAT_SESSIONS=$LAT_SESSIONS LAT_MESSAGES=$LAT_MESSAGES \
        LAT_RATE=$LAT_RATE SKIP_IDLE=$SKIP_IDLE SKIP_LATENCY=$SKIP_LATENCY \
        MALLOC_STATS=$MALLOC_STATS DATA_PARENT=$WORK KEEP=$KEEP OUT='' \
        RESULTS_OUT=$WORK/baseline-results.txt "$ROOT/bench/gateway-baseline.sh"); then
        log "the baseline failed; the report has Hearth's rows only"
        BASELINE_REPORT="**Same-run baseline: failed** (see the log above)."
    elif [[ -s $WORK/baseline-results.txt ]]; then
        BASELINE_REPORT+=$'\n\n**Hearth ÷ InspIRCd, same run** (below 1: Hearth is lower)\n\n'
        BASELINE_REPORT+=$("$ROOT/bench/gateway-baseline.sh" --ratios "$RESULTS" "$WORK/baseline-results.txt")
    fi
fi

# ---- report ----------------------------------------------------------------------------------
export LOADAVG_START LOADAVG_END HOLD HEARTBEAT_MS INFLIGHT RAMP FD_LIMIT
REPORT=$(report_py "$RESULTS" "$WORK/stops.txt" <<'EOF'
runs = load_runs(sys.argv[1])
stops = load_stops(sys.argv[2])

def fmt_b(v):
    return "n/a" if v is None or v < 0 else f"{v:,.0f}"

out = []
w = out.append
w(f"Load average {os.environ['LOADAVG_START']} at start, {os.environ['LOADAVG_END']} at end; "
  f"server heartbeat_interval {int(os.environ['HEARTBEAT_MS']) / 1000:g} s; at most "
  f"{os.environ['INFLIGHT']} handshakes in flight, ramp limit "
  f"{os.environ['RAMP'] if os.environ['RAMP'] != '0' else 'none'}; open-file limit "
  f"{os.environ['FD_LIMIT']} per process.")
w("")
idle = [r for r in runs if r["tag"].startswith("idle-")]
if idle:
    w("**Idle sessions** (one user, one guild; fresh server per row; user-space memory per "
      "session = VmRSS delta / sessions held; heap = glibc malloc_stats() totals, delta / "
      "sessions held: *in use* is what is allocated, *system* what malloc holds from the "
      "kernel)")
    w("")
    w("| sessions asked | held at end | ramp s | sessions/s | connect→READY p50 / p99 ms "
      "| RSS before MiB | RSS all ready MiB | RSS end of hold MiB | VmHWM MiB "
      "| **RSS B/session, end of hold** | RSS B/session, all ready "
      "| **heap in use B/session** | heap system B/session | server CPU ramp s "
      "| hold CPU % | heartbeat ack p99 / max ms | lost / failed / not opened |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in idle:
        mib = lambda k: f"{float(r[k]) / 1024:,.1f}" if float(r[k]) >= 0 else "n/a"
        ramp = float(r["ramp_s"])
        rate = float(r["ever_ready"]) / ramp if ramp > 0 else 0
        hold_pct = 100 * float(r["srv_cpu_hold_s"]) / float(r["hold_s"]) if float(r["hold_s"]) > 0 else 0
        w(f"| {int(r['sessions']):,} | {int(r['ready']):,} | {ramp:,.1f} | {rate:,.0f} "
          f"| {f(r, 'conn_ready_p50_ms', 0)} / {f(r, 'conn_ready_p99_ms', 0)} "
          f"| {mib('rss_before_kib')} | {mib('rss_ready_kib')} | {mib('rss_held_kib')} "
          f"| {mib('hwm_kib')} | **{f(r, 'bytes_per_session_held')}** "
          f"| {f(r, 'bytes_per_session_ready')} "
          f"| **{fmt_b(heap_delta(r, 'heap_used'))}** "
          f"| {fmt_b(heap_delta(r, 'heap_sys'))} | {f(r, 'srv_cpu_ramp_s', 1)} | {hold_pct:.1f} "
          f"| {f(r, 'hb_p99_ms', 1)} / {f(r, 'hb_max_ms', 1)} "
          f"| {r['lost']} / {int(r['failed']) - int(r['lost'])} / {r['not_opened']} |")
    w("")
    for r in idle:
        notes = []
        if r["server_alive"] != "1":
            notes.append("the server died during the run")
        if int(r["seq_gaps"]):
            notes.append(f"{r['seq_gaps']} sequence gaps")
        if int(r.get("server_log_warnings", 0)):
            notes.append(f"{r['server_log_warnings']} warning/error lines in the server log")
        notes.append(f"server descriptors {int(r['srv_fds_before']):,} before, "
                     f"{int(r['srv_fds_held']):,} at the end of the hold")
        if stops.get(r["tag"]):
            notes.append(f"the server stopped {stops[r['tag']]} s after SIGTERM")
        notes.append(f"generator max RSS {float(r['gen_maxrss_kib']) / 1024:,.1f} MiB, "
                     f"CPU {float(r['gen_cpu_s']):.1f} s")
        w(f"- {int(r['sessions']):,} sessions: " + "; ".join(notes) + ".")
    w("")
lat = [r for r in runs if r["tag"].startswith("latency-")]
if lat:
    w("**POST → MESSAGE_CREATE delay** (every message to every session; one sample per "
      "(message, session) delivery; send time taken just before the POST is written)")
    w("")
    w("| sessions | messages | rate/s | delivered | deliveries/s | **p50 ms** | **p99 ms** "
      "| **p99.9 ms** | max ms | to last session p50 / p99 ms | POST ack p50 / p99 ms "
      "| server CPU µs/message | **server CPU µs/delivery** | generator µs/delivery |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in lat:
        w(delivery_row(r, "acked", f"{f(r, 'ack_p50_ms', 2)} / {f(r, 'ack_p99_ms', 2)}"))
    w("")
    for r in lat:
        notes = []
        if r["server_alive"] != "1":
            notes.append("the server died during the run")
        if int(r["seq_gaps"]) or int(r["lost"]) or int(r["post_errors"]):
            notes.append(f"{r['seq_gaps']} sequence gaps, {r['lost']} sessions lost, "
                         f"{r['post_errors']} POST errors")
        if stops.get(r["tag"]):
            notes.append(f"the server stopped {stops[r['tag']]} s after SIGTERM")
        if notes:
            w(f"- {int(r['sessions']):,} sessions: " + "; ".join(notes) + ".")
    w("")
print("\n".join(out))
EOF
)

{
    echo "## Hearth gateway benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r);"
    echo "work tree at $REV ($DIRTY uncommitted file(s) under client-api/ and homeserver/) when the run started;"
    echo "binaries from $BUILD ($BIN_NOTE); server options beyond the defaults:"
    echo "\`--max-connections\` (sessions + 500), \`--gateway-heartbeat-ms $HEARTBEAT_MS\`,"
    echo "cheap argon2 for the one registration${EXTRA_ARGS[*]:+, \`${EXTRA_ARGS[*]}\`}."
    echo "The generator (hearth-gwload) ran on the same two cores."
    echo
    echo "$REPORT"
    [[ -z $BASELINE_REPORT ]] || printf '\n%s\n' "$BASELINE_REPORT"
} | tee "${OUT:-/dev/null}"
