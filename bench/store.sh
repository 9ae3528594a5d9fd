#!/usr/bin/env bash
# The store at scale (issue 5, part 3): ingest rate, database bytes per torrent and search
# latency p50/p95/p99 over realistic synthetic torrents (the synth crate), at 100 k torrents and
# then the same database grown to 1 M. Targets: ingest >= 20,000 torrents/s, search p95
# < 20 ms at 1 M. Prints a table and writes bench/results/store.json; every figure is
# printed with the command that reproduces it alone. About 1 to 2 minutes on 2 cores.
#
#   bench/store.sh                        # both sizes
#   bench/store.sh --sizes 100000         # any option of crates/store/benches/scale.rs
#   bench/store.sh --mmap 2048            # searches through a memory map
set -euo pipefail
cd "$(dirname "$0")/.."
echo "reproduce: bench/store.sh $*"
# The bench profile is the release profile (opt-level 3) with debug info.
# Offline inside bench/run-all's network namespace (it fetches first).
cargo bench -q ${BA_IN_NETNS:+--offline} -p store --bench scale --no-run
started=$(date +%s)
cargo bench -q ${BA_IN_NETNS:+--offline} -p store --bench scale -- "$@"
echo "bench/store.sh: $(($(date +%s) - started)) s"
