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

# 1. What the tests run against, installed here (never by hand): Debian's Chromium (the UI
#    tests drive it headless) and Prometheus (scrapes a real crawler), and a Python venv with
#    libtorrent (the independent DHT and peer implementation) and Playwright (drives that
#    Chromium; no browser download).
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v prometheus >/dev/null || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian packages"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
export BITAGENT_CHROMIUM="${BITAGENT_CHROMIUM:-$(command -v chromium)}"
export BITAGENT_PROMETHEUS="${BITAGENT_PROMETHEUS:-$(command -v prometheus)}"
"$BITAGENT_CHROMIUM" --version
"$BITAGENT_PROMETHEUS" --version 2>&1 | sed -n 1p

VENV="$ROOT/.venv"
if ! "$VENV/bin/python" -c 'import libtorrent, playwright' 2>/dev/null; then
  log "creating $VENV with $(cat tests/libtorrent/requirements.txt tests/browser/requirements.txt | tr '\n' ' ')"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/libtorrent/requirements.txt -r tests/browser/requirements.txt
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
