//! The activation pages (`gpar_` web link, `gpad_` app link).

use std::time::Duration;

use crate::helpers::*;
use crate::pages::*;

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

    // The web link works once: reopening it says so. The same button pressed again (a double
    // click) answers as the first press did, and links nothing again.
    let again = open(&app, &a.web).await;
    assert_html(&again, 410);
    assert!(again.text.contains("already been used"), "{}", again.text);
    let replay = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_eq!(replay.status, 303, "{}", replay.text);
    assert_eq!(replay.location, done.location);
    let declined = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "decline")],
    )
    .await;
    assert_html(&declined, 410);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "ENABLED");
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
    // A form posted without the token the page handed out does nothing, and says why.
    let forged = post_form(&app, &a.web, &[("decision", "approve")]).await;
    assert_html(&forged, 403);
    assert!(forged.text.contains("Form expired"), "{}", forged.text);
    // Nor does one that is not the page's form (a field twice).
    let page_token = token(&p);
    let twice = post_form(
        &app,
        &a.web,
        &[
            ("token", &page_token),
            ("decision", "approve"),
            ("decision", "decline"),
        ],
    )
    .await;
    assert_html(&twice, 400);
    assert!(twice.text.contains("Form not understood"), "{}", twice.text);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "PENDING");
    let done = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_html(&done, 200);
    assert_eq!(status_of(&app, &a.id).await["account_status"], "ENABLED");
    // A double click: the second press answers as the first (the browser shows the last
    // answer), and nothing happens twice.
    let second = post_form(
        &app,
        &a.web,
        &[("token", &token(&p)), ("decision", "approve")],
    )
    .await;
    assert_html(&second, 200);
    assert!(second.text.contains("Account linked"), "{}", second.text);
    assert_eq!(app.notifications("").await.len(), 1, "linked once");
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
    let twice = post_form(&app, &a.web, &[("token", &t), ("decision", "decline")]).await;
    assert_html(&twice, 200);
    assert!(twice.text.contains("declined"), "{}", twice.text);
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
