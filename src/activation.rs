//! The activation pages a customer opens from the create answer's `actions`, and the one place the
//! shape of their links is written ([`push_link`]).
//!
//! - `GET /v2/gopay/redirect/gpar_<link id>/link` (`activation-link-url`, the browser/QR flow): shows
//!   the merchant and the masked phone number with Approve and Decline buttons. Midtrans says this
//!   link "can only be accessed once": submitting its form uses it up, so a second submission, or an
//!   open after it, gets a "this link has been used" page. Merely opening it does not, so a browser
//!   prefetch or a chat preview cannot burn it.
//! - `GET /v2/gopay/redirect/gpad_<link id>/link` (`activation-link-app`, the Gojek app flow): asks for
//!   the sandbox PIN `112233`. It can be opened any number of times while the account is PENDING.
//!
//! Approving (or the right PIN) links the account through [`transitions::apply`], which records the
//! `account_linked` notification, then redirects (303) to the account's `redirect_url` when it is an
//! `http(s)` URL, or shows a confirmation page. Every answer here is an HTML page for a person,
//! errors included ([`PageError`]); the forms are plain HTML and need no JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, Transition, TransitionError, link_id_of};
use crate::app::AppState;
use crate::pages::links::{self, LinkKind};
use crate::pages::{self, Look, PageError, card, safe_href};
use crate::transitions;

/// The PIN the app flow accepts, as in the Midtrans sandbox.
pub const SANDBOX_PIN: &str = "112233";

pub use crate::pages::links::Flow;

/// `{public_url}/v2/gopay/redirect/{gpar_|gpad_}{link id}/link`.
pub const LINKS: LinkKind = LinkKind {
    web_prefix: "gpar_",
    app_prefix: "gpad_",
    action: "link",
    noun: "activation",
};

/// Appends an activation link; `link_id` is the hyphenated lowercase UUID.
pub fn push_link(out: &mut String, public_url: &str, flow: Flow, link_id: &str) {
    LINKS.push(out, public_url, flow, link_id);
}

/// An activation link of an account, by its link id.
pub fn link(public_url: &str, flow: Flow, link_id: &Uuid) -> String {
    LINKS.url(public_url, flow, link_id)
}

/// The two activation links (web, app) of an account.
pub fn links(state: &AppState, account_id: &Uuid) -> (String, String) {
    let link_id = link_id_of(account_id);
    (
        link(&state.public_url, Flow::Web, &link_id),
        link(&state.public_url, Flow::App, &link_id),
    )
}

/// Registers the activation pages (both flows share one route; the link prefix picks the flow).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(LINKS.route())
            .route(crate::routing::get().to(show))
            .route(crate::routing::post().to(submit))
            .default_service(web::to(links::method_not_allowed)),
    );
}

fn parse_link(segment: &str) -> Option<(Flow, Uuid)> {
    LINKS.parse(segment)
}

/// The flow and account behind the request's link.
fn lookup(req: &HttpRequest, state: &AppState) -> Result<(Flow, Account), PageError> {
    req.match_info()
        .get("link")
        .and_then(parse_link)
        .and_then(|(flow, link_id)| {
            let account = state.store.by_link(&link_id, state.clock.now_ms())?;
            Some((flow, account))
        })
        .ok_or_else(not_found)
}

async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let (flow, account) = lookup(&req, &state)?;
    let merchant = state.settings.read().merchant_id.clone();
    if flow == Flow::Web && account.web_link_used {
        return Err(used(&account));
    }
    if account.status != AccountStatus::Pending {
        return Err(not_pending(&account));
    }
    Ok(match flow {
        Flow::Web => {
            let token = form_token(&state, &account.id);
            card(
                StatusCode::OK,
                "Link your GoPay account",
                web_form(req.path(), &merchant, &account, &token),
            )
        }
        Flow::App => card(
            StatusCode::OK,
            "Enter your GoPay PIN",
            pin_form(req.path(), &merchant, &account, None),
        ),
    })
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
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (flow, account) = lookup(&req, &state)?;
    let form: Submission = pages::read_form(&state, &req, payload, Look::Card).await?;
    match flow {
        Flow::Web => {
            // Only the form the page showed carries the token, and it can be submitted once.
            if form.token.as_deref() != Some(form_token(&state, &account.id).as_str()) {
                return Err(pages::foreign_form(Look::Card));
            }
            if !state.store.use_web_link(&account.id) {
                return again(&req, &state, form.decision.as_deref());
            }
            match form.decision.as_deref() {
                Some("approve") => link_account(&state, &account),
                // Midtrans documents no "declined" state (nor a notification for one), so the
                // account stays PENDING until it expires; only the one-time link is used up.
                _ => Ok(card(StatusCode::OK, "Linking declined", declined(&account))),
            }
        }
        Flow::App => {
            if account.status != AccountStatus::Pending {
                return Err(not_pending(&account));
            }
            if form.pin.as_deref().map(str::trim) != Some(SANDBOX_PIN) {
                let merchant = state.settings.read().merchant_id.clone();
                return Ok(card(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Enter your GoPay PIN",
                    pin_form(
                        req.path(),
                        &merchant,
                        &account,
                        Some("Wrong PIN. In the sandbox the PIN is 112233."),
                    ),
                ));
            }
            link_account(&state, &account)
        }
    }
}

fn form_token(state: &AppState, account_id: &Uuid) -> String {
    pages::form_token(&state.form_secret, account_id)
}

/// Links the account (recording `account_linked`) and sends the customer on.
fn link_account(state: &AppState, account: &Account) -> Result<HttpResponse, PageError> {
    match transitions::apply(state, &account.id, None, Transition::Link) {
        Ok((linked, _)) => Ok(redirect_or_linked(&linked)),
        Err(TransitionError::NotFound) => Err(not_found()),
        Err(TransitionError::Invalid { current }) => Err(not_pending(&Account {
            status: current,
            ..account.clone()
        })),
    }
}

/// A 303 to the merchant's `redirect_url` when it is an `http(s)` URL; otherwise a page that says
/// the account is linked (with a link back only for an `http(s)` URL).
fn redirect_or_linked(account: &Account) -> HttpResponse {
    let href = account.redirect_url.as_deref().and_then(safe_href);
    if let Some(redirect) = href.and_then(pages::redirect) {
        return redirect;
    }
    card(
        StatusCode::OK,
        "Account linked",
        html! {
            h1 { "Account linked" }
            p class="ok" { "Your GoPay account is now linked." }
            p {
                "Phone number " strong { (account.masked_phone()) }
                ". You can close this page and go back to the merchant."
            }
            @if let Some(url) = href {
                p { a href=(url) { "Back to the merchant" } }
            }
        },
    )
}

fn account_summary(merchant: &str, account: &Account) -> Markup {
    html! {
        dl {
            dt { "Merchant" } dd class="merchant" { (merchant) }
            dt { "GoPay account" } dd class="phone" { (account.masked_phone()) }
        }
    }
}

fn web_form(path: &str, merchant: &str, account: &Account, token: &str) -> Markup {
    html! {
        h1 { "Link your GoPay account" }
        p { strong { (merchant) } " wants to link your GoPay account for faster payments." }
        (account_summary(merchant, account))
        form method="post" action=(path) {
            input type="hidden" name="token" value=(token);
            div class="buttons" {
                button type="submit" name="decision" value="approve" class="primary" { "Approve" }
                button type="submit" name="decision" value="decline" class="secondary" { "Decline" }
            }
        }
        p class="note" { "This link works once." }
    }
}

fn pin_form(path: &str, merchant: &str, account: &Account, error: Option<&str>) -> Markup {
    html! {
        h1 { "Enter your GoPay PIN" }
        p { "Link your GoPay account to " strong { (merchant) } "." }
        (account_summary(merchant, account))
        @if let Some(e) = error {
            p class="error" role="alert" { (e) }
        }
        form method="post" action=(path) {
            label for="pin" { "PIN" }
            input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="off"
                maxlength="6" required autofocus;
            div class="buttons" { button type="submit" class="primary" { "Link account" } }
        }
        p class="note" { "Sandbox PIN: 112233." }
    }
}

fn declined(account: &Account) -> Markup {
    html! {
        h1 { "Linking declined" }
        p {
            "You declined to link your GoPay account " strong { (account.masked_phone()) }
            ". Nothing was linked."
        }
    }
}

/// The web link's form sent again after it was used. A double click sends it twice, and the
/// browser shows the second answer: so Approve on a linked account answers as an Approve, and
/// Decline on one still pending as a Decline (from the account as it is: the link does not keep
/// which button used it); anything else is told the link is used. Nothing changes either way.
fn again(
    req: &HttpRequest,
    state: &AppState,
    decision: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (_, account) = lookup(req, state)?;
    match (decision, account.status) {
        (Some("approve"), AccountStatus::Enabled) => Ok(redirect_or_linked(&account)),
        (Some("decline"), AccountStatus::Pending) => {
            Ok(card(StatusCode::OK, "Linking declined", declined(&account)))
        }
        _ => Err(used(&account)),
    }
}

fn used(account: &Account) -> PageError {
    PageError::new(
        Look::Card,
        StatusCode::GONE,
        "Link already used",
        format!(
            "This activation link has already been used. For security, the web activation link \
             can only be used once. Account status: {}. Ask the merchant for a new link if you \
             still want to link your account.",
            account.status
        ),
    )
}

fn not_pending(account: &Account) -> PageError {
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
    PageError::new(
        Look::Card,
        StatusCode::GONE,
        title,
        format!("{text} Account status: {}.", account.status),
    )
}

fn not_found() -> PageError {
    LINKS.not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_by_prefix() {
        let id = Uuid::nil();
        assert_eq!(parse_link(&format!("gpar_{id}")), Some((Flow::Web, id)));
        assert_eq!(parse_link(&format!("gpad_{id}")), Some((Flow::App, id)));
        assert_eq!(parse_link(&format!("gpxx_{id}")), None);
        assert_eq!(parse_link("gpar_not-a-uuid"), None);
        assert_eq!(parse_link(""), None);
    }

    #[test]
    fn links_have_the_documented_shape() {
        let id = Uuid::nil();
        assert_eq!(
            link("http://127.0.0.1:8080", Flow::Web, &id),
            "http://127.0.0.1:8080/v2/gopay/redirect/gpar_00000000-0000-0000-0000-000000000000/link"
        );
        assert_eq!(
            link("https://m.test", Flow::App, &id),
            "https://m.test/v2/gopay/redirect/gpad_00000000-0000-0000-0000-000000000000/link"
        );
    }
}
