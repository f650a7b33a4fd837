//! `POST /v2/charge` (GoPay Tokenization: `payment_type` `gopay` with `gopay.account_id`) and
//! `POST /v2/capture`: reading and checking the request, and the answer bodies (reference 2 and 3).
//! What a charge comes to is decided in `charges::decide`; the change itself is `payments.rs`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::fields::{self, Leaf, Shape, leaf};
use super::{ServerKey, check_content_type, idempotency_key, json_answer, read_body};
use crate::app::AppState;
use crate::charges::{NotifyTo, Transaction, TxChange, TxStatus};
use crate::clock::JakartaTime;
use crate::error::{ApiError, MSG_TOKEN_INVALID};
use crate::json;
use crate::limits;
use crate::money::Amount;
use crate::payments::{self, ChargeError, ChargeRequest};

/// A `custom_expiry` shorter than this is refused (reference 2.1).
pub const CUSTOM_EXPIRY_MIN: Duration = Duration::from_secs(20);

/// Why a `gross_amount` that is not an amount was refused: too large (15 digits before the point
/// at most), or anything else.
fn amount_problem(value: &serde_json::Value) -> &'static str {
    let number = match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    if number.is_some_and(|n| n >= 1e15) {
        "transaction_details.gross_amount must be at most 999999999999999.99"
    } else {
        "transaction_details.gross_amount must be greater than or equal to 0.01"
    }
}

pub async fn charge(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let body = read_body(&state, &req, payload).await?;
    let key_text = idempotency_key(&req);
    let idempotency_key = key_text.as_deref();
    // A replay answers whatever the body is, so it is looked for before the body is checked (and
    // again, atomically, by the charge itself).
    if let Some(replay) = payments::replay(&state, &server_key, idempotency_key) {
        return Ok(json_answer(replay));
    }
    let request = read_charge(&body, req.headers())?;
    let render = |t: &Transaction| ChargeBody::new(&state, t).write().into_bytes();
    let answer = payments::charge(&state, &server_key, request, idempotency_key, render)
        .map_err(|e| match e {
            ChargeError::WalletNotFound => ApiError::WalletNotFound,
            ChargeError::TokenInvalid => ApiError::Validation(vec![MSG_TOKEN_INVALID.into()]),
            ChargeError::UserBlocked => ApiError::UserBlocked,
            ChargeError::OrderConflict => ApiError::OrderConflict,
            ChargeError::Full => {
                tracing::warn!(
                    "a charge was refused: the server holds --max-transactions transactions (reset to free room)"
                );
                ApiError::Internal
            }
            ChargeError::NoFreeId => {
                tracing::warn!(
                    cause = crate::ids::TAKEN_CAUSE,
                    "a charge was refused: every id drawn names a transaction that exists"
                );
                ApiError::Internal
            }
        })?;
    Ok(json_answer(answer))
}

/// Reads and checks a charge request; every problem found is one validation message.
///
/// # Errors
/// `"413"` for a body that is not JSON, `"500"` for `null` (as the sandbox answers it), else the
/// HTTP 400 envelope with its `validation_messages`.
pub fn read_charge(body: &[u8], headers: &HeaderMap) -> Result<ChargeRequest, ApiError> {
    read_charge_fields(body, headers).map_err(|e| match e {
        // A string with half a surrogate pair (`"\ud800"`) passes the reading of the fields as raw
        // JSON but not their reading as text, where it would be reported as a field missing or
        // out of range: the body is not JSON text, as for every other route. Scanned for only
        // on the way out with errors.
        ApiError::Validation(_) if crate::json::has_lone_surrogate(body) => ApiError::Malformed,
        e => e,
    })
}

fn read_charge_fields(body: &[u8], headers: &HeaderMap) -> Result<ChargeRequest, ApiError> {
    const TOP: [&str; 6] = [
        "payment_type",
        "gopay",
        "transaction_details",
        "custom_expiry",
        "metadata",
        "currency",
    ];
    const GOPAY: [&str; 5] = [
        "account_id",
        "payment_option_token",
        "callback_url",
        "pre_auth",
        "recurring",
    ];
    const DETAILS: [&str; 3] = ["order_id", "gross_amount", "currency"];
    let [
        payment_type,
        gopay,
        details,
        custom_expiry_field,
        metadata,
        top_currency,
    ] = match fields::read(body, &TOP).map_err(|_| ApiError::Malformed)? {
        Shape::Object(f) => f,
        Shape::Null => return Err(ApiError::Internal),
        Shape::Other => return Err(ApiError::Malformed),
    };
    let mut errors = Vec::new();
    match leaf(payment_type) {
        Leaf::Str(t) if t == "gopay" => {}
        Leaf::Absent => errors.push("payment_type is required".to_string()),
        other => {
            let shown = match other {
                Leaf::Str(t) => t.into_owned(),
                _ => payment_type
                    .map(|r| r.get().to_string())
                    .unwrap_or_default(),
            };
            return Err(ApiError::Validation(vec![format!(
                "payment_type {} is not emulated: this sandbox emulates GoPay Tokenization charges only (payment_type gopay with gopay.account_id)",
                shown.chars().take(40).collect::<String>()
            )]));
        }
    }
    let [account_id, token, callback_url, pre_auth, recurring] = fields::of(gopay, &GOPAY);
    let account_id = match leaf(account_id) {
        Leaf::Str(id) if !id.is_empty() => Uuid::parse_str(&id).ok(),
        _ => {
            return Err(ApiError::Validation(vec![
                "Gopay.account_id is required".into(),
                "A GoPay charge without gopay.account_id (the deeplink or QRIS flow) is not emulated: this sandbox emulates GoPay Tokenization charges only".into(),
            ]));
        }
    };
    let token = match leaf(token) {
        Leaf::Str(t) if !t.is_empty() => t.into_owned(),
        _ => {
            errors.push("Gopay.payment_option_token is required".into());
            String::new()
        }
    };
    let [order_id, gross_amount, currency] = fields::of(details, &DETAILS);
    let order_id = match leaf(order_id) {
        Leaf::Str(id) if !id.is_empty() => {
            if let Err(e) = crate::charges::check_order_id(&id) {
                errors.push(format!("transaction_details.{e}"));
            }
            id.into_owned()
        }
        _ => {
            errors.push("transaction_details.order_id is required".into());
            String::new()
        }
    };
    let gross_amount = match gross_amount.filter(|r| r.get() != "null") {
        None => {
            errors.push("transaction_details.gross_amount is required".into());
            Amount::ZERO
        }
        Some(raw) => {
            let value = fields::value(raw);
            match Amount::from_json(&value) {
                Some(a) if !a.is_zero() => a,
                _ => {
                    errors.push(amount_problem(&value).into());
                    Amount::ZERO
                }
            }
        }
    };
    let currency = match leaf(currency.or(top_currency)) {
        Leaf::Absent => "IDR",
        Leaf::Str(c) if c == "IDR" => "IDR",
        _ => {
            errors.push("The currency is not supported for the country".into());
            ""
        }
    };
    let mut flag = |raw: Option<&RawValue>, name: &str| match leaf(raw) {
        Leaf::Absent => false,
        Leaf::Bool(b) => b,
        _ => {
            errors.push(format!("gopay.{name} must be true or false"));
            false
        }
    };
    let pre_auth = flag(pre_auth, "pre_auth");
    let recurring = flag(recurring, "recurring");
    let callback_url = match leaf(callback_url) {
        Leaf::Absent => None,
        Leaf::Str(u) if crate::pages::safe_href(&u).is_some() && u.len() <= limits::URL_MAX_LEN => {
            Some(u.into_owned())
        }
        _ => {
            errors.push("gopay.callback_url must be an http or https URL".into());
            None
        }
    };
    let metadata = metadata.filter(|m| m.get() != "null");
    if let Some(Err(e)) = metadata.map(|m| crate::charges::check_metadata(m.get())) {
        errors.push(e);
    }
    let expiry = match custom_expiry_field.filter(|r| r.get() != "null") {
        None => None,
        Some(raw) => match custom_expiry(&fields::value(raw)) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(ChargeRequest {
        order_id,
        gross_amount,
        currency,
        account_id,
        token,
        callback_url,
        pre_auth,
        recurring,
        metadata: metadata.map(RawValue::to_owned),
        expiry,
        notify_to: notify_to(headers),
    })
}

/// `custom_expiry`: `{"expiry_duration": 60, "unit": "minute"}`; under 20 s is refused, over 7 days
/// is trimmed to 7 days, as GoPay does.
fn custom_expiry(v: &Value) -> Result<Duration, String> {
    let bad = || {
        "custom_expiry must be {\"expiry_duration\": <whole number>, \"unit\": \"second\"|\"minute\"|\"hour\"|\"day\"}"
            .to_string()
    };
    let n = v
        .get("expiry_duration")
        .and_then(Value::as_u64)
        .ok_or_else(bad)?;
    let unit: u64 = match v.get("unit").and_then(Value::as_str).ok_or_else(bad)? {
        "second" | "seconds" => 1,
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return Err(bad()),
    };
    let d = Duration::from_secs(n.saturating_mul(unit));
    if d < CUSTOM_EXPIRY_MIN {
        return Err("custom_expiry is below minimum threshold".into());
    }
    Ok(d.min(limits::TRANSACTION_TTL.1))
}

/// `X-Override-Notification` (wins) or `X-Append-Notification`: up to three comma-separated http(s)
/// URLs; others are ignored, as Midtrans ignores them.
fn notify_to(headers: &HeaderMap) -> NotifyTo {
    // Static names: a `&str` name is parsed into a `HeaderName` at every lookup.
    static OVERRIDE: HeaderName = HeaderName::from_static("x-override-notification");
    static APPEND: HeaderName = HeaderName::from_static("x-append-notification");
    let urls = |name: &HeaderName| -> Vec<String> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|u| {
                        crate::pages::safe_href(u).is_some() && u.len() <= limits::URL_MAX_LEN
                    })
                    .take(limits::NOTIFICATION_HEADER_URLS_MAX)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let over = urls(&OVERRIDE);
    if !over.is_empty() {
        return NotifyTo::Override(over);
    }
    let append = urls(&APPEND);
    if append.is_empty() {
        NotifyTo::Merchant
    } else {
        NotifyTo::Append(append)
    }
}

/// One action of a pending charge.
#[derive(Serialize)]
pub struct Action {
    pub name: &'static str,
    pub method: &'static str,
    pub url: String,
}

/// The answer to a charge or a capture (reference 2.3), fields in the sandbox's order; `expiry_time`
/// last. A cancel answers the same head (`api/transaction.rs`).
#[derive(Serialize)]
pub struct ChargeBody<'a> {
    pub(crate) status_code: &'static str,
    pub(crate) status_message: &'static str,
    transaction_id: uuid::fmt::Hyphenated,
    order_id: &'a str,
    merchant_id: Arc<str>,
    gross_amount: Amount,
    currency: &'a str,
    payment_type: &'static str,
    transaction_time: JakartaTime,
    transaction_status: &'static str,
    fraud_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    settlement_time: Option<JakartaTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_response_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_response_message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<Vec<Action>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expiry_time: Option<JakartaTime>,
}

impl<'a> ChargeBody<'a> {
    /// The body as serde_json would write it, written by hand (see `json.rs`); the test
    /// `the_written_charge_answer_is_what_serde_json_writes` pins the two together.
    pub fn write(&self) -> String {
        let mut o = json::Object::with_capacity(640);
        o.str("status_code", self.status_code);
        o.str("status_message", self.status_message);
        o.str(
            "transaction_id",
            self.transaction_id.encode_lower(&mut Uuid::encode_buffer()),
        );
        o.str("order_id", self.order_id);
        o.str("merchant_id", &self.merchant_id);
        o.str("gross_amount", &self.gross_amount.text());
        o.str("currency", self.currency);
        o.str("payment_type", self.payment_type);
        o.str("transaction_time", self.transaction_time.as_str());
        o.str("transaction_status", self.transaction_status);
        o.str("fraud_status", self.fraud_status);
        if let Some(t) = &self.settlement_time {
            o.str("settlement_time", t.as_str());
        }
        if let Some(c) = self.channel_response_code {
            o.str("channel_response_code", c);
        }
        if let Some(m) = self.channel_response_message {
            o.str("channel_response_message", m);
        }
        if let Some(actions) = &self.actions {
            o.objects("actions", actions, |a, action| {
                a.str("name", action.name);
                a.str("method", action.method);
                a.str("url", &action.url);
            });
        }
        if let Some(t) = &self.expiry_time {
            o.str("expiry_time", t.as_str());
        }
        o.finish()
    }

    pub fn new(state: &AppState, t: &'a Transaction) -> Self {
        let (status_code, status_message) = match t.status {
            TxStatus::Pending => ("201", "GoPay transaction is created. Action(s) required"),
            TxStatus::Deny => ("202", "GoPay transaction is denied"),
            _ => ("200", "Success, GoPay transaction is successful"),
        };
        let (channel_code, channel_message) = match (t.status, t.deny_reason) {
            (TxStatus::Deny, Some(r)) => (
                Some(r.channel_response_code),
                Some(r.channel_response_message),
            ),
            (TxStatus::Authorize, _) => (Some("0"), Some("Process service request successfully.")),
            _ => (None, None),
        };
        let actions = (t.status == TxStatus::Pending).then(|| {
            let (web, app) = crate::verification::links(&state.public_url, &t.id);
            vec![
                Action {
                    name: "verification-link-url",
                    method: "GET",
                    url: web,
                },
                Action {
                    name: "verification-link-app",
                    method: "GET",
                    url: app,
                },
            ]
        });
        Self {
            status_code,
            status_message,
            transaction_id: t.id.hyphenated(),
            order_id: &t.order_id,
            merchant_id: state.settings.read().gopay_merchant_id.clone(),
            gross_amount: t.gross_amount,
            currency: Transaction::CURRENCY,
            payment_type: "gopay",
            transaction_time: JakartaTime::at(t.created_at_ms),
            transaction_status: t.status.as_str(),
            fraud_status: "accept",
            settlement_time: t.settled_at_ms.map(JakartaTime::at),
            channel_response_code: channel_code,
            channel_response_message: channel_message,
            actions,
            expiry_time: Some(JakartaTime::at(t.expires_at_ms)),
        }
    }
}

/// `POST /v2/capture` `{"transaction_id", "gross_amount"?}`: settles an authorization, whole amount
/// only ("We do not accept partial amount capture for GoPay").
pub async fn capture(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let body = read_body(&state, &req, payload).await?;
    let key_text = idempotency_key(&req);
    let key = key_text.as_deref();
    if let Some(replay) = payments::replay(&state, &server_key, key) {
        return Ok(json_answer(replay));
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err(ApiError::Malformed),
    };
    let id = match v.get("transaction_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => {
            return Err(ApiError::Validation(vec![
                "transaction_id is required".into(),
            ]));
        }
    };
    let amount = v
        .get("gross_amount")
        .filter(|a| !a.is_null())
        .map(Amount::from_json);
    // The amount is checked against the transaction the capture changes, under the same hold of
    // the book: a reset and a new charge with the same order id in between would otherwise have
    // it checked against the one before.
    let answer = payments::idempotent(&state, &server_key, key, |book| {
        let t = book
            .find(Some(&server_key), &id)
            .ok_or(ApiError::TransactionNotFound)?;
        if amount.is_some_and(|a| a != Some(t.gross_amount)) {
            return Err(ApiError::Validation(vec![
                "gross_amount must be the whole amount: GoPay does not accept partial capture"
                    .into(),
            ]));
        }
        let capture = TxChange::Capture;
        let t = payments::change_in(&state, book, Some(&server_key), &id, capture, None)
            .map_err(super::transaction::change_error)?;
        Ok(web::Bytes::from(ChargeBody::new(&state, &t).write()))
    })?;
    Ok(json_answer(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body<'a>(status: &'static str, actions: bool, order_id: &'a str) -> ChargeBody<'a> {
        ChargeBody {
            status_code: status,
            status_message: "GoPay transaction is created. Action(s) required",
            transaction_id: Uuid::new_v4().hyphenated(),
            order_id,
            merchant_id: "G\"1\\".into(),
            gross_amount: Amount::from_units(100_000),
            currency: "IDR",
            payment_type: "gopay",
            transaction_time: JakartaTime::at(1_637_143_806_000),
            transaction_status: "pending",
            fraud_status: "accept",
            settlement_time: (status == "200").then(|| JakartaTime::at(1_637_143_807_000)),
            channel_response_code: (status == "202").then_some("201"),
            channel_response_message: (status == "202").then_some("Insufficient Balance"),
            actions: actions.then(|| {
                vec![
                    Action {
                        name: "verification-link-url",
                        method: "GET",
                        url: "http://127.0.0.1:1/v2/gopay/redirect/gppr_x/charge".into(),
                    },
                    Action {
                        name: "verification-link-app",
                        method: "GET",
                        url: "http://h/\u{7}".into(),
                    },
                ]
            }),
            expiry_time: (status != "207").then(|| JakartaTime::at(1_637_144_706_000)),
        }
    }

    #[test]
    fn the_written_charge_answer_is_what_serde_json_writes() {
        for (status, actions) in [
            ("201", true),
            ("200", false),
            ("202", false),
            ("207", false),
        ] {
            let b = body(status, actions, "order-\u{1}");
            assert_eq!(b.write(), serde_json::to_string(&b).unwrap(), "{status}");
        }
    }
}
