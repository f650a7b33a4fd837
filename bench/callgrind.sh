#!/usr/bin/env bash
# bench/callgrind.sh - instructions per request (valgrind callgrind; repeatable, unlike timings on a
# shared machine) for GET and POST, for pay-account-mock and the actix-web limit server, and for a
# GoPay charge that settles (CHARGE, the mock only).
#   bench/callgrind.sh [mock|limit]...     (default: both; run bench/run.sh once first to build)
# Each figure is (Ir after N2 requests - Ir after N1 requests) / (N2 - N1) over one keep-alive
# connection, so start-up and warm-up are subtracted out. Annotated profiles go to
# bench/results/callgrind/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench/results/callgrind
mkdir -p "$OUT"
N1=${N1:-200} N2=${N2:-2200} PORT=${PORT:-18390}
MOCK=$ROOT/target/release/pay-account-mock
REF=$ROOT/target/actix-ref/release/actix-ref

client() { # method count
  python3 - "$1" "$2" "$PORT" <<'PY'
import http.client, sys, time
method, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hdr = {"Authorization": "Basic U0ItTWlkLXNlcnZlci1iZW5jaDo=", "Accept": "application/json"}
body = '{"payment_type":"gopay","gopay_partner":{"phone_number":"81212345678","country_code":"62","redirect_url":"https://www.gojek.com"}}'
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.connect(); break
    except OSError:
        time.sleep(0.05)
for i in range(n):
    if method == "CHARGE":
        charge = ('{"payment_type":"gopay","gopay":{"account_id":"00000000-0000-4000-8000-00000000be4c",'
                  '"payment_option_token":"bench-token"},"transaction_details":{"order_id":"cg-%d","gross_amount":1000}}' % i)
        c.request("POST", "/v2/charge", body=charge, headers={**hdr, "Content-Type": "application/json"})
    elif method == "GET":
        c.request("GET", "/v2/pay/account/00000269-7836-49e5-bc65-e592afafec14", headers=hdr)
    else:
        c.request("POST", "/v2/pay/account", body=body, headers={**hdr, "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert 200 <= r.status < 300, r.status
PY
}

measure() { # name method n -> total Ir
  local name=$1 method=$2 n=$3 pid cmd
  if [ "$name" = mock ]; then
    cmd=("$MOCK" --port "$PORT" --workers 1 --log warn)
    # The charge pays with the bench fixture account (bench/fixtures/accounts.json).
    [ "$method" = CHARGE ] && cmd+=(--fixtures "$ROOT/bench/fixtures")
  else cmd=("$REF" "$PORT"); fi
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name-$method-$n.out" "${cmd[@]}" >/dev/null 2>&1 &
  pid=$!
  client "$method" "$n"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  sleep 0.5
  awk '/^totals:|^summary:/ {print $2; exit}' "$OUT/$name-$method-$n.out"
}

for name in "${@:-mock limit}"; do
  for name1 in $name; do
    methods="GET POST"; [ "$name1" = mock ] && methods="GET POST CHARGE"
    for method in $methods; do
      a=$(measure "$name1" "$method" "$N1"); b=$(measure "$name1" "$method" "$N2")
      echo "CALLGRIND target=$name1 method=$method ir_per_req=$(( (b - a) / (N2 - N1) ))"
      callgrind_annotate "$OUT/$name1-$method-$N2.out" 2>/dev/null | head -60 >"$OUT/$name1-$method.txt" || true
    done
  done
done
