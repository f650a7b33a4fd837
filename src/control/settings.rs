//! The mock's own knobs: `/__admin/clock`, `/__admin/config`, `/__admin/reset`, `/__admin/health`.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, merchant_scope, method_not_allowed, read_json};
use crate::app::AppState;
use crate::clock::{self, rfc3339};
use crate::paging;
use crate::routing;
use crate::settings::ConfigPatch;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/clock")
            .route(routing::get().to(clock))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/clock/advance")
            .route(routing::post().to(advance))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/config")
            .route(routing::get().to(show_config))
            .route(routing::patch().to(patch_config))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/reset")
            .route(routing::post().to(reset))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/health")
            .route(routing::get().to(health))
            .default_service(web::to(method_not_allowed)),
    );
}

fn clock_json(state: &AppState) -> Value {
    json!({
        "now": rfc3339(state.clock.now_ms()),
        "offset_ms": clock::duration_ms(state.clock.offset()),
    })
}

async fn clock(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(clock_json(&state))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: Option<f64>,
    ms: Option<u64>,
}

/// Moves the mock clock forward. Expiries are applied before the answer, which names the first
/// [`paging::MAX_LIMIT`] accounts that expired and counts them all; retries that came due are
/// started at once (wait for them with `/__admin/notifications/wait`). The clock moves at most
/// [`clock::MAX_OFFSET`] in all; past that the answer is a 400 and nothing moves.
async fn advance(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let a: Advance = read_json(&state, &req, payload).await?;
    let bad = || {
        ControlError::BadRequest(
            "give either \"seconds\" (a non-negative number) or \"ms\" (a non-negative integer)"
                .into(),
        )
    };
    let by = match (a.seconds, a.ms) {
        (Some(s), None) => Duration::try_from_secs_f64(s).map_err(|_| bad())?,
        (None, Some(ms)) => Duration::from_millis(ms),
        _ => return Err(bad()),
    };
    // On the blocking pool: a million accounts may fall due at once.
    let app = state.clone();
    let expired = web::block(move || crate::scheduler::advance_clock(&app, by, paging::MAX_LIMIT))
        .await
        .map_err(|e| ControlError::Internal(format!("the clock could not move: {e}")))?
        .map_err(|e| {
            ControlError::BadRequest(format!(
                "the clock moves at most {} in all (reset to start over); it can move {} more",
                humantime::format_duration(clock::MAX_OFFSET),
                humantime::format_duration(e.remaining)
            ))
        })?;
    let mut body = clock_json(&state);
    body["expired"] = json!(expired.ids);
    body["expired_count"] = json!(expired.count);
    Ok(HttpResponse::Ok().json(body))
}

async fn show_config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&*state.settings.read())
}

/// A duration as `"15m"`/`"100ms"` or a number of seconds.
async fn patch_config(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let patch: ConfigPatch = read_json(&state, &req, payload).await?;
    let mut settings = state.settings.write();
    patch
        .apply(&mut settings)
        .map_err(ControlError::BadRequest)?;
    Ok(HttpResponse::Ok().json(&*settings))
}

/// A reset's query string: `server_key` only (see [`super::merchant_scope`]).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetQuery {
    server_key: Option<String>,
}

/// `POST /__admin/reset`: everything back to how the server started (see [`AppState::reset`]);
/// with a `server_key` (`?server_key=K`, or `{"server_key": "K"}` as the body): that merchant's
/// accounts, transactions, notifications and the rest of its own (see [`AppState::reset_key`]).
async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResetQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let key = merchant_scope(&state, &req, query.into_inner().server_key, payload).await?;
    let app = state.clone();
    // On the blocking pool: a server with a million generated accounts takes seconds to rebuild
    // them, which would stall every connection of this worker.
    let (key, accounts) = web::block(move || match key {
        Some(key) => {
            let removed = app.reset_key(&key);
            (Some(key), removed)
        }
        None => {
            app.reset();
            (None, app.store.len())
        }
    })
    .await
    .map_err(|e| ControlError::Internal(format!("the reset failed: {e}")))?;
    Ok(match key {
        Some(key) => HttpResponse::Ok()
            .json(json!({"reset": "server_key", "server_key": key, "accounts_removed": accounts})),
        None => HttpResponse::Ok().json(json!({"reset": "all", "accounts": accounts})),
    })
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "accounts": state.store.len(),
    }))
}
