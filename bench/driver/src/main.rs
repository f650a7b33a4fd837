//! Helper programs for `bench/run.sh` (loopback only):
//!
//! - `ids SEED COUNT SAMPLE`: prints SAMPLE ids, spread over the table, of the accounts a server
//!   started with `--seed SEED --generate-accounts COUNT` holds (built with the server's own code).
//! - `mixed BASE CONC DURATION_S RUN`: closed-loop mixed flow, CONC loops each doing create → get →
//!   link (control API) → get; prints one `WRKRESULT` line in the format of `load.lua`.
//! - `notify BASE PORT COUNT CONC`: starts a notification receiver on 127.0.0.1:PORT, creates COUNT
//!   accounts, links them through the control API without waiting for deliveries, and checks that
//!   every notification arrived exactly once with a valid signature; prints one `NOTIFY` line.
//! - `tick BASE INTERVAL_MS`: steps the server's clock by 1 ms every INTERVAL_MS, on one kept-alive
//!   connection, until the server goes away: a change that costs the machine almost nothing beside
//!   the load (a `curl` started for each costs milliseconds of a core).
//! - `embedded ITERATIONS HELD ROUNDS`: per-test servers in this one process, beside wiremock-rs:
//!   start, one GET answered, stop (or back to the pool), ITERATIONS times per variant and round,
//!   the variants interleaved cycle by cycle for the wall time and one after another for the CPU;
//!   then the threads and memory that HELD idle servers of each kind add. Prints `EMBEDDED` lines.
//!   `ONLY=<variant>[,<variant>...]` runs only those variants (one, for a profiler).

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use sha2::{Digest, Sha512};

const KEY: &str = pay_account_mock::app::BENCH_SERVER_KEY;
const AUTH: &str = "Basic U0ItTWlkLXNlcnZlci1iZW5jaDo=";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!("usage: bench-driver ids|mixed|notify ... (see the source)");
            std::process::exit(2)
        })
    };
    let num = |i: usize| -> u64 { arg(i).parse().expect("a number") };
    let code = match arg(0) {
        "ids" => ids(num(1), num(2) as usize, num(3) as usize),
        "mixed" => run(mixed(arg(1).into(), num(2) as usize, num(3), num(4))),
        "notify" => run(notify(
            arg(1).into(),
            num(2) as u16,
            num(3) as usize,
            num(4) as usize,
        )),
        "embedded" => embedded(num(1) as usize, num(2) as usize, num(3) as usize),
        "tick" => run(tick(arg(1).into(), num(2))),
        other => {
            eprintln!("unknown command {other}");
            2
        }
    };
    std::process::exit(code);
}

fn run(f: impl std::future::Future<Output = i32>) -> i32 {
    actix_web::rt::System::new().block_on(f)
}

fn loopback(base: &str) {
    let host = base.strip_prefix("http://").unwrap_or("");
    assert!(
        host.starts_with("127.") || host.starts_with("localhost"),
        "refusing non-loopback base {base}"
    );
}

// --- tick ------------------------------------------------------------------------------------

async fn tick(base: String, interval_ms: u64) -> i32 {
    loopback(&base);
    let client = client();
    let url = format!("{base}/__admin/clock/advance");
    let mut every = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    loop {
        every.tick().await;
        let sent = client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(r#"{"ms": 1}"#)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if sent.is_err() {
            return 0;
        }
    }
}

// --- ids ------------------------------------------------------------------------------------

fn ids(seed: u64, count: usize, sample: usize) -> i32 {
    let config = pay_account_mock::Config {
        seed: Some(seed),
        generate_accounts: count,
        ..Default::default()
    };
    let state =
        pay_account_mock::app::AppState::new(&config, "http://127.0.0.1".into(), "127.0.0.1")
            .expect("app state");
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.page(
            pay_account_mock::accounts::Owner::Key(KEY),
            None,
            after,
            pay_account_mock::paging::MAX_LIMIT,
            pay_account_mock::paging::Order::OldestFirst,
            0,
        );
        all.extend(page.accounts.iter().map(|a| a.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    all.sort();
    let step = (all.len() / sample.max(1)).max(1);
    for id in all.iter().step_by(step).take(sample) {
        println!("{id}");
    }
    0
}

// --- shared client helpers ------------------------------------------------------------------

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .expect("client")
}

fn create_body(phone: &str) -> String {
    format!(
        r#"{{"payment_type":"gopay","gopay_partner":{{"phone_number":"{phone}","country_code":"62","redirect_url":"https://www.gojek.com"}}}}"#
    )
}

/// One request; Ok(body) for a 2xx answer.
async fn send(rb: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
    let r = rb
        .header("Authorization", AUTH)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

async fn create(c: &reqwest::Client, base: &str, phone: &str) -> Result<String, String> {
    let v = send(
        c.post(format!("{base}/v2/pay/account"))
            .header("Content-Type", "application/json")
            .body(create_body(phone)),
    )
    .await?;
    match (v["account_id"].as_str(), v["account_status"].as_str()) {
        (Some(id), Some("PENDING")) => Ok(id.to_string()),
        _ => Err(format!("unexpected create answer {v}")),
    }
}

async fn get(c: &reqwest::Client, base: &str, id: &str, want: &str) -> Result<(), String> {
    let v = send(c.get(format!("{base}/v2/pay/account/{id}"))).await?;
    if v["account_status"].as_str() == Some(want) {
        Ok(())
    } else {
        Err(format!("expected {want}, got {v}"))
    }
}

async fn link(c: &reqwest::Client, base: &str, id: &str) -> Result<(), String> {
    send(c.post(format!("{base}/__admin/accounts/{id}/link?wait=false")))
        .await
        .map(|_| ())
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1]
}

// --- mixed ----------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    lat_us: Vec<u64>,
    errors: u64,
    flows: u64,
    first_error: Option<String>,
}

async fn timed<T>(
    tally: &std::cell::RefCell<Tally>,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Option<T> {
    let t = Instant::now();
    let r = f.await;
    let mut tally = tally.borrow_mut();
    tally.lat_us.push(t.elapsed().as_micros() as u64);
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tally.errors += 1;
            tally.first_error.get_or_insert(e);
            None
        }
    }
}

async fn mixed(base: String, conc: usize, duration_s: u64, run_id: u64) -> i32 {
    loopback(&base);
    let c = client();
    let tally = Rc::new(std::cell::RefCell::new(Tally::default()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(duration_s);
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (c, base, tally) = (c.clone(), base.clone(), tally.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                // A fresh number per flow: a linked number would answer "already linked".
                let phone = format!("8{:02}{:03}{:06}", run_id % 100, w, n);
                let Some(id) = timed(&tally, create(&c, &base, &phone)).await else {
                    continue;
                };
                if timed(&tally, get(&c, &base, &id, "PENDING"))
                    .await
                    .is_none()
                    || timed(&tally, link(&c, &base, &id)).await.is_none()
                    || timed(&tally, get(&c, &base, &id, "ENABLED"))
                        .await
                        .is_none()
                {
                    continue;
                }
                tally.borrow_mut().flows += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed();
    let mut t = tally.borrow_mut();
    t.lat_us.sort_unstable();
    let mean = t.lat_us.iter().sum::<u64>() as f64 / t.lat_us.len().max(1) as f64;
    println!(
        "WRKRESULT requests={} duration_us={} p50_us={} p90_us={} p99_us={} max_us={} mean_us={:.1} \
         err_connect=0 err_read=0 err_write=0 err_status={} err_timeout=0 flows={}",
        t.lat_us.len(),
        elapsed.as_micros(),
        percentile(&t.lat_us, 50.0),
        percentile(&t.lat_us, 90.0),
        percentile(&t.lat_us, 99.0),
        t.lat_us.last().copied().unwrap_or(0),
        mean,
        t.errors,
        t.flows
    );
    if let Some(e) = &t.first_error {
        eprintln!("bench-driver mixed: first error: {e}");
    }
    0
}

// --- notify ---------------------------------------------------------------------------------

#[derive(Default)]
struct Received {
    /// account id → how many notifications arrived for it.
    count: HashMap<String, u32>,
    bad_signature: u64,
    malformed: u64,
    last: Option<Instant>,
}

fn signature(account_id: &str, status: &str, code: &str, key: &str) -> String {
    let mut h = Sha512::new();
    for part in [account_id, status, code, key] {
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

async fn receive(
    body: actix_web::web::Bytes,
    seen: actix_web::web::Data<Mutex<Received>>,
) -> actix_web::HttpResponse {
    let now = Instant::now();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let (id, status, code, sig) = (
        field("account_id"),
        field("account_status"),
        field("status_code"),
        field("signature_key"),
    );
    let mut seen = seen.lock().unwrap();
    seen.last = Some(now);
    if id.is_empty() || sig.is_empty() {
        seen.malformed += 1;
    } else {
        if sig != signature(&id, &status, &code, KEY) || status != "ENABLED" || code != "200" {
            seen.bad_signature += 1;
        }
        *seen.count.entry(id).or_default() += 1;
    }
    actix_web::HttpResponse::Ok().body("OK")
}

async fn notify(base: String, port: u16, count: usize, conc: usize) -> i32 {
    loopback(&base);
    let seen = actix_web::web::Data::new(Mutex::new(Received::default()));
    let data = seen.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .default_service(actix_web::web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", port))
    .expect("bind the receiver");
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let c = client();
    // 1. Create the accounts (not timed).
    let ids = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 1000)
        .unwrap_or(0);
    for _ in 0..conc {
        let (c, base, ids, next) = (c.clone(), base.clone(), ids.clone(), next.clone());
        tasks.push(actix_web::rt::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let phone = format!("86{stamp:03}{i:06}");
                match create(&c, &base, &phone).await {
                    Ok(id) => ids.lock().unwrap().push(id),
                    Err(e) => eprintln!("create failed: {e}"),
                }
            }
        }));
    }
    for t in tasks.drain(..) {
        let _ = t.await;
    }
    let ids: Vec<String> = std::mem::take(&mut *ids.lock().unwrap());
    // 2. Link them all, without waiting for the deliveries.
    let ids = Arc::new(ids);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let link_errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t0 = Instant::now();
    for _ in 0..conc {
        let (c, base, ids, next, errs) = (
            c.clone(),
            base.clone(),
            ids.clone(),
            next.clone(),
            link_errors.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                if let Err(e) = link(&c, &base, id).await
                    && errs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0
                {
                    eprintln!("link failed: {e}");
                }
            }
        }));
    }
    for t in tasks.drain(..) {
        let _ = t.await;
    }
    let links_done = t0.elapsed();
    // 3. Wait for every notification (at most 60 s), then 1 s more to catch duplicates.
    let wait_deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().count.len() < ids.len() && Instant::now() < wait_deadline {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    handle.stop(false).await;
    let seen = seen.lock().unwrap();
    let all_span = seen.last.map(|l| l - t0).unwrap_or_default();
    let expected: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let once = seen
        .count
        .iter()
        .filter(|(id, n)| **n == 1 && expected.contains(id.as_str()))
        .count();
    let duplicates: u64 = seen
        .count
        .values()
        .map(|n| u64::from(n.saturating_sub(1)))
        .sum();
    let unexpected = seen
        .count
        .keys()
        .filter(|id| !expected.contains(id.as_str()))
        .count();
    let missing = expected
        .iter()
        .filter(|id| !seen.count.contains_key(**id))
        .count();
    let ok = ids.len() == count
        && once == count
        && duplicates == 0
        && unexpected == 0
        && missing == 0
        && seen.bad_signature == 0
        && seen.malformed == 0
        && link_errors.load(std::sync::atomic::Ordering::Relaxed) == 0;
    println!(
        "NOTIFY accounts={} links_s={:.3} link_rps={:.0} delivered_s={:.3} notif_per_s={:.0} \
         exactly_once={} duplicates={} missing={} unexpected={} bad_signature={} malformed={} \
         link_errors={} ok={}",
        ids.len(),
        links_done.as_secs_f64(),
        ids.len() as f64 / links_done.as_secs_f64(),
        all_span.as_secs_f64(),
        once as f64 / all_span.as_secs_f64().max(1e-9),
        once,
        duplicates,
        missing,
        unexpected,
        seen.bad_signature,
        seen.malformed,
        link_errors.load(std::sync::atomic::Ordering::Relaxed),
        u8::from(ok)
    );
    if ok { 0 } else { 1 }
}

// --- embedded -------------------------------------------------------------------------------

/// One way of getting a server for a test.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    WiremockPooled,
    WiremockFresh,
    MockPooled,
    MockFresh,
    MockThreaded,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::WiremockPooled,
        Variant::WiremockFresh,
        Variant::MockPooled,
        Variant::MockFresh,
        Variant::MockThreaded,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::WiremockPooled => "wiremock_pooled",
            Variant::WiremockFresh => "wiremock_fresh",
            Variant::MockPooled => "mock_pooled",
            Variant::MockFresh => "mock_fresh",
            Variant::MockThreaded => "mock_threaded",
        }
    }
}

/// A held server of either kind; dropping it stops it or returns it to its pool.
enum Held {
    Wiremock(wiremock::MockServer),
    Mock(pay_account_mock::Server),
}

impl Held {
    async fn start(variant: Variant) -> Held {
        use pay_account_mock::{Config, pooled, start};
        match variant {
            Variant::WiremockPooled => Held::Wiremock(wiremock::MockServer::start().await),
            Variant::WiremockFresh => Held::Wiremock(wiremock::MockServer::builder().start().await),
            Variant::MockPooled => Held::Mock(pooled(Config::default()).expect("pooled")),
            Variant::MockFresh => Held::Mock(
                start(Config {
                    port: 0,
                    ..Config::default()
                })
                .expect("start"),
            ),
            Variant::MockThreaded => Held::Mock(
                start(Config {
                    port: 0,
                    workers: Some(1),
                    ..Config::default()
                })
                .expect("start"),
            ),
        }
    }

    /// One GET answered: the same request to every server, so that the client's work (which
    /// grows with the URL) is the same for all and the comparison is of the servers. The mock
    /// answers with a fixture account, wiremock-rs with its 404 (nothing is mounted).
    fn url(&self) -> String {
        const PATH: &str = "/v2/pay/account/00000269-7836-49e5-bc65-e592afafec14";
        match self {
            Held::Wiremock(s) => format!("{}{PATH}", s.uri()),
            Held::Mock(s) => format!("{}{PATH}", s.url()),
        }
    }

    async fn stop(self) {
        match self {
            Held::Wiremock(s) => drop(s),
            Held::Mock(s) => s.stop().await,
        }
    }
}

fn proc_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of the whole process (client, servers, runtimes), in microseconds.
fn process_cpu_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks * 1e6 / 100.0
}

/// Start, one GET answered on a new connection, stop (or back to the pool).
async fn cycle(variant: Variant, client: &reqwest::Client) {
    let server = Held::start(variant).await;
    let status = client
        .get(server.url())
        .basic_auth("SB-Mid-server-embedded", Some(""))
        .send()
        .await
        .expect("answered")
        .status();
    assert!(status.as_u16() == 200 || status.as_u16() == 404, "{status}");
    server.stop().await;
}

fn embedded(iterations: usize, held: usize, rounds: usize) -> i32 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        // A fresh connection per request, as each test's own client would make.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let mut timings: HashMap<&str, Vec<f64>> = HashMap::new();
        let mut cpu: HashMap<&str, Vec<f64>> = HashMap::new();
        let variants: Vec<Variant> = Variant::ALL
            .into_iter()
            .filter(|v| {
                std::env::var("ONLY").map_or(true, |o| o.split(',').any(|o| o == v.label()))
            })
            .collect();
        for round in 0..=rounds {
            // Wall time with the variants interleaved cycle by cycle, so that drift in the machine
            // (other load, sockets in TIME_WAIT) falls on all of them alike, in an order shuffled
            // every time: what runs just before a cycle (a server's start-up, or the same variant
            // again, with warm caches) moves its time, and with a fixed or reversed order some
            // variants followed a heavy one far more often than others.
            let mut elapsed: HashMap<&str, Duration> = HashMap::new();
            let mut rng = rand::rngs::StdRng::seed_from_u64(round as u64);
            for _ in 0..iterations {
                let mut order = variants.clone();
                order.shuffle(&mut rng);
                for &variant in &order {
                    let started = Instant::now();
                    cycle(variant, &client).await;
                    *elapsed.entry(variant.label()).or_default() += started.elapsed();
                }
            }
            // Process CPU one variant at a time (the clock ticks are too coarse for one cycle).
            for &variant in &variants {
                let cpu0 = process_cpu_us();
                for _ in 0..iterations {
                    cycle(variant, &client).await;
                }
                // Round 0 warms up (pools filled, code paged in) and is not counted.
                if round > 0 {
                    let us = (process_cpu_us() - cpu0) / iterations as f64;
                    cpu.entry(variant.label()).or_default().push(us);
                    let ms = elapsed[variant.label()].as_secs_f64() * 1000.0 / iterations as f64;
                    timings.entry(variant.label()).or_default().push(ms);
                }
            }
        }
        // Each round's ratio to wiremock-rs's pooled server in the same round: the variants ran
        // interleaved, so the machine's state (which moves the times of all of them by tens of
        // per cent between rounds) cancels out of it.
        let baseline = timings.get("wiremock_pooled").cloned().unwrap_or_default();
        for &variant in &variants {
            let mut ratios: Vec<f64> = timings
                .get(variant.label())
                .map(|ms| ms.iter().zip(&baseline).map(|(m, w)| m / w).collect())
                .unwrap_or_default();
            ratios.sort_by(f64::total_cmp);
            let ratio = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
            let ratios: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
            let mut ms = timings.remove(variant.label()).unwrap_or_default();
            ms.sort_by(f64::total_cmp);
            let median = ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN);
            let all: Vec<String> = ms.iter().map(|m| format!("{m:.4}")).collect();
            let mut cpu_us = cpu.remove(variant.label()).unwrap_or_default();
            cpu_us.sort_by(f64::total_cmp);
            let cpu_median = cpu_us.get(cpu_us.len() / 2).copied().unwrap_or(f64::NAN);
            // Held idle servers: what each adds in threads and memory.
            let threads0 = proc_status("Threads:");
            let rss0 = proc_status("VmRSS:");
            let mut servers = Vec::with_capacity(held);
            for _ in 0..held {
                servers.push(Held::start(variant).await);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let threads1 = proc_status("Threads:");
            let rss1 = proc_status("VmRSS:");
            for s in servers {
                s.stop().await;
            }
            println!(
                "EMBEDDED variant={} iterations={iterations} rounds={rounds} ms_per_server={median:.4} ms_rounds={} vs_wiremock_pooled={ratio:.3} vs_wiremock_pooled_rounds={} cpu_us_per_server={cpu_median:.1} held={held} threads_per_held={:.2} kb_per_held={:.0}",
                variant.label(),
                all.join(","),
                ratios.join(","),
                threads1.saturating_sub(threads0) as f64 / held as f64,
                rss1.saturating_sub(rss0) as f64 / held as f64,
            );
        }
        0
    })
}
