//! The activation pages (`gpar_` web link, `gpad_` app link) and the QA dashboard at `/__admin/`.

use std::time::Duration;

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An HTML answer: status, `Location` (redirects are not followed) and body.
struct Page {
    status: StatusCode,
    location: Option<String>,
    content_type: Option<String>,
    text: String,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn page(r: reqwest::Response) -> Page {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (location, content_type) = (header("location"), header("content-type"));
    Page {
        status: r.status(),
        location,
        content_type,
        text: r.text().await.expect("body"),
    }
}

/// GET of a full URL or a path on the app.
async fn open(app: &TestApp, url: &str) -> Page {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", app.url)
    };
    page(browser().get(url).send().await.expect("GET sent")).await
}

/// A form POST, as a browser sends it.
async fn post_form(app: &TestApp, url: &str, fields: &[(&str, &str)]) -> Page {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", app.url)
    };
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = browser()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST sent");
    page(r).await
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_html(p: &Page, status: u16) {
    assert_eq!(p.status.as_u16(), status, "{}", p.text);
    assert_eq!(
        p.content_type.as_deref(),
        Some("text/html; charset=utf-8"),
        "{}",
        p.text
    );
    assert!(p.text.starts_with("<!DOCTYPE html>"), "{}", p.text);
}

/// The hidden form token of a web-link page.
fn token(p: &Page) -> String {
    let at = p
        .text
        .find("name=\"token\" value=\"")
        .unwrap_or_else(|| panic!("no token in {}", p.text));
    p.text[at + 20..at + 56].to_string()
}

/// The form token the dashboard's forms carry.
async fn csrf(app: &TestApp) -> String {
    let p = open(app, "/__admin/").await;
    let at = p
        .text
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no form token in {}", p.text));
    p.text[at + 19..at + 51].to_string()
}

/// Creates an account and returns (id, web link, app link).
async fn create(app: &TestApp, key: &str, phone: &str, redirect_url: Option<&str>) -> Created {
    let mut body = json!({
        "payment_type": "gopay",
        "gopay_partner": {"phone_number": phone, "country_code": "62"}
    });
    if let Some(url) = redirect_url {
        body["gopay_partner"]["redirect_url"] = json!(url);
    }
    let r = app.create(key, &body).await;
    assert_eq!(r.body["status_code"], "201", "{}", r.text);
    let action = |name: &str| -> String {
        r.body["actions"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .and_then(|x| x["url"].as_str())
            .unwrap_or_else(|| panic!("no {name} in {}", r.text))
            .to_string()
    };
    Created {
        id: r.body["account_id"].as_str().expect("id").to_string(),
        web: action("activation-link-url"),
        app: action("activation-link-app"),
    }
}

struct Created {
    id: String,
    web: String,
    app: String,
}

async fn status_of(app: &TestApp, id: &str) -> Value {
    app.get(KEY, id).await.body
}

#[tokio::test]
async fn the_web_page_shows_the_merchant_and_the_masked_phone() {
    let app = spawn_app_with(|c| c.merchant_id = "G141532850".into());
    let a = create(&app, KEY, "81212345678", Some("https://shop.test/done")).await;
    assert!(a.web.contains("/v2/gopay/redirect/gpar_"), "{}", a.web);
    let p = open(&app, &a.web).await;
    assert_html(&p, 200);
    assert!(p.text.contains("G141532850"), "{}", p.text);
    assert!(p.text.contains("+62 *******5678"), "{}", p.text);
    assert!(!p.text.contains("81212345678"), "the full number leaks");
    assert!(p.text.contains(">Approve</button>"), "{}", p.text);
    assert!(p.text.contains(">Decline</button>"), "{}", p.text);
    assert!(p.text.contains("method=\"post\""), "{}", p.text);
}

#[tokio::test]
async fn approving_links_the_account_and_redirects_to_the_merchant() {
    let app = spawn_app();
    let a = create(
        &app,
        KEY,
        "81212345678",
        Some("https://shop.test/done?order=1"),
    )
    .await;
    let p = open(&app, &a.web).await;
    let done = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        done.location.as_deref(),
        Some("https://shop.test/done?order=1")
    );
    let body = status_of(&app, &a.id).await;
    assert_eq!(body["account_status"], "ENABLED", "{body}");
    assert_eq!(body["status_code"], "200");
    let options = body["metadata"]["payment_options"]
        .as_array()
        .expect("payment options");
    assert!(!options.is_empty());

    // The web link works once: reopening it, or posting the same form again, says so.
    let again = open(&app, &a.web).await;
    assert_html(&again, 410);
    assert!(again.text.contains("already been used"), "{}", again.text);
    let replay = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_html(&replay, 410);
}

#[tokio::test]
async fn without_a_redirect_url_approving_shows_a_linked_page() {
    let app = spawn_app();
    let a = create(&app, KEY, "81212345678", None).await;
    let p = open(&app, &a.web).await;
    let done = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_html(&done, 200);
    assert!(done.text.contains("Account linked"), "{}", done.text);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "ENABLED");
}

#[tokio::test]
async fn opening_the_web_link_does_not_use_it_only_submitting_does() {
    let app = spawn_app();
    let a = create(&app, KEY, "81212345678", None).await;
    // A browser prefetch, a chat preview or a screenshot opens the link: it still works.
    assert_html(&open(&app, &a.web).await, 200);
    let p = open(&app, &a.web).await;
    assert_html(&p, 200);
    // A form posted without the token the page handed out does nothing.
    let forged = post_form(&app, &a.web, &[("decision", "approve")]).await;
    assert_html(&forged, 410);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "PENDING");
    let done = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_html(&done, 200);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "ENABLED");
    let after = open(&app, &a.web).await;
    assert_html(&after, 410);
    assert!(after.text.contains("already been used"), "{}", after.text);
}

#[tokio::test]
async fn declining_keeps_the_account_pending_and_uses_the_link_up() {
    let app = spawn_app();
    let a = create(&app, KEY, "81212345678", Some("https://shop.test/done")).await;
    let p = open(&app, &a.web).await;
    let t = token(&p);
    let declined = post_form(&app, &a.web, &[("token", &t), ("decision", "decline")]).await;
    assert_html(&declined, 200);
    assert!(declined.text.contains("declined"), "{}", declined.text);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "PENDING");
    // Neither the same form nor a reopen can approve it afterwards.
    let replay = post_form(&app, &a.web, &[("token", &t), ("decision", "approve")]).await;
    assert_html(&replay, 410);
    assert_html(&open(&app, &a.web).await, 410);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "PENDING");
    assert!(app.notifications("").await.is_empty());
}

#[tokio::test]
async fn the_app_link_wants_the_sandbox_pin() {
    let app = spawn_app();
    let a = create(&app, KEY, "81212345678", Some("https://shop.test/done")).await;
    assert!(a.app.contains("/v2/gopay/redirect/gpad_"), "{}", a.app);
    // Reusable while PENDING.
    for _ in 0..2 {
        let p = open(&app, &a.app).await;
        assert_html(&p, 200);
        assert!(p.text.contains("name=\"pin\""), "{}", p.text);
        assert!(p.text.contains("+62 *******5678"), "{}", p.text);
    }
    for wrong in ["000000", "", "1122334"] {
        let p = post_form(&app, &a.app, &[("pin", wrong)]).await;
        assert_html(&p, 422);
        assert!(p.text.contains("Wrong PIN"), "{}", p.text);
        assert!(p.text.contains("name=\"pin\""), "the form comes back");
    }
    let empty = post_form(&app, &a.app, &[]).await;
    assert_html(&empty, 422);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "PENDING");
    assert!(app.notifications("").await.is_empty());

    let ok = post_form(&app, &a.app, &[("pin", "112233")]).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(ok.location.as_deref(), Some("https://shop.test/done"));
    assert_eq!(status_of(&app, &a.id).await["account_status"], "ENABLED");
    let linked = app.notifications("").await;
    assert_eq!(linked.len(), 1);
    assert_eq!(
        linked[0]["payload"]["status_message"],
        "Midtrans account_linked notification"
    );

    let after = open(&app, &a.app).await;
    assert_html(&after, 410);
    assert!(after.text.contains("already linked"), "{}", after.text);
    let again = post_form(&app, &a.app, &[("pin", "112233")]).await;
    assert_html(&again, 410);
}

#[tokio::test]
async fn unknown_links_get_an_html_404() {
    let app = spawn_app();
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/v2/gopay/redirect/gpar_{unknown}/link"),
        format!("/v2/gopay/redirect/gpad_{unknown}/link"),
        format!("/v2/gopay/redirect/gpxx_{unknown}/link"),
        format!("/v2/gopay/redirect/{unknown}/link"),
        "/v2/gopay/redirect/gpar_not-a-uuid/link".into(),
        "/v2/gopay/redirect/gpar_%3Cscript%3E/link".into(),
    ] {
        let p = open(&app, &path).await;
        assert_html(&p, 404);
        assert!(p.text.contains("Link not found"), "{path}: {}", p.text);
        assert!(!p.text.contains("<script>"), "{path}");
        assert_html(&post_form(&app, &path, &[("pin", "112233")]).await, 404);
    }
}

#[tokio::test]
async fn an_expired_account_says_so() {
    let app = spawn_app_with(|c| c.activation_ttl = Duration::from_millis(1));
    let a = create(&app, KEY, "81212345678", None).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    for link in [&a.web, &a.app] {
        let p = open(&app, link).await;
        assert_html(&p, 410);
        assert!(p.text.contains("expired"), "{}", p.text);
    }
    let p = post_form(&app, &a.app, &[("pin", "112233")]).await;
    assert_html(&p, 410);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "EXPIRED");
}

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
    assert!(!p.text.contains("<script>"), "unescaped markup");
    assert!(
        p.text
            .contains("https://shop.test/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the redirect URL is shown escaped"
    );
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
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
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
