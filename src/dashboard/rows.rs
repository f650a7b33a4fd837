//! The table rows the dashboard's pages share (accounts, transactions, notifications), each with
//! the buttons that make sense for it, and ids that link to their own pages.

use maud::{Markup, html};
use std::sync::Arc;

use super::{Back, account_href, notification_href};
use crate::accounts::{Account, AccountStatus, Transition};
use crate::activation;
use crate::app::AppState;
use crate::charges::{Transaction, TxStatus};
use crate::clock::rfc3339;
use crate::notifications::{Attempt, DeliveryState, Notification};
use crate::pages;

pub(super) fn account_row(state: &AppState, back: &Back, token: &str, account: &Account) -> Markup {
    let (web_link, app_link) = activation::links(state, &account.id);
    let status = account.status;
    html! {
        tr class="account" data-account-id=(account.id) data-status=(status.as_str()) {
            td data-label="Account" {
                a class="id" href=(account_href(&account.id)) { code { (account.id) } } br;
                small {
                    @match account.owner.as_deref() {
                        Some(k) => { "key " code { (k) } },
                        None => em { "shared" },
                    }
                }
            }
            td data-label="Status" { span class={ "badge s-" (status.as_str()) } { (status.as_str()) } }
            td data-label="Phone" class="nowrap" { (account.masked_phone()) }
            td data-label="Created" class="nowrap" {
                (rfc3339(account.created_at_ms))
                @if let (AccountStatus::Pending, Some(at)) = (status, account.expires_at_ms.get()) {
                    br; small { "expires " (rfc3339(at)) }
                }
            }
            td data-label="Activation links" class="links" {
                a href=(web_link) { "web" }
                @if account.web_link_used { " " small { "(used)" } }
                " · " a href=(app_link) { "app" }
            }
            td data-label="Redirect URL" {
                @match account.redirect_url.as_deref() {
                    Some(url) => code class="url" { (pages::url_text(url)) },
                    None => em { "none" },
                }
            }
            td data-label="Balances" class="balances" {
                @for o in &account.payment_options {
                    div class="balance" data-option=(o.name) {
                        (o.name) ": " b { (o.balance.currency) " " (o.balance.value) }
                        @if !o.active { " " small { "(inactive)" } }
                    }
                }
                @if account.payment_options.is_empty() { small { "none" } }
            }
            td data-label="Actions" class="actions" { (transition_buttons(account, back, token)) }
        }
    }
}

/// A button for each transition the account's status allows, or "final".
pub(super) fn transition_buttons(account: &Account, back: &Back, token: &str) -> Markup {
    let allowed = account.status.allowed();
    html! {
        @for t in allowed {
            form method="post" action={ "/__admin/ui/accounts/" (account.id) "/" (t.name()) } {
                (back.hidden_inputs(token))
                button type="submit" class={ "t-" (t.name()) } title=(transition_title(*t)) {
                    (transition_label(*t))
                }
            }
        }
        @if allowed.is_empty() { small { "final" } }
    }
}

pub(super) fn transition_label(t: Transition) -> &'static str {
    match t {
        Transition::Link => "Link",
        Transition::Expire => "Expire",
        // Both end in DISABLED: the words say who does it.
        Transition::Unbind => "Unbind (merchant)",
        Transition::Unlink => "Unlink in app (customer)",
    }
}

pub(super) fn transition_title(t: Transition) -> &'static str {
    match t {
        Transition::Link => "The customer approves: ENABLED, sends account_linked",
        Transition::Expire => "The activation link runs out: EXPIRED, no notification",
        Transition::Unbind => "The merchant unbinds: DISABLED, sends account_unlinked",
        Transition::Unlink => "The customer unlinks in the app: DISABLED, sends account_unlinked",
    }
}

/// Transactions as a table (their column names are the rows' `data-label`s), or `empty` in words.
pub(super) fn transactions_table(
    state: &AppState,
    back: &Back,
    token: &str,
    transactions: &[Arc<Transaction>],
    empty: &str,
) -> Markup {
    html! {
        @if transactions.is_empty() {
            p class="empty" { (empty) }
        } @else {
            div class="scroll" { table class="transactions" {
                thead { tr {
                    th { "Transaction" } th { "Status" } th { "Account" } th { "Amount" }
                    th { "Created" } th { "PIN links" } th { "Actions" }
                } }
                tbody { @for t in transactions { (transaction_row(state, back, token, t)) } }
            } }
        }
    }
}

/// Notifications as a table, or `empty` in words.
pub(super) fn notifications_table(
    state: &AppState,
    back: &Back,
    token: &str,
    notifications: &[Notification],
    empty: &str,
) -> Markup {
    html! {
        @if notifications.is_empty() {
            p class="empty" { (empty) }
        } @else {
            div class="scroll" { table class="log" {
                thead { tr {
                    th { "#" } th { "Created" } th { "Event" } th { "Account" } th { "URL" }
                    th { "State" } th { "Attempts" } th {}
                } }
                tbody { @for n in notifications { (notification_row(state, back, token, n)) } }
            } }
        }
    }
}

fn transaction_row(state: &AppState, back: &Back, token: &str, t: &Transaction) -> Markup {
    let status = t.status.as_str();
    html! {
        tr class="transaction" data-transaction-id=(t.id) data-order-id=(t.order_id) data-status=(status) {
            td data-label="Transaction" { code { (t.id) } br; small { "order " code { (t.order_id) } } }
            td data-label="Status" { span class={ "badge x-" (status) } { (status) } }
            td data-label="Account" { a class="id" href=(account_href(&t.account_id)) { code { (t.account_id) } } br; small { "key " code { (t.owner) } } }
            td data-label="Amount" class="nowrap" {
                (Transaction::CURRENCY) " " (t.gross_amount) br; small { (t.payment_option) }
                @if !t.refunds.is_empty() { br; small { "refunded " (t.refunded()) } }
            }
            td data-label="Created" class="nowrap" { (rfc3339(t.created_at_ms)) }
            td data-label="PIN links" class="links" {
                @if t.status == TxStatus::Pending {
                    @let (web_link, app_link) = crate::verification::links(&state.public_url, &t.id);
                    a href=(web_link) { "web" }
                    @if t.web_link_used { " " small { "(used)" } }
                    " · " a href=(app_link) { "app" }
                } @else { small { "none" } }
            }
            td data-label="Actions" class="actions" {
                @if t.status == TxStatus::Pending {
                    @for (action, label, title) in TRANSACTION_ACTIONS {
                        form method="post" action={ "/__admin/ui/transactions/" (t.id) "/" (action) } {
                            (back.hidden_inputs(token))
                            button type="submit" class={ "t-" (action) } title=(title) { (label) }
                        }
                    }
                } @else { small { "final" } }
            }
        }
    }
}

/// What a QA tester can do to a pending transaction: the customer's three possible endings.
const TRANSACTION_ACTIONS: [(&str, &str, &str); 3] = [
    (
        "settle",
        "Pay (PIN)",
        "The customer enters the PIN: settlement, debited, sends the notification",
    ),
    (
        "deny",
        "Deny",
        "GoPay denies the payment: deny, nothing debited, sends the notification",
    ),
    (
        "expire",
        "Expire",
        "The customer walks away: expire, nothing debited, sends the notification",
    ),
];

/// What the dashboard offers for a notification: a retry makes sense for what did not arrive, and
/// only where there is somewhere to send it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RetryOffer {
    Delivered,
    Retry,
    NoUrl,
}

pub(super) fn retry_offer(app: &AppState, n: &Notification) -> RetryOffer {
    if n.state == DeliveryState::Delivered {
        RetryOffer::Delivered
    } else if app
        .settings
        .read()
        .url_for(&n.target, &n.server_key)
        .is_some()
    {
        RetryOffer::Retry
    } else {
        RetryOffer::NoUrl
    }
}

fn notification_row(app: &AppState, back: &Back, token: &str, n: &Notification) -> Markup {
    let state = n.state.as_str();
    html! {
        tr class="notification" data-notification-id=(n.id) data-state=(state) {
            td data-label="#" { a class="id" href=(notification_href(n.id)) { (n.id) } }
            td data-label="Created" class="nowrap" { (rfc3339(n.created_at)) }
            td data-label="Event" {
                code { (n.event.as_str()) }
                @if let Some(t) = &n.transaction {
                    br; small { code { (t.transaction_status.as_str()) } " order " code { (t.order_id) } }
                }
            }
            td data-label="Account" { a class="id" href=(account_href(&n.account_id)) { code { (n.account_id) } } br; small { "key " code { (n.server_key) } } }
            td data-label="URL" {
                @match &n.url {
                    Some(url) => code class="url" { (pages::url_text(url)) },
                    None => em { "none" },
                }
            }
            td data-label="State" {
                span class={ "badge d-" (state) } { (state) }
                @if let Some(at) = n.next_attempt_at { br; small { "next " (rfc3339(at)) } }
            }
            td data-label="Attempts" {
                @if n.attempts.is_empty() {
                    small { "none yet" }
                } @else {
                    @if n.attempts_total as usize > n.attempts.len() {
                        small { (n.attempts_total as usize - n.attempts.len()) " older not kept" }
                    }
                    ol class="attempts" {
                        @for a in &n.attempts { (attempt_item(a)) }
                    }
                }
            }
            td data-label="Actions" {
                @match retry_offer(app, n) {
                    RetryOffer::Delivered => {}
                    RetryOffer::Retry => form method="post" action={ "/__admin/ui/notifications/" (n.id) "/retry" } {
                        (back.hidden_inputs(token))
                        button type="submit" class="t-retry" { "Retry" }
                    },
                    RetryOffer::NoUrl => small class="no-url" { "no notification URL set" },
                }
            }
        }
    }
}

pub(super) fn attempt_item(a: &Attempt) -> Markup {
    html! {
        li class="attempt" {
            span class="nowrap" { (rfc3339(a.at)) } " "
            @match (a.http_status, &a.error) {
                (Some(code), _) => span class={ "http " @if (200..300).contains(&code) { "good" } @else { "bad" } } { "HTTP " (code) },
                (None, Some(e)) => span class="http bad" { (e) },
                (None, None) => span class="http bad" { "no answer" },
            }
            " "
            small {
                (format!("{:.1}", a.duration_ms)) " ms"
                @if a.redirects > 0 { ", " (a.redirects) " redirect" @if a.redirects != 1 { "s" } }
            }
        }
    }
}
