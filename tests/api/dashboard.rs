//! The QA dashboard at `/__admin/`: its lists, forms, and the account and notification pages.

use std::time::Duration;

use crate::helpers::*;
use crate::pages::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn admin_without_a_slash_redirects_to_the_dashboard() {
    let app = spawn_app();
    let p = open(&app, "/__admin").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/__admin/"));
    let p = open(&app, "/__admin?status=ENABLED").await;
    assert_eq!(p.location.as_deref(), Some("/__admin/?status=ENABLED"));
}

#[tokio::test]
async fn the_dashboard_lists_accounts_and_its_buttons_move_them() {
    let app = spawn_app_with(|c| c.merchant_id = "G141532850".into());
    let a = create(&app, KEY, "81212345678", None).await;
    let p = open(&app, "/__admin/").await;
    assert_html(&p, 200);
    for expected in [
        a.id.as_str(),
        KEY,
        "+62 *******5678",
        a.web.as_str(),
        a.app.as_str(),
        "G141532850",
        "Mock clock",
        // The shared fixture accounts are listed too.
        "00000269-7836-49e5-bc65-e592afafec14",
        "<em>shared</em>",
    ] {
        assert!(p.text.contains(expected), "{expected} missing");
    }
    let link = format!("/__admin/ui/accounts/{}/link", a.id);
    let expire = format!("/__admin/ui/accounts/{}/expire", a.id);
    assert!(p.text.contains(&format!("action=\"{link}\"")));
    assert!(p.text.contains(&format!("action=\"{expire}\"")));

    // A form without this server's token is refused and changes nothing.
    let r = post_form(&app, &link, &[]).await;
    assert_html(&r, 403);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "PENDING");
    let t = csrf(&app).await;
    let r = post_form(&app, &link, &[("csrf", &t)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some("/__admin/"));
    assert_eq!(status_of(&app, &a.id).await["account_status"], "ENABLED");

    let p = open(&app, "/__admin/?status=ENABLED").await;
    assert!(p.text.contains(&a.id));
    assert!(!p.text.contains(&format!("action=\"{link}\"")));
    let unlink = format!("/__admin/ui/accounts/{}/unlink", a.id);
    assert!(p.text.contains(&format!("action=\"{unlink}\"")));
    assert!(
        p.text
            .contains(&format!("/__admin/ui/accounts/{}/unbind", a.id))
    );
    assert!(
        p.text.contains("account_linked"),
        "the log shows the notification"
    );

    // The filters ride along with the form and come back in the redirect.
    let r = post_form(
        &app,
        &unlink,
        &[("csrf", &t), ("server_key", KEY), ("status", "ENABLED")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.location.as_deref(),
        Some("/__admin/?server_key=SB-Mid-server-TESTKEY123&status=ENABLED")
    );
    assert_eq!(status_of(&app, &a.id).await["account_status"], "DISABLED");

    // A transition the state does not allow: an HTML 409, nothing changes.
    let r = post_form(&app, &link, &[("csrf", &t)]).await;
    assert_html(&r, 409);
    assert!(r.text.contains("DISABLED"), "{}", r.text);
    let r = post_form(&app, "/__admin/ui/accounts/not-an-id/link", &[("csrf", &t)]).await;
    assert_html(&r, 404);
    let r = post_form(
        &app,
        &format!("/__admin/ui/accounts/{}/explode", a.id),
        &[("csrf", &t)],
    )
    .await;
    assert_html(&r, 404);
}

#[tokio::test]
async fn the_dashboard_escapes_what_merchants_send() {
    let app = spawn_app();
    let evil = "https://shop.test/\"><script>alert(1)</script>";
    let a = create(&app, KEY, "81212345678", Some(evil)).await;
    let p = open(&app, "/__admin/").await;
    assert_html(&p, 200);
    assert!(p.text.contains(&a.id));
    let account_page = open(&app, &format!("/__admin/ui/accounts/{}", a.id)).await;
    for p in [&p, &account_page] {
        assert!(!p.text.contains("<script>"), "unescaped markup");
        // Long URLs may wrap between their parts (`<wbr>`), and nowhere else.
        assert!(
            p.text
                .replace("<wbr>", "")
                .contains("https://shop.test/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            "the redirect URL is shown escaped"
        );
    }
    // A server key with markup in it (from a filter) is escaped too.
    let p = open(&app, "/__admin/?server_key=%3Cscript%3Ex").await;
    assert_html(&p, 200);
    assert!(!p.text.contains("<script>x"), "unescaped filter");
    assert!(!p.text.contains(&a.id), "filtered out");
}

#[tokio::test]
async fn the_dashboard_filters_by_server_key() {
    let app = spawn_app();
    let mine = create(&app, KEY, "81212345678", None).await;
    let theirs = create(&app, OTHER_KEY, "81299999999", None).await;
    let p = open(&app, &format!("/__admin/?server_key={KEY}")).await;
    assert!(p.text.contains(&mine.id));
    assert!(!p.text.contains(&theirs.id));
    assert!(!p.text.contains("00000269-7836-49e5-bc65-e592afafec14"));
    let p = open(&app, "/__admin/?server_key=shared").await;
    assert!(p.text.contains("00000269-7836-49e5-bc65-e592afafec14"));
    assert!(!p.text.contains(&mine.id));
}

#[tokio::test]
async fn the_notification_log_shows_attempts_and_retries() {
    let receiver = receiver(200).await;
    let url = format!("{}/notify", receiver.uri());
    let app = spawn_app_with(|c| c.notification_url = Some(url.clone()));
    let a = create(&app, KEY, "81212345678", None).await;
    let r = post_form(&app, &a.app, &[("pin", "112233")]).await;
    assert_html(&r, 200);

    let delivered = wait_for_dashboard(&app, "data-state=\"delivered\"").await;
    assert!(delivered.contains(&url), "the URL is shown");
    assert!(delivered.contains("HTTP 200"), "the attempt is shown");
    assert!(delivered.contains(&a.id));
    assert!(delivered.contains("account_linked"));
    let id = app.notifications("").await[0]["id"].as_u64().unwrap();

    let t = csrf(&app).await;
    let r = post_form(
        &app,
        &format!("/__admin/ui/notifications/{id}/retry"),
        &[("csrf", &t)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some("/__admin/"));
    for _ in 0..100 {
        let n = app.notifications("").await;
        if n[0]["attempts_total"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = open(&app, "/__admin/").await;
    assert_eq!(p.text.matches("class=\"attempt\"").count(), 2, "{}", p.text);
    assert_eq!(receiver.received_requests().await.map(|r| r.len()), Some(2));

    let r = post_form(&app, "/__admin/ui/notifications/999/retry", &[("csrf", &t)]).await;
    assert_html(&r, 404);
}

async fn wait_for_dashboard(app: &TestApp, needle: &str) -> String {
    for _ in 0..100 {
        let p = open(app, "/__admin/").await;
        if p.text.contains(needle) {
            return p.text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the dashboard never showed {needle}");
}

#[tokio::test]
async fn the_dashboard_creates_an_account_and_shows_its_activation_links() {
    let app = spawn_app();
    let t = csrf(&app).await;
    let dashboard = open(&app, "/__admin/").await;
    assert!(
        dashboard.text.contains("option value=\"8271939753\""),
        "the scripted numbers are offered"
    );

    let r = post_form(
        &app,
        "/__admin/ui/accounts",
        &[
            ("csrf", &t),
            ("server_key", KEY),
            ("phone_number", "81299990001"),
            ("country_code", "62"),
            ("redirect_url", "https://merchant.example/done"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.location.expect("back to the dashboard");
    let mine = app.accounts_of(KEY).await;
    assert_eq!(mine.len(), 1);
    let id = mine[0]["account_id"].as_str().unwrap();
    assert_eq!(mine[0]["account_status"], "PENDING");
    assert_eq!(mine[0]["redirect_url"], "https://merchant.example/done");
    assert!(location.contains(&format!("created={id}")), "{location}");
    let p = open(&app, &location).await;
    assert_html(&p, 200);
    let web = mine[0]["activation_links"]["url"].as_str().unwrap();
    assert!(
        p.text
            .contains(&format!("class=\"created-web\" href=\"{web}\"")),
        "{}",
        p.text
    );

    // The API's own checks and wording, and the number's scenario, apply; nothing is made.
    let r = post_form(
        &app,
        "/__admin/ui/accounts",
        &[
            ("csrf", &t),
            ("server_key", KEY),
            ("phone_number", "0812"),
            ("country_code", "62"),
        ],
    )
    .await;
    assert_html(&r, 400);
    assert!(
        r.text.contains(pay_account_mock::api::create::MSG_PHONE),
        "{}",
        r.text
    );
    let r = post_form(
        &app,
        "/__admin/ui/accounts",
        &[
            ("csrf", &t),
            ("server_key", KEY),
            ("phone_number", "8271939753"),
            ("country_code", "62"),
        ],
    )
    .await;
    assert_html(&r, 400);
    assert!(r.text.contains("blocked"), "{}", r.text);
    let r = post_form(
        &app,
        "/__admin/ui/accounts",
        &[
            ("csrf", &t),
            ("server_key", " "),
            ("phone_number", "81299990002"),
            ("country_code", "62"),
        ],
    )
    .await;
    assert_html(&r, 400);

    // Without this server's form token, or from a page on another site: refused.
    let r = post_form(
        &app,
        "/__admin/ui/accounts",
        &[
            ("server_key", KEY),
            ("phone_number", "81299990003"),
            ("country_code", "62"),
        ],
    )
    .await;
    assert_html(&r, 403);
    let body = format!("csrf={t}&server_key={KEY}&phone_number=81299990004&country_code=62");
    let r = app
        .raw(
            Method::POST,
            "/__admin/ui/accounts",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Origin", "http://evil.example"),
            ],
            Some(body.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(app.accounts_of(KEY).await.len(), 1, "nothing else was made");
}

#[tokio::test]
async fn the_dashboard_moves_the_clock_and_resets_after_a_confirmation() {
    let app = spawn_app();
    let t = csrf(&app).await;
    let pending = create(&app, KEY, "81299990011", None).await;
    let other = create(&app, OTHER_KEY, "81299990012", None).await;

    let r = post_form(&app, "/__admin/ui/clock", &[("csrf", &t), ("by", "16m")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let clock = app.admin(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock.body["offset_ms"], 960_000);
    assert_eq!(
        app.get(KEY, &pending.id).await.body["account_status"],
        "EXPIRED",
        "the activation TTL ran out"
    );
    let r = post_form(&app, "/__admin/ui/clock", &[("csrf", &t), ("by", "soon")]).await;
    assert_html(&r, 400);
    assert!(r.text.contains("invalid duration"), "{}", r.text);
    let r = post_form(&app, "/__admin/ui/clock", &[("csrf", &t), ("by", "200y")]).await;
    assert_html(&r, 400);

    // One key: a confirmation page first, which changes nothing; then only that key's accounts go.
    let r = post_form(
        &app,
        "/__admin/ui/reset",
        &[("csrf", &t), ("server_key", KEY)],
    )
    .await;
    assert_html(&r, 200);
    assert!(
        r.text.contains("Yes, reset") && r.text.contains(KEY),
        "{}",
        r.text
    );
    assert_eq!(app.accounts_of(KEY).await.len(), 1);
    let r = post_form(
        &app,
        "/__admin/ui/reset",
        &[("csrf", &t), ("server_key", KEY), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(app.accounts_of(KEY).await.is_empty());
    assert_eq!(app.accounts_of(OTHER_KEY).await.len(), 1);

    // Everything, after its confirmation; the clock is back to real time.
    let r = post_form(
        &app,
        "/__admin/ui/reset",
        &[("csrf", &t), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(app.accounts_of(OTHER_KEY).await.is_empty(), "{}", other.id);
    let clock = app.admin(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock.body["offset_ms"], 0);

    // Without the form token, or from another site: nothing happens.
    let r = post_form(&app, "/__admin/ui/reset", &[("confirm", "yes")]).await;
    assert_html(&r, 403);
    let r = app
        .raw(
            Method::POST,
            "/__admin/ui/clock",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
            Some(format!("csrf={t}&by=1h").into_bytes()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let clock = app.admin(Method::GET, "/__admin/clock", None).await;
    assert_eq!(clock.body["offset_ms"], 0);
}

#[tokio::test]
async fn the_dashboard_changes_the_config_with_the_control_apis_checks() {
    let app = spawn_app();
    let t = csrf(&app).await;
    let fields = |url: &'static str, schedule: &'static str| {
        vec![
            ("csrf", t.clone()),
            ("notification_url", url.to_string()),
            ("payment_notification_url", String::new()),
            ("key", KEY.to_string()),
            ("key_url", "https://merchant.example/key".to_string()),
            ("merchant_id", "M-DASH".to_string()),
            ("gopay_merchant_id", "G123456789".to_string()),
            ("activation_ttl", "20m".to_string()),
            ("retry_schedule", schedule.to_string()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, "/__admin/ui/config", &pairs).await
        }
    };
    let r = post(fields("https://merchant.example/notify", "1m, 5m, 1h 30m")).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let c = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert_eq!(c["notification_url"], "https://merchant.example/notify");
    assert_eq!(c["notification_urls"][KEY], "https://merchant.example/key");
    assert_eq!(c["payment_notification_url"], Value::Null);
    assert_eq!(c["merchant_id"], "M-DASH");
    assert_eq!(c["gopay_merchant_id"], "G123456789");
    assert_eq!(c["activation_ttl"], "20m");
    assert_eq!(c["retry_schedule"], json!(["1m", "5m", "1h 30m"]));

    // One bad value: nothing changes, and the page names it.
    let r = post(fields("ftp://nope", "1m")).await;
    assert_html(&r, 400);
    assert!(r.text.contains("notification_url"), "{}", r.text);
    let r = post(fields("", "1m, 8d")).await;
    assert_html(&r, 400);
    let after = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert_eq!(after, c, "a refused form changes nothing");

    // A blank URL clears it.
    let r = post(fields("", "1m")).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let c = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert_eq!(c["notification_url"], Value::Null);
    assert_eq!(c["retry_schedule"], json!(["1m"]));
}

#[tokio::test]
async fn an_account_page_shows_what_its_get_answers_and_changes_its_balances() {
    let app = spawn_app();
    let a = create(&app, KEY, "81212345678", None).await;
    app.link(&a.id).await;
    let href = format!("/__admin/ui/accounts/{}", a.id);

    // Every list links the id to the account's page.
    let overview = open(&app, "/__admin/").await;
    assert!(
        overview.text.contains(&format!("href=\"{href}\"")),
        "{}",
        overview.text
    );

    let p = open(&app, &href).await;
    assert_html(&p, 200);
    let shown: Value =
        serde_json::from_str(&inner_text(&p, "<pre class=\"payload\" id=\"get-body\">"))
            .expect("the GET body is JSON");
    let get = app.get(KEY, &a.id).await;
    assert_eq!(
        shown, get.body,
        "the page shows what the merchant's GET answers"
    );
    assert!(p.text.contains("+62 81212345678"), "{}", p.text);
    assert!(p.text.contains("Unbind (merchant)"), "{}", p.text);
    assert!(
        p.text.contains("account_linked"),
        "its notifications are listed"
    );
    let option = get.body["metadata"]["payment_options"][0]["name"]
        .as_str()
        .expect("an option")
        .to_string();

    // The balance form: checked as PATCH /__admin/accounts/{id} checks, then back to the page.
    let t = csrf(&app).await;
    let from = format!("account:{}", a.id);
    let balances = format!("{href}/balances");
    let r = post_form(
        &app,
        &balances,
        &[
            ("csrf", &t),
            ("from", &from),
            ("name", &option),
            ("balance", "1234.50"),
            ("active", "false"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some(href.as_str()));
    let o = &app.get(KEY, &a.id).await.body["metadata"]["payment_options"][0];
    assert_eq!(o["balance"]["value"], "1234.50");
    assert_eq!(o["active"], false);

    for (name, balance, active, says) in [
        (option.as_str(), "12,00", "true", "must look like"),
        (
            "NO_SUCH_OPTION",
            "1.00",
            "true",
            "no payment option NO_SUCH_OPTION",
        ),
        (option.as_str(), "1.00", "maybe", "neither true nor false"),
    ] {
        let r = post_form(
            &app,
            &balances,
            &[
                ("csrf", &t),
                ("from", &from),
                ("name", name),
                ("balance", balance),
                ("active", active),
            ],
        )
        .await;
        assert_html(&r, 400);
        assert!(r.text.contains(says), "{}", r.text);
        assert!(
            r.text.contains(&format!("href=\"{href}\"")),
            "back leads to the account"
        );
    }
    let o = &app.get(KEY, &a.id).await.body["metadata"]["payment_options"][0];
    assert_eq!(
        o["balance"]["value"], "1234.50",
        "a refused form changes nothing"
    );
    assert_eq!(o["active"], false);

    // No token: refused. Unknown account: a 404 page.
    let r = post_form(&app, &balances, &[("name", &option), ("balance", "1.00")]).await;
    assert_html(&r, 403);
    let nobody = "/__admin/ui/accounts/00000000-0000-4000-8000-000000000000";
    assert_html(&open(&app, nobody).await, 404);
    assert_html(&open(&app, "/__admin/ui/accounts/not-a-uuid").await, 404);
    let r = post_form(
        &app,
        &format!("{nobody}/balances"),
        &[("csrf", &t), ("name", &option)],
    )
    .await;
    assert_html(&r, 404);

    // A transition sent from the account page comes back to it.
    let r = post_form(
        &app,
        &format!("{href}/unbind"),
        &[("csrf", &t), ("from", &from)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some(href.as_str()));
    let p = open(&app, &href).await;
    assert!(p.text.contains("badge s-DISABLED"), "{}", p.text);
    let shown: Value =
        serde_json::from_str(&inner_text(&p, "<pre class=\"payload\" id=\"get-body\">"))
            .expect("JSON");
    assert_eq!(shown, app.get(KEY, &a.id).await.body);
}

#[tokio::test]
async fn a_notification_page_shows_the_exact_payload_headers_signature_and_attempts() {
    let receiver = receiver(503).await;
    let url = format!("{}/notify", receiver.uri());
    let app = spawn_app_with(|c| c.notification_url = Some(url.clone()));
    let a = create(&app, KEY, "81212345678", None).await;
    app.link(&a.id).await;
    let id = first_notification(&app, "event=account_linked").await;
    let href = format!("/__admin/ui/notifications/{id}");

    let overview = open(&app, "/__admin/").await;
    assert!(
        overview.text.contains(&format!("href=\"{href}\"")),
        "{}",
        overview.text
    );
    let account_page = open(&app, &format!("/__admin/ui/accounts/{}", a.id)).await;
    assert!(
        account_page.text.contains(&format!("href=\"{href}\"")),
        "{}",
        account_page.text
    );

    let p = open(&app, &href).await;
    assert_html(&p, 200);
    // The payload, byte for byte as the receiver got it.
    let received = receiver.received_requests().await.expect("recorded");
    let first = received.first().expect("one attempt arrived");
    let body = String::from_utf8(first.body.clone()).expect("UTF-8");
    assert_eq!(inner_text(&p, "<pre class=\"payload exact\">"), body);
    // Every header shown is one the receiver got, with the same value.
    let request = inner_text(&p, "<pre class=\"http\">");
    let mut lines = request.lines();
    assert_eq!(lines.next(), Some(format!("POST {url} HTTP/1.1").as_str()));
    let mut shown = 0;
    for line in lines {
        let (name, value) = line.split_once(": ").expect("a header line");
        let got = first.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(got, Some(value), "{name}");
        shown += 1;
    }
    assert!(shown >= 5, "{request}");
    assert!(request.contains("User-Agent: Veritrans"), "{request}");
    assert!(
        request.contains("x-pay-account-mock-instance: "),
        "{request}"
    );
    // The signature: the page recomputes it and says it matches.
    let payload: Value = serde_json::from_str(&body).expect("JSON");
    assert!(p.text.contains(payload["signature_key"].as_str().unwrap()));
    assert!(p.text.contains("matches"), "{}", p.text);
    assert!(!p.text.contains("does not match"), "{}", p.text);
    assert!(p.text.contains("HTTP 503"), "the attempt is shown");
    assert!(
        p.text.contains("Retry now"),
        "not delivered and a URL is set: Retry is offered"
    );

    // Retry from this page leads back to it.
    let t = csrf(&app).await;
    let from = format!("notification:{id}");
    let r = post_form(
        &app,
        &format!("{href}/retry"),
        &[("csrf", &t), ("from", &from)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some(href.as_str()));

    // No URL: no Retry, and the page says why.
    app.admin(
        Method::PATCH,
        "/__admin/config",
        Some(json!({"notification_url": null})),
    )
    .await;
    let p = open(&app, &href).await;
    assert!(!p.text.contains("Retry now"), "{}", p.text);
    assert!(p.text.contains("No notification URL is set"), "{}", p.text);

    assert_html(&open(&app, "/__admin/ui/notifications/999999").await, 404);
    assert_html(&open(&app, "/__admin/ui/notifications/x").await, 404);
}

/// The id of the first notification `query` selects, once one has had an attempt.
async fn first_notification(app: &TestApp, query: &str) -> u64 {
    for _ in 0..250 {
        if let Some(n) = app.notifications(query).await.first()
            && n["attempts_total"].as_u64() > Some(0)
        {
            return n["id"].as_u64().expect("id");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no notification matches {query}: {:?}",
        app.notifications("").await
    )
}

#[tokio::test]
async fn a_delivered_notification_offers_no_retry_and_a_payment_signature_checks_out() {
    let receiver = receiver(200).await;
    let url = format!("{}/notify", receiver.uri());
    let app = spawn_app_with(|c| {
        c.notification_url = Some(url.clone());
        c.payment_notification_url = Some(url.clone());
    });
    let a = create(&app, KEY, "81212345678", None).await;
    app.link(&a.id).await;
    let token = app.wallet_token(KEY, &a.id).await;
    let charge = json!({
        "payment_type": "gopay",
        "transaction_details": {"order_id": "dash-1", "gross_amount": 5000},
        "gopay": {"account_id": a.id, "payment_option_token": token}
    });
    let r = app.charge(KEY, &charge).await;
    assert_eq!(r.body["transaction_status"], "settlement", "{}", r.text);
    let id = first_notification(&app, "event=payment&state=delivered").await;
    let p = open(&app, &format!("/__admin/ui/notifications/{id}")).await;
    assert_html(&p, 200);
    assert!(p.text.contains("dash-1"), "{}", p.text);
    assert!(p.text.contains("gross_amount"), "{}", p.text);
    assert!(p.text.contains("matches"), "{}", p.text);
    assert!(!p.text.contains("Retry now"), "delivered: nothing to retry");
    assert!(p.text.contains("HTTP 200"));
}

#[tokio::test]
async fn the_config_form_sets_per_key_urls_the_pin_threshold_and_the_charge_ttls() {
    let app = spawn_app();
    let t = csrf(&app).await;
    let r = post_form(
        &app,
        "/__admin/ui/config",
        &[
            ("csrf", &t),
            ("key", KEY),
            ("key_url", "https://merchant.example/link"),
            ("key_payment_url", "https://merchant.example/pay"),
            ("pin_threshold", "250000"),
            ("verification_link_ttl", "10m"),
            ("transaction_ttl", "30m"),
            ("pre_auth_hold", "1h"),
            ("unbind_notification", "false"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let c = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert_eq!(c["notification_urls"][KEY], "https://merchant.example/link");
    assert_eq!(
        c["payment_notification_urls"][KEY],
        "https://merchant.example/pay"
    );
    assert_eq!(c["pin_threshold"], "250000.00");
    assert_eq!(c["verification_link_ttl"], "10m");
    assert_eq!(c["transaction_ttl"], "30m");
    assert_eq!(c["pre_auth_hold"], "1h");
    assert_eq!(c["unbind_notification"], false);
    // The overview shows them, and the form offers the key's URLs when filtered by it.
    let p = open(&app, &format!("/__admin/?server_key={KEY}")).await;
    assert!(
        p.text.contains("https://merchant.example/pay"),
        "{}",
        p.text
    );
    assert!(p.text.contains("value=\"250000\""), "{}", p.text);

    for (field, value, says) in [
        ("pin_threshold", "lots", "whole number"),
        (
            "pin_threshold",
            "1000000000000000",
            "pin_threshold must be between",
        ),
        ("transaction_ttl", "0s", "transaction_ttl"),
        ("unbind_notification", "perhaps", "neither true nor false"),
        ("key_payment_url", "ftp://x", "payment_notification_urls"),
    ] {
        let mut fields = vec![("csrf", t.as_str()), (field, value)];
        if field == "key_payment_url" {
            fields.push(("key", KEY));
        }
        let r = post_form(&app, "/__admin/ui/config", &fields).await;
        assert_html(&r, 400);
        assert!(r.text.contains(says), "{field}: {}", r.text);
    }
    let after = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert_eq!(after, c, "a refused form changes nothing");

    // With the key, a blank URL puts it back on the default.
    let r = post_form(
        &app,
        "/__admin/ui/config",
        &[
            ("csrf", &t),
            ("key", KEY),
            ("key_url", ""),
            ("key_payment_url", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let c = app.admin(Method::GET, "/__admin/config", None).await.body;
    assert!(c["notification_urls"].get(KEY).is_none(), "{c}");
    assert!(c["payment_notification_urls"].get(KEY).is_none(), "{c}");
}

#[tokio::test]
async fn the_settings_panel_shows_both_notification_urls_and_the_per_key_ones_in_key_order() {
    let app = spawn_app();
    let p = open(&app, "/__admin/").await;
    assert!(p.text.contains("none: notifications are logged, not sent"));
    assert!(
        p.text
            .contains("none: payment notifications are logged, not sent")
    );
    let r = app
        .admin(
            Method::PATCH,
            "/__admin/config",
            Some(json!({
                "notification_url": "http://127.0.0.1:9/hook",
                "notification_urls": {"k-b": "http://127.0.0.1:9/b", "k-a": "http://127.0.0.1:9/a"},
                "payment_notification_url": "http://127.0.0.1:9/pay",
                "payment_notification_urls": {"k-c": "http://127.0.0.1:9/c"},
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = open(&app, "/__admin/").await;
    // URLs are shown with break opportunities after their slashes.
    let at = |needle: &str| {
        p.text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    let order = [
        at(r#"<dt>Notification URL</dt><dd id="notification-url">"#),
        at("127.0.0.1:9/<wbr>hook</code>"),
        at("<dt>URL for <code>k-a</code></dt>"),
        at("127.0.0.1:9/<wbr>a</code>"),
        at("<dt>URL for <code>k-b</code></dt>"),
        at(r#"<dt>Payment notification URL</dt><dd id="payment-notification-url">"#),
        at("127.0.0.1:9/<wbr>pay</code>"),
        at("<dt>Payment URL for <code>k-c</code></dt>"),
        at("127.0.0.1:9/<wbr>c</code>"),
    ];
    assert!(order.is_sorted(), "{order:?}");
    assert!(!p.text.contains("none: notifications are logged, not sent"));
    assert!(
        !p.text
            .contains("none: payment notifications are logged, not sent")
    );
}
