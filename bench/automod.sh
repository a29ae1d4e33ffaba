#!/usr/bin/env bash
# bench/automod.sh: what AutoMod adds to each message. A benchmark, not a test: it prints
# figures and passes or fails nothing.
#
# The same guild setup at every rule count (RULE_COUNTS, default "0 10 100"): KEYWORD rules
# of KEYWORDS (1000) random keywords each, 6-12 letters in Discord's four forms (word,
# word*, *word, *word*), with a BLOCK_MESSAGE action; the message text (TEXT) uses words of
# at most five letters, so no keyword ever matches and every message is scanned to its end
# and stored. The poster is a plain member (members with MANAGE_GUILD are exempt). 100
# rules is beyond Discord's 6 per guild: hearthd runs with --automod-max-keyword-rules 100.
#
#   1. In process (build/hearth-automod-bench, one fresh data directory per rule count):
#      the AutoMod check alone and a whole message write (hs_msg_create_fn: checks, AutoMod,
#      the row, the search index, the event), each timed over ITERATIONS messages inside one
#      transaction (no commit, no HTTP), best of 3; and the one-time compilation of the rules.
#   2. Over HTTP: one hearthd, one guild per rule count (its spam heuristics off, so the
#      rules alone are measured), plus a guild with no rules and the heuristics on (their
#      verdicts set to allow, so that every message is still stored). `hearth-bench --mode
#      post --content TEXT` with CONNS clients per guild for DURATION s after WARMUP s,
#      REPEAT rounds interleaved (each starting with another guild); medians of acks/s, p50/p99 latency and server CPU per
#      message, with ratios against the guild without rules, all in the same run.
#
# Usage: bench/automod.sh          (after `make`)
# Environment: BUILD (./build), RULE_COUNTS, KEYWORDS, CONNS ("1 8"), DURATION (10),
#   WARMUP (1), REPEAT (3), ITERATIONS (20000), TEXT, DATA_PARENT ($TMPDIR or /tmp),
#   KEEP (1 keeps the data), OUT (also write the report to this file).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_TAG=automod-bench
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=${BUILD:-$ROOT/build}
RULE_COUNTS=${RULE_COUNTS:-"0 10 100"}
KEYWORDS=${KEYWORDS:-1000}
CONNS=${CONNS:-"1 8"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-3}
ITERATIONS=${ITERATIONS:-20000}
TEXT=${TEXT:-"hey all, just got back from the lake and the fish were huge this time. who is up for a game later? bring snack and the new map pack, we can play til dark"}
HEARTHD=$BUILD/hearthd
BENCH=$BUILD/hearth-bench
INPROC=$BUILD/hearth-automod-bench

for bin in "$HEARTHD" "$BENCH" "$INPROC"; do
    [[ -x $bin ]] || die "$bin is missing: run 'make' first"
done

WORK=$(mktemp -d "$DATA_PARENT/hearth-automod-bench.XXXXXX")
REPORT=$WORK/report.md
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

field() { # KEY LINE -> value of key=value in a result line
    sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" <<<"$2"
}

median() { # numbers on stdin -> their median
    sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2}'
}

{
    echo "## AutoMod benchmark: $(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "$(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Rules of $KEYWORDS keywords; the message: ${#TEXT} bytes (\"${TEXT:0:40}...\")."
    echo
} >"$REPORT"

# ---- 1. in process ----
log "in process: $RULE_COUNTS rules"
{
    echo "### In process (no HTTP, no commit): per message, best of 3 rounds of $ITERATIONS"
    echo
    echo "| rules | keywords | compile (once) | AutoMod check | whole message write | write vs 0 rules |"
    echo "|---:|---:|---:|---:|---:|---:|"
} >>"$REPORT"
BASE_CREATE=
for N in $RULE_COUNTS; do
    D=$WORK/inproc-$N
    mkdir -p "$D"
    line=$("$INPROC" --data-dir "$D" --rules "$N" --keywords "$KEYWORDS" \
        --iterations "$ITERATIONS" --content "$TEXT" | grep '^result:')
    rm -rf "$D"
    check=$(field check_us "$line")
    create=$(field create_us "$line")
    compile=$(field compile_ms "$line")
    [[ -n $BASE_CREATE ]] || BASE_CREATE=$create
    ratio=$(echo "scale=3; $create / $BASE_CREATE" | bc)
    printf '| %s | %s | %s ms | %s µs | %s µs | %s |\n' "$N" $((N * KEYWORDS)) "$compile" \
        "$check" "$create" "$ratio" >>"$REPORT"
done
echo >>"$REPORT"

# ---- 2. over HTTP ----
PORT=$(free_port)
DATA=$WORK/data
mkdir -p "$DATA"
"$HEARTHD" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --server-name bench.local \
    --ratelimit-enabled 0 --automod-max-keyword-rules 100 >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || die "hearthd did not start"

log "over HTTP: setting up the guilds"
# Prints "POSTER_TOKEN" then one "LABEL CHANNEL" line per guild.
# shellcheck disable=SC2086 # RULE_COUNTS is a list: one argument per count
SETUP=$($PY - "$PORT" "$KEYWORDS" "$TEXT" $RULE_COUNTS <<'EOF'
import json, random, sys, urllib.request
port, keywords, text, counts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
base = f"http://127.0.0.1:{port}/api/v10"
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": token} if token else {})})
    with urllib.request.urlopen(req) as r:
        raw = r.read()
        return json.loads(raw) if raw else None
owner = call("POST", "/auth/register", {"username": "owner", "password": "a long password"})
poster = call("POST", "/auth/register", {"username": "poster", "password": "a long password"})
rng = random.Random(7)
def keyword(i):
    w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(6, 12)))
    return ("*" if i % 4 >= 2 else "") + w + ("*" if i % 4 in (1, 3) else "")
print(poster["token"])
setups = [(f"rules={n}", int(n), {"enabled": False}) for n in counts]
setups.append(("heuristics", 0, {"duplicate_action": "allow", "velocity_action": "allow"}))
for label, n, spam in setups:
    g = call("POST", "/guilds", {"name": label}, owner["token"])
    inv = call("POST", f"/channels/{g['system_channel_id']}/invites", {}, owner["token"])
    call("POST", f"/invites/{inv['code']}", {}, poster["token"])
    call("PATCH", f"/guilds/{g['id']}/hearth/spam", spam, owner["token"])
    for r in range(n):
        call("POST", f"/guilds/{g['id']}/auto-moderation/rules",
             {"name": f"rule {r}", "event_type": 1, "trigger_type": 1, "enabled": True,
              "trigger_metadata": {"keyword_filter": [keyword(i) for i in range(keywords)]},
              "actions": [{"type": 1}]}, owner["token"])
    # A probe: the text must pass (and it compiles the rules before the clock starts).
    call("POST", f"/channels/{g['system_channel_id']}/messages", {"content": text},
         poster["token"])
    print(label, g["system_channel_id"])
EOF
)
POSTER=$(head -1 <<<"$SETUP")
mapfile -t GUILDS < <(tail -n +2 <<<"$SETUP")

declare -A RATE P50 P99 CPU
NG=${#GUILDS[@]}
for ((round = 1; round <= REPEAT; round++)); do
    # Each round starts with another guild, so that no configuration always runs first.
    for ((k = 0; k < NG; k++)); do
        g=${GUILDS[$(((k + round - 1) % NG))]}
        read -r LABEL CHANNEL <<<"$g"
        for C in $CONNS; do
            log "round $round: $LABEL, $C client(s)"
            line=$("$BENCH" --mode post --port "$PORT" --token "$POSTER" --channel "$CHANNEL" \
                --content "$TEXT" --connections "$C" --duration "$DURATION" --warmup "$WARMUP" \
                --server-pid "$SERVER_PID" | grep '^result:')
            errors=$(field errors "$line")
            [[ $errors == 0 ]] || log "warning: $errors errors ($LABEL, $C): $line"
            RATE[$LABEL,$C]+="$(field rate "$line") "
            P50[$LABEL,$C]+="$(field p50_ms "$line") "
            P99[$LABEL,$C]+="$(field p99_ms "$line") "
            CPU[$LABEL,$C]+="$(field srv_us_per_ok "$line") "
        done
    done
done

{
    echo "### Over HTTP: POST .../messages, medians of $REPEAT rounds of ${DURATION} s"
    echo
    echo "| guild | clients | acks/s | vs 0 rules | p50 ms | p99 ms | server CPU µs/msg | vs 0 rules |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for C in $CONNS; do
        read -r BASE_LABEL _ <<<"${GUILDS[0]}"
        base_rate=$(tr ' ' '\n' <<<"${RATE[$BASE_LABEL,$C]}" | grep . | median)
        base_cpu=$(tr ' ' '\n' <<<"${CPU[$BASE_LABEL,$C]}" | grep . | median)
        for g in "${GUILDS[@]}"; do
            read -r LABEL _ <<<"$g"
            rate=$(tr ' ' '\n' <<<"${RATE[$LABEL,$C]}" | grep . | median)
            p50=$(tr ' ' '\n' <<<"${P50[$LABEL,$C]}" | grep . | median)
            p99=$(tr ' ' '\n' <<<"${P99[$LABEL,$C]}" | grep . | median)
            cpu=$(tr ' ' '\n' <<<"${CPU[$LABEL,$C]}" | grep . | median)
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$LABEL" "$C" "$rate" \
                "$(echo "scale=3; $rate / $base_rate" | bc)" "$p50" "$p99" "$cpu" \
                "$(echo "scale=3; $cpu / $base_cpu" | bc)"
        done
    done
    echo
    echo "Server RSS at the end: $(awk '/VmRSS/ {print $2, $3}' /proc/$SERVER_PID/status)."
} >>"$REPORT"

cat "$REPORT"
[[ -z $OUT ]] || cp "$REPORT" "$OUT"
