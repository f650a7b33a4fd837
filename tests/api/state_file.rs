//! The state file and a clean shutdown: the real binary is started, stopped with SIGTERM, SIGINT or
//! SIGKILL, and started again on the same file; export and import go over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_pay-account-mock");

/// A folder of its own for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pam-state-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary, running, and a client for it.
struct Running {
    child: Child,
    app: Remote,
}

/// Talks to a server in another process with the helpers of [`TestApp`].
struct Remote {
    url: String,
    client: reqwest::Client,
}

impl Remote {
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("Content-Type", "application/json");
        if let Some(key) = key {
            req = req.header("Authorization", basic(key));
        }
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        reply(req.send().await.unwrap()).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, &format!("/__admin{path}"), None, body)
            .await
    }
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(["--port", "0"])
        .args(args)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("pay-account-mock listening on "), "{line}");
    // The rest of standard output (the stop line) is read by `stop`.
    child.stdout = Some(stdout.into_inner());
    Running {
        app: Remote {
            url: line.trim().rsplit(' ').next().unwrap().to_string(),
            client: reqwest::Client::new(),
        },
        child,
    }
}

/// Starting refuses: exit code 2 and one line on standard error.
fn refused(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["--port", "0"])
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends `name` and returns the exit code and what the server printed after its first line.
fn stop(mut running: Running, name: &str) -> (Option<i32>, String) {
    use std::io::Read;
    signal(&running.child, name);
    let mut rest = String::new();
    running
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    let status = running.child.wait().unwrap();
    (status.code(), rest)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

async fn create(app: &Remote, key: &str, phone: &str) -> String {
    let r = app
        .call(
            Method::POST,
            "/v2/pay/account",
            Some(key),
            Some(gopay(phone)),
        )
        .await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
    r.body["account_id"].as_str().unwrap().to_string()
}

async fn get(app: &Remote, key: &str, id: &str) -> Value {
    app.call(
        Method::GET,
        &format!("/v2/pay/account/{id}"),
        Some(key),
        None,
    )
    .await
    .body
}

/// Everything a QA session builds: a linked account, a charge, config, a scenario, a moved clock.
#[tokio::test]
async fn a_restart_brings_back_everything_after_sigterm() {
    let dir = folder("sigterm");
    let file = dir.join("qa.json");
    let receiver = receiver(200).await;
    let args = ["--state-file", arg(&file), "--seed", "11"];
    let first = start(&args);
    let app = &first.app;
    app.admin(
        Method::PATCH,
        "/config",
        Some(
            json!({"notification_url": format!("{}/link", receiver.uri()),
                    "payment_notification_url": format!("{}/pay", receiver.uri()),
                    "merchant_id": "M-QA", "retry_schedule": "1m,5m"}),
        ),
    )
    .await;
    let id = create(app, KEY, "81200000001").await;
    let linked = app
        .admin(Method::POST, &format!("/accounts/{id}/link"), None)
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    let pending = create(app, OTHER_KEY, "81200000002").await;
    let before = get(app, KEY, &id).await;
    let token = before["metadata"]["payment_options"][0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let charge_body = |amount: u64| {
        json!({
            "payment_type": "gopay",
            "gopay": {"account_id": id, "payment_option_token": token},
            "transaction_details": {"gross_amount": amount, "order_id": "qa-order-1"}
        })
    };
    let charge = app
        .call(
            Method::POST,
            "/v2/charge",
            Some(KEY),
            Some(charge_body(25000)),
        )
        .await;
    assert_eq!(charge.body["status_code"], "200", "{}", charge.text);
    let put = app
        .admin(
            Method::PUT,
            "/phone-numbers/81299999999",
            Some(json!({"outcome": "user_blocked"})),
        )
        .await;
    assert!(put.status.is_success(), "{}", put.text);
    // The payment notification goes out after the charge answers: let both arrive before the
    // snapshot, or the first server delivers one after it and saves that.
    let delivered = app
        .admin(
            Method::POST,
            "/notifications/wait",
            Some(json!({"account_id": id, "count": 2, "timeout_ms": 10_000})),
        )
        .await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    app.admin(
        Method::POST,
        "/clock/advance",
        Some(json!({"seconds": 3600})),
    )
    .await;
    let account_before = get(app, KEY, &id).await;
    let pending_before = get(app, OTHER_KEY, &pending).await;
    assert_eq!(
        pending_before["account_status"], "EXPIRED",
        "an hour passed"
    );
    let notifications_before = app.admin(Method::GET, "/notifications", None).await.body;
    let state_before = app.admin(Method::GET, "/state", None).await.body;

    let (code, said) = stop(first, "TERM");
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("stopped on SIGTERM") && said.contains("state saved to"),
        "{said}"
    );

    let second = start(&args);
    let app = &second.app;
    assert_eq!(
        get(app, KEY, &id).await,
        account_before,
        "the linked account and its balances"
    );
    assert_eq!(get(app, OTHER_KEY, &pending).await, pending_before);
    let status = app
        .call(Method::GET, "/v2/qa-order-1/status", Some(KEY), None)
        .await;
    assert_eq!(
        status.body["transaction_status"], "settlement",
        "{}",
        status.text
    );
    assert_eq!(status.body["gross_amount"], "25000.00");
    assert_eq!(
        app.admin(Method::GET, "/notifications", None).await.body,
        notifications_before
    );
    let config = app.admin(Method::GET, "/config", None).await.body;
    assert_eq!(config["merchant_id"], "M-QA");
    assert_eq!(config["retry_schedule"], json!(["1m", "5m"]));
    let clock = app.admin(Method::GET, "/clock", None).await.body;
    assert_eq!(clock["offset_ms"], 3_600_000);
    let blocked = app
        .call(
            Method::POST,
            "/v2/pay/account",
            Some(KEY),
            Some(gopay("81299999999")),
        )
        .await;
    assert_eq!(blocked.body["status_code"], "410", "{}", blocked.text);
    // The order id is still taken, and a seeded server does not hand out its ids again.
    let again = app
        .call(
            Method::POST,
            "/v2/charge",
            Some(KEY),
            Some(charge_body(100)),
        )
        .await;
    assert_eq!(again.body["status_code"], "406", "{}", again.text);
    let fresh = create(app, KEY, "81200000003").await;
    let ids: Vec<&str> = state_before["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&fresh.as_str()),
        "{fresh} was handed out before"
    );

    let (code, said) = stop(second, "INT");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("stopped on SIGINT"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_kill_after_the_save_interval_loses_nothing_that_was_saved() {
    let dir = folder("kill");
    let file = dir.join("qa.json");
    let args = ["--state-file", arg(&file), "--state-save-interval", "100ms"];
    let first = start(&args);
    let id = create(&first.app, KEY, "81200000011").await;
    // Saved within an interval or two of the change.
    let mut saved = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if std::fs::read_to_string(&file).is_ok_and(|t| t.contains(&id)) {
            saved = true;
            break;
        }
    }
    assert!(saved, "the account reached the file");
    let (code, _) = stop(first, "KILL");
    assert_eq!(code, None, "killed");
    let second = start(&args);
    assert_eq!(
        get(&second.app, KEY, &id).await["account_status"],
        "PENDING"
    );
    stop(second, "TERM");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sigterm_the_moment_the_ready_line_appears_still_saves_and_exits_0() {
    let dir = folder("early");
    for i in 0..10 {
        let file = dir.join(format!("early-{i}.json"));
        let running = start(&["--state-file", arg(&file)]);
        let (code, out) = stop(running, "TERM");
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("state saved to"), "{out}");
        assert!(file.exists(), "no state file after an early SIGTERM");
    }
}

#[test]
fn a_corrupt_truncated_or_newer_file_refuses_to_start_and_is_left_untouched() {
    let dir = folder("bad");
    let good = {
        let file = dir.join("good.json");
        let running = start(&["--state-file", arg(&file)]);
        stop(running, "TERM");
        std::fs::read_to_string(&file).unwrap()
    };
    let newer = good.replacen("\"version\":1", "\"version\":99", 1);
    assert_ne!(newer, good);
    for (name, text, expected) in [
        (
            "corrupt.json",
            "{not json".to_string(),
            "not a state document",
        ),
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "not a state document",
        ),
        ("newer.json", newer, "newer pay-account-mock"),
        (
            "array.json",
            r#"["pay-account-mock-state", 1]"#.to_string(),
            "expected a JSON object",
        ),
        (
            "foreign.json",
            r#"{"accounts": []}"#.to_string(),
            "\"format\" must be",
        ),
        (
            "out-of-range.json",
            good.replacen("\"offset_ms\":0", "\"offset_ms\":99999999999999999", 1),
            "clock.offset_ms",
        ),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, &text).unwrap();
        let stderr = refused(&["--state-file", arg(&file)]);
        assert!(
            stderr.contains("--state-file: state file") && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(stderr.contains("left as it is"), "{name}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            text,
            "{name} untouched"
        );
    }
    let stderr = refused(&["--state-file", arg(&dir.join("no/such/folder/qa.json"))]);
    assert!(stderr.contains("existing folder"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_pending_retry_resumes_after_a_restart_and_nothing_is_sent_twice() {
    let dir = folder("retry");
    let file = dir.join("qa.json");
    let down = receiver(500).await;
    let up = receiver(200).await;
    let args = ["--state-file", arg(&file)];
    let first = start(&args);
    first
        .app
        .admin(
            Method::PATCH,
            "/config",
            Some(json!({"notification_url": format!("{}/notify", down.uri())})),
        )
        .await;
    let id = create(&first.app, KEY, "81200000021").await;
    let linked = first
        .app
        .admin(Method::POST, &format!("/accounts/{id}/link"), None)
        .await;
    let n = &linked.body["notification"];
    assert_eq!(n["state"], "pending", "{}", linked.text);
    assert_eq!(n["attempts"].as_array().unwrap().len(), 1);
    stop(first, "TERM");
    assert_eq!(down.received_requests().await.unwrap().len(), 1);

    let second = start(&args);
    let app = &second.app;
    app.admin(
        Method::PATCH,
        "/config",
        Some(json!({"notification_url": format!("{}/notify", up.uri())})),
    )
    .await;
    // The retry is due two minutes after the first attempt, on the restored clock.
    app.admin(
        Method::POST,
        "/clock/advance",
        Some(json!({"seconds": 120})),
    )
    .await;
    let waited = app
        .admin(
            Method::POST,
            "/notifications/wait",
            Some(json!({"account_id": id, "count": 1, "timeout_ms": 10000})),
        )
        .await;
    assert_eq!(waited.status, 200, "{}", waited.text);
    let n = &waited.body["notifications"][0];
    assert_eq!(n["attempts_total"], 2, "{n}");
    assert_eq!(up.received_requests().await.unwrap().len(), 1);
    assert_eq!(
        down.received_requests().await.unwrap().len(),
        1,
        "not sent twice"
    );
    stop(second, "TERM");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigterm_under_load_exits_0_and_keeps_every_answered_create() {
    let dir = folder("load");
    let file = dir.join("qa.json");
    let args = ["--state-file", arg(&file)];
    let first = start(&args);
    let remote = std::sync::Arc::new(Remote {
        url: first.app.url.clone(),
        client: reqwest::Client::new(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let remote = remote.clone();
        tasks.spawn(async move {
            let mut made = Vec::new();
            let mut stopped = false;
            // Until the server stops answering: the stop comes in the middle of the load.
            for i in 0..100_000 {
                let body = gopay(&format!("8130{worker:02}{i:05}"));
                let Ok(response) = remote
                    .client
                    .post(format!("{}/v2/pay/account", remote.url))
                    .header("Authorization", basic(KEY))
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                else {
                    stopped = true;
                    break;
                };
                let Ok(body) = response.json::<Value>().await else {
                    stopped = true;
                    break;
                };
                if let Some(id) = body["account_id"].as_str() {
                    made.push(id.to_string());
                }
            }
            (made, stopped)
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, said) = stop(first, "TERM");
    assert_eq!(code, Some(0), "{said}");
    let mut answered = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        let (made, stopped) = outcome.unwrap();
        assert!(stopped, "the load ran until the server stopped");
        answered.extend(made);
    }
    assert!(
        !answered.is_empty(),
        "some creates were answered before the stop"
    );
    let second = start(&args);
    let state = second.app.admin(Method::GET, "/state", None).await.body;
    let kept: std::collections::HashSet<&str> = state["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    for id in &answered {
        assert!(
            kept.contains(id.as_str()),
            "{id} was answered but not saved"
        );
    }
    stop(second, "TERM");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn export_and_import_round_trip_and_a_bad_document_changes_nothing() {
    let a = spawn_app();
    let id = a.create_pending(KEY, "81200000031").await;
    a.link(&id).await;
    a.admin(
        Method::PATCH,
        "/__admin/config",
        Some(json!({"merchant_id": "M-RT"})),
    )
    .await;
    let exported = a.admin(Method::GET, "/__admin/state", None).await;
    assert_eq!(exported.status, 200);
    assert_eq!(exported.content_type.as_deref(), Some("application/json"));
    assert_eq!(exported.body["format"], "pay-account-mock-state");

    let b = spawn_app();
    let before = b.admin(Method::GET, "/__admin/state", None).await.body;
    let mut bad = exported.body.clone();
    bad["accounts"][0]["payment_options"] = json!([{"name": "GOPAY_WALLET", "active": true,
        "balance": "lots", "currency": "IDR", "token": null, "token_id": null}]);
    let refused = b.admin(Method::PUT, "/__admin/state", Some(bad)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["error"], "bad_request");
    // Counters that would wrap (ids named twice), or pass 2^53 - 1 as they count on (a document
    // saved later would not load), are out of range.
    for (list, counter) in [
        ("notifications", "last_id"),
        ("transactions", "last_refund_id"),
    ] {
        for value in [u64::MAX, (1 << 53) - 1, 1 << 52] {
            let mut bad = exported.body.clone();
            bad[list][counter] = json!(value);
            let refused = b.admin(Method::PUT, "/__admin/state", Some(bad)).await;
            assert_eq!(refused.status, 400, "{}", refused.text);
            let message = refused.body["message"].as_str().unwrap();
            assert!(
                message.contains(&format!(
                    "{list}.{counter} must be at most 4503599627370495"
                )),
                "{message}"
            );
        }
    }
    // A payload the notification lists could not read again: a number no double holds, or
    // nesting past serde_json's limit, or past what a list holding it a few levels down stays
    // within (a payload the mock writes nests at most 65 levels).
    for payload in [
        r#"{"n":1e400}"#.to_string(),
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
        format!("{}{}", "[".repeat(66), "]".repeat(66)),
    ] {
        let mut bad = exported.body.clone();
        bad["notifications"]["items"][0]["payload"] = json!(payload);
        let refused = b.admin(Method::PUT, "/__admin/state", Some(bad)).await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        let message = refused.body["message"].as_str().unwrap();
        assert!(message.contains("payload must be JSON text"), "{message}");
    }
    let mut after = b.admin(Method::GET, "/__admin/state", None).await.body;
    after["saved_at"] = before["saved_at"].clone();
    assert_eq!(after, before, "a bad document changes nothing");

    let imported = b
        .admin(Method::PUT, "/__admin/state", Some(exported.body.clone()))
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    assert_eq!(b.get(KEY, &id).await.body, a.get(KEY, &id).await.body);
    assert_eq!(
        b.notifications("").await.len(),
        a.notifications("").await.len()
    );
    let mut again = b.admin(Method::GET, "/__admin/state", None).await.body;
    again["saved_at"] = exported.body["saved_at"].clone();
    assert_eq!(
        again, exported.body,
        "export, import, export gives the same document"
    );
}

/// Two servers with `seed` that made and linked the same account, so both have drawn the same
/// ids; the account's id.
async fn seeded_pair_with_a_linked_account(seed: u64) -> (TestApp, TestApp, String) {
    let seeded = |c: &mut pay_account_mock::Config| c.seed = Some(seed);
    let (a, b) = (spawn_app_with(seeded), spawn_app_with(seeded));
    let id = a.create_pending(KEY, "81200000032").await;
    assert_eq!(b.create_pending(KEY, "81200000032").await, id);
    a.link(&id).await;
    b.link(&id).await;
    (a, b, id)
}

/// Imports the state of `from` into `into` without the id generator's position, so that a seeded
/// `into` goes on drawing where it was: the ids `from` drew since.
async fn import_without_position(from: &TestApp, into: &TestApp) {
    let mut doc = from.admin(Method::GET, "/__admin/state", None).await.body;
    doc["ids"].as_object_mut().unwrap().remove("position");
    let imported = into.admin(Method::PUT, "/__admin/state", Some(doc)).await;
    assert_eq!(imported.status, 200, "{}", imported.text);
}

/// The `id` field of every item of a control API list answer's `list`.
fn listed_ids<'a>(answer: &'a Value, list: &str, id: &str) -> Vec<&'a str> {
    answer[list]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|item| item[id].as_str())
        .collect()
}

/// A charge of IDR 1,000 (below the PIN threshold: it settles at once).
fn charge_of(order_id: &str, token: &str, account: &str) -> Value {
    json!({
        "payment_type": "gopay",
        "gopay": {"account_id": account, "payment_option_token": token},
        "transaction_details": {"order_id": order_id, "gross_amount": 1000}
    })
}

/// A seeded server given a document that holds the id its seed draws next (here: the position
/// left out, so the generator does not move past it) makes its next account under another id: the
/// imported account keeps its state, and is listed once.
#[tokio::test]
async fn a_create_never_reuses_the_id_of_an_imported_account() {
    let seeded = |c: &mut pay_account_mock::Config| c.seed = Some(7);
    let a = spawn_app_with(seeded);
    let id = a.create_pending(KEY, "81200000032").await;
    a.link(&id).await;

    let b = spawn_app_with(seeded);
    import_without_position(&a, &b).await;
    let other = b.create_pending(KEY, "81200000033").await;
    assert_ne!(
        other, id,
        "the seed's next id is taken by the imported account"
    );
    let kept = b.get(KEY, &id).await.body;
    assert_eq!(kept["account_status"], "ENABLED", "{kept}");
    assert_eq!(kept, a.get(KEY, &id).await.body);
    let listed = b
        .admin(
            Method::GET,
            &format!("/__admin/accounts?server_key={KEY}"),
            None,
        )
        .await
        .body;
    let ids = listed_ids(&listed, "accounts", "account_id");
    assert_eq!(ids.iter().filter(|i| **i == id).count(), 1, "{listed}");
    assert!(ids.contains(&other.as_str()), "{listed}");
}

/// A charge never takes the id of an imported transaction: a seeded server whose next id names
/// one draws another, and the imported transaction stays as it was, listed once.
#[tokio::test]
async fn a_charge_never_reuses_the_id_of_an_imported_transaction() {
    let (a, b, id) = seeded_pair_with_a_linked_account(7).await;
    let token = a.wallet_token(KEY, &id).await;
    let first = a.charge(KEY, &charge_of("imported-1", &token, &id)).await;
    assert_eq!(
        first.body["transaction_status"], "settlement",
        "{}",
        first.text
    );
    let taken = first.body["transaction_id"].as_str().unwrap().to_owned();
    import_without_position(&a, &b).await;

    let second = b.charge(KEY, &charge_of("new-1", &token, &id)).await;
    assert_eq!(second.body["status_code"], "200", "{}", second.text);
    let new = second.body["transaction_id"].as_str().unwrap();
    assert_ne!(
        new, taken,
        "the seed's next id is the imported transaction's"
    );
    let kept = b
        .admin(Method::GET, &format!("/__admin/transactions/{taken}"), None)
        .await;
    assert_eq!(
        kept.body["transaction"]["order_id"], "imported-1",
        "{}",
        kept.text
    );
    for (order, want) in [("imported-1", taken.as_str()), ("new-1", new)] {
        let status = b
            .request(Method::GET, &format!("/v2/{order}/status"), Some(KEY), None)
            .await;
        assert_eq!(status.body["transaction_id"], want, "{}", status.text);
    }
    let listed = b
        .admin(Method::GET, "/__admin/transactions?limit=100", None)
        .await
        .body;
    let ids = listed_ids(&listed, "transactions", "transaction_id");
    assert_eq!(ids.iter().filter(|i| **i == taken).count(), 1, "{listed}");
    assert!(ids.contains(&new), "{listed}");
}

/// When every id a create or a charge draws is taken (here the 64 that a seeded server's next
/// draws name, after an import without the generator's position), the answer is a 500 and nothing
/// changes: no account, no transaction, no money moved. The next request draws on and succeeds.
#[tokio::test]
async fn a_create_or_a_charge_that_finds_no_free_id_changes_nothing() {
    use pay_account_mock::ids::DRAWS;
    let (a, b, id) = seeded_pair_with_a_linked_account(11).await;
    let token = a.wallet_token(KEY, &id).await;
    // Accounts first: a's next DRAWS ids are accounts.
    for i in 0..DRAWS {
        a.create_pending(KEY, &format!("8130000{i:04}")).await;
    }
    import_without_position(&a, &b).await;
    let before = b.account_count().await;
    let refused = b.create(KEY, &gopay("81400000001")).await;
    assert_eq!(refused.body["status_code"], "500", "{}", refused.text);
    assert_eq!(b.account_count().await, before);
    // The dashboard's create draws the same ids: its own page says why, and nothing is made. The
    // API's refusal drew DRAWS of them, so the ids taken need replenishing first.
    let (a, b, _) = seeded_pair_with_a_linked_account(11).await;
    for i in 0..DRAWS {
        a.create_pending(KEY, &format!("8130000{i:04}")).await;
    }
    import_without_position(&a, &b).await;
    let form_token = crate::pages::csrf(&b).await;
    let page = crate::pages::post_form(
        &b,
        "/__admin/ui/accounts",
        &[
            ("csrf", &form_token),
            ("server_key", KEY),
            ("phone_number", "81400000001"),
            ("country_code", "62"),
        ],
    )
    .await;
    crate::pages::assert_html(&page, 500);
    assert!(
        page.text.contains("Every id drawn names an account"),
        "{}",
        page.text
    );
    assert_eq!(b.account_count().await, before);
    b.create_pending(KEY, "81400000001").await;
    assert_eq!(b.account_count().await, before + 1);

    // Then charges: a's next DRAWS ids are transactions.
    let (a, b, again) = seeded_pair_with_a_linked_account(11).await;
    assert_eq!(again, id);
    for i in 0..DRAWS {
        let r = a
            .charge(KEY, &charge_of(&format!("taken-{i}"), &token, &id))
            .await;
        assert_eq!(r.body["transaction_status"], "settlement", "{}", r.text);
    }
    import_without_position(&a, &b).await;
    let account = b.get(KEY, &id).await.body;
    let refused = b.charge(KEY, &charge_of("free-1", &token, &id)).await;
    assert_eq!(refused.body["status_code"], "500", "{}", refused.text);
    assert_eq!(b.get(KEY, &id).await.body, account, "the balance moved");
    assert_eq!(b.transaction_count().await, DRAWS);
    let charged = b.charge(KEY, &charge_of("free-1", &token, &id)).await;
    assert_eq!(
        charged.body["transaction_status"], "settlement",
        "{}",
        charged.text
    );
    assert_eq!(b.transaction_count().await, DRAWS + 1);
}

/// What few charges send (a callback URL, metadata, other notification URLs) comes back with its
/// transaction, and a transaction without it comes back without it.
#[tokio::test]
async fn a_transaction_comes_back_from_an_import_with_what_its_charge_sent() {
    let a = spawn_app();
    let id = a.create_pending(KEY, "81200000032").await;
    a.link(&id).await;
    let token = a.wallet_token(KEY, &id).await;
    let mut charged = Vec::new();
    for (order, callback, metadata, header) in [
        ("rt-plain", None, None, None),
        (
            "rt-extras",
            Some("https://shop.example/done"),
            Some(json!({"cart": [1, 2]})),
            Some(("X-Append-Notification", "https://hooks.example/a")),
        ),
        (
            "rt-override",
            None,
            None,
            Some(("X-Override-Notification", "https://hooks.example/o")),
        ),
    ] {
        let mut gopay = json!({"account_id": id, "payment_option_token": token});
        if let Some(url) = callback {
            gopay["callback_url"] = json!(url);
        }
        let mut body = json!({
            "payment_type": "gopay",
            "gopay": gopay,
            "transaction_details": {"order_id": order, "gross_amount": 1000}
        });
        if let Some(m) = metadata {
            body["metadata"] = m;
        }
        let mut req = a
            .client
            .post(format!("{}/v2/charge", a.url))
            .basic_auth(KEY, Some(""))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        assert_eq!(r["status_code"], "200", "{r}");
        charged.push(r["transaction_id"].as_str().unwrap().to_string());
    }
    let b = spawn_app();
    let imported = a.export_into(&b).await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    for tx in &charged {
        let view = format!("/__admin/transactions/{tx}");
        // The transaction; its notifications to the extra URL are still being attempted on `a`.
        assert_eq!(
            b.admin(Method::GET, &view, None).await.body["transaction"],
            a.admin(Method::GET, &view, None).await.body["transaction"],
            "{tx}"
        );
        let status = format!("/v2/{tx}/status");
        assert_eq!(
            b.request(Method::GET, &status, Some(KEY), None).await.body,
            a.request(Method::GET, &status, Some(KEY), None).await.body,
            "{tx}"
        );
    }
    let extras = b
        .admin(
            Method::GET,
            &format!("/__admin/transactions/{}", charged[1]),
            None,
        )
        .await
        .body;
    assert_eq!(
        extras["transaction"]["callback_url"], "https://shop.example/done",
        "{extras}"
    );
    assert_eq!(
        extras["transaction"]["notify_to"]["mode"], "append",
        "{extras}"
    );
    let status = b
        .request(
            Method::GET,
            &format!("/v2/{}/status", charged[1]),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(
        status.body["metadata"],
        json!({"cart": [1, 2]}),
        "{}",
        status.text
    );
}

#[tokio::test]
async fn an_embedded_server_saves_when_it_stops() {
    let dir = folder("embedded");
    let file = dir.join("state.json");
    let app = spawn_app_with(|c| c.state_file = Some(file.clone()));
    let id = app.create_pending(KEY, "81200000041").await;
    app.server.shutdown().await.unwrap();
    let again = spawn_app_with(|c| c.state_file = Some(file.clone()));
    assert_eq!(again.get(KEY, &id).await.body["account_status"], "PENDING");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The start of an answer that may be a whole document.
fn start_of(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Asks `GET /__admin/state` until it answers `status`, for at most 10 s.
async fn export_answers(app: &TestApp, status: u16) -> Reply {
    for _ in 0..200 {
        let r = app.admin(Method::GET, "/__admin/state", None).await;
        if r.status.as_u16() == status {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("GET /__admin/state never answered {status}");
}

/// Raw connections that sent `head` and then read and send nothing more.
async fn stalled(app: &TestApp, head: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut held = Vec::new();
    for _ in 0..count {
        // A small receive buffer, so that an answer of a few megabytes cannot fit in the sockets.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut s = socket.connect(app.server.addr()).await.unwrap();
        let head = head.replace("{host}", &app.server.addr().to_string());
        s.write_all(head.as_bytes()).await.unwrap();
        held.push(s);
    }
    held
}

/// Two exports whose clients read the head of the answer and then nothing.
async fn stalled_exports(app: &TestApp) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncReadExt;
    let mut readers = stalled(
        app,
        "GET /__admin/state HTTP/1.1\r\nHost: {host}\r\n\r\n",
        2,
    )
    .await;
    for reader in &mut readers {
        let mut head = [0; 15];
        reader.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK");
    }
    readers
}

#[tokio::test]
async fn two_whole_state_transfers_at_a_time_and_the_others_are_told_to_come_back() {
    // A document of about 12 MB: more than the sockets between a client that reads nothing (with a
    // small receive buffer) and the server hold.
    let app = spawn_app_with(|c| c.generate_accounts = 20_000);
    let document = app.admin(Method::GET, "/__admin/state", None).await;
    assert_eq!(document.status, 200);

    // Two exports whose clients read no more than the head keep their places until their
    // connections close.
    let readers = stalled_exports(&app).await;
    let busy = app.admin(Method::GET, "/__admin/state", None).await;
    assert_eq!(busy.status, 503, "{}", start_of(&busy.text));
    assert_eq!(busy.body["error"], "busy", "{}", busy.text);
    assert!(
        busy.text.contains("at most 2") && busy.text.contains("try again"),
        "{}",
        busy.text
    );
    let import = app
        .request(
            Method::PUT,
            "/__admin/state",
            None,
            Some(document.text.clone()),
        )
        .await;
    assert_eq!(import.status, 503, "{}", start_of(&import.text));
    drop(readers);
    let again = export_answers(&app, 200).await;
    assert_eq!(again.body["accounts"], document.body["accounts"]);
}

#[tokio::test]
async fn an_export_whose_client_takes_nothing_for_the_body_timeout_is_cut_and_frees_its_place() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app_with(|c| {
        c.generate_accounts = 20_000;
        c.body_timeout = Duration::from_secs(1);
    });
    let mut readers = stalled_exports(&app).await;
    let busy = app.admin(Method::GET, "/__admin/state", None).await;
    assert_eq!(busy.status, 503, "{}", start_of(&busy.text));
    // Still held open by their clients, the stalled exports are cut and their places freed.
    let document = export_answers(&app, 200).await;
    assert!(document.body["accounts"].as_array().map_or(0, Vec::len) >= 20_000);
    for reader in &mut readers {
        // What the sockets held, then the end of a stream that stops short of the document.
        let mut got = Vec::new();
        let end = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut got))
            .await
            .expect("the cut connection ends");
        assert!(
            end.is_err() || got.len() < document.text.len(),
            "{} bytes of {}",
            got.len(),
            document.text.len()
        );
    }
}

#[tokio::test]
async fn an_import_holds_its_place_from_the_first_byte_of_its_body() {
    let app = spawn_app_with(|c| c.body_timeout = Duration::from_secs(600));
    let document = app.admin(Method::GET, "/__admin/state", None).await;
    assert_eq!(document.status, 200);
    // Two imports whose bodies are still on the way hold both places: the body is the document.
    // Until the server has read both heads, a GET may take a place first and one of them be turned
    // away: such a connection, answered, is replaced.
    const HEAD: &str = "PUT /__admin/state HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    let mut writers = stalled(&app, HEAD, 2).await;
    let mut busy = None;
    for _ in 0..200 {
        for writer in &mut writers {
            let mut answer = [0; 64];
            if !matches!(writer.try_read(&mut answer), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            {
                *writer = stalled(&app, HEAD, 1).await.remove(0);
            }
        }
        let r = app.admin(Method::GET, "/__admin/state", None).await;
        if r.status == 503 {
            busy = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let busy = busy.expect("two imports under way hold both places");
    assert_eq!(busy.body["error"], "busy", "{}", busy.text);
    drop(writers);
    export_answers(&app, 200).await;
    let import = app
        .request(Method::PUT, "/__admin/state", None, Some(document.text))
        .await;
    assert_eq!(import.status, 200, "{}", import.text);
}

/// A client that sends an import's head and no body holds no place: it would otherwise keep every
/// export and import away for `--body-timeout`, and again after each reconnection.
#[tokio::test]
async fn an_import_head_without_a_body_holds_no_place() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|c| c.body_timeout = Duration::from_secs(600));
    const HEAD: &str = "PUT /__admin/state HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let mut writers = stalled(&app, HEAD, 3).await;
    // Let the server read the heads.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let r = app.admin(Method::GET, "/__admin/state", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Their first bytes take the places.
    for writer in &mut writers {
        writer.write_all(b"{").await.unwrap();
    }
    let busy = export_answers(&app, 503).await;
    assert_eq!(busy.body["error"], "busy", "{}", busy.text);
}

/// A state document's transactions are held to the rules a charge and a refund are: an order id or
/// refund key the API refuses, an overlong reason, refunds above the amount or of a transaction
/// that was never settled make it a 400 that changes nothing.
#[tokio::test]
async fn an_imported_transaction_is_held_to_the_rules_of_the_api() {
    let a = spawn_app();
    let id = a.create_pending(KEY, "81200000033").await;
    a.link(&id).await;
    let token = a.wallet_token(KEY, &id).await;
    let body = json!({
        "payment_type": "gopay",
        "gopay": {"account_id": id, "payment_option_token": token},
        "transaction_details": {"order_id": "rules-1", "gross_amount": 1000}
    });
    let charged = a
        .request(
            Method::POST,
            "/v2/charge",
            Some(KEY),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(
        charged.body["transaction_status"], "settlement",
        "{}",
        charged.text
    );
    let tx = charged.body["transaction_id"].as_str().unwrap().to_string();
    let refund = json!({"amount": 100, "refund_key": "r-1", "reason": "too many"});
    let refunded = a
        .request(
            Method::POST,
            &format!("/v2/{tx}/refund"),
            Some(KEY),
            Some(refund.to_string()),
        )
        .await;
    assert_eq!(refunded.body["status_code"], "200", "{}", refunded.text);
    let exported = a.admin(Method::GET, "/__admin/state", None).await.body;
    let b = spawn_app();
    type Change = fn(&mut Value);
    let cases: [(Change, &str); 8] = [
        (
            |t| t["order_id"] = json!("<b>x</b> /?#%"),
            "order_id may contain only",
        ),
        (
            |t| t["refunds"][0]["refund_key"] = json!("k ey/<>"),
            "refund_key 'k ey/<>'",
        ),
        (
            |t| t["refunds"][0]["reason"] = json!("r".repeat(256)),
            "reason must be at most 255 characters",
        ),
        (
            |t| t["refunds"][0]["refund_amount"] = json!("1000.01"),
            "add up to more than its gross_amount",
        ),
        (|t| t["settled_at_ms"] = Value::Null, "never settled"),
        (
            |t| t["payment_option"] = json!("CREDIT_CARD"),
            "has no payment option 'CREDIT_CARD'",
        ),
        (
            |t| t["account_id"] = json!(uuid::Uuid::nil()),
            "is not in the document",
        ),
        (
            |t| t["server_key"] = json!("SB-Mid-server-someone-else"),
            "belongs to another server_key",
        ),
    ];
    for (change, expected) in cases {
        let mut bad = exported.clone();
        change(&mut bad["transactions"]["items"][0]);
        let r = b.admin(Method::PUT, "/__admin/state", Some(bad)).await;
        assert_eq!(r.status, 400, "{expected}: {}", r.text);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{expected}: {message}");
    }
    // A number no double holds, which a `Value` cannot carry: changed in the text.
    let mut bad = exported.clone();
    bad["transactions"]["items"][0]["metadata"] = json!({"n": "HUGE"});
    let text = bad.to_string().replace(r#""HUGE""#, "1e400");
    let r = b
        .request(Method::PUT, "/__admin/state", None, Some(text))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text
            .contains("metadata must not hold a number too large for a double"),
        "{}",
        r.text
    );
    assert_eq!(b.transaction_count().await, 0, "nothing was imported");
    // A second transaction with an order id the first still holds: the server never makes one,
    // and the first could no longer be found by its order id.
    let mut bad = exported.clone();
    let mut copy = bad["transactions"]["items"][0].clone();
    copy["transaction_id"] = json!(uuid::Uuid::new_v4());
    bad["transactions"]["items"]
        .as_array_mut()
        .unwrap()
        .push(copy);
    let r = b.admin(Method::PUT, "/__admin/state", Some(bad)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("is still taken"), "{}", r.text);
    let r = b.admin(Method::PUT, "/__admin/state", Some(exported)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// What a request may make, the state file takes back: the longest phone number, redirect URL and
/// server key a create accepts survive an export and an import.
#[tokio::test]
async fn the_largest_values_a_create_accepts_load_again() {
    let app = spawn_app();
    let key = "k".repeat(256);
    let phone = "8".repeat(64);
    let url = format!("https://shop.example/{}", "x".repeat(2048 - 21));
    let body = json!({
        "payment_type": "gopay",
        "gopay_partner": {"phone_number": phone, "country_code": "62", "redirect_url": url},
    });
    let created = app.create(&key, &body).await;
    assert_eq!(created.body["status_code"], "201", "{}", created.text);
    let id = created.body["account_id"].as_str().unwrap().to_string();
    let other = spawn_app();
    let loaded = app.export_into(&other).await;
    assert_eq!(loaded.status, 200, "{}", loaded.text);
    let got = other.get(&key, &id).await;
    assert_eq!(got.body["account_status"], "PENDING", "{}", got.text);
    // One character more of each is refused at the create, not kept.
    let mut longer = body.clone();
    longer["gopay_partner"]["redirect_url"] = json!(format!("{url}x"));
    let r = app.create(&key, &longer).await;
    assert_eq!(r.body["status_code"], "400", "{}", r.text);
    let r = app.create(&format!("{key}k"), &body).await;
    assert_eq!(r.body["status_code"], "401", "{}", r.text);
}
