//! The one error type of the Midtrans API routes, rendered as the Midtrans error envelope:
//! `{"status_code": "...", "status_message": "...", ["validation_messages": [...],] "id": "<uuid>"}`
//! (no `id` on the malformed-body `"413"`, as documented).
//!
//! The HTTP status line follows what the real API does (reference section 6): 400 for validation,
//! 401 for auth, and HTTP 200 for the other API answers ("404", "410", "412", "413"), which the
//! official clients still raise as errors from the body code. Errors that happen before a route is
//! reached (unknown path, wrong method, oversized body, wrong content type) carry their own status.
//! With `--http-status mirror` the HTTP 200 ones carry the body code as their status too
//! ([`ApiError::mirrored_status`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use uuid::Uuid;

pub const MSG_VALIDATION: &str = "One or more parameters in the payload is invalid.";
pub const MSG_UNAUTHORIZED: &str = "Unknown Merchant server_key/id";
pub const MSG_ACCOUNT_NOT_FOUND: &str = "Account doesn't exist.";
pub const MSG_USER_BLOCKED: &str = "GoPay user is blocked";
pub const MSG_CANNOT_UPDATE: &str = "Account status cannot be updated.";
pub const MSG_MALFORMED: &str =
    "The request cannot be processed due to malformed syntax in the request body";
pub const MSG_UNKNOWN_ROUTE: &str = "The requested resource is not found";
pub const MSG_METHOD: &str = "HTTP method is not allowed.";
pub const MSG_TOO_LARGE: &str = "The request body is too large.";
pub const MSG_CONTENT_TYPE: &str =
    "The request body must be JSON (Content-Type: application/json).";
pub const MSG_INTERNAL: &str =
    "Sorry. Our system is recovering from unexpected issues. Please retry.";
pub const MSG_BODY_TIMEOUT: &str = "The request body did not arrive in time.";
pub const MSG_FOREIGN_HOST: &str =
    "This server does not answer to that Host name (allow it with --allowed-host).";
pub const MSG_WALLET_NOT_FOUND: &str = "GoPay Wallet doesn't exist.";
pub const MSG_CONFLICT: &str = "The request could not be completed due to a conflict with the current state of the target resource, please try again";
pub const MSG_TRANSACTION_NOT_FOUND: &str = "Transaction doesn't exist.";
pub const MSG_CANNOT_MODIFY: &str = "Merchant cannot modify the status of the transaction";
pub const MSG_REFUND_AMOUNT: &str = "Refund request is rejected due to invalid amount";
pub const MSG_DUPLICATE_REFUND: &str = "Duplicate refund ID";
pub const MSG_TOKEN_INVALID: &str = "GoPay token is invalid for the payment";
pub const MSG_UNAVAILABLE: &str = "Service is temporarily unavailable. Please retry.";
pub const MSG_RATE_LIMITED: &str = "API rate limit exceeded";
pub const MSG_GOPAY_TIMEOUT: &str = "Timeout from gopay during creation";
pub const MSG_LOOP: &str =
    "This is a pay-account-mock notification; a mock server does not take notifications.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `"400"` with the list of what is wrong.
    Validation(Vec<String>),
    /// `"401"`: missing, malformed or unknown server key.
    Unauthorized,
    /// `"404"` for an account id this server key does not have.
    AccountNotFound,
    /// `"410"`: the sandbox's blocked user.
    UserBlocked,
    /// `"412"`: unbind of an account that is not ENABLED.
    CannotUpdate,
    /// `"413"`: the body is not JSON.
    Malformed,
    /// `"404"` for a path the API does not have.
    UnknownRoute,
    /// `"405"`.
    MethodNotAllowed,
    /// `"413"` with HTTP 413: the body is over the size limit.
    TooLarge,
    /// `"415"`: a body sent as a form, text or XML.
    UnsupportedContentType,
    /// `"500"`.
    Internal,
    /// `"408"` with HTTP 408: the body did not arrive within `--body-timeout`.
    BodyTimeout,
    /// `"421"` with HTTP 421: the `Host` header names another server (DNS rebinding guard).
    ForeignHost,
    /// `"508"` with HTTP 508: a notification from a mock came back to a mock.
    LoopDetected,
    /// `"404"` "GoPay Wallet doesn't exist.": a charge on an account that is unknown, another
    /// merchant's, or not ENABLED.
    WalletNotFound,
    /// `"406"`: the charge's `order_id` is taken.
    OrderConflict,
    /// `"404"` "Transaction doesn't exist.".
    TransactionNotFound,
    /// `"412"`: the transaction's status does not allow the change.
    CannotModify,
    /// `"414"`: a refund of nothing, or of more than is left.
    RefundAmountInvalid,
    /// `"406"`: a `refund_key` used before on the transaction.
    DuplicateRefund,
    /// `"503"` with HTTP 503 (a fault rule's preset).
    Unavailable,
    /// HTTP 429 with `{"message":"API rate limit exceeded"}`, no envelope (a fault rule's preset).
    RateLimited,
    /// `"502"` "Timeout from gopay during creation" (a fault rule's preset).
    GopayTimeout,
}

impl From<crate::body::BodyError> for ApiError {
    fn from(e: crate::body::BodyError) -> Self {
        match e {
            crate::body::BodyError::TooLarge => Self::TooLarge,
            crate::body::BodyError::Timeout => Self::BodyTimeout,
            crate::body::BodyError::Broken => Self::Malformed,
        }
    }
}

impl ApiError {
    /// Body `status_code`, body `status_message`, HTTP status in the default mode.
    fn parts(&self) -> (&'static str, &'static str, StatusCode) {
        match self {
            Self::Validation(_) => ("400", MSG_VALIDATION, StatusCode::BAD_REQUEST),
            Self::Unauthorized => ("401", MSG_UNAUTHORIZED, StatusCode::UNAUTHORIZED),
            Self::AccountNotFound => ("404", MSG_ACCOUNT_NOT_FOUND, StatusCode::OK),
            Self::UserBlocked => ("410", MSG_USER_BLOCKED, StatusCode::OK),
            Self::CannotUpdate => ("412", MSG_CANNOT_UPDATE, StatusCode::OK),
            Self::Malformed => ("413", MSG_MALFORMED, StatusCode::OK),
            Self::UnknownRoute => ("404", MSG_UNKNOWN_ROUTE, StatusCode::NOT_FOUND),
            Self::MethodNotAllowed => ("405", MSG_METHOD, StatusCode::METHOD_NOT_ALLOWED),
            Self::TooLarge => ("413", MSG_TOO_LARGE, StatusCode::PAYLOAD_TOO_LARGE),
            Self::UnsupportedContentType => {
                ("415", MSG_CONTENT_TYPE, StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            Self::Internal => ("500", MSG_INTERNAL, StatusCode::INTERNAL_SERVER_ERROR),
            Self::BodyTimeout => ("408", MSG_BODY_TIMEOUT, StatusCode::REQUEST_TIMEOUT),
            Self::ForeignHost => ("421", MSG_FOREIGN_HOST, StatusCode::MISDIRECTED_REQUEST),
            Self::LoopDetected => ("508", MSG_LOOP, StatusCode::LOOP_DETECTED),
            Self::WalletNotFound => ("404", MSG_WALLET_NOT_FOUND, StatusCode::OK),
            Self::OrderConflict => ("406", MSG_CONFLICT, StatusCode::OK),
            Self::TransactionNotFound => ("404", MSG_TRANSACTION_NOT_FOUND, StatusCode::OK),
            Self::CannotModify => ("412", MSG_CANNOT_MODIFY, StatusCode::OK),
            Self::RefundAmountInvalid => ("414", MSG_REFUND_AMOUNT, StatusCode::OK),
            Self::DuplicateRefund => ("406", MSG_DUPLICATE_REFUND, StatusCode::OK),
            Self::Unavailable => ("503", MSG_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE),
            Self::RateLimited => ("429", MSG_RATE_LIMITED, StatusCode::TOO_MANY_REQUESTS),
            Self::GopayTimeout => ("502", MSG_GOPAY_TIMEOUT, StatusCode::OK),
        }
    }

    /// The HTTP status under `--http-status mirror`: the body code for the answers that are HTTP 200
    /// in the default mode, else the same. Applied by `api::mirror` in one place.
    pub fn mirrored_status(&self) -> StatusCode {
        let (code, _, status) = self.parts();
        if status != StatusCode::OK {
            return status;
        }
        code.parse()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(status)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, message, _) = self.parts();
        write!(f, "{code} {message}")
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    status_code: &'a str,
    status_message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation_messages: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Uuid>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().2
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message, status) = self.parts();
        if *self == Self::RateLimited {
            // The documented rate-limit body has no `status_code`.
            return HttpResponse::build(status)
                .insert_header(crate::json::content_type())
                .body(serde_json::json!({ "message": message }).to_string());
        }
        let validation_messages = match self {
            Self::Validation(messages) => Some(messages.as_slice()),
            _ => None,
        };
        let body = serde_json::to_vec(&Envelope {
            status_code: code,
            status_message: message,
            validation_messages,
            // The one verified "413" body (GoPay 902, malformed JSON) has no id.
            id: (*self != Self::Malformed).then(Uuid::new_v4),
        })
        .unwrap_or_default();
        HttpResponse::build(status)
            .insert_header(crate::json::content_type())
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn envelopes_keep_the_midtrans_field_order() {
        let v = body(&ApiError::Validation(vec![
            "payment_type is required".into(),
        ]));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["status_code", "status_message", "validation_messages", "id"]
        );
        let v = body(&ApiError::CannotUpdate);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["status_code", "status_message", "id"]);
        assert_eq!(v["status_code"], "412");
    }

    #[test]
    fn mirror_mode_changes_only_the_http_200_answers() {
        assert_eq!(ApiError::AccountNotFound.status_code(), StatusCode::OK);
        assert_eq!(
            ApiError::AccountNotFound.mirrored_status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::Malformed.mirrored_status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            ApiError::Validation(vec![]).mirrored_status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::UnknownRoute.mirrored_status(),
            StatusCode::NOT_FOUND
        );
    }
}
