//! `/__admin/notifications`: the log of every notification and attempt, manual retries, and
//! `wait`, which lets a test block until deliveries happened instead of sleeping.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::accounts::{WaitQuery, next_attempt};
use super::{ControlError, method_not_allowed, read_json};
use crate::app::AppState;
use crate::charges::TxStatus;
use crate::notifications::log::Filter;
use crate::notifications::{DeliveryState, Event, Notification};
use crate::paging::{self, Order};
use crate::routing;

/// Longest a single `wait` call may block.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
/// Most notifications one `wait` can ask for.
pub const MAX_WAIT_COUNT: usize = paging::MAX_LIMIT;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/notifications")
            .route(routing::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/notifications/wait")
            .route(routing::post().to(wait))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/notifications/{id}")
            .route(routing::get().to(show))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/notifications/{id}/retry")
            .route(routing::post().to(retry))
            .default_service(web::to(method_not_allowed)),
    );
}

/// Which notifications a list is about, and which page; every field is optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    account_id: Option<Uuid>,
    status_code: Option<String>,
    event: Option<Event>,
    server_key: Option<String>,
    state: Option<DeliveryState>,
    order_id: Option<String>,
    transaction_status: Option<TxStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /__admin/notifications[?filters][&limit=][&cursor=]`: a page, oldest first.
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ControlError> {
    let q = query.into_inner();
    let (limit, after) =
        paging::request(q.limit, q.cursor.as_deref()).map_err(ControlError::BadRequest)?;
    let filter = Filter {
        account_id: q.account_id,
        server_key: q.server_key,
        event: q.event,
        status_code: q.status_code,
        state: q.state,
        order_id: q.order_id,
        transaction_status: q.transaction_status,
    };
    let page = state
        .notifications
        .page(&filter, after, limit, Order::OldestFirst);
    Ok(HttpResponse::Ok().json(Listed {
        notifications: &page.notifications,
        next_cursor: Some(paging::cursor_string(page.next)),
    }))
}

/// Notifications as an answer lists them, written straight from the log's copies: through a
/// `serde_json::Value`, every payload was parsed again (and one nested past serde_json's depth
/// limit failed to).
#[derive(Serialize)]
struct Listed<'a> {
    notifications: &'a [Notification],
    /// A list's cursor (`null` at the end); absent from a wait's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Option<String>>,
}

/// What a wait that ran out answers besides the error: how many matched, how many it waited for,
/// and the first page of those matching the filter in any state.
#[derive(Debug, Serialize)]
pub struct WaitTimedOut {
    matched: usize,
    expected: usize,
    notifications: Vec<Notification>,
}

fn parse_id(req: &HttpRequest) -> Result<u64, ControlError> {
    req.match_info()
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or(ControlError::NotFound("notification"))
}

async fn show(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ControlError> {
    let n = state
        .notifications
        .get(parse_id(&req)?)
        .ok_or(ControlError::NotFound("notification"))?;
    Ok(HttpResponse::Ok().json(n))
}

/// Sends a logged notification again now, to the merchant's current notification URL, with a fresh
/// retry budget; like a transition, answers after that attempt (`?wait=false`: at once).
async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, ControlError> {
    let id = parse_id(&req)?;
    let (n, attempts) = state
        .notifications
        .retry(id, state.clock.now_ms())
        .ok_or(ControlError::NotFound("notification"))?;
    let n = if query.wait() {
        next_attempt(&state, id, attempts).await.unwrap_or(n)
    } else {
        n
    };
    Ok(HttpResponse::Ok().json(n))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitRequest {
    account_id: Option<Uuid>,
    status_code: Option<String>,
    event: Option<Event>,
    server_key: Option<String>,
    /// What to wait for: `delivered` (default) or `failed` (no retries left), etc.
    state: Option<DeliveryState>,
    order_id: Option<String>,
    transaction_status: Option<TxStatus>,
    #[serde(default = "one")]
    count: usize,
    #[serde(default = "five_seconds")]
    timeout_ms: u64,
}

impl Default for WaitRequest {
    fn default() -> Self {
        Self {
            account_id: None,
            status_code: None,
            event: None,
            server_key: None,
            state: None,
            order_id: None,
            transaction_status: None,
            count: one(),
            timeout_ms: five_seconds(),
        }
    }
}

fn one() -> usize {
    1
}

fn five_seconds() -> u64 {
    5000
}

/// `POST /__admin/notifications/wait`: answers 200 with the matching delivered (or, with
/// `"state": "failed"`, finally failed) notifications as soon as there are `count` of them, or 408
/// with the first page of notifications matching the filter at the timeout.
async fn wait(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let request: WaitRequest = read_json(&state, &req, payload).await?;
    if !(1..=MAX_WAIT_COUNT).contains(&request.count) {
        return Err(ControlError::BadRequest(format!(
            "count must be between 1 and {MAX_WAIT_COUNT}, got {}",
            request.count
        )));
    }
    let max_ms = MAX_WAIT.as_millis();
    if u128::from(request.timeout_ms) > max_ms {
        return Err(ControlError::BadRequest(format!(
            "timeout_ms must be between 0 and {max_ms}, got {}",
            request.timeout_ms
        )));
    }
    let mut filter = Filter {
        account_id: request.account_id,
        server_key: request.server_key,
        event: request.event,
        status_code: request.status_code,
        state: Some(request.state.unwrap_or(DeliveryState::Delivered)),
        order_id: request.order_id,
        transaction_status: request.transaction_status,
    };
    let (ids, done) = state
        .notifications
        .wait(
            &filter,
            request.count,
            Duration::from_millis(request.timeout_ms),
        )
        .await
        .map_err(|_| ControlError::TooManyWaiters)?;
    if done {
        let notifications: Vec<Notification> = ids
            .iter()
            .filter_map(|id| state.notifications.get(*id))
            .collect();
        return Ok(HttpResponse::Ok().json(Listed {
            notifications: &notifications,
            next_cursor: None,
        }));
    }
    filter.state = None;
    let matching =
        state
            .notifications
            .page(&filter, None, paging::DEFAULT_LIMIT, Order::OldestFirst);
    Err(ControlError::Timeout(Box::new(WaitTimedOut {
        matched: ids.len(),
        expected: request.count,
        notifications: matching.notifications,
    })))
}
