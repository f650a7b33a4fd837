//! What a notification says: its [`Event`] and the documented body, fields in the documented order,
//! signed with [`super::signature`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use serde_json::{Map, Value};

use super::signature;
use crate::accounts::{AccountStatus, Transition};
use crate::charges::{Refund, Transaction, TxStatus};
use crate::clock;

/// The Pay Account notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    AccountLinked,
    AccountUnlinked,
    /// A transaction reached a status (pending, settlement, deny, expire, cancel, refund, ...).
    Payment,
}

impl Event {
    /// The notification a transition sends; expiry sends none (Midtrans documents none).
    pub fn for_transition(t: Transition) -> Option<Self> {
        match t {
            Transition::Link => Some(Self::AccountLinked),
            Transition::Unbind | Transition::Unlink => Some(Self::AccountUnlinked),
            Transition::Expire => None,
        }
    }

    /// The notification that describes an account's current state, if it has one.
    pub fn for_status(s: AccountStatus) -> Option<Self> {
        match s {
            AccountStatus::Enabled => Some(Self::AccountLinked),
            AccountStatus::Disabled => Some(Self::AccountUnlinked),
            AccountStatus::Pending | AccountStatus::Expired => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountLinked => "account_linked",
            Self::AccountUnlinked => "account_unlinked",
            Self::Payment => "payment",
        }
    }

    /// The account status, body `status_code` and message of an account notification; `None` for
    /// a payment one.
    pub fn account_parts(self) -> Option<(AccountStatus, &'static str, &'static str)> {
        match self {
            Self::AccountLinked => Some((
                AccountStatus::Enabled,
                "200",
                "Midtrans account_linked notification",
            )),
            Self::AccountUnlinked => Some((
                AccountStatus::Disabled,
                "204",
                "Midtrans account_unlinked notification",
            )),
            Self::Payment => None,
        }
    }
}

/// The Pay Account notification body, fields in the documented order.
#[derive(Debug, Clone, Serialize)]
struct AccountPayload<'a> {
    account_id: &'a str,
    merchant_id: &'a str,
    payment_type: &'static str,
    signature_key: String,
    status_code: &'static str,
    account_status: &'static str,
    status_message: &'static str,
}

/// The signed body of an account notification, as sent, and its `status_code`; `None` for an event
/// that is not about an account.
pub fn account(
    event: Event,
    account_id: &Uuid,
    merchant_id: &str,
    server_key: &str,
) -> Option<(Arc<RawValue>, &'static str)> {
    let (status, status_code, status_message) = event.account_parts()?;
    let id = account_id.to_string();
    let body = AccountPayload {
        signature_key: signature::signature_key(&id, status.as_str(), status_code, server_key),
        account_id: &id,
        merchant_id,
        payment_type: "gopay",
        status_code,
        account_status: status.as_str(),
        status_message,
    };
    Some((raw(&body), status_code))
}

/// The signed body of a payment notification about `t` in its current status, as sent (reference
/// 6.1): keys in descending order, recursively, as every Midtrans transaction notification has them.
/// `bank_confirmed` marks the second notification of a refund.
pub fn transaction(
    t: &Transaction,
    merchant_id: &str,
    server_key: &str,
    bank_confirmed: bool,
) -> (Arc<RawValue>, &'static str) {
    let status_code = t.status.notification_code();
    let gross = t.gross_amount.to_string();
    let mut body = Map::new();
    let mut put = |k: &str, v: Value| {
        body.insert(k.to_string(), v);
    };
    put("transaction_time", clock::jakarta(t.created_at_ms).into());
    put("transaction_status", t.status.as_str().into());
    put("transaction_id", t.id.to_string().into());
    put("status_message", "midtrans payment notification".into());
    put("status_code", status_code.into());
    put(
        "signature_key",
        signature::transaction_signature_key(&t.order_id, status_code, &gross, server_key).into(),
    );
    if let Some(at) = t.settled_at_ms {
        put("settlement_time", clock::jakarta(at).into());
    }
    put("payment_type", "gopay".into());
    if t.status != TxStatus::Pending {
        put("payment_option_type", (*t.payment_option).into());
    }
    put("order_id", (*t.order_id).into());
    if let Some(m) = &t.metadata
        && let Ok(v) = serde_json::from_str::<Value>(m.get())
    {
        put("metadata", v);
    }
    put("merchant_id", merchant_id.into());
    put("gross_amount", gross.as_str().into());
    put("fraud_status", "accept".into());
    put("expiry_time", clock::jakarta(t.expires_at_ms).into());
    put("currency", (*t.currency).into());
    if let Some(reason) = t.deny_reason.filter(|_| t.status == TxStatus::Deny) {
        put(
            "channel_response_message",
            reason.channel_response_message.into(),
        );
        put("channel_response_code", reason.channel_response_code.into());
    }
    if !t.refunds.is_empty() {
        let refunds: Vec<Value> = t
            .refunds
            .iter()
            .map(|r| refund_value(r, bank_confirmed))
            .collect();
        put("refunds", Value::Array(refunds));
        put("refund_amount", t.refunded().to_string().into());
    }
    (raw(&descending(Value::Object(body))), status_code)
}

/// One entry of `refunds[]`, as notifications and status answers show it.
pub fn refund_value(r: &Refund, bank_confirmed: bool) -> Value {
    let mut m = Map::new();
    m.insert("refund_method".into(), "online".into());
    m.insert("refund_key".into(), (*r.refund_key).into());
    m.insert(
        "refund_chargeback_uuid".into(),
        r.refund_chargeback_uuid.to_string().into(),
    );
    m.insert("refund_chargeback_id".into(), r.refund_chargeback_id.into());
    m.insert("refund_amount".into(), r.refund_amount.to_string().into());
    m.insert("created_at".into(), clock::jakarta(r.created_at_ms).into());
    if bank_confirmed {
        m.insert(
            "bank_confirmed_at".into(),
            clock::jakarta(r.created_at_ms).into(),
        );
    }
    if let Some(reason) = &r.reason {
        m.insert("reason".into(), (**reason).into());
    }
    Value::Object(m)
}

/// `v` with every object's keys in descending order.
pub fn descending(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| b.0.cmp(&a.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, descending(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(descending).collect()),
        other => other,
    }
}

fn raw<T: Serialize>(body: &T) -> Arc<RawValue> {
    // Strings, numbers and maps of them always serialise; `null` only stands in for the impossible.
    serde_json::value::to_raw_value(body)
        .map(Arc::from)
        .unwrap_or_else(|_| Arc::from(RawValue::NULL.to_owned()))
}
