//! Pay Account notifications: what is sent ([`Payload`]), how it is signed ([`signature`]), delivered
//! and retried ([`delivery`]), and the log of every notification and attempt.
//!
//! Flow: a transition calls [`AppState::notify`], which records the notification and queues its first
//! attempt "now" on the mock clock. The scheduler (`scheduler.rs`) starts due attempts as tasks; each
//! attempt records its outcome and, per the retry policy, queues the next one on the mock clock.
//! Nothing here holds a lock across I/O, and no API request waits for a delivery.

pub mod delivery;
pub mod signature;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, Transition, TransitionError};
use crate::app::AppState;
use crate::clock::rfc3339;
use delivery::AttemptResult;

/// The two Pay Account notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    fn status_code(self) -> &'static str {
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

/// The notification body, fields in the documented order.
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub account_id: String,
    pub merchant_id: String,
    pub payment_type: &'static str,
    pub signature_key: String,
    pub status_code: &'static str,
    pub account_status: &'static str,
    pub status_message: &'static str,
}

impl Payload {
    pub fn new(event: Event, account_id: &Uuid, merchant_id: &str, server_key: &str) -> Self {
        let account_id = account_id.to_string();
        let status = event.account_status().as_str();
        Self {
            signature_key: signature::signature_key(
                &account_id,
                status,
                event.status_code(),
                server_key,
            ),
            account_id,
            merchant_id: merchant_id.to_string(),
            payment_type: "gopay",
            status_code: event.status_code(),
            account_status: status,
            status_message: event.status_message(),
        }
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// An attempt is due or under way.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// No retries left (or a 301/302/303, which Midtrans does not retry).
    Failed,
    /// No notification URL was configured; nothing was sent.
    Undelivered,
}

/// One attempt, as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub number: u32,
    pub at: String,
    #[serde(skip)]
    pub at_ms: u64,
    pub url: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub redirects: usize,
    pub duration_ms: f64,
}

/// A notification and everything that happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: u64,
    pub event: Event,
    pub account_id: Uuid,
    /// The merchant (server key) it is for; it also signed it.
    pub server_key: String,
    pub url: Option<String>,
    pub state: DeliveryState,
    pub created_at: String,
    #[serde(skip)]
    pub created_at_ms: u64,
    pub next_attempt_at: Option<String>,
    pub payload: Payload,
    pub attempts: Vec<Attempt>,
    /// Retries done since the last (first or manual) attempt.
    #[serde(skip)]
    retries: u32,
}

/// The log keeps this many notifications; past it the oldest finished ones are forgotten, so a
/// server left running for days does not grow without end.
pub const LOG_CAPACITY: usize = 100_000;

#[derive(Default)]
struct Log {
    next_id: u64,
    entries: BTreeMap<u64, Notification>,
    /// Attempts due on the mock clock: (due time, notification id).
    due: BTreeSet<(u64, u64)>,
}

/// The notification log, the queue of due attempts and the HTTP client.
pub struct Notifications {
    log: Mutex<Log>,
    /// Wakes whoever waits for a change in the log (control API waits).
    changed: Notify,
    /// Wakes the scheduler when an attempt is queued or the clock moves.
    pub(crate) wake: Notify,
    client: reqwest::Client,
}

impl Notifications {
    pub fn new(timeout: Duration) -> Self {
        Self {
            log: Mutex::default(),
            changed: Notify::new(),
            wake: Notify::new(),
            client: delivery::client(timeout),
        }
    }

    /// Records a notification and queues its first attempt at `now_ms`; `url` None records it
    /// undelivered.
    pub fn record(
        &self,
        event: Event,
        account: &Account,
        server_key: String,
        url: Option<String>,
        merchant_id: &str,
        now_ms: u64,
    ) -> u64 {
        let payload = Payload::new(event, &account.id, merchant_id, &server_key);
        let mut log = self.log.lock();
        log.next_id += 1;
        let id = log.next_id;
        let state = if url.is_some() {
            log.due.insert((now_ms, id));
            DeliveryState::Pending
        } else {
            DeliveryState::Undelivered
        };
        log.entries.insert(
            id,
            Notification {
                id,
                event,
                account_id: account.id,
                server_key,
                url,
                state,
                created_at: rfc3339(now_ms),
                created_at_ms: now_ms,
                next_attempt_at: (state == DeliveryState::Pending).then(|| rfc3339(now_ms)),
                payload,
                attempts: Vec::new(),
                retries: 0,
            },
        );
        if log.entries.len() > LOG_CAPACITY {
            let oldest_finished = log
                .entries
                .iter()
                .find(|(_, n)| n.state != DeliveryState::Pending)
                .map(|(&id, _)| id);
            if let Some(id) = oldest_finished {
                log.entries.remove(&id);
            }
        }
        drop(log);
        self.wake.notify_one();
        self.changed.notify_waiters();
        id
    }

    /// Takes the attempts due at `now_ms` off the queue; returns their ids and the next due time.
    pub(crate) fn take_due(&self, now_ms: u64) -> (Vec<u64>, Option<u64>) {
        let mut log = self.log.lock();
        let mut ids = Vec::new();
        while let Some(&(at, id)) = log.due.first() {
            if at > now_ms {
                break;
            }
            log.due.pop_first();
            ids.push(id);
        }
        let next = log.due.first().map(|&(at, _)| at);
        (ids, next)
    }

    /// Makes one attempt for notification `id` and records it; schedules a retry if the policy
    /// allows one.
    pub(crate) async fn attempt(&self, app: &AppState, id: u64) {
        let target = {
            let log = self.log.lock();
            log.entries.get(&id).and_then(|n| {
                let body = serde_json::to_string(&n.payload).ok()?;
                Some((n.url.clone()?, body))
            })
        };
        let Some((url, body)) = target else { return };
        let at_ms = app.clock.now_ms();
        let result = delivery::post(&self.client, &url, &body).await;
        let schedule = app.settings.read().retry_schedule.clone();
        self.finish(id, at_ms, &result, &schedule, app.clock.now_ms());
    }

    fn finish(
        &self,
        id: u64,
        at_ms: u64,
        result: &AttemptResult,
        schedule: &[Duration],
        now_ms: u64,
    ) {
        let mut log = self.log.lock();
        let Some(n) = log.entries.get_mut(&id) else {
            return;
        };
        n.attempts.push(Attempt {
            number: n.attempts.len() as u32 + 1,
            at: rfc3339(at_ms),
            at_ms,
            url: result.final_url.clone(),
            http_status: result.status,
            error: result.error.clone(),
            redirects: result.redirects,
            duration_ms: (result.duration.as_secs_f64() * 1e6).round() / 1e3,
        });
        let mut retry_at = None;
        if result.delivered() {
            n.state = DeliveryState::Delivered;
        } else if n.retries < delivery::retries_for(result) {
            let delay = schedule
                .get(n.retries as usize)
                .or(schedule.last())
                .copied()
                .unwrap_or_default();
            n.retries += 1;
            n.state = DeliveryState::Pending;
            let at = now_ms + delay.as_millis() as u64;
            retry_at = Some(at);
            n.next_attempt_at = Some(rfc3339(at));
        } else {
            n.state = DeliveryState::Failed;
        }
        if retry_at.is_none() {
            n.next_attempt_at = None;
        }
        if let Some(at) = retry_at {
            log.due.insert((at, id));
        }
        drop(log);
        self.wake.notify_one();
        self.changed.notify_waiters();
    }

    /// Queues an immediate attempt of a logged notification to `url` (the current setting), with a
    /// fresh retry budget. None if there is no such notification.
    pub fn retry(&self, id: u64, url: Option<String>, now_ms: u64) -> Option<Notification> {
        let mut log = self.log.lock();
        let n = log.entries.get_mut(&id)?;
        n.url = url.or(n.url.take());
        n.retries = 0;
        let queued = n.url.is_some();
        n.state = if queued {
            DeliveryState::Pending
        } else {
            DeliveryState::Undelivered
        };
        n.next_attempt_at = queued.then(|| rfc3339(now_ms));
        let copy = n.clone();
        if queued {
            log.due.retain(|&(_, other)| other != id);
            log.due.insert((now_ms, id));
        }
        drop(log);
        self.wake.notify_one();
        self.changed.notify_waiters();
        Some(copy)
    }

    pub fn get(&self, id: u64) -> Option<Notification> {
        self.log.lock().entries.get(&id).cloned()
    }

    /// Every logged notification matching the filter, oldest first.
    pub fn list(&self, filter: impl Fn(&Notification) -> bool) -> Vec<Notification> {
        self.log
            .lock()
            .entries
            .values()
            .filter(|n| filter(n))
            .cloned()
            .collect()
    }

    /// Forgets everything, or one merchant's notifications.
    pub fn clear(&self, server_key: Option<&str>) {
        let mut log = self.log.lock();
        match server_key {
            None => {
                log.entries.clear();
                log.due.clear();
            }
            Some(key) => {
                log.entries.retain(|_, n| n.server_key != key);
                let Log { entries, due, .. } = &mut *log;
                due.retain(|(_, id)| entries.contains_key(id));
            }
        }
        drop(log);
        self.changed.notify_waiters();
    }

    /// Waits until `done` holds for the log (by notification id), or the timeout passes; returns
    /// whether it held. `done` runs under the log lock after every change: keep it cheap.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&BTreeMap<u64, Notification>) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.log.lock().entries) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }
}

impl Default for Notifications {
    fn default() -> Self {
        Self::new(delivery::DEFAULT_TIMEOUT)
    }
}

impl AppState {
    /// Applies a transition and queues the notification it sends, if any: the one way every caller
    /// (the Midtrans API, the control API, the activation pages) changes an account.
    /// `server_key` scopes the lookup; `None` (control API, pages) reaches every account.
    pub fn apply(
        &self,
        id: &Uuid,
        server_key: Option<&str>,
        transition: Transition,
    ) -> Result<(Account, Option<u64>), TransitionError> {
        let account =
            self.store
                .transition(id, server_key, transition, self.clock.now_ms(), |a| {
                    self.default_payment_options(a)
                })?;
        let silent = transition == Transition::Unbind && !self.settings.read().unbind_notification;
        let notification = if silent {
            None
        } else {
            self.notify(&account, transition, server_key)
        };
        Ok((account, notification))
    }

    /// Sends a logged notification again now, to its merchant's current notification URL, with a
    /// fresh retry budget. None if there is no such notification.
    pub fn retry_notification(&self, id: u64) -> Option<Notification> {
        let key = self.notifications.get(id)?.server_key;
        let url = self.settings.read().notification_url_for(&key);
        self.notifications.retry(id, url, self.clock.now_ms())
    }

    /// Records and queues the notification a transition sends (none for expiry). `acting_key` is the
    /// server key of the request that caused it, if any. Returns the notification id.
    pub fn notify(
        &self,
        account: &Account,
        transition: Transition,
        acting_key: Option<&str>,
    ) -> Option<u64> {
        let event = Event::for_transition(transition)?;
        Some(self.notify_event(account, event, acting_key))
    }

    /// Records and queues a notification of `event` about `account`.
    pub fn notify_event(&self, account: &Account, event: Event, acting_key: Option<&str>) -> u64 {
        let key = self.signing_key(account, acting_key);
        let (url, merchant_id) = {
            let settings = self.settings.read();
            (
                settings.notification_url_for(&key),
                settings.merchant_id.clone(),
            )
        };
        self.notifications
            .record(event, account, key, url, &merchant_id, self.clock.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_forgets_its_oldest_finished_notification_past_its_capacity() {
        let log = Notifications::default();
        let account = Account::new(Uuid::nil(), AccountStatus::Enabled, "81", "62", None, 0);
        for _ in 0..=LOG_CAPACITY {
            log.record(Event::AccountLinked, &account, "k".into(), None, "M1", 0);
        }
        assert!(log.get(1).is_none());
        assert!(log.get(2).is_some());
        assert_eq!(log.list(|_| true).len(), LOG_CAPACITY);
    }
}
