//! What the page tests share: a browser-like client that does not follow redirects, form posts,
//! and the dashboard's form token.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An HTML answer: status, `Location` (redirects are not followed) and body.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn page(r: reqwest::Response) -> Page {
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
pub async fn open(app: &TestApp, url: &str) -> Page {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", app.url)
    };
    page(browser().get(url).send().await.expect("GET sent")).await
}

/// A form POST, as a browser sends it.
pub async fn post_form(app: &TestApp, url: &str, fields: &[(&str, &str)]) -> Page {
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

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn assert_html(p: &Page, status: u16) {
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
pub fn token(p: &Page) -> String {
    let at = p
        .text
        .find("name=\"token\" value=\"")
        .unwrap_or_else(|| panic!("no token in {}", p.text));
    p.text[at + 20..at + 56].to_string()
}

/// The form token the dashboard's forms carry.
pub async fn csrf(app: &TestApp) -> String {
    let p = open(app, "/__admin/").await;
    let at = p
        .text
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no form token in {}", p.text));
    p.text[at + 19..at + 51].to_string()
}

/// Creates an account and returns (id, web link, app link).
pub async fn create(app: &TestApp, key: &str, phone: &str, redirect_url: Option<&str>) -> Created {
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

pub struct Created {
    pub id: String,
    pub web: String,
    pub app: String,
}

pub async fn status_of(app: &TestApp, id: &str) -> Value {
    app.get(KEY, id).await.body
}

/// The text inside the first element that starts with `open_tag` (`<pre class="x">`), unescaped.
pub fn inner_text(p: &Page, open_tag: &str) -> String {
    let start = p
        .text
        .find(open_tag)
        .unwrap_or_else(|| panic!("no {open_tag} in {}", p.text))
        + open_tag.len();
    let end = start + p.text[start..].find("</").expect("closing tag");
    p.text[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
