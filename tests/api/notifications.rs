//! Signed notifications: what is sent, when, how it is signed, and how failures are retried.
//! A real HTTP receiver (wiremock) stands in for the merchant's callback.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

/// The documented formula, computed here independently of the server's code.
fn expected_signature(account_id: &str, status: &str, code: &str, key: &str) -> String {
    let digest = Sha512::digest(format!("{account_id}{status}{code}{key}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn app_notifying(receiver: &MockServer) -> TestApp {
    let url = format!("{}/notify", receiver.uri());
    spawn_app_with(|c| {
        c.notification_url = Some(url);
        c.retry_schedule = vec![Duration::from_millis(5)];
    })
}

async fn bodies(receiver: &MockServer) -> Vec<Value> {
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect()
}

/// Waits through the control API until `count` notifications reached `state`.
async fn wait_for(app: &TestApp, filter: Value, count: usize) -> Reply {
    let mut body = filter;
    body["count"] = json!(count);
    body["timeout_ms"] = json!(10_000);
    app.admin(Method::POST, "/__admin/notifications/wait", Some(body))
        .await
}

#[tokio::test]
async fn linking_sends_one_signed_account_linked_notification() {
    // Arrange
    let receiver = receiver(200).await;
    let app = app_notifying(&receiver);
    let id = app.create_pending(KEY, "81234567891").await;

    // Act
    let r = app.act(&id, "link").await;

    // Assert: the control call waited for the first attempt and reports it.
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["account"]["account_status"], "ENABLED");
    assert_eq!(r.body["notification"]["state"], "delivered");
    assert_eq!(r.body["notification"]["attempts"][0]["http_status"], 200);
    let received = receiver.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["accept"], "application/json");
    assert_eq!(request.headers["user-agent"], "Veritrans");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let signature = expected_signature(&id, "ENABLED", "200", KEY);
    assert_eq!(
        body,
        json!({
            "account_id": id,
            "merchant_id": "M099098",
            "payment_type": "gopay",
            "signature_key": signature,
            "status_code": "200",
            "account_status": "ENABLED",
            "status_message": "Midtrans account_linked notification"
        })
    );
    // Field order is the documented one.
    let text = String::from_utf8(request.body.clone()).unwrap();
    let keys: Vec<usize> = [
        "account_id",
        "merchant_id",
        "payment_type",
        "signature_key",
        "status_code",
        "account_status",
        "status_message",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\"")).unwrap())
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
    // And the merchant now sees the linked account with its payment options.
    let get = app.get(KEY, &id).await;
    assert_eq!(get.body["status_code"], "200");
    assert_eq!(
        get.body["metadata"]["payment_options"][0]["balance"],
        json!({"value": "1000000.00", "currency": "IDR"})
    );
}

#[tokio::test]
async fn unlink_in_the_app_and_merchant_unbind_each_send_one_account_unlinked() {
    let receiver = receiver(200).await;
    let app = app_notifying(&receiver);
    let a = app.create_pending(KEY, "81234567891").await;
    let b = app.create_pending(KEY, "81234567892").await;
    for id in [&a, &b] {
        app.act(id, "link").await;
    }

    let unlink = app.act(&a, "unlink").await;
    let unbind = app.unbind(KEY, &b).await;

    assert_eq!(unlink.body["account"]["account_status"], "DISABLED");
    assert_eq!(unbind.body["status_code"], "204");
    assert_eq!(
        wait_for(&app, json!({"status_code": "204"}), 2)
            .await
            .status,
        200
    );
    let unlinked: Vec<Value> = bodies(&receiver)
        .await
        .into_iter()
        .filter(|b| b["status_code"] == "204")
        .collect();
    assert_eq!(unlinked.len(), 2);
    for id in [&a, &b] {
        let body = unlinked.iter().find(|n| n["account_id"] == **id).unwrap();
        assert_eq!(
            body,
            &json!({
                "account_id": id,
                "merchant_id": "M099098",
                "payment_type": "gopay",
                "signature_key": expected_signature(id, "DISABLED", "204", KEY),
                "status_code": "204",
                "account_status": "DISABLED",
                "status_message": "Midtrans account_unlinked notification"
            })
        );
    }
}

#[tokio::test]
async fn unbind_notification_can_be_turned_off() {
    let receiver = receiver(200).await;
    let url = format!("{}/notify", receiver.uri());
    let app = spawn_app_with(|c| {
        c.notification_url = Some(url);
        c.unbind_notification = false;
    });
    let id = app.create_pending(KEY, "81234567891").await;
    app.act(&id, "link").await;

    assert_eq!(app.unbind(KEY, &id).await.body["status_code"], "204");

    let log = app
        .admin(
            Method::GET,
            &format!("/__admin/notifications?account_id={id}"),
            None,
        )
        .await;
    let events: Vec<&Value> = log.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["event"])
        .collect();
    assert_eq!(events, [&json!("account_linked")]);
}

#[tokio::test]
async fn notifications_are_signed_with_the_owning_merchants_key_and_merchant_id() {
    let receiver = receiver(200).await;
    let url = format!("{}/notify", receiver.uri());
    let app = spawn_app_with(|c| {
        c.notification_url = Some(url);
        c.merchant_id = "G141532850".into();
    });
    let id = app.create_pending(OTHER_KEY, "81234567891").await;

    let r = app.act(&id, "link").await;

    let payload = &r.body["notification"]["payload"];
    assert_eq!(payload["merchant_id"], "G141532850");
    assert_eq!(
        payload["signature_key"],
        expected_signature(&id, "ENABLED", "200", OTHER_KEY)
    );
    assert_eq!(bodies(&receiver).await[0], *payload);
}

/// Runs one failing delivery to the end and returns the attempts' HTTP statuses.
async fn attempts_until_final(app: &TestApp, state: &str) -> Vec<Value> {
    let id = app.create_pending(KEY, "81234567891").await;
    app.act(&id, "link").await;
    let r = wait_for(app, json!({"account_id": id, "state": state}), 1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["notifications"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["http_status"].clone())
        .collect()
}

#[tokio::test]
async fn retries_follow_the_midtrans_policy_by_response_class() {
    for (status, attempts) in [(500, 2), (503, 5), (400, 3), (404, 3), (302, 1), (502, 6)] {
        let receiver = receiver(status).await;
        let app = app_notifying(&receiver);

        let seen = attempts_until_final(&app, "failed").await;

        assert_eq!(seen, vec![json!(status); attempts], "HTTP {status}");
        assert_eq!(
            receiver.received_requests().await.unwrap().len(),
            attempts,
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn a_500_then_a_200_is_retried_exactly_once() {
    let receiver = own_server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let app = app_notifying(&receiver);

    let seen = attempts_until_final(&app, "delivered").await;

    assert_eq!(seen, [json!(500), json!(200)]);
    assert_eq!(receiver.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_closed_port_is_retried_five_times_and_each_error_is_logged() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = spawn_app_with(|c| {
        c.notification_url = Some(format!("http://127.0.0.1:{port}/notify"));
        c.retry_schedule = vec![Duration::from_millis(5)];
    });
    let id = app.create_pending(KEY, "81234567891").await;
    app.act(&id, "link").await;

    let r = wait_for(&app, json!({"account_id": id, "state": "failed"}), 1).await;

    let attempts = r.body["notifications"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 6);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["number"], i + 1);
        assert_eq!(a["http_status"], Value::Null);
        assert!(a["error"].as_str().is_some_and(|e| !e.is_empty()), "{a}");
        assert!(a["duration_ms"].is_number());
        assert_eq!(a["url"], format!("http://127.0.0.1:{port}/notify"));
    }
}

#[tokio::test]
async fn a_307_redirect_is_followed_with_post_and_the_same_body() {
    let receiver = own_server().await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", "/moved"))
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let app = app_notifying(&receiver);

    let seen = attempts_until_final(&app, "delivered").await;

    assert_eq!(seen, [json!(200)]);
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].url.path(), "/moved");
    assert_eq!(requests[1].method.as_str(), "POST");
    assert_eq!(requests[0].body, requests[1].body);
    let log = app.admin(Method::GET, "/__admin/notifications", None).await;
    let attempt = &log.body["notifications"][0]["attempts"][0];
    assert_eq!(attempt["redirects"], 1);
    assert_eq!(attempt["url"], format!("{}/moved", receiver.uri()));
}

/// A redirect to a URL longer than a notification URL may be is not followed (it would be kept
/// with the attempt, where a saved state could no longer be loaded): the attempt ends with the 307.
#[tokio::test]
async fn a_redirect_to_an_overlong_url_is_not_followed() {
    let receiver = own_server().await;
    let long = format!("/{}", "x".repeat(3000));
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", long.as_str()))
        .mount(&receiver)
        .await;
    let app = app_notifying(&receiver);

    let seen = attempts_until_final(&app, "failed").await;

    assert!(
        !seen.is_empty() && seen.iter().all(|s| *s == json!(307)),
        "{seen:?}"
    );
    let requests = receiver.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.url.path() == "/notify"));
    let log = app.admin(Method::GET, "/__admin/notifications", None).await;
    let attempt = &log.body["notifications"][0]["attempts"][0];
    assert_eq!(attempt["redirects"], 0);
    assert_eq!(attempt["url"], format!("{}/notify", receiver.uri()));
    // What the server keeps, it loads again.
    let loaded = app.export_into(&app).await;
    assert_eq!(loaded.status, 200, "{}", loaded.text);
}

#[tokio::test]
async fn the_real_retry_schedule_runs_on_the_mock_clock() {
    // Arrange: Midtrans' own schedule (2 min before the first retry) and a receiver that fails.
    let receiver = receiver(500).await;
    let url = format!("{}/notify", receiver.uri());
    let app = spawn_app_with(|c| c.notification_url = Some(url));
    let id = app.create_pending(KEY, "81234567891").await;
    let linked = app.act(&id, "link").await;
    assert_eq!(linked.body["notification"]["state"], "pending");
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1);

    // Act: 119 s is not enough; 2 min is.
    app.advance_clock(119).await;
    let short = app
        .admin(
            Method::POST,
            "/__admin/notifications/wait",
            Some(json!({"account_id": id, "state": "failed", "timeout_ms": 200})),
        )
        .await;
    assert_eq!(short.status, 408, "{}", short.text);
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1);
    app.advance_clock(1).await;

    // Assert
    let done = wait_for(&app, json!({"account_id": id, "state": "failed"}), 1).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(receiver.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn without_a_notification_url_the_notification_is_logged_undelivered() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;

    let r = app.act(&id, "link").await;

    let n = &r.body["notification"];
    assert_eq!(n["state"], "undelivered");
    assert_eq!(n["url"], Value::Null);
    assert_eq!(n["attempts"], json!([]));
    assert_eq!(
        n["payload"]["signature_key"],
        expected_signature(&id, "ENABLED", "200", KEY)
    );
}

#[tokio::test]
async fn a_logged_notification_can_be_retried_after_the_url_is_set() {
    let receiver = receiver(200).await;
    let app = spawn_app();
    let id = app.create_pending(KEY, "81234567891").await;
    let r = app.act(&id, "link").await;
    let nid = r.body["notification"]["id"].as_u64().unwrap();

    let patched = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({"notification_urls": {KEY: format!("{}/notify", receiver.uri())}})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let retried = app
        .admin(
            Method::POST,
            &format!("/__admin/notifications/{nid}/retry"),
            None,
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);

    assert_eq!(
        wait_for(&app, json!({"account_id": id}), 1).await.status,
        200
    );
    assert_eq!(bodies(&receiver).await.len(), 1);
}

#[tokio::test]
async fn each_retry_goes_to_the_url_of_the_moment_and_a_manual_retry_waits_for_its_attempt() {
    let failing = receiver(500).await;
    let working = receiver(200).await;
    let app = spawn_app_with(|c| c.notification_url = Some(format!("{}/notify", failing.uri())));
    let id = app.create_pending(KEY, "81234567891").await;
    let r = app.act(&id, "link").await;
    assert_eq!(
        r.body["notification"]["state"], "pending",
        "a 500 is retried"
    );
    let nid = r.body["notification"]["id"].as_u64().unwrap();

    // The merchant fixes its URL before the scheduled retry (2 minutes on the mock clock).
    let url = format!("{}/notify", working.uri());
    app.admin(
        Method::PATCH,
        "/__admin/config",
        Some(json!({"notification_url": url})),
    )
    .await;
    app.advance_clock(120).await;
    let delivered = wait_for(&app, json!({"account_id": id}), 1).await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    let n = &delivered.body["notifications"][0];
    assert_eq!(n["attempts"][1]["url"], url.as_str());
    assert_eq!(bodies(&failing).await.len(), 1);
    // wiremock records a request around the time it answers it: give it a moment (bounded).
    for _ in 0..100 {
        if !bodies(&working).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bodies(&working).await.len(), 1);

    // A manual retry answers after its attempt, like a transition; ?wait=false answers at once.
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/notifications/{nid}/retry"),
            None,
        )
        .await;
    assert_eq!(r.body["attempts_total"], 3, "{}", r.text);
    assert_eq!(r.body["state"], "delivered");
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/notifications/{nid}/retry?wait=false"),
            None,
        )
        .await;
    assert_eq!(r.body["state"], "pending", "{}", r.text);
    let mut total = Value::Null;
    for _ in 0..200 {
        let n = app
            .admin(Method::GET, &format!("/__admin/notifications/{nid}"), None)
            .await;
        total = n.body["attempts_total"].clone();
        if total == 4 && n.body["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(total, 4);

    // With the URL cleared, a retry goes nowhere and says so.
    app.admin(
        Method::PATCH,
        "/__admin/config",
        Some(json!({"notification_url": null})),
    )
    .await;
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/notifications/{nid}/retry"),
            None,
        )
        .await;
    assert_eq!(r.body["state"], "undelivered", "{}", r.text);
}

#[tokio::test]
async fn notify_sends_the_current_state_again() {
    let receiver = receiver(200).await;
    let app = app_notifying(&receiver);
    let id = app.create_pending(KEY, "81234567891").await;
    let pending = app.act(&id, "notify").await;
    assert_eq!(
        pending.status, 409,
        "PENDING has no notification: {}",
        pending.text
    );
    app.act(&id, "link").await;

    let again = app.act(&id, "notify").await;

    assert_eq!(again.body["notification"]["event"], "account_linked");
    assert_eq!(again.body["notification"]["state"], "delivered");
    let received = bodies(&receiver).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0], received[1]);
}

#[tokio::test]
async fn api_requests_do_not_wait_for_a_slow_receiver() {
    let receiver = own_server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&receiver)
        .await;
    let app = app_notifying(&receiver);
    let id = app.create_pending(KEY, "81234567891").await;

    let linked = app.act(&id, "link?wait=false").await;
    let unbound = app.unbind(KEY, &id).await;
    let log = app
        .admin(
            Method::GET,
            &format!("/__admin/notifications?account_id={id}"),
            None,
        )
        .await;

    // Both answered while the receiver was still holding the first delivery.
    assert_eq!(linked.body["notification"]["state"], "pending");
    assert_eq!(unbound.body["status_code"], "204");
    let states: Vec<&Value> = log.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["state"])
        .collect();
    assert_eq!(states, [&json!("pending"), &json!("pending")]);
}

/// A transition that waits for its notification's first attempt still names the notification it
/// sent when a reset takes it out of the log meanwhile.
#[tokio::test]
async fn a_transition_names_its_notification_when_a_reset_lands_during_its_wait() {
    let receiver = own_server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&receiver)
        .await;
    let app = app_notifying(&receiver);
    let id = app.create_pending(KEY, "81234567891").await;

    let (linked, reset) = tokio::join!(app.act(&id, "link"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.reset_in_background().await.unwrap()
    });
    assert_eq!(reset, 200);
    assert_eq!(linked.status, 200, "{}", linked.text);
    assert_eq!(linked.body["account"]["account_status"], "ENABLED");
    assert_eq!(
        linked.body["notification"]["event"], "account_linked",
        "{}",
        linked.text
    );
}
