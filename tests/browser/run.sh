#!/usr/bin/env bash
# Drives the activation pages, the GoPay PIN pages and the QA dashboard in headless Chromium (Debian's `chromium`,
# through playwright-core from npm) with node's built-in test runner.
#
# Installs what it needs on a fresh Debian machine: the `chromium` package (apt) and the npm
# packages in package-lock.json. Playwright's own browser downloads are never used.
# Each test file starts the mock and a small merchant server itself and stops both when it ends.
# Screenshots go to target/browser-screenshots/ (git-ignored).
#
# Usage: tests/browser/run.sh            (expects target/debug/pay-account-mock; builds it if missing)
#        PAY_ACCOUNT_MOCK_BIN=path CHROMIUM_PATH=path tests/browser/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE=tests/browser
# shellcheck source=../common.sh
source "$HERE/../common.sh"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

command -v node >/dev/null || { echo "tests/browser: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "tests/browser: npm is not installed" >&2; exit 1; }

if [[ ! -x "$CHROMIUM" ]]; then
  echo "tests/browser: installing Debian's chromium"
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null; then
      SUDO=(sudo)
    else
      echo "tests/browser: chromium is missing and this user cannot install it (not root, no sudo)" >&2
      exit 1
    fi
  fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium >/dev/null
fi
[[ -x "$CHROMIUM" ]] || { echo "tests/browser: no chromium at $CHROMIUM" >&2; exit 1; }

echo "tests/browser: installing playwright-core from package-lock.json"
cd "$HERE"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

export PAY_ACCOUNT_MOCK_BIN="$BIN" CHROMIUM_PATH="$CHROMIUM"
# Playwright must not try to fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
node --test --test-reporter=spec activation.test.js charge.test.js dashboard.test.js
