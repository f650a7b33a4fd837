//! Fault and latency injection: `/__admin/faults`.

use std::time::{Duration, Instant};

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

const ENABLED: &str = "00000269-7836-49e5-bc65-e592afafec14";

async fn add(app: &TestApp, rule: Value) -> Value {
    let r = app.admin(Method::POST, "/__admin/faults", Some(rule)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

#[tokio::test]
async fn presets_answer_the_documented_failures() {
    let app = spawn_app();
    let cases = [
        (
            "internal_error",
            500,
            Some("500"),
            "Sorry. Our system is recovering from unexpected issues. Please retry.",
        ),
        (
            "unavailable",
            503,
            Some("503"),
            "Service is temporarily unavailable. Please retry.",
        ),
        (
            "gopay_timeout",
            200,
            Some("502"),
            "Timeout from gopay during creation",
        ),
    ];
    for (preset, http, code, message) in cases {
        let rule = add(&app, json!({"preset": preset, "times": 1})).await;
        let r = app.get(KEY, ENABLED).await;
        assert_envelope(&r, http, code.unwrap(), message);
        // Fired once: the next request gets the real answer.
        assert_eq!(
            app.get(KEY, ENABLED).await.body["account_status"],
            "ENABLED"
        );
        let shown = app
            .admin(
                Method::GET,
                &format!("/__admin/faults/{}", rule["id"]),
                None,
            )
            .await;
        assert_eq!(shown.body["fired"], 1);
        assert_eq!(shown.body["remaining"], 0);
    }
    add(&app, json!({"preset": "rate_limited", "times": 1})).await;
    let r = app.get(KEY, ENABLED).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body, json!({"message": "API rate limit exceeded"}));
    add(
        &app,
        json!({"preset": "intermittent_gopay_error", "times": 1}),
    )
    .await;
    let r = app.create(KEY, &gopay("81234500001")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"status_code": "202", "payment_type": "gopay", "channel_response_code": "901", "channel_response_message": "Intermittent gopay error"})
    );
}

#[tokio::test]
async fn mirror_mode_gives_the_body_code_as_status() {
    let app = spawn_app_with(|c| c.http_status = pay_account_mock::config::HttpStatusMode::Mirror);
    add(&app, json!({"preset": "gopay_timeout"})).await;
    let r = app.get(KEY, ENABLED).await;
    assert_envelope(&r, 502, "502", "Timeout from gopay during creation");
}

#[tokio::test]
async fn free_form_answers_carry_status_body_and_headers() {
    let app = spawn_app();
    add(
        &app,
        json!({"method": "GET", "status": 418, "body": {"teapot": true}, "headers": {"Retry-After": "7"}}),
    )
    .await;
    let r = app.get(KEY, ENABLED).await;
    assert_eq!(r.status, 418);
    assert_eq!(r.body, json!({"teapot": true}));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let raw = app
        .client
        .get(format!("{}/v2/pay/account/{ENABLED}", app.url))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["retry-after"], "7");
    app.admin(Method::DELETE, "/__admin/faults", None).await;
    add(
        &app,
        json!({"status": 502, "body_text": "<html>Bad Gateway</html>"}),
    )
    .await;
    let r = app.get(KEY, ENABLED).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.text, "<html>Bad Gateway</html>");
}

#[tokio::test]
async fn matchers_pick_the_requests_a_rule_applies_to() {
    let app = spawn_app();
    let a = app.create_pending(KEY, "81200000011").await;
    app.link(&a).await;
    add(
        &app,
        json!({"account_id": a, "path": "/v2/pay/account/*/unbind", "preset": "internal_error"}),
    )
    .await;
    add(
        &app,
        json!({"phone_number": "81200000099", "preset": "unavailable"}),
    )
    .await;
    add(
        &app,
        json!({"server_key": OTHER_KEY, "method": "GET", "preset": "rate_limited"}),
    )
    .await;
    // Not matched: the account's GET, another phone, another key's POST.
    assert_eq!(app.get(KEY, &a).await.status, 200);
    assert_eq!(app.create(KEY, &gopay("81200000098")).await.status, 200);
    assert_eq!(
        app.create(OTHER_KEY, &gopay("81200000097")).await.status,
        200
    );
    // Matched.
    assert_eq!(app.unbind(KEY, &a).await.status, 500);
    assert_eq!(app.create(KEY, &gopay("81200000099")).await.status, 503);
    assert_eq!(app.get(OTHER_KEY, ENABLED).await.status, 429);
    // The create that was not faulted still saw its body (put back after the phone was read).
    let r = app.create(KEY, &gopay("81200000096")).await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
    // Each rule counts its firings; the journal names the rule.
    let r = app.admin(Method::GET, "/__admin/faults", None).await;
    let fired: Vec<u64> = r.body["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fired"].as_u64().unwrap())
        .collect();
    assert_eq!(fired, [1, 1, 1]);
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/find",
            Some(json!({"status": 503})),
        )
        .await;
    assert_eq!(r.body["requests"][0]["fault"], 2);
    assert_eq!(
        r.body["requests"][0]["body"]["gopay_partner"]["phone_number"],
        "81200000099"
    );
    // The phone number as the create reads it: a JSON number is one too.
    let numeric = json!({
        "payment_type": "gopay",
        "gopay_partner": {"phone_number": 81_200_000_099_u64, "country_code": "62"}
    });
    let r = app.create(KEY, &numeric).await;
    assert_eq!(r.status, 503, "{}", r.text);
}

#[tokio::test]
async fn a_seeded_probability_fires_reproducibly() {
    async fn pattern() -> Vec<u16> {
        let app = spawn_app_with(|c| c.seed = Some(42));
        add(&app, json!({"probability": 0.5, "preset": "unavailable"})).await;
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(app.get(KEY, ENABLED).await.status.as_u16());
        }
        out
    }
    let a = pattern().await;
    assert_eq!(a, pattern().await);
    let failed = a.iter().filter(|&&s| s == 503).count();
    assert!((5..35).contains(&failed), "{failed} of 40 failed");
}

#[tokio::test]
async fn a_delay_holds_the_answer_back_without_blocking_others() {
    let app = spawn_app();
    add(
        &app,
        json!({"path": "/v2/pay/account/*", "method": "GET", "delay_ms": 300}),
    )
    .await;
    let slow = {
        let client = app.client.clone();
        let url = format!("{}/v2/pay/account/{ENABLED}", app.url);
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client
                .get(url)
                .basic_auth(KEY, Some(""))
                .send()
                .await
                .unwrap();
            (started.elapsed(), r.status().as_u16())
        })
    };
    // Another request meanwhile is answered (the worker is not blocked).
    let r = app.create(KEY, &gopay("81200000021")).await;
    assert_eq!(r.body["status_code"], "201");
    let (elapsed, status) = slow.await.unwrap();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert_eq!(status, 200);
    // A range: at least its lower bound.
    app.admin(Method::DELETE, "/__admin/faults", None).await;
    add(
        &app,
        json!({"delay_ms": 100, "delay_max_ms": 200, "preset": "internal_error"}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(app.get(KEY, ENABLED).await.status, 500);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn a_dropped_connection_is_an_error_not_a_hang() {
    let app = spawn_app();
    add(&app, json!({"drop_connection": true, "times": 1})).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .get(format!("{}/v2/pay/account/{ENABLED}", app.url))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .expect_err("no answer");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The server goes on answering.
    assert_eq!(app.get(KEY, ENABLED).await.status, 200);
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/find",
            Some(json!({"status": 0})),
        )
        .await;
    assert_eq!(r.body["requests"][0]["fault"], 1, "{}", r.text);
}

#[tokio::test]
async fn a_stalled_answer_sends_its_head_then_nothing() {
    let app = spawn_app();
    add(
        &app,
        json!({"stall_ms": 60_000, "preset": "internal_error", "times": 1}),
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/v2/pay/account/{ENABLED}", app.url))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(r.status(), 500);
    let err = r.bytes().await.expect_err("the body never comes");
    assert!(err.is_timeout() || err.is_body(), "{err:?}");
    assert_eq!(app.get(KEY, ENABLED).await.status, 200);
}

#[tokio::test]
async fn rules_are_isolated_per_key_listed_and_removed() {
    let app = spawn_app();
    let mine = add(&app, json!({"server_key": KEY, "preset": "unavailable"})).await;
    add(
        &app,
        json!({"server_key": OTHER_KEY, "preset": "unavailable"}),
    )
    .await;
    assert_eq!(mine["id"], 1);
    assert_eq!(mine["server_key"], KEY);
    assert_eq!(mine["fired"], 0);
    assert_eq!(mine["remaining"], Value::Null);
    // Everybody's rule applies to every key: a key's list shows it beside the key's own.
    add(&app, json!({"path": "/nowhere", "preset": "unavailable"})).await;
    let listed = |key: &'static str| {
        let app = &app;
        async move {
            let r = app
                .admin(
                    Method::GET,
                    &format!("/__admin/faults?server_key={key}"),
                    None,
                )
                .await;
            let ids: Vec<u64> = r.body["faults"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_u64().unwrap())
                .collect();
            ids
        }
    };
    assert_eq!(listed(KEY).await, [1, 3]);
    assert_eq!(listed(OTHER_KEY).await, [2, 3]);
    let r = app.admin(Method::GET, "/__admin/faults", None).await;
    assert_eq!(r.body["faults"].as_array().unwrap().len(), 3);
    // A key's delete takes its own only.
    let r = app
        .admin(
            Method::DELETE,
            &format!("/__admin/faults?server_key={OTHER_KEY}"),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"deleted": 1}));
    assert_eq!(app.get(OTHER_KEY, ENABLED).await.status, 200);
    assert_eq!(app.get(KEY, ENABLED).await.status, 503);
    let r = app.admin(Method::DELETE, "/__admin/faults/1", None).await;
    assert_eq!(r.status, 200);
    let r = app.admin(Method::DELETE, "/__admin/faults/1", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "not_found");
    assert_eq!(app.get(KEY, ENABLED).await.status, 200);
    // A reset of one key removes its rules; a full reset removes them all.
    add(&app, json!({"server_key": KEY, "preset": "unavailable"})).await;
    add(&app, json!({"preset": "unavailable", "path": "/nowhere"})).await;
    app.admin(
        Method::POST,
        &format!("/__admin/reset?server_key={KEY}"),
        None,
    )
    .await;
    let r = app.admin(Method::GET, "/__admin/faults", None).await;
    assert_eq!(r.body["faults"].as_array().unwrap().len(), 2);
    app.admin(Method::POST, "/__admin/reset", None).await;
    let r = app.admin(Method::GET, "/__admin/faults", None).await;
    assert_eq!(r.body["faults"], json!([]));
}

#[tokio::test]
async fn bad_rules_get_a_clear_400() {
    let app = spawn_app();
    for (rule, wanted) in [
        (json!({}), "needs an effect"),
        (json!({"preset": "teapot"}), "invalid JSON body"),
        (json!({"delay_ms": 10_000_000}), "delay_ms must be at most"),
        (json!({"status": 1000}), "status must be"),
        (
            json!({"times": 0, "preset": "unavailable"}),
            "times must be at least 1",
        ),
        (
            json!({"delay_ms": 300_000, "delay_max_ms": 400_000, "stall_ms": 200_001}),
            "together must be at most 600000",
        ),
    ] {
        let r = app
            .admin(Method::POST, "/__admin/faults", Some(rule.clone()))
            .await;
        assert_eq!(r.status, 400, "{rule}: {}", r.text);
        assert!(
            r.body["message"].as_str().unwrap().contains(wanted),
            "{rule}: {}",
            r.text
        );
    }
    // A number no double holds would make the rule's listing unreadable to most JSON readers.
    let r = app
        .raw(
            Method::POST,
            "/__admin/faults",
            &[("content-type", "application/json")],
            Some(br#"{"status": 200, "body": {"n": [1, 1e400]}}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("no double holds"), "{}", r.text);
    for _ in 0..1000 {
        add(&app, json!({"path": "/nowhere", "preset": "unavailable"})).await;
    }
    let r = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"preset": "unavailable"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("1000 rules"), "{}", r.text);
    assert_eq!(app.get(KEY, ENABLED).await.status, 200);
    // Listed in pages, as every control list: 100 unless asked, at most 1000.
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .admin(
                Method::GET,
                &format!("/__admin/faults?cursor={cursor}"),
                None,
            )
            .await;
        let page = r.body["faults"].as_array().unwrap();
        assert!(page.len() <= 100, "{}", page.len());
        ids.extend(page.iter().map(|f| f["id"].as_u64().unwrap()));
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(ids, (1..=1000).collect::<Vec<u64>>());
    let r = app
        .admin(Method::GET, "/__admin/faults?limit=1000", None)
        .await;
    assert_eq!(r.body["faults"].as_array().unwrap().len(), 1000);
    assert_eq!(r.body["next_cursor"], Value::Null);
    let r = app
        .admin(Method::GET, "/__admin/faults?limit=1001", None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn rules_from_the_config_are_in_effect_at_start_and_after_a_reset() {
    let rules = pay_account_mock::faults::parse_file(
        r#"[{"method":"GET","preset":"unavailable","times":1}]"#,
    )
    .unwrap();
    let app = spawn_app_with(|c| c.faults = rules);
    assert_eq!(app.get(KEY, ENABLED).await.status, 503);
    assert_eq!(app.get(KEY, ENABLED).await.status, 200);
    app.admin(Method::POST, "/__admin/reset", None).await;
    assert_eq!(app.get(KEY, ENABLED).await.status, 503);
}

/// A rule's JSON body is kept, sent and shown as the text it was given (not rebuilt as a tree of
/// values, which took tens of times its size).
#[tokio::test]
async fn a_rule_body_is_kept_as_the_json_text_it_came_as() {
    let app = spawn_app();
    let rule = r#"{"status": 502, "body": { "status_code" : "502",  "n": [1, 2.50] }}"#;
    let r = app
        .raw(
            Method::POST,
            "/__admin/faults",
            &[("Content-Type", "application/json")],
            Some(rule.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let given = r#"{ "status_code" : "502",  "n": [1, 2.50] }"#;
    assert!(r.text.contains(&format!(r#""body":{given}"#)), "{}", r.text);
    let r = app.admin(Method::GET, "/__admin/faults", None).await;
    assert!(r.text.contains(&format!(r#""body":{given}"#)), "{}", r.text);
    let r = app.get(KEY, "00000269-7836-49e5-bc65-e592afafec14").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.text, given);
}

#[tokio::test]
async fn a_rules_answer_is_bounded_headers_included() {
    let app = spawn_app_with(|c| c.max_body_bytes = 1024 * 1024);
    let rule = |body: usize, header: usize| json!({"status": 200, "body_text": "b".repeat(body), "headers": {"x-big": "h".repeat(header)}});
    add(&app, rule(200 * 1024, 56 * 1024 - 5)).await;
    let r = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(rule(200 * 1024, 56 * 1024)),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("body and headers must be at most 262144 bytes together"),
        "{}",
        r.text
    );
    let r = app
        .admin(Method::POST, "/__admin/faults", Some(rule(0, 300 * 1024)))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// The journal's entries that got no answer (a dropped connection), polled for up to 10 s.
async fn unanswered_within_10s(app: &TestApp, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app
            .admin(
                Method::POST,
                "/__admin/requests/find",
                Some(json!({"status": 0})),
            )
            .await;
        if !r.body["requests"].as_array().unwrap().is_empty() {
            return r.body["requests"][0].clone();
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_that_leaves_during_a_delay_is_let_go_and_its_request_not_run() {
    let app = spawn_app();
    add(
        &app,
        json!({"method": "POST", "path": "/v2/pay/account", "delay_ms": 60_000}),
    )
    .await;
    let before = app.account_count().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = impatient
        .post(format!("{}/v2/pay/account", app.url))
        .basic_auth(KEY, Some(""))
        .json(&gopay("81234567890"))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(err.is_timeout(), "{err:?}");
    // Within seconds, not the rule's minute: the connection is closed, and shown unanswered.
    let entry = unanswered_within_10s(&app, "the delay held on after its client left").await;
    assert_eq!(entry["fault"], 1, "{entry}");
    assert_eq!(entry["path"], "/v2/pay/account");
    assert_eq!(app.account_count().await, before, "the create ran");
}

#[tokio::test]
async fn a_client_that_leaves_during_a_stall_is_let_go() {
    let app = spawn_app();
    add(&app, json!({"stall_ms": 60_000, "status": 200})).await;
    // The head comes; then the client closes its end, as one that timed out does.
    let mut stream = tokio::net::TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "GET /v2/pay/account/{ENABLED} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        app.url.trim_start_matches("http://"),
        basic(KEY)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = vec![0u8; 4096];
    let n = stream.read(&mut got).await.unwrap();
    assert!(got[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &got[..n]);
    stream.shutdown().await.unwrap();
    // The server closes its end too, within seconds rather than the stall's minute.
    let rest = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut got))
        .await
        .expect("the stall held the connection after its client left");
    assert!(matches!(rest, Ok(0) | Err(_)), "{rest:?}");
}

#[tokio::test]
async fn a_phone_rule_leaves_the_routes_own_refusals_first() {
    let app = spawn_app_with(|c| c.max_body_bytes = 256);
    add(
        &app,
        json!({"phone_number": "81200000099", "preset": "unavailable", "times": 1}),
    )
    .await;
    // No key and a body over the limit: the route answers 401 before it reads a body, and so
    // must the rule's look for a phone number.
    let big =
        serde_json::to_vec(&json!({"gopay_partner": {"phone_number": "8".repeat(300)}})).unwrap();
    let r = app
        .raw(
            Method::POST,
            "/v2/pay/account",
            &[("content-type", "application/json")],
            Some(big.clone()),
        )
        .await;
    assert_envelope(&r, 401, "401", "Unknown Merchant server_key/id");
    // A form: the route's 415 comes before its body too.
    let auth = basic(KEY);
    let r = app
        .raw(
            Method::POST,
            "/v2/pay/account",
            &[
                ("Authorization", auth.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(big),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    // The rule still fires on its number.
    assert_eq!(app.create(KEY, &gopay("81200000099")).await.status, 503);
}

/// The journal dates a request by its arrival on the mock clock: a move of the clock while a
/// rule delays it does not move the request.
#[tokio::test]
async fn a_delayed_request_is_journaled_at_its_arrival_though_the_clock_moved_meanwhile() {
    let app = spawn_app();
    add(
        &app,
        json!({"path": "/v2/pay/account/*", "method": "GET", "delay_ms": 4_000}),
    )
    .await;
    let slow = {
        let client = app.client.clone();
        let url = format!("{}/v2/pay/account/{ENABLED}", app.url);
        tokio::spawn(async move {
            let r = client.get(url).basic_auth(KEY, Some("")).send().await;
            r.unwrap().status().as_u16()
        })
    };
    // Well inside the delay, however slow the machine.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let r = app
        .admin(
            Method::POST,
            "/__admin/clock/advance",
            Some(json!({"seconds": 86_400})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(slow.await.unwrap(), 200);

    let r = app
        .admin(
            Method::GET,
            "/__admin/requests?method=GET&path=/v2/pay/account/*",
            None,
        )
        .await;
    let at = r.body["requests"][0]["at"].as_str().unwrap().to_string();
    let at = humantime::parse_rfc3339(&at).unwrap();
    let wall = std::time::SystemTime::now();
    let ahead = at.duration_since(wall).unwrap_or_default();
    assert!(
        ahead < Duration::from_secs(3_600),
        "dated a day ahead, at the clock's new time: {}",
        r.text
    );
}
