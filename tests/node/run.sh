#!/usr/bin/env bash
# Runs the official Midtrans Node client (midtrans-client 1.4.3, unmodified, from npm) against
# pay-account-mock with node's built-in test runner.
#
# Starts two servers on free ports: a default one (any non-empty server key, --seed 1) and one that
# accepts a single server key. Both are stopped when this script exits.
#
# Usage: tests/node/run.sh            (expects target/debug/pay-account-mock; builds it if missing)
#        PAY_ACCOUNT_MOCK_BIN=path tests/node/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${PAY_ACCOUNT_MOCK_BIN:-$ROOT/target/debug/pay-account-mock}"

# Settings from the caller's environment must not change the servers under test.
for var in $(compgen -e | grep '^PAY_ACCOUNT_MOCK_' | grep -v '^PAY_ACCOUNT_MOCK_BIN$' || true); do
  unset "$var"
done

command -v node >/dev/null || { echo "tests/node: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "tests/node: npm is not installed" >&2; exit 1; }

if [[ ! -x "$BIN" ]]; then
  (cd "$ROOT" && cargo build --quiet)
fi

echo "tests/node: installing midtrans-client from package-lock.json"
if ! (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error); then
  echo "tests/node: npm ci failed; cannot run the official Node client" >&2
  exit 1
fi
installed="$(node -p "require('$HERE/node_modules/midtrans-client/package.json').version")"
if [[ "$installed" != "1.4.3" ]]; then
  echo "tests/node: expected midtrans-client 1.4.3, found $installed" >&2
  exit 1
fi

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME ARGS... : starts the binary and sets URL to the address from its start-up line.
start_server() {
  local name="$1"
  shift
  "$BIN" --port 0 --host 127.0.0.1 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  URL=""
  for _ in $(seq 1 100); do
    local line
    line="$(head -n 1 "$TMP/$name.out" 2>/dev/null || true)"
    if [[ "$line" =~ ^pay-account-mock\ listening\ on\ (http://[^[:space:]]+)$ ]]; then
      URL="${BASH_REMATCH[1]}"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "tests/node: the $name server did not start" >&2
  cat "$TMP/$name.err" >&2 || true
  exit 1
}

KEYED_KEY="SB-Mid-server-NODEONLY"
start_server default --seed 1
MOCK_URL="$URL"
start_server keyed --seed 1 --server-key "$KEYED_KEY"
MOCK_KEYED_URL="$URL"
echo "tests/node: servers at $MOCK_URL and $MOCK_KEYED_URL"

cd "$HERE"
MOCK_URL="$MOCK_URL" MOCK_KEYED_URL="$MOCK_KEYED_URL" MOCK_KEYED_KEY="$KEYED_KEY" \
  node --test --test-reporter=spec pay_account.test.js
