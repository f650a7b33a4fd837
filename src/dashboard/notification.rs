//! One notification's page, `GET /__admin/ui/notifications/{id}`: exactly what was sent (the
//! payload byte for byte, the headers, the signature and how to check it) and every attempt kept,
//! so a QA tester can tell whether the merchant's handler or the mock is at fault.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

use super::rows::{RetryOffer, attempt_item, retry_offer};
use super::{Back, account_href, form_token};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::notifications::signature::{signature_key, transaction_signature_key};
use crate::notifications::{Event, Notification, Target};
use crate::pages::{self, Look, PageError};

pub(super) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let n = req
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<u64>().ok())
        .and_then(|id| state.notifications.get(id))
        .ok_or_else(|| {
            PageError::new(
                Look::Dashboard,
                StatusCode::NOT_FOUND,
                "Notification not found",
                "There is no such notification: it never existed, a reset cleared it, or the log \
                 dropped it as the oldest when it was full.",
            )
            .back_to(super::PATH.into())
        })?;
    let token = form_token(&state);
    let back = Back::notification(n.id);
    let payload: Value = n.payload.json();
    let pretty = serde_json::to_string_pretty(&payload).unwrap_or_default();
    let delivery_state = n.state.as_str();
    let content = html! {
        p class="crumbs" { a href=(super::PATH) { "← Dashboard" } " · " a href=(account_href(&n.account_id)) { "its account" } }
        h2 { "Notification " (n.id) " " span class={ "badge d-" (delivery_state) } { (delivery_state) } }
        section class="panel" { dl {
            dt { "Event" } dd { code { (n.event.as_str()) } }
            @if let Some(t) = &n.transaction {
                dt { "Transaction" }
                dd { code { (t.transaction_id) } " order " code { (t.order_id) } " " code { (t.transaction_status.as_str()) } }
            }
            dt { "Account" } dd { a class="id" href=(account_href(&n.account_id)) { code { (n.account_id) } } }
            dt { "Server key" } dd { code { (n.server_key) } }
            dt { "Goes to" } dd { (target_text(&n.target)) }
            dt { "Last sent to" }
            dd { @match &n.url { Some(url) => code class="url" { (pages::url_text(url)) }, None => em { "nowhere yet" } } }
            dt { "Created" } dd { (rfc3339(n.created_at)) }
            @if let Some(at) = n.next_attempt_at { dt { "Next attempt" } dd { (rfc3339(at)) } }
        } }
        @match retry_offer(&state, &n) {
            RetryOffer::Delivered => {}
            RetryOffer::Retry => form class="retry" method="post" action={ "/__admin/ui/notifications/" (n.id) "/retry" } {
                (back.hidden_inputs(&token))
                button type="submit" class="t-retry" { "Retry now" }
            },
            RetryOffer::NoUrl => p class="no-url" { "No notification URL is set for it: set one in the dashboard's config to send it." },
        }
        h3 { "Request" }
        pre class="http" {
            "POST " (n.url.as_deref().unwrap_or("(the notification URL)")) " HTTP/1.1\n"
            @for (name, value) in state.deliveries.headers() { (name) ": " (value) "\n" }
            "Content-Length: " (n.payload.get().len())
        }
        h3 { "Payload " small { "as sent, byte for byte" } }
        pre class="payload exact" { (n.payload.get()) }
        details { summary { "Indented" } pre class="payload" { (pretty) } }
        h3 { "Signature" }
        (signature(&n, &payload))
        h3 { "Attempts " small { (n.attempts_total) " made" } }
        @if n.attempts.is_empty() {
            p class="empty" { "None yet." }
        } @else {
            @if n.attempts_total as usize > n.attempts.len() {
                p { small { "The " (n.attempts_total as usize - n.attempts.len()) " oldest are no longer kept." } }
            }
            div class="scroll" { table class="attempts-table" {
                thead { tr { th { "#" } th { "Attempt" } th { "URL" } } }
                tbody {
                    @for a in &n.attempts {
                        tr class="attempt-row" {
                            td data-label="#" { (a.number) }
                            td data-label="Attempt" { ul class="attempts" { (attempt_item(a)) } }
                            td data-label="URL" { code class="url" { (pages::url_text(&a.url)) } }
                        }
                    }
                }
            } }
        }
    };
    Ok(pages::respond(
        StatusCode::OK,
        pages::page(
            Look::Dashboard,
            &format!("Notification {}: pay-account-mock", n.id),
            content,
        ),
    ))
}

fn target_text(target: &Target) -> Markup {
    html! {
        @match target {
            Target::Linking => "the Account linking notification URL (of its server key, or the default)",
            Target::Payment => "the Payment notification URL (of its server key, or the default)",
            Target::Url(url) => { "the URL its charge named: " code class="url" { (pages::url_text(url)) } },
        }
    }
}

/// The signature as the merchant checks it: what goes into the SHA-512, and whether the payload's
/// `signature_key` is what those values give.
fn signature(n: &Notification, payload: &Value) -> Markup {
    let field = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (names, computed): (&[&str], String) = match n.event {
        Event::AccountLinked | Event::AccountUnlinked => (
            &["account_id", "account_status", "status_code"],
            signature_key(
                field("account_id"),
                field("account_status"),
                field("status_code"),
                &n.server_key,
            ),
        ),
        Event::Payment => (
            &["order_id", "status_code", "gross_amount"],
            transaction_signature_key(
                field("order_id"),
                field("status_code"),
                field("gross_amount"),
                &n.server_key,
            ),
        ),
    };
    let sent = field("signature_key");
    html! {
        p {
            "signature_key = SHA-512 (lowercase hex) of "
            @for name in names { code { (name) } " + " }
            "the server key, joined with nothing between (one per line here):"
        }
        pre class="signature" {
            @for name in names { (field(name)) "\n" }
            (n.server_key)
        }
        section class="panel" { dl {
            dt { "In the payload" } dd { code class="hash" { (sent) } }
            dt { "Check" }
            dd {
                @if sent == computed {
                    span class="http good" { "matches" }
                } @else {
                    span class="http bad" { "does not match: " } code class="hash" { (computed) }
                }
            }
        } }
    }
}
