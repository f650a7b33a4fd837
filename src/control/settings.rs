//! The mock's own knobs: `/__admin/clock`, `/__admin/config`, `/__admin/reset`, `/__admin/health`.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, parse_body};
use crate::app::AppState;
use crate::cli::check_url;
use crate::clock::rfc3339;
use crate::config::{parse_duration, parse_retry_schedule};

pub fn routes(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(crate::api::method_not_allowed);
    cfg.service(
        web::resource("/__admin/clock")
            .route(web::get().to(clock))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/__admin/clock/advance")
            .route(web::post().to(advance))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/__admin/config")
            .route(web::get().to(show_config))
            .route(web::patch().to(patch_config))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/__admin/reset")
            .route(web::post().to(reset))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/__admin/health")
            .route(web::get().to(health))
            .route(web::head().to(health))
            .default_service(not_allowed()),
    );
}

fn clock_json(state: &AppState) -> Value {
    json!({
        "now": rfc3339(state.clock.now_ms()),
        "offset_ms": state.clock.offset().as_millis() as u64,
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

/// Moves the mock clock forward. Expiries are applied before the answer; retries that came due are
/// started at once (wait for them with `/__admin/notifications/wait`).
async fn advance(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ControlError> {
    let a: Advance = parse_body(&body)?;
    let by = match (a.seconds, a.ms) {
        (Some(s), None) if (0.0..1e12).contains(&s) => Duration::from_secs_f64(s),
        (None, Some(ms)) => Duration::from_millis(ms),
        _ => {
            return Err(ControlError::BadRequest(
                "give either \"seconds\" (a non-negative number) or \"ms\"".into(),
            ));
        }
    };
    state.clock.advance(by);
    let expired: Vec<String> = state
        .store
        .expire_due(state.clock.now_ms())
        .iter()
        .map(|a| a.id.to_string())
        .collect();
    state.notifications.wake.notify_one();
    let mut body = clock_json(&state);
    body["expired"] = json!(expired);
    Ok(HttpResponse::Ok().json(body))
}

async fn show_config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&*state.settings.read())
}

/// A duration as `"15m"`/`"100ms"` or a number of seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(f64),
    Text(String),
}

impl DurationValue {
    fn parse(&self) -> Result<Duration, String> {
        match self {
            Self::Seconds(s) if (0.0..1e12).contains(s) => Ok(Duration::from_secs_f64(*s)),
            Self::Seconds(s) => Err(format!("invalid duration {s}")),
            Self::Text(t) => parse_duration(t),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Schedule {
    Text(String),
    List(Vec<DurationValue>),
}

/// Fields left out keep their value; `null` clears a notification URL.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    #[serde(default, with = "double_option")]
    notification_url: Option<Option<String>>,
    /// Per server key; a `null` value removes the key's own URL.
    notification_urls: Option<HashMap<String, Option<String>>>,
    merchant_id: Option<String>,
    activation_ttl: Option<DurationValue>,
    retry_schedule: Option<Schedule>,
    unbind_notification: Option<bool>,
}

/// Tells a missing field (keep) from an explicit `null` (clear).
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Validates the whole patch first, then applies it, so a bad field changes nothing.
async fn patch_config(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ControlError> {
    let patch: ConfigPatch = parse_body(&body)?;
    let bad = ControlError::BadRequest;
    if let Some(Some(url)) = &patch.notification_url {
        check_url("notification_url", url).map_err(bad)?;
    }
    for (key, url) in patch.notification_urls.iter().flatten() {
        if let Some(url) = url {
            check_url(&format!("notification_urls[{key}]"), url).map_err(bad)?;
        }
    }
    if patch.merchant_id.as_deref().is_some_and(str::is_empty) {
        return Err(bad("merchant_id must not be empty".into()));
    }
    let ttl = patch
        .activation_ttl
        .as_ref()
        .map(DurationValue::parse)
        .transpose()
        .map_err(bad)?;
    let schedule = match &patch.retry_schedule {
        None => None,
        Some(Schedule::Text(t)) => Some(parse_retry_schedule(t).map_err(bad)?),
        Some(Schedule::List(list)) if list.is_empty() => {
            return Err(bad("retry_schedule needs at least one interval".into()));
        }
        Some(Schedule::List(list)) => Some(
            list.iter()
                .map(DurationValue::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?,
        ),
    };
    let mut settings = state.settings.write();
    if let Some(url) = patch.notification_url {
        settings.notification_url = url;
    }
    for (key, url) in patch.notification_urls.into_iter().flatten() {
        match url {
            Some(url) => settings.notification_urls.insert(key, url),
            None => settings.notification_urls.remove(&key),
        };
    }
    if let Some(id) = patch.merchant_id {
        settings.merchant_id = id;
    }
    if let Some(ttl) = ttl {
        settings.activation_ttl = ttl;
    }
    if let Some(schedule) = schedule {
        settings.retry_schedule = schedule;
    }
    if let Some(on) = patch.unbind_notification {
        settings.unbind_notification = on;
    }
    Ok(HttpResponse::Ok().json(&*settings))
}

#[derive(Deserialize)]
struct ResetQuery {
    server_key: Option<String>,
}

/// Everything back to the fixtures, or one merchant's accounts and notifications removed.
async fn reset(state: web::Data<AppState>, query: web::Query<ResetQuery>) -> HttpResponse {
    match &query.server_key {
        Some(key) => {
            let removed = state.store.remove_owned_by(key);
            state.notifications.clear(Some(key));
            HttpResponse::Ok().json(
                json!({"reset": "server_key", "server_key": key, "accounts_removed": removed}),
            )
        }
        None => {
            state.store.clear();
            state.notifications.clear(None);
            state.load_fixture_accounts();
            HttpResponse::Ok().json(json!({"reset": "all", "accounts": state.store.len()}))
        }
    }
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "accounts": state.store.len(),
    }))
}
