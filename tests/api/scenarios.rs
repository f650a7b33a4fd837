//! Phone number scenarios added at run time: `/__admin/phone-numbers`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn put(app: &TestApp, number: &str, body: Value) -> Reply {
    app.admin(
        Method::PUT,
        &format!("/__admin/phone-numbers/{number}"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_scenario_for_one_key_applies_to_that_key_alone() {
    let app = spawn_app();
    let r = put(
        &app,
        "81299990001",
        json!({"outcome": "user_blocked", "server_key": KEY, "country_code": "62"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["source"], "runtime");
    assert_eq!(r.body["server_key"], KEY);
    let r = app.create(KEY, &gopay("81299990001")).await;
    assert_envelope(&r, 200, "410", "GoPay user is blocked");
    let r = app.create(OTHER_KEY, &gopay("81299990001")).await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
    // Replaced: 200, and now the user is not found.
    let r = put(
        &app,
        "81299990001",
        json!({"outcome": "user_not_found", "server_key": KEY, "country_code": "62"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = app.create(KEY, &gopay("81299990001")).await;
    assert_eq!(r.body["channel_response_code"], "105", "{}", r.text);
    // Removed: the number is an ordinary one again.
    let r = app
        .admin(
            Method::DELETE,
            &format!("/__admin/phone-numbers/81299990001?server_key={KEY}"),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"deleted": 1}));
    assert_eq!(
        app.create(KEY, &gopay("81299990001")).await.body["status_code"],
        "201"
    );
}

#[tokio::test]
async fn scripted_balances_apply_when_the_account_is_linked() {
    let app = spawn_app();
    put(
        &app,
        "81299990002",
        json!({"outcome": "pending", "payment_options": [{"name": "GOPAY_WALLET", "balance": "1234.00"}]}),
    )
    .await;
    let id = app.create_pending(KEY, "81299990002").await;
    app.link(&id).await;
    let r = app.get(KEY, &id).await;
    let options = r.body["metadata"]["payment_options"].as_array().unwrap();
    assert_eq!(options.len(), 1, "{}", r.text);
    assert_eq!(options[0]["balance"]["value"], "1234.00");
}

#[tokio::test]
async fn the_list_shows_fixtures_and_added_scenarios_and_a_reset_restores_the_fixtures() {
    let app = spawn_app();
    let r = app.admin(Method::GET, "/__admin/phone-numbers", None).await;
    let fixtures = r.body["phone_numbers"].as_array().unwrap().len();
    assert!(fixtures >= 10, "{}", r.text);
    assert!(
        r.body["phone_numbers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["source"] == "fixtures")
    );
    put(
        &app,
        "81299990003",
        json!({"outcome": "user_blocked", "description": "mine"}),
    )
    .await;
    put(
        &app,
        "81299990004",
        json!({"outcome": "user_blocked", "server_key": OTHER_KEY}),
    )
    .await;
    let r = app
        .admin(
            Method::GET,
            &format!("/__admin/phone-numbers?server_key={KEY}"),
            None,
        )
        .await;
    assert_eq!(
        r.body["phone_numbers"].as_array().unwrap().len(),
        fixtures + 1
    );
    assert_eq!(r.body["phone_numbers"][0]["phone_number"], "81299990003");
    assert_eq!(r.body["phone_numbers"][0]["description"], "mine");
    let r = app
        .admin(Method::GET, "/__admin/phone-numbers/81299990004", None)
        .await;
    assert_eq!(r.body["phone_numbers"][0]["server_key"], OTHER_KEY);
    // The fixtures' blocked number, removed for everybody until the reset.
    let r = app
        .admin(Method::DELETE, "/__admin/phone-numbers/8271939753", None)
        .await;
    assert_eq!(r.body, json!({"deleted": 1}), "{}", r.text);
    assert_eq!(
        app.create(KEY, &gopay("8271939753")).await.body["status_code"],
        "201"
    );
    app.admin(Method::POST, "/__admin/reset", None).await;
    assert_eq!(
        app.create(KEY, &gopay("8271939753")).await.body["status_code"],
        "410"
    );
    assert_eq!(
        app.create(KEY, &gopay("81299990003")).await.body["status_code"],
        "201"
    );
    let r = app.admin(Method::GET, "/__admin/phone-numbers", None).await;
    assert_eq!(r.body["phone_numbers"].as_array().unwrap().len(), fixtures);
    let r = app
        .admin(Method::GET, "/__admin/phone-numbers/81299990003", None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_blocked_scenario_added_later_blocks_charges_too() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81299990005").await;
    app.link(&id).await;
    let token = app.wallet_token(KEY, &id).await;
    put(
        &app,
        "81299990005",
        json!({"outcome": "user_blocked", "server_key": KEY}),
    )
    .await;
    let charge = json!({
        "payment_type": "gopay",
        "transaction_details": {"order_id": "order-blocked-1", "gross_amount": 1000},
        "gopay": {"account_id": id, "payment_option_token": token}
    });
    let r = app.charge(KEY, &charge).await;
    assert_eq!(r.body["status_code"], "410", "{}", r.text);
}

#[tokio::test]
async fn bad_scenarios_get_a_clear_400() {
    let app = spawn_app();
    for (number, body, wanted) in [
        ("81299990006", json!({}), "outcome is required"),
        (
            "0812",
            json!({"outcome": "pending"}),
            "must be 1 to 64 digits",
        ),
        (
            "81299990006",
            json!({"outcome": "lost"}),
            "invalid JSON body",
        ),
        (
            "81299990006",
            json!({"outcome": "pending", "colour": 1}),
            "invalid JSON body",
        ),
        (
            "81299990006",
            json!({"outcome": "pending", "country_code": "6200"}),
            "country_code",
        ),
        (
            "81299990006",
            json!({"outcome": "pending", "phone_number": "1"}),
            "must be the one in the path",
        ),
        (
            "81299990006",
            json!({"outcome": "pending", "server_key": " "}),
            "server_key",
        ),
        // A charge finds an option by its token and moves money by its name.
        (
            "81299990006",
            json!({"outcome": "pending", "payment_options": [
                {"name": "GOPAY_WALLET", "balance": "0.00"},
                {"name": "GOPAY_WALLET", "balance": "500000.00"}
            ]}),
            "names must differ",
        ),
    ] {
        let r = put(&app, number, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(
            r.body["message"].as_str().unwrap().contains(wanted),
            "{body}: {}",
            r.text
        );
    }
    let r = app
        .admin(Method::DELETE, "/__admin/phone-numbers/81299990006", None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_list_comes_in_pages_that_a_cursor_follows() {
    let app = spawn_app();
    put(&app, "81299990011", json!({"outcome": "user_blocked"})).await;
    put(&app, "81299990012", json!({"outcome": "pending"})).await;
    let whole = app.admin(Method::GET, "/__admin/phone-numbers", None).await;
    assert_eq!(whole.body["next_cursor"], Value::Null, "{}", whole.text);
    let all: Vec<Value> = whole.body["phone_numbers"].as_array().unwrap().clone();
    assert!(all.len() > 3, "{}", whole.text);

    // Two at a time, following next_cursor: the same list, added ones first.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..all.len() {
        let path = match &cursor {
            Some(c) => format!("/__admin/phone-numbers?limit=2&cursor={c}"),
            None => "/__admin/phone-numbers?limit=2".to_string(),
        };
        let r = app.admin(Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body["phone_numbers"].as_array().unwrap();
        assert!(page.len() <= 2);
        paged.extend(page.iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(paged[0]["phone_number"], "81299990011");

    // A bad limit or cursor is the control API's 400.
    for bad in ["limit=0", "limit=1001", "cursor=x"] {
        let r = app
            .admin(Method::GET, &format!("/__admin/phone-numbers?{bad}"), None)
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
}
