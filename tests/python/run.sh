#!/usr/bin/env bash
# Runs the official Midtrans Python client (midtransclient 1.4.2, unmodified, from PyPI) against
# pay-account-mock with pytest: test_pay_account.py (linking), test_charge.py (GoPay charges) and
# test_faults.py (fault rules, runtime phone scenarios and the request journal).
# The packages go into tests/python/.deps (git-ignored).
#
# Starts two servers on free ports: the default one and one with --legacy-sandbox (the 2021 answers
# the client's own test suite asserts). Both are stopped when this script exits.
#
# Usage: tests/python/run.sh            (expects target/debug/pay-account-mock; builds it if missing)
#        PAY_ACCOUNT_MOCK_BIN=path tests/python/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPS="$HERE/.deps"
SUITE=tests/python
# shellcheck source=../common.sh
source "$HERE/../common.sh"

PYTHON="$(command -v python3 || true)"
[[ -n "$PYTHON" ]] || { echo "tests/python: python3 is not installed" >&2; exit 1; }

if ! PYTHONPATH="$DEPS" "$PYTHON" -c 'import midtransclient, pytest' 2>/dev/null; then
  echo "tests/python: installing midtransclient and pytest into tests/python/.deps"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$DEPS" \
    -r "$HERE/requirements.txt"
fi

start_server default
export MOCK_URL="$URL"
start_server legacy --legacy-sandbox
export MOCK_LEGACY_URL="$URL"

cd "$HERE"
PYTHONPATH="$DEPS" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m pytest -q -p no:cacheprovider \
  test_pay_account.py test_charge.py test_faults.py
