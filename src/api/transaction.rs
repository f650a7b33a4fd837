//! A transaction after its charge: `GET /v2/{id}/status`, `POST /v2/{id}/cancel`, `/expire`,
//! `/refund` and `/refund/online/direct` (reference 4 and 5). `{id}` is the transaction id or the
//! merchant's order id; an empty one (`GET /v2//status`, what the Node client's `notification({})`
//! asks) is simply not found.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::{Map, Value};

use super::charge::ChargeBody;
use super::{ServerKey, idempotency_key, json_answer, read_body};
use crate::app::AppState;
use crate::charges::{Transaction, TxChange, TxStatus};
use crate::clock;
use crate::error::ApiError;
use crate::money::Amount;
use crate::notifications::{payload, signature};
use crate::payments::{self, ChangeError, RefundError, RefundRequest};

fn path_id(req: &HttpRequest) -> &str {
    req.match_info().get("id").unwrap_or_default()
}

/// `GET /v2/{id}/status`: the transaction as it stands, signed like a notification.
pub async fn status(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The Node client sends `{}`; the Python client's notification() puts headers in the query.
    read_body(&state, &req, payload).await?;
    let t = state
        .transactions
        .find(Some(&server_key), path_id(&req))
        .ok_or(ApiError::TransactionNotFound)?;
    Ok(HttpResponse::Ok().json(status_body(&state, &t)))
}

/// The status answer, keys in the order of reference 4.
pub fn status_body(state: &AppState, t: &Transaction) -> Value {
    let status_code = t.status.status_code();
    let gross = t.gross_amount.to_string();
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("transaction_time", clock::jakarta(t.created_at_ms).into());
    put("gross_amount", gross.as_str().into());
    put("currency", Transaction::CURRENCY.into());
    put("order_id", (*t.order_id).into());
    put("payment_type", "gopay".into());
    put(
        "signature_key",
        signature::transaction_signature_key(&t.order_id, status_code, &gross, &t.owner).into(),
    );
    put("status_code", status_code.into());
    put("transaction_id", t.id.to_string().into());
    put("transaction_status", t.status.as_str().into());
    put("fraud_status", "accept".into());
    if let Some(at) = t.settled_at_ms {
        put("settlement_time", clock::jakarta(at).into());
    }
    put("expiry_time", clock::jakarta(t.expires_at_ms).into());
    put("status_message", "Success, transaction is found".into());
    put(
        "merchant_id",
        (*state.settings.read().gopay_merchant_id).into(),
    );
    put("payment_option_type", (*t.payment_option).into());
    if let Some(meta) = t.metadata()
        && let Ok(v) = serde_json::from_str::<Value>(meta.get())
    {
        put("metadata", v);
    }
    if let Some(r) = t.deny_reason.filter(|_| t.status == TxStatus::Deny) {
        put("channel_response_code", r.channel_response_code.into());
        put(
            "channel_response_message",
            r.channel_response_message.into(),
        );
    }
    if !t.refunds.is_empty() {
        put("refund_amount", t.refunded().to_string().into());
        put(
            "refunds",
            Value::Array(
                t.refunds
                    .iter()
                    .map(|r| payload::refund_value(r, true))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

pub(super) fn change_error(e: ChangeError) -> ApiError {
    match e {
        ChangeError::NotFound => ApiError::TransactionNotFound,
        ChangeError::NotAllowed { .. } => ApiError::CannotModify,
    }
}

/// `POST /v2/{id}/cancel`: a pending transaction or an authorization (its hold is released).
pub async fn cancel(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The clients send `{}`, `null` or nothing; whatever it is, it is ignored.
    read_body(&state, &req, payload).await?;
    let key_text = idempotency_key(&req);
    let key = key_text.as_deref();
    let answer = payments::idempotent(&state, &server_key, key, |book| {
        let cancel = TxChange::Cancel;
        let t = payments::change_in(&state, book, Some(&server_key), path_id(&req), cancel, None)?;
        // The card sample's body without its card fields: the charge answer's head.
        let mut body = ChargeBody::new(&state, &t);
        body.status_code = "200";
        body.status_message = "Success, transaction is canceled";
        body.expiry_time = None;
        Ok(web::Bytes::from(body.write()))
    })
    .map_err(change_error)?;
    Ok(json_answer(answer))
}

/// `POST /v2/{id}/expire`: a pending transaction expires now; `"407"` is its success code.
pub async fn expire(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    read_body(&state, &req, payload).await?;
    let id = path_id(&req);
    let key_text = idempotency_key(&req);
    let key = key_text.as_deref();
    let answer = payments::idempotent(&state, &server_key, key, |book| {
        // Only a pending transaction (an authorization is cancelled, not expired).
        let t = book
            .find(Some(&server_key), id)
            .ok_or(ApiError::TransactionNotFound)?;
        if t.status != TxStatus::Pending {
            return Err(ApiError::CannotModify);
        }
        let expire = TxChange::Expire;
        let t = payments::change_in(&state, book, Some(&server_key), id, expire, None)
            .map_err(change_error)?;
        written(&Expired {
            status_code: "407",
            status_message: "Success, transaction has expired",
            transaction_id: t.id.to_string(),
            order_id: &t.order_id,
            payment_type: "gopay",
            transaction_time: clock::jakarta(t.created_at_ms),
            transaction_status: t.status.as_str(),
            gross_amount: t.gross_amount.to_string(),
        })
    })?;
    Ok(json_answer(answer))
}

/// An answer written as JSON, to be kept for its `Idempotency-Key`.
fn written(answer: &impl Serialize) -> Result<web::Bytes, ApiError> {
    serde_json::to_vec(answer)
        .map(web::Bytes::from)
        .map_err(|_| ApiError::Internal)
}

#[derive(Serialize)]
struct Expired<'a> {
    status_code: &'static str,
    status_message: &'static str,
    transaction_id: String,
    order_id: &'a str,
    payment_type: &'static str,
    transaction_time: String,
    transaction_status: &'static str,
    gross_amount: String,
}

/// `POST /v2/{id}/refund`.
pub async fn refund(
    state: web::Data<AppState>,
    server_key: ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    refund_with(state, server_key, req, payload, false).await
}

/// `POST /v2/{id}/refund/online/direct`.
pub async fn refund_direct(
    state: web::Data<AppState>,
    server_key: ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    refund_with(state, server_key, req, payload, true).await
}

async fn refund_with(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
    direct: bool,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&state, &req, payload).await?;
    let key_text = idempotency_key(&req);
    let key = key_text.as_deref();
    if let Some(replay) = payments::replay(&state, &server_key, key) {
        return Ok(json_answer(replay));
    }
    // An unknown transaction is a 404 whatever the body says, as for the other changes; a body
    // that is fine leaves the lookup to the refund itself.
    let request = read_refund(&body, direct).map_err(|e| {
        let known = state
            .transactions
            .with(|book| book.find(Some(&server_key), path_id(&req)).is_some());
        if known {
            e
        } else {
            ApiError::TransactionNotFound
        }
    })?;
    let answer = payments::idempotent(&state, &server_key, key, |book| {
        let (t, r) = payments::refund_in(&state, book, &server_key, path_id(&req), request)
            .map_err(|e| match e {
                RefundError::NotFound => ApiError::TransactionNotFound,
                RefundError::NotAllowed => ApiError::CannotModify,
                RefundError::InvalidAmount => ApiError::RefundAmountInvalid,
                RefundError::Duplicate => ApiError::DuplicateRefund,
            })?;
        written(&Refunded {
            status_code: "200",
            status_message: if direct {
                "Success, refund request is approved by the bank"
            } else {
                "Success, refund request is approved"
            },
            transaction_id: t.id.to_string(),
            order_id: &t.order_id,
            payment_type: "gopay",
            transaction_time: clock::jakarta(t.created_at_ms),
            transaction_status: t.status.as_str(),
            gross_amount: t.gross_amount.to_string(),
            refund_chargeback_id: r.refund_chargeback_id,
            refund_amount: r.refund_amount.to_string(),
            refund_key: &r.refund_key,
        })
    })?;
    Ok(json_answer(answer))
}

/// `{"refund_key"?, "amount"?, "reason"?}`; an empty body refunds what is left, and a body that is
/// not a JSON object (`5000`, `null`, a list) is malformed, never "everything".
fn read_refund(body: &[u8], direct: bool) -> Result<RefundRequest, ApiError> {
    let v: Value = if crate::json::first_byte(body).is_none() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(ApiError::Malformed),
        }
    };
    let mut errors = Vec::new();
    let amount = match v.get("amount") {
        None | Some(Value::Null) => None,
        Some(a) => match Amount::from_json(a) {
            Some(a) => Some(a),
            None => return Err(ApiError::RefundAmountInvalid),
        },
    };
    let refund_key = match v.get("refund_key") {
        None | Some(Value::Null) => None,
        Some(k) => {
            // Anything but text is refused as an empty key is.
            let k = k.as_str().unwrap_or_default();
            match crate::charges::check_refund_key(k) {
                Ok(()) => Some(k.to_string()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        }
    };
    let reason = match v.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.chars().take(crate::charges::REASON_MAX_CHARS).collect()),
        Some(_) => {
            errors.push("reason must be text".to_string());
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(RefundRequest {
        amount,
        refund_key,
        reason,
        direct,
    })
}

#[derive(Serialize)]
struct Refunded<'a> {
    status_code: &'static str,
    status_message: &'static str,
    transaction_id: String,
    order_id: &'a str,
    payment_type: &'static str,
    transaction_time: String,
    transaction_status: &'static str,
    gross_amount: String,
    refund_chargeback_id: u64,
    refund_amount: String,
    refund_key: &'a str,
}
