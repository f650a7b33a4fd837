//! What a notification says: its [`Event`] and the documented body, fields in the documented order,
//! signed with [`super::signature`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use serde_json::{Map, Value};

use super::{Payload, signature};
use crate::accounts::{AccountStatus, Transition};
use crate::charges::{Refund, Transaction, TxStatus};
use crate::clock::JakartaTime;
use crate::{clock, json};

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
) -> Option<(Payload, &'static str)> {
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
///
/// The body is written when first needed ([`Payload::get`]), from a copy of `t` as it is now, and
/// signed with `t`'s owner, the server key that charged it.
pub fn transaction(
    t: &Arc<Transaction>,
    merchant_id: Arc<str>,
    bank_confirmed: bool,
) -> (Payload, &'static str) {
    let snapshot = PaymentSnapshot {
        transaction: Arc::clone(t),
        merchant_id,
        bank_confirmed,
    };
    (Payload::payment(snapshot), t.status.notification_code())
}

/// What a payment notification's body is written from.
pub(super) struct PaymentSnapshot {
    /// The store's own: a later change to the transaction copies it first (`Arc::make_mut`).
    transaction: Arc<Transaction>,
    merchant_id: Arc<str>,
    bank_confirmed: bool,
}

impl PaymentSnapshot {
    pub(super) fn write(&self) -> String {
        write_transaction(&self.transaction, &self.merchant_id, self.bank_confirmed)
    }

    /// At least the length it will be written at, and near it for plain text: the log counts it
    /// before it is written. Metadata is counted at four times its length, as numbers can grow
    /// that much when written again (`9e15,` is `9000000000000000.0,`). Tests pin it to the
    /// written length.
    pub(super) fn weight(&self) -> usize {
        const FIXED: usize = 768;
        const PER_REFUND: usize = 320;
        let t = &self.transaction;
        let refunds = t.refunds.iter().map(|r| {
            PER_REFUND
                .saturating_add(json::escaped_len_max(&r.refund_key))
                .saturating_add(r.reason.as_deref().map_or(0, json::escaped_len_max))
        });
        FIXED
            .saturating_add(json::escaped_len_max(&t.order_id))
            .saturating_add(json::escaped_len_max(&self.merchant_id))
            .saturating_add(t.metadata().map_or(0, |m| m.get().len().saturating_mul(4)))
            .saturating_add(refunds.fold(0, usize::saturating_add))
    }
}

/// Written straight into one string, keys in their (fixed) descending order: building a
/// `serde_json::Map` and sorting it was a third of a charge (see BENCHMARKS.md). The test
/// `the_written_payload_is_the_sorted_map` pins it to that plain version.
fn write_transaction(t: &Transaction, merchant_id: &str, bank_confirmed: bool) -> String {
    let status_code = t.status.notification_code();
    let gross = t.gross_amount.text();
    let mut o = json::Object::with_capacity(768);
    o.str(
        "transaction_time",
        JakartaTime::at(t.created_at_ms).as_str(),
    );
    o.str("transaction_status", t.status.as_str());
    o.str(
        "transaction_id",
        t.id.hyphenated().encode_lower(&mut Uuid::encode_buffer()),
    );
    o.str("status_message", "midtrans payment notification");
    o.str("status_code", status_code);
    o.str(
        "signature_key",
        &signature::transaction_signature_key(&t.order_id, status_code, &gross, &t.owner),
    );
    if let Some(at) = t.settled_at_ms {
        o.str("settlement_time", JakartaTime::at(at).as_str());
    }
    if !t.refunds.is_empty() {
        let refunds: Vec<Value> = t
            .refunds
            .iter()
            .map(|r| refund_value(r, bank_confirmed))
            .collect();
        o.value("refunds", &descending(Value::Array(refunds)));
        o.str("refund_amount", &t.refunded().to_string());
    }
    o.str("payment_type", "gopay");
    if t.status.notifies_payment_option() {
        o.str("payment_option_type", &t.payment_option);
    }
    o.str("order_id", &t.order_id);
    if let Some(m) = t.metadata()
        && let Ok(v) = serde_json::from_str::<Value>(m.get())
    {
        o.value("metadata", &descending(v));
    }
    o.str("merchant_id", merchant_id);
    o.str("gross_amount", &gross);
    o.str("fraud_status", "accept");
    o.str("expiry_time", JakartaTime::at(t.expires_at_ms).as_str());
    o.str("currency", Transaction::CURRENCY);
    if let Some(reason) = t.deny_reason.filter(|_| t.status == TxStatus::Deny) {
        o.str("channel_response_message", reason.channel_response_message);
        o.str("channel_response_code", reason.channel_response_code);
    }
    o.finish()
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

fn raw<T: Serialize>(body: &T) -> Payload {
    // Strings, numbers and maps of them always serialise; `null` only stands in for the impossible.
    Payload::new(serde_json::to_string(body).unwrap_or_else(|_| "null".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charges::{INSUFFICIENT_BALANCE, Refund};
    use crate::money::Amount;
    use std::sync::Arc;

    /// The plain version: a map of every field, sorted descending, serialised by serde_json.
    fn plain(t: &Transaction, merchant_id: &str, key: &str, bank_confirmed: bool) -> String {
        let code = t.status.notification_code();
        let gross = t.gross_amount.to_string();
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("transaction_time", clock::jakarta(t.created_at_ms).into());
        put("transaction_status", t.status.as_str().into());
        put("transaction_id", t.id.to_string().into());
        put("status_message", "midtrans payment notification".into());
        put("status_code", code.into());
        put(
            "signature_key",
            signature::transaction_signature_key(&t.order_id, code, &gross, key).into(),
        );
        if let Some(at) = t.settled_at_ms {
            put("settlement_time", clock::jakarta(at).into());
        }
        put("payment_type", "gopay".into());
        if t.status.notifies_payment_option() {
            put("payment_option_type", (*t.payment_option).into());
        }
        put("order_id", (*t.order_id).into());
        if let Some(meta) = t.metadata() {
            put("metadata", serde_json::from_str(meta.get()).unwrap());
        }
        put("merchant_id", merchant_id.into());
        put("gross_amount", gross.as_str().into());
        put("fraud_status", "accept".into());
        put("expiry_time", clock::jakarta(t.expires_at_ms).into());
        put("currency", Transaction::CURRENCY.into());
        if let (TxStatus::Deny, Some(r)) = (t.status, t.deny_reason) {
            put(
                "channel_response_message",
                r.channel_response_message.into(),
            );
            put("channel_response_code", r.channel_response_code.into());
        }
        if !t.refunds.is_empty() {
            let refunds = t.refunds.iter().map(|r| refund_value(r, bank_confirmed));
            put("refunds", Value::Array(refunds.collect()));
            put("refund_amount", t.refunded().to_string().into());
        }
        descending(Value::Object(m)).to_string()
    }

    #[test]
    fn a_payment_body_says_what_the_transaction_was_when_it_was_recorded() {
        let mut t = Arc::new(Transaction::sample(TxStatus::Pending));
        let expected = plain(&t, "G1", &t.owner, false);
        let (payload, _) = super::transaction(&t, "G1".into(), false);
        let copy = payload.clone();
        // As the store changes a transaction: copied first, as the notification shares it.
        let changed = Arc::make_mut(&mut t);
        changed.status = TxStatus::Settlement;
        changed.settled_at_ms = Some(1_637_143_900_000);
        assert_eq!(*copy.get(), expected);
        // Written once, for every clone.
        assert!(Arc::ptr_eq(&payload.get(), &copy.get()));
    }

    /// The largest payment notification this server can write fits what a state document may
    /// hold: every refund there can be, each reason as long as it is kept and escaped at every
    /// character, the longest order id and merchant id likewise, and metadata whose numbers
    /// grow when written again (`9e15` is written `9000000000000000.0`).
    #[test]
    fn the_largest_payment_body_fits_the_state_file() {
        let mut t = Transaction::sample(TxStatus::Settlement);
        t.status = TxStatus::PartialRefund;
        t.order_id = "\u{1}".repeat(crate::charges::ORDER_ID_MAX_LEN).into();
        let mut metadata = String::from("[9e15");
        while metadata.len() + 6 <= crate::limits::METADATA_MAX_BYTES {
            metadata.push_str(",9e15");
        }
        metadata.push(']');
        t.extras = crate::charges::Extras {
            metadata: serde_json::value::RawValue::from_string(metadata).ok(),
            ..Default::default()
        }
        .boxed();
        for i in 0..crate::limits::REFUNDS_MAX {
            t.refunds.push(Refund {
                refund_chargeback_id: crate::limits::COUNTER_MAX - i as u64,
                refund_chargeback_uuid: Uuid::new_v4(),
                refund_key: "k".repeat(crate::charges::REFUND_KEY_MAX_LEN).into(),
                refund_amount: Amount::from_units(999_999_999_999),
                reason: Some("\u{1}".repeat(crate::charges::REASON_MAX_CHARS).into()),
                direct: true,
                created_at_ms: 1_637_144_000_000,
            });
        }
        let merchant_id: Arc<str> = "\"".repeat(crate::limits::MERCHANT_ID_MAX_LEN).into();
        let (written, _) = super::transaction(&Arc::new(t), merchant_id, true);
        // What the log counts for it before it is written.
        let weight = written.weight();
        let len = written.get().len();
        assert!(weight >= len, "counted {weight} for {len} bytes");
        assert!(
            written.get().contains(",9000000000000000.0,"),
            "metadata grown"
        );
        assert!(len > 150_000, "the worst case is built: {len}");
        assert!(
            len <= crate::limits::NOTIFICATION_PAYLOAD_MAX_BYTES,
            "{len} bytes"
        );
    }

    /// The log counts a payment body before it is written: for plain text the estimate is at least
    /// the written length and at most twice it, from a bare charge to one with every refund there
    /// can be (the escaped worst case is in the test above).
    #[test]
    fn a_payment_body_s_weight_is_near_its_written_length() {
        let mut t = Transaction::sample(TxStatus::Settlement);
        t.settled_at_ms = Some(1_637_143_900_000);
        for refunds in [0, 1, 10, crate::limits::REFUNDS_MAX] {
            t.status = if refunds == 0 {
                TxStatus::Settlement
            } else {
                TxStatus::PartialRefund
            };
            while t.refunds.len() < refunds {
                t.refunds.push(Refund {
                    refund_chargeback_id: t.refunds.len() as u64 + 1,
                    refund_chargeback_uuid: Uuid::new_v4(),
                    refund_key: "k".repeat(crate::charges::REFUND_KEY_MAX_LEN).into(),
                    refund_amount: Amount::from_units(5),
                    reason: Some("r".repeat(crate::charges::REASON_MAX_CHARS).into()),
                    direct: false,
                    created_at_ms: 1_637_144_000_000,
                });
            }
            let snapshot = PaymentSnapshot {
                transaction: Arc::new(t.clone()),
                merchant_id: "G099098001".into(),
                bank_confirmed: true,
            };
            let (estimate, written) = (snapshot.weight(), snapshot.write().len());
            assert!(
                estimate >= written && estimate <= written * 2,
                "{refunds} refunds: {estimate} for {written}"
            );
        }
    }

    #[test]
    fn the_written_payload_is_the_sorted_map() {
        let pending = Transaction::sample(TxStatus::Pending);
        let mut settled = Transaction::sample(TxStatus::Settlement);
        settled.settled_at_ms = Some(1_637_143_900_000);
        settled.extras = crate::charges::Extras {
            metadata: serde_json::value::to_raw_value(
                &serde_json::json!({"b": {"y": 1, "z": [{"k": "\"q\""}]}, "a": null}),
            )
            .ok(),
            ..Default::default()
        }
        .boxed();
        let mut denied = Transaction::sample(TxStatus::Deny);
        denied.deny_reason = Some(&INSUFFICIENT_BALANCE);
        let mut refunded = settled.clone();
        refunded.status = TxStatus::PartialRefund;
        refunded.refunds.push(Refund {
            refund_chargeback_id: 7,
            refund_chargeback_uuid: Uuid::new_v4(),
            refund_key: "k1".into(),
            refund_amount: Amount::from_units(5),
            reason: Some("size \"L\"".into()),
            direct: false,
            created_at_ms: 1_637_144_000_000,
        });
        for t in [pending, settled, denied, refunded] {
            for confirmed in [false, true] {
                let (written, code) =
                    super::transaction(&Arc::new(t.clone()), "G1\\x".into(), confirmed);
                assert_eq!(code, t.status.notification_code());
                assert_eq!(
                    *written.get(),
                    plain(&t, "G1\\x", &t.owner, confirmed),
                    "{:?}",
                    t.status
                );
            }
        }
    }
}
