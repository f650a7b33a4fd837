-- wrk script for the charge benchmark (bench/run.sh, part 5): every request is a GoPay charge
-- below the PIN threshold (settles at once) with an order id of its own.
-- Environment: ACCOUNT (the account id), RUN (a prefix that keeps order ids unique across runs).
local account = os.getenv("ACCOUNT")
local run = os.getenv("RUN") or "0"
local n = 0
wrk.method = "POST"
wrk.path = "/v2/charge"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic U0ItTWlkLXNlcnZlci1iZW5jaDo="

request = function()
  n = n + 1
  local body = string.format(
    '{"payment_type":"gopay","gopay":{"account_id":"%s","payment_option_token":"bench-token"},'
      .. '"transaction_details":{"order_id":"bench-%s-%d","gross_amount":1000}}',
    account, run, n)
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
