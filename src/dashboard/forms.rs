//! What the dashboard's forms and buttons do: each reads its form (checking the token), makes its
//! change through the same code as the control API, and answers with a 303 back to its page, or an
//! HTML page saying why nothing changed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::{Back, Filter, Form, PATH, SHARED, form_token, read_form, see_other};
use crate::accounts::{Transition, TransitionError};
use crate::app::AppState;
use crate::charges::{TxChange, TxStatus};
use crate::pages::{self, Look, PageError};
use crate::payments::{self, ChangeError};

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
pub(super) async fn advance_clock(
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
    let app = state.clone();
    off_the_worker(move || crate::scheduler::advance_clock(&app, by, 0))
        .await?
        .map_err(|e| {
            refused(format!(
                "The clock moves at most {} in all (a reset puts it back); it can move {} more.",
                humantime::format_duration(crate::clock::MAX_OFFSET),
                humantime::format_duration(e.remaining)
            ))
        })?;
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
    key_payment_url: Option<String>,
    merchant_id: Option<String>,
    gopay_merchant_id: Option<String>,
    activation_ttl: Option<String>,
    retry_schedule: Option<String>,
    unbind_notification: Option<String>,
    pin_threshold: Option<String>,
    verification_link_ttl: Option<String>,
    transaction_ttl: Option<String>,
    pre_auth_hold: Option<String>,
}

/// `POST /__admin/ui/config`: the form as one `PATCH /__admin/config` (the same checks, all of it
/// or none of it), then back to the page.
pub(super) async fn change_config(
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
        // Both of the key's URLs, as the form shows them.
        patch.insert(
            "notification_urls".into(),
            serde_json::json!({ &key: given(&form.key_url) }),
        );
        if form.key_payment_url.is_some() {
            patch.insert(
                "payment_notification_urls".into(),
                serde_json::json!({ key: given(&form.key_payment_url) }),
            );
        }
    }
    for (name, value) in [
        ("merchant_id", &form.merchant_id),
        ("gopay_merchant_id", &form.gopay_merchant_id),
        ("activation_ttl", &form.activation_ttl),
        ("retry_schedule", &form.retry_schedule),
        ("verification_link_ttl", &form.verification_link_ttl),
        ("transaction_ttl", &form.transaction_ttl),
        ("pre_auth_hold", &form.pre_auth_hold),
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
    if let Some(v) = given(&form.unbind_notification) {
        let on = match v.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(refused(format!(
                    "unbind_notification: '{v}' is neither true nor false"
                )));
            }
        };
        patch.insert("unbind_notification".into(), serde_json::Value::Bool(on));
    }
    if let Some(v) = given(&form.pin_threshold) {
        let idr: u64 = v.parse().map_err(|_| {
            refused(format!(
                "pin_threshold must be a whole number of IDR, got '{v}'"
            ))
        })?;
        patch.insert("pin_threshold".into(), serde_json::json!(idr));
    }
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
pub(super) async fn reset(
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
    let app = state.clone();
    off_the_worker(move || match &key {
        Some(key) => {
            app.reset_key(key);
        }
        None => app.reset(),
    })
    .await?;
    Ok(see_other(&form.filter.url()))
}

/// Runs `work` on the blocking pool, as the control API does for the same work: a reset or a move
/// of the clock can take seconds with a million accounts, and would stall every connection of this
/// worker.
async fn off_the_worker<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, PageError> {
    web::block(work).await.map_err(|e| {
        PageError::new(
            Look::Dashboard,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not done",
            format!("The server could not finish this: {e}"),
        )
    })
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
pub(super) async fn create_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: NewAccountForm = read_form(&state, &req, payload).await?;
    let page = |status: StatusCode, title: &str, message: String| {
        PageError::new(Look::Dashboard, status, title, message).back_to(PATH.to_string())
    };
    let refused = |title: &str, message: String| page(StatusCode::BAD_REQUEST, title, message);
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
            return Err(page(
                StatusCode::INSUFFICIENT_STORAGE,
                "No room",
                "The server holds --max-accounts accounts; a reset frees room.".into(),
            ));
        }
        Opened::NoFreeId => {
            return Err(page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "No account made",
                concat!(
                    "Every id drawn names an account that exists: the server's --seed draws ",
                    "the ids of accounts an imported state already holds."
                )
                .into(),
            ));
        }
    };
    let back = Filter {
        server_key: Some(key.to_string()),
        status: None,
    };
    Ok(see_other(&back.url_with(&[("created", id.to_string())])))
}

/// `POST /__admin/ui/accounts/{id}/{action}`: one transition, then back to the page.
pub(super) async fn account_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let back: Back = read_form(&state, &req, payload).await?;
    let not_found = |message: String| {
        PageError::new(Look::Dashboard, StatusCode::NOT_FOUND, "Not found", message)
            .back_to(back.url())
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
        Ok(_) => Ok(see_other(&back.url())),
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
        .back_to(back.url())),
    }
}

/// `POST /__admin/ui/transactions/{id}/{settle|deny|expire}`: one change, then back to the page.
pub(super) async fn transaction_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let back: Back = read_form(&state, &req, payload).await?;
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
            .back_to(back.url()));
        }
    };
    let pending = state.transactions.find(None, &id).map(|t| t.status);
    let result = match pending {
        None => Err(ChangeError::NotFound),
        Some(TxStatus::Pending) => payments::change(&state, None, &id, change).map(|_| ()),
        Some(current) => Err(ChangeError::NotAllowed { current }),
    };
    match result {
        Ok(()) => Ok(see_other(&back.url())),
        Err(ChangeError::NotFound) => Err(PageError::new(
            Look::Dashboard,
            StatusCode::NOT_FOUND,
            "Not found",
            format!("There is no transaction {id}."),
        )
        .back_to(back.url())),
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
        .back_to(back.url())),
    }
}

/// `POST /__admin/ui/notifications/{id}/retry`: a fresh attempt to the current URL, then back.
pub(super) async fn retry_notification(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let back: Back = read_form(&state, &req, payload).await?;
    let id = req
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<u64>().ok());
    match id.and_then(|id| state.notifications.retry(id, state.clock.now_ms())) {
        Some(_) => Ok(see_other(&back.url())),
        None => Err(PageError::new(
            Look::Dashboard,
            StatusCode::NOT_FOUND,
            "Notification not found",
            "There is no such notification.",
        )
        .back_to(back.url())),
    }
}
