//! The request journal: `/__admin/requests`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

const ENABLED: &str = "00000269-7836-49e5-bc65-e592afafec14";

async fn find(app: &TestApp, matcher: Value) -> Vec<Value> {
    let r = app
        .admin(Method::POST, "/__admin/requests/find", Some(matcher))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["requests"].as_array().expect("requests").clone()
}

async fn count(app: &TestApp, matcher: Value) -> u64 {
    let r = app
        .admin(Method::POST, "/__admin/requests/count", Some(matcher))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["count"].as_u64().expect("count")
}

#[tokio::test]
async fn every_midtrans_request_is_recorded_with_its_answer() {
    let app = spawn_app();
    let r = app
        .client
        .post(format!("{}/v2/pay/account", app.url))
        .basic_auth(KEY, Some(""))
        .header("Content-Type", "application/json")
        .header("User-Agent", "merchant-app/1.0")
        .header("Idempotency-Key", "idem-1")
        .header("X-Override-Notification", "https://example.com/hook")
        .body(gopay("81234567890").to_string())
        .send()
        .await
        .unwrap();
    let created: Value = r.json().await.unwrap();
    let id = created["account_id"].as_str().unwrap().to_string();
    app.get(KEY, &id).await;
    // The control API is not journaled.
    app.admin(Method::GET, "/__admin/accounts", None).await;

    let r = app.admin(Method::GET, "/__admin/requests", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["requests"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", r.text);
    assert_eq!(r.body["next_cursor"], Value::Null);
    // Newest first.
    let (get, post) = (&list[0], &list[1]);
    assert_eq!(get["method"], "GET");
    assert_eq!(get["path"], format!("/v2/pay/account/{id}"));
    assert_eq!(get["body"], Value::Null);
    assert_eq!(get["response"]["account_id"], id.as_str());
    assert_eq!(post["method"], "POST");
    assert_eq!(post["path"], "/v2/pay/account");
    assert_eq!(post["query"], "");
    assert_eq!(post["server_key"], KEY);
    assert_eq!(post["body"], gopay("81234567890"));
    assert_eq!(post["status"], 200);
    assert_eq!(post["status_code"], "201");
    assert_eq!(post["response"], created);
    assert_eq!(post["fault"], Value::Null);
    assert_eq!(post["headers"]["user-agent"], "merchant-app/1.0");
    assert_eq!(post["headers"]["idempotency-key"], "idem-1");
    assert_eq!(post["headers"]["content-type"], "application/json");
    assert_eq!(
        post["headers"]["x-override-notification"],
        "https://example.com/hook"
    );
    assert!(post["headers"].get("authorization").is_none());
    assert!(post["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(post["at"].as_str().unwrap().ends_with('Z'));
    assert!(post["id"].as_u64().unwrap() < get["id"].as_u64().unwrap());
}

/// JSON allows numbers no double holds; most parsers (serde_json among them) then fail on the
/// whole document, so such a body is shown as text and the page stays readable.
#[tokio::test]
async fn a_body_with_a_number_too_large_for_a_double_is_kept_as_text() {
    let app = spawn_app();
    let text = r#"{"payment_type":"gopay","extra":{"n":1e400}}"#;
    app.request(
        Method::POST,
        "/v2/pay/account",
        Some(KEY),
        Some(text.into()),
    )
    .await;
    let found = find(&app, json!({"path": "/v2/pay/account"})).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["body"], text);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_kept_as_text_and_errors_are_recorded() {
    let app = spawn_app();
    let r = app
        .request(
            Method::POST,
            "/v2/pay/account?x=1",
            Some(KEY),
            Some("{oops".into()),
        )
        .await;
    assert_eq!(r.body["status_code"], "413");
    app.request(Method::GET, "/v2/nothing-here", None, None)
        .await;
    let found = find(&app, json!({"path": "/v2/pay/account"})).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["body"], "{oops");
    assert_eq!(found[0]["query"], "x=1");
    assert_eq!(found[0]["status_code"], "413");
    let unknown = find(&app, json!({"path": "/v2/nothing-here"})).await;
    assert_eq!(unknown[0]["status"], 404);
    assert_eq!(unknown[0]["server_key"], Value::Null);
}

#[tokio::test]
async fn find_and_count_match_patterns_body_subsets_keys_and_codes() {
    let app = spawn_app();
    let a = app.create_pending(KEY, "81200000001").await;
    let b = app.create_pending(KEY, "81200000002").await;
    app.link(&a).await;
    app.unbind(KEY, &a).await;
    app.unbind(KEY, &a).await; // 412 now
    app.unbind(KEY, &b).await; // 412: PENDING
    app.unbind(OTHER_KEY, &a).await; // 404 for the other key
    let unbinds = json!({"method": "POST", "path": "/v2/pay/account/*/unbind"});
    assert_eq!(count(&app, unbinds.clone()).await, 4);
    assert_eq!(
        count(
            &app,
            json!({"path": format!("/v2/pay/account/{a}/unbind"), "server_key": KEY})
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &app,
            json!({"path": "/v2/pay/account/*/unbind", "status_code": "204"})
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, json!({"server_key": OTHER_KEY, "status_code": "404"})).await,
        1
    );
    assert_eq!(
        count(
            &app,
            json!({"body": {"gopay_partner": {"phone_number": "81200000002"}}})
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            json!({"body": {"gopay_partner": {"phone_number": "1"}}})
        )
        .await,
        0
    );
    assert_eq!(count(&app, json!({"method": "get"})).await, 0);
    // Paging through find, newest first.
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/find",
            Some(json!({"path": "/v2/pay/account/*/unbind", "limit": 3})),
        )
        .await;
    let first = r.body["requests"].as_array().unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0]["server_key"], OTHER_KEY);
    let cursor = r.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_string();
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/find",
            Some(json!({"path": "/v2/pay/account/*/unbind", "limit": 3, "cursor": cursor})),
        )
        .await;
    assert_eq!(r.body["requests"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_filters_by_key_method_path_code_and_time() {
    let app = spawn_app();
    app.get(KEY, ENABLED).await;
    app.get(OTHER_KEY, ENABLED).await;
    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/requests?server_key={OTHER_KEY}&method=GET&status_code=200"),
            None,
        )
        .await;
    assert_eq!(
        r.body["requests"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let r = app
        .admin(
            Method::GET,
            "/__admin/requests?path=/v2/pay/account/*&limit=1",
            None,
        )
        .await;
    assert_eq!(r.body["requests"].as_array().unwrap().len(), 1);
    assert!(r.body["next_cursor"].is_string());
    // `since` on the mock clock: move it a day on, and nothing is that recent.
    let r = app.advance_clock(86_400).await;
    let now = r.body["now"].as_str().unwrap().to_string();
    let r = app
        .admin(Method::GET, &format!("/__admin/requests?since={now}"), None)
        .await;
    assert_eq!(r.body["requests"], json!([]), "{}", r.text);
    app.get(KEY, ENABLED).await;
    assert_eq!(count(&app, json!({"since": now})).await, 1);
    for bad in ["since=yesterday", "limit=0", "cursor=x", "colour=red"] {
        let r = app
            .admin(Method::GET, &format!("/__admin/requests?{bad}"), None)
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.body["error"], "bad_request");
    }
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/count",
            Some(json!({"limit": 1})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/find",
            Some(json!({"bogus": 1})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn forgetting_one_key_keeps_the_others_and_reset_forgets_all() {
    let app = spawn_app();
    app.get(KEY, ENABLED).await;
    app.get(OTHER_KEY, ENABLED).await;
    let r = app
        .admin(
            Method::DELETE,
            &format!("/__admin/requests?server_key={KEY}"),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"deleted": 1}));
    assert_eq!(count(&app, json!({})).await, 1);
    assert_eq!(count(&app, json!({"server_key": OTHER_KEY})).await, 1);
    // A reset of one key forgets its requests too.
    app.get(KEY, ENABLED).await;
    app.admin(
        Method::POST,
        &format!("/__admin/reset?server_key={OTHER_KEY}"),
        None,
    )
    .await;
    assert_eq!(count(&app, json!({"server_key": OTHER_KEY})).await, 0);
    assert_eq!(count(&app, json!({})).await, 1);
    app.admin(Method::POST, "/__admin/reset", None).await;
    assert_eq!(count(&app, json!({})).await, 0);
    app.get(KEY, ENABLED).await;
    let r = app.admin(Method::DELETE, "/__admin/requests", None).await;
    assert_eq!(r.body, json!({"deleted": 1}));
}

#[tokio::test]
async fn the_journal_keeps_the_newest_requests_or_none() {
    let app = spawn_app_with(|c| c.journal_size = 5);
    for _ in 0..12 {
        app.get(KEY, ENABLED).await;
    }
    let r = app.admin(Method::GET, "/__admin/requests", None).await;
    let list = r.body["requests"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[0]["id"], 12);
    assert_eq!(list[4]["id"], 8);

    let off = spawn_app_with(|c| c.journal_size = 0);
    off.get(KEY, ENABLED).await;
    assert_eq!(count(&off, json!({})).await, 0);
}

/// Bodies go into a page as the JSON they came as (a client's own spacing and key order kept), and
/// a page of large bodies ends early with a cursor rather than growing to hundreds of megabytes.
#[tokio::test]
async fn pages_embed_bodies_as_sent_and_end_early_when_large() {
    let app = spawn_app_with(|c| c.max_body_bytes = 2 * 1024 * 1024);
    let spaced = r#"{ "z": 1,  "a": [1, 2.50, "x"] }"#;
    let r = app
        .raw(
            Method::POST,
            "/v2/charge",
            &[
                ("Authorization", &basic(KEY)),
                ("Content-Type", "application/json"),
            ],
            Some(spaced.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app.admin(Method::GET, "/__admin/requests", None).await;
    assert!(
        r.text
            .contains(r#""body":{ "z": 1,  "a": [1, 2.50, "x"] }"#),
        "{}",
        r.text
    );

    // Ten bodies of a MiB each: more than a page holds.
    let big = format!(r#"{{"x":"{}"}}"#, "y".repeat(1 << 20));
    for _ in 0..10 {
        app.raw(
            Method::POST,
            "/v2/charge",
            &[("Authorization", &basic(KEY))],
            Some(big.clone().into_bytes()),
        )
        .await;
    }
    let (mut seen, mut cursor, mut pages) = (0, None::<String>, 0);
    loop {
        let path = match &cursor {
            Some(c) => format!("/__admin/requests?limit=1000&cursor={c}"),
            None => "/__admin/requests?limit=1000".to_string(),
        };
        let r = app.admin(Method::GET, &path, None).await;
        assert_eq!(r.status, 200);
        assert!(r.text.len() < 10 << 20, "a page of {} bytes", r.text.len());
        seen += r.body["requests"].as_array().unwrap().len();
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 11, "every entry once");
    assert_eq!(pages, 2, "the first page ended early");
}

#[tokio::test]
async fn a_path_filter_finds_a_request_as_it_was_routed_and_shows_it_as_sent() {
    let app = spawn_app();
    // `%61` is `a`: the route serves it as the account's GET.
    let sent = format!("/v2/pay/%61ccount/{ENABLED}");
    let auth = basic(KEY);
    let r = app
        .raw(
            Method::GET,
            &sent,
            &[("Authorization", auth.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let routed = format!("/v2/pay/account/{ENABLED}");
    assert_eq!(count(&app, json!({"path": routed})).await, 1);
    assert_eq!(count(&app, json!({"path": "/v2/pay/account/*"})).await, 1);
    let r = app
        .admin(
            Method::POST,
            "/__admin/requests/find",
            Some(json!({"path": routed})),
        )
        .await;
    assert_eq!(r.body["requests"][0]["path"], sent, "{}", r.text);
}
