//! The activation pages a customer opens from the create answer's `actions`.
//!
//! - `GET /v2/gopay/redirect/gpar_<link id>/link` (`activation-link-url`, the browser/QR flow): shows
//!   the merchant and the masked phone number with Approve and Decline buttons. Midtrans says this
//!   link "can only be accessed once", so the first open uses it up: a second open, or a second
//!   submission of the form, gets a "this link has been used" page.
//! - `GET /v2/gopay/redirect/gpad_<link id>/link` (`activation-link-app`, the Gojek app flow): asks for
//!   the sandbox PIN `112233`. It can be opened any number of times while the account is PENDING.
//!
//! Approving (or the right PIN) links the account through [`AppState::apply`], which sends the
//! `account_linked` notification, then redirects (303) to the account's `redirect_url`, or shows a
//! confirmation page when there is none. Every answer here is an HTML page for a person, errors
//! included; the forms are plain HTML and need no JavaScript.

use std::fmt::Write as _;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, Transition, TransitionError};
use crate::app::AppState;

/// The PIN the app flow accepts, as in the Midtrans sandbox.
pub const SANDBOX_PIN: &str = "112233";

/// Registers the activation pages (both flows share one route; the link prefix picks the flow).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v2/gopay/redirect/{link}/link")
            .route(web::get().to(show))
            .route(web::post().to(submit))
            .default_service(web::to(method_not_allowed)),
    );
}

/// Which activation link a path segment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// `gpar_`: the one-time web link.
    Web,
    /// `gpad_`: the app link, with a PIN.
    App,
}

fn parse_link(segment: &str) -> Option<(Flow, Uuid)> {
    let (flow, id) = if let Some(id) = segment.strip_prefix("gpar_") {
        (Flow::Web, id)
    } else if let Some(id) = segment.strip_prefix("gpad_") {
        (Flow::App, id)
    } else {
        return None;
    };
    Uuid::parse_str(id).ok().map(|id| (flow, id))
}

/// The flow and account behind the request's link, if there is one.
fn lookup(req: &HttpRequest, state: &AppState) -> Option<(Flow, Account)> {
    let (flow, link_id) = parse_link(req.match_info().get("link")?)?;
    let account = state.store.by_link(&link_id, state.clock.now_ms())?;
    Some((flow, account))
}

async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some((flow, account)) = lookup(&req, &state) else {
        return not_found();
    };
    let merchant = state.settings.read().merchant_id.clone();
    match flow {
        Flow::Web => {
            if account.web_link_used {
                return used_page(&account);
            }
            if account.status != AccountStatus::Pending {
                return not_pending_page(&account);
            }
            if !state.store.use_web_link(&account.id) {
                return used_page(&account);
            }
            let token = form_token(&state, &account.id);
            web_form(req.path(), &merchant, &account, &token)
        }
        Flow::App => {
            if account.status != AccountStatus::Pending {
                return not_pending_page(&account);
            }
            pin_form(req.path(), &merchant, &account, None)
        }
    }
}

/// What the two forms post; every field is optional so a stray POST gets a page, not a parse error.
#[derive(Debug, Default, Deserialize)]
struct Submission {
    token: Option<String>,
    decision: Option<String>,
    pin: Option<String>,
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Option<web::Form<Submission>>,
) -> HttpResponse {
    let Some((flow, account)) = lookup(&req, &state) else {
        return not_found();
    };
    let form = form.map(web::Form::into_inner).unwrap_or_default();
    match flow {
        Flow::Web => {
            // Only the form the first open showed carries the token, and it can be submitted once.
            let genuine = form.token.as_deref() == Some(form_token(&state, &account.id).as_str());
            if !genuine || !state.store.submit_web_form(&account.id) {
                return used_page(&account);
            }
            match form.decision.as_deref() {
                Some("approve") => link(&state, &account),
                // Midtrans documents no "declined" state (nor a notification for one), so the
                // account stays PENDING until it expires; only the one-time link is used up.
                _ => declined_page(&account),
            }
        }
        Flow::App => {
            if account.status != AccountStatus::Pending {
                return not_pending_page(&account);
            }
            if form.pin.as_deref().map(str::trim) != Some(SANDBOX_PIN) {
                let merchant = state.settings.read().merchant_id.clone();
                return pin_form(
                    req.path(),
                    &merchant,
                    &account,
                    Some("Wrong PIN. In the sandbox the PIN is 112233."),
                );
            }
            link(&state, &account)
        }
    }
}

/// The token the web form carries: a keyed hash of the account id, so only the page the first open
/// showed can be submitted, with no per-form state kept.
fn form_token(state: &AppState, account_id: &Uuid) -> String {
    use sha2::{Digest, Sha512};
    let digest = Sha512::new()
        .chain_update(state.form_secret.as_bytes())
        .chain_update(account_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes).to_string()
}

/// Links the account (firing `account_linked`) and sends the customer on.
fn link(state: &AppState, account: &Account) -> HttpResponse {
    match state.apply(&account.id, None, Transition::Link) {
        Ok((linked, _)) => redirect_or_linked(&linked),
        Err(TransitionError::NotFound) => not_found(),
        Err(TransitionError::Invalid { current }) => not_pending_page(&Account {
            status: current,
            ..account.clone()
        }),
    }
}

fn redirect_or_linked(account: &Account) -> HttpResponse {
    if let Some(url) = account.redirect_url.as_deref().filter(|u| !u.is_empty())
        && let Ok(location) = header::HeaderValue::from_str(url)
    {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    let mut body = String::from(
        "<h1>Account linked</h1><p class=\"ok\">Your GoPay account is now linked.</p>",
    );
    let _ = write!(
        body,
        "<p>Phone number <strong>{}</strong>. You can close this page and go back to the merchant.</p>",
        escape(&account.masked_phone())
    );
    if let Some(url) = account.redirect_url.as_deref().filter(|u| !u.is_empty()) {
        let _ = write!(
            body,
            "<p><a href=\"{0}\">Back to the merchant</a></p>",
            escape(url)
        );
    }
    card(StatusCode::OK, "Account linked", &body)
}

fn web_form(path: &str, merchant: &str, account: &Account, token: &str) -> HttpResponse {
    let body = format!(
        "<h1>Link your GoPay account</h1>\
         <p><strong>{merchant}</strong> wants to link your GoPay account for faster payments.</p>\
         <dl><dt>Merchant</dt><dd class=\"merchant\">{merchant}</dd>\
         <dt>GoPay account</dt><dd class=\"phone\">{phone}</dd></dl>\
         <form method=\"post\" action=\"{path}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <div class=\"buttons\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"decline\" class=\"secondary\">Decline</button>\
         </div></form>\
         <p class=\"note\">This link works once.</p>",
        merchant = escape(merchant),
        phone = escape(&account.masked_phone()),
        path = escape(path),
    );
    card(StatusCode::OK, "Link your GoPay account", &body)
}

fn pin_form(path: &str, merchant: &str, account: &Account, error: Option<&str>) -> HttpResponse {
    let error_html = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Enter your GoPay PIN</h1>\
         <p>Link your GoPay account to <strong>{merchant}</strong>.</p>\
         <dl><dt>Merchant</dt><dd class=\"merchant\">{merchant}</dd>\
         <dt>GoPay account</dt><dd class=\"phone\">{phone}</dd></dl>\
         {error_html}\
         <form method=\"post\" action=\"{path}\">\
         <label for=\"pin\">PIN</label>\
         <input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" autocomplete=\"off\" \
         maxlength=\"6\" required autofocus>\
         <div class=\"buttons\"><button type=\"submit\" class=\"primary\">Link account</button></div>\
         </form>\
         <p class=\"note\">Sandbox PIN: 112233.</p>",
        merchant = escape(merchant),
        phone = escape(&account.masked_phone()),
        path = escape(path),
    );
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    card(status, "Enter your GoPay PIN", &body)
}

fn used_page(account: &Account) -> HttpResponse {
    let body = format!(
        "<h1>Link already used</h1>\
         <p class=\"error\">This activation link has already been used. For security, the web \
         activation link can only be opened once.</p>\
         <p>Account status: <strong class=\"status\">{}</strong>. Ask the merchant for a new link if \
         you still want to link your account.</p>",
        account.status
    );
    card(StatusCode::GONE, "Link already used", &body)
}

fn not_pending_page(account: &Account) -> HttpResponse {
    let (title, text) = match account.status {
        AccountStatus::Enabled => (
            "Already linked",
            "This GoPay account is already linked; there is nothing left to do here.",
        ),
        AccountStatus::Expired => (
            "Link expired",
            "This activation link has expired. Ask the merchant for a new one.",
        ),
        AccountStatus::Disabled => (
            "Account unlinked",
            "This GoPay account has been unlinked. Ask the merchant for a new link.",
        ),
        AccountStatus::Pending => ("Link pending", "This link is waiting for approval."),
    };
    let body = format!(
        "<h1>{title}</h1><p class=\"error\">{text}</p>\
         <p>Account status: <strong class=\"status\">{}</strong>.</p>",
        account.status
    );
    card(StatusCode::GONE, title, &body)
}

fn declined_page(account: &Account) -> HttpResponse {
    let body = format!(
        "<h1>Linking declined</h1>\
         <p>You declined to link your GoPay account <strong>{}</strong>. Nothing was linked.</p>",
        escape(&account.masked_phone())
    );
    card(StatusCode::OK, "Linking declined", &body)
}

fn not_found() -> HttpResponse {
    card(
        StatusCode::NOT_FOUND,
        "Link not found",
        "<h1>Link not found</h1><p class=\"error\">This activation link does not exist. Check that \
         you opened the whole link the merchant gave you.</p>",
    )
}

async fn method_not_allowed() -> HttpResponse {
    card(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "<h1>Method not allowed</h1><p>Open this link in a browser.</p>",
    )
}

/// A small centred card in the GoPay sandbox look.
fn card(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let body = format!(
        "<main class=\"card\"><div class=\"brand\">GoPay <span>sandbox</span></div>{body}</main>\
         <footer>pay-account-mock: a local stand-in for the Midtrans activation pages.</footer>"
    );
    page(status, title, CARD_STYLE, &body)
}

const CARD_STYLE: &str = "body{background:#eef3f2;display:flex;flex-direction:column;align-items:center;\
padding:3rem 1rem}.card{background:#fff;max-width:26rem;width:100%;border-radius:12px;padding:1.5rem 1.75rem;\
box-shadow:0 2px 12px rgba(0,0,0,.08)}.brand{font-weight:700;color:#00aa13;font-size:1.1rem;margin-bottom:1rem}\
.brand span{color:#888;font-weight:400;font-size:.85rem}h1{font-size:1.3rem;margin:.2rem 0 1rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem;margin:1rem 0}dt{color:#666}dd{margin:0;font-weight:600}\
label{display:block;margin:.8rem 0 .3rem;color:#444}input[type=password]{width:100%;box-sizing:border-box;\
font-size:1.3rem;letter-spacing:.4em;padding:.5rem .7rem;border:1px solid #bbb;border-radius:8px}\
.buttons{display:flex;gap:.75rem;margin-top:1.2rem}.buttons button{flex:1;font-size:1rem;padding:.7rem;\
border-radius:8px;cursor:pointer;border:1px solid #00aa13}.primary{background:#00aa13;color:#fff}\
.secondary{background:#fff;color:#00880f}.error{color:#b00020}.ok{color:#00880f;font-weight:600}\
.note{color:#888;font-size:.85rem;margin-top:1.2rem}footer{color:#999;font-size:.8rem;margin-top:1.5rem}";

/// A complete HTML page: `body` must already be safe HTML (escape user strings with [`escape`]).
pub(crate) fn page(status: StatusCode, title: &str, style: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{BASE_STYLE}{style}</style></head><body>{body}</body></html>\n",
        title = escape(title),
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

const BASE_STYLE: &str = "*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,\
'Segoe UI',Roboto,sans-serif;color:#222}code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}";

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn links_parse_by_prefix() {
        let id = Uuid::nil();
        assert_eq!(parse_link(&format!("gpar_{id}")), Some((Flow::Web, id)));
        assert_eq!(parse_link(&format!("gpad_{id}")), Some((Flow::App, id)));
        assert_eq!(parse_link(&format!("gpxx_{id}")), None);
        assert_eq!(parse_link("gpar_not-a-uuid"), None);
        assert_eq!(parse_link(""), None);
    }
}
