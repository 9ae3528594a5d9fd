#!/usr/bin/env bash
# Engine benchmarks: the KRPC codec against serde_bencode (ratio measured in the same run,
# target >= 5x) and the simulator (5,001 nodes on virtual time: simulated messages per
# wall-clock second). Writes bench/results/engine.json. No network at all.
#
#   bench/engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== codec: cargo bench -p krpc --bench decode"
cargo bench -q --offline -p krpc --bench decode 2>/dev/null | tee "$WORK/codec.txt" | grep -E "MEASURED|krpc  |serde_bencode |RATIO" || true
echo "== simulator: cargo bench -p sim --bench sim"
cargo bench -q --offline -p sim --bench sim 2>/dev/null | tee "$WORK/sim.txt" | grep -E "^nodes:|messages per wall|lookup exactness|trace hash|peak memory" || true

python3 - "$WORK/codec.txt" "$WORK/sim.txt" <<'PY'
import json, re, sys
codec = open(sys.argv[1]).read()
sim = open(sys.argv[2]).read()
def num(pattern, text, cast=float):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else None
out = {
    "codec": {
        "krpc_msg_per_s": num(r"krpc\s+([0-9]+) msg/s", codec),
        "serde_bencode_msg_per_s": num(r"serde_bencode\s+([0-9]+) msg/s", codec),
        "ratio": num(r"RATIO ours/serde_bencode = ([0-9.]+)x", codec),
        "target_ratio": 5.0,
        "command": "cargo bench -p krpc --bench decode",
    },
    "simulator": {
        "nodes": num(r"nodes:\s+([0-9]+)", sim, int),
        "messages_per_wall_s": num(r"messages per wall second:\s+([0-9]+)", sim),
        "lookup_exact_pct": num(r"lookup exactness \(exact\):\s+([0-9.]+)%", sim),
        "trace_hash": (re.search(r"trace hash:\s+([0-9a-f]+)", sim) or [None, None])[1],
        "peak_mib": num(r"peak memory \(VmHWM\):\s+([0-9]+) MiB", sim),
        "command": "cargo bench -p sim --bench sim",
    },
}
c = out["codec"]
c["met"] = c["ratio"] is not None and c["ratio"] >= c["target_ratio"]
json.dump(out, open("bench/results/engine.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
