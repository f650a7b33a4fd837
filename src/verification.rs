//! The GoPay verification (PIN) pages a customer opens from a pending charge's `actions`, and the
//! one place the shape of their links is written ([`links()`]).
//!
//! - `GET /v2/gopay/redirect/gppr_<link id>/charge` (`verification-link-url`): works once.
//!   Submitting the right PIN uses it up; opening it does not (browsers, chat apps and link checkers
//!   prefetch pages).
//! - `GET /v2/gopay/redirect/gppd_<link id>/charge` (`verification-link-app`): can be used until the
//!   links expire (`--verification-link-ttl`, 5 minutes by default).
//!
//! Both show the merchant, the amount, the masked phone number and the payment option, and ask for
//! the sandbox PIN `112233`. A wrong PIN shows an error and changes nothing. The right PIN settles the
//! transaction through [`payments::change`] (which denies it if the balance no longer suffices and
//! records the notification), then redirects (303) to the charge's `gopay.callback_url`, or shows
//! the result.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

use crate::activation::SANDBOX_PIN;
use crate::app::AppState;
use crate::charges::{Transaction, TxChange, TxStatus, link_id_of, transaction_id_of_link};
use crate::pages::links::{self, LinkKind};
use crate::pages::{self, Look, PageError, card};
use crate::payments::{self, ChangeError};

pub use crate::pages::links::Flow;

/// `{public_url}/v2/gopay/redirect/{gppr_|gppd_}{link id}/charge`.
pub const LINKS: LinkKind = LinkKind {
    web_prefix: "gppr_",
    app_prefix: "gppd_",
    action: "charge",
    noun: "payment",
};

/// A verification link of a transaction.
pub fn link(public_url: &str, flow: Flow, transaction_id: &Uuid) -> String {
    LINKS.url(public_url, flow, &link_id_of(transaction_id))
}

/// The two verification links (web, app) of a transaction.
pub fn links(public_url: &str, transaction_id: &Uuid) -> (String, String) {
    (
        link(public_url, Flow::Web, transaction_id),
        link(public_url, Flow::App, transaction_id),
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(LINKS.route())
            .route(crate::routing::get().to(show))
            .route(crate::routing::post().to(submit))
            .default_service(web::to(links::method_not_allowed)),
    );
}

fn parse_link(segment: &str) -> Option<(Flow, Uuid)> {
    LINKS
        .parse(segment)
        .map(|(flow, id)| (flow, transaction_id_of_link(&id)))
}

fn lookup(req: &HttpRequest, state: &AppState) -> Result<(Flow, Arc<Transaction>), PageError> {
    req.match_info()
        .get("link")
        .and_then(parse_link)
        .and_then(|(flow, id)| Some((flow, state.transactions.find(None, &id.to_string())?)))
        .ok_or_else(not_found)
}

/// Why the page cannot take a PIN now, if it cannot.
fn unusable(state: &AppState, flow: Flow, t: &Transaction) -> Option<PageError> {
    if flow == Flow::Web && t.web_link_used {
        return Some(link_used());
    }
    let now = state.clock.now_ms();
    if t.status == TxStatus::Pending && (t.links_expire_at_ms <= now || t.expires_at_ms <= now) {
        return Some(gone(
            "Link expired",
            "This payment link has expired. Go back to the merchant to pay again.",
        ));
    }
    if t.status != TxStatus::Pending {
        return Some(gone(
            "Payment closed",
            &format!(
                "This payment is no longer waiting for a PIN. Transaction status: {}.",
                t.status.as_str()
            ),
        ));
    }
    None
}

async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let (flow, t) = lookup(&req, &state)?;
    if let Some(e) = unusable(&state, flow, &t) {
        return Err(e);
    }
    Ok(card(
        StatusCode::OK,
        "Pay with GoPay",
        pin_form(&state, req.path(), flow, &t, None),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct Submission {
    token: Option<String>,
    pin: Option<String>,
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (flow, t) = lookup(&req, &state)?;
    let form: Submission = pages::read_form(&state, &req, payload, Look::Card).await?;
    if flow == Flow::Web
        && form.token.as_deref() != Some(pages::form_token(&state.form_secret, &t.id).as_str())
    {
        return Err(pages::foreign_form(Look::Card));
    }
    let right_pin = form.pin.as_deref().map(str::trim) == Some(SANDBOX_PIN);
    if flow == Flow::Web && right_pin && pressed_again(&t) {
        return Ok(outcome(&t));
    }
    if let Some(e) = unusable(&state, flow, &t) {
        return Err(e);
    }
    if !right_pin {
        return Ok(card(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Pay with GoPay",
            pin_form(
                &state,
                req.path(),
                flow,
                &t,
                Some("Wrong PIN. In the sandbox the PIN is 112233."),
            ),
        ));
    }
    if flow == Flow::Web && !payments::use_web_link(&state, &t.id) {
        // Used since this request read it: the first press of a double click may have just
        // decided it.
        let (_, now) = lookup(&req, &state)?;
        if pressed_again(&now) {
            return Ok(outcome(&now));
        }
        return Err(link_used());
    }
    let t = match payments::change(&state, None, &t.id.to_string(), TxChange::Settle) {
        Ok(t) => t,
        Err(ChangeError::NotFound) => return Err(not_found()),
        Err(ChangeError::NotAllowed { current }) => {
            return Err(gone(
                "Payment closed",
                &format!(
                    "This payment is no longer waiting for a PIN. Transaction status: {}.",
                    current.as_str()
                ),
            ));
        }
    };
    Ok(outcome(&t))
}

/// Whether the right PIN sent on a used web link is the button pressed twice (a double click: the
/// browser shows the last answer), to be answered as the first press was: the link was used by a
/// right PIN, which settles or denies at once, and nothing has changed the transaction since.
fn pressed_again(t: &Transaction) -> bool {
    t.web_link_used && matches!(t.status, TxStatus::Settlement | TxStatus::Deny)
}

/// What a decided payment answers: the merchant's `callback_url`, or the result page.
fn outcome(t: &Transaction) -> HttpResponse {
    if let Some(redirect) = t.callback_url().and_then(pages::redirect) {
        return redirect;
    }
    card(StatusCode::OK, "Payment result", result(t))
}

fn summary(state: &AppState, t: &Transaction) -> Markup {
    let merchant = state.settings.read().gopay_merchant_id.clone();
    let phone = state
        .store
        .get(&t.account_id, None, state.clock.now_ms())
        .map(|a| a.masked_phone())
        .unwrap_or_default();
    html! {
        dl {
            dt { "Merchant" } dd class="merchant" { (merchant) }
            dt { "Amount" } dd class="amount" { (Transaction::CURRENCY) " " (t.gross_amount) }
            dt { "GoPay account" } dd class="phone" { (phone) }
            dt { "Pay with" } dd class="option" { (t.payment_option) }
            dt { "Order" } dd class="order" { (t.order_id) }
        }
    }
}

fn pin_form(
    state: &AppState,
    path: &str,
    flow: Flow,
    t: &Transaction,
    error: Option<&str>,
) -> Markup {
    html! {
        h1 { "Pay with GoPay" }
        (summary(state, t))
        @if let Some(e) = error {
            p class="error" role="alert" { (e) }
        }
        form method="post" action=(path) {
            @if flow == Flow::Web {
                input type="hidden" name="token" value=(pages::form_token(&state.form_secret, &t.id));
            }
            label for="pin" { "PIN" }
            input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="off"
                maxlength="6" required autofocus;
            div class="buttons" { button type="submit" class="primary" { "Pay" } }
        }
        p class="note" {
            "Sandbox PIN: 112233."
            @if flow == Flow::Web { " This link works once." }
        }
    }
}

fn result(t: &Transaction) -> Markup {
    html! {
        @if t.status == TxStatus::Settlement {
            h1 { "Payment successful" }
            p class="ok" { "You paid " strong { (Transaction::CURRENCY) " " (t.gross_amount) } " with " (t.payment_option) "." }
        } @else {
            h1 { "Payment denied" }
            p class="error" {
                "The payment was denied"
                @if let Some(r) = t.deny_reason { ": " (r.channel_response_message) }
                ". Nothing was charged."
            }
        }
        p { "You can close this page and go back to the merchant." }
    }
}

fn link_used() -> PageError {
    gone(
        "Link already used",
        "This payment link has already been used: the web link works once.",
    )
}

fn gone(title: &str, text: &str) -> PageError {
    PageError::new(Look::Card, StatusCode::GONE, title, text.to_string())
}

fn not_found() -> PageError {
    LINKS.not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_have_the_documented_shape_and_parse_back() {
        let id = Uuid::new_v4();
        let (web, app) = links("http://127.0.0.1:8080", &id);
        let link_id = link_id_of(&id);
        assert_eq!(
            web,
            format!("http://127.0.0.1:8080/v2/gopay/redirect/gppr_{link_id}/charge")
        );
        assert_eq!(
            app,
            format!("http://127.0.0.1:8080/v2/gopay/redirect/gppd_{link_id}/charge")
        );
        assert_eq!(
            parse_link(&format!("gppr_{link_id}")),
            Some((Flow::Web, id))
        );
        assert_eq!(
            parse_link(&format!("gppd_{link_id}")),
            Some((Flow::App, id))
        );
        assert_eq!(parse_link(&format!("gpar_{link_id}")), None);
    }
}
