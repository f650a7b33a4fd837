//! `POST /v2/pay/account`.

use crate::helpers::*;

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
