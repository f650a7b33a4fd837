//! Notifications: what is sent ([`payload`]), how it is signed ([`signature`]), the bounded log and
//! queue of every notification and attempt ([`log`]), and one HTTP attempt with Midtrans' retry
//! policy ([`delivery`]).
//!
//! This module knows nothing of accounts changing or of the app's state: `transitions.rs` records a
//! notification here when an account changes, and the scheduler (`scheduler.rs`) takes due attempts
//! off the queue, performs them through [`delivery`], and records their outcome here. A payload is
//! kept as the exact JSON that is sent, so another kind of notification is a new payload builder and
//! a new [`Event`], not a new engine.

pub mod delivery;
pub mod log;
pub mod payload;
pub mod signature;

use std::collections::VecDeque;
use std::sync::Arc;

use compact_str::CompactString;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::clock::{ser_rfc3339, ser_rfc3339_opt};
use crate::shared_text::SharedText;

pub use log::{Notifications, Recorded};
pub use payload::Event;

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// An attempt is due or under way.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// No retries left (or an answer Midtrans does not retry, or a loop refused).
    Failed,
    /// No notification URL was configured when it was due; nothing was sent.
    Undelivered,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Undelivered => "undelivered",
        }
    }
}

/// A notification's body, exactly as it is sent: JSON text, written once. The control API shows it
/// as JSON (not as a string); it is checked to be JSON only then, not on the hot path of a charge.
///
/// A payment notification's body is written when it is first needed (its first attempt, the control
/// API, the dashboard, the state file) from a copy of the transaction taken when it was recorded, so
/// it says the same whenever it is written. A charge with no notification URL and no one looking
/// (most charges in a test suite) never pays for writing and signing it, a fifth of a charge (see
/// BENCHMARKS.md). Once written, the copy is dropped.
#[derive(Clone)]
pub struct Payload(Arc<Mutex<Body>>);

enum Body {
    Written(Arc<str>),
    Payment(payload::PaymentSnapshot),
}

impl Payload {
    /// `json` must be JSON text (every builder in [`payload`] writes it so).
    pub fn new(json: String) -> Self {
        Self(Arc::new(Mutex::new(Body::Written(Arc::from(json)))))
    }

    fn payment(snapshot: payload::PaymentSnapshot) -> Self {
        Self(Arc::new(Mutex::new(Body::Payment(snapshot))))
    }

    /// The text, written now if it has not been yet.
    pub fn get(&self) -> Arc<str> {
        let mut body = self.0.lock();
        let text: Arc<str> = match &*body {
            Body::Written(text) => return text.clone(),
            Body::Payment(snapshot) => snapshot.write().into(),
        };
        *body = Body::Written(text.clone());
        text
    }

    /// About how many bytes the body takes: its length once written; before, an estimate from the
    /// transaction it will be written from.
    pub fn weight(&self) -> usize {
        match &*self.0.lock() {
            Body::Written(text) => text.len(),
            Body::Payment(snapshot) => snapshot.weight(),
        }
    }

    /// The body as a JSON value (tests and the control API).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Payload").field(&self.get()).finish()
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.get();
        match serde_json::from_str::<&RawValue>(&text) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_str(&text),
        }
    }
}

/// One attempt, as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1 for the first attempt ever made, counting those no longer kept.
    pub number: u32,
    #[serde(serialize_with = "ser_rfc3339")]
    pub at: u64,
    pub url: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub redirects: usize,
    pub duration_ms: f64,
}

/// Where a notification's attempts go; each attempt looks the URL up anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "url", rename_all = "snake_case")]
pub enum Target {
    /// The merchant's Account linking notification URL.
    Linking,
    /// The merchant's Payment Notification URL.
    Payment,
    /// A URL the charge named (`X-Override-Notification`, `X-Append-Notification`).
    Url(Arc<str>),
}

/// The transaction a payment notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionRef {
    pub transaction_id: Uuid,
    pub order_id: CompactString,
    pub transaction_status: crate::charges::TxStatus,
}

/// A notification and everything that happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: u64,
    pub event: Event,
    pub account_id: Uuid,
    /// The transaction, for a payment notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<TransactionRef>,
    /// The merchant (server key) it is for; it also signed it.
    pub server_key: SharedText,
    /// Where its attempts go.
    pub target: Target,
    /// Where the last attempt went (each attempt goes to the merchant's URL of the moment).
    pub url: Option<String>,
    pub state: DeliveryState,
    #[serde(serialize_with = "ser_rfc3339")]
    pub created_at: u64,
    #[serde(serialize_with = "ser_rfc3339_opt")]
    pub next_attempt_at: Option<u64>,
    /// The body, exactly as it is sent.
    pub payload: Payload,
    /// The newest [`log::ATTEMPTS_KEPT`] attempts, oldest first.
    pub attempts: VecDeque<Attempt>,
    /// Every attempt made, including those no longer kept.
    pub attempts_total: u32,
    /// The payload's `status_code`, for filtering.
    #[serde(skip)]
    pub status_code: &'static str,
    /// Retries done since the last (first or manual) attempt.
    #[serde(skip)]
    pub(crate) retries: u32,
    /// An attempt is under way.
    #[serde(skip)]
    pub(crate) in_flight: bool,
    /// A manual retry was asked for while an attempt was under way: it runs when that one ends.
    #[serde(skip)]
    pub(crate) rerun: bool,
    /// Its [`Notification::weight`] as the log counted it (set when the log takes it).
    #[serde(skip)]
    pub(crate) weight: usize,
}

impl Notification {
    /// About how many bytes it holds: itself, its body and its kept attempts. The log keeps
    /// the sum under [`crate::limits::NOTIFICATION_LOG_BYTES`].
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            .saturating_add(self.payload.weight())
            .saturating_add(self.attempts_weight())
    }

    /// The part that changes with each attempt: the last URL and the kept attempts.
    fn attempts_weight(&self) -> usize {
        let attempts = self.attempts.iter().map(|a| {
            std::mem::size_of::<Attempt>()
                .saturating_add(a.url.len())
                .saturating_add(a.error.as_ref().map_or(0, String::len))
        });
        self.url
            .as_ref()
            .map_or(0, String::len)
            .saturating_add(attempts.fold(0, usize::saturating_add))
    }
}
