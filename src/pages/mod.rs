//! The HTML dialect: the page layout, the two looks (the customer's GoPay card and the QA dashboard),
//! and [`PageError`], the one error type of every HTML route.
//!
//! Pages are `maud` templates, so every value is escaped unless it is marked otherwise; nothing here
//! builds HTML from strings. The CSS lives in files beside this one. Links to places a request chose
//! (a merchant's `redirect_url`) go through [`safe_href`]: only `http` and `https` become links.

use std::fmt;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use maud::{DOCTYPE, Markup, PreEscaped, html};

pub mod links;

const BASE_CSS: &str = include_str!("base.css");
const CARD_CSS: &str = include_str!("card.css");
const DASHBOARD_CSS: &str = include_str!("dashboard.css");

/// Which look a page has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The customer-facing GoPay sandbox card (activation and, later, payment pages).
    Card,
    /// The QA dashboard.
    Dashboard,
}

impl Look {
    fn css(self) -> &'static str {
        match self {
            Self::Card => CARD_CSS,
            Self::Dashboard => DASHBOARD_CSS,
        }
    }
}

/// A whole page: `content` inside the look's frame.
pub fn page(look: Look, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(BASE_CSS)) (PreEscaped(look.css())) }
            }
            body {
                @match look {
                    Look::Card => {
                        main class="card" {
                            div class="brand" { "GoPay " span { "sandbox" } }
                            (content)
                        }
                        footer { "pay-account-mock: a local stand-in for the GoPay pages a customer sees." }
                    }
                    Look::Dashboard => {
                        header {
                            h1 { "pay-account-mock " span { "QA dashboard" } }
                        }
                        (content)
                    }
                }
            }
        }
    }
}

/// An HTML answer that is never cached, and never shown in another site's frame: there, that
/// site could lay its own page over the buttons and have the user click Reset or Approve.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .body(markup.into_string())
}

/// A page in the customer's card look.
pub fn card(status: StatusCode, title: &str, content: Markup) -> HttpResponse {
    respond(status, page(Look::Card, title, content))
}

/// A 303 to `url` when it is an `http(s)` URL a `Location` header can carry.
pub fn redirect(url: &str) -> Option<HttpResponse> {
    let location = header::HeaderValue::from_str(safe_href(url)?).ok()?;
    Some(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    )
}

/// The token a one-time customer form carries: a keyed hash of what the form acts on, so only a
/// page this server showed can be submitted, with no per-form state kept.
pub fn form_token(secret: &uuid::Uuid, subject: &uuid::Uuid) -> String {
    use sha2::{Digest, Sha512};
    let digest = Sha512::new()
        .chain_update(secret.as_bytes())
        .chain_update(subject.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// A form posted to a page (activation, PIN, dashboard), within the body limits. Fields that are
/// missing or do not parse are left at their defaults, so a stray POST gets a page, not an error;
/// a body too large or too slow gets the page `look` says.
///
/// # Errors
/// The [`PageError`] for a body that could not be read.
pub async fn read_form<T: serde::de::DeserializeOwned + Default>(
    state: &crate::app::AppState,
    req: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
    look: Look,
) -> Result<T, PageError> {
    let bytes = crate::body::read(req, payload, state.max_body_bytes, state.body_timeout)
        .await
        .map_err(|e| match e {
            crate::body::BodyError::TooLarge => PageError::too_large(look),
            crate::body::BodyError::Timeout | crate::body::BodyError::Broken => {
                PageError::body_timeout(look)
            }
        })?;
    serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        PageError::new(
            look,
            actix_web::http::StatusCode::BAD_REQUEST,
            "Form not understood",
            format!(
                "This form was not sent as the page shows it ({e}). Go back, reload the page and \
                 try again."
            ),
        )
    })
}

/// A form without the token its page hands out: made elsewhere, or shown before the server
/// restarted with another secret. Nothing was done (and a link still works).
pub fn foreign_form(look: Look) -> PageError {
    let again = match look {
        Look::Dashboard => "reload the dashboard",
        Look::Card => "open the link again",
    };
    PageError::new(
        look,
        actix_web::http::StatusCode::FORBIDDEN,
        "Form expired",
        format!(
            "This form does not come from this page (or the server was restarted since the page \
             was shown). Nothing was done: {again} and try again."
        ),
    )
}

/// `url` if a browser may follow it as a link: an absolute `http` or `https` URL. Anything else
/// (`javascript:`, `data:`, relative paths) is shown as text, never linked or redirected to.
pub fn safe_href(url: &str) -> Option<&str> {
    let parsed = reqwest::Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.has_host()).then_some(url)
}

/// A URL as text that may wrap after each `/`, `?`, `&`, `=` and `-`, and inside a part only every
/// `URL_CHUNK` characters: a long URL breaks between its parts, and a long token (a session id)
/// cannot make a table column wider than a chunk.
pub fn url_text(url: &str) -> Markup {
    let mut pieces = Vec::new();
    for part in url.split_inclusive(['/', '?', '&', '=', '-']) {
        let mut rest = part;
        while let Some((at, _)) = rest.char_indices().nth(URL_CHUNK) {
            let (head, tail) = rest.split_at(at);
            pieces.push(head);
            rest = tail;
        }
        pieces.push(rest);
    }
    html! {
        @for (i, piece) in pieces.iter().enumerate() {
            @if i > 0 { wbr; }
            (piece)
        }
    }
}

/// The longest run of a URL [`url_text`] keeps unbroken.
const URL_CHUNK: usize = 12;

/// The one error type of the HTML routes: a page that says what went wrong, with the right status.
#[derive(Debug, Clone)]
pub struct PageError {
    pub look: Look,
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    /// Where "back" leads (the dashboard with its filters), if anywhere.
    pub back: Option<String>,
}

impl PageError {
    pub fn new(look: Look, status: StatusCode, title: &str, message: impl Into<String>) -> Self {
        Self {
            look,
            status,
            title: title.into(),
            message: message.into(),
            back: None,
        }
    }

    pub fn back_to(mut self, url: String) -> Self {
        self.back = Some(url);
        self
    }

    pub fn method_not_allowed(look: Look) -> Self {
        Self::new(
            look,
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "This page is opened with GET and its forms are sent with POST.",
        )
    }

    pub fn too_large(look: Look) -> Self {
        Self::new(
            look,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            "The form sent was larger than this server accepts.",
        )
    }

    pub fn body_timeout(look: Look) -> Self {
        Self::new(
            look,
            StatusCode::REQUEST_TIMEOUT,
            "Request timed out",
            "The form did not arrive in time. Try again.",
        )
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.title, self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let content = html! {
            @match self.look {
                Look::Card => {
                    h1 { (self.title) }
                    p class="error" { (self.message) }
                }
                Look::Dashboard => {
                    section class="panel" {
                        h2 { (self.title) }
                        p class="error" { (self.message) }
                        @if let Some(back) = &self.back {
                            p { a href=(back) { "Back to the dashboard" } }
                        }
                    }
                }
            }
        };
        respond(self.status, page(self.look, &self.title, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_become_links() {
        assert_eq!(
            safe_href("https://www.gojek.com/x?y=1"),
            Some("https://www.gojek.com/x?y=1")
        );
        assert_eq!(
            safe_href("http://127.0.0.1:3000/done"),
            Some("http://127.0.0.1:3000/done")
        );
        for bad in [
            "javascript:alert(document.domain)//\u{7f}",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "/relative",
            "//evil.test/x",
            "vbscript:x",
            "",
        ] {
            assert_eq!(safe_href(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn urls_wrap_between_their_parts_and_stay_escaped() {
        assert_eq!(
            url_text("https://m.test/a/b?x=1&y=<2>").into_string(),
            "https:/<wbr>/<wbr>m.test/<wbr>a/<wbr>b?<wbr>x=<wbr>1&amp;<wbr>y=<wbr>&lt;2&gt;"
        );
        assert_eq!(url_text("").into_string(), "");
        assert_eq!(
            url_text("https://m.test/?s=abcdefghijklmnopqrstuvwxyzé").into_string(),
            "https:/<wbr>/<wbr>m.test/<wbr>?<wbr>s=<wbr>abcdefghijkl<wbr>mnopqrstuvwx<wbr>yzé"
        );
    }

    #[test]
    fn values_are_escaped() {
        let markup = page(Look::Card, "<t>", html! { p { ("<script>\"'&") } });
        let s = markup.into_string();
        assert!(s.contains("&lt;script&gt;&quot;'&amp;"), "{s}");
        assert!(s.contains("<title>&lt;t&gt;</title>"), "{s}");
    }
}
