#!/usr/bin/env bash
# bench/run.sh: Hearth's message benchmark. A benchmark, not a test: it prints figures.
#
# It starts a fresh build/hearthd on a free loopback port with a throwaway data directory,
# registers a user and creates a guild, then:
#   1. post: acknowledged messages per second with 1, 8 and 64 concurrent clients (closed
#      loop, keep-alive), next to a same-run baseline: the disk's 4 KiB write+fdatasync rate
#      in the data directory (one durable commit per ack is the floor without group commit);
#   2. history: seeds a second channel with 1,000,000 messages through `hearthctl seed
#      messages`, then measures 50-message pages (GET ...?limit=50&before=RANDOM) with 1, 8
#      and 64 clients, next to a same-run baseline: GET /healthz (the HTTP stack alone).
# Every measurement is repeated REPEAT times in interleaved rounds, and the tables show the
# median (and the range of rates), because the machine is shared and noisy. Server CPU per
# request comes from /proc/PID/stat over each measurement window.
#
# Usage: bench/run.sh            (after `make`; takes about 6 minutes with the defaults)
# Environment: BUILD (default ./build), DURATION (s per run, 10), WARMUP (s, 1), REPEAT (3),
#   CONNS ("1 8 64"), BODY_SIZE (64), SEED_COUNT (1000000), SKIP_HISTORY (0),
#   DATA_PARENT (where the throwaway data dir goes, default $TMPDIR or /tmp), KEEP (1 keeps
#   it), OUT (also write the markdown report to this file).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_TAG=bench
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=${BUILD:-$ROOT/build}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-"1 8 64"}
BODY_SIZE=${BODY_SIZE:-64}
SEED_COUNT=${SEED_COUNT:-1000000}
SKIP_HISTORY=${SKIP_HISTORY:-0}

HEARTHD=$BUILD/hearthd
HEARTHCTL=$BUILD/hearthctl
BENCH=$BUILD/hearth-bench

for bin in "$HEARTHD" "$BENCH"; do
    [[ -x $bin ]] || die "$bin is missing: run 'make' in $ROOT first"
done

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'without commits')
WORK=$(mktemp -d "$DATA_PARENT/hearth-bench.XXXXXX")
DATA=$WORK/data
RESULTS=$WORK/results.txt # one "tag... result: k=v ..." line per measurement
RAW=$WORK/raw.log         # everything hearth-bench printed
SERVER_LOG=$WORK/server.log
mkdir -p "$DATA"
: >"$RESULTS"
: >"$RAW"

cleanup() {
    local rc=$?
    stop_pid "$SERVER_PID" server 5
    finish_work "$rc" 30 "server log, raw output"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# thread_cpu: "tid comm cpu-ticks" for each thread of the server.
thread_cpu() {
    local t
    for t in /proc/"$SERVER_PID"/task/*; do
        printf '%s %s %s\n' "${t##*/}" "$(tr -c 'A-Za-z0-9_.\n-' '_' <"$t/comm" 2>/dev/null)" \
            "$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null)"
    done 2>/dev/null | sort -n
}

# thread_delta BEFORE AFTER: "comm/tid=seconds,..." for threads that used >= 0.05 s.
thread_delta() {
    awk -v hz="$(getconf CLK_TCK)" '
        NR == FNR { before[$1] = $3; next }
        { d = ($3 - before[$1]) / hz; if (d >= 0.05) { printf "%s%s/%s=%.2f", sep, $2, $1, d; sep = "," } }
    ' <(echo "$1") <(echo "$2")
}

# measure TAG ROUND ARGS...: one hearth-bench run; appends its result line to $RESULTS.
measure() {
    local tag=$1 round=$2
    shift 2
    local out rc=0 t0 t1
    t0=$(thread_cpu)
    out=$("$BENCH" "$@" 2>&1) || rc=$?
    t1=$(thread_cpu)
    printf '== %s round %s: hearth-bench %s\n%s\n' "$tag" "$round" "$*" "$out" |
        sed -e "s/${TOKEN:-@@none@@}/TOKEN/g" >>"$RAW"
    local line
    line=$(grep '^result:' <<<"$out" | tail -n 1 || true)
    [[ -n $line ]] || die "hearth-bench printed no result for $tag (rc $rc): $(tail -n 3 <<<"$out")"
    echo "tag=$tag round=$round ${line#result: } threads=$(thread_delta "$t0" "$t1")" >>"$RESULTS"
    log "$tag round $round: $(grep -E '^  (rate|latency)' <<<"$out" | tr -s ' ' | tr '\n' ';')"
    grep '^hearth-bench:' <<<"$out" | sed -e "s/${TOKEN:-@@none@@}/TOKEN/g" >&2 || true
    if [[ $tag != fsync ]] && ! server_alive; then
        wait "$SERVER_PID" 2>/dev/null && status=$? || status=$?
        die "the server died during '$tag' round $round (exit status $status)"
    fi
}

# ---- start the server --------------------------------------------------------------------
PORT=$(free_port)
LOADAVG_START=$(loadavg)
log "starting $HEARTHD on 127.0.0.1:$PORT, data in $DATA"
# The REST limits (5 messages per 5 s in a channel, spec/rest-ratelimits.md) would answer
# 429 to nearly every POST: the benchmark measures the server, not its limits.
"$HEARTHD" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --server-name bench.local \
    --ratelimit-enabled 0 >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
wait_healthz ""
log "server ready (pid $SERVER_PID)"

TOKEN=
REG=$(api POST /api/v10/auth/register '{"username":"bench","password":"bench-password-1"}')
TOKEN=$(json_get token <<<"$REG")
USER_ID=$(json_get user_id <<<"$REG")
GUILD=$(api POST /api/v10/guilds '{"name":"bench"}')
GUILD_ID=$(json_get id <<<"$GUILD")
POST_CHANNEL=$(json_get system_channel_id <<<"$GUILD")
log "user $USER_ID, guild $GUILD_ID, posting to channel $POST_CHANNEL"
# One message through the API first: a failure here is clearer than 0 ok/s later.
api POST "/api/v10/channels/$POST_CHANNEL/messages" '{"content":"hello, bench"}' >/dev/null

COMMON=(--host 127.0.0.1 --port "$PORT" --token "$TOKEN" --server-pid "$SERVER_PID")

# ---- 1. post ---------------------------------------------------------------------------------
for round in $(seq "$REPEAT"); do
    measure fsync "$round" --mode fsync --file "$DATA/fsync-probe" --duration 3
    for c in $CONNS; do
        measure post "$round" "${COMMON[@]}" --mode post --channel "$POST_CHANNEL" \
            --connections "$c" --duration "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE"
    done
done

# ---- 2. history --------------------------------------------------------------------------
HISTORY_NOTE=
SEED_SECS=
if [[ $SKIP_HISTORY == 1 ]]; then
    HISTORY_NOTE="history skipped (SKIP_HISTORY=1)"
elif [[ ! -x $HEARTHCTL ]]; then
    HISTORY_NOTE="history skipped: $HEARTHCTL is missing"
else
    HIST_CHANNEL=$(api POST "/api/v10/guilds/$GUILD_ID/channels" '{"name":"history"}' | json_get id)
    log "seeding $SEED_COUNT messages into channel $HIST_CHANNEL with hearthctl"
    t0=$(date +%s.%N)
    if "$HEARTHCTL" --data-dir "$DATA" seed messages --channel "$HIST_CHANNEL" \
        --author "$USER_ID" --count "$SEED_COUNT" >"$WORK/seed.log" 2>&1; then
        t1=$(date +%s.%N)
        SEED_SECS=$("$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$t1")
        log "seeded in $SEED_SECS s"
    else
        HISTORY_NOTE="history skipped: hearthctl seed messages failed: $(tail -n 3 "$WORK/seed.log" | tr '\n' ' ')"
    fi
fi
if [[ -z $HISTORY_NOTE ]]; then
    server_alive || die "the server died while the channel was seeded"
    NEWEST=$(api GET "/api/v10/channels/$HIST_CHANNEL/messages?limit=1" | json_get 0.id)
    # after=1 rather than after=0: no snowflake is 1, and a zero cursor is easy to mistake
    # for "no cursor".
    OLDEST=$(api GET "/api/v10/channels/$HIST_CHANNEL/messages?limit=1&after=1" | json_get 0.id)
    [[ $OLDEST -lt $NEWEST ]] || die "oldest id $OLDEST is not below newest id $NEWEST"
    PAGE=$(api GET "/api/v10/channels/$HIST_CHANNEL/messages?limit=50&before=$NEWEST" |
        "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')
    log "history channel ids $OLDEST..$NEWEST; a page before the newest holds $PAGE messages"
    for round in $(seq "$REPEAT"); do
        for c in $CONNS; do
            measure healthz "$round" "${COMMON[@]}" --mode get --path /healthz \
                --connections "$c" --duration "$DURATION" --warmup "$WARMUP"
            measure history "$round" "${COMMON[@]}" --mode history --channel "$HIST_CHANNEL" \
                --min-id "$OLDEST" --max-id "$NEWEST" --connections "$c" \
                --duration "$DURATION" --warmup "$WARMUP"
        done
    done
fi

VERSION=$(grep -o -m1 'hearthd [0-9][^ ]*' "$SERVER_LOG" || echo 'hearthd, version unknown')
RSS=$(awk '/^VmRSS|^VmHWM/ {printf "%s %s %s; ", $1, $2, $3}' "/proc/$SERVER_PID/status")
LOADAVG_END=$(loadavg)

# ---- report ----------------------------------------------------------------------------------
export CONNS DURATION WARMUP REPEAT BODY_SIZE SEED_COUNT SEED_SECS HISTORY_NOTE RSS \
    LOADAVG_START LOADAVG_END
REPORT=$(report_py "$RESULTS" <<'EOF'
import statistics

runs = load_runs(sys.argv[1])

def sel(tag, conns=None):
    return [r for r in runs if r["tag"] == tag and (conns is None or r["conns"] == str(conns))]

def med(rs, key):
    v = [float(r[key]) for r in rs if float(r[key]) >= 0]
    return statistics.median(v) if v else float("nan")

def rng(rs, key):
    v = [float(r[key]) for r in rs]
    return f"{min(v):,.0f}–{max(v):,.0f}" if len(v) > 1 else ""

def fmt(x, d=0):
    return "n/a" if x != x else f"{x:,.{d}f}"

def errs(rs):
    return sum(int(r["errors"]) for r in rs)

conns = os.environ["CONNS"].split()
rounds = int(os.environ["REPEAT"])
out = []
w = out.append
w(f"Each figure is the median of {rounds} interleaved round(s) of {os.environ['DURATION']} s "
  f"(after {os.environ['WARMUP']} s warmup); ranges are min–max over the rounds. "
  f"Load average {os.environ['LOADAVG_START']} at start, {os.environ['LOADAVG_END']} at end.")
w("")
fs = sel("fsync")
fs_rate = med(fs, "rate")
w(f"Baseline, same run: 4 KiB write + fdatasync in the data directory: "
  f"**{fmt(fs_rate)}/s** ({rng(fs, 'rate')}), p50 {fmt(med(fs, 'p50_ms'), 3)} ms, "
  f"p99 {fmt(med(fs, 'p99_ms'), 3)} ms.")
w("")
w(f"**POST /channels/{{id}}/messages** ({os.environ['BODY_SIZE']}-byte content, one request "
  "in flight per client)")
w("")
w("| clients | acks/s | range | p50 ms | p99 ms | p99.9 ms | max ms | server CPU µs/ack "
  "| server CPU % | acks/s ÷ fdatasync/s | errors |")
w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in conns:
    rs = sel("post", c)
    if not rs:
        continue
    # Per round, acks/s over that round's own fsync rate, then the median.
    ratios = []
    for r in rs:
        f = [x for x in fs if x["round"] == r["round"]]
        if f and float(f[0]["rate"]) > 0:
            ratios.append(float(r["rate"]) / float(f[0]["rate"]))
    ratio = statistics.median(ratios) if ratios else float("nan")
    cpu_pct = statistics.median(100 * float(r["srv_cpu_s"]) / float(r["secs"]) for r in rs)
    w(f"| {c} | **{fmt(med(rs, 'rate'))}** | {rng(rs, 'rate')} | {fmt(med(rs, 'p50_ms'), 2)} "
      f"| {fmt(med(rs, 'p99_ms'), 2)} | {fmt(med(rs, 'p999_ms'), 2)} | {fmt(med(rs, 'max_ms'), 1)} "
      f"| {fmt(med(rs, 'srv_us_per_ok'))} | {cpu_pct:.0f} | {ratio:.2f} | {errs(rs)} |")
w("")
note = os.environ.get("HISTORY_NOTE")
if note:
    w(f"History: {note}.")
else:
    seed = os.environ.get("SEED_SECS")
    n = int(os.environ["SEED_COUNT"])
    w(f"**GET /channels/{{id}}/messages?limit=50&before=RANDOM** on a channel of {n:,} messages "
      f"(seeded by `hearthctl seed messages` in {seed} s, {n / float(seed):,.0f} messages/s); "
      "baseline, same run: GET /healthz with the same clients.")
    w("")
    w("| clients | pages/s | range | p50 ms | p99 ms | p99.9 ms | server CPU µs/page "
      "| msgs/page | /healthz req/s | /healthz p50 ms | /healthz p99 ms | errors |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in conns:
        rs, hz = sel("history", c), sel("healthz", c)
        if not rs:
            continue
        w(f"| {c} | **{fmt(med(rs, 'rate'))}** | {rng(rs, 'rate')} "
          f"| **{fmt(med(rs, 'p50_ms'), 2)}** | **{fmt(med(rs, 'p99_ms'), 2)}** "
          f"| {fmt(med(rs, 'p999_ms'), 2)} | {fmt(med(rs, 'srv_us_per_ok'))} "
          f"| {fmt(med(rs, 'items_per_ok'), 1)} | {fmt(med(hz, 'rate'))} "
          f"| {fmt(med(hz, 'p50_ms'), 3)} | {fmt(med(hz, 'p99_ms'), 3)} | {errs(rs)} |")
w("")
w(f"Server memory at the end: {os.environ['RSS'].strip()}")
w("")
w("Every run (rate/s, p50/p99 ms, server and generator CPU µs per ok, errors, and the "
  "server's CPU seconds by thread over the whole run, warmup included, as comm/tid=s):")
w("")
w("| what | clients | round | rate | p50 | p99 | server µs | generator µs | errors "
  "| server threads |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in runs:
    threads = r.get("threads", "").replace(",", ", ") if r["tag"] != "fsync" else ""
    w(f"| {r['tag']} | {r['conns']} | {r['round']} | {float(r['rate']):,.0f} | {r['p50_ms']} "
      f"| {r['p99_ms']} | {r['srv_us_per_ok'] if float(r['srv_us_per_ok']) >= 0 else '–'} "
      f"| {r['gen_us_per_ok']} | {r['errors']} | {threads} |")
print("\n".join(out))
EOF
)

{
    echo "## Hearth benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r);"
    echo "SQLite $(dpkg-query -W -f '${Version}' libsqlite3-0 2>/dev/null || echo '?') (system package);"
    echo "work tree at $REV when the run started, binaries from $BUILD ($VERSION)."
    echo
    echo "$REPORT"
} | tee "${OUT:-/dev/null}"
