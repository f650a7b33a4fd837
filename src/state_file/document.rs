//! The document's shape: what a state file holds, field by field.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::accounts::AccountStatus;
use crate::charges::{NotifyTo, TxStatus};
use crate::fixtures::PhoneScenario;
use crate::notifications::{DeliveryState, Event, Target};

/// The document.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    pub version: u32,
    /// When it was written, on the mock clock (for people; not read back).
    pub saved_at: String,
    pub clock: SavedClock,
    pub ids: SavedIds,
    /// The runtime config, in the shape `PATCH /__admin/config` takes.
    pub config: SavedConfig,
    pub phone_numbers: SavedScenarios,
    pub accounts: Vec<SavedAccount>,
    pub transactions: SavedTransactions,
    pub notifications: SavedNotifications,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClock {
    /// How far the clock had been advanced; it goes on from there.
    pub offset_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedIds {
    /// The `--seed` of the server that wrote it.
    pub seed: Option<u64>,
    /// Where that seed's id stream was (a decimal string: it does not fit a JSON number). A server
    /// started with the same seed goes on from there; any other makes ids of its own. `null`
    /// without a seed: random ids have no place to go on from.
    pub position: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedConfig {
    pub notification_url: Option<String>,
    pub notification_urls: std::collections::BTreeMap<String, String>,
    pub merchant_id: String,
    pub activation_ttl: String,
    pub retry_schedule: Vec<String>,
    pub unbind_notification: bool,
    pub payment_notification_url: Option<String>,
    pub payment_notification_urls: std::collections::BTreeMap<String, String>,
    pub gopay_merchant_id: String,
    /// Whole IDR.
    pub pin_threshold: u64,
    pub verification_link_ttl: String,
    pub transaction_ttl: String,
    pub pre_auth_hold: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedScenarios {
    /// Scenarios added or replaced at run time.
    pub added: Vec<SavedScenario>,
    /// The fixtures' numbers removed until the next reset.
    pub hidden: Vec<HiddenNumber>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedScenario {
    /// `null`: every merchant's.
    pub server_key: Option<String>,
    pub scenario: PhoneScenario,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiddenNumber {
    pub phone_number: String,
    pub country_code: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedAccount {
    pub account_id: Uuid,
    /// `null`: a shared fixture account.
    pub server_key: Option<String>,
    pub account_status: AccountStatus,
    pub phone_number: String,
    pub country_code: String,
    pub redirect_url: Option<String>,
    pub web_link_used: bool,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    pub payment_options: Vec<SavedOption>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOption {
    pub name: String,
    pub active: bool,
    pub balance: String,
    pub currency: String,
    /// A token written as given (fixtures), or `null` for a generated one ...
    pub token: Option<String>,
    /// ... made from this id.
    pub token_id: Option<Uuid>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTransactions {
    /// The last `refund_chargeback_id` given.
    pub last_refund_id: u64,
    pub items: Vec<SavedTransaction>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTransaction {
    pub transaction_id: Uuid,
    pub order_id: String,
    pub server_key: String,
    pub account_id: Uuid,
    pub payment_option: String,
    pub gross_amount: String,
    pub transaction_status: TxStatus,
    pub cancelled_while: Option<TxStatus>,
    pub pre_auth: bool,
    pub recurring: bool,
    pub callback_url: Option<String>,
    pub metadata: Option<Box<RawValue>>,
    /// The `channel_response_code` of a denial.
    pub deny_code: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub settled_at_ms: Option<u64>,
    pub expires_at_ms: u64,
    pub links_expire_at_ms: u64,
    pub web_link_used: bool,
    pub refunds: Vec<SavedRefund>,
    /// `null`: the merchant's Payment Notification URL.
    pub notify_to: Option<NotifyTo>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRefund {
    pub refund_chargeback_id: u64,
    pub refund_chargeback_uuid: Uuid,
    pub refund_key: String,
    pub refund_amount: String,
    pub reason: Option<String>,
    pub direct: bool,
    pub created_at_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedNotifications {
    /// The id the last notification got.
    pub last_id: u64,
    pub items: Vec<SavedNotification>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedNotification {
    pub id: u64,
    pub event: Event,
    pub status_code: String,
    pub account_id: Uuid,
    pub transaction: Option<crate::notifications::TransactionRef>,
    pub server_key: String,
    pub target: Target,
    pub url: Option<String>,
    pub state: DeliveryState,
    pub created_at_ms: u64,
    /// When the next attempt is due; an attempt under way when the state was read is due at once.
    pub next_attempt_at_ms: Option<u64>,
    /// The body exactly as it is sent (JSON text).
    pub payload: String,
    pub attempts: Vec<SavedAttempt>,
    pub attempts_total: u32,
    /// Retries made since the last first or manual attempt.
    pub retries: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedAttempt {
    pub number: u32,
    pub at_ms: u64,
    pub url: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub redirects: usize,
    pub duration_ms: f64,
}
