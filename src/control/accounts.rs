//! `/__admin/accounts`: list and inspect accounts, change balances, and perform the transitions a
//! customer (link, app unlink) or time (expire) would cause, firing their notifications.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{AccountView, ControlError, parse_body};
use crate::accounts::{AccountStatus, Transition, TransitionError};
use crate::app::AppState;
use crate::fixtures::is_amount;
use crate::notifications::{Event, Notification};

/// How long a transition call waits for the first delivery attempt; past this it answers with the
/// notification still pending (the attempt goes on).
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(20);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/__admin/accounts")
            .route(web::get().to(list))
            .default_service(web::to(crate::api::method_not_allowed)),
    )
    .service(
        web::resource("/__admin/accounts/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(patch))
            .default_service(web::to(crate::api::method_not_allowed)),
    )
    .service(
        web::resource("/__admin/accounts/{id}/{action}")
            .route(web::post().to(act))
            .default_service(web::to(crate::api::method_not_allowed)),
    );
}

#[derive(Deserialize)]
struct ListQuery {
    server_key: Option<String>,
    status: Option<AccountStatus>,
}

async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> HttpResponse {
    let accounts = state
        .store
        .list(query.server_key.as_deref(), state.clock.now_ms());
    let views: Vec<_> = accounts
        .iter()
        .filter(|a| query.status.is_none_or(|s| a.status == s))
        .map(|a| AccountView::new(&state, a))
        .collect();
    HttpResponse::Ok().json(json!({ "accounts": views }))
}

fn parse_id(req: &HttpRequest) -> Result<Uuid, ControlError> {
    req.match_info()
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(ControlError::NotFound("account"))
}

async fn show(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ControlError> {
    let id = parse_id(&req)?;
    let account = state
        .store
        .get(&id, None, state.clock.now_ms())
        .ok_or(ControlError::NotFound("account"))?;
    Ok(HttpResponse::Ok().json(AccountView::new(&state, &account)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Patch {
    payment_options: Vec<OptionPatch>,
}

/// A change to one payment option, found by name; fields left out stay as they are.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionPatch {
    name: String,
    balance: Option<String>,
    active: Option<bool>,
}

async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ControlError> {
    let id = parse_id(&req)?;
    let patch: Patch = parse_body(&body)?;
    let updated = state
        .store
        .update_payment_options(&id, |options| {
            for p in &patch.payment_options {
                let option = options
                    .iter_mut()
                    .find(|o| *o.name == *p.name)
                    .ok_or_else(|| format!("the account has no payment option {}", p.name))?;
                if let Some(balance) = &p.balance {
                    if !is_amount(balance) {
                        return Err(format!("balance '{balance}' must look like \"1000000.00\""));
                    }
                    option.balance.value = balance.as_str().into();
                }
                if let Some(active) = p.active {
                    option.active = active;
                }
            }
            Ok(())
        })
        .ok_or(ControlError::NotFound("account"))?
        .map_err(ControlError::BadRequest)?;
    Ok(HttpResponse::Ok().json(AccountView::new(&state, &updated)))
}

#[derive(Deserialize)]
struct ActQuery {
    wait: Option<bool>,
}

/// `POST /__admin/accounts/{id}/{link|expire|unbind|unlink|notify}`.
async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ActQuery>,
) -> Result<HttpResponse, ControlError> {
    let id = parse_id(&req)?;
    let action = req.match_info().get("action").unwrap_or_default();
    let (account, notification) = match (action, Transition::from_name(action)) {
        (_, Some(t)) => transition(&state, &id, t)?,
        ("notify", None) => {
            let account = state
                .store
                .get(&id, None, state.clock.now_ms())
                .ok_or(ControlError::NotFound("account"))?;
            let event = Event::for_status(account.status).ok_or_else(|| {
                ControlError::InvalidTransition {
                    account_id: id.to_string(),
                    action: "notify about",
                    current: account.status,
                }
            })?;
            let n = state.notify_event(&account, event, None);
            (account, Some(n))
        }
        _ => return Err(ControlError::NotFound("action")),
    };
    let notification = match notification {
        Some(n) if query.wait.unwrap_or(true) => first_attempt(&state, n).await,
        Some(n) => state.notifications.get(n),
        None => None,
    };
    Ok(HttpResponse::Ok().json(json!({
        "account": AccountView::new(&state, &account),
        "notification": notification,
    })))
}

fn transition(
    state: &AppState,
    id: &Uuid,
    t: Transition,
) -> Result<(crate::accounts::Account, Option<u64>), ControlError> {
    state.apply(id, None, t).map_err(|e| match e {
        TransitionError::NotFound => ControlError::NotFound("account"),
        TransitionError::Invalid { current } => ControlError::InvalidTransition {
            account_id: id.to_string(),
            action: t.name(),
            current,
        },
    })
}

/// The notification once its first attempt is recorded (or it is known to go nowhere).
async fn first_attempt(state: &AppState, id: u64) -> Option<Notification> {
    state
        .notifications
        .wait_until(FIRST_ATTEMPT_WAIT, |log| {
            log.get(&id)
                .is_none_or(|n| !n.attempts.is_empty() || n.url.is_none())
        })
        .await;
    state.notifications.get(id)
}
