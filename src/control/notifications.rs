//! `/__admin/notifications`: the log of every notification and attempt, manual retries, and
//! `wait`, which lets a test block until deliveries happened instead of sleeping.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{ControlError, parse_body};
use crate::app::AppState;
use crate::notifications::{DeliveryState, Event, Notification};

/// Longest a single `wait` call may block.
const MAX_WAIT: Duration = Duration::from_secs(120);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/__admin/notifications")
            .route(web::get().to(list))
            .default_service(web::to(crate::api::method_not_allowed)),
    )
    .service(
        web::resource("/__admin/notifications/wait")
            .route(web::post().to(wait))
            .default_service(web::to(crate::api::method_not_allowed)),
    )
    .service(
        web::resource("/__admin/notifications/{id}")
            .route(web::get().to(show))
            .default_service(web::to(crate::api::method_not_allowed)),
    )
    .service(
        web::resource("/__admin/notifications/{id}/retry")
            .route(web::post().to(retry))
            .default_service(web::to(crate::api::method_not_allowed)),
    );
}

/// Which notifications a list or a wait is about; every field is optional.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Filter {
    account_id: Option<Uuid>,
    status_code: Option<String>,
    event: Option<Event>,
    server_key: Option<String>,
}

impl Filter {
    fn matches(&self, n: &Notification) -> bool {
        self.account_id.is_none_or(|id| n.account_id == id)
            && self
                .status_code
                .as_deref()
                .is_none_or(|c| n.payload.status_code == c)
            && self.event.is_none_or(|e| n.event == e)
            && self.server_key.as_deref().is_none_or(|k| n.server_key == k)
    }
}

async fn list(state: web::Data<AppState>, query: web::Query<Filter>) -> HttpResponse {
    let notifications = state.notifications.list(|n| query.matches(n));
    HttpResponse::Ok().json(json!({ "notifications": notifications }))
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
/// retry budget.
async fn retry(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ControlError> {
    let n = state
        .retry_notification(parse_id(&req)?)
        .ok_or(ControlError::NotFound("notification"))?;
    Ok(HttpResponse::Ok().json(n))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitRequest {
    account_id: Option<Uuid>,
    status_code: Option<String>,
    event: Option<Event>,
    server_key: Option<String>,
    /// What to wait for: `delivered` (default) or `failed` (no retries left).
    state: Option<DeliveryState>,
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
/// with every notification matching the filter at the timeout.
async fn wait(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ControlError> {
    let request: WaitRequest = parse_body(&body)?;
    let filter = Filter {
        account_id: request.account_id,
        status_code: request.status_code.clone(),
        event: request.event,
        server_key: request.server_key.clone(),
    };
    let timeout = Duration::from_millis(request.timeout_ms).min(MAX_WAIT);
    let wanted = request.state.unwrap_or(DeliveryState::Delivered);
    let delivered = |n: &Notification| n.state == wanted && filter.matches(n);
    let done = state
        .notifications
        .wait_until(timeout, |log| {
            log.values().filter(|n| delivered(n)).count() >= request.count
        })
        .await;
    if done {
        let notifications = state.notifications.list(delivered);
        Ok(HttpResponse::Ok().json(json!({ "notifications": notifications })))
    } else {
        let matching = state.notifications.list(|n| filter.matches(n));
        Err(ControlError::Timeout(json!({
            "matched": matching.iter().filter(|n| n.state == wanted).count(),
            "expected": request.count,
            "notifications": matching,
        })))
    }
}
