//! `POST /v2/pay/account`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn create_returns_a_pending_account_with_two_activation_links() {
    let app = spawn_app();
    let r = app.create(KEY, &gopay("81212345678")).await;
    assert_eq!(r.status, 200);
    let id = r.body["account_id"].as_str().unwrap();
    let link_id = r.body["actions"][0]["url"]
        .as_str()
        .unwrap()
        .split("gpar_")
        .nth(1)
        .unwrap()
        .trim_end_matches("/link")
        .to_string();
    assert_eq!(
        r.body,
        serde_json::json!({
            "status_code": "201",
            "payment_type": "gopay",
            "account_id": id,
            "account_status": "PENDING",
            "actions": [
                {"name": "activation-link-url", "method": "GET",
                 "url": format!("{}/v2/gopay/redirect/gpar_{link_id}/link", app.url)},
                {"name": "activation-link-app", "method": "GET",
                 "url": format!("{}/v2/gopay/redirect/gpad_{link_id}/link", app.url)},
            ]
        })
    );
}

fn partner(phone: Value, country_code: Value) -> Value {
    json!({
        "payment_type": "gopay",
        "gopay_partner": {"phone_number": phone, "country_code": country_code}
    })
}

#[tokio::test]
async fn an_unregistered_number_answers_202_user_not_found_and_creates_nothing() {
    let app = spawn_app();
    let before = app.account_count().await;
    let r = app.create(KEY, &gopay("123450001")).await;
    assert_eq!(r.status, 200);
    assert_json(&r);
    assert_eq!(
        r.body,
        json!({
            "status_code": "202",
            "payment_type": "gopay",
            "channel_response_code": "105",
            "channel_response_message": "User Not Found"
        })
    );
    assert_eq!(app.account_count().await, before);
}

#[tokio::test]
async fn a_blocked_number_answers_410_over_http_200_and_creates_nothing() {
    let app = spawn_app();
    let before = app.account_count().await;
    // The legacy number matches any country code.
    for cc in ["62", "1"] {
        let r = app
            .create(KEY, &partner(json!("123450002"), json!(cc)))
            .await;
        assert_envelope(&r, 200, "410", "GoPay user is blocked");
        assert_json(&r);
    }
    assert_eq!(app.account_count().await, before);
}

#[tokio::test]
async fn the_legacy_sandbox_answers_a_blocked_number_with_202_wallet_is_blocked() {
    let app = spawn_app_with(|c| c.legacy_sandbox = true);
    let r = app.create(KEY, &gopay("123450002")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "status_code": "202",
            "payment_type": "gopay",
            "channel_response_code": "112",
            "channel_response_message": "Wallet is Blocked"
        })
    );
    // The other outcomes do not change.
    let r = app.create(KEY, &gopay("123450001")).await;
    assert_eq!(r.body["channel_response_message"], "User Not Found");
    assert_eq!(
        app.create(KEY, &gopay("81212345678")).await.body["status_code"],
        "201"
    );
}

#[tokio::test]
async fn new_sandbox_numbers_follow_their_country_code() {
    let app = spawn_app();
    let r = app.create(KEY, &gopay("8271939753")).await;
    assert_envelope(&r, 200, "410", "GoPay user is blocked");
    // The same digits under another country code are an ordinary number.
    let r = app
        .create(KEY, &partner(json!("8271939753"), json!("380")))
        .await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
    for (phone, cc) in [
        ("8215023424", "62"),
        ("8242974268", "62"),
        ("441234567", "380"),
        ("441234568", "380"),
        ("8877661234", "91"),
        ("8877661235", "91"),
        ("8103001242", "62"),
        ("8242014881", "62"),
        ("8237435829", "62"),
    ] {
        let r = app.create(KEY, &partner(json!(phone), json!(cc))).await;
        assert_eq!(r.status, 200, "{phone}: {}", r.text);
        assert_eq!(r.body["status_code"], "201", "{phone}: {}", r.text);
        assert_eq!(r.body["account_status"], "PENDING", "{phone}: {}", r.text);
    }
}

const MSG_PHONE: &str =
    "gopay_partner.phone_number must be numeric digits and must not begin with 0";
const MSG_CC: &str = "gopay_partner.country_code must be 1 to 3 numeric digits";

#[tokio::test]
async fn every_validation_problem_has_its_message_and_http_400() {
    let app = spawn_app();
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({}),
            vec!["payment_type is required", "gopay_partner is required"],
        ),
        (
            json!({"payment_type": null, "gopay_partner": null}),
            vec!["payment_type is required", "gopay_partner is required"],
        ),
        (
            json!({"gopay_partner": {"phone_number": "81212345678", "country_code": "62"}}),
            vec!["payment_type is required"],
        ),
        (
            json!({"payment_type": "ovo", "gopay_partner": {"phone_number": "81212345678", "country_code": "62"}}),
            vec!["payment_type is invalid"],
        ),
        (
            json!({"payment_type": 1, "gopay_partner": {"phone_number": "81212345678", "country_code": "62"}}),
            vec!["payment_type is invalid"],
        ),
        (
            json!({"payment_type": "gopay"}),
            vec!["gopay_partner is required"],
        ),
        (
            json!({"payment_type": "gopay", "gopay_partner": "81212345678"}),
            vec!["gopay_partner is invalid"],
        ),
        (
            json!({"payment_type": "gopay", "gopay_partner": ["81212345678"]}),
            vec!["gopay_partner is invalid"],
        ),
        (
            json!({"payment_type": "gopay", "gopay_partner": {}}),
            vec![
                "gopay_partner.phone_number is required",
                "gopay_partner.country_code is required",
            ],
        ),
        (
            partner(json!(""), json!("")),
            vec![
                "gopay_partner.phone_number is required",
                "gopay_partner.country_code is required",
            ],
        ),
        (
            json!({"payment_type": "gopay", "gopay_partner": {"country_code": "62"}}),
            vec!["gopay_partner.phone_number is required"],
        ),
        (partner(json!("081234567891"), json!("62")), vec![MSG_PHONE]),
        (partner(json!("8123abc456"), json!("62")), vec![MSG_PHONE]),
        (partner(json!("+6281234567"), json!("62")), vec![MSG_PHONE]),
        (partner(json!("812 3456 789"), json!("62")), vec![MSG_PHONE]),
        (partner(json!(true), json!("62")), vec![MSG_PHONE]),
        (partner(json!(-81234567), json!("62")), vec![MSG_PHONE]),
        (partner(json!(8.5), json!("62")), vec![MSG_PHONE]),
        (
            json!({"payment_type": "gopay", "gopay_partner": {"phone_number": "81212345678"}}),
            vec!["gopay_partner.country_code is required"],
        ),
        (partner(json!("81212345678"), json!("+62")), vec![MSG_CC]),
        (partner(json!("81212345678"), json!("6200")), vec![MSG_CC]),
        (partner(json!("81212345678"), json!("ID")), vec![MSG_CC]),
        (
            json!({"payment_type": "gopay", "gopay_partner": {"phone_number": "81212345678", "country_code": "62", "redirect_url": 5}}),
            vec!["gopay_partner.redirect_url is invalid"],
        ),
        (
            json!({"payment_type": "ovo", "gopay_partner": {"phone_number": "0812", "country_code": "+62", "redirect_url": false}}),
            vec![
                "payment_type is invalid",
                MSG_PHONE,
                MSG_CC,
                "gopay_partner.redirect_url is invalid",
            ],
        ),
    ];
    let before = app.account_count().await;
    for (body, messages) in cases {
        let r = app.create(KEY, &body).await;
        assert_validation(&r, &messages);
        assert_json(&r);
    }
    assert_eq!(app.account_count().await, before);
}

#[tokio::test]
async fn numeric_phone_numbers_and_country_codes_are_accepted() {
    let app = spawn_app();
    // The official PHP integration test sends the phone number as a JSON number.
    let r = app
        .create(KEY, &partner(json!(874567446788u64), json!(62)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status_code"], "201");
    assert_eq!(r.body["account_status"], "PENDING");
    let id = r.body["account_id"].as_str().unwrap();
    let r = app.get(KEY, id).await;
    assert_eq!(r.body["account_status"], "PENDING");
    // A numeric scenario number still gets its scenario.
    let r = app.create(KEY, &partner(json!(123450001), json!(62))).await;
    assert_eq!(r.body["status_code"], "202", "{}", r.text);
}

#[tokio::test]
async fn phone_length_is_not_enforced_and_redirect_url_is_optional() {
    let app = spawn_app();
    // The account keeps short numbers inline and long ones on the heap: both come back whole.
    let long = "8".repeat(64);
    for phone in [
        "8",
        "812",
        "628123456789",
        "62877812345678",
        "812345678901234567890123",
        &long,
    ] {
        let r = app.create(KEY, &partner(json!(phone), json!("62"))).await;
        assert_eq!(r.body["status_code"], "201", "{phone}: {}", r.text);
        let id = r.body["account_id"].as_str().unwrap();
        let r = app
            .admin(Method::GET, &format!("/__admin/accounts/{id}"), None)
            .await;
        assert_eq!(r.body["phone_number"], phone, "{}", r.text);
        assert_eq!(r.body["country_code"], "62");
    }
    // Past 64 digits the number is refused, as one that is not digits is.
    let r = app
        .create(KEY, &partner(json!("8".repeat(65)), json!("62")))
        .await;
    assert_validation(
        &r,
        &["gopay_partner.phone_number must be numeric digits and must not begin with 0"],
    );
}

#[tokio::test]
async fn each_create_makes_a_new_account_while_the_last_is_pending() {
    let app = spawn_app();
    let a = app.create_pending(KEY, "81212345678").await;
    let b = app.create_pending(KEY, "81212345678").await;
    let c = app.create_pending(KEY, "81212345678").await;
    assert!(a != b && b != c && a != c);
    for id in [&a, &b, &c] {
        assert_eq!(app.get(KEY, id).await.body["account_status"], "PENDING");
    }
}

#[tokio::test]
async fn relinking_an_enabled_number_answers_200_with_the_linked_account() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "8215023424").await;
    app.link(&id).await;
    let linked = app.get(KEY, &id).await;
    assert_eq!(linked.body["status_code"], "200");
    let r = app.create(KEY, &gopay("8215023424")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, linked.body);
    assert_eq!(r.body["account_id"], id.as_str());
    assert_eq!(r.body["account_status"], "ENABLED");
    // The same number under another country code, or for another merchant, is a new account.
    let r = app
        .create(KEY, &partner(json!("8215023424"), json!("380")))
        .await;
    assert_eq!(r.body["status_code"], "201");
    let other = app.create_pending(OTHER_KEY, "8215023424").await;
    assert_ne!(other, id);
}

#[tokio::test]
async fn relinking_after_unbind_makes_a_new_pending_account() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "8215023424").await;
    app.link(&id).await;
    assert_eq!(app.unbind(KEY, &id).await.body["status_code"], "204");
    let again = app.create_pending(KEY, "8215023424").await;
    assert_ne!(again, id);
    assert_eq!(app.get(KEY, &id).await.body["account_status"], "DISABLED");
}

#[tokio::test]
async fn shared_fixture_accounts_are_not_returned_on_relink() {
    let app = spawn_app();
    // 81212345678 is the phone number of the shared ENABLED fixture account.
    let r = app.create(KEY, &gopay("81212345678")).await;
    assert_eq!(r.body["status_code"], "201");
    assert_ne!(r.body["account_id"], "00000269-7836-49e5-bc65-e592afafec14");
}

#[tokio::test]
async fn a_seed_makes_account_ids_reproducible() {
    let first = |seed| async move {
        let app = spawn_app_with(|c| c.seed = Some(seed));
        let r = app.create(KEY, &gopay("81212345678")).await;
        (
            r.body["account_id"].as_str().unwrap().to_string(),
            r.body["actions"].clone(),
        )
    };
    let (a, _) = first(7).await;
    let (b, _) = first(7).await;
    let (c, _) = first(8).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let without = spawn_app().create_pending(KEY, "81212345678").await;
    assert_ne!(without, a);
}

#[tokio::test]
async fn the_public_url_goes_into_the_activation_links() {
    let app = spawn_app_with(|c| c.public_url = Some("https://mock.example.test".into()));
    let r = app.create(KEY, &gopay("81212345678")).await;
    let url = r.body["actions"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://mock.example.test/v2/gopay/redirect/gpar_"),
        "{url}"
    );
}

#[tokio::test]
async fn create_ignores_idempotency_and_notification_override_headers() {
    let app = spawn_app();
    let body = gopay("81212345678").to_string().into_bytes();
    let auth = basic(KEY);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "idem-1"),
        ("X-Override-Notification", "https://example.test/n"),
        ("X-Append-Notification", "https://example.test/a"),
    ];
    let a = app
        .raw(
            Method::POST,
            "/v2/pay/account",
            &headers,
            Some(body.clone()),
        )
        .await;
    let b = app
        .raw(Method::POST, "/v2/pay/account", &headers, Some(body))
        .await;
    assert_eq!(a.body["status_code"], "201");
    assert_eq!(b.body["status_code"], "201");
    assert_ne!(a.body["account_id"], b.body["account_id"]);
}

#[tokio::test]
async fn relinking_after_a_control_api_link_answers_200() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "8242974268").await;
    let r = app.act(&id, "link").await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app.create(KEY, &gopay("8242974268")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    assert_eq!(r.body["account_id"], id.as_str());
    assert_eq!(r.body["account_status"], "ENABLED");
    assert_eq!(r.body, app.get(KEY, &id).await.body);
}
