#!/usr/bin/env bash
# Dependency rules the crate graph must keep (ARCHITECTURE.md, "Crates"). Run by
# scripts/test.sh's lint step; runs alone too:
#
#   ./scripts/check-deps.sh
#
# 1. The sans-IO core (dht, peerwire, krpc, bencode, infohash) has no async runtime, socket
#    library or OS randomness anywhere in its normal or build dependencies. clippy.toml bans the calls in
#    the core's own source; this bans the crates that would make them. `getrandom` in
#    particular: rand pulls it in only with its `os_rng` feature, which the core never asks
#    for (net and crawler do; in a workspace build cargo unifies that feature into the same
#    rand, which is why the source-level ban in clippy.toml is needed as well).
# 2. classify is a leaf: rules, name attributes and blocklists, with no runtime and none of the
#    crates that drive it, not even in its tests and benches (dev-dependencies are checked
#    too: `cargo tree -p classify` must show none of them).
#
# The graph checked is the host platform's (`cargo tree` default), with each crate's own
# features, as `cargo build -p CRATE` would build it. For the core, dev-dependencies are not
# checked (its tests may use the test kit).
set -euo pipefail
cd "$(dirname "$0")/.."

# rule EDGES CRATE FORBIDDEN...: fails if any FORBIDDEN package is in CRATE's dependency graph
# (EDGES as for `cargo tree -e`).
failed=0
rule() {
  local edges=$1 crate=$2
  shift 2
  local graph
  graph=$(cargo tree --locked --offline -e "$edges" -p "$crate" --prefix none --format '{p}' \
    | awk '{print $1}' | sort -u)
  local bad
  for bad in "$@"; do
    if grep -qxF -- "$bad" <<<"$graph"; then
      failed=1
      printf 'check-deps: %s must not depend on %s; it does, through:\n' "$crate" "$bad" >&2
      cargo tree --locked --offline -e "$edges" -p "$crate" -i "$bad" >&2
      echo >&2
    fi
  done
}

# Runtimes, reactors, socket wrappers, OS randomness, locks beyond std.
CORE_FORBIDDEN=(tokio tokio-util mio socket2 async-std async-io smol polling getrandom parking_lot)
for crate in dht peerwire krpc bencode infohash; do
  rule normal,build "$crate" "${CORE_FORBIDDEN[@]}"
done

rule normal,build,dev classify tokio crawler store lab net bitagent testkit

if ((failed)); then
  echo "check-deps: dependency rules broken (see above)" >&2
  exit 1
fi
echo "check-deps: ok (dht, peerwire, krpc, bencode, infohash: no runtime, sockets or OS RNG; classify: a leaf)"
