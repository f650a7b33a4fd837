//! `/__admin/accounts`: list and inspect accounts, change balances, and perform the transitions a
//! customer (link, app unlink) or time (expire) would cause, recording their notifications.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{AccountView, ControlError, method_not_allowed, read_json};
use crate::accounts::{
    Account, AccountStatus, OptionChange, Owner, Transition, TransitionError, change_options,
};
use crate::app::AppState;
use crate::notifications::Notification;
use crate::paging::{self, Order};
use crate::routing;
use crate::transitions;

/// How long a transition (or a retry) waits for the notification's next attempt; past this it
/// answers with the notification still pending (the attempt goes on).
pub const ATTEMPT_WAIT: Duration = Duration::from_secs(20);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/accounts")
            .route(routing::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/accounts/{id}")
            .route(routing::get().to(show))
            .route(routing::patch().to(patch))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/accounts/{id}/{action}")
            .route(routing::post().to(act))
            .default_service(web::to(method_not_allowed)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    server_key: Option<String>,
    status: Option<AccountStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /__admin/accounts[?server_key=][&status=][&limit=][&cursor=]`: a page, oldest first.
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ControlError> {
    let (limit, after) =
        paging::request(query.limit, query.cursor.as_deref()).map_err(ControlError::BadRequest)?;
    let owner = query.server_key.as_deref().map_or(Owner::Any, Owner::Key);
    let page = state.store.page(
        owner,
        query.status,
        after,
        limit,
        Order::OldestFirst,
        state.clock.now_ms(),
    );
    let views: Vec<_> = page
        .accounts
        .iter()
        .map(|a| AccountView::new(&state, a))
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "accounts": views, "next_cursor": paging::cursor_string(page.next) })))
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
    payment_options: Vec<OptionChange>,
}

async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let id = parse_id(&req)?;
    let patch: Patch = read_json(&state, &req, payload).await?;
    let updated = state
        .store
        .update_payment_options(&id, |options| {
            change_options(options, &patch.payment_options)
        })
        .ok_or(ControlError::NotFound("account"))?
        .map_err(ControlError::BadRequest)?;
    Ok(HttpResponse::Ok().json(AccountView::new(&state, &updated)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    wait: Option<bool>,
}

impl WaitQuery {
    pub(super) fn wait(&self) -> bool {
        self.wait.unwrap_or(true)
    }
}

/// `POST /__admin/accounts/{id}/{link|expire|unbind|unlink|notify}`.
async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, ControlError> {
    let id = parse_id(&req)?;
    let action = req.match_info().get("action").unwrap_or_default();
    let (account, notification) = match (action, Transition::from_name(action)) {
        (_, Some(t)) => transition(&state, &id, t)?,
        ("notify", None) => {
            transitions::notify_again(&state, &id).map_err(|e| refused(&id, "notify about", e))?
        }
        _ => return Err(ControlError::NotFound("action")),
    };
    let notification = match notification {
        // As recorded, should a reset or an import take it away before its attempt.
        Some(n) if query.wait() => {
            let recorded = state.notifications.get(n);
            next_attempt(&state, n, 0).await.or(recorded)
        }
        Some(n) => state.notifications.get(n),
        None => None,
    };
    /// Written straight from the notification, as the notification lists are.
    #[derive(serde::Serialize)]
    struct Acted<A> {
        account: A,
        notification: Option<Notification>,
    }
    Ok(HttpResponse::Ok().json(Acted {
        account: AccountView::new(&state, &account),
        notification,
    }))
}

fn transition(
    state: &AppState,
    id: &Uuid,
    t: Transition,
) -> Result<(Account, Option<u64>), ControlError> {
    transitions::apply(state, id, None, t).map_err(|e| refused(id, t.name(), e))
}

fn refused(id: &Uuid, action: &'static str, e: TransitionError) -> ControlError {
    match e {
        TransitionError::NotFound => ControlError::NotFound("account"),
        TransitionError::Invalid { current } => ControlError::InvalidTransition {
            account_id: id.to_string(),
            action,
            current,
        },
    }
}

/// The notification once it has more than `attempts` attempts (or is known to go nowhere).
pub(super) async fn next_attempt(state: &AppState, id: u64, attempts: u32) -> Option<Notification> {
    state
        .notifications
        .wait_for_attempt(id, attempts, ATTEMPT_WAIT)
        .await
}
