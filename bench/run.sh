#!/usr/bin/env bash
# bench/run.sh - the benchmark behind `make bench` (see BENCHMARKS.md). Loopback only.
#
# Measures pay-account-mock beside the peer mock servers and the bare actix-web "limit" server,
# with the peer harness in ../shared/bench/ (read-only; only called from here):
#   1. GET / POST at c32 and c1 for pay-account-mock, the same with its journal off (what the
#      journal costs), the limit server and (full mode) the peers;
#   2. the mixed flow (create, get, link through the control API, get) at c32 and c1;
#   3. scale: 1,000 vs 1,000,000 generated accounts (throughput, p99, memory per account);
#   4. notifications: 10,000 links through the control API to a local receiver;
#   5. charges: GoPay charges that settle at once, at c32 and c1 (wrk, bench/charge.lua), and the
#      memory each settled transaction keeps;
#   6. embedded: a server per test inside one Rust process (bench-driver embedded), beside
#      wiremock-rs: start, one GET answered, stop; threads and memory per held idle server;
#   7. state: 100,000 generated accounts with and without --state-file, GET at c32 and c1 while a
#      change every 100 ms makes a save fall due every interval, and the time of one export.
# Then prints one table and the target checks; everything goes to bench/results/<time>/.
#
# Environment:
#   BENCH_QUICK=1   3 s per case, no peers (about 2 min); default: 10 s per case with peers
#   DURATION_S      seconds per case (overrides the mode's)
#   SHARED_BENCH    the peer harness (default ../shared/bench relative to the checkout)
#   NOTIFY_COUNT    accounts linked in the notification run (default 10000)
#   SKIP            space-separated parts to skip: main mixed scale notify charge embedded state
#   SCALE_RUNS      repetitions of the 1k-vs-1M comparison, medians reported (default 3; quick: 1)
#   MAIN_RUNS       runs of part 1 for the mock, the mock without journal and the limit (the peers
#                   run once), and of the state part; medians reported (default 3; quick: 1)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
SHARED=$(cd "$SHARED" && pwd)
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then DEFAULT_DURATION=3; else DEFAULT_DURATION=10; fi
# The scale comparison looks at p99s 10% apart, so the full mode repeats it.
SCALE_RUNS=${SCALE_RUNS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
# So do the ratios and p99s of part 1 and the state part: one 10-second run moves them by more
# than the margins some targets have (see BENCHMARKS.md, "Reading the results").
MAIN_RUNS=${MAIN_RUNS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
export DURATION_S=${DURATION_S:-$DEFAULT_DURATION}
NOTIFY_COUNT=${NOTIFY_COUNT:-10000}
SKIP=" ${SKIP:-} "
export SERVER_CPU=${SERVER_CPU-0} LOAD_CPU=${LOAD_CPU-1}
# peers.sh keeps installs and run state here (the shared folder is read-only).
export PEERS_DIR=$BENCH/.peers
OUT=${OUT_DIR:-$BENCH/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
BASE_PORT=${BASE_PORT:-18180}

die() { echo "bench/run.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
[ -x "$SHARED/compare.sh" ] || die "peer harness not found at $SHARED (set SHARED_BENCH)"

# --- tools and builds -------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; }
  else sudo apt-get install -y wrk >&2; fi
fi
export LOADGEN=wrk
log "building (release): the server, the bench driver, the actix-web limit server"
(cd "$ROOT" && cargo build --release --quiet)
cp "$ROOT/Cargo.lock" "$BENCH/driver/Cargo.lock"
cargo build --release --quiet --manifest-path "$BENCH/driver/Cargo.toml" --target-dir "$ROOT/target"
cargo build --release --quiet --manifest-path "$SHARED/actix-ref/Cargo.toml" --target-dir "$ROOT/target/actix-ref"
MOCK=$ROOT/target/release/pay-account-mock
DRIVER=$ROOT/target/release/bench-driver
REF=$ROOT/target/actix-ref/release/actix-ref
PIN_LOAD=(); [ -n "$LOAD_CPU" ] && PIN_LOAD=(taskset -c "$LOAD_CPU")

# --- 1. GET / POST beside the peers and the limit -------------------------------------------------
PEER_ARGS=(--no-peers)
if [ "$QUICK" != 1 ]; then
  log "installing the peers (pinned npm packages into bench/.peers)"
  "$SHARED/peers.sh" install >&2
  PEER_ARGS=()
fi
if [[ $SKIP != *" main "* ]]; then
  OURS=(--cmd "pay-account-mock=$MOCK --port {PORT} --seed 1"
    --cmd "mock-no-journal=$MOCK --port {PORT} --seed 1 --journal-size 0"
    --cmd "limit-actix-ref=$REF {PORT}")
  log "GET/POST: pay-account-mock, limit (actix-ref)${PEER_ARGS:+, no peers}"
  OUT=$OUT/main BASE_PORT=$BASE_PORT RUNS=1 "$SHARED/compare.sh" "${PEER_ARGS[@]}" "${OURS[@]}" >/dev/null
  if [ "$MAIN_RUNS" -gt 1 ]; then
    log "GET/POST: $((MAIN_RUNS - 1)) more run(s) of pay-account-mock and the limit"
    OUT=$OUT/main-more BASE_PORT=$BASE_PORT RUNS=$((MAIN_RUNS - 1)) "$SHARED/compare.sh" --no-peers \
      "${OURS[@]}" >/dev/null
    # Into the first run's lines, so that the table and the targets take medians over all runs.
    grep -E '^(RESULT|TARGET) ' "$OUT/main-more/raw.txt" >>"$OUT/main/raw.txt" || true
  fi
fi
touch "$OUT/main/raw.txt" 2>/dev/null || { mkdir -p "$OUT/main"; touch "$OUT/main/raw.txt"; }

# Starts the mock like a peer (pinned, startup timed): NAME PORT ARGS...; sets SRV_PID.
start_mock() {
  local name=$1 port=$2 line; shift 2
  line=$(PEER_CMD="$MOCK --port {PORT} $*" "$SHARED/peers.sh" start "$name" "$port")
  SRV_PID=$(echo "$line" | sed 's/.*pid=\([0-9]*\).*/\1/')
  echo "$line" >&2
}
stop_mock() { "$SHARED/peers.sh" stop "$1" 2>/dev/null || true; }
trap 'stop_mock mock-mixed; stop_mock mock-notify; stop_mock mock-charge; stop_mock mock-state-memory; stop_mock mock-state-file' EXIT

ticks() { "$SHARED/peers.sh" cpu "$1"; }

# --- 2. mixed flow ----------------------------------------------------------------------------------
if [[ $SKIP != *" mixed "* ]]; then
  port=$((BASE_PORT + 10))
  start_mock mock-mixed "$port" --seed 1 --activation-ttl 0
  run_id=0
  for conc in 32 1; do
    run_id=$((run_id + 1))
    s0=$(ticks mock-mixed); t0=$(date +%s%N)
    line=$("${PIN_LOAD[@]}" "$DRIVER" mixed "http://127.0.0.1:$port" "$conc" "$DURATION_S" "$run_id")
    t1=$(date +%s%N); s1=$(ticks mock-mixed)
    srv=$(awk -v d=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", 100 * d / hz / (ns / 1e9) }')
    echo "$line" | awk -v c="$conc" -v srv="$srv" -v dur="$DURATION_S" '{
      for (i=2;i<=NF;i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "RESULT label=pay-account-mock case=mixed_c%d method=MIXED conc=%d dur_s=%s rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d errors=0 srv_cpu_pct=%s gen_cpu_pct=NA other_pct=NA flows=%d gen=bench-driver\n",
        c, c, dur, v["requests"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000,
        v["requests"], v["err_status"], srv, v["flows"] }' | tee -a "$OUT/main/raw.txt" >&2
  done
  rss=$("$SHARED/peers.sh" rss mock-mixed)
  echo "MIXED rss_after_kb=$rss" >>"$OUT/main/raw.txt"
  stop_mock mock-mixed
fi

# --- 3. scale: 1,000 vs 1,000,000 generated accounts ------------------------------------------------
if [[ $SKIP != *" scale "* ]]; then
  # The same seed makes the first 1,000 generated accounts identical in both servers; GET one of them.
  id=$("$DRIVER" ids 1 1000 1)
  log "scale: 1k vs 1M generated accounts, GET $id"
  OUT=$OUT/scale BASE_PORT=$((BASE_PORT + 20)) RUNS=$SCALE_RUNS ACCOUNT_ID=$id CASES="get:32 get:1 post:32" STARTUP_TIMEOUT=120 \
    "$SHARED/compare.sh" --no-peers \
    --cmd "mock-1k=$MOCK --port {PORT} --seed 1 --generate-accounts 1000" \
    --cmd "mock-1m=$MOCK --port {PORT} --seed 1 --generate-accounts 1000000" >/dev/null
fi

# --- 4. notifications ----------------------------------------------------------------------------------
if [[ $SKIP != *" notify "* ]]; then
  port=$((BASE_PORT + 30)); rport=$((BASE_PORT + 31))
  log "notifications: $NOTIFY_COUNT links to a receiver on 127.0.0.1:$rport"
  start_mock mock-notify "$port" --seed 1 --activation-ttl 0 --retry-schedule 100ms \
    --notification-url "http://127.0.0.1:$rport/notify"
  "${PIN_LOAD[@]}" "$DRIVER" notify "http://127.0.0.1:$port" "$rport" "$NOTIFY_COUNT" 32 | tee "$OUT/notify.txt" >&2 || true
  stop_mock mock-notify
fi

# --- 5. charges ---------------------------------------------------------------------------------------
if [[ $SKIP != *" charge "* ]]; then
  port=$((BASE_PORT + 40))
  account=00000000-0000-4000-8000-00000000be4c
  log "charges: settlement below the PIN threshold, c32 and c1"
  start_mock mock-charge "$port" --seed 1 --fixtures "$BENCH/fixtures" --max-transactions 10000000
  rss0=$("$SHARED/peers.sh" rss mock-charge)
  total=0
  for conc in 32 1; do
    s0=$(ticks mock-charge); t0=$(date +%s%N)
    line=$(ACCOUNT=$account RUN="c$conc" "${PIN_LOAD[@]}" wrk -t1 -c"$conc" -d"${DURATION_S}s" \
      -s "$BENCH/charge.lua" "http://127.0.0.1:$port" | grep '^WRK ')
    t1=$(date +%s%N); s1=$(ticks mock-charge)
    srv=$(awk -v d=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", 100 * d / hz / (ns / 1e9) }')
    total=$((total + $(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/')))
    echo "$line" | awk -v c="$conc" -v srv="$srv" -v dur="$DURATION_S" '{
      for (i=2;i<=NF;i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "RESULT label=pay-account-mock case=charge_c%d method=CHARGE conc=%d dur_s=%s rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d errors=%d srv_cpu_pct=%s gen_cpu_pct=NA other_pct=NA gen=wrk\n",
        c, c, dur, v["requests"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000,
        v["requests"], v["non2xx"], v["errors"], srv }' | tee -a "$OUT/main/raw.txt" >&2
  done
  # Every settled charge debited IDR 1,000: the balance tells how many settled.
  settled=$(curl -s "http://127.0.0.1:$port/v2/pay/account/$account" -u SB-Mid-server-bench: |
    python3 -c 'import json,sys; b=json.load(sys.stdin)["metadata"]["payment_options"][0]["balance"]["value"]; print(int((999999999999999 - float(b)) / 1000))')
  rss1=$("$SHARED/peers.sh" rss mock-charge)
  echo "CHARGE requests=$total settled=$settled rss_before_kb=$rss0 rss_after_kb=$rss1" | tee "$OUT/charge.txt" >&2
  stop_mock mock-charge
fi

# --- 6. embedded servers ---------------------------------------------------------------------------
if [[ $SKIP != *" embedded "* ]]; then
  log "embedded: a server per test in one process, beside wiremock-rs"
  rounds=$([ "$QUICK" = 1 ] && echo 3 || echo 7)
  # The target: the two pooled servers alone, interleaved (what a suite of tests sees of either).
  ONLY=wiremock_pooled,mock_pooled "$DRIVER" embedded 400 1 "$((rounds + 2))" |
    tee "$OUT/embedded-pair.txt" >&2 || true
  # Every variant, interleaved; then the threads and memory of 50 held servers of each.
  "$DRIVER" embedded 200 50 "$rounds" | tee "$OUT/embedded.txt" >&2 || true
fi

# --- 7. the state file --------------------------------------------------------------------------------
if [[ $SKIP != *" state "* ]]; then
  port=$((BASE_PORT + 50))
  sdir=$OUT/state
  mkdir -p "$sdir"
  id=$("$DRIVER" ids 1 1000 1)
  for variant in memory file; do
    args=(--seed 1 --generate-accounts 100000)
    [ "$variant" = file ] && args+=(--state-file "$sdir/qa.json")
    log "state: 100,000 accounts, $variant"
    start_mock "mock-state-$variant" "$port" "${args[@]}"
    # One change every 100 ms (a clock step), in both runs: with the file, a save falls due every
    # interval (2 s) all through the GET cases.
    "$DRIVER" tick "http://127.0.0.1:$port" 100 &
    toucher=$!
    OUT=$sdir/$variant ACCOUNT_ID=$id CASES="get:32 get:1" RUNS=$MAIN_RUNS "$SHARED/compare.sh" --no-peers \
      "mock-100k-$variant=http://127.0.0.1:$port" >/dev/null
    kill "$toucher" 2>/dev/null || true
    wait "$toucher" 2>/dev/null || true
    curl -s -o /dev/null -w "STATE variant=$variant export_s=%{time_total} bytes=%{size_download}\n" \
      "http://127.0.0.1:$port/__admin/state" >>"$sdir/raw.txt"
    [ "$variant" = file ] && echo "STATE variant=file file_bytes=$(stat -c %s "$sdir/qa.json")" >>"$sdir/raw.txt"
    stop_mock "mock-state-$variant"
  done
fi

# --- report ------------------------------------------------------------------------------------------
# Paths relative to the checkout, so that the report can be pasted as it is.
python3 "$BENCH/report.py" "$OUT" "$SHARED/compare.sh" | sed "s#$ROOT/##g" | tee "$OUT/report.md"
echo "results in ${OUT#"$ROOT"/}" >&2
