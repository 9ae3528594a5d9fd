#!/usr/bin/env bash
# Search through HTTP (issue 11): latency of /api/v1/search and Torznab at 1 M torrents next to
# the same queries in process, searches/s at 16 clients, and the crawler's persist rate on a
# lab while 16 clients search, against the rate with none (ratios measured in the same run).
#
#   bench/http.sh                         # all of it (~6 minutes on 2 cores, 1 M database built once)
#   PARTS=latency bench/http.sh           # latency + throughput only
#   PARTS=crawl DURATION=60 bench/http.sh # the crawler under search load only
#
# The 1 M database is the store bench's (`--db`), kept in $HTTP_DB (default
# target/bench-1m.sqlite3) and reused by later runs. Loopback only (inside unshare -n where
# available). Results: bench/results/http.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${BA_IN_NETNS:-}" ]] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    cargo build --release -q -p bitagent
    cargo bench -q -p store --bench scale --no-run
    cargo bench -q -p web --bench http --no-run
    exec env BA_IN_NETNS=1 unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
OFF=${BA_IN_NETNS:+--offline}
PARTS=${PARTS:-"latency crawl"}
DB=${HTTP_DB:-$PWD/target/bench-1m.sqlite3}
SIZE=${SIZE:-1000000}
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-60}
echo "reproduce: PARTS=\"$PARTS\" SIZE=$SIZE CLIENTS=$CLIENTS DURATION=$DURATION bench/http.sh $*"
mkdir -p bench/results

if [[ ! -s "$DB" ]]; then
    echo "building a $SIZE-torrent database at $DB (once; later runs reuse it)"
    cargo bench -q $OFF -p store --bench scale -- --bench --sizes "$SIZE" --queries 1 \
        --repeat 1 --only ingest --json - --db "$DB"
fi

for part in $PARTS; do
case $part in
latency)
    cargo bench -q $OFF -p web --bench http -- --bench --db "$DB" --clients "$CLIENTS" "$@"
    ;;
crawl)
    # The same lab crawled twice for DURATION s from the same prefilled store (200 k torrents,
    # like bench/scaling-factor.sh): once alone, once while CLIENTS clients search its HTTP
    # server as fast as they can. Persisted torrents compared.
    B=target/release/bitagent
    WORK=$(mktemp -d)
    trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
    cargo bench -q $OFF -p store --bench scale -- --bench --sizes 200000 --queries 1 \
        --repeat 1 --only ingest --json - --db "$WORK/prefill.db" >/dev/null
    declare -A persisted
    for mode in alone loaded; do
        rm -rf "$WORK/data"; mkdir -p "$WORK/data"
        cp "$WORK/prefill.db" "$WORK/data/bitagent.sqlite3"
        $B lab --nodes 1000 --torrents 10000 --first-ip 127.1.0.10 >"$WORK/lab.out" 2>"$WORK/lab.err" &
        lab=$!
        for _ in $(seq 1 600); do grep -q '"ready"' "$WORK/lab.out" 2>/dev/null && break; sleep 0.1; done
        boot=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["bootstrap"])' "$WORK/lab.out")
        $B run --data-dir "$WORK/data" --bootstrap "$boot" --bind 127.1.255.1:0 --http 127.1.255.1:3399 \
            --api-key bench-key --http-search-rate 1000000 --status log --status-interval 5 \
            --duration "$DURATION" 2>"$WORK/run.err" &
        run=$!
        if [[ $mode == loaded ]]; then
            for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.1.255.1/3399) 2>/dev/null && break; sleep 0.1; done
            cargo bench -q $OFF -p web --bench http -- --bench --db "$WORK/prefill.db" \
                --load http://127.1.255.1:3399 --key bench-key --clients "$CLIENTS" \
                --duration "$((DURATION - 2))" | tee "$WORK/load.out"
        fi
        wait "$run" || true
        kill "$lab"; wait "$lab" 2>/dev/null || true
        stored=$(grep -o 'stored=[0-9]*' "$WORK/run.err" | tail -1 | cut -d= -f2)
        persisted[$mode]=$(( ${stored:-200000} - 200000 ))
        echo "crawl $mode: ${persisted[$mode]} torrents persisted in $DURATION s"
    done
    load=$(grep -o '^load: [0-9]*' "$WORK/load.out" | awk '{print $2}')
    python3 - "${persisted[alone]}" "${persisted[loaded]}" "${load:-0}" "$CLIENTS" "$DURATION" <<'PY'
import json, sys
alone, loaded, load, clients, duration = (int(x) for x in sys.argv[1:])
ratio = loaded / alone if alone else 0.0
print(f"crawler under search load: {loaded} vs {alone} persisted ({ratio:.2f}x; target >= 0.90) "
      f"while {clients} clients searched at {load}/s")
path = "bench/results/http.json"
try:
    allr = json.load(open(path))
except Exception:
    allr = {}
allr["crawl_under_load"] = {"persisted_alone": alone, "persisted_loaded": loaded, "ratio": ratio,
    "target": 0.9, "met": ratio >= 0.9, "clients": clients, "searches_per_sec": load,
    "duration_s": duration, "reproduce": f"PARTS=crawl DURATION={duration} bench/http.sh"}
json.dump(allr, open(path, "w"), indent=2)
PY
    ;;
*) echo "unknown part $part" >&2; exit 2 ;;
esac
done
