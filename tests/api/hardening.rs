//! Hostile and runaway input: each test is the regression test of one class of problem (the clock,
//! unbounded deliveries, notification loops, the log's bounds, unpaged lists, cross-site requests,
//! script links, error formats, slow bodies, start-up values).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// The ENABLED fixture account every key can use.
const FIXTURE_ENABLED: &str = "00000269-7836-49e5-bc65-e592afafec14";

async fn clock(app: &TestApp) -> Value {
    app.admin(Method::GET, "/__admin/clock", None).await.body
}

async fn config(app: &TestApp) -> Value {
    app.admin(Method::GET, "/__admin/config", None).await.body
}

fn assert_control_error(r: &Reply, status: u16, kind: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_json(r);
    assert_eq!(r.body["error"], kind, "{}", r.text);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
}

// 1. Time arithmetic and formatting.

#[tokio::test]
async fn the_clock_refuses_moves_that_would_wrap_or_leave_the_calendar() {
    let app = spawn_app();
    let before = clock(&app).await;
    for body in [
        json!({"seconds": 300_000_000_000u64}),
        json!({"ms": 18_446_744_073_706_000_000u64}),
        json!({"seconds": -1}),
        json!({"seconds": 1, "ms": 1}),
        json!({}),
    ] {
        let r = app
            .admin(Method::POST, "/__admin/clock/advance", Some(body.clone()))
            .await;
        assert_control_error(&r, 400, "bad_request");
        assert_eq!(
            clock(&app).await["offset_ms"],
            before["offset_ms"],
            "{body}"
        );
    }
    // As far as it may go, everything still answers and formats.
    let r = app.advance_clock(100 * 365 * 24 * 3600 - 1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["now"].as_str().unwrap().starts_with("21"),
        "{}",
        r.text
    );
    let r = app.advance_clock(2).await;
    assert_control_error(&r, 400, "bad_request");
    let id = app.create_pending(KEY, "81234567891").await;
    let linked = app.act(&id, "link").await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    let unbound = app.unbind(KEY, &id).await;
    assert_eq!(
        unbound.body["account_status"], "DISABLED",
        "{}",
        unbound.text
    );
    assert_eq!(
        app.notifications(&format!("account_id={id}")).await.len(),
        2
    );
    for path in [
        "/__admin/clock",
        "/__admin/accounts",
        "/__admin/notifications",
        "/__admin/",
    ] {
        let r = app.admin(Method::GET, path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn durations_from_the_control_api_are_checked_and_change_nothing_when_bad() {
    let app = spawn_app();
    let before = config(&app).await;
    for patch in [
        json!({"activation_ttl": "300000000000000y"}),
        json!({"activation_ttl": "9999999999"}),
        json!({"activation_ttl": 1e300}),
        json!({"activation_ttl": -5}),
        // Above 0 but under the clock's step: it would count as 0, "never".
        json!({"activation_ttl": 1e-12}),
        json!({"activation_ttl": "1ns"}),
        json!({"pin_threshold": "100.50"}),
        json!({"retry_schedule": "1s,99999999999999"}),
        json!({"retry_schedule": [1, "8d"]}),
        json!({"retry_schedule": vec!["1s"; 21]}),
        json!({"retry_schedule": "soon"}),
        json!({"merchant_id": "M".repeat(65)}),
        json!({"notification_url": format!("http://x.test/{}", "a".repeat(3000))}),
    ] {
        let r = app
            .admin(Method::PATCH, "/__admin/config", Some(patch.clone()))
            .await;
        assert_control_error(&r, 400, "bad_request");
        assert_eq!(config(&app).await, before, "{patch}");
    }
    // Past a range by less than a millisecond, and told so, not shown as the end it exceeds.
    let r = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({"retry_schedule": "1s,7d 1ns"})),
        )
        .await;
    assert_control_error(&r, 400, "bad_request");
    assert!(r.text.contains("got 7days 1ns"), "{}", r.text);
    // A control body is an object: an array of the right length is not taken field by field.
    let nulls = serde_json::Value::Array(vec![serde_json::Value::Null; 14]);
    for path in [
        "/__admin/config",
        "/__admin/clock/advance",
        "/__admin/faults",
    ] {
        let r = app.admin(Method::POST, path, Some(nulls.clone())).await;
        let r = if r.status == 405 {
            app.admin(Method::PATCH, path, Some(nulls.clone())).await
        } else {
            r
        };
        assert_control_error(&r, 400, "bad_request");
        assert!(r.text.contains("a JSON object"), "{path}: {}", r.text);
    }
    assert_eq!(config(&app).await, before);
    // A new account still gets the configured TTL, not one wrapped into the past.
    let id = app.create_pending(KEY, "81234567891").await;
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "PENDING");
    // What GET shows, PATCH takes back (`pin_threshold` is shown as an amount, "100000.00").
    let r = app
        .admin(Method::PATCH, "/__admin/config", Some(before.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(config(&app).await, before);
    let r = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({"pin_threshold": "2500.00"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(config(&app).await["pin_threshold"], "2500.00");
}

// 2. Unbounded outbound deliveries.

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_deliveries_to_a_dead_receiver_is_bounded_and_api_requests_still_answer() {
    const BURST: usize = 20_000;
    const SLOTS: usize = 64;
    // A receiver that never answers: it listens, with a tiny backlog, and never accepts.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", dead.local_addr().unwrap());
    let app = std::sync::Arc::new(spawn_app_with(|c| {
        c.notification_url = Some(url);
        c.max_deliveries = SLOTS;
        c.notification_timeout = Duration::from_secs(30);
    }));
    let baseline = open_descriptors();

    // 20,000 notifications fall due at once.
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for _ in (worker..BURST).step_by(16) {
                let r = app
                    .admin(
                        Method::POST,
                        &format!("/__admin/accounts/{FIXTURE_ENABLED}/notify?wait=false"),
                        None,
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    // While they are queued, the Midtrans API answers and the descriptors stay bounded.
    for _ in 0..20 {
        let r = app.get(KEY, FIXTURE_ENABLED).await;
        assert_eq!(r.body["status_code"], "200", "{}", r.text);
        let open = open_descriptors();
        assert!(
            open <= baseline + SLOTS + 64,
            "{open} descriptors open (baseline {baseline}, {SLOTS} delivery slots)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending = app
        .admin(
            Method::GET,
            "/__admin/notifications?state=pending&limit=1",
            None,
        )
        .await;
    assert_eq!(
        pending.body["notifications"].as_array().map(Vec::len),
        Some(1),
        "still queued"
    );
    let health = app.admin(Method::GET, "/__admin/health", None).await;
    assert_eq!(health.status, 200);
    drop(dead);
}

// 3. Notification loops.

#[tokio::test]
async fn a_notification_url_that_leads_back_into_the_mock_is_refused_once() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![Duration::from_millis(5)]);
    for target in [
        "/__admin/notifications/1/retry".to_string(),
        format!("/__admin/accounts/{FIXTURE_ENABLED}/notify"),
    ] {
        app.admin(Method::POST, "/__admin/reset", None).await;
        let url = format!("{}{target}", app.url);
        let r = app
            .admin(
                Method::PATCH,
                "/__admin/config",
                Some(json!({"notification_url": url})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.act(FIXTURE_ENABLED, "notify").await;
        assert_eq!(r.body["notification"]["state"], "failed", "{}", r.text);
        let attempt = &r.body["notification"]["attempts"][0];
        assert_eq!(attempt["http_status"], 508, "{}", r.text);
        assert!(
            attempt["error"]
                .as_str()
                .unwrap()
                .contains("this server itself"),
            "{attempt}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let log = app.notifications("").await;
        assert_eq!(log.len(), 1, "{target}: nothing looped: {log:?}");
        assert_eq!(log[0]["attempts_total"], 1);
    }
    // Any request that carries a mock's instance id is refused, in the route's dialect.
    let r = app
        .raw(
            Method::POST,
            "/__admin/reset",
            &[("X-Pay-Account-Mock-Instance", "another")],
            None,
        )
        .await;
    assert_control_error(&r, 508, "loop_detected");
}

// 4. The log's bounds.

#[tokio::test]
async fn the_log_keeps_its_size_dropping_the_oldest_even_if_pending() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", dead.local_addr().unwrap());
    let app = spawn_app_with(|c| {
        c.notification_log_size = 5;
        c.notification_url = Some(url);
        c.notification_timeout = Duration::from_secs(30);
    });
    for _ in 0..8 {
        let r = app
            .admin(
                Method::POST,
                &format!("/__admin/accounts/{FIXTURE_ENABLED}/notify?wait=false"),
                None,
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let log = app.notifications("").await;
    let ids: Vec<u64> = log.iter().map(|n| n["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [4, 5, 6, 7, 8]);
    assert!(log.iter().all(|n| n["state"] == "pending"), "{log:?}");
    let r = app
        .admin(Method::GET, "/__admin/notifications/1", None)
        .await;
    assert_control_error(&r, 404, "not_found");
    drop(dead);
}

#[tokio::test]
async fn many_concurrent_waits_each_see_the_delivery_they_wait_for() {
    let receiver = receiver(200).await;
    let app = std::sync::Arc::new(spawn_app_with(|c| {
        c.notification_url = Some(format!("{}/notify", receiver.uri()))
    }));
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(app.create_pending(KEY, &format!("8123456{i:04}")).await);
        }
        ids
    };
    let waits: Vec<_> = ids
        .iter()
        .map(|id| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move {
                app.admin(
                    Method::POST,
                    "/__admin/notifications/wait",
                    Some(json!({"account_id": id, "timeout_ms": 20_000})),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for id in &ids {
        app.link(id).await;
    }
    for (wait, id) in waits.into_iter().zip(&ids) {
        let r = wait.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["notifications"][0]["account_id"], id.as_str());
    }
    let r = app
        .admin(
            Method::POST,
            "/__admin/notifications/wait",
            Some(json!({"count": 1001})),
        )
        .await;
    assert_control_error(&r, 400, "bad_request");
}

// 5. Unpaged lists.

#[tokio::test]
async fn lists_come_in_pages_with_a_cursor() {
    let app = spawn_app();
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.create_pending(KEY, &format!("8123456789{i}")).await);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .admin(
                Method::GET,
                &format!("/__admin/accounts?server_key={KEY}&limit=2&cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body["accounts"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(
            page.iter()
                .map(|a| a["account_id"].as_str().unwrap().to_string()),
        );
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, created, "every account once, oldest first");
    for query in ["limit=0", "limit=1001", "cursor=abc", "colour=blue"] {
        for list in ["accounts", "notifications"] {
            let r = app
                .admin(Method::GET, &format!("/__admin/{list}?{query}"), None)
                .await;
            assert_control_error(&r, 400, "bad_request");
        }
    }
    let r = app
        .admin(Method::GET, "/__admin/notifications?limit=1", None)
        .await;
    assert_eq!(r.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn the_dashboard_shows_one_page_of_accounts_with_a_link_to_the_next() {
    let app = spawn_app_with(|c| c.generate_accounts = 120);
    let r = app.admin(Method::GET, "/__admin/", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text.matches("<tr class=\"account\"").count(), 50);
    assert!(r.text.contains("Older accounts"), "{}", r.text);
    assert!(r.text.contains("All <b>124</b>"), "{}", r.text);
}

#[tokio::test]
async fn the_store_stops_at_its_limit_and_a_reset_frees_it() {
    // The four shipped fixture accounts count too.
    let app = spawn_app_with(|c| c.max_accounts = 6);
    app.create_pending(KEY, "81234567891").await;
    app.create_pending(OTHER_KEY, "81234567892").await;
    let r = app.create(KEY, &gopay("81234567893")).await;
    assert_envelope(
        &r,
        500,
        "500",
        "Sorry. Our system is recovering from unexpected issues. Please retry.",
    );
    assert_eq!(app.account_count().await, 6);
    app.admin(
        Method::POST,
        &format!("/__admin/reset?server_key={OTHER_KEY}"),
        None,
    )
    .await;
    app.create_pending(KEY, "81234567893").await;
}

/// A reset rebuilds every generated account, which takes a while for many of them; Midtrans
/// requests to the same server thread are answered meanwhile (the reset runs on the blocking pool).
#[tokio::test]
async fn midtrans_requests_are_answered_while_a_large_reset_runs() {
    let app = spawn_app_with(|c| c.generate_accounts = 100_000);
    // A store written since it was filled is rebuilt (an untouched one keeps its accounts).
    app.create_pending(KEY, "81234567890").await;
    let reset = app.reset_in_background();
    let mut answered_during = 0;
    while !reset.is_finished() {
        let r = app.get(KEY, "00000269-7836-49e5-bc65-e592afafec14").await;
        assert_eq!(r.status, 200, "{}", r.text);
        if !reset.is_finished() {
            answered_during += 1;
        }
    }
    assert_eq!(reset.await.unwrap(), 200);
    assert!(
        answered_during >= 3,
        "{answered_during} GETs answered during the reset"
    );
    assert_eq!(app.account_count().await, 100_004);
}

// 6. Cross-site requests and DNS rebinding.

#[tokio::test]
async fn a_page_on_another_origin_cannot_act_but_scripts_can() {
    let app = spawn_app();
    let count = app.account_count().await;
    let id = app.create_pending(KEY, "81234567891").await;
    let token = crate::pages::csrf(&app).await;
    for headers in [
        &[("Origin", "http://evil.example")][..],
        &[("Origin", "null")],
        &[("Sec-Fetch-Site", "cross-site")],
        &[
            ("Origin", "http://localhost:1"),
            ("Content-Type", "text/plain"),
        ],
    ] {
        for (method, path, body) in [
            (Method::POST, "/__admin/reset".to_string(), None),
            (
                Method::POST,
                "/__admin/clock/advance".to_string(),
                Some(br#"{"seconds": 60}"#.to_vec()),
            ),
            (Method::POST, format!("/__admin/accounts/{id}/link"), None),
            (
                Method::PATCH,
                "/__admin/config".to_string(),
                Some(br#"{"merchant_id": "EVIL"}"#.to_vec()),
            ),
            // Escaped paths reach the same routes: they are checked as routed, not as sent.
            (Method::POST, "/%5F%5Fadmin/reset".to_string(), None),
            (
                Method::POST,
                "/__%61dmin/clock/advance".to_string(),
                Some(br#"{"seconds": 60}"#.to_vec()),
            ),
            (Method::POST, format!("/%5F_admin/accounts/{id}/link"), None),
        ] {
            let r = app.raw(method, &path, headers, body).await;
            assert_control_error(&r, 403, "cross_site_request");
        }
        // Every dashboard form, even with this server's own form token.
        for path in [
            "/__admin/ui/accounts".to_string(),
            "/__admin/ui/clock".to_string(),
            "/__admin/ui/config".to_string(),
            "/__admin/ui/reset".to_string(),
            format!("/__admin/ui/accounts/{id}/link"),
            format!("/__admin/ui/accounts/{id}/balances"),
            "/__admin/ui/transactions/x/settle".to_string(),
            "/__admin/ui/notifications/1/retry".to_string(),
            "/%5F%5Fadmin/ui/reset".to_string(),
            format!("/__admin/%75i/accounts/{id}/link"),
        ] {
            let body = format!(
                "csrf={token}&confirm=yes&by=1d&merchant_id=EVIL&name=GOPAY_WALLET&balance=1.00\
                 &server_key={KEY}&phone_number=81234567899&country_code=62"
            );
            let r = app
                .raw(Method::POST, &path, headers, Some(body.into_bytes()))
                .await;
            assert_eq!(r.status, 403, "{path}: {}", r.text);
            assert!(
                r.text.starts_with("<!DOCTYPE html>"),
                "{path}: the dashboard's refusal is a page"
            );
        }
    }
    assert_eq!(clock(&app).await["offset_ms"], 0);
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "PENDING");
    assert_eq!(config(&app).await["merchant_id"], "M099098");
    assert_eq!(app.account_count().await, count + 1);

    // The same origin (the dashboard's own forms) and scripts (no Origin; curl -d sends a form
    // content type) are fine.
    let own = app.url.clone();
    let r = app
        .raw(
            Method::POST,
            "/__admin/clock/advance",
            &[
                ("Origin", own.as_str()),
                ("Content-Type", "application/json"),
            ],
            Some(br#"{"seconds": 1}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .raw(
            Method::POST,
            "/__admin/clock/advance",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(br#"{"seconds": 1}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .raw(
            Method::POST,
            &format!("/__admin/accounts/{id}/link?wait=false"),
            &[("Sec-Fetch-Site", "same-origin"), ("Origin", own.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Another site can neither show the pages in a frame (where it could lay its own page over their
/// buttons and have the user click them) nor read the control API's JSON from its page (an
/// `<img>` of `/__admin/state` held a transfer place per load); a link followed from another site
/// still opens a list or a page, a form from this server over another scheme is another site's,
/// and a form from the public URL's origin behind a proxy that sends its own `Host` is this
/// server's.
#[tokio::test]
async fn other_sites_can_neither_frame_the_pages_nor_read_the_control_api() {
    let app = spawn_app();
    let created = app.create(KEY, &gopay("81234567892")).await;
    let web = created.body["actions"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    for url in [
        format!("{}/__admin/", app.url),
        format!("{}/__admin/ui/config", app.url),
        web,
        format!("{}/v2/gopay/redirect/gpar_not-a-uuid/link", app.url),
    ] {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{url}");
        assert_eq!(
            r.headers()["content-security-policy"],
            "frame-ancestors 'none'",
            "{url}"
        );
    }

    let image = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "no-cors"),
        ("Sec-Fetch-Dest", "image"),
    ];
    let fetch = [
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Mode", "cors"),
    ];
    // A frame navigates too, and loads without the user.
    let frame = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "iframe"),
    ];
    // Another port of this host: the browser's `same-site`, and no `Origin` on an image.
    let next_door = [
        ("Sec-Fetch-Site", "same-site"),
        ("Sec-Fetch-Mode", "no-cors"),
        ("Sec-Fetch-Dest", "image"),
    ];
    for headers in [&image[..], &fetch[..], &frame[..], &next_door[..]] {
        for path in [
            "/__admin/state",
            "/__admin/notifications",
            "/__admin/requests",
        ] {
            let r = app.raw(Method::GET, path, headers, None).await;
            assert_control_error(&r, 403, "cross_site_request");
        }
    }
    let followed = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "document"),
    ];
    let typed_in = [
        ("Sec-Fetch-Site", "none"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "document"),
    ];
    for headers in [&followed[..], &followed[..2], &typed_in[..]] {
        for path in ["/__admin/notifications", "/__admin/"] {
            let r = app.raw(Method::GET, path, headers, None).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
        }
    }
    // Scripts and this server's own pages read as before.
    let own = app.url.clone();
    for headers in [
        &[][..],
        &[("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")],
    ] {
        let r = app
            .raw(Method::GET, "/__admin/notifications", headers, None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // The Host's name and port over https is another origin: this server speaks plain HTTP.
    let https = own.replacen("http://", "https://", 1);
    let r = app
        .raw(
            Method::POST,
            "/__admin/clock/advance",
            &[
                ("Origin", https.as_str()),
                ("Content-Type", "application/json"),
            ],
            Some(br#"{"seconds": 1}"#.to_vec()),
        )
        .await;
    assert_control_error(&r, 403, "cross_site_request");

    let proxied = spawn_app_with(|c| c.public_url = Some("https://qa.example".into()));
    for (origin, status) in [("https://qa.example", 200), ("http://qa.example", 403)] {
        let r = proxied
            .raw(
                Method::POST,
                "/__admin/clock/advance",
                &[("Origin", origin), ("Content-Type", "application/json")],
                Some(br#"{"seconds": 1}"#.to_vec()),
            )
            .await;
        assert_eq!(r.status, status, "{origin}: {}", r.text);
    }
}

/// An escaped path reaches the route its decoded form names; everything that depends on the route
/// (the dialect of a refusal, fault rules, the journal) goes by the route too.
#[tokio::test]
async fn an_escaped_path_is_treated_as_the_route_it_reaches() {
    let app = spawn_app();
    let r = app
        .raw(
            Method::GET,
            "/%5F%5Fadmin/health",
            &[("Host", "attacker.example")],
            None,
        )
        .await;
    assert_control_error(&r, 421, "unknown_host");

    // A catch-all rule fails every Midtrans call, escaped ones included, and no control call.
    let r = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"path": "/v2/pay/account/*", "preset": "internal_error"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let escaped = format!("/v2/pay/%61ccount/{FIXTURE_ENABLED}");
    let auth = basic(KEY);
    let r = app
        .raw(
            Method::GET,
            &escaped,
            &[("Authorization", auth.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, 500, "the rule fires on the route: {}", r.text);
    let r = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"preset": "internal_error"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.raw(Method::GET, "/__%61dmin/health", &[], None).await;
    assert_eq!(
        r.status, 200,
        "no fault rule applies to the control API: {}",
        r.text
    );
    app.admin(Method::DELETE, "/__admin/faults", None).await;

    // The journal holds the Midtrans call, not the escaped control calls.
    let r = app.admin(Method::GET, "/__admin/requests", None).await;
    let paths: Vec<&str> = r.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [escaped.as_str()], "{}", r.text);
}

#[tokio::test]
async fn requests_for_another_host_name_are_refused() {
    let app = spawn_app_with(|c| c.allowed_hosts = vec!["mock.ci".into()]);
    let r = app
        .raw(
            Method::GET,
            "/__admin/config",
            &[("Host", "attacker.example")],
            None,
        )
        .await;
    assert_control_error(&r, 421, "unknown_host");
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/pay/account/{FIXTURE_ENABLED}"),
            &[
                ("Host", "attacker.example:8080"),
                ("Authorization", &basic(KEY)),
            ],
            None,
        )
        .await;
    assert_envelope(
        &r,
        421,
        "421",
        "This server does not answer to that Host name (allow it with --allowed-host).",
    );
    let r = app
        .raw(
            Method::GET,
            "/__admin/",
            &[("Host", "attacker.example")],
            None,
        )
        .await;
    assert_eq!(r.status, 421);
    assert!(r.text.contains("--allowed-host"), "{}", r.text);
    // A Host that is not text is refused too, not let through unchecked.
    let answer = app
        .exchange(
            &[b"GET /__admin/config HTTP/1.1\r\nHost: \xffattacker\r\nConnection: close\r\n\r\n"],
            Duration::ZERO,
        )
        .await;
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    // Nor does a second Host hide the first (the HTTP layer refuses it), nor an absolute-form
    // target name another host.
    for (head, status) in [
        (&b"GET /__admin/config HTTP/1.1\r\nHost: localhost\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"[..], "400"),
        (&b"GET http://attacker.example/__admin/config HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"[..], "421"),
    ] {
        let answer = app.exchange(&[head], Duration::ZERO).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{}: {answer}",
            String::from_utf8_lossy(head)
        );
    }
    let answer = app
        .exchange(
            &[b"GET http://localhost/__admin/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"],
            Duration::ZERO,
        )
        .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for host in ["localhost:9", "127.0.0.1", "[::1]:8080", "mock.ci:80"] {
        let r = app
            .raw(Method::GET, "/__admin/health", &[("Host", host)], None)
            .await;
        assert_eq!(r.status, 200, "{host}: {}", r.text);
    }
}

// 7. Links that run script.

#[tokio::test]
async fn only_http_urls_are_redirected_to_or_linked() {
    let app = spawn_app();
    let evil = "javascript:alert(document.domain)//\u{7f}";
    let r = app
        .create(
            KEY,
            &json!({"payment_type": "gopay", "gopay_partner": {"phone_number": "81234567891", "country_code": "62", "redirect_url": evil}}),
        )
        .await;
    let app_link = r.body["actions"][1]["url"].as_str().unwrap().to_string();
    let done = app
        .raw(
            Method::POST,
            app_link.trim_start_matches(&app.url),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(b"pin=112233".to_vec()),
        )
        .await;
    assert_eq!(done.status, 200, "no redirect: {}", done.text);
    assert!(done.text.contains("Account linked"), "{}", done.text);
    assert!(!done.text.contains("javascript:"), "{}", done.text);
    let dashboard = app.admin(Method::GET, "/__admin/", None).await;
    assert!(
        !dashboard.text.contains("href=\"javascript"),
        "{}",
        dashboard.text
    );
}

// 9. Error formats off the happy path.

#[tokio::test]
async fn control_routes_answer_in_their_own_dialect_whatever_goes_wrong() {
    let app = spawn_app_with(|c| c.max_body_bytes = 1024);
    let big = json!({"merchant_id": "M".repeat(2000)});
    let r = app.admin(Method::PATCH, "/__admin/config", Some(big)).await;
    assert_control_error(&r, 413, "too_large");
    for (method, path) in [
        (Method::DELETE, "/__admin/clock"),
        (Method::PUT, "/__admin/accounts"),
        (Method::GET, "/__admin/reset"),
        (Method::GET, "/__admin/notifications/wait"),
    ] {
        let r = app.admin(method, path, None).await;
        assert_control_error(&r, 405, "method_not_allowed");
    }
    let r = app.admin(Method::GET, "/__admin/nothing-here", None).await;
    assert_control_error(&r, 404, "not_found");
    let r = app
        .admin(Method::POST, "/__admin/accounts/x/link", Some(json!(1)))
        .await;
    assert_control_error(&r, 404, "not_found");
    for (method, path, status) in [
        (Method::DELETE, "/__admin", 405),
        (Method::POST, "/__admin/", 405),
        (Method::GET, "/__admin/ui/accounts/x/link", 405),
        (Method::GET, "/__admin/ui/elsewhere", 404),
    ] {
        let r = app.admin(method, path, None).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert!(r.text.starts_with("<!DOCTYPE html>"), "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn head_works_wherever_get_does() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    let web = app
        .admin(Method::GET, &format!("/__admin/accounts/{id}"), None)
        .await
        .body["activation_links"]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&app.url)
        .to_string();
    for (path, auth) in [
        (format!("/v2/pay/account/{id}"), true),
        (web, false),
        ("/__admin/".into(), false),
        ("/__admin/accounts".into(), false),
        ("/__admin/notifications".into(), false),
        ("/__admin/clock".into(), false),
        ("/__admin/config".into(), false),
        ("/__admin/health".into(), false),
    ] {
        let r = app
            .request(Method::HEAD, &path, auth.then_some(KEY), None)
            .await;
        assert_eq!(r.status, 200, "HEAD {path}");
        assert!(r.text.is_empty(), "HEAD {path} has no body");
    }
}

// 10. Slow bodies.

/// Sends a request head announcing 100 bytes of body, then one byte every 200 ms; returns what
/// the server answered (the connection may also be closed after the answer).
async fn trickle(app: &TestApp, path: &str, auth: bool) -> String {
    slow_body(app, path, auth, true).await
}

/// Sends a request head announcing 100 bytes of body, then, with `drip`, one byte every 200 ms,
/// or else nothing more; returns what the server answered within 30 s.
async fn slow_body(app: &TestApp, path: &str, auth: bool, drip: bool) -> String {
    let addr = app.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth = if auth {
        format!("Authorization: {}\r\n", basic(KEY))
    } else {
        String::new()
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..150 {
        tokio::select! {
            n = stream.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") { break; }
                }
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if drip && stream.write_all(b" ").await.is_err() { break; }
            }
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408_instead_of_pinning_the_connection() {
    let app = spawn_app_with(|c| c.body_timeout = Duration::from_millis(600));
    let answer = trickle(&app, "/v2/pay/account", true).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let answer = trickle(&app, "/__admin/clock/advance", false).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(clock(&app).await["offset_ms"], 0);
}

/// A body announced and never sent times out too: nothing arrives to wake the request, so the
/// timer alone must (a create's body whole with its head arms none).
#[tokio::test]
async fn a_body_that_never_comes_gets_408() {
    let app = spawn_app_with(|c| c.body_timeout = Duration::from_millis(600));
    for (path, auth) in [
        ("/v2/pay/account", true),
        ("/v2/charge", true),
        ("/__admin/clock/advance", false),
    ] {
        let answer = slow_body(&app, path, auth, false).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }
    assert_eq!(clock(&app).await["offset_ms"], 0);
}

// 11. Start-up values.

#[tokio::test]
async fn start_refuses_values_out_of_range_naming_them() {
    for (config, expected) in [
        (
            pay_account_mock::Config {
                workers: Some(513),
                port: 0,
                ..Default::default()
            },
            "--workers must be between 1 and 128",
        ),
        (
            pay_account_mock::Config {
                generate_accounts: 50_000_000,
                port: 0,
                ..Default::default()
            },
            "--generate-accounts",
        ),
    ] {
        let err = pay_account_mock::start(config).err().expect("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(expected), "{err}");
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = pay_account_mock::start(pay_account_mock::Config {
        port,
        ..Default::default()
    })
    .err()
    .expect("the port is taken");
    assert!(
        err.to_string()
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
}
