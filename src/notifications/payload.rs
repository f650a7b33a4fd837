//! What a notification says: its [`Event`] and the documented body, fields in the documented order,
//! signed with [`super::signature`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::signature;
use crate::accounts::{AccountStatus, Transition};

/// The Pay Account notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    AccountLinked,
    AccountUnlinked,
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
        }
    }

    /// The body's `status_code`.
    pub fn status_code(self) -> &'static str {
        match self {
            Self::AccountLinked => "200",
            Self::AccountUnlinked => "204",
        }
    }

    fn account_status(self) -> AccountStatus {
        match self {
            Self::AccountLinked => AccountStatus::Enabled,
            Self::AccountUnlinked => AccountStatus::Disabled,
        }
    }

    fn status_message(self) -> &'static str {
        match self {
            Self::AccountLinked => "Midtrans account_linked notification",
            Self::AccountUnlinked => "Midtrans account_unlinked notification",
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

/// The signed body of an account notification, as sent.
pub fn account(
    event: Event,
    account_id: &Uuid,
    merchant_id: &str,
    server_key: &str,
) -> Arc<RawValue> {
    let id = account_id.to_string();
    let status = event.account_status().as_str();
    let body = AccountPayload {
        signature_key: signature::signature_key(&id, status, event.status_code(), server_key),
        account_id: &id,
        merchant_id,
        payment_type: "gopay",
        status_code: event.status_code(),
        account_status: status,
        status_message: event.status_message(),
    };
    // A struct of strings always serialises; `null` only stands in for the impossible.
    serde_json::value::to_raw_value(&body)
        .map(Arc::from)
        .unwrap_or_else(|_| Arc::from(RawValue::NULL.to_owned()))
}
