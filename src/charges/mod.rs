//! GoPay Tokenization charges: the transactions a merchant makes with a linked account, their state
//! machine ([`TxStatus`], [`TxChange`]), the outcome table of a new charge ([`decide`]), and the
//! in-memory [`store`].
//!
//! Nothing here records notifications or touches balances: `payments.rs` is where a transaction
//! changes, moves money on the account, and records what is sent.

pub mod decide;
pub mod store;

use std::sync::Arc;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::limits;
use crate::money::Amount;
use crate::shared_text::SharedText;

pub use store::TransactionStore;

/// A transaction's status, as Midtrans names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    Pending,
    Authorize,
    Settlement,
    Deny,
    Expire,
    Cancel,
    Refund,
    PartialRefund,
}

impl TxStatus {
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Authorize,
        Self::Settlement,
        Self::Deny,
        Self::Expire,
        Self::Cancel,
        Self::Refund,
        Self::PartialRefund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorize => "authorize",
            Self::Settlement => "settlement",
            Self::Deny => "deny",
            Self::Expire => "expire",
            Self::Cancel => "cancel",
            Self::Refund => "refund",
            Self::PartialRefund => "partial_refund",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The `status_code` of a notification about this status (reference 6.1).
    pub fn notification_code(self) -> &'static str {
        match self {
            Self::Pending => "201",
            Self::Deny | Self::Expire | Self::Cancel => "202",
            Self::Authorize | Self::Settlement | Self::Refund | Self::PartialRefund => "200",
        }
    }

    /// Whether a notification about this status names the option charged. The documentation
    /// lists settlement, expire, refund and partial refund; its cancel sample has it too, and its
    /// pending and deny samples do not (reference 6.1). Authorize is not documented: it has the
    /// option it holds.
    pub fn notifies_payment_option(self) -> bool {
        !matches!(self, Self::Pending | Self::Deny)
    }

    /// The `status_code` of `GET /v2/{id}/status` in this status (reference 4): `"407"` for an
    /// expired transaction, which every official client treats as a success.
    pub fn status_code(self) -> &'static str {
        match self {
            Self::Pending => "201",
            Self::Deny => "202",
            Self::Expire => "407",
            Self::Authorize
            | Self::Settlement
            | Self::Cancel
            | Self::Refund
            | Self::PartialRefund => "200",
        }
    }

    /// Whether the transaction's `order_id` may be charged again (reference 2.2: after an expiry, a
    /// cancel while pending, or a deny).
    pub fn frees_order_id(self, cancelled_while: Option<TxStatus>) -> bool {
        match self {
            Self::Expire | Self::Deny => true,
            Self::Cancel => cancelled_while == Some(Self::Pending),
            _ => false,
        }
    }
}

/// A change a transaction can go through after its charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxChange {
    /// The customer entered the PIN (or the control API settled it): pending → settlement.
    Settle,
    /// The customer was denied: pending → deny.
    Deny,
    /// Pending past its expiry, or `POST /v2/{id}/expire`: pending → expire; also an authorization
    /// whose hold lapsed.
    Expire,
    /// `POST /v2/{id}/cancel`: pending or authorize → cancel.
    Cancel,
    /// `POST /v2/capture`: authorize → settlement.
    Capture,
}

impl TxChange {
    /// The status it leads to from `from`, if it is allowed there.
    pub fn apply(self, from: TxStatus) -> Option<TxStatus> {
        use TxStatus as S;
        match (self, from) {
            (Self::Settle, S::Pending) | (Self::Capture, S::Authorize) => Some(S::Settlement),
            (Self::Deny, S::Pending) => Some(S::Deny),
            (Self::Expire, S::Pending | S::Authorize) => Some(S::Expire),
            (Self::Cancel, S::Pending | S::Authorize) => Some(S::Cancel),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Settle => "settle",
            Self::Deny => "deny",
            Self::Expire => "expire",
            Self::Cancel => "cancel",
            Self::Capture => "capture",
        }
    }
}

/// Longest `order_id` Midtrans takes.
pub const ORDER_ID_MAX_LEN: usize = 50;
/// Longest `refund_key`.
pub const REFUND_KEY_MAX_LEN: usize = 50;
/// A refund's `reason` is kept up to this many characters.
pub const REASON_MAX_CHARS: usize = 255;

/// What is wrong with an order id, if anything, as the charge and an imported state document
/// check it.
///
/// # Errors
/// Empty, too long, or a character Midtrans refuses; the message names `order_id`.
pub fn check_order_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        Err("order_id is required".into())
    } else if id.chars().count() > ORDER_ID_MAX_LEN {
        Err(format!(
            "order_id must be at most {ORDER_ID_MAX_LEN} characters"
        ))
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '.'))
    {
        Err("order_id may contain only letters, digits and - _ ~ .".into())
    } else {
        Ok(())
    }
}

/// What is wrong with a charge's `metadata` (JSON text), if anything, as the charge and an
/// imported state document check it: it is kept and echoed in every status answer and
/// notification, so it is bounded, and holds no number that most JSON readers cannot take.
///
/// # Errors
/// Over [`limits::METADATA_MAX_BYTES`] or [`limits::METADATA_MAX_DEPTH`], or a number no double
/// holds (such as `1e400`).
pub fn check_metadata(json: &str) -> Result<(), String> {
    if json.len() > limits::METADATA_MAX_BYTES {
        return Err(format!(
            "metadata must be at most {} bytes of JSON",
            limits::METADATA_MAX_BYTES
        ));
    }
    if crate::json::depth(json) > limits::METADATA_MAX_DEPTH {
        return Err(format!(
            "metadata must nest at most {} levels deep",
            limits::METADATA_MAX_DEPTH
        ));
    }
    if crate::json::has_lone_surrogate(json.as_bytes()) {
        return Err("metadata must not hold half a surrogate pair (such as \\ud800)".into());
    }
    if !crate::json::numbers_fit(json) {
        return Err("metadata must not hold a number too large for a double".into());
    }
    Ok(())
}

/// What is wrong with a `refund_key`, if anything, as a refund and an imported state document
/// check it.
///
/// # Errors
/// Empty, too long, or a character other than a letter, a digit, `-` or `_`.
pub fn check_refund_key(key: &str) -> Result<(), String> {
    let fine = !key.is_empty()
        && key.len() <= REFUND_KEY_MAX_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(format!(
            "refund_key may contain only letters, digits, - and _ (at most {REFUND_KEY_MAX_LEN})"
        ))
    }
}

/// One refund of a settled transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    /// Small and sequential, so that JavaScript clients read it exactly (a JSON number).
    pub refund_chargeback_id: u64,
    pub refund_chargeback_uuid: Uuid,
    pub refund_key: Box<str>,
    pub refund_amount: Amount,
    pub reason: Option<Box<str>>,
    /// Through `/refund/online/direct`.
    pub direct: bool,
    pub created_at_ms: u64,
}

/// Where a transaction's notifications go (reference 6.3).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", content = "urls", rename_all = "snake_case")]
pub enum NotifyTo {
    /// The merchant's Payment Notification URL of the moment.
    #[default]
    Merchant,
    /// `X-Override-Notification`: these URLs instead.
    Override(Vec<String>),
    /// `X-Append-Notification`: the merchant's URL and these.
    Append(Vec<String>),
}

/// Why a transaction was denied, as its body and notification say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenyReason {
    pub channel_response_code: &'static str,
    pub channel_response_message: &'static str,
}

/// The sandbox's insufficient-balance denial (reference 2.3).
pub static INSUFFICIENT_BALANCE: DenyReason = DenyReason {
    channel_response_code: "201",
    channel_response_message: "Insufficient Balance",
};

/// A GoPay Tokenization transaction as the mock keeps it.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub id: Uuid,
    /// Inline up to 24 bytes (most order ids): no allocation of its own per charge.
    pub order_id: CompactString,
    /// The server key that charged it; it signs its notifications.
    pub owner: SharedText,
    pub account_id: Uuid,
    /// The payment option charged (`payment_option_type` in notifications).
    pub payment_option: Arc<str>,
    pub gross_amount: Amount,
    pub status: TxStatus,
    /// The status a cancel came from (an order id is free again after a cancel while pending).
    pub cancelled_while: Option<TxStatus>,
    pub pre_auth: bool,
    pub recurring: bool,
    /// `None` when the charge sent none of them (most do not): see [`Extras`].
    pub extras: Option<Box<Extras>>,
    pub deny_reason: Option<&'static DenyReason>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub settled_at_ms: Option<u64>,
    /// When a pending transaction expires (or an authorization's hold lapses).
    pub expires_at_ms: u64,
    /// When the verification links stop working.
    pub links_expire_at_ms: u64,
    /// The one-time web PIN page was submitted.
    pub web_link_used: bool,
    pub refunds: Vec<Refund>,
    /// Its place in creation order (set by the store): the cursor of transaction pages.
    pub seq: u64,
}

/// What few charges send, kept in one box so that a transaction without any is 32 bytes smaller
/// (a settled charge's memory is most of its cost at c32: see BENCHMARKS.md).
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub callback_url: Option<Box<str>>,
    /// The request's `metadata`, echoed in status answers and notifications.
    pub metadata: Option<Box<serde_json::value::RawValue>>,
    pub notify_to: NotifyTo,
}

impl Extras {
    /// `None` when there is nothing to keep.
    pub fn boxed(self) -> Option<Box<Self>> {
        let empty = self.callback_url.is_none()
            && self.metadata.is_none()
            && self.notify_to == NotifyTo::Merchant;
        (!empty).then(|| Box::new(self))
    }
}

#[cfg(test)]
impl Transaction {
    /// A transaction for tests, with fixed times (so that written payloads can be compared) and
    /// fresh ids.
    pub(crate) fn sample(status: TxStatus) -> Self {
        Self {
            id: Uuid::new_v4(),
            order_id: "order-\u{1}1".into(),
            owner: SharedText::from("SB-Mid-server-TESTKEY123"),
            account_id: Uuid::new_v4(),
            payment_option: Arc::from("GOPAY_WALLET"),
            gross_amount: Amount::from_units(100_000),
            status,
            cancelled_while: None,
            pre_auth: false,
            recurring: false,
            extras: None,
            deny_reason: None,
            created_at_ms: 1_637_143_806_000,
            updated_at_ms: 1_637_143_806_000,
            settled_at_ms: None,
            expires_at_ms: 1_637_144_706_000,
            links_expire_at_ms: 1_637_144_106_000,
            web_link_used: false,
            refunds: Vec::new(),
            seq: 1,
        }
    }
}

impl Transaction {
    /// Always `IDR`, the only currency a charge accepts.
    pub const CURRENCY: &'static str = "IDR";

    /// Where the PIN page sends the customer after paying (`gopay.callback_url`).
    pub fn callback_url(&self) -> Option<&str> {
        self.extras.as_ref()?.callback_url.as_deref()
    }

    pub fn metadata(&self) -> Option<&serde_json::value::RawValue> {
        self.extras.as_ref()?.metadata.as_deref()
    }

    /// Where its notifications go.
    pub fn notify_to(&self) -> &NotifyTo {
        self.extras
            .as_ref()
            .map_or(&NotifyTo::Merchant, |e| &e.notify_to)
    }

    pub fn refunded(&self) -> Amount {
        self.refunds
            .iter()
            .fold(Amount::ZERO, |sum, r| sum.saturating_add(r.refund_amount))
    }
}

/// Verification link ids are derived from transaction ids (as activation links are from account
/// ids): no index, no extra random draw.
const LINK_MASK: u128 = 0x3c5a_e196_1f0e_270b_2b0d_497c_a1e8_f536;

pub fn link_id_of(transaction_id: &Uuid) -> Uuid {
    Uuid::from_u128(transaction_id.as_u128() ^ LINK_MASK)
}

pub fn transaction_id_of_link(link_id: &Uuid) -> Uuid {
    Uuid::from_u128(link_id.as_u128() ^ LINK_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settled charge's memory is most of its cost at c32 (BENCHMARKS.md): a field added to
    /// every transaction should be a choice, not an accident.
    #[test]
    fn a_transaction_stays_small() {
        assert!(std::mem::size_of::<Transaction>() <= 200);
    }

    #[test]
    fn the_state_machine_allows_only_documented_moves() {
        use TxChange as C;
        use TxStatus as S;
        assert_eq!(C::Settle.apply(S::Pending), Some(S::Settlement));
        assert_eq!(C::Capture.apply(S::Authorize), Some(S::Settlement));
        assert_eq!(C::Cancel.apply(S::Authorize), Some(S::Cancel));
        assert_eq!(C::Expire.apply(S::Authorize), Some(S::Expire));
        for from in [
            S::Settlement,
            S::Deny,
            S::Expire,
            S::Cancel,
            S::Refund,
            S::PartialRefund,
        ] {
            for change in [C::Settle, C::Deny, C::Expire, C::Cancel, C::Capture] {
                assert_eq!(change.apply(from), None, "{change:?} from {from:?}");
            }
        }
        assert_eq!(C::Capture.apply(S::Pending), None);
        for s in TxStatus::ALL {
            assert_eq!(TxStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn link_ids_round_trip() {
        let id = Uuid::new_v4();
        assert_ne!(link_id_of(&id), id);
        assert_eq!(transaction_id_of_link(&link_id_of(&id)), id);
    }
}
