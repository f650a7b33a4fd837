//! The mock's own knobs: `/__admin/clock`, `/__admin/config`, `/__admin/reset`, `/__admin/health`.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, method_not_allowed, read_json};
use crate::app::AppState;
use crate::clock::{self, rfc3339};
use crate::config::parse_duration;
use crate::limits::{
    self, check_duration, check_merchant_id, check_retry_schedule, check_server_key, check_url,
};
use crate::routing;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/clock")
            .route(routing::get().to(clock))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/clock/advance")
            .route(web::post().to(advance))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/config")
            .route(routing::get().to(show_config))
            .route(web::patch().to(patch_config))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/reset")
            .route(web::post().to(reset))
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

/// Moves the mock clock forward. Expiries are applied before the answer; retries that came due are
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
    state.clock.advance(by).map_err(|e| {
        ControlError::BadRequest(format!(
            "the clock moves at most {} in all (reset to start over); it can move {} more",
            humantime::format_duration(clock::MAX_OFFSET),
            humantime::format_duration(e.remaining)
        ))
    })?;
    let expired: Vec<String> = state
        .store
        .expire_due(state.clock.now_ms())
        .iter()
        .map(|a| a.id.to_string())
        .collect();
    crate::payments::expire_due(&state, state.clock.now_ms());
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
    fn parse(&self, what: &str) -> Result<Duration, String> {
        match self {
            Self::Seconds(s) => Duration::try_from_secs_f64(*s)
                .map_err(|_| format!("{what} must be a non-negative number of seconds, got {s}")),
            Self::Text(t) => parse_duration(t).map_err(|e| format!("{what}: {e}")),
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
    #[serde(default, with = "double_option")]
    payment_notification_url: Option<Option<String>>,
    /// Per server key; a `null` value removes the key's own URL.
    payment_notification_urls: Option<HashMap<String, Option<String>>>,
    gopay_merchant_id: Option<String>,
    /// Whole IDR.
    pin_threshold: Option<u64>,
    verification_link_ttl: Option<DurationValue>,
    transaction_ttl: Option<DurationValue>,
    pre_auth_hold: Option<DurationValue>,
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
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let patch: ConfigPatch = read_json(&state, &req, payload).await?;
    let bad = ControlError::BadRequest;
    if let Some(Some(url)) = &patch.notification_url {
        check_url("notification_url", url).map_err(bad)?;
    }
    for (key, url) in patch.notification_urls.iter().flatten() {
        check_server_key("a notification_urls key", key).map_err(bad)?;
        if let Some(url) = url {
            check_url(&format!("notification_urls[{key}]"), url).map_err(bad)?;
        }
    }
    if let Some(Some(url)) = &patch.payment_notification_url {
        check_url("payment_notification_url", url).map_err(bad)?;
    }
    for (key, url) in patch.payment_notification_urls.iter().flatten() {
        check_server_key("a payment_notification_urls key", key).map_err(bad)?;
        if let Some(url) = url {
            check_url(&format!("payment_notification_urls[{key}]"), url).map_err(bad)?;
        }
    }
    if let Some(id) = &patch.gopay_merchant_id {
        check_merchant_id("gopay_merchant_id", id).map_err(bad)?;
    }
    if let Some(n) = patch.pin_threshold {
        let (min, max) = limits::PIN_THRESHOLD;
        if !(min..=max).contains(&n) {
            return Err(bad(format!(
                "pin_threshold must be between {min} and {max} (whole IDR), got {n}"
            )));
        }
    }
    let ttl_in = |value: &Option<DurationValue>, what: &str, (min, max): (Duration, Duration)| {
        value
            .as_ref()
            .map(|d| check_duration(what, d.parse(what)?, min, max))
            .transpose()
    };
    let link_ttl = ttl_in(
        &patch.verification_link_ttl,
        "verification_link_ttl",
        limits::VERIFICATION_LINK_TTL,
    )
    .map_err(bad)?;
    let tx_ttl = ttl_in(
        &patch.transaction_ttl,
        "transaction_ttl",
        limits::TRANSACTION_TTL,
    )
    .map_err(bad)?;
    let hold = ttl_in(
        &patch.pre_auth_hold,
        "pre_auth_hold",
        limits::TRANSACTION_TTL,
    )
    .map_err(bad)?;
    if let Some(id) = &patch.merchant_id {
        check_merchant_id("merchant_id", id).map_err(bad)?;
    }
    let ttl = patch
        .activation_ttl
        .as_ref()
        .map(|d| {
            let ttl = d.parse("activation_ttl")?;
            check_duration(
                "activation_ttl",
                ttl,
                Duration::ZERO,
                limits::ACTIVATION_TTL_MAX,
            )
        })
        .transpose()
        .map_err(bad)?;
    let schedule = match &patch.retry_schedule {
        None => None,
        Some(Schedule::Text(t)) => Some(
            crate::config::parse_retry_schedule(t)
                .map_err(|e| bad(format!("retry_schedule: {e}")))?,
        ),
        Some(Schedule::List(list)) => {
            let schedule = list
                .iter()
                .map(|d| d.parse("a retry_schedule interval"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            check_retry_schedule(&schedule).map_err(|e| bad(format!("retry_schedule: {e}")))?;
            Some(schedule)
        }
    };
    let mut settings = state.settings.write();
    let added = patch
        .notification_urls
        .iter()
        .flatten()
        .filter(|(k, v)| v.is_some() && !settings.notification_urls.contains_key(*k))
        .count();
    let added_payment = patch
        .payment_notification_urls
        .iter()
        .flatten()
        .filter(|(k, v)| v.is_some() && !settings.payment_notification_urls.contains_key(*k))
        .count();
    if settings.notification_urls.len().saturating_add(added) > limits::NOTIFICATION_URLS_MAX
        || settings
            .payment_notification_urls
            .len()
            .saturating_add(added_payment)
            > limits::NOTIFICATION_URLS_MAX
    {
        return Err(bad(format!(
            "at most {} server keys can have their own notification URL (of each kind)",
            limits::NOTIFICATION_URLS_MAX
        )));
    }
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
    if let Some(url) = patch.payment_notification_url {
        settings.payment_notification_url = url;
    }
    for (key, url) in patch.payment_notification_urls.into_iter().flatten() {
        match url {
            Some(url) => settings.payment_notification_urls.insert(key, url),
            None => settings.payment_notification_urls.remove(&key),
        };
    }
    if let Some(id) = patch.gopay_merchant_id {
        settings.gopay_merchant_id = id;
    }
    if let Some(n) = patch.pin_threshold {
        settings.pin_threshold = crate::money::Amount::from_units(n);
    }
    if let Some(d) = link_ttl {
        settings.verification_link_ttl = d;
    }
    if let Some(d) = tx_ttl {
        settings.transaction_ttl = d;
    }
    if let Some(d) = hold {
        settings.pre_auth_hold = d;
    }
    Ok(HttpResponse::Ok().json(&*settings))
}

#[derive(Deserialize)]
struct ResetQuery {
    server_key: Option<String>,
}

/// `POST /__admin/reset`: everything back to how the server started (see [`AppState::reset`]);
/// `?server_key=K`: that merchant's accounts, notifications and own notification URL removed.
async fn reset(state: web::Data<AppState>, query: web::Query<ResetQuery>) -> HttpResponse {
    match &query.server_key {
        Some(key) => {
            let removed = state.reset_key(key);
            HttpResponse::Ok().json(
                json!({"reset": "server_key", "server_key": key, "accounts_removed": removed}),
            )
        }
        None => {
            state.reset();
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
