#!/usr/bin/env bash
# What each step of DHT_SCALING_FACTOR costs in memory and buys in throughput.
#
# For each factor: a fresh `bitagent lab` (default 1,000 nodes, 10,000 torrents) on loopback,
# crawled by `bitagent run` for DURATION seconds. Prints peak RSS (from /usr/bin/time or
# /proc), torrents persisted, and the persist rate after sampling starts.
#
# Loopback only: run inside `unshare -n` where available (this script re-executes itself in
# a private network namespace when it can).
#
#   bench/scaling-factor.sh [FACTORS...]      (default: 1 2 4 8 10)
#   NODES=1000 TORRENTS=10000 DURATION=60 bench/scaling-factor.sh 1 10
#
# Steady-state RSS is the median of VmRSS samples (one a second) over the second half of the
# run (drift: how much it still moved within that half); peak RSS is VmHWM. Results also go to bench/results/scaling.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${BA_IN_NETNS:-}" ]] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    cargo build --release -q -p bitagent
    cargo bench -q -p store --bench scale --no-run
    exec env BA_IN_NETNS=1 unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
cargo build --release -q --offline -p bitagent 2>/dev/null || true
B=target/release/bitagent
NODES=${NODES:-1000}
TORRENTS=${TORRENTS:-10000}
DURATION=${DURATION:-60}
PREFILL=${PREFILL:-200000}
FACTORS=("${@:-1 2 4 8 10}")
read -r -a FACTORS <<<"${FACTORS[*]}"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Every crawl starts on a database already holding PREFILL torrents (the synth crate, ~1 KB each):
# a crawler that has run for a while has one, and its page cache fills as it would then.
if [[ "$PREFILL" -gt 0 ]]; then
    cargo bench -q --offline -p store --bench scale -- --bench --sizes "$PREFILL" --queries 1 \
        --repeat 1 --only ingest --json - --db "$WORK/prefill.db" >"$WORK/prefill.out"
    sqlite3_bytes=$(stat -c %s "$WORK/prefill.db")
    echo "prefilled database: $PREFILL torrents, $((sqlite3_bytes >> 20)) MiB"
fi

mkdir -p bench/results
JSON=bench/results/scaling.json
echo "[" >"$JSON.tmp"
first=1
printf "%-7s %-11s %-10s %-12s %-10s %-16s %s\n" factor steady_rss peak_rss persisted of_total per_min_sampling cpu_s
for f in "${FACTORS[@]}"; do
    rm -rf "$WORK/data" "$WORK/lab.out"
    mkdir -p "$WORK/data"
    [[ "$PREFILL" -gt 0 ]] && cp "$WORK/prefill.db" "$WORK/data/bitagent.sqlite3"
    $B lab --nodes "$NODES" --torrents "$TORRENTS" --first-ip 127.1.0.10 >"$WORK/lab.out" 2>"$WORK/lab.err" &
    lab=$!
    for _ in $(seq 1 600); do grep -q '"ready"' "$WORK/lab.out" 2>/dev/null && break; sleep 0.1; done
    boot=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["bootstrap"])' "$WORK/lab.out")
    /usr/bin/time -f "%M %U %S" -o "$WORK/time" \
        $B run --data-dir "$WORK/data" --bootstrap "$boot" --bind 127.1.255.1:0 --http off \
        --scaling-factor "$f" --stall-after 3 --status log --status-interval 5 --duration "$DURATION" \
        2>"$WORK/run.err" &
    timer=$!
    : >"$WORK/rss"
    # Sample the crawler's RSS once a second while it runs (bounded by DURATION + 30 s).
    for _ in $(seq 1 $((DURATION + 30))); do
        run_pid=$(pgrep -P "$timer" -f "bitagent run" || true)
        [[ -n "$run_pid" ]] && awk '/^VmRSS:/ {print $2}' "/proc/$run_pid/status" >>"$WORK/rss" 2>/dev/null || true
        kill -0 "$timer" 2>/dev/null || break
        sleep 1
    done
    wait "$timer" || true
    kill "$lab"; wait "$lab" 2>/dev/null || true
    # Steady = median over the second half; drift = the second half's last quarter minus its
    # first quarter (medians): near 0 when the crawler's memory has levelled off.
    read -r steady_kb drift_kb < <(python3 -c '
import sys, statistics as s
v = [int(x) for x in open(sys.argv[1]).read().split()]
h = v[len(v) // 2:]
q = max(1, len(h) // 4)
print(int(s.median(h)) if h else 0, int(s.median(h[-q:]) - s.median(h[:q])) if h else 0)' "$WORK/rss")
    read -r rss_kb ut st <"$WORK/time"
    stored=$(grep -o 'stored=[0-9]*' "$WORK/run.err" | tail -1 | cut -d= -f2)
    persisted=$(( ${stored:-$PREFILL} - PREFILL ))
    # Rate between the first status line after sampling started and the last one.
    rate=$(python3 - "$WORK/run.err" <<'PY'
import re, sys, datetime
pts = []
for line in open(sys.argv[1]):
    m = re.match(r'(\S+)Z .* sampling · .* persisted (\d+)', line)
    if m:
        t = datetime.datetime.fromisoformat(m.group(1))
        pts.append((t, int(m.group(2))))
pts = [p for p in pts if p[1] > 0]
if len(pts) >= 2:
    (t0, p0), (t1, p1) = pts[0], pts[-1]
    # The rate while work remained: stop at the first point that reached the final count.
    for t, p in pts:
        if p == pts[-1][1]:
            t1, p1 = t, p
            break
    secs = (t1 - t0).total_seconds()
    print(f"{(p1 - p0) * 60 / secs:.0f}" if secs > 0 else "n/a")
else:
    print("n/a")
PY
)
    cpu=$(python3 -c "print(round($ut+$st,2))")
    printf "%-7s %-11s %-10s %-12s %-10s %-16s %s\n" "$f" "$((steady_kb / 1024)) MiB" "$((rss_kb / 1024)) MiB" "$persisted" "$TORRENTS" "$rate" "$cpu"
    [[ $first == 1 ]] || echo "," >>"$JSON.tmp"
    first=0
    printf '{"factor": %s, "nodes": '"$NODES"', "steady_rss_mib": %.1f, "rss_drift_mib": %.1f, "peak_rss_mib": %.1f, "persisted": %s, "torrents": %s, "prefill": '"$PREFILL"', "duration_s": %s, "persisted_per_min": "%s", "cpu_s": %s}' \
        "$f" "$(python3 -c "print($steady_kb/1024)")" "$(python3 -c "print($drift_kb/1024)")" "$(python3 -c "print($rss_kb/1024)")" "${persisted:-0}" "$TORRENTS" "$DURATION" "$rate" "$cpu" >>"$JSON.tmp"
done
echo "]" >>"$JSON.tmp"
mv "$JSON.tmp" "$JSON"
echo "reproduce one factor: NODES=$NODES TORRENTS=$TORRENTS DURATION=$DURATION bench/scaling-factor.sh <factor>"
