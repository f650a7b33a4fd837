//! The emulated Midtrans API: the Pay Account routes, create ([`create`]), get ([`get`]) and unbind
//! ([`unbind`]), and the GoPay Tokenization charge routes, charge and capture ([`charge`]) and
//! status, cancel, expire and refund ([`transaction`]).
//!
//! Handlers take the merchant's [`ServerKey`] as an extractor (so auth is checked before the body)
//! and return `Result<HttpResponse, ApiError>`: every failure is the Midtrans envelope. The
//! `--http-status mirror` rule is applied to those errors in one place, [`mirror`]. Request bodies are
//! read through `body.rs` (not `web::Json`) so that size, time and syntax errors all get the
//! envelope rather than an actix default page.

pub mod charge;
pub mod create;
pub mod fields;
pub mod get;
pub mod transaction;
pub mod unbind;

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, PaymentOption};
use crate::app::AppState;
use crate::error::ApiError;

pub use crate::auth::ServerKey;

/// Registers the routes; any other method on their paths gets the Midtrans 405 body, any other path
/// under them the 404 one.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // One scope: its prefix is matched once, which `make bench` measured cheaper than three
    // top-level resources.
    cfg.service(
        web::scope("/v2/pay/account")
            .service(
                web::resource("")
                    .route(web::post().to(create::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{account_id}")
                    .route(crate::routing::get().to(get::get))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{account_id}/unbind")
                    .route(web::post().to(unbind::unbind))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(unknown_route)),
    )
    .service(
        web::resource("/v2/charge")
            .route(web::post().to(charge::charge))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/capture")
            .route(web::post().to(charge::capture))
            .default_service(web::to(method_not_allowed)),
    )
    // `{id}` may be empty: the Node client's `notification({})` asks for `/v2//status`.
    .service(
        web::resource("/v2/{id:[^/]*}/status")
            .route(crate::routing::get().to(transaction::status))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/cancel")
            .route(web::post().to(transaction::cancel))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/expire")
            .route(web::post().to(transaction::expire))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/refund")
            .route(web::post().to(transaction::refund))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/refund/online/direct")
            .route(web::post().to(transaction::refund_direct))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `--http-status mirror`: an error answered over HTTP 200 gets its body code as the status. The
/// request guard (`guard.rs`) applies it to every answer when the mode is on.
pub fn mirror<B>(response: &mut ServiceResponse<B>) {
    let mirrored = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(ApiError::mirrored_status);
    if let Some(status) = mirrored {
        *response.response_mut().status_mut() = status;
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// Any path no route has.
pub async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnknownRoute)
}

/// Reads the request body within the size and time limits.
pub(crate) async fn read_body(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<web::Bytes, ApiError> {
    let body = crate::body::read(req, payload, state.max_body_bytes, state.body_timeout).await?;
    if state.journal.enabled() {
        req.extensions_mut()
            .insert(crate::journal::RequestBody(body.clone()));
    }
    Ok(body)
}

/// A body sent as a form, text or XML is refused; no Content-Type at all is read as JSON.
pub(crate) fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let json_suffix = mime
        .get(mime.len().saturating_sub(5)..)
        .is_some_and(|end| end.eq_ignore_ascii_case("+json"));
    if mime.is_empty() || mime.eq_ignore_ascii_case("application/json") || json_suffix {
        Ok(())
    } else {
        Err(ApiError::UnsupportedContentType)
    }
}

/// An account id from the path; anything that is not a UUID cannot exist.
pub(crate) fn account_id(req: &HttpRequest) -> Result<Uuid, ApiError> {
    req.match_info()
        .get("account_id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(ApiError::AccountNotFound)
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
