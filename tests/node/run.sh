#!/usr/bin/env bash
# Runs the official Midtrans Node client (midtrans-client 1.4.3, unmodified, from npm) against
# pay-account-mock with node's built-in test runner: pay_account.test.js (linking),
# charge.test.js (GoPay charges) and faults.test.js (fault rules, runtime phone scenarios and the
# request journal), which share helpers.js.
#
# Starts two servers on free ports: a default one (any non-empty server key, --seed 1) and one that
# accepts a single server key. Both are stopped when this script exits.
#
# Usage: tests/node/run.sh            (expects target/debug/pay-account-mock; builds it if missing)
#        PAY_ACCOUNT_MOCK_BIN=path tests/node/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE=tests/node
# shellcheck source=../common.sh
source "$HERE/../common.sh"

command -v node >/dev/null || { echo "tests/node: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "tests/node: npm is not installed" >&2; exit 1; }

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

KEYED_KEY="SB-Mid-server-NODEONLY"
start_server default --seed 1
MOCK_URL="$URL"
start_server keyed --seed 1 --server-key "$KEYED_KEY"
MOCK_KEYED_URL="$URL"
echo "tests/node: servers at $MOCK_URL and $MOCK_KEYED_URL"

cd "$HERE"
MOCK_URL="$MOCK_URL" MOCK_KEYED_URL="$MOCK_KEYED_URL" MOCK_KEYED_KEY="$KEYED_KEY" \
  node --test --test-reporter=spec pay_account.test.js charge.test.js faults.test.js
