//! The control API under `/__admin`: mock-only JSON endpoints for tests and QA. No Midtrans auth,
//! no Midtrans envelope: errors here are `{"error": "<kind>", "message": "..."}` with a real status.
//!
//! - [`accounts`]: list, inspect, patch, and drive accounts through their transitions.
//! - [`notifications`]: the log, manual retries, and waiting for deliveries.
//! - [`settings`]: the mock clock, runtime config, reset and health.

pub mod accounts;
pub mod notifications;
pub mod settings;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::{Value, json};

use crate::accounts::{Account, AccountStatus};
use crate::app::AppState;
use crate::clock::rfc3339;

pub fn routes(cfg: &mut web::ServiceConfig) {
    accounts::routes(cfg);
    notifications::routes(cfg);
    settings::routes(cfg);
}

/// A control API failure.
#[derive(Debug)]
pub enum ControlError {
    NotFound(&'static str),
    /// The transition is not allowed from the account's status.
    InvalidTransition {
        account_id: String,
        action: &'static str,
        current: AccountStatus,
    },
    BadRequest(String),
    Timeout(Value),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::InvalidTransition {
                action, current, ..
            } => write!(f, "cannot {action} an account that is {current}"),
            Self::BadRequest(m) => f.write_str(m),
            Self::Timeout(_) => f.write_str("timed out"),
        }
    }
}

impl ResponseError for ControlError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::InvalidTransition { .. } => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Self::NotFound(_) => json!({"error": "not_found", "message": self.to_string()}),
            Self::InvalidTransition {
                account_id,
                current,
                ..
            } => json!({
                "error": "invalid_transition",
                "message": self.to_string(),
                "account_id": account_id,
                "account_status": current,
                "allowed_transitions": current.allowed(),
            }),
            Self::BadRequest(m) => json!({"error": "bad_request", "message": m}),
            Self::Timeout(extra) => {
                let mut body = json!({"error": "timeout", "message": self.to_string()});
                if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                    b.extend(extra.clone());
                }
                body
            }
        };
        HttpResponse::build(self.status_code()).json(body)
    }
}

/// Query strings that do not parse (`?status=LOST`, `?wait=maybe`) get a JSON 400, not actix's text.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|e, _| ControlError::BadRequest(format!("invalid query string: {e}")).into())
}

/// Parses an optional JSON body (empty means `{}`), with a control-API error for bad JSON.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ControlError::BadRequest(format!("invalid JSON body: {e}")))
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
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
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
        let (url, app_link) = app.activation_links(account);
        Self {
            account_id: account.id.to_string(),
            server_key: account.owner.as_deref(),
            account_status: account.status,
            phone_number: &account.phone_number,
            country_code: &account.country_code,
            redirect_url: account.redirect_url.as_deref(),
            created_at: rfc3339(account.created_at_ms),
            updated_at: rfc3339(account.updated_at_ms),
            expires_at: match account.status {
                AccountStatus::Pending => account.expires_at_ms.map(rfc3339),
                _ => None,
            },
            activation_links: ActivationLinks { url, app: app_link },
            web_link_used: account.web_link_used,
            payment_options: &account.payment_options,
            allowed_transitions: account.status.allowed(),
        }
    }
}
