#!/usr/bin/env bash
# The crawl race: BitAgent against a straightforward libtorrent crawler (bench/baseline_crawler.py:
# dht_sample_infohashes + one magnet per new infohash), one after the other, each on a fresh swarm.
#
#   libtorrent  a tests/libtorrent/swarm.py swarm of 100 libtorrent 2.1.1 sessions x 20 v1
#               torrents (+ the swarm torrent: 2,001), libtorrent's default DoS limit (ban at
#               50 packets in 10 s), the harness's default sample interval (0)
#   lab         a `bitagent lab` of 1,000 nodes and 10,000 torrents
#
# Each racer runs alone on a fresh swarm, BitAgent first. Reported for each: time to 50/90/100%
# of the swarm's torrents discovered and persisted (with the CPU seconds spent by then), total
# CPU seconds, CPU ms per torrent persisted, peak RSS, UDP packets sent (its own count:
# bitagent_dht_packets_sent_total / libtorrent's DHT + uTP counters) and received by the swarm, and
# whether any node blocked it (the swarm's `bans`). A racer stops when every torrent is
# persisted, when it has found nothing new for STALL s past 90%, or at its cap ("not
# reached" = not within the cap). The baseline's cap is, by default, three times BitAgent's
# time to 90% (+3 s): what it takes to decide the "a third of the baseline's time" target.
# Prints a table and writes bench/results/race.json (every figure, targets, met/not met);
# racers not re-run keep their earlier, dated result there.
#
# Loopback only: the script re-executes itself in a private network namespace (`unshare -n`,
# only `lo` up) and refuses to run without one; every process binds 127.x addresses and is
# given only 127.x addresses (the baseline's libtorrent also has an ip_filter for 127/8 only).
#
#   bench/race.sh                      # both parts, BitAgent alone on the lab (~7.5 min, 2 cores)
#   bench/race.sh libtorrent           # one part alone (or: bench/race.sh lab)
#   RACERS=bitagent bench/race.sh libtorrent     # one racer alone (RACERS=baseline too)
#   LAB_RACERS=baseline LAB_BASELINE_CAP=900 bench/race.sh lab   # the baseline on the lab (~15 min)
#   CAP=80 BASELINE_CAP=auto LAB_CAP=130 STALL=20 bench/race.sh  # the defaults; KEEP_LOGS=DIR keeps logs
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${BA_IN_NETNS:-}" ]]; then
    export BA_RACE_T0=${BA_RACE_T0:-$(date +%s)}
    # Outside the namespace: build, and make the venv scripts/test.sh makes (needs PyPI once).
    cargo build --release -q -p bitagent
    if ! .venv/bin/python -c 'import libtorrent' 2>/dev/null; then
        python3 -m venv .venv
        .venv/bin/pip install --quiet --disable-pip-version-check -r tests/libtorrent/requirements.txt
    fi
    if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
        exec env BA_IN_NETNS=1 unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
    fi
    echo "race.sh: cannot create a network namespace (unshare -n); refusing to run outside one" >&2
    exit 1
fi
PY=.venv/bin/python
PARTS=("${@:-libtorrent lab}")
read -r -a PARTS <<<"${PARTS[*]}"
RACERS=${RACERS:-bitagent,baseline}        # libtorrent part
LAB_RACERS=${LAB_RACERS:-bitagent}         # lab part: the baseline there is too long for the suite
CAP=${CAP:-80}                             # BitAgent on the libtorrent swarm
BASELINE_CAP=${BASELINE_CAP:-auto}         # auto: 3 x BitAgent's time to 90% (+3 s), 80..200 s
LAB_CAP=${LAB_CAP:-130}                    # BitAgent on the lab
LAB_BASELINE_CAP=${LAB_BASELINE_CAP:-auto} # auto: as above, <= 900 s (900 s when it races alone)
STALL=${STALL:-20}
RESULTS=bench/results/race.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
started=${BA_RACE_T0:-$(date +%s)}
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
git=$(git describe --always --dirty 2>/dev/null || echo unknown)

KEEP=()
if [[ -n "${KEEP_LOGS:-}" ]]; then
    mkdir -p "$KEEP_LOGS"
    KEEP=(--keep-logs "$KEEP_LOGS")
fi
outs=()
for part in "${PARTS[@]}"; do
    case "$part" in
    libtorrent)
        "$PY" bench/race.py libtorrent --python "$PY" --racers "$RACERS" --cap "$CAP" \
            --baseline-cap "$BASELINE_CAP" --baseline-cap-max 200 --stall "$STALL" "${KEEP[@]}" --out "$WORK/$part.json"
        ;;
    lab)
        "$PY" bench/race.py lab --python "$PY" --racers "$LAB_RACERS" --cap "$LAB_CAP" \
            --baseline-cap "$LAB_BASELINE_CAP" --baseline-cap-max 900 --stall "$STALL" "${KEEP[@]}" --out "$WORK/$part.json"
        ;;
    *)
        echo "race.sh: unknown part '$part' (libtorrent or lab)" >&2
        exit 2
        ;;
    esac
    outs+=("$WORK/$part.json")
    if [[ -n "${KEEP_LOGS:-}" ]]; then cp "$WORK/$part.json" "$KEEP_LOGS/"; fi
done
"$PY" bench/race.py report --results "$RESULTS" --runtime-s "$(($(date +%s) - started))" \
    --loadavg "$loadavg" --git "$git" "${outs[@]}"
echo
echo "results: $RESULTS; race.sh took $(($(date +%s) - started)) s, build included (parts: ${PARTS[*]})"
