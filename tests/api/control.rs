//! The control API: transitions and their refusals, expiry on the mock clock, balances, config,
//! reset and health.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn each_transition_changes_the_status_the_merchant_sees() {
    let app = spawn_app();
    let a = app.create_pending(KEY, "81234567891").await;
    let b = app.create_pending(KEY, "81234567892").await;

    assert_eq!(
        app.act(&a, "link").await.body["account"]["account_status"],
        "ENABLED"
    );
    assert_eq!(app.get(KEY, &a).await.body["account_status"], "ENABLED");
    assert_eq!(
        app.act(&a, "unlink").await.body["account"]["account_status"],
        "DISABLED"
    );
    assert_eq!(app.get(KEY, &a).await.body["status_code"], "204");
    let expired = app.act(&b, "expire").await;
    assert_eq!(expired.body["account"]["account_status"], "EXPIRED");
    assert_eq!(
        expired.body["notification"],
        Value::Null,
        "expiry sends no notification"
    );
    assert_eq!(
        app.get(KEY, &b).await.body,
        json!({"status_code": "204", "payment_type": "gopay", "account_id": b, "account_status": "EXPIRED"})
    );
}

#[tokio::test]
async fn invalid_transitions_are_refused_with_409_and_change_nothing() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    app.act(&id, "link").await;
    let before = app
        .admin(Method::GET, &format!("/__admin/accounts/{id}"), None)
        .await;
    let log_before = app.admin(Method::GET, "/__admin/notifications", None).await;

    for action in ["link", "expire"] {
        let r = app.act(&id, action).await;
        assert_eq!(r.status, 409, "{action}");
        assert_eq!(
            r.body,
            json!({
                "error": "invalid_transition",
                "message": format!("cannot {action} an account that is ENABLED"),
                "account_id": id,
                "account_status": "ENABLED",
                "allowed_transitions": ["unbind", "unlink"],
            })
        );
    }
    app.act(&id, "unlink").await;
    let r = app.act(&id, "unlink").await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["allowed_transitions"], json!([]));

    let after = app
        .admin(Method::GET, &format!("/__admin/accounts/{id}"), None)
        .await;
    assert_eq!(after.body["account_status"], "DISABLED");
    assert_eq!(
        before.body["payment_options"],
        after.body["payment_options"]
    );
    let log_after = app.admin(Method::GET, "/__admin/notifications", None).await;
    assert_eq!(
        log_after.body["notifications"].as_array().unwrap().len(),
        log_before.body["notifications"].as_array().unwrap().len() + 1,
        "only the unlink was notified"
    );
}

#[tokio::test]
async fn unknown_accounts_and_actions_are_404_json() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    for path in [
        "/__admin/accounts/00000000-0000-4000-8000-000000000000/link".to_string(),
        "/__admin/accounts/dummy/link".to_string(),
        format!("/__admin/accounts/{id}/approve"),
    ] {
        let r = app.admin(Method::POST, &path, None).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body["error"], "not_found", "{path}");
    }
    let r = app
        .admin(Method::GET, "/__admin/accounts/dummy", None)
        .await;
    assert_eq!(r.status, 404);
}

/// However many accounts a move of the clock expires, its answer names at most a page of them.
#[tokio::test]
async fn a_clock_move_that_expires_many_accounts_names_a_page_and_counts_them_all() {
    let app = std::sync::Arc::new(spawn_app());
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..1_001 {
        let app = app.clone();
        creates.spawn(async move { app.create_pending(KEY, &format!("8120{i:07}")).await });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(id) = creates.join_next().await {
        ids.insert(id.unwrap());
    }
    let r = app.advance_clock(3600).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["expired_count"], 1_001);
    let named = r.body["expired"].as_array().unwrap();
    assert_eq!(named.len(), 1_000);
    assert!(named.iter().all(|id| ids.contains(id.as_str().unwrap())));
    let pending = app
        .admin(
            Method::GET,
            &format!("/__admin/accounts?status=PENDING&server_key={KEY}"),
            None,
        )
        .await;
    assert_eq!(pending.body["accounts"], json!([]), "{}", pending.text);
}

#[tokio::test]
async fn pending_accounts_expire_when_the_clock_passes_their_ttl() {
    let app = spawn_app_with(|c| c.activation_ttl = std::time::Duration::from_secs(60));
    let id = app.create_pending(KEY, "81234567891").await;
    let view = app
        .admin(Method::GET, &format!("/__admin/accounts/{id}"), None)
        .await;
    assert!(view.body["expires_at"].is_string());

    let r = app.advance_clock(59).await;
    assert_eq!(r.body["expired"], json!([]));
    assert_eq!(r.body["expired_count"], 0);
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "PENDING");
    let r = app.advance_clock(1).await;

    assert_eq!(r.body["expired"], json!([id]));
    assert_eq!(r.body["expired_count"], 1);
    assert_eq!(r.body["offset_ms"], 60_000);
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "EXPIRED");
    assert_eq!(app.act(&id, "link").await.status, 409);
    let clock = app.admin(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock.body["offset_ms"], 60_000);
}

#[tokio::test]
async fn a_short_real_ttl_expires_without_touching_the_clock() {
    let app = spawn_app_with(|c| c.activation_ttl = std::time::Duration::from_millis(50));
    let id = app.create_pending(KEY, "81234567891").await;
    let wait = app
        .admin(
            Method::POST,
            "/__admin/notifications/wait",
            Some(json!({"account_id": id, "timeout_ms": 150})),
        )
        .await;
    assert_eq!(wait.status, 408, "nothing to deliver: {}", wait.text);
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "EXPIRED");
    let listed = app
        .admin(Method::GET, "/__admin/accounts?status=EXPIRED", None)
        .await;
    assert!(
        listed.body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["account_id"] == id)
    );
}

#[tokio::test]
async fn a_zero_ttl_never_expires() {
    let app = spawn_app_with(|c| c.activation_ttl = std::time::Duration::ZERO);
    let id = app.create_pending(KEY, "81234567891").await;
    app.advance_clock(864000).await;
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "PENDING");
}

#[tokio::test]
async fn balances_and_active_flags_can_be_patched() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    app.act(&id, "link").await;

    let r = app
        .admin(
            Method::PATCH,
            &format!("/__admin/accounts/{id}"),
            Some(json!({"payment_options": [
                {"name": "GOPAY_WALLET", "balance": "5000.00"},
                {"name": "PAY_LATER", "active": false}
            ]})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let options = &app.get(KEY, &id).await.body["metadata"]["payment_options"];
    assert_eq!(options[0]["balance"]["value"], "5000.00");
    assert_eq!(options[0]["active"], true);
    assert_eq!(options[1]["active"], false);
    assert_eq!(options[1]["balance"]["value"], "350000.00");
    for bad in [
        json!({"payment_options": [{"name": "GOPAY_WALLET", "balance": "lots"}]}),
        json!({"payment_options": [{"name": "GOPAY_SAVINGS", "balance": "1.00"}]}),
        json!({"payment_options": "none"}),
    ] {
        let r = app
            .admin(
                Method::PATCH,
                &format!("/__admin/accounts/{id}"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["error"], "bad_request");
    }
    assert_eq!(
        app.get(KEY, &id).await.body["metadata"]["payment_options"][0]["balance"]["value"],
        "5000.00",
        "a refused patch changes nothing"
    );

    // Kept as an amount: written back as Midtrans writes one.
    let r = app
        .admin(
            Method::PATCH,
            &format!("/__admin/accounts/{id}"),
            Some(json!({"payment_options": [{"name": "GOPAY_WALLET", "balance": "0042.50"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get(KEY, &id).await.body["metadata"]["payment_options"][0]["balance"]["value"],
        "42.50"
    );
}

#[tokio::test]
async fn accounts_can_be_listed_per_server_key() {
    let app = spawn_app();
    let mine = app.create_pending(KEY, "81234567891").await;
    let theirs = app.create_pending(OTHER_KEY, "81234567891").await;

    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/accounts?server_key={KEY}"),
            None,
        )
        .await;

    let ids: Vec<&Value> = r.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["account_id"])
        .collect();
    assert_eq!(ids, [&json!(mine)]);
    let all = app.admin(Method::GET, "/__admin/accounts", None).await;
    let all = all.body["accounts"].as_array().unwrap();
    assert_eq!(all.len(), 4 + 2, "fixtures plus the two");
    assert!(
        all.iter()
            .any(|a| a["account_id"] == theirs && a["server_key"] == OTHER_KEY)
    );
    assert!(all.iter().any(|a| a["server_key"] == Value::Null));
}

#[tokio::test]
async fn config_can_be_read_and_changed_at_run_time() {
    let app = spawn_app();
    let r = app.admin(Method::GET, "/__admin/config", None).await;
    assert_eq!(
        r.body,
        json!({
            "notification_url": null,
            "notification_urls": {},
            "payment_notification_url": null,
            "payment_notification_urls": {},
            "merchant_id": "M099098",
            "activation_ttl": "15m",
            "retry_schedule": ["2m", "10m", "30m", "1h 30m", "3h 30m"],
            "unbind_notification": true,
            "gopay_merchant_id": "G099098001",
            "pin_threshold": "100000.00",
            "verification_link_ttl": "5m",
            "transaction_ttl": "15m",
            "pre_auth_hold": "15m"
        })
    );

    let r = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({
                "notification_url": "http://127.0.0.1:9/hook",
                "merchant_id": "G1",
                "activation_ttl": 30,
                "retry_schedule": "100ms,200ms",
                "unbind_notification": false,
                "payment_notification_url": "http://127.0.0.1:9/pay",
                "payment_notification_urls": {"SB-Mid-server-A": "http://127.0.0.1:9/a"},
                "gopay_merchant_id": "G123456789",
                "pin_threshold": 5000,
                "verification_link_ttl": "1m",
                "transaction_ttl": 120,
                "pre_auth_hold": "1h"
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["payment_notification_url"], "http://127.0.0.1:9/pay");
    assert_eq!(
        r.body["payment_notification_urls"]["SB-Mid-server-A"],
        "http://127.0.0.1:9/a"
    );
    assert_eq!(r.body["pin_threshold"], "5000.00");
    assert_eq!(r.body["transaction_ttl"], "2m");
    assert_eq!(r.body["pre_auth_hold"], "1h");
    for bad in [
        json!({"pin_threshold": -1}),
        json!({"transaction_ttl": "8 days"}),
        json!({"verification_link_ttl": 0}),
        json!({"gopay_merchant_id": ""}),
        json!({"payment_notification_url": "ftp://x"}),
        // Under the clock's step, in each form a value can take.
        json!({"retry_schedule": "1s,500us"}),
        json!({"retry_schedule": ["1s", "500us"]}),
        json!({"retry_schedule": [1, 0.0005]}),
        json!({"activation_ttl": "500us"}),
        json!({"activation_ttl": 1e-12}),
    ] {
        let r = app
            .admin(Method::PATCH, "/__admin/config", Some(bad.clone()))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    assert_eq!(r.body["activation_ttl"], "30s");
    assert_eq!(r.body["retry_schedule"], json!(["100ms", "200ms"]));

    let bad = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({"merchant_id": "G2", "notification_url": "not a url"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let r = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({"notification_url": null})),
        )
        .await;
    assert_eq!(r.body["notification_url"], Value::Null);
    assert_eq!(
        r.body["merchant_id"], "G1",
        "the refused patch changed nothing"
    );
}

#[tokio::test]
async fn reset_by_server_key_removes_only_that_merchants_data() {
    let app = spawn_app();
    let mine = app.create_pending(KEY, "81234567891").await;
    let theirs = app.create_pending(OTHER_KEY, "81234567891").await;
    app.act(&mine, "link").await;
    app.act(&theirs, "link").await;

    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/reset?server_key={KEY}"),
            None,
        )
        .await;

    assert_eq!(r.body["accounts_removed"], 1);
    assert_eq!(app.get(KEY, &mine).await.body["status_code"], "404");
    assert_eq!(app.get(OTHER_KEY, &theirs).await.body["status_code"], "200");
    let log = app.admin(Method::GET, "/__admin/notifications", None).await;
    let keys: Vec<&Value> = log.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["server_key"])
        .collect();
    assert_eq!(keys, [&json!(OTHER_KEY)]);

    let r = app.admin(Method::POST, "/__admin/reset", None).await;
    assert_eq!(r.body, json!({"reset": "all", "accounts": 4}));
    assert_eq!(app.get(OTHER_KEY, &theirs).await.body["status_code"], "404");
}

#[tokio::test]
async fn a_reset_names_its_key_in_the_query_or_the_body_and_never_guesses() {
    let app = spawn_app();
    let mine = app.create_pending(KEY, "81234567891").await;
    let theirs = app.create_pending(OTHER_KEY, "81234567891").await;

    // Each of these would have been a reset of everything had the key it meant been ignored.
    let refused = [
        (format!("/__admin/reset?serverkey={KEY}"), None, "serverkey"),
        (
            "/__admin/reset?server_key=".to_string(),
            None,
            "must not be empty",
        ),
        (
            "/__admin/reset".to_string(),
            Some(b"{\"serverKey\": \"x\"}".to_vec()),
            "serverKey",
        ),
        (
            "/__admin/reset".to_string(),
            Some(b"{\"server_key\": null}".to_vec()),
            "must be a string",
        ),
        (
            "/__admin/reset?server_key=%20A".to_string(),
            None,
            "surrounding spaces",
        ),
        (
            "/__admin/reset".to_string(),
            Some(format!("server_key={KEY}").into_bytes()),
            "JSON object",
        ),
        (
            format!("/__admin/reset?server_key={OTHER_KEY}"),
            Some(format!("{{\"server_key\": \"{KEY}\"}}").into_bytes()),
            "send one",
        ),
    ];
    for (path, body, says) in refused {
        let r = app.raw(Method::POST, &path, &[], body).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.body["error"], "bad_request", "{path}");
        assert!(
            r.body["message"].as_str().unwrap().contains(says),
            "{path}: {}",
            r.text
        );
    }
    assert_eq!(app.get(KEY, &mine).await.body["status_code"], "201");
    assert_eq!(app.get(OTHER_KEY, &theirs).await.body["status_code"], "201");

    // The key in a JSON body (as `curl -d`, whose form type is not read), or in both places alike.
    let r = app
        .raw(
            Method::POST,
            "/__admin/reset",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!("{{\"server_key\": \"{KEY}\"}}").into_bytes()),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"reset": "server_key", "server_key": KEY, "accounts_removed": 1})
    );
    assert_eq!(app.get(KEY, &mine).await.body["status_code"], "404");
    assert_eq!(app.get(OTHER_KEY, &theirs).await.body["status_code"], "201");
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/reset?server_key={OTHER_KEY}"),
            Some(json!({"server_key": OTHER_KEY})),
        )
        .await;
    assert_eq!(r.body["accounts_removed"], 1);
    assert_eq!(app.get(OTHER_KEY, &theirs).await.body["status_code"], "404");
}

#[tokio::test]
async fn reset_puts_back_everything_the_server_started_with() {
    let app = spawn_app_with(|c| c.seed = Some(3));
    let first = app.create_pending(KEY, "81234567891").await;
    let config_before = app.admin(Method::GET, "/__admin/config", None).await.body;
    app.admin(
        Method::PATCH,
        "/__admin/config",
        Some(
            json!({"merchant_id": "G1", "notification_url": "http://127.0.0.1:9/x",
                    "notification_urls": {KEY: "http://127.0.0.1:9/k"}, "activation_ttl": "1m"}),
        ),
    )
    .await;
    app.advance_clock(3600).await;
    app.act("00000269-7836-49e5-bc65-e592afafec14", "unbind")
        .await;

    // One key: its accounts, notifications and own URL go; the rest stays.
    app.admin(
        Method::POST,
        &format!("/__admin/reset?server_key={KEY}"),
        None,
    )
    .await;
    let config = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert_eq!(config["notification_urls"], json!({}));
    assert_eq!(config["merchant_id"], "G1");

    let r = app.admin(Method::POST, "/__admin/reset", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.admin(Method::GET, "/__admin/config", None).await.body,
        config_before
    );
    let clock = app.admin(Method::GET, "/__admin/clock", None).await.body;
    assert_eq!(clock["offset_ms"], 0);
    assert_eq!(
        app.get(KEY, "00000269-7836-49e5-bc65-e592afafec14")
            .await
            .body["account_status"],
        "ENABLED",
        "fixtures are back"
    );
    assert!(app.notifications("").await.is_empty());
    // Ids start again from the seed, as on a fresh server.
    assert_eq!(app.create_pending(KEY, "81234567891").await, first);
}

#[tokio::test]
async fn health_answers_get_and_head() {
    let app = spawn_app();
    let r = app.admin(Method::GET, "/__admin/health", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    let r = app.admin(Method::HEAD, "/__admin/health", None).await;
    assert_eq!(r.status, 200);
    let r = app.admin(Method::DELETE, "/__admin/health", None).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn wait_times_out_with_408_and_what_matched() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    app.act(&id, "link").await;

    let r = app
        .admin(
            Method::POST,
            "/__admin/notifications/wait",
            Some(json!({"account_id": id, "count": 1, "timeout_ms": 100})),
        )
        .await;

    assert_eq!(r.status, 408);
    assert_eq!(r.body["error"], "timeout");
    assert_eq!(r.body["matched"], 0);
    assert_eq!(r.body["notifications"][0]["state"], "undelivered");
    let r = app
        .admin(
            Method::POST,
            "/__admin/notifications/wait",
            Some(json!({"cuont": 1})),
        )
        .await;
    assert_eq!(r.status, 400, "unknown fields are refused: {}", r.text);
}

#[tokio::test]
async fn bad_query_strings_get_a_json_400() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    for path in [
        "/__admin/accounts?status=LOST".to_string(),
        format!("/__admin/accounts/{id}/link?wait=maybe"),
        "/__admin/notifications?account_id=dummy".to_string(),
    ] {
        let method = if path.contains("/link") {
            Method::POST
        } else {
            Method::GET
        };
        let r = app.admin(method, &path, None).await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.body["error"], "bad_request", "{path}: {}", r.text);
    }
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "PENDING");
}

/// The removals that can be scoped to one merchant take its key the way a reset does: in the query
/// or the body, and a key that cannot be meant is refused rather than read as "everybody".
#[tokio::test]
async fn scoped_deletes_take_the_key_from_the_body_and_refuse_what_is_not_a_key() {
    let app = spawn_app();
    let setup = |key: &'static str| {
        let app = &app;
        async move {
            let r = app
                .admin(
                    Method::PUT,
                    "/__admin/phone-numbers/81299990077",
                    Some(json!({"outcome": "user_blocked", "server_key": key})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let r = app
                .admin(
                    Method::POST,
                    "/__admin/faults",
                    Some(json!({"server_key": key, "preset": "unavailable", "times": 5})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    };
    setup(KEY).await;
    setup(OTHER_KEY).await;
    // A rule is added under the key rule its removal applies.
    let r = app
        .admin(
            Method::POST,
            "/__admin/faults",
            Some(json!({"server_key": " K", "preset": "unavailable"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let routes = [
        "/__admin/phone-numbers",
        "/__admin/faults",
        "/__admin/requests",
    ];
    for path in routes {
        for (body, says) in [
            (r#"{"server_key": null}"#, "must be a string"),
            (r#"{"server_key": ""}"#, "must not be empty"),
            (r#"{"serverkey": "x"}"#, "serverkey"),
            (r#"[1]"#, "JSON object"),
        ] {
            let r = app
                .raw(Method::DELETE, path, &[], Some(body.as_bytes().to_vec()))
                .await;
            assert_eq!(r.status, 400, "{path} {body}: {}", r.text);
            assert!(
                r.body["message"].as_str().unwrap().contains(says),
                "{path} {body}: {}",
                r.text
            );
        }
        let r = app
            .raw(Method::DELETE, &format!("{path}?server_key="), &[], None)
            .await;
        assert_eq!(r.status, 400, "{path}?server_key=: {}", r.text);
        let body = format!(r#"{{"server_key": "{KEY}"}}"#).into_bytes();
        let r = app.raw(Method::DELETE, path, &[], Some(body)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    // Only KEY's went: OTHER_KEY's scenario and rule are still there.
    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/phone-numbers/81299990077?server_key={OTHER_KEY}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["phone_numbers"][0]["server_key"], OTHER_KEY);
    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/phone-numbers/81299990077?server_key={KEY}"),
            None,
        )
        .await;
    assert!(
        r.body["phone_numbers"]
            .as_array()
            .is_none_or(|l| l.iter().all(|s| s["server_key"] != KEY)),
        "{}",
        r.text
    );
    let r = app.admin(Method::GET, "/__admin/faults", None).await;
    let keys: Vec<&Value> = r.body["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["server_key"])
        .collect();
    assert_eq!(keys, [&json!(OTHER_KEY)], "{}", r.text);
}
