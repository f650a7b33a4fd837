# Shared by tests/*/run.sh (sourced, not run): the binary under test, a clean environment, and
# starting servers on free ports that are stopped when the script exits.
#
# Before sourcing, set SUITE (the name used in messages). Afterwards ROOT, BIN and TMP are set and
# `start_server NAME ARGS...` starts the binary on port 0 and sets URL from its start-up line.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PAY_ACCOUNT_MOCK_BIN:-$ROOT/target/debug/pay-account-mock}"

# Settings from the caller's environment must not change the servers under test.
for var in $(compgen -e | grep '^PAY_ACCOUNT_MOCK_' | grep -v '^PAY_ACCOUNT_MOCK_BIN$' || true); do
  unset "$var"
done

if [[ ! -x "$BIN" ]]; then
  (cd "$ROOT" && cargo build --quiet)
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
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$SUITE: the $name server did not start" >&2
  cat "$TMP/$name.err" >&2 || true
  exit 1
}
