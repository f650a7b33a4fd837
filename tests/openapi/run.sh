#!/usr/bin/env bash
# Holds pay-account-mock to its OpenAPI description (openapi.yaml at the repository root) with
# Schemathesis (pinned in requirements.txt, installed from PyPI into tests/openapi/.deps, which is
# git-ignored). Needs Python 3.11 or newer with pip.
#
# Every answer must be documented: its status code (status_code_conformance), its content type
# (content_type_conformance) and its body (response_schema_conformance, against schemas that list
# every field and forbid others), and no answer may be a 5xx (not_a_server_error). Schemathesis
# sends the documented examples, boundary values of every documented constraint (coverage), then
# random valid and invalid requests (fuzzing), then chains of calls along the document's links
# (stateful), with a fixed seed and a bounded number of cases per operation, so that a run is
# reproducible and takes well under two minutes on two cores with a debug build.
#
# hooks.py feeds real ids (accounts, tokens, transactions, links, notifications) into about half of
# the requests, caps the wait of POST /__admin/notifications/wait, and accepts one documented 5xx
# (the sandbox's "500" for a JSON null charge body); see its docstring.
#
# The run has two parts, each against a fresh server:
#
# 1. Everything but the operations that change the whole server at once. Those would make the
#    answers to everything else depend on the order the fuzzer happens to call things in, and can
#    make the run slow:
#    - POST /__admin/faults: a rule turns later Midtrans answers into its own (a free-form answer,
#      a dropped connection, a delay or stall of up to ten minutes).
#    - POST /__admin/reset: throws away the accounts and transactions the run is using.
#    - POST /__admin/clock/advance: moves the clock up to a hundred years, expiring everything.
#    - the dashboard's reset, clock and config forms (POST /__admin/ui/reset, /ui/clock,
#      /ui/config): the same.
#    - PATCH /__admin/config: a generated notification URL makes every account and transaction
#      change wait (up to 20 s) for a delivery attempt to some generated host.
#    - PUT /__admin/state: replaces the whole state, like a reset.
# 2. Those operations, fuzzed on their own with the other settings, state and fault operations,
#    where they can only affect each other: no Midtrans request is sent there, so no rule ever
#    fires. This part is small and quick, so it gets four times as many cases per operation.
#
# GET /__admin/openapi.yaml takes no input: it is not fuzzed; instead the server must serve this very
# file (a build older than the description fails here: rebuild it).
#
# Usage: tests/openapi/run.sh            (expects target/debug/pay-account-mock; builds it if missing)
#        PAY_ACCOUNT_MOCK_BIN=path tests/openapi/run.sh
#        OPENAPI_EXAMPLES=100 tests/openapi/run.sh   (cases per operation; 25 by default)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPS="$HERE/.deps"
SUITE=tests/openapi
# shellcheck source=../common.sh
source "$HERE/../common.sh"

SPEC="$ROOT/openapi.yaml"
EXAMPLES="${OPENAPI_EXAMPLES:-25}"
SEED=20261121
# Any non-empty server key is accepted by default; one fixed key keeps the run reproducible.
SERVER_KEY="SB-Mid-server-openapi"

PYTHON="$(command -v python3 || true)"
[[ -n "$PYTHON" ]] || { echo "$SUITE: python3 is not installed" >&2; exit 1; }
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "$SUITE: Schemathesis needs Python 3.11 or newer, found $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi

PINNED="$(sed -n 's/^schemathesis==//p' "$HERE/requirements.txt")"
installed="$(PYTHONPATH="$DEPS" "$PYTHON" -c \
  'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [[ "$installed" != "$PINNED" ]]; then
  echo "$SUITE: installing Schemathesis $PINNED into tests/openapi/.deps"
  rm -rf "$DEPS"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$DEPS" \
    -r "$HERE/requirements.txt"
fi

# Schemathesis writes nothing into the repository: it runs from the temporary folder, with no
# example database, and reads hooks.py from here. One worker: the cases then run in one order for a
# given seed (hooks.py hands out ids in that order), and Hypothesis is not run on several threads.
cd "$TMP"
export PYTHONPATH="$HERE:$DEPS"
export PYTHONDONTWRITEBYTECODE=1
export SCHEMATHESIS_HOOKS=hooks

schemathesis() {
  "$PYTHON" -m schemathesis.cli run "$SPEC" \
    --auth "$SERVER_KEY:" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --seed "$SEED" \
    --workers 1 \
    --generation-database none \
    --request-timeout 30 \
    --no-color \
    "$@"
}

started=$SECONDS

# ---------------------------------------------------------------- part 1: everything else
start_server main --seed 1
echo "$SUITE: part 1 of 2, every operation but the server-wide ones, against $URL"
schemathesis --url "$URL" \
  --max-examples "$EXAMPLES" \
  --phases examples,coverage,fuzzing,stateful \
  --exclude-operation-id getOpenApiDocument \
  --exclude-tag 'Control state' \
  --exclude-operation-id addFault \
  --exclude-operation-id reset \
  --exclude-operation-id advanceClock \
  --exclude-operation-id patchConfig \
  --exclude-operation-id dashboardReset \
  --exclude-operation-id dashboardAdvanceClock \
  --exclude-operation-id dashboardChangeConfig

# ---------------------------------------------------------------- part 2: the server-wide ones
start_server settings --seed 1
echo "$SUITE: part 2 of 2, fault rules, reset, clock, config and state, against $URL"
schemathesis --url "$URL" \
  --max-examples "$((EXAMPLES * 4))" \
  --phases examples,coverage,fuzzing \
  --include-tag 'Control faults' \
  --include-tag 'Control settings' \
  --include-tag 'Control state' \
  --include-operation-id dashboardReset \
  --include-operation-id dashboardAdvanceClock \
  --include-operation-id dashboardChangeConfig \
  --exclude-operation-id getOpenApiDocument

# ---------------------------------------------------------------- the served document
# Byte for byte the description in the repository.
"$PYTHON" - "$URL/__admin/openapi.yaml" "$SPEC" <<'EOF'
import sys, urllib.error, urllib.request
url, spec = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(url) as answer:
        status, content_type, body = answer.status, answer.headers.get("Content-Type", ""), answer.read()
except urllib.error.HTTPError as e:
    status, content_type, body = e.code, e.headers.get("Content-Type", ""), b""
if status == 200 and content_type.split(";")[0].strip() == "application/yaml":
    if body != open(spec, "rb").read():
        sys.exit("tests/openapi: GET /__admin/openapi.yaml is not openapi.yaml as it is in the repository (rebuild the server after changing it)")
    print("tests/openapi: GET /__admin/openapi.yaml serves openapi.yaml")
else:
    sys.exit(f"tests/openapi: GET /__admin/openapi.yaml answered {status} {content_type}")
EOF

echo "$SUITE: passed in $((SECONDS - started)) s"
