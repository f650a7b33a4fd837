//! `GET /v2/pay/account/{account_id}`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

const ENABLED: &str = "00000269-7836-49e5-bc65-e592afafec14";
const PENDING: &str = "00000269-7836-49e5-bc65-e592afafec15";
const EXPIRED: &str = "00000269-7836-49e5-bc65-e592afafec16";
const DISABLED: &str = "00000269-7836-49e5-bc65-e592afafec17";

#[tokio::test]
async fn the_enabled_fixture_account_has_the_documented_payment_options() {
    let app = spawn_app();
    for key in [KEY, OTHER_KEY] {
        let r = app.get(key, ENABLED).await;
        assert_eq!(r.status, 200);
        assert_json(&r);
        assert_eq!(
            r.body,
            json!({
                "status_code": "200",
                "payment_type": "gopay",
                "account_id": ENABLED,
                "account_status": "ENABLED",
                "metadata": {
                    "payment_options": [
                        {"name": "GOPAY_WALLET", "active": true,
                         "balance": {"value": "1000000.00", "currency": "IDR"},
                         "metadata": {}, "token": "eyJ0eXBlIjogIkdPUEFZX1dBTExFVCIsICJpZCI6ICIifQ=="},
                        {"name": "PAY_LATER", "active": true,
                         "balance": {"value": "350000.00", "currency": "IDR"},
                         "metadata": {}, "token": "eyJ0eXBlIjogIlBBWV9MQVRFUiIsICJpZCI6ICIifQ=="}
                    ]
                }
            })
        );
    }
}

#[tokio::test]
async fn the_other_fixture_accounts_answer_their_documented_bodies() {
    let app = spawn_app();
    for (id, code, status) in [
        (PENDING, "201", "PENDING"),
        (EXPIRED, "204", "EXPIRED"),
        (DISABLED, "204", "DISABLED"),
    ] {
        let r = app.get(KEY, id).await;
        assert_eq!(r.status, 200, "{id}");
        assert_json(&r);
        assert_eq!(
            r.body,
            json!({
                "status_code": code,
                "payment_type": "gopay",
                "account_id": id,
                "account_status": status
            })
        );
    }
}

#[tokio::test]
async fn a_new_account_reads_as_201_pending() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81212345678").await;
    let r = app.get(KEY, &id).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "status_code": "201",
            "payment_type": "gopay",
            "account_id": id,
            "account_status": "PENDING"
        })
    );
}

#[tokio::test]
async fn a_linked_account_reads_as_200_enabled_with_fresh_tokens() {
    use base64::Engine;
    let app = spawn_app();
    let id = app.create_pending(KEY, "8103001242").await;
    app.link(&id).await;
    let r = app.get(KEY, &id).await;
    assert_eq!(r.body["status_code"], "200");
    assert_eq!(r.body["account_status"], "ENABLED");
    let options = r.body["metadata"]["payment_options"].as_array().unwrap();
    let names: Vec<&str> = options
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GOPAY_WALLET", "PAY_LATER"]);
    // 8103001242's scenario gives GoPay Later a larger balance.
    assert_eq!(
        options[1]["balance"],
        json!({"value": "5000000.00", "currency": "IDR"})
    );
    for o in options {
        assert_eq!(o["active"], true);
        assert_eq!(o["metadata"], json!({}));
        let token = base64::engine::general_purpose::STANDARD
            .decode(o["token"].as_str().unwrap())
            .expect("token is base64");
        let token: serde_json::Value = serde_json::from_slice(&token).unwrap();
        assert_eq!(token["type"], o["name"]);
        assert!(uuid::Uuid::parse_str(token["id"].as_str().unwrap()).is_ok());
    }
}

#[tokio::test]
async fn another_server_key_cannot_see_an_account() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81212345678").await;
    let r = app.get(OTHER_KEY, &id).await;
    assert_envelope(&r, 200, "404", "Account doesn't exist.");
    assert_json(&r);
    // The owner still can.
    assert_eq!(app.get(KEY, &id).await.body["status_code"], "201");
}

#[tokio::test]
async fn unknown_and_malformed_ids_answer_404() {
    let app = spawn_app();
    for id in [
        "dummy",
        "3f2b6e1c-2f0a-4d8e-9c1b-7a6d5e4f3a2b",
        "00000269-7836-49e5-bc65-e592afafec1",
        "gpar_00000269-7836-49e5-bc65-e592afafec14",
        "12345",
    ] {
        let r = app.get(KEY, id).await;
        assert_envelope(&r, 200, "404", "Account doesn't exist.");
    }
}

#[tokio::test]
async fn a_get_with_a_json_body_is_answered_normally() {
    // The official Node client sends `{}` with its GETs.
    let app = spawn_app();
    let auth = basic(KEY);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for body in ["{}", "null", "not json at all"] {
        let r = app
            .raw(
                Method::GET,
                &format!("/v2/pay/account/{PENDING}"),
                &headers,
                Some(body.into()),
            )
            .await;
        assert_eq!(r.status, 200, "{body}");
        assert_eq!(r.body["account_status"], "PENDING", "{body}: {}", r.text);
    }
}

#[tokio::test]
async fn the_password_part_of_basic_auth_is_ignored() {
    use base64::Engine;
    let app = spawn_app();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:some-password"))
    );
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/pay/account/{PENDING}"),
            &[("Authorization", auth.as_str())],
            None,
        )
        .await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
}
