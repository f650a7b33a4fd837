//! Servers embedded in Rust tests: the pool, isolation between parallel tests, and what stopping
//! or returning a server guarantees. Every test talks HTTP to real servers.

use std::time::Duration;

use pay_account_mock::{Config, pooled, start};
use reqwest::{Client, Method};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "SB-Mid-server-EMBEDDED";

/// One test's view of its server.
struct Api<'a> {
    client: &'a Client,
    base: &'a str,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .basic_auth(KEY, Some(""));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("answered");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, phone: &str) -> String {
        let body = json!({
            "payment_type": "gopay",
            "gopay_partner": {"phone_number": phone, "country_code": "62", "redirect_url": "https://example.com"}
        });
        let (_, r) = self.call(Method::POST, "/v2/pay/account", Some(body)).await;
        assert_eq!(r["status_code"], "201", "{r}");
        r["account_id"].as_str().expect("account_id").to_string()
    }

    /// Accounts this key owns (the fixtures are shared, not owned).
    async fn own_accounts(&self) -> Vec<String> {
        let (_, r) = self
            .call(
                Method::GET,
                &format!("/__admin/accounts?server_key={KEY}"),
                None,
            )
            .await;
        r["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .map(|a| a["account_id"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

async fn received(receiver: &MockServer) -> Vec<Value> {
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect()
}

/// What one test does with its own server: it sees only its own account, its own notification,
/// its own clock and config, whatever the other 199 do at the same time.
async fn one_test(i: usize, client: Client) {
    let mock = pooled(Config::default()).expect("pooled server");
    let receiver = receiver(200).await;
    let api = Api {
        client: &client,
        base: mock.url(),
    };
    assert!(
        api.own_accounts().await.is_empty(),
        "test {i}: a used server"
    );
    let (_, clock) = api.call(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock["offset_ms"], 0, "test {i}: a moved clock");
    let (_, config) = api.call(Method::GET, "/__admin/config", None).await;
    assert_eq!(
        config["notification_url"],
        Value::Null,
        "test {i}: {config}"
    );

    let url = format!("{}/notify", receiver.uri());
    api.call(
        Method::PATCH,
        "/__admin/config",
        Some(json!({"notification_url": url})),
    )
    .await;
    let id = api.create(&format!("8123{i:07}")).await;
    let (_, linked) = api
        .call(Method::POST, &format!("/__admin/accounts/{id}/link"), None)
        .await;
    assert_eq!(linked["notification"]["state"], "delivered", "{linked}");
    api.call(
        Method::POST,
        "/__admin/clock/advance",
        Some(json!({"seconds": i + 1})),
    )
    .await;

    assert_eq!(api.own_accounts().await, vec![id.clone()], "test {i}");
    let (_, clock) = api.call(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock["offset_ms"], (i as u64 + 1) * 1000, "test {i}");
    let bodies = received(&receiver).await;
    assert_eq!(bodies.len(), 1, "test {i}: {bodies:?}");
    assert_eq!(bodies[0]["account_id"], id.as_str(), "test {i}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_tests_each_with_their_own_mock_see_no_cross_talk() {
    let client = Client::new();
    // The second round runs on servers the first gave back to the pool: they must come back clean.
    for round in 0..2 {
        let tasks: Vec<_> = (0..200)
            .map(|i| tokio::spawn(one_test(i, client.clone())))
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            task.await
                .unwrap_or_else(|e| panic!("round {round}, test {i}: {e}"));
        }
    }
}

/// Fixtures built in code are held to the rules of the fixture files.
#[tokio::test]
async fn fixtures_built_in_code_are_checked_at_start() {
    let mut fixtures = pay_account_mock::fixtures::Fixtures::default();
    let mut accounts = fixtures.accounts.to_vec();
    accounts[0].country_code = "abcd".into();
    fixtures.accounts = accounts.into();
    let err = start(Config {
        port: 0,
        fixtures,
        ..Config::default()
    })
    .err()
    .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("country_code 'abcd' must be 1 to 3 digits"),
        "{err}"
    );
}

#[tokio::test]
async fn a_pooled_server_comes_back_as_after_a_reset() {
    // A config no other test uses, so the server handed back here is the one given back.
    let config = Config {
        merchant_id: "M-pool-reset".into(),
        ..Config::default()
    };
    let client = Client::new();
    let mock = pooled(config.clone()).expect("pooled");
    let first_url = mock.url().to_string();
    let api = Api {
        client: &client,
        base: &first_url,
    };
    let id = api.create("81234500001").await;
    api.call(Method::POST, &format!("/__admin/accounts/{id}/link"), None)
        .await;
    api.call(
        Method::POST,
        "/__admin/clock/advance",
        Some(json!({"seconds": 600})),
    )
    .await;
    api.call(
        Method::PATCH,
        "/__admin/config",
        Some(json!({"merchant_id": "M-changed", "notification_url": "http://127.0.0.1:9/x"})),
    )
    .await;
    let (_, list) = api.call(Method::GET, "/__admin/notifications", None).await;
    assert_eq!(list["notifications"].as_array().map(Vec::len), Some(1));
    let (status, _) = api
        .call(
            Method::POST,
            "/__admin/faults",
            Some(json!({"path": "/nowhere", "preset": "unavailable"})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, journal) = api.call(Method::GET, "/__admin/requests", None).await;
    assert_eq!(journal["requests"].as_array().map(Vec::len), Some(1));
    drop(mock);

    let mock = pooled(config).expect("pooled again");
    assert_eq!(mock.url(), first_url, "the same server, reused");
    let (_, journal) = api.call(Method::GET, "/__admin/requests", None).await;
    assert_eq!(journal["requests"], json!([]), "the journal is empty");
    assert!(api.own_accounts().await.is_empty());
    let (_, gone) = api
        .call(Method::GET, &format!("/v2/pay/account/{id}"), None)
        .await;
    assert_eq!(gone["status_code"], "404", "the account is gone: {gone}");
    let (_, clock) = api.call(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock["offset_ms"], 0);
    let (_, settings) = api.call(Method::GET, "/__admin/config", None).await;
    assert_eq!(settings["merchant_id"], "M-pool-reset");
    assert_eq!(settings["notification_url"], Value::Null);
    let (_, list) = api.call(Method::GET, "/__admin/notifications", None).await;
    assert_eq!(list["notifications"], json!([]));
    let (_, faults) = api.call(Method::GET, "/__admin/faults", None).await;
    assert_eq!(faults["faults"], json!([]));
    // The fixtures are back too.
    let (_, fixture) = api
        .call(
            Method::GET,
            "/v2/pay/account/00000269-7836-49e5-bc65-e592afafec14",
            None,
        )
        .await;
    assert_eq!(fixture["account_status"], "ENABLED", "{fixture}");
}

/// A server dropped while it still serves a request of its test (here, one a fault rule delays)
/// is not handed to the next test, where the request would finish on that test's state.
#[tokio::test]
async fn a_server_dropped_while_serving_is_not_handed_on() {
    let config = Config {
        merchant_id: "M-pool-busy".into(),
        ..Config::default()
    };
    let client = Client::new();
    let mock = pooled(config.clone()).expect("pooled");
    let first_url = mock.url().to_string();
    let api = Api {
        client: &client,
        base: &first_url,
    };
    let (status, _) = api
        .call(
            Method::POST,
            "/__admin/faults",
            Some(json!({"method": "POST", "path": "/v2/pay/account", "delay_ms": 3000})),
        )
        .await;
    assert_eq!(status, 201);
    let slow = tokio::spawn(
        client
            .post(format!("{first_url}/v2/pay/account"))
            .basic_auth(KEY, Some(""))
            .json(&json!({"payment_type": "gopay", "gopay_partner": {"phone_number": "81234500009", "country_code": "62"}}))
            .send(),
    );
    // The rule counts the request when it fires, before its delay.
    let mut fired = 0;
    for _ in 0..500 {
        let (_, faults) = api.call(Method::GET, "/__admin/faults", None).await;
        fired = faults["faults"][0]["fired"].as_u64().unwrap_or(0);
        if fired == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fired, 1, "the slow request arrived");
    drop(mock);

    let next = pooled(config.clone()).expect("pooled again");
    assert_ne!(
        next.url(),
        first_url,
        "a server still serving is not reused"
    );
    let next_url = next.url().to_string();
    let api = Api {
        client: &client,
        base: &next_url,
    };
    let _ = slow.await;
    assert!(api.own_accounts().await.is_empty());
}

const FIXTURE: &str = "00000269-7836-49e5-bc65-e592afafec14";

/// The shared ENABLED fixture account as the control API shows it.
async fn fixture(api: &Api<'_>) -> Value {
    let (status, a) = api
        .call(Method::GET, &format!("/__admin/accounts/{FIXTURE}"), None)
        .await;
    assert_eq!(status, 200, "{a}");
    a
}

/// A reset keeps the fixture accounts it built when nothing has changed them since (cheaper than
/// rebuilding them); these check that whatever a test changed still comes back.
#[tokio::test]
async fn a_pooled_server_brings_back_the_fixtures_whatever_the_test_changed() {
    let config = Config {
        merchant_id: "M-pool-fixtures".into(),
        ..Config::default()
    };
    let client = Client::new();
    let mock = pooled(config.clone()).expect("pooled");
    let base = mock.url().to_string();
    let api = Api {
        client: &client,
        base: &base,
    };
    let original = fixture(&api).await;
    assert_eq!(original["account_status"], "ENABLED");

    // A test that only reads: the next one finds the fixtures as they were, made at its reset.
    let (_, got) = api
        .call(Method::GET, &format!("/v2/pay/account/{FIXTURE}"), None)
        .await;
    assert_eq!(got["account_status"], "ENABLED", "{got}");
    let time = |a: &Value, field: &str| {
        humantime::parse_rfc3339(a[field].as_str().expect("a time")).expect("RFC 3339")
    };
    // A millisecond early: the times are whole milliseconds.
    let before_reset = std::time::SystemTime::now() - Duration::from_millis(1);
    drop(mock);
    let after_reset = std::time::SystemTime::now();
    let mock = pooled(config.clone()).expect("pooled again");
    assert_eq!(mock.url(), base, "the same server, reused");
    let again = fixture(&api).await;
    assert_eq!(again["payment_options"], original["payment_options"]);
    for field in ["created_at", "updated_at"] {
        let at = time(&again, field);
        assert!(
            before_reset <= at && at <= after_reset,
            "{field} is the reset's time: {again}"
        );
    }

    // A test that changes a fixture's balance and then unbinds it.
    let (status, patched) = api
        .call(
            Method::PATCH,
            &format!("/__admin/accounts/{FIXTURE}"),
            Some(json!({"payment_options": [{"name": "GOPAY_WALLET", "balance": "5.00"}]})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let (_, unbound) = api
        .call(
            Method::POST,
            &format!("/v2/pay/account/{FIXTURE}/unbind"),
            Some(json!({})),
        )
        .await;
    assert_eq!(unbound["account_status"], "DISABLED", "{unbound}");
    drop(mock);
    let mock = pooled(config).expect("pooled a third time");
    assert_eq!(mock.url(), base, "the same server, reused");
    let back = fixture(&api).await;
    assert_eq!(back["account_status"], "ENABLED", "{back}");
    assert_eq!(back["payment_options"], original["payment_options"]);
    let (_, got) = api
        .call(Method::GET, &format!("/v2/pay/account/{FIXTURE}"), None)
        .await;
    assert_eq!(got["account_status"], "ENABLED", "{got}");
}

/// With `seed`, a reused server draws the same ids as a fresh one, whatever the test before did.
#[tokio::test]
async fn a_pooled_server_with_a_seed_draws_the_ids_of_a_fresh_one() {
    let config = Config {
        merchant_id: "M-pool-seed".into(),
        seed: Some(42),
        ..Config::default()
    };
    let client = Client::new();
    let fresh = start(Config {
        port: 0,
        ..config.clone()
    })
    .expect("started");
    let fresh_url = fresh.url().to_string();
    let expected = Api {
        client: &client,
        base: &fresh_url,
    }
    .create("81234500011")
    .await;
    drop(fresh);

    let mock = pooled(config.clone()).expect("pooled");
    let base = mock.url().to_string();
    let api = Api {
        client: &client,
        base: &base,
    };
    assert_eq!(api.create("81234500011").await, expected);
    drop(mock);
    // The last test only read.
    let mock = pooled(config.clone()).expect("pooled again");
    assert_eq!(mock.url(), base, "the same server, reused");
    let _ = fixture(&api).await;
    drop(mock);
    let mock = pooled(config).expect("pooled a third time");
    assert_eq!(mock.url(), base, "the same server, reused");
    assert_eq!(api.create("81234500011").await, expected);
}

/// Links an account on a server whose receiver always fails, so that retries keep coming every
/// 30 ms; returns the receiver once they do.
async fn retrying(mock: &pay_account_mock::Server, client: &Client) -> MockServer {
    let receiver = receiver(500).await;
    let api = Api {
        client,
        base: mock.url(),
    };
    api.call(
        Method::PATCH,
        "/__admin/config",
        Some(json!({
            "notification_url": format!("{}/notify", receiver.uri()),
            "retry_schedule": vec!["30ms"; 10],
        })),
    )
    .await;
    let id = api.create("81234500002").await;
    api.call(
        Method::POST,
        &format!("/__admin/accounts/{id}/link?wait=false"),
        None,
    )
    .await;
    for _ in 0..200 {
        if received(&receiver).await.len() >= 2 {
            return receiver;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the retries never came");
}

/// How many attempts reach `receiver` from now on, over a while.
async fn attempts_after(receiver: &MockServer) -> usize {
    let before = received(receiver).await.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    received(receiver).await.len() - before
}

#[tokio::test]
async fn a_dropped_server_stops_listening_and_sends_nothing_more() {
    let client = Client::new();
    let mock = start(Config {
        port: 0,
        ..Config::default()
    })
    .expect("start");
    let url = mock.url().to_string();
    let receiver = retrying(&mock, &client).await;
    drop(mock);
    assert_eq!(attempts_after(&receiver).await, 0);
    assert!(
        client.get(&url).send().await.is_err(),
        "the port no longer answers"
    );
}

#[tokio::test]
async fn a_pooled_server_given_back_sends_nothing_more() {
    let client = Client::new();
    let config = Config {
        merchant_id: "M-pool-quiet".into(),
        ..Config::default()
    };
    let mock = pooled(config).expect("pooled");
    let receiver = retrying(&mock, &client).await;
    drop(mock);
    assert_eq!(attempts_after(&receiver).await, 0);
}

#[tokio::test]
async fn stop_waits_for_the_server_and_a_server_with_its_own_workers_still_serves() {
    let client = Client::new();
    for workers in [None, Some(2)] {
        let mock = start(Config {
            port: 0,
            workers,
            ..Config::default()
        })
        .expect("start");
        let url = mock.url().to_string();
        let api = Api {
            client: &client,
            base: &url,
        };
        let id = api.create("81234500003").await;
        let (status, account) = api
            .call(Method::GET, &format!("/v2/pay/account/{id}"), None)
            .await;
        assert_eq!(status, 200, "{workers:?}");
        assert_eq!(
            account["account_status"], "PENDING",
            "{workers:?}: {account}"
        );
        mock.stop().await;
        assert!(
            client.get(&url).send().await.is_err(),
            "{workers:?}: stopped"
        );
    }
}
