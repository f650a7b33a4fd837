//! GoPay Tokenization charges: the decision table, every endpoint's answers and errors, balances,
//! refunds, idempotency, expiry on the mock clock, the PIN pages, and payment notifications checked
//! by a real receiver.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use wiremock::MockServer;

use crate::helpers::*;

const WALLET: &str = "GOPAY_WALLET";

/// The documented formula, computed here independently of the server's code.
fn signature(order_id: &str, code: &str, gross: &str, key: &str) -> String {
    let digest = Sha512::digest(format!("{order_id}{code}{gross}{key}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn app_paying_to(receiver: &MockServer) -> TestApp {
    let url = format!("{}/pay", receiver.uri());
    spawn_app_with(|c| {
        c.payment_notification_url = Some(url);
        c.retry_schedule = vec![Duration::from_millis(5)];
    })
}

/// Creates and links an account for `phone`; returns its id and the token of each payment option
/// by name.
async fn linked(app: &TestApp, key: &str, phone: &str) -> (String, Vec<(String, String)>) {
    let id = app.create_pending(key, phone).await;
    app.link(&id).await;
    let r = app.get(key, &id).await;
    let options = r.body["metadata"]["payment_options"]
        .as_array()
        .expect("payment options")
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["token"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (id, options)
}

fn token<'a>(options: &'a [(String, String)], name: &str) -> &'a str {
    &options.iter().find(|(n, _)| n == name).expect("option").1
}

fn charge_body(account: &str, token: &str, order_id: &str, amount: u64) -> Value {
    json!({
        "payment_type": "gopay",
        "gopay": {"account_id": account, "payment_option_token": token, "callback_url": "https://merchant.test/done"},
        "transaction_details": {"gross_amount": amount, "order_id": order_id}
    })
}

impl TestApp {
    async fn tx(&self, key: &str, id: &str, action: &str, body: Option<Value>) -> Reply {
        let method = if action == "status" {
            Method::GET
        } else {
            Method::POST
        };
        self.request(
            method,
            &format!("/v2/{id}/{action}"),
            Some(key),
            body.map(|b| b.to_string()),
        )
        .await
    }

    async fn balance(&self, key: &str, account: &str, option: &str) -> String {
        let r = self.get(key, account).await;
        r.body["metadata"]["payment_options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == option)
            .unwrap()["balance"]["value"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Waits through the control API until `count` payment notifications matching `filter` arrived.
async fn wait_for(app: &TestApp, mut filter: Value, count: usize) -> Vec<Value> {
    filter["count"] = json!(count);
    filter["timeout_ms"] = json!(10_000);
    filter["event"] = json!("payment");
    let r = app
        .admin(Method::POST, "/__admin/notifications/wait", Some(filter))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["notifications"].as_array().unwrap().clone()
}

async fn received(receiver: &MockServer) -> Vec<(String, Value, String)> {
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).expect("JSON"),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect()
}

/// Keys in descending order at every level, as Midtrans sends transaction notifications.
fn assert_descending(v: &Value) {
    match v {
        Value::Object(m) => {
            let ks: Vec<&String> = m.keys().collect();
            let mut sorted = ks.clone();
            sorted.sort_by(|a, b| b.cmp(a));
            assert_eq!(ks, sorted, "keys in descending order");
            m.values().for_each(assert_descending);
        }
        Value::Array(items) => items.iter().for_each(assert_descending),
        _ => {}
    }
}

#[tokio::test]
async fn a_charge_below_the_pin_threshold_settles_debits_and_notifies() {
    // Arrange
    let receiver = receiver(200).await;
    let app = app_paying_to(&receiver);
    let (account, options) = linked(&app, KEY, "81230000001").await;

    // Act
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, WALLET), "order-1", 10_000),
        )
        .await;

    // Assert: the sandbox's settlement body, in its order, expiry_time last.
    assert_eq!(r.status, 200, "{}", r.text);
    assert_json(&r);
    assert_eq!(
        keys(&r.body),
        [
            "status_code",
            "status_message",
            "transaction_id",
            "order_id",
            "merchant_id",
            "gross_amount",
            "currency",
            "payment_type",
            "transaction_time",
            "transaction_status",
            "fraud_status",
            "settlement_time",
            "expiry_time"
        ]
    );
    assert_eq!(r.body["status_code"], "200");
    assert_eq!(
        r.body["status_message"],
        "Success, GoPay transaction is successful"
    );
    assert_eq!(r.body["transaction_status"], "settlement");
    assert_eq!(r.body["gross_amount"], "10000.00");
    assert_eq!(r.body["currency"], "IDR");
    let merchant = r.body["merchant_id"].as_str().unwrap();
    assert!(
        merchant.starts_with('G') && merchant.len() == 10,
        "{merchant}"
    );
    let time = r.body["transaction_time"].as_str().unwrap();
    assert_eq!(time.len(), 19, "YYYY-MM-DD HH:MM:SS: {time}");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "990000.00");

    let n = wait_for(
        &app,
        json!({"order_id": "order-1", "transaction_status": "settlement"}),
        1,
    )
    .await;
    assert_eq!(n.len(), 1);
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1, "one notification for a charge without PIN");
    let (path, body, _) = &got[0];
    assert_eq!(
        path, "/pay",
        "the Payment Notification URL, not the linking one"
    );
    assert_descending(body);
    assert_eq!(body["status_code"], "200");
    assert_eq!(body["transaction_status"], "settlement");
    assert_eq!(body["payment_option_type"], WALLET);
    assert_eq!(body["status_message"], "midtrans payment notification");
    assert_eq!(body["merchant_id"], merchant);
    assert_eq!(
        body["signature_key"],
        signature("order-1", "200", "10000.00", KEY)
    );
}

#[tokio::test]
async fn a_deny_notification_names_no_payment_option() {
    // Arrange: the sandbox number whose balances are zero.
    let receiver = receiver(200).await;
    let app = app_paying_to(&receiver);
    let (poor, options) = linked(&app, KEY, "8242014881").await;

    // Act
    let r = app
        .charge(
            KEY,
            &charge_body(&poor, token(&options, WALLET), "o-poor", 10_000),
        )
        .await;
    assert_eq!(r.body["transaction_status"], "deny", "{}", r.text);
    wait_for(
        &app,
        json!({"order_id": "o-poor", "transaction_status": "deny"}),
        1,
    )
    .await;

    // Assert: as the documented deny sample, which has the channel's answer and no option.
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    let body = &got[0].1;
    assert_descending(body);
    assert_eq!(body["status_code"], "202");
    assert_eq!(body["channel_response_code"], "201");
    assert_eq!(body["channel_response_message"], "Insufficient Balance");
    assert!(body.get("payment_option_type").is_none(), "{body}");
    // The status answer still names it ("only available for Gopay payment type").
    let status = app.tx(KEY, "o-poor", "status", None).await;
    assert_eq!(
        status.body["payment_option_type"], WALLET,
        "{}",
        status.text
    );
}

#[tokio::test]
async fn a_charge_at_the_threshold_waits_for_the_pin_on_the_verification_page() {
    // Arrange
    let receiver = receiver(200).await;
    let app = app_paying_to(&receiver);
    let (account, options) = linked(&app, KEY, "81230000002").await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Act: a pending charge with its two verification links.
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, WALLET), "order-pin", 100_000),
        )
        .await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
    assert_eq!(
        r.body["status_message"],
        "GoPay transaction is created. Action(s) required"
    );
    assert_eq!(r.body["transaction_status"], "pending");
    let actions = r.body["actions"].as_array().unwrap();
    assert_eq!(actions[0]["name"], "verification-link-url");
    assert_eq!(actions[1]["name"], "verification-link-app");
    let web = actions[0]["url"].as_str().unwrap().to_string();
    assert!(
        web.starts_with(&format!("{}/v2/gopay/redirect/gppr_", app.url)),
        "{web}"
    );
    assert!(web.ends_with("/charge"));
    assert_eq!(
        app.balance(KEY, &account, WALLET).await,
        "1000000.00",
        "not debited yet"
    );

    // Opening the page twice does not use it up.
    for _ in 0..2 {
        let page = no_redirects.get(&web).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("IDR 100000.00"), "{html}");
        assert!(html.contains("GOPAY_WALLET"));
    }
    let page = no_redirects
        .get(&web)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token_value = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("form token")
        .to_string();

    // The PIN form as the page sends it.
    let send_pin = |pin: &str| {
        no_redirects
            .post(&web)
            .form(&[("token", token_value.as_str()), ("pin", pin)])
            .send()
    };

    // A wrong PIN changes nothing.
    let wrong = send_pin("000000").await.unwrap();
    assert_eq!(wrong.status(), 422);
    let status = app.tx(KEY, "order-pin", "status", None).await;
    assert_eq!(status.body["transaction_status"], "pending");
    // So does a form without the page's token (403), or with a field twice (400); the link
    // still works after either.
    for (form, code) in [
        (vec![("token", "forged"), ("pin", "112233")], 403),
        (
            vec![
                ("token", token_value.as_str()),
                ("pin", "112233"),
                ("pin", "000000"),
            ],
            400,
        ),
    ] {
        let refused = no_redirects.post(&web).form(&form).send().await.unwrap();
        assert_eq!(refused.status(), code);
    }
    let status = app.tx(KEY, "order-pin", "status", None).await;
    assert_eq!(status.body["transaction_status"], "pending");

    // The right PIN settles, debits, and goes back to the merchant.
    let right = send_pin("112233").await.unwrap();
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "https://merchant.test/done");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "900000.00");

    // The web link worked once. Pay pressed twice (a double click) answers the second press as
    // the first, and pays nothing more; a wrong PIN after it is told the link is used.
    let again = no_redirects.get(&web).send().await.unwrap();
    assert_eq!(again.status(), 410);
    let second = send_pin("112233").await.unwrap();
    assert_eq!(second.status(), 303);
    assert_eq!(second.headers()["location"], "https://merchant.test/done");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "900000.00");
    let wrong = send_pin("000000").await.unwrap();
    assert_eq!(wrong.status(), 410);

    // Assert: pending, then settlement.
    wait_for(
        &app,
        json!({"order_id": "order-pin", "transaction_status": "settlement"}),
        1,
    )
    .await;
    let got = received(&receiver).await;
    let codes: Vec<(&str, &str)> = got
        .iter()
        .map(|(_, b, _)| {
            (
                b["transaction_status"].as_str().unwrap(),
                b["status_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(codes, [("pending", "201"), ("settlement", "200")]);
    assert!(
        got[0].1.get("payment_option_type").is_none(),
        "pending has no payment_option_type"
    );
    assert_eq!(
        got[0].1["signature_key"],
        signature("order-pin", "201", "100000.00", KEY)
    );

    // Once something else has changed the payment (a refund), the PIN sent again is no second
    // press any more: the link is used.
    let refunded = app
        .tx(
            KEY,
            "order-pin",
            "refund",
            Some(json!({"refund_key": "r-1", "amount": 1000})),
        )
        .await;
    assert_eq!(refunded.body["status_code"], "200", "{}", refunded.text);
    let late = send_pin("112233").await.unwrap();
    assert_eq!(late.status(), 410);
}

#[tokio::test]
async fn the_decision_table() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000003").await;
    let wallet = token(&options, WALLET).to_string();

    // Insufficient balance: the sandbox number with zero balances.
    let (poor, poor_options) = linked(&app, KEY, "8242014881").await;
    let r = app
        .charge(
            KEY,
            &charge_body(&poor, token(&poor_options, WALLET), "o-deny", 10_000),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status_code"], "202");
    assert_eq!(r.body["status_message"], "GoPay transaction is denied");
    assert_eq!(r.body["transaction_status"], "deny");
    assert_eq!(r.body["channel_response_code"], "201");
    assert_eq!(r.body["channel_response_message"], "Insufficient Balance");
    assert_eq!(app.balance(KEY, &poor, WALLET).await, "0.00");

    // Unknown, foreign and not-ENABLED accounts: the wallet does not exist.
    let pending = app.create_pending(KEY, "81230000004").await;
    let foreign = linked(&app, OTHER_KEY, "81230000005").await.0;
    for (who, id) in [
        (
            "unknown",
            "00000000-0000-4000-8000-000000000000".to_string(),
        ),
        ("pending", pending),
        ("foreign", foreign),
        ("not-a-uuid", "abc".to_string()),
    ] {
        let r = app
            .charge(KEY, &charge_body(&id, &wallet, &format!("o-{who}"), 10))
            .await;
        assert_envelope(&r, 200, "404", "GoPay Wallet doesn't exist.");
    }
    let r = app.unbind(KEY, &account).await;
    assert_eq!(r.body["status_code"], "204");
    let r = app
        .charge(KEY, &charge_body(&account, &wallet, "o-disabled", 10))
        .await;
    assert_envelope(&r, 200, "404", "GoPay Wallet doesn't exist.");

    // A token of no option of that account.
    let (account, options) = linked(&app, KEY, "81230000006").await;
    let r = app
        .charge(KEY, &charge_body(&account, &wallet, "o-token", 10))
        .await;
    assert_validation(&r, &["GoPay token is invalid for the payment"]);

    // An inactive option's token.
    let r = app
        .admin(
            Method::PATCH,
            &format!("/__admin/accounts/{account}"),
            Some(json!({"payment_options": [{"name": "PAY_LATER", "active": false}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, "PAY_LATER"), "o-inactive", 10),
        )
        .await;
    assert_validation(&r, &["GoPay token is invalid for the payment"]);

    // recurring: no PIN at any amount; pre_auth: authorize.
    let mut body = charge_body(&account, token(&options, WALLET), "o-recurring", 200_000);
    body["gopay"]["recurring"] = json!(true);
    let r = app.charge(KEY, &body).await;
    assert_eq!(r.body["transaction_status"], "settlement", "{}", r.text);
    let mut body = charge_body(&account, token(&options, WALLET), "o-preauth", 50_000);
    body["gopay"]["pre_auth"] = json!(true);
    let r = app.charge(KEY, &body).await;
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    assert_eq!(r.body["transaction_status"], "authorize");
    assert_eq!(r.body["channel_response_code"], "0");
    assert_eq!(
        app.balance(KEY, &account, WALLET).await,
        "750000.00",
        "held"
    );

    // An order id in use is a conflict; another merchant may use it.
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, WALLET), "o-recurring", 10),
        )
        .await;
    assert_envelope(
        &r,
        200,
        "406",
        "The request could not be completed due to a conflict with the current state of the target resource, please try again",
    );
}

#[tokio::test]
async fn a_blocked_number_cannot_pay() {
    // Arrange: a fixture account whose number the sandbox scripts as blocked.
    let dir = tempdir();
    std::fs::write(
        dir.join("accounts.json"),
        r#"{"accounts":[{"account_id":"11111111-1111-4111-8111-111111111111","account_status":"ENABLED","phone_number":"8271939753","country_code":"62","payment_options":[{"name":"GOPAY_WALLET","active":true,"balance":"100.00","currency":"IDR","token":"blocked-token"}]}]}"#,
    )
    .unwrap();
    let fixtures = pay_account_mock::fixtures::Fixtures::load_dir(&dir).unwrap();
    let app = spawn_app_with(|c| c.fixtures = fixtures);

    // Act
    let r = app
        .charge(
            KEY,
            &charge_body(
                "11111111-1111-4111-8111-111111111111",
                "blocked-token",
                "o-1",
                10,
            ),
        )
        .await;

    // Assert
    assert_envelope(&r, 200, "410", "GoPay user is blocked");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pam-charge-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn charge_requests_are_validated() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000007").await;
    let wallet = token(&options, WALLET);

    let r = app.charge(KEY, &json!({"payment_type": "gopay", "gopay": {"account_id": account, "payment_option_token": wallet}})).await;
    assert_validation(
        &r,
        &[
            "transaction_details.order_id is required",
            "transaction_details.gross_amount is required",
        ],
    );
    for (amount, order) in [(json!(0), "a"), (json!(-5), "b"), (json!("x"), "c")] {
        let mut body = charge_body(&account, wallet, order, 1);
        body["transaction_details"]["gross_amount"] = amount;
        let r = app.charge(KEY, &body).await;
        assert_validation(
            &r,
            &["transaction_details.gross_amount must be greater than or equal to 0.01"],
        );
    }
    for (amount, order) in [
        (json!(1_000_000_000_000_000u64), "d"),
        (json!(999_999_999_999_999.99), "e"),
        (json!("1000000000000000.00"), "f"),
    ] {
        let mut body = charge_body(&account, wallet, order, 1);
        body["transaction_details"]["gross_amount"] = amount;
        let r = app.charge(KEY, &body).await;
        assert_validation(
            &r,
            &["transaction_details.gross_amount must be at most 999999999999999.99"],
        );
    }
    let r = app
        .charge(KEY, &charge_body(&account, wallet, &"x".repeat(51), 1))
        .await;
    assert_validation(
        &r,
        &["transaction_details.order_id must be at most 50 characters"],
    );
    let r = app
        .charge(KEY, &charge_body(&account, wallet, "order #1", 1))
        .await;
    assert_validation(
        &r,
        &["transaction_details.order_id may contain only letters, digits and - _ ~ ."],
    );
    let r = app
        .charge(KEY, &charge_body(&account, wallet, "a-_~.Z9", 1))
        .await;
    assert_eq!(
        r.body["status_code"], "200",
        "every allowed symbol: {}",
        r.text
    );

    // The deeplink flow and other payment types are not emulated, and say so.
    let r = app.charge(KEY, &json!({"payment_type": "gopay", "gopay": {"enable_callback": true}, "transaction_details": {"order_id": "d", "gross_amount": 1}})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["validation_messages"][0],
        "Gopay.account_id is required"
    );
    assert!(
        r.body["validation_messages"][1]
            .as_str()
            .unwrap()
            .contains("not emulated")
    );
    let r = app.charge(KEY, &json!({"payment_type": "bank_transfer", "transaction_details": {"order_id": "b", "gross_amount": 1}})).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["validation_messages"][0]
            .as_str()
            .unwrap()
            .contains("bank_transfer is not emulated"),
        "{}",
        r.text
    );

    // Bodies that are not a charge at all.
    let r = app
        .request(Method::POST, "/v2/charge", Some(KEY), Some("{".into()))
        .await;
    assert_malformed(&r, 200);
    // Nor text: half a surrogate pair where a field is read (it was "order_id is required", or a
    // number too large in the metadata).
    let whole = r#"{"payment_type":"gopay","gopay":{"account_id":"00000000-0000-4000-8000-000000000001","payment_option_token":"t"},"transaction_details":{"order_id":"o","gross_amount":1000},"metadata":{}}"#;
    for (sent, lone) in [
        (r#""order_id":"o""#, r#""order_id":"\ud800""#),
        (r#""metadata":{}"#, r#""metadata":{"s":"\ud800"}"#),
        (
            r#""account_id":"00000000-0000-4000-8000-000000000001""#,
            r#""account_id":"\ud800""#,
        ),
        (r#""payment_type":"gopay""#, r#""payment_type":"\udc00""#),
    ] {
        let text = whole.replace(sent, lone);
        assert_ne!(text, whole);
        let r = app
            .request(Method::POST, "/v2/charge", Some(KEY), Some(text))
            .await;
        assert_malformed(&r, 200);
    }
    let r = app
        .request(Method::POST, "/v2/charge", Some(KEY), Some("null".into()))
        .await;
    assert_envelope(
        &r,
        500,
        "500",
        "Sorry. Our system is recovering from unexpected issues. Please retry.",
    );
    let r = app
        .request(Method::POST, "/v2/charge", None, Some("{}".into()))
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .request(Method::GET, "/v2/charge", Some(KEY), None)
        .await;
    assert_eq!(r.status, 405);

    // custom_expiry below its threshold.
    let mut body = charge_body(&account, wallet, "ce", 1);
    body["custom_expiry"] = json!({"expiry_duration": 10, "unit": "second"});
    let r = app.charge(KEY, &body).await;
    assert_validation(&r, &["custom_expiry is below minimum threshold"]);
}

#[tokio::test]
async fn status_cancel_expire_and_their_errors() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000008").await;
    let wallet = token(&options, WALLET);
    let settled = app
        .charge(KEY, &charge_body(&account, wallet, "s-1", 1_000))
        .await;
    let tx_id = settled.body["transaction_id"].as_str().unwrap().to_string();

    // Status by order id and by transaction id, signed; also with the Node client's `{}` body.
    for id in ["s-1", tx_id.as_str()] {
        let r = app.tx(KEY, id, "status", Some(json!({}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status_code"], "200");
        assert_eq!(r.body["status_message"], "Success, transaction is found");
        assert_eq!(r.body["transaction_id"], tx_id);
        assert_eq!(r.body["payment_option_type"], WALLET);
        assert_eq!(
            r.body["signature_key"],
            signature("s-1", "200", "1000.00", KEY)
        );
        assert_eq!(
            keys(&r.body)[..3],
            ["transaction_time", "gross_amount", "currency"]
        );
    }
    // Unknown ids, another merchant's, and the empty id of `GET /v2//status`.
    for id in ["nope", ""] {
        let r = app.tx(KEY, id, "status", None).await;
        assert_envelope(&r, 200, "404", "Transaction doesn't exist.");
    }
    // An unknown transaction is a 404 before anything its body says.
    for action in ["refund", "refund/online/direct"] {
        let r = app
            .tx(KEY, "nope", action, Some(json!({"amount": -1})))
            .await;
        assert_envelope(&r, 200, "404", "Transaction doesn't exist.");
    }
    // The Python client's notification() puts its headers into the query string.
    let r = app
        .request(
            Method::GET,
            "/v2/s-1/status?X-Override-Notification=https%3A%2F%2Fm.test",
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(
        r.body["status_code"], "200",
        "query strings are ignored: {}",
        r.text
    );
    let r = app.tx(OTHER_KEY, "s-1", "status", None).await;
    assert_envelope(&r, 200, "404", "Transaction doesn't exist.");

    // A settled transaction cannot be cancelled or expired.
    for action in ["cancel", "expire"] {
        let r = app.tx(KEY, "s-1", action, Some(json!({}))).await;
        assert_envelope(
            &r,
            200,
            "412",
            "Merchant cannot modify the status of the transaction",
        );
    }

    // A pending one can be cancelled (Node sends `null`), and its order id used again.
    app.charge(KEY, &charge_body(&account, wallet, "p-1", 150_000))
        .await;
    let r = app.tx(KEY, "p-1", "cancel", None).await;
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    assert_eq!(r.body["status_message"], "Success, transaction is canceled");
    assert_eq!(r.body["transaction_status"], "cancel");
    let r = app
        .charge(KEY, &charge_body(&account, wallet, "p-1", 150_000))
        .await;
    assert_eq!(
        r.body["status_code"], "201",
        "reuse after a cancel while pending: {}",
        r.text
    );

    // Expire answers 407, and so does its status.
    let r = app.tx(KEY, "p-1", "expire", Some(json!({}))).await;
    assert_eq!(r.body["status_code"], "407", "{}", r.text);
    assert_eq!(r.body["status_message"], "Success, transaction has expired");
    assert_eq!(
        keys(&r.body),
        [
            "status_code",
            "status_message",
            "transaction_id",
            "order_id",
            "payment_type",
            "transaction_time",
            "transaction_status",
            "gross_amount"
        ]
    );
    let r = app.tx(KEY, "p-1", "status", None).await;
    assert_eq!(r.body["status_code"], "407");
    assert_eq!(r.body["transaction_status"], "expire");
    let r = app.tx(KEY, "nope", "cancel", None).await;
    assert_envelope(&r, 200, "404", "Transaction doesn't exist.");
}

#[tokio::test]
async fn refunds_add_up_to_the_amount_and_credit_the_balance() {
    let receiver = receiver(200).await;
    let app = app_paying_to(&receiver);
    let (account, options) = linked(&app, KEY, "81230000009").await;
    let wallet = token(&options, WALLET);
    app.charge(KEY, &charge_body(&account, wallet, "r-1", 30_000))
        .await;
    assert_eq!(app.balance(KEY, &account, WALLET).await, "970000.00");

    // A body that is not an object is malformed: it never refunds "everything".
    for body in ["5000", "null", "[1]", "\"5000\""] {
        let r = app
            .request(Method::POST, "/v2/r-1/refund", Some(KEY), Some(body.into()))
            .await;
        assert_malformed(&r, 200);
    }
    assert_eq!(app.balance(KEY, &account, WALLET).await, "970000.00");

    // A partial refund, then the rest.
    let r = app
        .tx(
            KEY,
            "r-1",
            "refund",
            Some(json!({"refund_key": "k1", "amount": 10_000, "reason": "size"})),
        )
        .await;
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    assert_eq!(
        r.body["status_message"],
        "Success, refund request is approved"
    );
    assert_eq!(r.body["transaction_status"], "partial_refund");
    assert_eq!(r.body["refund_amount"], "10000.00");
    assert_eq!(r.body["refund_key"], "k1");
    assert!(r.body["refund_chargeback_id"].is_u64(), "a JSON number");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "980000.00");

    let r = app
        .tx(
            KEY,
            "r-1",
            "refund",
            Some(json!({"refund_key": "k1", "amount": 1})),
        )
        .await;
    assert_envelope(&r, 200, "406", "Duplicate refund ID");
    let r = app
        .tx(
            KEY,
            "r-1",
            "refund",
            Some(json!({"refund_key": "k2", "amount": 20_001})),
        )
        .await;
    assert_envelope(
        &r,
        200,
        "414",
        "Refund request is rejected due to invalid amount",
    );

    let r = app
        .tx(
            KEY,
            "r-1",
            "refund/online/direct",
            Some(json!({"refund_key": "k3", "amount": 20_000})),
        )
        .await;
    assert_eq!(
        r.body["status_message"], "Success, refund request is approved by the bank",
        "{}",
        r.text
    );
    assert_eq!(r.body["transaction_status"], "refund");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "1000000.00");
    let r = app
        .tx(KEY, "r-1", "refund", Some(json!({"amount": 1})))
        .await;
    assert_envelope(
        &r,
        200,
        "412",
        "Merchant cannot modify the status of the transaction",
    );

    // Before settlement, nothing can be refunded.
    app.charge(KEY, &charge_body(&account, wallet, "r-2", 100_000))
        .await;
    let r = app.tx(KEY, "r-2", "refund", Some(json!({}))).await;
    assert_envelope(
        &r,
        200,
        "412",
        "Merchant cannot modify the status of the transaction",
    );

    // Status shows the refunds; each refund sent two notifications, the second bank-confirmed.
    let r = app.tx(KEY, "r-1", "status", None).await;
    assert_eq!(r.body["refund_amount"], "30000.00");
    assert_eq!(r.body["refunds"].as_array().unwrap().len(), 2);
    wait_for(
        &app,
        json!({"order_id": "r-1", "transaction_status": "refund"}),
        2,
    )
    .await;
    let got = received(&receiver).await;
    let refunds: Vec<&Value> = got
        .iter()
        .map(|(_, b, _)| b)
        .filter(|b| b["order_id"] == "r-1" && b["transaction_status"] != "settlement")
        .collect();
    assert_eq!(refunds.len(), 4, "two notifications per refund");
    for b in &refunds {
        assert_descending(b);
        assert_eq!(b["status_code"], "200");
        assert_eq!(b["signature_key"], signature("r-1", "200", "30000.00", KEY));
    }
    let confirmed: Vec<bool> = refunds
        .iter()
        .map(|b| {
            b["refunds"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .get("bank_confirmed_at")
                .is_some()
        })
        .collect();
    assert_eq!(confirmed.iter().filter(|c| **c).count(), 2, "{confirmed:?}");
}

/// A key's reset takes its authorizations out, and gives back what they held on a shared
/// fixture account, which every key still sees: the hold no longer outlives its transaction.
#[tokio::test]
async fn a_key_s_reset_releases_its_holds_on_shared_accounts() {
    const SHARED: &str = "00000269-7836-49e5-bc65-e592afafec14";
    let app = spawn_app();
    let wallet = app.wallet_token(KEY, SHARED).await;
    let before = app.balance(OTHER_KEY, SHARED, WALLET).await;
    let mut body = charge_body(SHARED, &wallet, "shared-hold-1", 40_000);
    body["gopay"]["pre_auth"] = json!(true);
    let r = app.charge(KEY, &body).await;
    assert_eq!(r.body["transaction_status"], "authorize", "{}", r.text);
    assert_ne!(app.balance(OTHER_KEY, SHARED, WALLET).await, before, "held");
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/reset?server_key={KEY}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.tx(KEY, "shared-hold-1", "status", None).await;
    assert_eq!(r.body["status_code"], "404", "{}", r.text);
    assert_eq!(
        app.balance(OTHER_KEY, SHARED, WALLET).await,
        before,
        "given back"
    );
}

#[tokio::test]
async fn a_pre_auth_hold_is_captured_or_released() {
    let app = spawn_app_with(|c| c.pre_auth_hold = Duration::from_secs(60));
    let (account, options) = linked(&app, KEY, "81230000010").await;
    let wallet = token(&options, WALLET);
    let pre_auth = |order: &str, amount: u64| {
        let mut body = charge_body(&account, wallet, order, amount);
        body["gopay"]["pre_auth"] = json!(true);
        body
    };

    let r = app.charge(KEY, &pre_auth("h-1", 40_000)).await;
    let tx_id = r.body["transaction_id"].as_str().unwrap().to_string();
    assert_eq!(app.balance(KEY, &account, WALLET).await, "960000.00");
    let partial = app
        .request(
            Method::POST,
            "/v2/capture",
            Some(KEY),
            Some(json!({"transaction_id": tx_id, "gross_amount": 1000}).to_string()),
        )
        .await;
    assert_eq!(partial.status, 400, "whole amount only: {}", partial.text);
    for body in ["[1]", "null", "\"x\""] {
        let r = app
            .request(Method::POST, "/v2/capture", Some(KEY), Some(body.into()))
            .await;
        assert_malformed(&r, 200);
    }
    let r = app
        .request(
            Method::POST,
            "/v2/capture",
            Some(KEY),
            Some(json!({"transaction_id": tx_id, "gross_amount": 40000}).to_string()),
        )
        .await;
    assert_eq!(r.body["transaction_status"], "settlement", "{}", r.text);
    assert_eq!(
        app.balance(KEY, &account, WALLET).await,
        "960000.00",
        "captured: stays debited"
    );
    let r = app
        .request(
            Method::POST,
            "/v2/capture",
            Some(KEY),
            Some(json!({"transaction_id": tx_id}).to_string()),
        )
        .await;
    assert_envelope(
        &r,
        200,
        "412",
        "Merchant cannot modify the status of the transaction",
    );

    // Cancel releases a hold; a lapsed hold expires and releases it too.
    app.charge(KEY, &pre_auth("h-2", 10_000)).await;
    assert_eq!(app.balance(KEY, &account, WALLET).await, "950000.00");
    app.tx(KEY, "h-2", "cancel", None).await;
    assert_eq!(app.balance(KEY, &account, WALLET).await, "960000.00");
    app.charge(KEY, &pre_auth("h-3", 10_000)).await;
    let r = app.advance_clock(61).await;
    assert_eq!(r.status, 200);
    let r = app.tx(KEY, "h-3", "status", None).await;
    assert_eq!(r.body["transaction_status"], "expire");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "960000.00");
}

/// A move of the clock past more pending charges than one batch of the sweep expires them all.
#[tokio::test]
async fn a_clock_move_past_many_pending_charges_expires_every_one() {
    let app = std::sync::Arc::new(spawn_app());
    let (account, options) = linked(&app, KEY, "81230000019").await;
    let wallet = token(&options, WALLET).to_string();
    let mut charges = tokio::task::JoinSet::new();
    for i in 0..1_100 {
        let (app, account, wallet) = (app.clone(), account.clone(), wallet.clone());
        charges.spawn(async move {
            let r = app
                .charge(
                    KEY,
                    &charge_body(&account, &wallet, &format!("many-{i}"), 500_000),
                )
                .await;
            assert_eq!(r.body["transaction_status"], "pending", "{}", r.text);
        });
    }
    while let Some(done) = charges.join_next().await {
        done.unwrap();
    }
    let pending = |app: std::sync::Arc<TestApp>| async move {
        let r = app
            .admin(
                Method::GET,
                &format!("/__admin/transactions?server_key={KEY}&status=pending&limit=1"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["transactions"].as_array().unwrap().len()
    };
    assert_eq!(pending(app.clone()).await, 1);
    let r = app.advance_clock(901).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(pending(app.clone()).await, 0);
    for i in [0, 549, 1_099] {
        let r = app.tx(KEY, &format!("many-{i}"), "status", None).await;
        assert_eq!(r.body["transaction_status"], "expire", "{}", r.text);
    }
}

#[tokio::test]
async fn a_pending_charge_expires_on_the_mock_clock_and_frees_its_order_id() {
    let receiver = receiver(200).await;
    let app = app_paying_to(&receiver);
    let (account, options) = linked(&app, KEY, "81230000011").await;
    let wallet = token(&options, WALLET);
    let r = app
        .charge(KEY, &charge_body(&account, wallet, "e-1", 500_000))
        .await;
    let web = r.body["actions"][0]["url"].as_str().unwrap().to_string();

    // The links die after 5 minutes, the transaction after 15.
    app.advance_clock(301).await;
    let page = app.client.get(&web).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    assert_eq!(
        app.tx(KEY, "e-1", "status", None).await.body["transaction_status"],
        "pending"
    );
    app.advance_clock(600).await;
    let r = app.tx(KEY, "e-1", "status", None).await;
    assert_eq!(r.body["status_code"], "407");
    let n = wait_for(
        &app,
        json!({"order_id": "e-1", "transaction_status": "expire"}),
        1,
    )
    .await;
    assert_eq!(n[0]["payload"]["status_code"], "202");

    let r = app
        .charge(KEY, &charge_body(&account, wallet, "e-1", 1_000))
        .await;
    assert_eq!(
        r.body["status_code"], "200",
        "an expired order id can be reused: {}",
        r.text
    );
}

/// A pending charge expires when its time comes on a server with nothing else due, whose
/// scheduler sleeps its longest nap (a minute): the charge wakes it. No notification URL, so no
/// attempt wakes it either.
#[tokio::test]
async fn a_pending_charge_expires_on_time_when_nothing_else_is_due() {
    let app = spawn_app_with(|c| c.transaction_ttl = Duration::from_secs(1));
    let (account, options) = linked(&app, KEY, "81230000019").await;
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, WALLET), "soon-1", 500_000),
        )
        .await;
    assert_eq!(r.body["transaction_status"], "pending", "{}", r.text);
    // Well under the minute the scheduler would otherwise sleep.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.tx(KEY, "soon-1", "status", None).await;
        if r.body["transaction_status"] == "expire" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {} 20 s after a 1 s expiry",
            r.body["transaction_status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000012").await;
    let wallet = token(&options, WALLET);
    let send = |order: &str| {
        app.client
            .post(format!("{}/v2/charge", app.url))
            .basic_auth(KEY, Some(""))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "idem-1")
            .body(charge_body(&account, wallet, order, 1_000).to_string())
            .send()
    };
    let first = reply(send("i-1").await.unwrap()).await;
    let second = reply(send("i-2").await.unwrap()).await;
    assert_eq!(
        first.text, second.text,
        "the same answer, whatever the body"
    );
    assert_eq!(
        app.balance(KEY, &account, WALLET).await,
        "999000.00",
        "charged once"
    );
    let r = app.tx(KEY, "i-2", "status", None).await;
    assert_envelope(&r, 200, "404", "Transaction doesn't exist.");
}

/// A key is its bytes, whatever they are: text beyond ASCII and bytes that are not UTF-8 replay
/// too (a retry is never a second charge), and two keys are one only when their bytes are.
#[tokio::test]
async fn an_idempotency_key_of_any_bytes_replays() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000019").await;
    let wallet = token(&options, WALLET);
    let send = |order: &str, key: &[u8]| {
        app.client
            .post(format!("{}/v2/charge", app.url))
            .basic_auth(KEY, Some(""))
            .header("Content-Type", "application/json")
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key).unwrap(),
            )
            .body(charge_body(&account, wallet, order, 1_000).to_string())
            .send()
    };
    let accented = "é".repeat(23);
    let keys: [&[u8]; 5] = [
        accented.as_bytes(),
        b"\xff\xfe\x80",
        b"\xfe\xff\x80",
        b"a\\xff",
        b"a\xff",
    ];
    let mut ids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let first = reply(send(&format!("b-{i}"), key).await.unwrap()).await;
        assert_eq!(first.body["status_code"], "200", "{}", first.text);
        let again = reply(send(&format!("b-{i}-again"), key).await.unwrap()).await;
        assert_eq!(first.text, again.text, "key {i} replays");
        ids.push(first.body["transaction_id"].as_str().unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), keys.len(), "each key its own charge");
    assert_eq!(app.balance(KEY, &account, WALLET).await, "995000.00");
    // The limit counts characters of text: 46 of them in 92 bytes are a key, 47 are none.
    let at_limit = "é".repeat(46);
    let first = reply(send("b-46", at_limit.as_bytes()).await.unwrap()).await;
    let again = reply(send("b-46-again", at_limit.as_bytes()).await.unwrap()).await;
    assert_eq!(first.text, again.text, "46 characters replay");
    let past = "é".repeat(47);
    let first = reply(send("b-47", past.as_bytes()).await.unwrap()).await;
    let again = reply(send("b-47-again", past.as_bytes()).await.unwrap()).await;
    assert_eq!(again.body["status_code"], "200", "{}", again.text);
    assert_ne!(
        first.body["transaction_id"], again.body["transaction_id"],
        "47 characters are ignored"
    );
}

/// The key is global across the POST endpoints (Midtrans): a refund or a cancel retried with its
/// key gets its first answer again and changes nothing more, whatever the body; a key first used
/// on a charge answers the charge's answer on a refund; concurrent retries change once.
#[tokio::test]
async fn an_idempotency_key_replays_refunds_cancels_and_captures_too() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000021").await;
    let wallet = token(&options, WALLET);
    let post = |path: String, key: &'static str, body: Value| {
        app.client
            .post(format!("{}{path}", app.url))
            .basic_auth(KEY, Some(""))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .body(body.to_string())
            .send()
    };
    let charged = reply(
        post(
            "/v2/charge".into(),
            "idem-charge",
            charge_body(&account, wallet, "r-1", 10_000),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        charged.body["transaction_status"], "settlement",
        "{}",
        charged.text
    );
    assert_eq!(app.balance(KEY, &account, WALLET).await, "990000.00");

    // Concurrent retries of one refund, each with another amount: one refund.
    let mut retries = Vec::new();
    for amount in [1_000, 2_000, 3_000, 4_000] {
        let request = app
            .client
            .post(format!("{}/v2/r-1/refund", app.url))
            .basic_auth(KEY, Some(""))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "idem-refund")
            .body(json!({"amount": amount}).to_string());
        retries.push(tokio::spawn(async move {
            reply(request.send().await.unwrap()).await
        }));
    }
    let mut answers = Vec::new();
    for r in retries {
        answers.push(r.await.unwrap());
    }
    assert_eq!(answers[0].body["status_code"], "200", "{}", answers[0].text);
    assert!(
        answers.iter().all(|a| a.text == answers[0].text),
        "one answer"
    );
    let refunded = app.tx(KEY, "r-1", "status", None).await;
    assert_eq!(
        refunded.body["refund_amount"],
        answers[0].body["refund_amount"]
    );
    assert_eq!(refunded.body["refunds"].as_array().map(Vec::len), Some(1));

    // The charge's key on a refund answers the charge's answer, and refunds nothing.
    let r = reply(
        post(
            "/v2/r-1/refund".into(),
            "idem-charge",
            json!({"amount": 500}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.text, charged.text);
    let after = app.tx(KEY, "r-1", "status", None).await;
    assert_eq!(after.body["refunds"].as_array().map(Vec::len), Some(1));

    // A cancel retried gets its 200 again, not the 412 of a transaction already cancelled.
    let pending = app
        .charge(KEY, &charge_body(&account, wallet, "c-1", 500_000))
        .await;
    assert_eq!(
        pending.body["transaction_status"], "pending",
        "{}",
        pending.text
    );
    let first = reply(
        post("/v2/c-1/cancel".into(), "idem-cancel", json!({}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first.body["transaction_status"], "cancel", "{}", first.text);
    let again = reply(
        post("/v2/c-1/cancel".into(), "idem-cancel", json!({}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.text, first.text);
    // Without the key, the same cancel is refused.
    let r = app.tx(KEY, "c-1", "cancel", Some(json!({}))).await;
    assert_eq!(r.body["status_code"], "412", "{}", r.text);
}

#[tokio::test]
async fn concurrent_charges_never_overdraw_or_lose_an_update() {
    // Arrange: 50 charges of 30,000 against a 1,000,000 balance: 33 fit.
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000013").await;
    let wallet = token(&options, WALLET).to_string();

    // Act
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/v2/charge", app.url);
        let body = charge_body(&account, &wallet, &format!("c-{i}"), 30_000).to_string();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .basic_auth(KEY, Some(""))
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut settled = 0;
    let mut denied = 0;
    for t in tasks {
        match t.await.unwrap()["transaction_status"].as_str() {
            Some("settlement") => settled += 1,
            Some("deny") => denied += 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    // Assert
    assert_eq!((settled, denied), (33, 17));
    assert_eq!(app.balance(KEY, &account, WALLET).await, "10000.00");
}

#[tokio::test]
async fn notification_headers_redirect_or_add_destinations() {
    let merchant = receiver(200).await;
    let other = receiver(200).await;
    let app = app_paying_to(&merchant);
    let (account, options) = linked(&app, KEY, "81230000014").await;
    let wallet = token(&options, WALLET);
    let send = |order: &str, header: &'static str| {
        app.client
            .post(format!("{}/v2/charge", app.url))
            .basic_auth(KEY, Some(""))
            .header("Content-Type", "application/json")
            .header(
                header,
                format!("{}/extra, javascript:alert(1)", other.uri()),
            )
            .body(charge_body(&account, wallet, order, 1_000).to_string())
            .send()
    };
    send("n-1", "X-Override-Notification").await.unwrap();
    wait_for(&app, json!({"order_id": "n-1"}), 1).await;
    send("n-2", "X-Append-Notification").await.unwrap();
    wait_for(&app, json!({"order_id": "n-2"}), 2).await;

    let to_merchant: Vec<String> = received(&merchant)
        .await
        .iter()
        .map(|(_, b, _)| b["order_id"].as_str().unwrap().to_string())
        .collect();
    let to_other: Vec<String> = received(&other)
        .await
        .iter()
        .map(|(p, b, _)| format!("{p} {}", b["order_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        to_merchant,
        ["n-2"],
        "override replaces the merchant's URL; append keeps it"
    );
    assert_eq!(to_other, ["/extra n-1", "/extra n-2"]);
}

#[tokio::test]
async fn the_control_api_settles_denies_and_expires_pending_transactions() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000015").await;
    let wallet = token(&options, WALLET);
    let mut ids = Vec::new();
    for order in ["a-1", "a-2", "a-3"] {
        let r = app
            .charge(KEY, &charge_body(&account, wallet, order, 100_000))
            .await;
        ids.push(r.body["transaction_id"].as_str().unwrap().to_string());
    }
    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/transactions?account_id={account}"),
            None,
        )
        .await;
    assert_eq!(
        r.body["transactions"].as_array().unwrap().len(),
        3,
        "{}",
        r.text
    );

    for (id, action, status) in [
        (&ids[0], "settle", "settlement"),
        (&ids[1], "deny", "deny"),
        (&ids[2], "expire", "expire"),
    ] {
        let r = app
            .admin(
                Method::POST,
                &format!("/__admin/transactions/{id}/{action}?wait=false"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["transaction"]["transaction_status"], status);
        assert_eq!(
            app.tx(KEY, id, "status", None).await.body["transaction_status"],
            status
        );
        let again = app
            .admin(
                Method::POST,
                &format!("/__admin/transactions/{id}/{action}"),
                None,
            )
            .await;
        assert_eq!(again.status, 409, "{}", again.text);
        assert_eq!(again.body["error"], "invalid_transition");
    }
    assert_eq!(app.balance(KEY, &account, WALLET).await, "900000.00");
    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/transactions/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(r.body["transaction"]["order_id"], "a-1");
    assert_eq!(
        r.body["notifications"].as_array().unwrap().len(),
        2,
        "pending and settlement: {}",
        r.text
    );
    // No notification URL: the bodies are written only now, after the settlement, and still say
    // what the transaction was when each was recorded.
    let mut bodies: Vec<&Value> = r.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["payload"])
        .collect();
    bodies.sort_by_key(|b| b["transaction_status"] != "pending");
    for (body, status, code) in [
        (bodies[0], "pending", "201"),
        (bodies[1], "settlement", "200"),
    ] {
        assert_eq!(body["transaction_status"], status, "{body}");
        assert_eq!(body["status_code"], code);
        assert_eq!(
            body["signature_key"],
            signature("a-1", code, "100000.00", KEY)
        );
        assert_eq!(
            body.get("settlement_time").is_some(),
            status == "settlement"
        );
    }
    let r = app
        .admin(Method::GET, "/__admin/transactions/nope", None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_dashboard_shows_transactions_and_balances_and_settles_a_pending_one() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000016").await;
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, WALLET), "dash-1", 250_000),
        )
        .await;
    let id = r.body["transaction_id"].as_str().unwrap().to_string();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirects
        .get(format!("{}/__admin/?server_key={KEY}", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("data-transaction-id=\"{id}\"")),
        "{page}"
    );
    assert!(page.contains("data-order-id=\"dash-1\""));
    assert!(
        page.contains("GOPAY_WALLET: <b>IDR 1000000.00</b>"),
        "balances are shown"
    );
    let settle = format!("/__admin/ui/transactions/{id}/settle");
    assert!(page.contains(&format!("action=\"{settle}\"")));
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..at + 32].to_string();

    // A form without the token is refused; with it, the transaction settles.
    let r = no_redirects
        .post(format!("{}{settle}", app.url))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = no_redirects
        .post(format!("{}{settle}", app.url))
        .form(&[("csrf", csrf.as_str()), ("server_key", KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.tx(KEY, "dash-1", "status", None).await.body["transaction_status"],
        "settlement"
    );
    assert_eq!(app.balance(KEY, &account, WALLET).await, "750000.00");
    let page = no_redirects
        .get(format!("{}/__admin/", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("GOPAY_WALLET: <b>IDR 750000.00</b>"));
    assert!(
        !page.contains(&format!("action=\"{settle}\"")),
        "no buttons on a settled one"
    );
    let r = no_redirects
        .post(format!("{}{settle}", app.url))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn the_shared_fixture_account_pays_for_every_key_and_mirror_mode_and_reset_apply() {
    // Arrange: the shipped ENABLED fixture account and its documented token.
    let app = spawn_app_with(|c| c.http_status = pay_account_mock::config::HttpStatusMode::Mirror);
    let shared = "00000269-7836-49e5-bc65-e592afafec14";
    let wallet = "eyJ0eXBlIjogIkdPUEFZX1dBTExFVCIsICJpZCI6ICIifQ==";

    // Act and assert: any key may charge it; each key's order ids are its own.
    for key in [KEY, OTHER_KEY] {
        let r = app
            .charge(key, &charge_body(shared, wallet, "shared-1", 1_000))
            .await;
        assert_eq!(r.body["transaction_status"], "settlement", "{}", r.text);
    }
    assert_eq!(app.balance(KEY, shared, WALLET).await, "998000.00");

    // Mirror mode: the HTTP 200 error bodies carry their code as the status line.
    let r = app
        .charge(KEY, &charge_body(shared, wallet, "shared-1", 1_000))
        .await;
    assert_eq!(r.status, 406, "{}", r.text);
    let r = app.tx(KEY, "nope", "status", None).await;
    assert_eq!(r.status, 404);
    let r = app.tx(KEY, "shared-1", "cancel", None).await;
    assert_eq!(r.status, 412);

    // A reset of one key removes its transactions only; a full reset all of them and the balances.
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/reset?server_key={OTHER_KEY}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.tx(OTHER_KEY, "shared-1", "status", None).await.status,
        404
    );
    assert_eq!(app.tx(KEY, "shared-1", "status", None).await.status, 200);
    app.admin(Method::POST, "/__admin/reset", None).await;
    assert_eq!(app.tx(KEY, "shared-1", "status", None).await.status, 404);
    assert_eq!(app.balance(KEY, shared, WALLET).await, "1000000.00");
}

/// The deepest metadata a charge takes is listed with its notifications: the lists write the
/// payloads as they are, and a payload holds the metadata a level down.
#[tokio::test]
async fn the_deepest_metadata_is_listed_with_its_notifications() {
    let receiver = receiver(200).await;
    let app = app_paying_to(&receiver);
    let (account, options) = linked(&app, KEY, "81230000020").await;
    let mut body = charge_body(&account, token(&options, WALLET), "deep-1", 1_000);
    body["metadata"] = json!({"n": "DEEP"});
    let text = body.to_string().replace(
        r#""DEEP""#,
        &format!("{}{}", "[".repeat(63), "]".repeat(63)),
    );
    let r = app
        .request(Method::POST, "/v2/charge", Some(KEY), Some(text))
        .await;
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    let n = wait_for(&app, json!({"order_id": "deep-1"}), 1).await;
    assert_eq!(n[0]["payload"]["order_id"], "deep-1");
    for path in [
        "/__admin/notifications?order_id=deep-1".to_string(),
        format!(
            "/__admin/transactions/{}",
            r.body["transaction_id"].as_str().unwrap()
        ),
    ] {
        let r = app.admin(Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["notifications"][0]["payload"]["order_id"], "deep-1");
    }
}

#[tokio::test]
async fn metadata_and_refunds_are_bounded() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000017").await;
    let wallet = token(&options, WALLET);

    // Metadata is echoed in the status answer, up to 4096 bytes of JSON.
    let mut body = charge_body(&account, wallet, "m-1", 1_000);
    body["metadata"] = json!({"note": "x".repeat(4096)});
    let r = app.charge(KEY, &body).await;
    assert_validation(&r, &["metadata must be at most 4096 bytes of JSON"]);
    // A number no double holds would make the status answer unreadable to most parsers.
    body["metadata"] = json!({"n": "HUGE"});
    let text = body.to_string().replace(r#""HUGE""#, "-1e400");
    let r = app
        .request(Method::POST, "/v2/charge", Some(KEY), Some(text))
        .await;
    assert_validation(
        &r,
        &["metadata must not hold a number too large for a double"],
    );
    // Nesting: notifications and control answers hold the metadata further down.
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    let deep = body.to_string().replace(r#""HUGE""#, &nested(64));
    let r = app
        .request(Method::POST, "/v2/charge", Some(KEY), Some(deep))
        .await;
    assert_validation(&r, &["metadata must nest at most 64 levels deep"]);
    body["metadata"] = json!({"note": "kept"});
    let r = app.charge(KEY, &body).await;
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    assert_eq!(
        app.tx(KEY, "m-1", "status", None).await.body["metadata"],
        json!({"note": "kept"})
    );

    // At most 100 refunds per transaction; the 101st is refused and changes nothing.
    app.charge(KEY, &charge_body(&account, wallet, "m-2", 1_000))
        .await;
    for i in 0..100 {
        let r = app
            .tx(
                KEY,
                "m-2",
                "refund",
                Some(json!({"refund_key": format!("k{i}"), "amount": 1})),
            )
            .await;
        assert_eq!(r.body["status_code"], "200", "refund {i}: {}", r.text);
    }
    let r = app
        .tx(
            KEY,
            "m-2",
            "refund",
            Some(json!({"refund_key": "k100", "amount": 1})),
        )
        .await;
    assert_envelope(
        &r,
        200,
        "412",
        "Merchant cannot modify the status of the transaction",
    );
    let status = app.tx(KEY, "m-2", "status", None).await;
    assert_eq!(status.body["refunds"].as_array().unwrap().len(), 100);
    assert_eq!(status.body["refund_amount"], "100.00");
}

#[tokio::test]
async fn a_pin_sent_after_the_account_was_unbound_denies_and_pays_nothing() {
    let app = spawn_app();
    let (account, options) = linked(&app, KEY, "81230000003").await;
    let r = app
        .charge(
            KEY,
            &charge_body(&account, token(&options, WALLET), "order-unbound", 100_000),
        )
        .await;
    assert_eq!(r.body["transaction_status"], "pending", "{}", r.text);
    let web = r.body["actions"][0]["url"].as_str().unwrap().to_string();
    let form_token = crate::pages::token(&crate::pages::open(&app, &web).await);
    assert_eq!(app.unbind(KEY, &account).await.body["status_code"], "204");

    let paid = crate::pages::post_form(
        &app,
        &web,
        &[("token", form_token.as_str()), ("pin", "112233")],
    )
    .await;
    assert!(paid.status.is_success() || paid.status.is_redirection());

    let status = app.tx(KEY, "order-unbound", "status", None).await;
    assert_eq!(status.body["transaction_status"], "deny", "{}", status.text);
    let kept = app.accounts_of(KEY).await;
    let kept = kept
        .iter()
        .find(|a| a["account_id"] == account.as_str())
        .expect("the account");
    assert_eq!(kept["account_status"], "DISABLED");
    assert_eq!(
        kept["payment_options"][0]["balance"]["value"], "1000000.00",
        "the unbound account paid"
    );
}
