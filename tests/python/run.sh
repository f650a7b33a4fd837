#!/usr/bin/env bash
# Runs the official Midtrans Python client (midtransclient 1.4.2, unmodified, from PyPI) against
# pay-account-mock with pytest. The packages go into tests/python/.deps (git-ignored).
#
# Starts two servers on free ports: the default one and one with --legacy-sandbox (the 2021 answers
# the client's own test suite asserts). Both are stopped when this script exits.
#
# Usage: tests/python/run.sh            (expects target/debug/pay-account-mock; builds it if missing)
#        PAY_ACCOUNT_MOCK_BIN=path tests/python/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${PAY_ACCOUNT_MOCK_BIN:-$ROOT/target/debug/pay-account-mock}"
DEPS="$HERE/.deps"

for var in $(compgen -e | grep '^PAY_ACCOUNT_MOCK_' | grep -v '^PAY_ACCOUNT_MOCK_BIN$' || true); do
  unset "$var"
done

PYTHON="$(command -v python3 || true)"
[[ -n "$PYTHON" ]] || { echo "tests/python: python3 is not installed" >&2; exit 1; }
if [[ ! -x "$BIN" ]]; then
  (cd "$ROOT" && cargo build --quiet)
fi

if ! PYTHONPATH="$DEPS" "$PYTHON" -c 'import midtransclient, pytest' 2>/dev/null; then
  echo "tests/python: installing midtransclient and pytest into tests/python/.deps"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$DEPS" \
    -r "$HERE/requirements.txt"
fi

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME ARGS... : starts the binary and sets URL from its start-up line.
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
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "tests/python: the $name server did not start" >&2
  cat "$TMP/$name.err" >&2 || true
  exit 1
}

start_server default
export MOCK_URL="$URL"
start_server legacy --legacy-sandbox
export MOCK_LEGACY_URL="$URL"

cd "$HERE"
PYTHONPATH="$DEPS" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m pytest -q -p no:cacheprovider test_pay_account.py
