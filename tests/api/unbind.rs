//! `POST /v2/pay/account/{account_id}/unbind`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

const ENABLED: &str = "00000269-7836-49e5-bc65-e592afafec14";
const PENDING: &str = "00000269-7836-49e5-bc65-e592afafec15";
const EXPIRED: &str = "00000269-7836-49e5-bc65-e592afafec16";
const DISABLED: &str = "00000269-7836-49e5-bc65-e592afafec17";

fn unbound(id: &str) -> serde_json::Value {
    json!({
        "status_code": "204",
        "payment_type": "gopay",
        "account_id": id,
        "account_status": "DISABLED",
        "channel_response_code": "0",
        "channel_response_message": "Process service request successfully."
    })
}

fn disabled(id: &str) -> serde_json::Value {
    json!({
        "status_code": "204",
        "payment_type": "gopay",
        "account_id": id,
        "account_status": "DISABLED"
    })
}

#[tokio::test]
async fn unbinding_the_enabled_fixture_account_disables_it() {
    let app = spawn_app();
    let r = app.unbind(KEY, ENABLED).await;
    assert_eq!(r.status, 200);
    assert_json(&r);
    assert_eq!(r.body, unbound(ENABLED));
    let r = app.get(KEY, ENABLED).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, disabled(ENABLED));
    // A second unbind finds nothing to update.
    let r = app.unbind(KEY, ENABLED).await;
    assert_envelope(&r, 200, "412", "Account status cannot be updated.");
}

#[tokio::test]
async fn unbinding_a_linked_account_disables_it() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "8215023424").await;
    app.link(&id).await;
    let r = app.unbind(KEY, &id).await;
    assert_eq!(r.body, unbound(&id));
    assert_eq!(app.get(KEY, &id).await.body, disabled(&id));
}

#[tokio::test]
async fn only_an_enabled_account_can_be_unbound() {
    let app = spawn_app();
    let fresh = app.create_pending(KEY, "81212345678").await;
    for id in [PENDING, EXPIRED, DISABLED, fresh.as_str()] {
        let before = app.get(KEY, id).await.body;
        let r = app.unbind(KEY, id).await;
        assert_envelope(&r, 200, "412", "Account status cannot be updated.");
        assert_json(&r);
        // Nothing changed.
        assert_eq!(app.get(KEY, id).await.body, before, "{id}");
    }
}

#[tokio::test]
async fn unbinding_an_unknown_account_answers_404() {
    let app = spawn_app();
    for id in ["dummy", "3f2b6e1c-2f0a-4d8e-9c1b-7a6d5e4f3a2b"] {
        let r = app.unbind(KEY, id).await;
        assert_envelope(&r, 200, "404", "Account doesn't exist.");
    }
}

#[tokio::test]
async fn another_server_key_cannot_unbind_an_account() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "8215023424").await;
    app.link(&id).await;
    let r = app.unbind(OTHER_KEY, &id).await;
    assert_envelope(&r, 200, "404", "Account doesn't exist.");
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "ENABLED");
}

#[tokio::test]
async fn the_unbind_body_is_ignored() {
    // The official clients send `{}` (Python), `null` (Node), an empty body (PHP) or none (Go).
    let auth = basic(KEY);
    let json_headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let bare_headers = [("Authorization", auth.as_str())];
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Headers, Option<&str>); 6] = [
        (&json_headers, Some("{}")),
        (&json_headers, Some("null")),
        (&json_headers, Some("")),
        (&json_headers, Some(r#"{"reason": "user asked"}"#)),
        (&json_headers, None),
        (&bare_headers, None),
    ];
    for (headers, body) in cases {
        let app = spawn_app();
        let r = app
            .raw(
                Method::POST,
                &format!("/v2/pay/account/{ENABLED}/unbind"),
                headers,
                body.map(|b| b.as_bytes().to_vec()),
            )
            .await;
        assert_eq!(r.status, 200, "{body:?}");
        assert_eq!(r.body, unbound(ENABLED), "{body:?}");
    }
}
