//! The control API under `/__admin`: mock-only JSON endpoints for tests and QA. No Midtrans auth,
//! no Midtrans envelope: every answer, errors included, is this API's own JSON, `{"error": "<kind>",
//! "message": "..."}` with a real HTTP status ([`ControlError`]). The QA dashboard's HTML pages share
//! the scope (`dashboard.rs`).
//!
//! - [`accounts`]: list, inspect, patch, and drive accounts through their transitions.
//! - [`notifications`]: the log, manual retries, and waiting for deliveries.
//! - [`transactions`]: list and inspect GoPay transactions, and settle, deny or expire a pending
//!   one as the customer (or time) would.
//! - [`requests`]: the journal of Midtrans requests: list, find, count, forget.
//! - [`faults`]: fault and latency rules for the Midtrans routes.
//! - [`phone_numbers`]: phone number scenarios, the fixtures' and those added at run time.
//! - [`settings`]: the mock clock, runtime config, reset and health.
//! - [`state`]: the whole state exported and imported, as the state file holds it.

pub mod accounts;
pub mod faults;
pub mod notifications;
pub mod phone_numbers;
pub mod requests;
pub mod settings;
pub mod state;
pub mod transactions;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::json;

use crate::accounts::{Account, AccountStatus};
use crate::app::AppState;
use crate::body::{self, BodyError};
use crate::clock::{ser_rfc3339, ser_rfc3339_opt};
use crate::pages::{Look, PageError};

/// The `/__admin` scope: the dashboard, then the JSON endpoints; anything else is a JSON 404 (an
/// HTML one under `/__admin/ui/`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/__admin")
            .configure(crate::dashboard::routes)
            .configure(accounts::routes)
            .configure(notifications::routes)
            .configure(requests::routes)
            .configure(faults::routes)
            .configure(phone_numbers::routes)
            .configure(transactions::routes)
            .configure(settings::routes)
            .configure(state::routes)
            .service(
                web::resource("/openapi.yaml")
                    .route(crate::routing::get().to(openapi))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(unknown_route)),
    );
}

async fn unknown_route(req: HttpRequest) -> HttpResponse {
    if crate::routing::routed_path(&req).starts_with("/__admin/ui/") {
        PageError::new(
            Look::Dashboard,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such dashboard page.",
        )
        .back_to(crate::dashboard::PATH.into())
        .error_response()
    } else {
        ControlError::NotFound("route").error_response()
    }
}

/// The OpenAPI description of every route (the repository's `openapi.yaml`, built in).
pub const OPENAPI: &str = include_str!("../../openapi.yaml");

/// `GET /__admin/openapi.yaml`, for Postman, Insomnia or a client generator.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}

/// The default service of every JSON resource: a method it does not have.
pub(crate) async fn method_not_allowed() -> Result<HttpResponse, ControlError> {
    Err(ControlError::MethodNotAllowed)
}

/// A control API failure.
#[derive(Debug)]
pub enum ControlError {
    NotFound(&'static str),
    MethodNotAllowed,
    /// The transition is not allowed from the account's status.
    InvalidTransition {
        account_id: String,
        action: &'static str,
        current: AccountStatus,
    },
    /// The change is not allowed from the transaction's status.
    InvalidTransactionChange {
        transaction_id: String,
        action: &'static str,
        current: crate::charges::TxStatus,
    },
    BadRequest(String),
    /// A wait ran out; the extra fields say what matched.
    Timeout(Box<notifications::WaitTimedOut>),
    /// The request body did not arrive within `--body-timeout`.
    BodyTimeout,
    /// The request body is over `--max-body-bytes`.
    TooLarge,
    /// Too many waits are under way.
    TooManyWaiters,
    /// The `Host` header names another server (`guard.rs`).
    ForeignHost(String),
    /// A browser sent it from a page on another site (`guard.rs`).
    CrossSite,
    /// A notification from a mock came back to a mock (`guard.rs`).
    LoopDetected,
    /// No place for the work now (too many under way, or the state kept being replaced under a
    /// long read); trying again later will do.
    Busy(String),
    /// The server could not finish the work (a blocking thread failed).
    Internal(String),
}

impl ControlError {
    fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::InvalidTransition { .. } | Self::InvalidTransactionChange { .. } => {
                "invalid_transition"
            }
            Self::BadRequest(_) => "bad_request",
            Self::Timeout(_) => "timeout",
            Self::BodyTimeout => "body_timeout",
            Self::TooLarge => "too_large",
            Self::TooManyWaiters => "too_many_waits",
            Self::ForeignHost(_) => "unknown_host",
            Self::CrossSite => "cross_site_request",
            Self::LoopDetected => "loop_detected",
            Self::Busy(_) => "busy",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<BodyError> for ControlError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::TooLarge,
            BodyError::Timeout => Self::BodyTimeout,
            BodyError::Broken => Self::BadRequest("the request body could not be read".into()),
        }
    }
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::MethodNotAllowed => f.write_str("this control API path does not take that method"),
            Self::InvalidTransition {
                action, current, ..
            } => write!(f, "cannot {action} an account that is {current}"),
            Self::InvalidTransactionChange {
                action, current, ..
            } => write!(
                f,
                "cannot {action} a transaction that is {}",
                current.as_str()
            ),
            Self::BadRequest(m) | Self::Busy(m) | Self::Internal(m) => f.write_str(m),
            Self::Timeout(_) => f.write_str("timed out"),
            Self::BodyTimeout => f.write_str("the request body did not arrive in time (--body-timeout)"),
            Self::TooLarge => f.write_str("the request body is larger than --max-body-bytes"),
            Self::TooManyWaiters => write!(
                f,
                "too many waits are under way (at most {}); try again when some have ended",
                crate::notifications::log::MAX_WAITERS
            ),
            Self::ForeignHost(host) => write!(
                f,
                "this server does not answer to the host name '{host}'; start it with --allowed-host to allow it"
            ),
            Self::CrossSite => f.write_str(
                "refused: a browser sent this from a page on another site (Origin or Sec-Fetch-Site); scripts that send neither header are not affected",
            ),
            Self::LoopDetected => f.write_str(
                "this is a pay-account-mock notification; a mock server does not take notifications",
            ),
        }
    }
}

impl ResponseError for ControlError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidTransition { .. } | Self::InvalidTransactionChange { .. } => {
                StatusCode::CONFLICT
            }
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Timeout(_) | Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyWaiters => StatusCode::TOO_MANY_REQUESTS,
            Self::ForeignHost(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::CrossSite => StatusCode::FORBIDDEN,
            Self::LoopDetected => StatusCode::LOOP_DETECTED,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": self.kind(), "message": self.to_string()});
        match self {
            Self::InvalidTransition {
                account_id,
                current,
                ..
            } => {
                body["account_id"] = json!(account_id);
                body["account_status"] = json!(current);
                body["allowed_transitions"] = json!(current.allowed());
            }
            Self::InvalidTransactionChange {
                transaction_id,
                current,
                ..
            } => {
                body["transaction_id"] = json!(transaction_id);
                body["transaction_status"] = json!(current);
            }
            Self::Timeout(extra) => {
                // Written straight from the notifications (see `notifications::Listed`).
                #[derive(serde::Serialize)]
                struct TimedOut<'a> {
                    error: &'static str,
                    message: String,
                    #[serde(flatten)]
                    extra: &'a notifications::WaitTimedOut,
                }
                return HttpResponse::build(self.status_code()).json(TimedOut {
                    error: self.kind(),
                    message: self.to_string(),
                    extra,
                });
            }
            _ => {}
        }
        HttpResponse::build(self.status_code()).json(body)
    }
}

/// Query strings that do not parse (`?status=LOST`, `?wait=maybe`) get a JSON 400, not actix's text.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|e, _| ControlError::BadRequest(format!("invalid query string: {e}")).into())
}

/// Reads an optional JSON body (empty means `{}`) within the body limits, with this API's errors.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned + Default>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ControlError> {
    let body = body::read(req, payload, state.max_body_bytes, state.body_timeout).await?;
    match crate::json::first_byte(&body) {
        None => return Ok(T::default()),
        Some(b'{') => {}
        Some(_) => {
            return Err(ControlError::BadRequest(
                "invalid JSON body: expected a JSON object".into(),
            ));
        }
    }
    serde_json::from_slice(&body)
        .map_err(|e| ControlError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Which merchant a call that removes things is for (a reset, the `DELETE`s of scenarios, fault
/// rules and the journal): `?server_key=K`, or `{"server_key": "K"}` as the body. Without either it
/// is everybody, so every slip that could have meant one merchant is refused instead of guessed:
/// an unknown field, a `null`, empty or impossible key, or two different keys.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopeBody {
    /// `Some(None)` is a `null`.
    #[serde(default, deserialize_with = "present")]
    server_key: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    <Option<String> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The one server key the query's `server_key` and the body name between them, if any (see
/// [`ScopeBody`]).
pub(crate) async fn merchant_scope(
    state: &AppState,
    req: &HttpRequest,
    query: Option<String>,
    payload: web::Payload,
) -> Result<Option<String>, ControlError> {
    let body: ScopeBody = read_json(state, req, payload).await?;
    let body = match body.server_key {
        Some(None) => {
            return Err(ControlError::BadRequest(
                "server_key must be a string (leave it out to mean every merchant)".into(),
            ));
        }
        Some(key) => key,
        None => None,
    };
    let key = match (query, body) {
        (Some(q), Some(b)) if q != b => {
            return Err(ControlError::BadRequest(format!(
                "server_key is '{}' in the query string and '{}' in the body: send one",
                q.escape_debug(),
                b.escape_debug()
            )));
        }
        (q, b) => q.or(b),
    };
    match key {
        Some(key) if key.is_empty() => Err(ControlError::BadRequest(
            "server_key must not be empty (leave it out to mean every merchant)".into(),
        )),
        Some(key) => {
            crate::limits::check_server_key("server_key", &key)
                .map_err(ControlError::BadRequest)?;
            Ok(Some(key))
        }
        None => Ok(None),
    }
}

/// An account as the control API shows it: everything the mock knows about it.
#[derive(Serialize)]
pub struct AccountView<'a> {
    pub account_id: String,
    /// `null` for a shared fixture account.
    pub server_key: Option<&'a str>,
    pub account_status: AccountStatus,
    pub phone_number: &'a str,
    pub country_code: &'a str,
    pub redirect_url: Option<&'a str>,
    #[serde(serialize_with = "ser_rfc3339")]
    pub created_at: u64,
    #[serde(serialize_with = "ser_rfc3339")]
    pub updated_at: u64,
    #[serde(serialize_with = "ser_rfc3339_opt")]
    pub expires_at: Option<u64>,
    pub activation_links: ActivationLinks,
    pub web_link_used: bool,
    pub payment_options: &'a [crate::accounts::PaymentOption],
    pub allowed_transitions: &'static [crate::accounts::Transition],
}

#[derive(Serialize)]
pub struct ActivationLinks {
    pub url: String,
    pub app: String,
}

impl<'a> AccountView<'a> {
    pub fn new(app: &AppState, account: &'a Account) -> Self {
        let (url, app_link) = crate::activation::links(app, &account.id);
        Self {
            account_id: account.id.to_string(),
            server_key: account.owner.as_deref(),
            account_status: account.status,
            phone_number: &account.phone_number,
            country_code: &account.country_code,
            redirect_url: account.redirect_url.as_deref(),
            created_at: account.created_at_ms,
            updated_at: account.updated_at_ms,
            expires_at: match account.status {
                AccountStatus::Pending => account.expires_at_ms.get(),
                _ => None,
            },
            activation_links: ActivationLinks { url, app: app_link },
            web_link_used: account.web_link_used,
            payment_options: &account.payment_options,
            allowed_transitions: account.status.allowed(),
        }
    }
}
