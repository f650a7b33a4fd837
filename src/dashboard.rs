//! The QA dashboard: `GET /__admin/`, a server-rendered page for people testing a merchant
//! integration by hand.
//!
//! It shows the mock clock and where notifications go, the accounts (newest first, a page at a time,
//! with their activation links, balances, and a button for each transition the state machine
//! allows), the GoPay transactions (with their PIN links, and Pay, Deny and Expire for a pending
//! one) and the notification log (newest first, a page at a time, with every kept attempt, and a
//! Retry button on those not delivered that have a URL to go to).
//! Everything is plain HTML forms (`POST /__admin/ui/...`, answered with a 303 back to the page), so
//! it works with JavaScript off. Each form carries this server's form token, on top of the
//! cross-site check every control request passes (`guard.rs`). `?server_key=` (a key, or `shared`
//! for the fixture accounts every key can use) and `?status=` narrow the page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, Owner, Transition, TransitionError};
use crate::activation;
use crate::app::AppState;
use crate::charges::{Transaction, TxChange, TxStatus};
use crate::clock::rfc3339;
use crate::notifications::log::Filter as LogFilter;
use crate::notifications::{Attempt, Notification};
use crate::pages::{self, Look, PageError};
use crate::paging::{self, Order};
use crate::payments::{self, ChangeError};
use crate::routing;

/// The dashboard's own path.
pub const PATH: &str = "/__admin/";

/// Accounts and notifications per page.
const ROWS: usize = 50;
/// Server keys offered in the filter's suggestions (any key can be typed).
const KEYS_OFFERED: usize = 200;
/// The `server_key` filter value for accounts no key owns (fixtures).
const SHARED: &str = "shared";

/// Registers the dashboard page and its form handlers (inside the `/__admin` scope).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let html_405 = || web::to(method_not_allowed);
    cfg.service(
        web::resource("")
            .route(routing::get().to(to_dashboard))
            .default_service(html_405()),
    )
    .service(
        web::resource("/")
            .route(routing::get().to(dashboard))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/accounts")
            .route(web::post().to(create_account))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/clock")
            .route(web::post().to(advance_clock))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/config")
            .route(web::post().to(change_config))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/reset")
            .route(web::post().to(reset))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/accounts/{id}/{action}")
            .route(web::post().to(account_action))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/transactions/{id}/{action}")
            .route(web::post().to(transaction_action))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/notifications/{id}/retry")
            .route(web::post().to(retry_notification))
            .default_service(html_405()),
    );
}

async fn method_not_allowed() -> Result<HttpResponse, PageError> {
    Err(PageError::method_not_allowed(Look::Dashboard).back_to(PATH.into()))
}

/// `GET /__admin` → `/__admin/`, keeping the query.
async fn to_dashboard(req: HttpRequest) -> HttpResponse {
    let query = req.query_string();
    let location = if query.is_empty() {
        PATH.to_string()
    } else {
        format!("{PATH}?{query}")
    };
    see_other(&location)
}

/// The page's filters; the forms carry them along so a button press comes back to the same view.
#[derive(Debug, Default, Deserialize, Serialize)]
struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    server_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

impl Filter {
    fn server_key(&self) -> Option<&str> {
        self.server_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
    }

    fn status(&self) -> Option<AccountStatus> {
        let s = self.status.as_deref()?.trim();
        AccountStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    fn owner(&self) -> Owner<'_> {
        match self.server_key() {
            None => Owner::Any,
            Some(SHARED) => Owner::Shared,
            Some(key) => Owner::Key(key),
        }
    }

    /// The same filters, cleaned: what the page's links and forms carry.
    fn clean(&self) -> Self {
        Self {
            server_key: self.server_key().map(str::to_string),
            status: self.status().map(|s| s.as_str().to_string()),
        }
    }

    /// The dashboard URL with these filters and `extra` query pairs.
    fn url_with(&self, extra: &[(&str, String)]) -> String {
        let mut query = serde_urlencoded::to_string(self.clean()).unwrap_or_default();
        if !extra.is_empty() {
            let extra = serde_urlencoded::to_string(extra).unwrap_or_default();
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&extra);
        }
        if query.is_empty() {
            PATH.to_string()
        } else {
            format!("{PATH}?{query}")
        }
    }

    fn url(&self) -> String {
        self.url_with(&[])
    }

    /// Hidden inputs that carry the filters and the form token through a form.
    fn hidden_inputs(&self, token: &str) -> Markup {
        let clean = self.clean();
        html! {
            input type="hidden" name="csrf" value=(token);
            @if let Some(key) = &clean.server_key {
                input type="hidden" name="server_key" value=(key);
            }
            @if let Some(status) = &clean.status {
                input type="hidden" name="status" value=(status);
            }
        }
    }
}

/// The query of the page itself: the filters and where each list's page starts.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    #[serde(flatten)]
    filter: Filter,
    accounts_after: Option<String>,
    transactions_after: Option<String>,
    notifications_after: Option<String>,
    /// The account the create form just made: its activation links are shown at the top.
    created: Option<String>,
}

async fn dashboard(
    state: web::Data<AppState>,
    query: Option<web::Query<PageQuery>>,
) -> HttpResponse {
    let query = query.map(web::Query::into_inner).unwrap_or_default();
    let filter = &query.filter;
    let now = state.clock.now_ms();
    let token = form_token(&state);
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
            paging::parse_cursor(query.transactions_after.as_deref()).unwrap_or(None),
            ROWS,
            Order::NewestFirst,
            |t| owner_key.as_deref().is_none_or(|k| *t.owner == *k),
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
                    (account_row(&state, filter, &token, account))
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
        @if transactions.is_empty() {
            p class="empty" { "No charges yet." }
        } @else {
            div class="scroll" { table class="transactions" {
                thead { tr {
                    th { "Transaction" } th { "Status" } th { "Account" } th { "Amount" }
                    th { "Created" } th { "PIN links" } th { "Actions" }
                } }
                tbody {
                    @for t in &transactions {
                        (transaction_row(&state, filter, &token, t))
                    }
                }
            } }
        }
        @if let Some(next) = transactions_next {
            p class="more" {
                a href=(filter.url_with(&[("transactions_after", next.to_string())])) { "Older transactions →" }
            }
        }
        h2 { "Notifications " small { "newest first; " (state.notifications.len()) " logged on this server" } }
        @if log.notifications.is_empty() {
            p class="empty" { "No notifications yet." }
        } @else {
            div class="scroll" { table class="log" {
                thead { tr {
                    th { "#" } th { "Created" } th { "Event" } th { "Account" } th { "URL" }
                    th { "State" } th { "Attempts" } th {}
                } }
                tbody {
                    @for n in &log.notifications {
                        (notification_row(&state, filter, &token, n))
                    }
                }
            } }
        }
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

fn settings_panel(state: &AppState, now: u64) -> Markup {
    let settings = state.settings.read().clone();
    let offset = state.clock.offset();
    let mut per_key: Vec<_> = settings.notification_urls.iter().collect();
    per_key.sort();
    html! {
        section class="panel" { dl {
            dt { "Mock clock" }
            dd {
                span id="clock" { (rfc3339(now)) } " "
                small { "(" @if offset.is_zero() { "real time" } @else { "advanced by " (humantime::format_duration(offset)) } ")" }
            }
            dt { "Notification URL" }
            dd id="notification-url" {
                @match &settings.notification_url {
                    Some(url) => code { (url) },
                    None => em { "none: notifications are logged, not sent" },
                }
            }
            @for (key, url) in per_key.iter().take(KEYS_OFFERED) {
                dt { "URL for " code { (key) } }
                dd { code { (url) } }
            }
            dt { "Payment notification URL" }
            dd id="payment-notification-url" {
                @match &settings.payment_notification_url {
                    Some(url) => code { (url) },
                    None => em { "none: payment notifications are logged, not sent" },
                }
            }
            dt { "Merchant id" } dd { code { (settings.merchant_id) } " · GoPay " code { (settings.gopay_merchant_id) } }
            dt { "PIN asked from" } dd { "IDR " (settings.pin_threshold) }
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
                    legend { "A server key's own linking notification URL (empty URL: back to the one above)" }
                    label { "Server key " input name="key" list="server-keys" value=[filter.server_key().filter(|k| *k != SHARED)]; }
                    label { "URL " input name="key_url" type="url"; }
                }
                label { "Merchant id " input name="merchant_id" value=(s.merchant_id) required; }
                label { "GoPay merchant id " input name="gopay_merchant_id" value=(s.gopay_merchant_id) required; }
                label { "Activation TTL " input name="activation_ttl" value=(text(s.activation_ttl)) required; }
                label { "Retry schedule " input name="retry_schedule" value=(schedule.join(", ")) required; }
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
    let numbers = state.scenarios.list(None, None);
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

fn account_row(state: &AppState, filter: &Filter, token: &str, account: &Account) -> Markup {
    let (web_link, app_link) = activation::links(state, &account.id);
    let status = account.status;
    html! {
        tr class="account" data-account-id=(account.id) data-status=(status.as_str()) {
            td {
                code { (account.id) } br;
                small {
                    @match account.owner.as_deref() {
                        Some(k) => { "key " code { (k) } },
                        None => em { "shared" },
                    }
                }
            }
            td { span class={ "badge s-" (status.as_str()) } { (status.as_str()) } }
            td class="nowrap" { (account.masked_phone()) }
            td class="nowrap" {
                (rfc3339(account.created_at_ms))
                @if let (AccountStatus::Pending, Some(at)) = (status, account.expires_at_ms) {
                    br; small { "expires " (rfc3339(at)) }
                }
            }
            td class="links" {
                a href=(web_link) { "web" }
                @if account.web_link_used { " " small { "(used)" } }
                " · " a href=(app_link) { "app" }
            }
            td {
                @match account.redirect_url.as_deref() {
                    Some(url) => code class="url" { (url) },
                    None => em { "none" },
                }
            }
            td class="balances" {
                @for o in &account.payment_options {
                    div class="balance" data-option=(o.name) {
                        (o.name) ": " b { (o.balance.currency) " " (o.balance.value) }
                        @if !o.active { " " small { "(inactive)" } }
                    }
                }
                @if account.payment_options.is_empty() { small { "none" } }
            }
            td class="actions" {
                @for t in status.allowed() {
                    form method="post" action={ "/__admin/ui/accounts/" (account.id) "/" (t.name()) } {
                        (filter.hidden_inputs(token))
                        button type="submit" class={ "t-" (t.name()) } title=(transition_title(*t)) {
                            (transition_label(*t))
                        }
                    }
                }
                @if status.allowed().is_empty() { small { "final" } }
            }
        }
    }
}

fn transition_label(t: Transition) -> &'static str {
    match t {
        Transition::Link => "Link",
        Transition::Expire => "Expire",
        // Both end in DISABLED: the words say who does it.
        Transition::Unbind => "Unbind (merchant)",
        Transition::Unlink => "Unlink in app (customer)",
    }
}

fn transition_title(t: Transition) -> &'static str {
    match t {
        Transition::Link => "The customer approves: ENABLED, sends account_linked",
        Transition::Expire => "The activation link runs out: EXPIRED, no notification",
        Transition::Unbind => "The merchant unbinds: DISABLED, sends account_unlinked",
        Transition::Unlink => "The customer unlinks in the app: DISABLED, sends account_unlinked",
    }
}

fn transaction_row(state: &AppState, filter: &Filter, token: &str, t: &Transaction) -> Markup {
    let status = t.status.as_str();
    html! {
        tr class="transaction" data-transaction-id=(t.id) data-order-id=(t.order_id) data-status=(status) {
            td { code { (t.id) } br; small { "order " code { (t.order_id) } } }
            td { span class={ "badge x-" (status) } { (status) } }
            td { code { (t.account_id) } br; small { "key " code { (t.owner) } } }
            td class="nowrap" {
                (t.currency) " " (t.gross_amount) br; small { (t.payment_option) }
                @if !t.refunds.is_empty() { br; small { "refunded " (t.refunded()) } }
            }
            td class="nowrap" { (rfc3339(t.created_at_ms)) }
            td class="links" {
                @if t.status == TxStatus::Pending {
                    @let (web_link, app_link) = crate::verification::links(&state.public_url, &t.id);
                    a href=(web_link) { "web" }
                    @if t.web_link_used { " " small { "(used)" } }
                    " · " a href=(app_link) { "app" }
                } @else { small { "none" } }
            }
            td class="actions" {
                @if t.status == TxStatus::Pending {
                    @for (action, label, title) in TRANSACTION_ACTIONS {
                        form method="post" action={ "/__admin/ui/transactions/" (t.id) "/" (action) } {
                            (filter.hidden_inputs(token))
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

fn notification_row(app: &AppState, filter: &Filter, token: &str, n: &Notification) -> Markup {
    let state = n.state.as_str();
    // A retry makes sense for what did not arrive, and only where there is somewhere to send it.
    let has_url = app
        .settings
        .read()
        .url_for(&n.target, &n.server_key)
        .is_some();
    let delivered = n.state == crate::notifications::DeliveryState::Delivered;
    html! {
        tr class="notification" data-notification-id=(n.id) data-state=(state) {
            td { (n.id) }
            td class="nowrap" { (rfc3339(n.created_at)) }
            td {
                code { (n.event.as_str()) }
                @if let Some(t) = &n.transaction {
                    br; small { code { (t.transaction_status.as_str()) } " order " code { (t.order_id) } }
                }
            }
            td { code { (n.account_id) } br; small { "key " code { (n.server_key) } } }
            td {
                @match &n.url {
                    Some(url) => code class="url" { (url) },
                    None => em { "none" },
                }
            }
            td {
                span class={ "badge d-" (state) } { (state) }
                @if let Some(at) = n.next_attempt_at { br; small { "next " (rfc3339(at)) } }
            }
            td {
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
            td {
                @if delivered {
                    // Nothing to do: it arrived.
                } @else if has_url {
                    form method="post" action={ "/__admin/ui/notifications/" (n.id) "/retry" } {
                        (filter.hidden_inputs(token))
                        button type="submit" class="t-retry" { "Retry" }
                    }
                } @else {
                    small class="no-url" { "no notification URL set" }
                }
            }
        }
    }
}

fn attempt_item(a: &Attempt) -> Markup {
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

/// A dashboard form: its fields, and the page it leads back to.
trait Form: serde::de::DeserializeOwned + Default {
    fn back(&self) -> String;
}

/// Every dashboard form carries this server's form token beside its own fields.
#[derive(Default, Deserialize)]
#[serde(bound = "T: Form")]
struct Signed<T> {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: T,
}

impl Form for Filter {
    fn back(&self) -> String {
        self.url()
    }
}

/// Reads a dashboard form and checks its token.
async fn read_form<T: Form>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, PageError> {
    let form: Signed<T> = crate::pages::read_form(state, req, payload, Look::Dashboard).await?;
    if form.csrf.as_deref() != Some(form_token(state).as_str()) {
        return Err(PageError::new(
            Look::Dashboard,
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form does not come from this server's dashboard (or the server was restarted). Reload the dashboard and try again.",
        )
        .back_to(form.fields.back()));
    }
    Ok(form.fields)
}

impl Form for ClockForm {
    fn back(&self) -> String {
        self.filter.url()
    }
}

#[derive(Deserialize, Default)]
struct ClockForm {
    #[serde(flatten)]
    filter: Filter,
    by: String,
}

/// `POST /__admin/ui/clock`: moves the mock clock forward, as `POST /__admin/clock/advance` does
/// (due expiries and retries run), then back to the page.
async fn advance_clock(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: ClockForm = read_form(&state, &req, payload).await?;
    let refused = |message: String| {
        PageError::new(
            Look::Dashboard,
            StatusCode::BAD_REQUEST,
            "The clock did not move",
            message,
        )
        .back_to(form.filter.url())
    };
    let by = crate::config::parse_duration(&form.by).map_err(refused)?;
    state.clock.advance(by).map_err(|e| {
        refused(format!(
            "The clock moves at most {} in all (a reset puts it back); it can move {} more.",
            humantime::format_duration(crate::clock::MAX_OFFSET),
            humantime::format_duration(e.remaining)
        ))
    })?;
    crate::scheduler::clock_moved(&state);
    Ok(see_other(&form.filter.url()))
}

impl Form for ConfigForm {
    fn back(&self) -> String {
        self.filter.url()
    }
}

#[derive(Deserialize, Default)]
struct ConfigForm {
    #[serde(flatten)]
    filter: Filter,
    notification_url: Option<String>,
    payment_notification_url: Option<String>,
    key: Option<String>,
    key_url: Option<String>,
    merchant_id: Option<String>,
    gopay_merchant_id: Option<String>,
    activation_ttl: Option<String>,
    retry_schedule: Option<String>,
}

/// `POST /__admin/ui/config`: the form as one `PATCH /__admin/config` (the same checks, all of it
/// or none of it), then back to the page.
async fn change_config(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: ConfigForm = read_form(&state, &req, payload).await?;
    // A blank URL field clears the URL; a blank other field (or one not sent) leaves the setting.
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut patch = serde_json::Map::new();
    for (name, value) in [
        ("notification_url", &form.notification_url),
        ("payment_notification_url", &form.payment_notification_url),
    ] {
        if value.is_some() {
            patch.insert(name.into(), serde_json::json!(given(value)));
        }
    }
    if let Some(key) = given(&form.key) {
        patch.insert(
            "notification_urls".into(),
            serde_json::json!({ key: given(&form.key_url) }),
        );
    }
    for (name, value) in [
        ("merchant_id", &form.merchant_id),
        ("gopay_merchant_id", &form.gopay_merchant_id),
        ("activation_ttl", &form.activation_ttl),
        ("retry_schedule", &form.retry_schedule),
    ] {
        if let Some(v) = given(value) {
            patch.insert(name.into(), serde_json::Value::String(v));
        }
    }
    let refused = |message: String| {
        PageError::new(
            Look::Dashboard,
            StatusCode::BAD_REQUEST,
            "The config did not change",
            message,
        )
        .back_to(form.filter.url())
    };
    let patch: crate::settings::ConfigPatch =
        serde_json::from_value(serde_json::Value::Object(patch))
            .map_err(|e| refused(e.to_string()))?;
    patch.apply(&mut state.settings.write()).map_err(refused)?;
    Ok(see_other(&form.filter.url()))
}

impl Form for ResetForm {
    fn back(&self) -> String {
        self.filter.url()
    }
}

#[derive(Deserialize, Default)]
struct ResetForm {
    #[serde(flatten)]
    filter: Filter,
    /// Present on the confirmation page's own button.
    confirm: Option<String>,
}

/// `POST /__admin/ui/reset`: first a page asking to confirm (naming what goes), then the reset of
/// everything or of the filtered server key, as `POST /__admin/reset` does.
async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: ResetForm = read_form(&state, &req, payload).await?;
    let key = form
        .filter
        .server_key()
        .filter(|k| *k != SHARED)
        .map(str::to_string);
    if form.confirm.as_deref() != Some("yes") {
        let token = form_token(&state);
        let what = match &key {
            Some(key) => html! {
                "Every account, transaction, notification, journaled request, fault rule, phone scenario and notification URL of the server key "
                code { (key) } " goes. Everything else stays."
            },
            None => html! {
                "Everything goes back to how the server started: the fixture accounts only, no transactions, an empty notification log and journal, the start-up config, and the clock back to real time."
            },
        };
        let content = html! {
            section class="panel confirm" {
                h2 { "Reset?" }
                p { (what) }
                form method="post" action="/__admin/ui/reset" {
                    (form.filter.hidden_inputs(&token))
                    input type="hidden" name="confirm" value="yes";
                    button type="submit" class="t-reset" { "Yes, reset" }
                    " "
                    a href=(form.filter.url()) { "Cancel" }
                }
            }
        };
        return Ok(pages::respond(
            StatusCode::OK,
            pages::page(Look::Dashboard, "Reset? pay-account-mock", content),
        ));
    }
    match &key {
        Some(key) => {
            state.reset_key(key);
        }
        None => state.reset(),
    }
    Ok(see_other(&form.filter.url()))
}

impl Form for NewAccountForm {
    fn back(&self) -> String {
        PATH.to_string()
    }
}

#[derive(Deserialize, Default)]
struct NewAccountForm {
    server_key: String,
    phone_number: String,
    country_code: String,
    redirect_url: Option<String>,
}

/// `POST /__admin/ui/accounts`: the create form, decided as `POST /v2/pay/account` decides (the
/// same checks and messages, the number's scenario as that key sees it); then back to the page,
/// with the new account's activation links at the top.
async fn create_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: NewAccountForm = read_form(&state, &req, payload).await?;
    let refused = |title: &str, message: String| {
        PageError::new(Look::Dashboard, StatusCode::BAD_REQUEST, title, message)
            .back_to(PATH.to_string())
    };
    let key = form.server_key.trim();
    crate::limits::check_server_key("the server key", key)
        .map_err(|e| refused("Cannot create the account", e))?;
    if !state.server_keys.is_empty() && !state.server_keys.iter().any(|k| k == key) {
        return Err(refused(
            "Cannot create the account",
            format!("This server accepts only its --server-key keys, not '{key}'."),
        ));
    }
    let redirect_url = form
        .redirect_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let body = serde_json::json!({
        "payment_type": "gopay",
        "gopay_partner": {
            "phone_number": form.phone_number.trim(),
            "country_code": form.country_code.trim(),
            "redirect_url": redirect_url,
        }
    });
    let request = crate::api::create::validate(body.to_string().as_bytes()).map_err(|e| {
        let message = match e {
            crate::error::ApiError::Validation(messages) => messages.join("; "),
            other => other.to_string(),
        };
        refused("Cannot create the account", message)
    })?;
    use crate::api::create::Opened;
    let id = match crate::api::create::open_account(&state, key, request) {
        Opened::Created(id) => id,
        Opened::AlreadyLinked(account) => account.id,
        Opened::UserNotFound => {
            return Err(refused(
                "No account made",
                "GoPay knows no user with this number (it is scripted as user_not_found: the API answers \"202\", channel code 105).".into(),
            ));
        }
        Opened::UserBlocked => {
            return Err(refused(
                "No account made",
                "This GoPay user is blocked (the number is scripted as user_blocked: the API answers \"410\").".into(),
            ));
        }
        Opened::Full => {
            return Err(PageError::new(
                Look::Dashboard,
                StatusCode::INSUFFICIENT_STORAGE,
                "No room",
                "The server holds --max-accounts accounts; a reset frees room.",
            )
            .back_to(PATH.to_string()));
        }
    };
    let back = Filter {
        server_key: Some(key.to_string()),
        status: None,
    };
    Ok(see_other(&back.url_with(&[("created", id.to_string())])))
}

/// `POST /__admin/ui/accounts/{id}/{action}`: one transition, then back to the page.
async fn account_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let filter: Filter = read_form(&state, &req, payload).await?;
    let not_found = |message: String| {
        PageError::new(Look::Dashboard, StatusCode::NOT_FOUND, "Not found", message)
            .back_to(filter.url())
    };
    let id = req
        .match_info()
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok());
    let transition = req
        .match_info()
        .get("action")
        .and_then(Transition::from_name);
    let (Some(id), Some(transition)) = (id, transition) else {
        return Err(not_found("There is no such account or action.".into()));
    };
    match crate::transitions::apply(&state, &id, None, transition) {
        Ok(_) => Ok(see_other(&filter.url())),
        Err(TransitionError::NotFound) => Err(not_found(format!("There is no account {id}."))),
        Err(TransitionError::Invalid { current }) => Err(PageError::new(
            Look::Dashboard,
            StatusCode::CONFLICT,
            "Transition not allowed",
            format!(
                "Account {id} is {current}; \"{}\" only applies to {} accounts.",
                transition.name(),
                transition.from_status()
            ),
        )
        .back_to(filter.url())),
    }
}

/// `POST /__admin/ui/transactions/{id}/{settle|deny|expire}`: one change, then back to the page.
async fn transaction_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let filter: Filter = read_form(&state, &req, payload).await?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let change = match req.match_info().get("action") {
        Some("settle") => TxChange::Settle,
        Some("deny") => TxChange::Deny,
        Some("expire") => TxChange::Expire,
        _ => {
            return Err(PageError::new(
                Look::Dashboard,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such transaction action.",
            )
            .back_to(filter.url()));
        }
    };
    let pending = state.transactions.find(None, &id).map(|t| t.status);
    let result = match pending {
        None => Err(ChangeError::NotFound),
        Some(TxStatus::Pending) => payments::change(&state, None, &id, change).map(|_| ()),
        Some(current) => Err(ChangeError::NotAllowed { current }),
    };
    match result {
        Ok(()) => Ok(see_other(&filter.url())),
        Err(ChangeError::NotFound) => Err(PageError::new(
            Look::Dashboard,
            StatusCode::NOT_FOUND,
            "Not found",
            format!("There is no transaction {id}."),
        )
        .back_to(filter.url())),
        Err(ChangeError::NotAllowed { current }) => Err(PageError::new(
            Look::Dashboard,
            StatusCode::CONFLICT,
            "Change not allowed",
            format!(
                "Transaction {id} is {}; \"{}\" only applies to pending transactions.",
                current.as_str(),
                change.as_str()
            ),
        )
        .back_to(filter.url())),
    }
}

/// `POST /__admin/ui/notifications/{id}/retry`: a fresh attempt to the current URL, then back.
async fn retry_notification(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let filter: Filter = read_form(&state, &req, payload).await?;
    let id = req
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<u64>().ok());
    match id.and_then(|id| state.notifications.retry(id, state.clock.now_ms())) {
        Some(_) => Ok(see_other(&filter.url())),
        None => Err(PageError::new(
            Look::Dashboard,
            StatusCode::NOT_FOUND,
            "Notification not found",
            "There is no such notification.",
        )
        .back_to(filter.url())),
    }
}

/// The token every dashboard form carries: a keyed hash only this server (this run) can make.
fn form_token(state: &AppState) -> String {
    use sha2::{Digest, Sha512};
    let digest = Sha512::new()
        .chain_update(state.form_secret.as_bytes())
        .chain_update(b"dashboard")
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url() {
        let f = Filter {
            server_key: Some("SB-Mid-server-a b&c".into()),
            status: Some("enabled".into()),
        };
        assert_eq!(
            f.url(),
            "/__admin/?server_key=SB-Mid-server-a+b%26c&status=ENABLED"
        );
        let back: Filter =
            serde_urlencoded::from_str(f.url().trim_start_matches("/__admin/?")).unwrap();
        assert_eq!(back.server_key(), Some("SB-Mid-server-a b&c"));
        assert_eq!(Filter::default().url(), "/__admin/");
        let bad = Filter {
            server_key: Some("  ".into()),
            status: Some("nope".into()),
        };
        assert_eq!(bad.url(), "/__admin/");
        assert_eq!(
            f.url_with(&[("accounts_after", "7".into())]),
            "/__admin/?server_key=SB-Mid-server-a+b%26c&status=ENABLED&accounts_after=7"
        );
    }

    #[test]
    fn shared_filter_selects_unowned_accounts() {
        let f = Filter {
            server_key: Some(SHARED.into()),
            status: None,
        };
        assert_eq!(f.owner(), Owner::Shared);
    }
}
