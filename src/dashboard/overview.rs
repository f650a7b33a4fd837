//! The dashboard's main page, `GET /__admin/`: the server's settings and the forms that change
//! them, then the accounts, transactions and notifications, each a page at a time.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::rows::{account_row, notifications_table, transactions_table};
use super::{Back, Filter, KEYS_OFFERED, PATH, ROWS, SHARED, form_token};
use crate::accounts::{AccountStatus, Owner};
use crate::activation;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::notifications::log::Filter as LogFilter;
use crate::pages::{self, Look};
use crate::paging::{self, Order};

/// The query of the page itself: the filters and where each list's page starts.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    #[serde(flatten)]
    filter: Filter,
    accounts_after: Option<String>,
    transactions_after: Option<String>,
    notifications_after: Option<String>,
    /// The account the create form just made: its activation links are shown at the top.
    created: Option<String>,
}

pub(super) async fn page(
    state: web::Data<AppState>,
    query: Option<web::Query<PageQuery>>,
) -> HttpResponse {
    let query = query.map(web::Query::into_inner).unwrap_or_default();
    let filter = &query.filter;
    let now = state.clock.now_ms();
    let token = form_token(&state);
    let back = Back::overview(filter);
    let accounts = state.store.page(
        filter.owner(),
        filter.status(),
        paging::parse_cursor(query.accounts_after.as_deref()).unwrap_or(None),
        ROWS,
        Order::NewestFirst,
        now,
    );
    let log_filter = LogFilter {
        server_key: match filter.owner() {
            Owner::Key(k) => Some(k.to_string()),
            Owner::Any | Owner::Shared => None,
        },
        ..LogFilter::default()
    };
    let log = state.notifications.page(
        &log_filter,
        paging::parse_cursor(query.notifications_after.as_deref()).unwrap_or(None),
        ROWS,
        Order::NewestFirst,
    );
    let owner_key = match filter.owner() {
        Owner::Key(k) => Some(k.to_string()),
        Owner::Any | Owner::Shared => None,
    };
    let (transactions, transactions_next) = state.transactions.with(|book| {
        book.page(
            owner_key.as_deref(),
            paging::parse_cursor(query.transactions_after.as_deref()).unwrap_or(None),
            ROWS,
            Order::NewestFirst,
            |_| true,
        )
    });
    let content = html! {
        p { a class="refresh" href=(filter.url()) { "Refresh" } }
        (settings_panel(&state, now))
        @if let Some(id) = query.created.as_deref().and_then(|id| Uuid::parse_str(id).ok()) {
            (created_notice(&state, &id))
        }
        (create_form(&state, filter, &token))
        (server_forms(filter, &token))
        (config_form(&state, filter, &token))
        (filter_form(&state, filter))
        (status_tabs(&state, filter))
        h2 { "Accounts" }
        div class="scroll" { table class="accounts" {
            thead { tr {
                th { "Account" } th { "Status" } th { "Phone" } th { "Created" }
                th { "Activation links" } th { "Redirect URL" } th { "Balances" } th { "Actions" }
            } }
            tbody {
                @for account in &accounts.accounts {
                    (account_row(&state, &back, &token, account))
                }
                @if accounts.accounts.is_empty() {
                    tr { td colspan="8" class="empty" { "None." } }
                }
            }
        } }
        @if let Some(next) = accounts.next {
            p class="more" {
                a href=(filter.url_with(&[("accounts_after", next.to_string())])) { "Older accounts →" }
            }
        }
        h2 { "Transactions " small { "newest first; " (state.transactions.len()) " on this server" } }
        (transactions_table(&state, &back, &token, &transactions, "No charges yet."))
        @if let Some(next) = transactions_next {
            p class="more" {
                a href=(filter.url_with(&[("transactions_after", next.to_string())])) { "Older transactions →" }
            }
        }
        h2 { "Notifications " small { "newest first; " (state.notifications.len()) " logged on this server" } }
        (notifications_table(&state, &back, &token, &log.notifications, "No notifications yet."))
        @if let Some(next) = log.next {
            p class="more" {
                a href=(filter.url_with(&[("notifications_after", next.to_string())])) { "Older notifications →" }
            }
        }
    };
    pages::respond(
        StatusCode::OK,
        pages::page(Look::Dashboard, "pay-account-mock QA dashboard", content),
    )
}

/// A merchant-wide notification URL (`id`, `label`), then the per-key ones (`key_label`), at most
/// [`KEYS_OFFERED`] of them, in key order.
fn url_rows(
    (id, label, key_label): (&str, &str, &str),
    url: Option<&str>,
    none: &str,
    per_key: &HashMap<String, String>,
) -> Markup {
    let mut per_key: Vec<_> = per_key.iter().collect();
    per_key.sort();
    html! {
        dt { (label) }
        dd id=(id) {
            @match url {
                Some(url) => code class="url" { (pages::url_text(url)) },
                None => em { (none) },
            }
        }
        @for (key, url) in per_key.iter().take(KEYS_OFFERED) {
            dt { (key_label) " " code { (key) } }
            dd { code class="url" { (pages::url_text(url)) } }
        }
    }
}

fn settings_panel(state: &AppState, now: u64) -> Markup {
    let settings = state.settings.read().clone();
    let offset = state.clock.offset();
    html! {
        section class="panel" { dl {
            dt { "Mock clock" }
            dd {
                span id="clock" { (rfc3339(now)) } " "
                small { "(" @if offset.is_zero() { "real time" } @else { "advanced by " (humantime::format_duration(offset)) } ")" }
            }
            (url_rows(
                ("notification-url", "Notification URL", "URL for"),
                settings.notification_url.as_deref(),
                "none: notifications are logged, not sent",
                &settings.notification_urls,
            ))
            (url_rows(
                ("payment-notification-url", "Payment notification URL", "Payment URL for"),
                settings.payment_notification_url.as_deref(),
                "none: payment notifications are logged, not sent",
                &settings.payment_notification_urls,
            ))
            dt { "Merchant id" } dd { code { (settings.merchant_id) } " · GoPay " code { (settings.gopay_merchant_id) } }
            dt { "PIN asked from" }
            dd {
                "IDR " (settings.pin_threshold) " · PIN links last " (humantime::format_duration(settings.verification_link_ttl))
                " · pending charges expire after " (humantime::format_duration(settings.transaction_ttl))
                " · pre-auth holds lapse after " (humantime::format_duration(settings.pre_auth_hold))
            }
            dt { "Notify on unbind" } dd { @if settings.unbind_notification { "yes" } @else { "no" } }
            dt { "Activation TTL" }
            dd {
                @if settings.activation_ttl.is_zero() { "never expires" }
                @else { (humantime::format_duration(settings.activation_ttl)) }
            }
        } }
    }
}

/// The account the create form made, with its activation links to open at once.
fn created_notice(state: &AppState, id: &Uuid) -> Markup {
    let Some(account) = state.store.get(id, None, state.clock.now_ms()) else {
        return html! {};
    };
    let (web_link, app_link) = activation::links(state, id);
    let status = account.status;
    html! {
        section class="panel created" data-account-id=(id) {
            p {
                "Account " code { (id) } " for " code { (account.owner.as_deref().unwrap_or(SHARED)) }
                " is " span class={ "badge s-" (status.as_str()) } { (status.as_str()) } "."
            }
            @if status == AccountStatus::Pending {
                p {
                    "Activation links: "
                    a class="created-web" href=(web_link) { "web (Approve or Decline)" } " · "
                    a class="created-app" href=(app_link) { "app (PIN 112233)" }
                }
            }
        }
    }
}

/// The runtime config `PATCH /__admin/config` changes, as a form: an empty URL clears it.
fn config_form(state: &AppState, filter: &Filter, token: &str) -> Markup {
    let s = state.settings.read().clone();
    let text = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let schedule: Vec<String> = s.retry_schedule.iter().map(|d| text(*d)).collect();
    let key = filter.server_key().filter(|k| *k != SHARED);
    html! {
        details class="panel config" {
            summary { "Change the config" }
            form class="config" method="post" action="/__admin/ui/config" {
                (filter.hidden_inputs(token))
                label { "Account linking notification URL "
                    input name="notification_url" type="url" value=[s.notification_url.as_deref()]
                        placeholder="none: logged, not sent"; }
                label { "Payment notification URL "
                    input name="payment_notification_url" type="url" value=[s.payment_notification_url.as_deref()]
                        placeholder="none: logged, not sent"; }
                fieldset {
                    legend { "A server key's own URLs (both are set: a blank one means the key uses the URL above)" }
                    label { "Server key " input name="key" list="server-keys" value=[key]; }
                    label { "Linking URL " input name="key_url" type="url" value=[key.and_then(|k| s.notification_urls.get(k)).map(String::as_str)]; }
                    label { "Payment URL " input name="key_payment_url" type="url" value=[key.and_then(|k| s.payment_notification_urls.get(k)).map(String::as_str)]; }
                }
                label { "Merchant id " input name="merchant_id" value=(s.merchant_id) required; }
                label { "GoPay merchant id " input name="gopay_merchant_id" value=(s.gopay_merchant_id) required; }
                label { "Activation TTL " input name="activation_ttl" value=(text(s.activation_ttl)) required; }
                label { "Retry schedule " input name="retry_schedule" value=(schedule.join(", ")) required; }
                label { "Notify on unbind "
                    select name="unbind_notification" {
                        option value="true" selected[s.unbind_notification] { "yes: account_unlinked" }
                        option value="false" selected[!s.unbind_notification] { "no" }
                    } }
                label { "PIN asked from (whole IDR) " input name="pin_threshold" value=(s.pin_threshold.hundredths() / 100) inputmode="numeric" required; }
                label { "PIN links expire after " input name="verification_link_ttl" value=(text(s.verification_link_ttl)) required; }
                label { "Pending charge expires after " input name="transaction_ttl" value=(text(s.transaction_ttl)) required; }
                label { "Pre-auth hold lapses after " input name="pre_auth_hold" value=(text(s.pre_auth_hold)) required; }
                button type="submit" { "Save config" }
            }
        }
    }
}

/// Moving the clock, and resetting (behind a confirmation page).
fn server_forms(filter: &Filter, token: &str) -> Markup {
    html! {
        div class="server-forms" {
            form class="clock" method="post" action="/__admin/ui/clock" {
                (filter.hidden_inputs(token))
                label { "Advance the clock by "
                    input name="by" list="clock-steps" required size="8" placeholder="2m"; }
                datalist id="clock-steps" {
                    option value="2m" { "the first notification retry" }
                    option value="15m" { "the activation links' default TTL" }
                    option value="3h 30m" { "the last notification retry" }
                    option value="1d" {}
                }
                button type="submit" { "Advance" }
            }
            form class="reset" method="post" action="/__admin/ui/reset" {
                (filter.hidden_inputs(token))
                button type="submit" class="t-reset" {
                    @match filter.server_key().filter(|k| *k != SHARED) {
                        Some(key) => { "Reset key " (key) "…" }
                        None => "Reset everything…",
                    }
                }
            }
        }
    }
}

/// Creating an account as the merchant's backend would (`POST /v2/pay/account`), with the scripted
/// sandbox numbers offered.
fn create_form(state: &AppState, filter: &Filter, token: &str) -> Markup {
    // Offered, not listed: the first page is plenty (a fixture file may script 100,000).
    let (numbers, _) = state
        .scenarios
        .page(None, None, crate::paging::DEFAULT_LIMIT);
    html! {
        details class="panel create" open[filter.server_key().is_none() && state.store.len() <= state.fixtures.accounts.len()] {
            summary { "Create an account" }
            form class="create" method="post" action="/__admin/ui/accounts" {
                input type="hidden" name="csrf" value=(token);
                label { "Server key " input name="server_key" list="server-keys" required
                    value=[filter.server_key().filter(|k| *k != SHARED)]
                    placeholder="SB-Mid-server-..."; }
                label { "Phone number " input name="phone_number" list="phone-numbers" required
                    inputmode="numeric" placeholder="81234567890"; }
                datalist id="phone-numbers" {
                    @for n in &numbers {
                        option value=(n.scenario.phone_number) {
                            (n.scenario.outcome.as_str())
                            @if let Some(d) = &n.scenario.description { ": " (d) }
                        }
                    }
                }
                label { "Country code " input name="country_code" value="62" size="4" required; }
                label { "Redirect URL " input name="redirect_url" type="url" placeholder="https://merchant.example/done (optional)"; }
                button type="submit" { "Create account" }
            }
        }
    }
}

fn filter_form(state: &AppState, filter: &Filter) -> Markup {
    let keys = state.store.keys(KEYS_OFFERED);
    html! {
        form class="filter" method="get" action=(PATH) {
            label {
                "Server key "
                input name="server_key" list="server-keys" value=[filter.server_key()]
                    placeholder="all (or shared)";
            }
            datalist id="server-keys" {
                option value=(SHARED) { "shared (fixture accounts)" }
                @for key in &keys { option value=(key) {} }
            }
            @if let Some(status) = filter.status() {
                input type="hidden" name="status" value=(status.as_str());
            }
            button type="submit" { "Filter" }
        }
    }
}

fn status_tabs(state: &AppState, filter: &Filter) -> Markup {
    let counts = state.store.counts(filter.owner());
    let base = Filter {
        server_key: filter.server_key().map(str::to_string),
        status: None,
    };
    html! {
        nav class="tabs" {
            a href=(base.url()) class=[filter.status().is_none().then_some("on")] {
                "All " b { (counts.total()) }
            }
            @for status in AccountStatus::ALL {
                @let f = Filter { server_key: base.server_key.clone(), status: Some(status.as_str().into()) };
                a href=(f.url()) class=[(filter.status() == Some(status)).then_some("on")] {
                    (status.as_str()) " " b { (counts.get(status)) }
                }
            }
        }
    }
}
