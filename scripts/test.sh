#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
#
#   ./scripts/test.sh            # everything (lints, unit, simulator, loopback integration vs libtorrent)
#   ./scripts/test.sh -p dht     # extra arguments go to `cargo test`
#
# Network safety: tests only ever talk to 127.0.0.0/8. Where `unshare -n` works (root, or
# unprivileged user namespaces), the tests run in a private network namespace that has nothing
# but `lo`, so a stray packet to the internet is impossible.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n==> %s\n' "$*" >&2; }

# 1. Python venv with libtorrent (the independent DHT implementation we test against).
VENV="$ROOT/.venv"
if ! "$VENV/bin/python" -c 'import libtorrent' 2>/dev/null; then
  log "creating $VENV with $(tr '\n' ' ' < tests/libtorrent/requirements.txt)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/libtorrent/requirements.txt
fi
"$VENV/bin/python" -c 'import libtorrent as lt; print("libtorrent", lt.__version__)'
export BITAGENT_PYTHON="$VENV/bin/python"

# 2. Fetch crates and build every test while the registries are reachable.
log "fetching and building (locked)"
cargo fetch --locked
cargo build --locked --workspace --all-targets --offline

log "lints"
cargo fmt --all -- --check
cargo clippy --locked --offline --workspace --all-targets -- -D warnings
./scripts/check-deps.sh
RUSTDOCFLAGS="-D warnings" cargo doc --locked --offline --workspace --no-deps -q
# ARCHITECTURE.md describes this repository and must not send readers outside it.
if grep -nE '\]\((https?:|\.\./)|\.\./shared' ARCHITECTURE.md; then
  echo "ARCHITECTURE.md links outside the repository (lines above)" >&2
  exit 1
fi

# 3. Run the tests, offline, inside a private network namespace when we can make one.
TEST_CMD=(cargo test --locked --offline --workspace "$@")
# The namespace is only usable if we can bring its loopback up (needs iproute2's `ip`).
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
if unshare -n sh -c 'ip link set lo up' 2>/dev/null; then
  log "running tests inside unshare -n (loopback only)"
  unshare -n bash -c 'ip link set lo up && exec "$@"' _ "${TEST_CMD[@]}" 2>&1 | tee "$OUT"
else
  log "unshare -n unavailable here; running tests directly (they only use 127.0.0.0/8)"
  "${TEST_CMD[@]}" 2>&1 | tee "$OUT"
fi

# One closing line for the whole run (cargo prints one per test binary, the last of which
# may well be a crate's empty doc-test run).
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$OUT"
