#!/usr/bin/env bash
# bench/search.sh: Hearth's message-search benchmark. A benchmark, not a test: it prints
# figures and passes or fails nothing.
#
# For each corpus size in SIZES (default "1000000"):
#   1. ingest: a fresh data directory; `hearthctl seed messages --vocab zipf` writes the
#      corpus (90% in #general, 10% in #side, made-up words with Zipf's law, one message in
#      20 with a link), one write per message through the write function of POST
#      .../messages, which the writer groups into transactions of up to 10,000 (each write
#      in its own SAVEPOINT, as a busy server's). Below BULK_FROM messages, measured twice
#      on the same corpus: with the search index (its triggers) and without it (a copy of
#      the empty database whose three triggers were dropped with the sqlite3 shell):
#      messages/s each.
#      From BULK_FROM messages on, the corpus is loaded once, without the triggers, then
#      indexed in one pass (`hearthctl search reindex`), and ingest is measured on the full
#      database: the last SAMPLE messages of the load (without the index), then SAMPLE more
#      appended with the triggers restored (with the index).
#   2. size: pages of the index (message_fts_* and message_search) as a share of the
#      database file (sqlite3's dbstat), after a checkpoint.
#      The exact hit count of the fixed queries, and what counting them all costs, come
#      from Python's sqlite3 module (total_results stops at 10,000).
#   3. latency: hearthd serves the indexed database; a keep-alive Python client (one
#      connection, one request at a time) times GET /guilds/{id}/messages/search for a rare
#      word (ranks 30,000-50,000, a different one each request), a common word (rank 1, in
#      about half the messages), a phrase (ranks 1 and 2 adjacent), a filtered query (the
#      common word, channel_id=#side, has=link), and the common word by relevance. p50/p99
#      over QUERIES requests each (or QUERY_SECONDS, whichever ends first), after 5 warmup
#      requests, with total_results checked against the other queries.
#
# Usage: bench/search.sh                 (after `make`)
#        SIZES="1000000 10000000" bench/search.sh
#        KEEP=1 ... bench/search.sh, then REUSE=<the kept directory> bench/search.sh: the
#        exact counts and the latency again on the kept corpora (after a change to the
#        query code), without seeding; ingest is reported as not measured.
# Environment: BUILD (./build), SIZES, QUERIES (200), QUERY_SECONDS (60), DATA_PARENT
#   ($TMPDIR or /tmp), KEEP (1 keeps the data), SKIP_NOINDEX (1 skips the no-index ingest),
#   BULK_FROM (2000000), SAMPLE (100000), REUSE (a directory kept by KEEP=1: reuse its
#   data-SIZE corpora), OUT (also write the report to this file).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_TAG=search-bench
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=${BUILD:-$ROOT/build}
SIZES=${SIZES:-1000000}
QUERIES=${QUERIES:-200}
QUERY_SECONDS=${QUERY_SECONDS:-60}
SKIP_NOINDEX=${SKIP_NOINDEX:-0}
BULK_FROM=${BULK_FROM:-2000000}
SAMPLE=${SAMPLE:-100000}
REUSE=${REUSE:-}
HEARTHD=$BUILD/hearthd
HEARTHCTL=$BUILD/hearthctl

for bin in "$HEARTHD" "$HEARTHCTL"; do
    [[ -x $bin ]] || die "$bin is missing: run 'make' first"
done
command -v sqlite3 >/dev/null || die "the sqlite3 shell is needed (apt-get install sqlite3)"

WORK=$(mktemp -d "$DATA_PARENT/hearth-search-bench.XXXXXX")
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

start_server() { # DATA_DIR
    PORT=$(free_port)
    "$HEARTHD" --data-dir "$1" --listen "127.0.0.1:$PORT" --server-name bench.local --ratelimit-enabled 0 \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    die "hearthd did not start"
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
}

# Logs the bench's user in again on a kept corpus; prints "TOKEN USER GUILD GENERAL SIDE".
login_guild() {
    $PY - "$PORT" <<'EOF'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/api/v10"
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": token} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
u = call("POST", "/auth/login", {"login": "bencher", "password": "a long password"})
g = call("GET", "/users/@me/guilds", None, u["token"])[0]
chans = call("GET", f"/guilds/{g['id']}/channels", None, u["token"])
side = next(c["id"] for c in chans if c["name"] == "side")
general = next(c["id"] for c in chans if c["name"] == "general")
print(u["token"], u["user_id"], g["id"], general, side)
EOF
}

# Registers a user, creates a guild and a second channel; prints "TOKEN USER GUILD GENERAL SIDE".
setup_guild() {
    $PY - "$PORT" <<'EOF'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/api/v10"
def call(method, path, body, token=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": token} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
u = call("POST", "/auth/register", {"username": "bencher", "password": "a long password"})
g = call("POST", "/guilds", {"name": "Bench"}, u["token"])
side = call("POST", f"/guilds/{g['id']}/channels", {"name": "side"}, u["token"])
print(u["token"], u["user_id"], g["id"], g["system_channel_id"], side["id"])
EOF
}

seed() { # DATA_DIR CHANNEL AUTHOR COUNT SEED -> seconds on stdout
    local t0 t1
    t0=$(date +%s.%N)
    "$HEARTHCTL" --data-dir "$1" seed messages --channel "$2" --author "$3" --count "$4" \
        --vocab zipf --seed "$5" >/dev/null 2>>"$WORK/seed.log"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

TRIGGERS="'message_search_insert', 'message_search_update', 'message_search_delete'"
drop_triggers() { # DB: keeps their SQL in DB.triggers
    sqlite3 "$1" "SELECT sql || ';' FROM sqlite_master WHERE type = 'trigger' AND name IN ($TRIGGERS)" >"$1.triggers"
    sqlite3 "$1" "DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; DROP TRIGGER message_search_delete;"
}
restore_triggers() { # DB
    sqlite3 "$1" <"$1.triggers"
    [[ $(sqlite3 "$1" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ($TRIGGERS)") == 3 ]] ||
        die "the search triggers were not restored"
}

# The exact count of a MATCH expression and how long counting it takes (best of 3): "HITS MS".
fts_count() { # DB MATCH
    $PY -c '
import sqlite3, sys, time
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
best = None
for _ in range(3):
    t = time.perf_counter()
    n = db.execute("SELECT count(*) FROM message_fts WHERE message_fts MATCH ?", (sys.argv[2],)).fetchone()[0]
    dt = (time.perf_counter() - t) * 1000
    best = dt if best is None else min(best, dt)
print(n, "%.1f" % best)
' "$1" "$2"
}

cat >"$WORK/latency.py" <<'EOF'
# Times searches over one keep-alive connection; prints one JSON line per query kind.
import http.client, json, statistics, sys, time, urllib.parse
port, token, guild, side, n, budget = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
SYL = ["ka", "lo", "mi", "nu", "pe", "ra", "so", "ti", "vu", "ze", "ba", "do", "fi", "gu",
       "he", "ja", "ko", "li", "mo", "ne"]
def word(rank):  # tools/hearthctl.c seed_word
    v, out = rank - 1, ""
    while True:
        out += SYL[v % 20]
        v //= 20
        if not v:
            return out
conn = http.client.HTTPConnection("127.0.0.1", int(port))
def get(params):
    path = f"/api/v10/guilds/{guild}/messages/search?" + urllib.parse.urlencode(params, doseq=True)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": token})
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        sys.exit(f"{path}: HTTP {r.status} {body[:200]!r}")
    return dt, json.loads(body)
kinds = [
    ("rare word", lambda i: {"content": word(30000 + (i * 7919) % 20000)}),
    ("common word", lambda i: {"content": word(1)}),
    ("phrase", lambda i: {"content": f'"{word(1)} {word(2)}"'}),
    ("filtered (common word, channel_id, has=link)",
     lambda i: {"content": word(1), "channel_id": side, "has": "link"}),
    ("common word, sort_by=relevance", lambda i: {"content": word(1), "sort_by": "relevance"}),
]
for name, params in kinds:
    for i in range(5):
        get(params(i))
    times, totals = [], []
    start = time.perf_counter()
    for i in range(n):
        dt, body = get(params(i))
        times.append(dt * 1000)
        totals.append(body["total_results"])
        if time.perf_counter() - start > budget:
            break
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(json.dumps({"kind": name, "n": len(times), "p50": p(0.50), "p99": p(0.99),
                      "max": times[-1], "hits_median": statistics.median(totals)}))
EOF

{
    echo "## Search benchmark: $(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "SQLite $(sqlite3 --version | cut -d' ' -f1), $(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
    echo
} >"$REPORT"

for SIZE in $SIZES; do
    SIDE_N=$((SIZE / 10))
    MAIN_N=$((SIZE - SIDE_N))
    DATA=$WORK/data-$SIZE
    NOIDX_RATE=skipped
    NOIDX_BYTES=0
    BULK_NOTE=
    if [[ -n $REUSE ]]; then
        DATA=$REUSE/data-$SIZE
        [[ -f $DATA/hearth.db ]] || die "$DATA/hearth.db is missing"
        log "corpus of $SIZE messages: reusing $DATA"
        start_server "$DATA"
        read -r TOKEN USER GUILD GENERAL SIDE < <(login_guild)
        stop_server
    else
        mkdir -p "$DATA"
        log "corpus of $SIZE messages: setting up"
        start_server "$DATA"
        read -r TOKEN USER GUILD GENERAL SIDE < <(setup_guild)
        stop_server
    fi
    if [[ -n $REUSE ]]; then
        :
    elif ((SIZE >= BULK_FROM)); then
        drop_triggers "$DATA/hearth.db"
        log "bulk load without the index: $SIDE_N in #side, $((MAIN_N - 2 * SAMPLE)) in #general"
        s1=$(seed "$DATA" "$SIDE" "$USER" "$SIDE_N" 2)
        s2=$(seed "$DATA" "$GENERAL" "$USER" "$((MAIN_N - 2 * SAMPLE))" 1)
        log "ingest without the index: the next $SAMPLE"
        s3=$(seed "$DATA" "$GENERAL" "$USER" "$SAMPLE" 3)
        NOIDX_RATE=$(echo "$SAMPLE / $s3" | bc)
        LOAD_SECS=$(echo "$s1 + $s2 + $s3" | bc)
        log "bulk index build"
        t0=$(date +%s.%N)
        "$HEARTHCTL" --data-dir "$DATA" search reindex 2>>"$WORK/seed.log"
        t1=$(date +%s.%N)
        REINDEX_SECS=$(echo "$t1 - $t0" | bc)
        restore_triggers "$DATA/hearth.db"
        log "ingest with the index: the last $SAMPLE"
        IDX_SECS=$(seed "$DATA" "$GENERAL" "$USER" "$SAMPLE" 4)
        IDX_RATE=$(echo "$SAMPLE / $IDX_SECS" | bc)
        BULK_NOTE="Bulk path: $((SIZE - SAMPLE)) messages loaded without the index in $(printf %.0f "$LOAD_SECS") s ($(echo "($SIZE - $SAMPLE) / $LOAD_SECS" | bc) messages/s), indexed in one pass by \`hearthctl search reindex\` in $(printf %.0f "$REINDEX_SECS") s ($(echo "($SIZE - $SAMPLE) / $REINDEX_SECS" | bc) messages/s); the two ingest rates are for $SAMPLE messages each written into the full database: the last $SAMPLE of the load without the index, then the last $SAMPLE with it."
    else
        if [[ $SKIP_NOINDEX != 1 ]]; then
            NOIDX=$WORK/noindex-$SIZE
            cp -r "$DATA" "$NOIDX"
            drop_triggers "$NOIDX/hearth.db"
            log "ingest without the index"
            s1=$(seed "$NOIDX" "$GENERAL" "$USER" "$MAIN_N" 1)
            s2=$(seed "$NOIDX" "$SIDE" "$USER" "$SIDE_N" 2)
            NOIDX_RATE=$(echo "$SIZE / ($s1 + $s2)" | bc)
            sqlite3 "$NOIDX/hearth.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
            NOIDX_BYTES=$(du -b "$NOIDX/hearth.db" | cut -f1)
            rm -rf "$NOIDX"
        fi
        log "ingest with the index"
        s1=$(seed "$DATA" "$GENERAL" "$USER" "$MAIN_N" 1)
        s2=$(seed "$DATA" "$SIDE" "$USER" "$SIDE_N" 2)
        IDX_SECS=$(echo "$s1 + $s2" | bc)
        IDX_RATE=$(echo "$SIZE / $IDX_SECS" | bc)
    fi
    sqlite3 "$DATA/hearth.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    read -r DB_BYTES INDEX_BYTES FTS_BYTES SIDE_BYTES < <(sqlite3 "$DATA/hearth.db" \
        "SELECT (SELECT page_count * page_size FROM pragma_page_count, pragma_page_size),
                (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_fts%' OR name LIKE 'message_search%' OR name LIKE 'sqlite_autoindex_message_search%'),
                (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_fts%'),
                (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%')" | tr '|' ' ')

    log "exact counts"
    read -r HITS_COMMON MS_COMMON < <(fts_count "$DATA/hearth.db" "meta:\"g$GUILD\" AND text:\"ka\"")
    read -r HITS_PHRASE MS_PHRASE < <(fts_count "$DATA/hearth.db" "meta:\"g$GUILD\" AND text:\"ka lo\"")
    read -r HITS_FILTER MS_FILTER < <(fts_count "$DATA/hearth.db" "meta:\"g$GUILD\" AND text:\"ka\" AND meta:\"c$SIDE\" AND meta:\"hlink\"")

    log "latency"
    start_server "$DATA"
    $PY "$WORK/latency.py" "$PORT" "$TOKEN" "$GUILD" "$SIDE" "$QUERIES" "$QUERY_SECONDS" \
        >"$WORK/latency-$SIZE.jsonl"
    RSS=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    stop_server

    {
        echo "### $SIZE messages"
        echo
        echo "| | |"
        echo "|---|---|"
        if [[ -n $REUSE ]]; then
            echo "| ingest | not measured (REUSE of a kept corpus) |"
        else
            echo "| ingest with the index | **$IDX_RATE messages/s** ($(printf %.1f "$IDX_SECS") s) |"
            echo "| ingest without the index | **$NOIDX_RATE messages/s** |"
        fi
        echo "| database file | $((DB_BYTES / 1048576)) MiB (without the index: $((NOIDX_BYTES / 1048576)) MiB) |"
        echo "| index (FTS5 tables + message_search) | $((INDEX_BYTES / 1048576)) MiB = **$(echo "scale=1; 100 * $INDEX_BYTES / $DB_BYTES" | bc) %** of the database (FTS5 $((FTS_BYTES / 1048576)) MiB, message_search $((SIDE_BYTES / 1048576)) MiB) |"
        echo "| server peak RSS during the queries | $((RSS / 1024)) MiB |"
        echo "| exact hits (every one counted by sqlite3, best of 3) | common word $HITS_COMMON ($MS_COMMON ms), phrase $HITS_PHRASE ($MS_PHRASE ms), filtered $HITS_FILTER ($MS_FILTER ms) |"
        echo
        [[ -z $BULK_NOTE ]] || printf '%s\n\n' "$BULK_NOTE"
        echo "| query | requests | hits (total_results) | **p50 ms** | **p99 ms** | max ms |"
        echo "|---|---:|---:|---:|---:|---:|"
        $PY -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("| %s | %d | %s | **%.2f** | **%.2f** | %.2f |" % (r["kind"], r["n"], format(int(r["hits_median"]), ","), r["p50"], r["p99"], r["max"]))
' "$WORK/latency-$SIZE.jsonl"
        echo
    } >>"$REPORT"
    [[ $KEEP == 1 || -n $REUSE ]] || rm -rf "$DATA"
done

cat "$REPORT"
[[ -z $OUT ]] || cp "$REPORT" "$OUT"
