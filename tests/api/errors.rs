//! What every route shares: authentication, HTTP status modes, bodies that cannot be read,
//! unknown routes and methods, content types.

use std::time::Duration;

use crate::helpers::*;
use pay_account_mock::config::HttpStatusMode;
use reqwest::Method;
use serde_json::json;

const PENDING: &str = "00000269-7836-49e5-bc65-e592afafec15";
const MSG_UNAUTHORIZED: &str = "Unknown Merchant server_key/id";

/// One request per Midtrans route, with the given `Authorization` header (if any).
async fn each_route(app: &TestApp, auth: Option<&str>) -> Vec<Reply> {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    let create = gopay("81212345678").to_string().into_bytes();
    vec![
        app.raw(Method::POST, "/v2/pay/account", &headers, Some(create))
            .await,
        app.raw(
            Method::GET,
            &format!("/v2/pay/account/{PENDING}"),
            &headers,
            None,
        )
        .await,
        app.raw(
            Method::POST,
            &format!("/v2/pay/account/{PENDING}/unbind"),
            &headers,
            Some(b"{}".to_vec()),
        )
        .await,
    ]
}

#[tokio::test]
async fn requests_without_a_usable_server_key_get_401() {
    let app = spawn_app();
    let before = app.account_count().await;
    for auth in [
        None,
        Some("Bearer U0ItTWlkLXNlcnZlci1URVNUS0VZMTIzOg=="),
        Some("SB-Mid-server-TESTKEY123"),
        Some("Basic"),
        Some("Basic !!!not-base64!!!"),
        Some("Basic Og=="),                 // ":" : an empty key
        Some("Basic U0ItTWlkLXNlcnZlcg=="), // no colon
    ] {
        for r in each_route(&app, auth).await {
            assert_envelope(&r, 401, "401", MSG_UNAUTHORIZED);
            assert_json(&r);
        }
    }
    assert_eq!(app.account_count().await, before);
}

#[tokio::test]
async fn auth_is_checked_before_the_body() {
    let app = spawn_app();
    let r = app
        .raw(
            Method::POST,
            "/v2/pay/account",
            &[("Content-Type", "application/json")],
            Some(b"{not json".to_vec()),
        )
        .await;
    assert_envelope(&r, 401, "401", MSG_UNAUTHORIZED);
    let r = app
        .request(Method::POST, "/v2/pay/account", None, Some("{}".into()))
        .await;
    assert_envelope(&r, 401, "401", MSG_UNAUTHORIZED);
}

#[tokio::test]
async fn configured_server_keys_are_the_only_ones_accepted() {
    let app = spawn_app_with(|c| c.server_keys = vec![KEY.into(), "SB-Mid-server-SECOND".into()]);
    for key in [KEY, "SB-Mid-server-SECOND"] {
        let r = app.create(key, &gopay("81212345678")).await;
        assert_eq!(r.body["status_code"], "201", "{key}: {}", r.text);
        assert_eq!(app.get(key, PENDING).await.body["status_code"], "201");
    }
    for key in [
        OTHER_KEY,
        "sb-mid-server-testkey123",
        "SB-Mid-server-TESTKEY123 ",
    ] {
        let r = app.create(key, &gopay("81212345678")).await;
        assert_envelope(&r, 401, "401", MSG_UNAUTHORIZED);
        let r = app.get(key, PENDING).await;
        assert_envelope(&r, 401, "401", MSG_UNAUTHORIZED);
        let r = app.unbind(key, PENDING).await;
        assert_envelope(&r, 401, "401", MSG_UNAUTHORIZED);
    }
}

#[tokio::test]
async fn mirror_mode_sends_the_body_code_as_the_http_status() {
    let app = spawn_app_with(|c| c.http_status = HttpStatusMode::Mirror);
    let r = app.get(KEY, "dummy").await;
    assert_envelope(&r, 404, "404", "Account doesn't exist.");
    let r = app.unbind(KEY, "dummy").await;
    assert_envelope(&r, 404, "404", "Account doesn't exist.");
    let r = app.create(KEY, &gopay("123450002")).await;
    assert_envelope(&r, 410, "410", "GoPay user is blocked");
    let r = app.unbind(KEY, PENDING).await;
    assert_envelope(&r, 412, "412", "Account status cannot be updated.");
    let r = app
        .request(Method::POST, "/v2/pay/account", Some(KEY), Some("{".into()))
        .await;
    assert_malformed(&r, 413);
    // Unchanged: validation, auth, and the success bodies.
    let r = app.create(KEY, &gopay("081234567891")).await;
    assert_eq!(r.status, 400);
    let r = app.create("", &gopay("81212345678")).await;
    assert_eq!(r.status, 401);
    let r = app.create(KEY, &gopay("123450001")).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["status_code"]),
        (200, &json!("202"))
    );
    let r = app.get(KEY, PENDING).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["status_code"]),
        (200, &json!("201"))
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_get_413_over_http_200() {
    let app = spawn_app();
    let before = app.account_count().await;
    for body in [
        "",
        "{",
        "null",
        "[1]",
        "\"gopay\"",
        "42",
        "{\"payment_type\":\"gopay\",}",
    ] {
        let r = app
            .request(
                Method::POST,
                "/v2/pay/account",
                Some(KEY),
                Some(body.into()),
            )
            .await;
        assert_malformed(&r, 200);
        assert_json(&r);
    }
    // Not UTF-8.
    let auth = basic(KEY);
    let r = app
        .raw(
            Method::POST,
            "/v2/pay/account",
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            Some(vec![0xff, 0xfe, b'{', b'}']),
        )
        .await;
    assert_eq!(r.body["status_code"], "413", "{}", r.text);
    assert_eq!(app.account_count().await, before);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_http_413() {
    let app = spawn_app_with(|c| c.max_body_bytes = 256);
    let padding = "x".repeat(300);
    let body = json!({
        "payment_type": "gopay",
        "gopay_partner": {"phone_number": "81212345678", "country_code": "62", "redirect_url": format!("https://www.gojek.com/{padding}")}
    });
    let r = app.create(KEY, &body).await;
    assert_envelope(&r, 413, "413", "The request body is too large.");
    assert_json(&r);
    // The limit applies to the bodies of the other routes too.
    let auth = basic(KEY);
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/pay/account/{PENDING}"),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            Some(vec![b' '; 1024]),
        )
        .await;
    assert_envelope(&r, 413, "413", "The request body is too large.");
    // Under the limit is fine.
    let r = app.create(KEY, &gopay("81212345678")).await;
    assert_eq!(r.body["status_code"], "201");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_http_413() {
    // No Content-Length: the limit is enforced while reading.
    let app = spawn_app_with(|c| c.max_body_bytes = 256);
    let addr = app.server.addr();
    let auth = basic(KEY);
    let chunk = " ".repeat(200);
    let request = format!(
        "POST /v2/pay/account HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         c8\r\n{chunk}\r\nc8\r\n{chunk}\r\n0\r\n\r\n"
    );
    let raw = app.exchange(&[request.as_bytes()], Duration::ZERO).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(
        raw.contains(r#""status_message":"The request body is too large.""#),
        "{raw}"
    );
}

/// A create whose body is sent chunked, `piece` bytes per chunk and `pause` apart, on a connection
/// of its own; what the server answered.
async fn create_in_pieces(app: &TestApp, body: &str, piece: usize, pause: Duration) -> String {
    let addr = app.server.addr();
    let auth = basic(KEY);
    let mut pieces = vec![format!(
        "POST /v2/pay/account HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )];
    for piece in body.as_bytes().chunks(piece) {
        let piece = String::from_utf8(piece.to_vec()).unwrap();
        pieces.push(format!("{:x}\r\n{piece}\r\n", piece.len()));
    }
    pieces.push("0\r\n\r\n".into());
    let pieces: Vec<&[u8]> = pieces.iter().map(|p| p.as_bytes()).collect();
    app.exchange(&pieces, pause).await
}

/// A body just under the limit, in five pieces, is read and answered: each byte counts once
/// however many pieces it came in.
#[tokio::test]
async fn a_body_under_the_limit_in_many_pieces_is_not_refused_as_too_large() {
    let body = format!("{}{}", gopay("81277700002"), " ".repeat(150));
    let app = spawn_app_with(|c| c.max_body_bytes = body.len() + 10);
    let raw = create_in_pieces(
        &app,
        &body,
        body.len().div_ceil(5),
        Duration::from_millis(20),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains(r#""status_code":"201""#), "{raw}");
}

/// A body that comes in several chunks and several reads is read whole (one chunk is taken as it
/// is, more are joined), and the journal records all of it.
#[tokio::test]
async fn a_body_sent_in_pieces_is_read_whole() {
    let app = spawn_app();
    let body = gopay("81277700001").to_string();
    let raw = create_in_pieces(&app, &body, 20, Duration::from_millis(5)).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains(r#""status_code":"201""#), "{raw}");
    let journal = app
        .admin(Method::GET, "/__admin/requests?path=/v2/pay/account", None)
        .await;
    assert_eq!(
        journal.body["requests"][0]["body"]["gopay_partner"]["phone_number"], "81277700001",
        "{}",
        journal.text
    );
}

#[tokio::test]
async fn bodies_sent_as_forms_text_or_xml_get_415() {
    let app = spawn_app();
    let auth = basic(KEY);
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "text/xml",
        "application/xml",
    ] {
        let r = app
            .raw(
                Method::POST,
                "/v2/pay/account",
                &[
                    ("Authorization", auth.as_str()),
                    ("Content-Type", content_type),
                ],
                Some(gopay("81212345678").to_string().into_bytes()),
            )
            .await;
        assert_envelope(
            &r,
            415,
            "415",
            "The request body must be JSON (Content-Type: application/json).",
        );
        assert_json(&r);
    }
}

#[tokio::test]
async fn json_content_types_and_a_missing_one_are_read_as_json() {
    let app = spawn_app();
    let auth = basic(KEY);
    let body = gopay("81212345678").to_string().into_bytes();
    let with = |ct: &'static str| {
        [
            ("Authorization", auth.clone()),
            ("Content-Type", ct.to_string()),
        ]
    };
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
    ] {
        let headers = with(content_type);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app
            .raw(
                Method::POST,
                "/v2/pay/account",
                &headers,
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.body["status_code"], "201", "{content_type}: {}", r.text);
    }
    let r = app
        .raw(
            Method::POST,
            "/v2/pay/account",
            &[("Authorization", auth.as_str())],
            Some(body),
        )
        .await;
    assert_eq!(r.body["status_code"], "201", "no content type: {}", r.text);
}

#[tokio::test]
async fn unknown_paths_get_a_404_envelope_with_http_404() {
    let app = spawn_app();
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/v2/pay"),
        (Method::POST, "/v2/charge/x"),
        (Method::GET, "/v1/pay/account"),
        (Method::GET, "/v2/pay/account/x/y/z"),
        (Method::GET, "/v2/pay/account/"),
        (Method::POST, "/v2/pay/account//unbind"),
        (Method::GET, "/v2/pay/account/x/"),
        (Method::POST, "/v2/pay/account/x/unbind/"),
        (Method::GET, "/v2/pay/accountx"),
        (
            Method::POST,
            &format!("/v2/pay/account/{PENDING}/unlink") as &str,
        ),
    ] {
        let r = app.admin(method.clone(), path, None).await;
        assert_envelope(&r, 404, "404", "The requested resource is not found");
        assert_json(&r);
        let r = app.request(method, path, Some(KEY), None).await;
        assert_envelope(&r, 404, "404", "The requested resource is not found");
    }
}

#[tokio::test]
async fn wrong_methods_get_a_405_envelope_with_http_405() {
    let app = spawn_app();
    for (method, path) in [
        (Method::PUT, "/v2/pay/account".to_string()),
        (Method::GET, "/v2/pay/account".to_string()),
        (Method::DELETE, "/v2/pay/account".to_string()),
        (Method::DELETE, format!("/v2/pay/account/{PENDING}")),
        (Method::POST, format!("/v2/pay/account/{PENDING}")),
        (Method::PATCH, format!("/v2/pay/account/{PENDING}")),
        (Method::GET, format!("/v2/pay/account/{PENDING}/unbind")),
        (Method::PUT, format!("/v2/pay/account/{PENDING}/unbind")),
    ] {
        for key in [Some(KEY), None] {
            let r = app
                .request(method.clone(), &path, key, Some("{}".into()))
                .await;
            assert_envelope(&r, 405, "405", "HTTP method is not allowed.");
            assert_json(&r);
        }
    }
    // Nothing was unbound or created on the way.
    assert_eq!(
        app.get(KEY, PENDING).await.body["account_status"],
        "PENDING"
    );
}

#[tokio::test]
async fn every_api_answer_is_served_as_json() {
    let app = spawn_app();
    let id = app.create_pending(KEY, "81212345678").await;
    let replies = [
        app.create(KEY, &gopay("81212345678")).await,
        app.create(KEY, &gopay("123450001")).await,
        app.create(KEY, &gopay("123450002")).await,
        app.create(KEY, &gopay("0812")).await,
        app.get(KEY, &id).await,
        app.get(KEY, "dummy").await,
        app.unbind(KEY, &id).await,
        app.unbind(KEY, "00000269-7836-49e5-bc65-e592afafec14")
            .await,
        app.get("", &id).await,
    ];
    for r in &replies {
        assert_json(r);
        assert!(r.body.is_object(), "{}", r.text);
        assert!(r.body["status_code"].is_string(), "{}", r.text);
    }
}

#[tokio::test]
async fn error_ids_are_fresh_uuids_even_with_a_seed() {
    let app = spawn_app_with(|c| c.seed = Some(1));
    let a = app.get(KEY, "dummy").await;
    let b = app.get(KEY, "dummy").await;
    assert_ne!(a.body["id"], b.body["id"]);
    let other = spawn_app_with(|c| c.seed = Some(1));
    assert_ne!(other.get(KEY, "dummy").await.body["id"], a.body["id"]);
}
