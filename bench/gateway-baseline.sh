#!/usr/bin/env bash
# bench/gateway-baseline.sh: the gateway benchmark's same-run baseline. A benchmark, not a
# test: it prints figures.
#
# The machine is shared and noisy, so bench/gateway.sh reports Hearth's figures as ratios
# against a baseline measured in the same run. The baseline is InspIRCd, an IRC server from
# Debian (package `inspircd`, 3.15 here), driven by build/hearth-ircload on the same
# workloads as Hearth's gateway:
#
# - Idle: for each count in IDLE_SESSIONS, a fresh server; that many clients register
#   (NICK/USER, no JOIN) and are held for HOLD seconds, answering the server's PINGs (its
#   ping interval is set to Hearth's heartbeat interval). Memory per idle client =
#   (VmRSS at the end of the hold - VmRSS before) / clients held, as for Hearth; with gdb,
#   also glibc's heap in use and held from the kernel, through malloc_stats().
# - Fan-out: for each LAT_SESSIONS entry (N, optionally :rate), a fresh server; a sender
#   client joins a channel, then N receivers join it (at most JOIN_INFLIGHT at a time: every
#   JOIN is told to every member, O(N^2) lines), and once the JOIN storm has drained the
#   sender PRIVMSGs the channel LAT_MESSAGES times at the rate. Each message carries its send
#   time: delay p50/p99/p99.9 over every (message, receiver) delivery, and the server's CPU
#   time over the sending window per delivery.
#
# The server runs as our own process on a free loopback port, with its configuration in a
# temporary directory; the flood limits are lifted so that the clients measure the server,
# not its throttles: connect class localmax/globalmax 100000, commandrate 1000000, fakelag
# off, hardsendq 16M, no hostname lookups; performance softlimit 19500.
#
# Usage: bench/gateway-baseline.sh            run and print a markdown report
#        bench/gateway-baseline.sh --check    exit 0 when inspircd is installed or can be
#                                             (apt-get as root), 1 otherwise
#        bench/gateway-baseline.sh --ratios HEARTH_RESULTS BASELINE_RESULTS
#                                             print the Hearth ÷ InspIRCd table from the
#                                             result lines of bench/gateway.sh and this script
# Environment (bench/gateway.sh passes its own): BUILD (./build), IRCLOAD
#   ($BUILD/hearth-ircload), IDLE_SESSIONS ("5000 19000"), HEARTBEAT_MS (41250: the server's
#   ping interval, rounded to seconds), HOLD (s; one interval + 15), IRC_INFLIGHT (clients
#   registering at once, 1000: InspIRCd completes registrations once a second),
#   JOIN_INFLIGHT (20), CONNECT_TIMEOUT (300), RAMP_TIMEOUT (900), LAT_SESSIONS
#   ("1000 5000:10 5000:40"), LAT_MESSAGES (200), LAT_RATE (20), SKIP_IDLE, SKIP_LATENCY,
#   MALLOC_STATS (1 when gdb is installed), INSTALL (1: apt-get install inspircd when it is
#   missing), DATA_PARENT ($TMPDIR or /tmp), KEEP (1 keeps the work directory), OUT (also
#   write the report to this file), RESULTS_OUT (append one line per run, tag=irc-...).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_TAG=baseline
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# ---- is InspIRCd here, or can it be installed? ------------------------------------------------
installable() {
    command -v inspircd >/dev/null 2>&1 && return 0
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 || return 1
    apt-cache policy inspircd 2>/dev/null | grep -q -E 'Candidate: [0-9]'
}

if [[ ${1-} == --check ]]; then
    installable
    exit
fi

# ---- ratios ------------------------------------------------------------------------------------
if [[ ${1-} == --ratios ]]; then
    [[ $# == 3 ]] || {
        echo "usage: $0 --ratios HEARTH_RESULTS BASELINE_RESULTS" >&2
        exit 2
    }
    report_py "$2" "$3" <<'EOF'
hearth, irc = load_runs(sys.argv[1]), load_runs(sys.argv[2])

def num(r, k):
    try:
        v = float(r.get(k, "nan"))
    except ValueError:
        return None
    return None if v != v or v < 0 else v

def heap(r):
    b, a, n = num(r, "heap_used_before"), num(r, "heap_used_held"), num(r, "ready")
    return (a - b) / n if a is not None and b is not None and n else None

def cell(v, d=0):
    return "n/a" if v is None else f"{v:,.{d}f}"

def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"**{a / b:.2f} ×**"

rows = []
for h in hearth:
    if h["tag"].startswith("idle-"):
        n = h["tag"][5:]
        b = next((r for r in irc if r["tag"] == f"irc-idle-{n}"), None)
        if not b:
            continue
        label = f"{int(n):,} idle sessions"
        hv, bv = num(h, "bytes_per_session_held"), num(b, "bytes_per_session_held")
        rows.append((f"RSS per idle session, B ({label})", cell(hv), cell(bv), ratio(hv, bv)))
        hv, bv = heap(h), heap(b)
        if hv is not None and bv is not None:
            rows.append((f"heap in use per idle session, B ({label})", cell(hv), cell(bv),
                         ratio(hv, bv)))
for h in hearth:
    if h["tag"].startswith("latency-"):
        spec = h["tag"][8:]  # N-RATE
        n = spec.split("-")[0]
        b = next((r for r in irc if r["tag"] == f"irc-fanout-{spec}"), None)
        if not b:
            continue
        rate = f"{float(h['rate']):g}/s"
        if float(b["rate"]) != float(h["rate"]):
            rate += f" (InspIRCd {float(b['rate']):g}/s)"
        label = f"{int(n):,} × {rate}"
        for key, name, d in (("srv_us_per_delivery", "server CPU per delivery, µs", 2),
                             ("p50_ms", "delay p50, ms", 2), ("p99_ms", "delay p99, ms", 2)):
            hv, bv = num(h, key), num(b, key)
            rows.append((f"{name} ({label})", cell(hv, d), cell(bv, d), ratio(hv, bv)))
if not rows:
    print("(no runs to compare)")
    sys.exit(0)
print("| metric (same run) | Hearth | InspIRCd | Hearth ÷ InspIRCd |")
print("|---|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
EOF
    exit
fi

# ---- the run -----------------------------------------------------------------------------------
gateway_scenarios
IRCLOAD=${IRCLOAD:-$BUILD/hearth-ircload}
IRC_INFLIGHT=${IRC_INFLIGHT:-1000}
JOIN_INFLIGHT=${JOIN_INFLIGHT:-20}
INSTALL=${INSTALL:-1}
RESULTS_OUT=${RESULTS_OUT:-}
PINGFREQ=$(((HEARTBEAT_MS + 500) / 1000))

[[ -x $IRCLOAD ]] || die "$IRCLOAD is missing: run 'make' in $ROOT first (or set IRCLOAD)"

if ! command -v inspircd >/dev/null 2>&1; then
    [[ $INSTALL == 1 ]] || die "inspircd is not installed (INSTALL=0)"
    installable || die "inspircd is not installed and cannot be (needs apt-get as root)"
    log "installing inspircd (apt-get install -y inspircd)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q inspircd >&2 ||
        die "apt-get install inspircd failed"
    # The package may start a system instance; the benchmark runs its own.
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now inspircd >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        service inspircd stop >/dev/null 2>&1 || true
    fi
fi
INSPIRCD=$(command -v inspircd)
IRC_VERSION=$("$INSPIRCD" --version 2>/dev/null | head -n 1 || echo unknown)
RUNASROOT=()
[[ $(id -u) != 0 ]] || RUNASROOT=(--runasroot)

WORK=$(mktemp -d "$DATA_PARENT/hearth-baseline.XXXXXX")
RESULTS=$WORK/results.txt
: >"$RESULTS"
: >"$WORK/stops.txt"
# Run a copy, so that a rebuild during the run cannot change the generator midway.
cp "$IRCLOAD" "$WORK/hearth-ircload"
IRCLOAD=$WORK/hearth-ircload

raise_nofile

cleanup() {
    local rc=$?
    stop_pid "$GEN_PID" hearth-ircload
    stop_pid "$SERVER_PID" inspircd
    finish_work "$rc" 20 "configs, server logs, raw output"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server TAG: a fresh InspIRCd with its own configuration; sets PORT, SERVER_PID,
# SERVER_LOG.
start_server() {
    local tag=$1 dir=$WORK/irc-$1
    mkdir -p "$dir"
    PORT=$(free_port)
    SERVER_LOG=$dir/stdout.log
    echo "gateway benchmark baseline" >"$dir/motd.txt"
    # Flood limits lifted (commandrate, fakelag, hardsendq, localmax/globalmax), no DNS or
    # ident, pings on Hearth's heartbeat interval. `nouserdns` is InspIRCd 2's name for
    # `resolvehostnames="no"`; 3.x ignores it.
    cat >"$dir/insp.conf" <<EOF
<server name="irc.bench" description="gateway benchmark baseline" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$PORT" type="clients">
<connect name="bench" allow="*" timeout="$CONNECT_TIMEOUT" pingfreq="$PINGFREQ"
         threshold="100000" localmax="100000" globalmax="100000" limit="100000"
         maxchans="20" commandrate="1000000" fakelag="no" hardsendq="16M" softsendq="8192"
         recvq="8192" resolvehostnames="no" useident="no">
<performance softlimit="19500" somaxconn="4096" netbuffersize="10240" quietbursts="yes"
             nouserdns="yes">
<pid file="$dir/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$dir/inspircd.log">
<files motd="$dir/motd.txt">
<channels users="20" opers="60">
<options defaultmodes="nt">
<security maxtargets="20">
EOF
    log "$tag: starting $INSPIRCD on 127.0.0.1:$PORT"
    "$INSPIRCD" --nofork "${RUNASROOT[@]}" --config="$dir/insp.conf" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 300); do
        if grep -q 'is now running' "$SERVER_LOG" 2>/dev/null; then
            break
        fi
        server_alive || die "$tag: inspircd exited at startup"
        [[ $i -lt 300 ]] || die "$tag: inspircd was not ready within 30 s"
        sleep 0.1
    done
    sleep 0.5
    log "$tag: inspircd pid $SERVER_PID ready, $(grep -E '^VmRSS' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ')"
}

# run_ircload TAG BUDGET ARGS...: one hearth-ircload run in the background (so that the trap
# can stop it), interrupted after BUDGET seconds (it then reports what it has). Appends its
# result line to $RESULTS.
run_ircload() {
    local tag=$1 budget=$2
    shift 2
    local out=$WORK/ircload-$tag.out heap0="-1 -1" ready=
    # The heap before connecting, and once a few seconds before the end of an idle run's hold.
    if [[ $tag == irc-idle-* ]]; then
        heap0=$(heap_stats)
        ready='clients ready after'
    fi
    run_generator "$tag" "$budget" "$out" "$ready" hearth-ircload inspircd \
        "$IRCLOAD" --host 127.0.0.1 --port "$PORT" --server-pid "$SERVER_PID" --verbose "$@"
    grep -E '^hearth-ircload: .*(ready after|ramp-timeout|gave up|the sender|interrupted)' "$out" >&2 || true
    gen_result "$tag" "$out" hearth-ircload inspircd
    local alive=1
    server_alive || alive=0
    read -r hs0 hu0 <<<"$heap0"
    read -r hs1 hu1 <<<"$HEAP_HELD"
    echo "tag=$tag ${RESULT_LINE#result: } heap_sys_before=$hs0 heap_used_before=$hu0 heap_sys_held=$hs1 heap_used_held=$hu1 server_alive=$alive" >>"$RESULTS"
    log "$tag: $(grep -E '^  (clients|ramp|JOIN|server user|PRIVMSG sent -> received|deliveries|server CPU while)' "$out" | tr -s ' ' | tr '\n' ';')"
}

LOADAVG_START=$(loadavg)

if [[ $SKIP_IDLE != 1 ]]; then
    for n in $IDLE_SESSIONS; do
        start_server "idle-$n"
        run_ircload "irc-idle-$n" $((RAMP_TIMEOUT + CONNECT_TIMEOUT + HOLD + 120)) --mode idle \
            --sessions "$n" --hold "$HOLD" --inflight "$IRC_INFLIGHT" \
            --ramp-timeout "$RAMP_TIMEOUT" --timeout "$CONNECT_TIMEOUT"
        end_server "irc-idle-$n" inspircd
    done
fi

if [[ $SKIP_LATENCY != 1 ]]; then
    for spec in $LAT_SESSIONS; do
        n=${spec%%:*}
        rate=$LAT_RATE
        [[ $spec == *:* ]] && rate=${spec#*:}
        start_server "fanout-$n-$rate"
        run_ircload "irc-fanout-$n-$rate" \
            "$(awk -v a="$RAMP_TIMEOUT" -v b="$CONNECT_TIMEOUT" -v m="$LAT_MESSAGES" -v r="$rate" \
                'BEGIN { printf "%d", a + b + m / r + 400 }')" --mode fanout --sessions "$n" \
            --hold 3 --inflight "$IRC_INFLIGHT" --join-inflight "$JOIN_INFLIGHT" \
            --ramp-timeout "$RAMP_TIMEOUT" --timeout "$CONNECT_TIMEOUT" --messages "$LAT_MESSAGES" \
            --rate "$rate" --drain 30
        end_server "irc-fanout-$n-$rate" inspircd
    done
fi

LOADAVG_END=$(loadavg)
[[ -z $RESULTS_OUT ]] || cat "$RESULTS" >>"$RESULTS_OUT"

export LOADAVG_START LOADAVG_END HOLD PINGFREQ IRC_INFLIGHT JOIN_INFLIGHT FD_LIMIT IRC_VERSION
report_py "$RESULTS" "$WORK/stops.txt" <<'EOF' | tee "${OUT:-/dev/null}"
runs = load_runs(sys.argv[1])
stops = load_stops(sys.argv[2])

def heap_per(r, key):
    v = heap_delta(r, key)
    return "n/a" if v is None else f"{v:,.0f}"

w = print
w(f"**Same-run baseline: {os.environ['IRC_VERSION']}**")
w("")
w(f"InspIRCd, an IRC server from Debian, as a same-run baseline: a fresh server per row, "
  f"flood limits lifted, pings every {os.environ['PINGFREQ']} s; load average "
  f"{os.environ['LOADAVG_START']} at start, {os.environ['LOADAVG_END']} at end; at most "
  f"{os.environ['IRC_INFLIGHT']} clients registering and {os.environ['JOIN_INFLIGHT']} joining "
  f"at once; open-file limit {os.environ['FD_LIMIT']} per process. The generator "
  f"(hearth-ircload) ran on the same cores.")
w("")
idle = [r for r in runs if r["tag"].startswith("irc-idle-")]
if idle:
    w("**Idle clients** (registered, no channel; memory per client = VmRSS delta / clients "
      "held; heap = glibc malloc_stats() delta / clients held)")
    w("")
    w("| clients asked | held at end | ramp s | clients/s | connect→001 p50 / p99 ms "
      "| RSS before MiB | RSS end of hold MiB | **RSS B/client, end of hold** "
      "| **heap in use B/client** | heap system B/client | server CPU ramp s | hold CPU % "
      "| lost / failed / not opened |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in idle:
        ramp = float(r["ramp_s"])
        hold = float(r["hold_s"])
        hold_pct = 100 * float(r["srv_cpu_hold_s"]) / hold if hold > 0 else 0
        w(f"| {int(r['sessions']):,} | {int(r['ready']):,} | {ramp:,.1f} "
          f"| {float(r['ever_ready']) / ramp if ramp > 0 else 0:,.0f} "
          f"| {f(r, 'conn_ready_p50_ms')} / {f(r, 'conn_ready_p99_ms')} "
          f"| {float(r['rss_before_kib']) / 1024:,.1f} | {float(r['rss_held_kib']) / 1024:,.1f} "
          f"| **{f(r, 'bytes_per_session_held')}** | **{heap_per(r, 'heap_used')}** "
          f"| {heap_per(r, 'heap_sys')} | {f(r, 'srv_cpu_ramp_s', 1)} | {hold_pct:.1f} "
          f"| {r['lost']} / {int(r['failed']) - int(r['lost'])} / {r['not_opened']} |")
    w("")
fan = [r for r in runs if r["tag"].startswith("irc-fanout-")]
if fan:
    w("**PRIVMSG → receivers delay** (one channel; one sender; every message to every "
      "receiver; one sample per (message, receiver) delivery; send time taken just before the "
      "line is written)")
    w("")
    w("| receivers | messages | rate/s | delivered | deliveries/s | **p50 ms** | **p99 ms** "
      "| **p99.9 ms** | max ms | to last receiver p50 / p99 ms | JOIN of all s "
      "| server CPU µs/message | **server CPU µs/delivery** | generator µs/delivery |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in fan:
        w(delivery_row(r, "sent", f(r, "ramp_s", 1)))
    w("")
for r in runs:
    notes = []
    if r["server_alive"] != "1":
        notes.append("the server died during the run")
    if int(r["lost"]) or int(r["failed"]):
        notes.append(f"{r['lost']} clients lost after ready, {r['failed']} ended in all")
    if stops.get(r["tag"]):
        notes.append(f"the server stopped {stops[r['tag']]} s after SIGTERM")
    notes.append(f"generator max RSS {float(r['gen_maxrss_kib']) / 1024:,.1f} MiB")
    w(f"- {r['tag']}: " + "; ".join(notes) + ".")
EOF
