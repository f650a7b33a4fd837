//! One account's page, `GET /__admin/ui/accounts/{id}`: what its merchant's
//! `GET /v2/pay/account/{id}` answers right now, its balances with a form to change them (as
//! `PATCH /__admin/accounts/{id}` does), the transitions it allows, its transactions and its
//! notifications.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::rows::{notifications_table, transactions_table, transition_buttons};
use super::{Back, Filter, Form, ROWS, SHARED, account_href, form_token, read_form, see_other};
use crate::accounts::{AccountStatus, OptionChange, change_options};
use crate::activation;
use crate::api::AccountBody;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::notifications::log::Filter as LogFilter;
use crate::pages::{self, Look, PageError};
use crate::paging::{self, Order};

#[derive(Debug, Default, Deserialize)]
pub(super) struct AccountQuery {
    transactions_after: Option<String>,
    notifications_after: Option<String>,
}

fn not_found() -> PageError {
    PageError::new(
        Look::Dashboard,
        StatusCode::NOT_FOUND,
        "Account not found",
        "There is no such account: it never existed, or a reset cleared it.",
    )
    .back_to(super::PATH.into())
}

fn account_id(req: &HttpRequest) -> Option<Uuid> {
    req.match_info()
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok())
}

pub(super) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Option<web::Query<AccountQuery>>,
) -> Result<HttpResponse, PageError> {
    let query = query.map(web::Query::into_inner).unwrap_or_default();
    let id = account_id(&req).ok_or_else(not_found)?;
    let now = state.clock.now_ms();
    // The account and the GET body from one read, so they agree.
    let (account, status, get_body) = state
        .store
        .read(&id, None, now, |account, status| {
            let body = serde_json::to_string_pretty(&AccountBody::new(account, status));
            (account.clone(), status, body.unwrap_or_default())
        })
        .ok_or_else(not_found)?;
    let token = form_token(&state);
    let back = Back::account(&id);
    let owner = account.owner.as_deref();
    let (web_link, app_link) = activation::links(&state, &id);
    let overview = Filter {
        server_key: Some(owner.unwrap_or(SHARED).to_string()),
        status: None,
    };
    let (transactions, transactions_next) = state.transactions.with(|book| {
        book.page(
            None,
            paging::parse_cursor(query.transactions_after.as_deref()).unwrap_or(None),
            ROWS,
            Order::NewestFirst,
            |t| t.account_id == id,
        )
    });
    let log = state.notifications.page(
        &LogFilter {
            account_id: Some(id),
            ..LogFilter::default()
        },
        paging::parse_cursor(query.notifications_after.as_deref()).unwrap_or(None),
        ROWS,
        Order::NewestFirst,
    );
    let more = |name: &str, next: u64| format!("{}?{name}={next}", account_href(&id));
    let content = html! {
        p class="crumbs" {
            a href=(super::PATH) { "← Dashboard" } " · "
            a href=(overview.url()) { "the accounts of " @match owner { Some(k) => code { (k) }, None => "no key (shared)" } }
        }
        h2 { "Account " code { (id) } " " span class={ "badge s-" (status.as_str()) } { (status.as_str()) } }
        section class="panel" { dl {
            dt { "Server key" } dd { @match owner { Some(k) => code { (k) }, None => em { "shared: every key sees it" } } }
            dt { "Phone" } dd { "+" (account.country_code) " " (account.phone_number) }
            dt { "Created" } dd { (rfc3339(account.created_at_ms)) }
            dt { "Last change" } dd { (rfc3339(account.updated_at_ms)) }
            @if let (AccountStatus::Pending, Some(at)) = (status, account.expires_at_ms.get()) {
                dt { "Links expire" } dd { (rfc3339(at)) }
            }
            dt { "Redirect URL" }
            dd { @match account.redirect_url.as_deref() { Some(url) => code class="url" { (pages::url_text(url)) }, None => em { "none" } } }
            @if status == AccountStatus::Pending {
                dt { "Activation links" }
                dd class="links" {
                    a href=(web_link) { "web (Approve or Decline)" }
                    @if account.web_link_used { " " small { "(used)" } }
                    " · " a href=(app_link) { "app (PIN 112233)" }
                }
            }
            dt { "Actions" } dd class="actions" { (transition_buttons(&account, &back, &token)) }
        } }
        h3 { "What " code { "GET /v2/pay/account/" (id) } " answers" }
        pre class="payload" id="get-body" { (get_body) }
        h3 { "Balances" }
        @if account.payment_options.is_empty() {
            p class="empty" { "This account has no payment options." }
        } @else {
            div class="scroll" { table class="options" {
                thead { tr { th { "Payment option" } th { "Token" } th { "Balance" } } }
                tbody {
                    @for o in &account.payment_options {
                        tr data-option=(o.name) {
                            td data-label="Payment option" { code { (o.name) } }
                            td data-label="Token" { code class="url" { (pages::url_text(&o.token_text())) } }
                            td data-label="Balance" {
                                form class="balance-form" method="post" action={ (account_href(&id)) "/balances" } {
                                    (back.hidden_inputs(&token))
                                    input type="hidden" name="name" value=(o.name);
                                    label { (o.balance.currency) " "
                                        input name="balance" value=(o.balance.value) required inputmode="decimal" size="14"; }
                                    label { select name="active" {
                                        option value="true" selected[o.active] { "active" }
                                        option value="false" selected[!o.active] { "inactive" }
                                    } }
                                    button type="submit" { "Save" }
                                }
                            }
                        }
                    }
                }
            } }
        }
        h3 { "Transactions" }
        (transactions_table(&state, &back, &token, &transactions, "No charges with this account."))
        @if let Some(next) = transactions_next {
            p class="more" { a href=(more("transactions_after", next)) { "Older transactions →" } }
        }
        h3 { "Notifications" }
        (notifications_table(&state, &back, &token, &log.notifications, "No notifications about this account."))
        @if let Some(next) = log.next {
            p class="more" { a href=(more("notifications_after", next)) { "Older notifications →" } }
        }
    };
    Ok(pages::respond(
        StatusCode::OK,
        pages::page(
            Look::Dashboard,
            &format!("Account {id}: pay-account-mock"),
            content,
        ),
    ))
}

impl Form for BalanceForm {
    fn back(&self) -> String {
        self.back.url()
    }
}

#[derive(Deserialize, Default)]
struct BalanceForm {
    #[serde(flatten)]
    back: Back,
    name: String,
    balance: Option<String>,
    active: Option<String>,
}

/// `POST /__admin/ui/accounts/{id}/balances`: one payment option's balance and whether it is
/// active, checked as `PATCH /__admin/accounts/{id}` checks them; then back to the account.
pub(super) async fn change_balances(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: BalanceForm = read_form(&state, &req, payload).await?;
    let id = account_id(&req).ok_or_else(not_found)?;
    let refused = |message: String| {
        PageError::new(
            Look::Dashboard,
            StatusCode::BAD_REQUEST,
            "The balance did not change",
            message,
        )
        .back_to(form.back.url())
    };
    let active = match form.active.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(refused(format!("'{other}' is neither true nor false."))),
    };
    let change = OptionChange {
        name: form.name.clone(),
        balance: form
            .balance
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        active,
    };
    state
        .store
        .update_payment_options(&id, |options| change_options(options, &[change]))
        .ok_or_else(not_found)?
        .map_err(refused)?;
    Ok(see_other(&form.back.url()))
}
