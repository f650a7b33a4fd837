#!/usr/bin/env python3
"""Prints the benchmark report of one bench/run.sh run: the table (via the peer harness's
compare.sh --table), the scale comparison, the notification run and the target checks.

usage: report.py RESULTS_DIR PATH/TO/compare.sh
"""
import os
import statistics
import re
import subprocess
import sys

out, compare = sys.argv[1], sys.argv[2]
MOCK, LIMIT = "pay-account-mock", "limit-actix-ref"


def kv(line):
    return dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)


def median_row(rows):
    """One row of medians over repeated runs (non-numeric fields from the first run)."""
    out = dict(rows[0])
    for k in out:
        vals = []
        for r in rows:
            try:
                vals.append(float(r[k]))
            except (KeyError, TypeError, ValueError):
                break
        else:
            out[k] = str(statistics.median(vals))
    return out


def read(path):
    """TARGET and RESULT lines by name and case; repeated runs are folded into medians."""
    targets, results, other = {}, {}, []
    if not os.path.exists(path):
        return targets, results, other
    for line in open(path):
        if line.startswith("TARGET "):
            d = kv(line)
            targets.setdefault(d["name"], []).append(d)
        elif line.startswith("RESULT "):
            d = kv(line)
            results.setdefault(d["label"], {}).setdefault(d["case"], []).append(d)
        else:
            other.append(line)
    targets = {n: median_row(rows) for n, rows in targets.items()}
    results = {l: {c: median_row(rows) for c, rows in cs.items()} for l, cs in results.items()}
    return targets, results, other


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, TypeError, ValueError):
        return None


def us_per_req(r):
    cpu, rps = num(r, "srv_cpu_pct"), num(r, "rps")
    return cpu * 1e4 / rps if cpu is not None and rps else None


main_raw = os.path.join(out, "main", "raw.txt")
print("## GET / POST / mixed flow, beside the peers and the limit\n")
if os.path.exists(main_raw):
    print(subprocess.run([compare, "--table", main_raw], capture_output=True, text=True).stdout)
t, r, _ = read(main_raw)
runs = len([l for l in open(main_raw) if l.startswith("TARGET ") and f"name={MOCK} " in l]) \
    if os.path.exists(main_raw) else 0
if runs > 1:
    print(f"pay-account-mock, mock-no-journal and limit-actix-ref ran {runs} times, each a cold start, "
          "and their rows and the targets below are medians over those runs ('runs used'); the peers "
          "ran once.\n")
print("Mixed flow = create, get, link (control API, `?wait=false`), get, per loop; driven by "
      "bench-driver (Rust, reqwest) instead of wrk, so its latency includes a heavier client. "
      "The peers and the limit server have no control API, so they have no mixed rows.\n")

checks = []


def check(name, ok, detail):
    checks.append((name, "met" if ok else ("MISSED" if ok is not None else "n/a"), detail))


m, lim = r.get(MOCK, {}), r.get(LIMIT, {})
for case in ("get_c32", "post_c32"):
    a, b = m.get(case), lim.get(case)
    if a and b:
        ua, ub = us_per_req(a), us_per_req(b)
        ratio = ua / ub if ua and ub else None
        check(f"server CPU per request, {case} <= 1.3x limit", ratio is not None and ratio <= 1.3,
              f"{ua:.1f} vs {ub:.1f} us/req = {ratio:.2f}x" if ratio else "no CPU figure")
        ratio = num(a, "rps") / num(b, "rps")
        check(f"throughput {case} >= 85% of limit", ratio >= 0.85,
              f"{num(a, 'rps'):.0f} vs {num(b, 'rps'):.0f} req/s = {100 * ratio:.0f}%")
off = r.get("mock-no-journal", {})
for case in ("get_c32", "post_c32", "get_c1", "post_c1"):
    a, b = m.get(case), off.get(case)
    if a and b:
        ua, ub = us_per_req(a), us_per_req(b)
        ratio = ua / ub if ua and ub else None
        check(f"the journal's cost, {case}: server CPU <= 1.1x with it off",
              ratio is not None and ratio <= 1.1,
              f"{ua:.1f} vs {ub:.1f} us/req = {ratio:.2f}x" if ratio else "no CPU figure")
for case, base in (("charge_c32", "post_c32"), ("charge_c1", "post_c1")):
    a, b = m.get(case), lim.get(base)
    if a and b:
        ua, ub = us_per_req(a), us_per_req(b)
        ratio = ua / ub if ua and ub else None
        check(f"server CPU per charge, {case} <= 1.5x the limit's {base}", ratio is not None and ratio <= 1.5,
              f"{ua:.1f} vs {ub:.1f} us/req = {ratio:.2f}x" if ratio else "no CPU figure")
for case in ("get_c32", "post_c32", "mixed_c32"):
    if case in m:
        p99 = num(m[case], "p99_ms")
        check(f"p99 {case} < 2 ms", p99 < 2, f"{p99:.2f} ms")
for case in ("get_c1", "post_c1", "mixed_c1"):
    if case in m:
        p50 = num(m[case], "p50_ms")
        check(f"p50 {case} < 0.2 ms", p50 < 0.2, f"{p50:.3f} ms")
if MOCK in t:
    s = num(t[MOCK], "startup_ms")
    check("start-up to first answer < 50 ms", s is not None and s < 50, f"{s:.0f} ms (curl polling every 10 ms)")
    rss = num(t[MOCK], "rss_idle_kb")
    check("idle RSS < 10 MB", rss is not None and rss < 10 * 1024, f"{rss / 1024:.1f} MB")

# --- scale ---
scale_raw = os.path.join(out, "scale", "raw.txt")
st, sr, _ = read(scale_raw)
if sr:
    runs = max(len([l for l in open(scale_raw) if l.startswith("TARGET name=mock-1m ")]), 1)
    print("## Scale: 1,000 vs 1,000,000 generated accounts\n")
    print(f"Medians of {runs} run(s); each run starts both servers afresh.\n")
    print("| accounts | startup ms | RSS idle MB | RSS after load MB | case | req/s | p50 ms | p99 ms | server CPU us/req |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|")
    for name in ("mock-1k", "mock-1m"):
        first = True
        for case, row in sr.get(name, {}).items():
            tt = st.get(name, {})
            head = (f"{name[5:]} | {num(tt, 'startup_ms'):.0f} | {num(tt, 'rss_idle_kb') / 1024:.0f} | "
                    f"{num(tt, 'rss_after_kb') / 1024:.0f}") if first and tt else " |  |  | "
            u = us_per_req(row)
            print(f"| {head} | {case} | {num(row, 'rps'):.0f} | {num(row, 'p50_ms'):.2f} | "
                  f"{num(row, 'p99_ms'):.2f} | {u:.1f} |" if u else f"| {head} | {case} | NA |  |  |  |")
            first = False
    print()
    k, mm = sr.get("mock-1k", {}), sr.get("mock-1m", {})
    for case in ("get_c32", "get_c1"):
        if case in k and case in mm:
            rr = num(mm[case], "rps") / num(k[case], "rps")
            pr = num(mm[case], "p99_ms") / num(k[case], "p99_ms")
            check(f"1M accounts: {case} req/s within 10% of 1k", rr >= 0.9, f"{100 * rr:.0f}% of the 1k figure")
            check(f"1M accounts: {case} p99 within 10% of 1k", pr <= 1.1,
                  f"{num(mm[case], 'p99_ms'):.2f} vs {num(k[case], 'p99_ms'):.2f} ms = {pr:.2f}x")
    if "mock-1m" in st and "mock-1k" in st:
        r1m, r1k = num(st["mock-1m"], "rss_idle_kb"), num(st["mock-1k"], "rss_idle_kb")
        per = (r1m - r1k) * 1024 / 999_000
        # Idle, after the preload: the load adds accounts of its own (POST creates ~80k a second).
        check("1M accounts < 1 GB RSS (MB = 1024 KiB, as in the table)", r1m < 1024 * 1024,
              f"{r1m / 1024:.0f} MB idle after the preload ({r1m * 1024 / 1e9:.2f} GB decimal); "
              f"{num(st['mock-1m'], 'rss_after_kb') / 1024:.0f} MB after the cases, which created accounts "
              f"of their own; {per:.0f} bytes per preloaded account")

# --- the state file ---
sdir = os.path.join(out, "state")
_, mem, _ = read(os.path.join(sdir, "memory", "raw.txt"))
_, fil, _ = read(os.path.join(sdir, "file", "raw.txt"))
if mem or fil:
    notes = {}
    spath = os.path.join(sdir, "raw.txt")
    if os.path.exists(spath):
        for l in open(spath):
            if l.startswith("STATE "):
                d = kv(l)
                notes.setdefault(d["variant"], {}).update(d)
    print("## The state file: 100,000 accounts, saved every 2 s during the load\n")
    sruns = len([l for l in open(os.path.join(sdir, "memory", "raw.txt")) if l.startswith("TARGET ")]) \
        if os.path.exists(os.path.join(sdir, "memory", "raw.txt")) else 0
    print("A change every 100 ms (a clock step) in both runs, so that with `--state-file` a save of the "
          "whole state falls due at every interval while the GETs run."
          + (f" Medians of {sruns} runs of each case, one server per variant." if sruns > 1 else "") + "\n")
    print("| state | case | req/s | p50 ms | p99 ms | server CPU us/req |")
    print("|---|---|---:|---:|---:|---:|")
    rows = {}
    for variant, res in (("memory", mem), ("file", fil)):
        for label, cases in res.items():
            for case, row in cases.items():
                rows[(variant, case)] = row
                u = us_per_req(row)
                print(f"| {variant} | {case} | {num(row, 'rps'):.0f} | {num(row, 'p50_ms'):.2f} | "
                      f"{num(row, 'p99_ms'):.2f} | {u:.1f} |" if u else f"| {variant} | {case} | NA |  |  |  |")
    print()
    f = notes.get("file", {})
    if f:
        print(f"One export of the whole state (`GET /__admin/state`, the work of a save but the disk): "
              f"{float(f.get('export_s', 'nan')) * 1000:.0f} ms for {int(f.get('bytes', 0)) / 1e6:.1f} MB; "
              f"the file after the run: {int(f.get('file_bytes', 0)) / 1e6:.1f} MB.\n")
    for case in ("get_c32", "get_c1"):
        m, fl = rows.get(("memory", case)), rows.get(("file", case))
        if m and fl:
            rr = num(fl, "rps") / num(m, "rps")
            pr = num(fl, "p99_ms") / num(m, "p99_ms")
            check(f"state file: {case} req/s within 10% of memory only", rr >= 0.9,
                  f"{100 * rr:.0f}% of the figure without it")
            check(f"state file: {case} p99 within 10% of memory only", pr <= 1.1,
                  f"{num(fl, 'p99_ms'):.2f} vs {num(m, 'p99_ms'):.2f} ms = {pr:.2f}x")

# --- notifications ---
npath = os.path.join(out, "notify.txt")
if os.path.exists(npath):
    line = next((l for l in open(npath) if l.startswith("NOTIFY ")), None)
    print("## Notifications\n")
    if line:
        d = kv(line)
        print(f"{d['accounts']} accounts linked through the control API (`?wait=false`, 32 at a time) in "
              f"{d['links_s']} s ({d['link_rps']} links/s); all notifications received within "
              f"{d['delivered_s']} s of the first link: **{d['notif_per_s']} notifications/s**. "
              f"Exactly once: {d['exactly_once']}, duplicates {d['duplicates']}, missing {d['missing']}, "
              f"unexpected {d['unexpected']}, bad signatures {d['bad_signature']}, malformed {d['malformed']}.\n")
        check(f"{d['accounts']} notifications delivered exactly once, valid signatures", d["ok"] == "1",
              f"{d['exactly_once']} exactly once, {d['bad_signature']} bad signatures")
    else:
        print("(no result)\n")
        check("notifications", False, "no result")

# --- charges ---
cpath = os.path.join(out, "charge.txt")
if os.path.exists(cpath):
    line = next((l for l in open(cpath) if l.startswith("CHARGE ")), None)
    if line:
        d = kv(line)
        req, settled = int(d["requests"]), int(d["settled"])
        grown = (num(d, "rss_after_kb") - num(d, "rss_before_kb")) * 1024
        print("## Charges\n")
        print(f"{req} charges below the PIN threshold (IDR 1,000 each, every one with its own order id) "
              f"against one account; {settled} settled, by the balance they debited. RSS grew by "
              f"{grown / 2**20:.0f} MB: **{grown / max(settled, 1):.0f} bytes per settled transaction** "
              f"(the transaction, its indexes, and its payment notification in the log).\n")
        # A charge still in flight when wrk stopped settles without being counted as a request.
        check("every charge settled (no conflicts, no errors)", req <= settled <= req + 33,
              f"{settled} settled, {req} answered")

# --- embedded servers ---
epath = os.path.join(out, "embedded.txt")
if os.path.exists(epath):
    rows = {kv(l)["variant"]: kv(l) for l in open(epath) if l.startswith("EMBEDDED ")}
    print("## Embedded servers\n")
    if rows:
        any_row = next(iter(rows.values()))
        print(f"In one process, {any_row['iterations']} times per variant and round, median of "
              f"{any_row['rounds']} rounds: start, one GET answered (a new connection each time), stop "
              f"or back to the pool. Then {any_row['held']} idle servers of each kind held at once.\n")
        print("| variant | ms per server | rounds (ms) | vs wiremock_pooled (median of the rounds' ratios) | process CPU us per server | threads per held server | KB per held server |")
        print("|---|---:|---|---:|---:|---:|---:|")
        for name, d in rows.items():
            print(f"| {name} | {d['ms_per_server']} | {d['ms_rounds'].replace(',', ', ')} | "
                  f"{d.get('vs_wiremock_pooled', 'n/a')} | "
                  f"{d['cpu_us_per_server']} | {d['threads_per_held']} | {d['kb_per_held']} |")
        print()
        ppath = os.path.join(out, "embedded-pair.txt")
        pair = {kv(l)["variant"]: kv(l) for l in open(ppath) if l.startswith("EMBEDDED ")} \
            if os.path.exists(ppath) else {}
        if "mock_pooled" in pair and "wiremock_pooled" in pair:
            p, w = pair["mock_pooled"], pair["wiremock_pooled"]
            ratio = num(p, "vs_wiremock_pooled")
            print(f"The two pooled servers alone, interleaved ({p['iterations']} cycles each per "
                  f"round, {p['rounds']} rounds): mock_pooled {p['ms_per_server']} ms, wiremock_pooled "
                  f"{w['ms_per_server']} ms; the rounds' ratios "
                  f"{p.get('vs_wiremock_pooled_rounds', '').replace(',', ', ')}.\n")
            check("embedded: pooled start, first answer, stop <= wiremock-rs pooled (the pair alone)",
                  ratio is not None and ratio <= 1.0,
                  f"median of the rounds' ratios {ratio}x ({p['ms_per_server']} vs "
                  f"{w['ms_per_server']} ms)")
        else:
            check("embedded: pooled start, first answer, stop <= wiremock-rs pooled", False,
                  "no result for the pair")
        if "mock_pooled" in rows:
            check("embedded: pooled with the other variants interleaved (reported)", None,
                  f"{rows['mock_pooled'].get('vs_wiremock_pooled')}x wiremock_pooled")
        for name in ("mock_pooled", "mock_fresh"):
            if name in rows:
                t = num(rows[name], "threads_per_held")
                check(f"embedded: threads per held idle server ({name}) <= 2", t <= 2,
                      f"{t:.2f} threads, {rows[name]['kb_per_held']} KB per held server")
    else:
        print("(no result)\n")
        check("embedded", False, "no result")

print("## Targets\n")
print("| target | result | figures |")
print("|---|---|---|")
for name, res, detail in checks:
    print(f"| {name} | {res} | {detail} |")
