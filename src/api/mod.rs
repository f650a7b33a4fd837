//! The emulated Midtrans Pay Account API: create ([`create`]), get ([`get`]) and unbind ([`unbind`]).
//!
//! Every answer here is a Midtrans body; every failure goes through [`ApiError`]. Request bodies are
//! read by hand (not with `web::Json`) so that size, syntax and type errors all get the Midtrans
//! envelope rather than an actix default page.

pub mod create;
pub mod get;
pub mod unbind;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, PaymentOption};
use crate::app::AppState;
use crate::error::ApiError;

/// Registers the three routes; any other method on their paths gets the Midtrans 405 body.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v2/pay/account")
            .route(web::post().to(create::create))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/pay/account/{account_id}")
            .route(web::get().to(get::get))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/pay/account/{account_id}/unbind")
            .route(web::post().to(unbind::unbind))
            .default_service(web::to(method_not_allowed)),
    );
}

pub(crate) async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed)
}

/// Renders a handler's result in the configured HTTP status mode.
pub(crate) fn respond(state: &AppState, result: Result<HttpResponse, ApiError>) -> HttpResponse {
    result.unwrap_or_else(|e| e.to_response(state.http_status))
}

/// Reads the request body up to the size limit.
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge);
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::Malformed),
        Err(_) => Err(ApiError::TooLarge),
    }
}

/// An account id from the path; anything that is not a UUID cannot exist.
pub(crate) fn account_id(req: &HttpRequest) -> Result<Uuid, ApiError> {
    req.match_info()
        .get("account_id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(ApiError::AccountNotFound)
}

pub(crate) fn json<T: Serialize>(body: &T) -> HttpResponse {
    let mut bytes = Vec::with_capacity(512);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(bytes),
        Err(_) => actix_web::ResponseError::error_response(&ApiError::Internal),
    }
}

/// The Get Pay Account body (also what create answers for an already linked number).
#[derive(Serialize)]
pub(crate) struct AccountBody<'a> {
    pub status_code: &'static str,
    pub payment_type: &'static str,
    pub account_id: &'a Uuid,
    pub account_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Metadata<'a> {
    pub payment_options: &'a [PaymentOption],
}

impl<'a> AccountBody<'a> {
    /// The documented body for the account in `status`: payment options only when ENABLED.
    pub fn new(account: &'a Account, status: AccountStatus) -> Self {
        Self {
            status_code: status.get_status_code(),
            payment_type: "gopay",
            account_id: &account.id,
            account_status: status.as_str(),
            metadata: (status == AccountStatus::Enabled).then_some(Metadata {
                payment_options: &account.payment_options,
            }),
        }
    }
}
