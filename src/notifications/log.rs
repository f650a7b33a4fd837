//! The notification log and the queue of due attempts.
//!
//! # Bounds and costs
//! The log keeps at most `capacity` notifications (`--notification-log-size`); recording one more
//! drops the oldest, pending or not. Each keeps its newest [`ATTEMPTS_KEPT`] attempts. Every change
//! is O(log n): notifications are ordered by id, indexed by account and by server key, and due
//! attempts are ordered by time. Lists are pages read through an index; waiters look only at what
//! changed since they last looked (a short feed of changed ids), and rescan only if they fell behind
//! it. One `parking_lot::Mutex` guards it all; nothing awaits or does I/O under it.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

use super::delivery::{self, AttemptResult};
use super::{Attempt, DeliveryState, Event, Notification, Payload, Target, TransactionRef};
use crate::clock;
use crate::paging::{Order, SCAN_BUDGET};

/// Attempts kept per notification; older ones are counted in `attempts_total` only.
pub const ATTEMPTS_KEPT: usize = 50;
/// Changes a waiter can fall behind by before it has to rescan.
const CHANGE_FEED: usize = 4096;
/// Waits that may be under way at once.
pub const MAX_WAITERS: usize = 1024;

/// A notification to record.
pub struct Recorded {
    pub event: Event,
    /// The body's `status_code`.
    pub status_code: &'static str,
    pub account_id: Uuid,
    /// The transaction it is about (payment notifications).
    pub transaction: Option<TransactionRef>,
    pub server_key: Arc<str>,
    pub payload: Payload,
    /// Where its attempts go.
    pub target: Target,
    /// Where it would go now; `None` records it undelivered.
    pub url: Option<String>,
}

/// An attempt taken off the queue: what to send, and for which merchant.
pub struct Due {
    pub id: u64,
    pub server_key: Arc<str>,
    pub target: Target,
    pub payload: Payload,
}

/// What became of an attempt.
pub enum Outcome {
    /// It was sent to `url`.
    Sent { at_ms: u64, result: AttemptResult },
    /// The merchant has no notification URL any more: nothing was sent.
    NoUrl,
}

/// Which notifications a list or a wait is about; every field is optional.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub account_id: Option<Uuid>,
    pub server_key: Option<String>,
    pub event: Option<Event>,
    pub status_code: Option<String>,
    pub state: Option<DeliveryState>,
    pub order_id: Option<String>,
    pub transaction_status: Option<crate::charges::TxStatus>,
}

impl Filter {
    pub fn matches(&self, n: &Notification) -> bool {
        self.account_id.is_none_or(|id| n.account_id == id)
            && self
                .server_key
                .as_deref()
                .is_none_or(|k| *n.server_key == *k)
            && self.event.is_none_or(|e| n.event == e)
            && self
                .status_code
                .as_deref()
                .is_none_or(|c| n.status_code == c)
            && self.state.is_none_or(|s| n.state == s)
            && self
                .order_id
                .as_deref()
                .is_none_or(|o| n.transaction.as_ref().is_some_and(|t| *t.order_id == *o))
            && self.transaction_status.is_none_or(|s| {
                n.transaction
                    .as_ref()
                    .is_some_and(|t| t.transaction_status == s)
            })
    }
}

/// One page of a list, and where the next one starts.
pub struct Page {
    pub notifications: Vec<Notification>,
    /// The id to pass as `after` for the next page; `None` at the end.
    pub next: Option<u64>,
}

struct Log {
    capacity: usize,
    next_id: u64,
    entries: BTreeMap<u64, Notification>,
    by_account: BTreeSet<(Uuid, u64)>,
    by_key: BTreeSet<(Arc<str>, u64)>,
    /// Attempts due on the mock clock: (due time, notification id).
    due: BTreeSet<(u64, u64)>,
    /// Ids of the latest changes, oldest first; `changes_end` counts every change ever made.
    changes: VecDeque<u64>,
    changes_end: u64,
}

/// The notification log, its queue of due attempts, and the signals around them.
pub struct Notifications {
    log: Mutex<Log>,
    /// Wakes whoever waits for a change in the log (control API waits).
    changed: Notify,
    /// Wakes the scheduler when an attempt is queued or the clock moves.
    pub(crate) wake: Notify,
    waiters: Arc<Semaphore>,
}

impl Notifications {
    pub fn new(capacity: usize) -> Self {
        Self {
            log: Mutex::new(Log {
                capacity: capacity.max(1),
                next_id: 0,
                entries: BTreeMap::new(),
                by_account: BTreeSet::new(),
                by_key: BTreeSet::new(),
                due: BTreeSet::new(),
                changes: VecDeque::new(),
                changes_end: 0,
            }),
            changed: Notify::new(),
            wake: Notify::new(),
            waiters: Arc::new(Semaphore::new(MAX_WAITERS)),
        }
    }

    /// Records a notification and queues its first attempt at `now_ms` (or records it undelivered
    /// when there is no URL); returns its id. Past the capacity the oldest notification goes.
    pub fn record(&self, new: Recorded, now_ms: u64) -> u64 {
        let mut log = self.log.lock();
        log.next_id += 1;
        let id = log.next_id;
        let state = if new.url.is_some() {
            log.due.insert((now_ms, id));
            DeliveryState::Pending
        } else {
            DeliveryState::Undelivered
        };
        log.by_account.insert((new.account_id, id));
        log.by_key.insert((new.server_key.clone(), id));
        log.entries.insert(
            id,
            Notification {
                id,
                event: new.event,
                account_id: new.account_id,
                transaction: new.transaction,
                server_key: new.server_key,
                target: new.target,
                url: new.url,
                state,
                created_at: now_ms,
                next_attempt_at: (state == DeliveryState::Pending).then_some(now_ms),
                payload: new.payload,
                attempts: VecDeque::new(),
                attempts_total: 0,
                status_code: new.status_code,
                retries: 0,
                in_flight: false,
                rerun: false,
            },
        );
        while log.entries.len() > log.capacity {
            log.evict_oldest();
        }
        log.changed(id);
        drop(log);
        // The scheduler runs on a thread of its own: waking it costs a context switch, so it is
        // woken only when there is an attempt to make.
        if state == DeliveryState::Pending {
            self.wake.notify_one();
        }
        self.changed.notify_waiters();
        id
    }

    /// Takes the earliest attempt due at `now_ms` off the queue, if there is one.
    pub(crate) fn take_due(&self, now_ms: u64) -> Option<Due> {
        let mut log = self.log.lock();
        loop {
            let &(at, id) = log.due.first()?;
            if at > now_ms {
                return None;
            }
            log.due.pop_first();
            if let Some(n) = log.entries.get_mut(&id) {
                n.next_attempt_at = None;
                n.in_flight = true;
                return Some(Due {
                    id,
                    server_key: n.server_key.clone(),
                    target: n.target.clone(),
                    payload: n.payload.clone(),
                });
            }
        }
    }

    /// Whether notification `id` is still in the log with an attempt under way.
    pub(crate) fn is_in_flight(&self, id: u64) -> bool {
        self.log
            .lock()
            .entries
            .get(&id)
            .is_some_and(|n| n.in_flight)
    }

    /// When the next attempt falls due, if any is queued.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.log.lock().due.first().map(|&(at, _)| at)
    }

    /// Records what became of an attempt and, per the retry policy and `schedule`, queues the next.
    pub(crate) fn finish(&self, id: u64, outcome: Outcome, schedule: &[Duration], now_ms: u64) {
        let mut log = self.log.lock();
        let Some(n) = log.entries.get_mut(&id) else {
            return; // dropped from the log (capacity or reset) while the attempt ran
        };
        n.in_flight = false;
        let mut next = None;
        match outcome {
            Outcome::NoUrl => n.state = DeliveryState::Undelivered,
            Outcome::Sent { at_ms, result } => {
                n.attempts_total = n.attempts_total.saturating_add(1);
                n.url = Some(result.final_url.clone());
                if n.attempts.len() >= ATTEMPTS_KEPT {
                    n.attempts.pop_front();
                }
                n.attempts.push_back(Attempt {
                    number: n.attempts_total,
                    at: at_ms,
                    url: result.final_url.clone(),
                    http_status: result.status,
                    error: result.error.clone(),
                    redirects: result.redirects,
                    duration_ms: (result.duration.as_secs_f64() * 1e6).round() / 1e3,
                });
                if result.delivered() {
                    n.state = DeliveryState::Delivered;
                } else if n.retries < delivery::retries_for(&result) {
                    let delay = schedule
                        .get(n.retries as usize)
                        .or(schedule.last())
                        .copied()
                        .unwrap_or_default();
                    n.retries += 1;
                    n.state = DeliveryState::Pending;
                    next = Some(clock::after(now_ms, delay));
                } else {
                    n.state = DeliveryState::Failed;
                }
            }
        }
        if n.rerun {
            n.rerun = false;
            n.retries = 0;
            n.state = DeliveryState::Pending;
            next = Some(now_ms);
        }
        n.next_attempt_at = next;
        if let Some(at) = next {
            log.due.insert((at, id));
        }
        log.changed(id);
        drop(log);
        self.signal();
    }

    /// Queues an immediate attempt with a fresh retry budget (it goes to the merchant's URL of the
    /// moment). Returns the notification and its attempt count before the retry; `None` if there is
    /// no such notification.
    pub fn retry(&self, id: u64, now_ms: u64) -> Option<(Notification, u32)> {
        let mut log = self.log.lock();
        let n = log.entries.get_mut(&id)?;
        let before = n.attempts_total;
        n.retries = 0;
        n.state = DeliveryState::Pending;
        let queued_at = n.next_attempt_at.take();
        if n.in_flight {
            n.rerun = true;
        } else {
            n.next_attempt_at = Some(now_ms);
        }
        let copy = n.clone();
        if let Some(at) = queued_at {
            log.due.remove(&(at, id));
        }
        if copy.next_attempt_at.is_some() {
            log.due.insert((now_ms, id));
        }
        log.changed(id);
        drop(log);
        self.signal();
        Some((copy, before))
    }

    pub fn get(&self, id: u64) -> Option<Notification> {
        self.log.lock().entries.get(&id).cloned()
    }

    /// How many notifications the log holds.
    pub fn len(&self) -> usize {
        self.log.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `limit` notifications matching `filter`, after the id `after` in the given order.
    pub fn page(&self, filter: &Filter, after: Option<u64>, limit: usize, order: Order) -> Page {
        let log = self.log.lock();
        let mut notifications = Vec::new();
        let mut last = None;
        for (scanned, id) in log.candidates(filter, after, order).enumerate() {
            if notifications.len() >= limit || scanned >= SCAN_BUDGET {
                return Page {
                    notifications,
                    next: last,
                };
            }
            last = Some(id);
            if let Some(n) = log.entries.get(&id).filter(|n| filter.matches(n)) {
                notifications.push(n.clone());
            }
        }
        Page {
            notifications,
            next: None,
        }
    }

    /// The id the last notification recorded got (the next gets one more).
    pub fn last_id(&self) -> u64 {
        self.log.lock().next_id
    }

    /// Up to `limit` notifications after the id `after`, oldest first, as they stand: the state
    /// file reads the log in such pieces so that it never holds the lock for long.
    pub(crate) fn chunk(&self, after: u64, limit: usize) -> Vec<Notification> {
        let log = self.log.lock();
        log.entries
            .range((Bound::Excluded(after), Bound::Unbounded))
            .take(limit)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Replaces the whole log (the state file): `notifications` in id order, none above `last_id`.
    /// Those with a next attempt are queued for it; the oldest go past the capacity.
    pub(crate) fn restore(&self, last_id: u64, notifications: Vec<Notification>) {
        let mut log = self.log.lock();
        log.entries.clear();
        log.by_account.clear();
        log.by_key.clear();
        log.due.clear();
        log.next_id = last_id;
        for n in notifications {
            let id = n.id;
            if let Some(at) = n.next_attempt_at {
                log.due.insert((at, id));
            }
            log.by_account.insert((n.account_id, id));
            log.by_key.insert((n.server_key.clone(), id));
            log.entries.insert(id, n);
        }
        while log.entries.len() > log.capacity {
            log.evict_oldest();
        }
        log.changes.clear();
        log.changes_end += 1;
        drop(log);
        self.signal();
    }

    /// How many notifications the log keeps at most.
    pub fn capacity(&self) -> usize {
        self.log.lock().capacity
    }

    /// Forgets everything, or one merchant's notifications.
    pub fn clear(&self, server_key: Option<&str>) {
        let mut log = self.log.lock();
        match server_key {
            None => {
                log.entries.clear();
                log.by_account.clear();
                log.by_key.clear();
                log.due.clear();
            }
            Some(key) => {
                let key: Arc<str> = Arc::from(key);
                let ids: Vec<u64> = log
                    .by_key
                    .range((key.clone(), 0)..=(key, u64::MAX))
                    .map(|(_, id)| *id)
                    .collect();
                for id in ids {
                    log.remove(id);
                }
            }
        }
        // Every waiter rescans.
        log.changes.clear();
        log.changes_end += 1;
        drop(log);
        self.changed.notify_waiters();
    }

    /// Waits until `count` notifications match `filter`, or the timeout passes; returns the ids that
    /// matched (at most `count`), and whether there were enough.
    ///
    /// # Errors
    /// [`TooManyWaiters`] when [`MAX_WAITERS`] waits are under way already.
    pub async fn wait(
        &self,
        filter: &Filter,
        count: usize,
        timeout: Duration,
    ) -> Result<(Vec<u64>, bool), TooManyWaiters> {
        let _permit = self
            .waiters
            .clone()
            .try_acquire_owned()
            .map_err(|_| TooManyWaiters)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut matched: HashSet<u64> = HashSet::new();
        let mut seen: Option<u64> = None;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let log = self.log.lock();
                match seen.and_then(|s| log.changes_since(s)) {
                    Some(ids) => {
                        for id in ids {
                            if log.entries.get(&id).is_some_and(|n| filter.matches(n)) {
                                matched.insert(id);
                            } else {
                                matched.remove(&id);
                            }
                        }
                    }
                    None => {
                        matched.clear();
                        for id in log.candidates(filter, None, Order::OldestFirst) {
                            if matched.len() >= count {
                                break;
                            }
                            if log.entries.get(&id).is_some_and(|n| filter.matches(n)) {
                                matched.insert(id);
                            }
                        }
                    }
                }
                seen = Some(log.changes_end);
            }
            if matched.len() >= count {
                let mut ids: Vec<u64> = matched.into_iter().collect();
                ids.sort_unstable();
                return Ok((ids, true));
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let mut ids: Vec<u64> = matched.into_iter().collect();
                ids.sort_unstable();
                return Ok((ids, false));
            }
        }
    }

    /// Waits until notification `id` has more than `attempts` attempts or is no longer pending (or
    /// is gone), at most `timeout`; then returns it as it stands.
    pub async fn wait_for_attempt(
        &self,
        id: u64,
        attempts: u32,
        timeout: Duration,
    ) -> Option<Notification> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let n = self.get(id);
            let settled = n
                .as_ref()
                .is_none_or(|n| n.attempts_total > attempts || n.state != DeliveryState::Pending);
            if settled || tokio::time::timeout_at(deadline, changed).await.is_err() {
                return n.or_else(|| self.get(id));
            }
        }
    }

    fn signal(&self) {
        self.wake.notify_one();
        self.changed.notify_waiters();
    }
}

/// Too many waits are under way.
#[derive(Debug)]
pub struct TooManyWaiters;

impl Log {
    fn changed(&mut self, id: u64) {
        if self.changes.len() >= CHANGE_FEED {
            self.changes.pop_front();
        }
        self.changes.push_back(id);
        self.changes_end += 1;
    }

    /// The ids changed since `seen` (a former `changes_end`), or `None` if the feed no longer reaches
    /// back that far.
    fn changes_since(&self, seen: u64) -> Option<impl Iterator<Item = u64> + '_> {
        let start = self.changes_end - self.changes.len() as u64;
        let skip = usize::try_from(seen.checked_sub(start)?).ok()?;
        Some(self.changes.iter().skip(skip).copied())
    }

    fn evict_oldest(&mut self) {
        if let Some((&id, _)) = self.entries.first_key_value() {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u64) {
        let Some(n) = self.entries.remove(&id) else {
            return;
        };
        self.by_account.remove(&(n.account_id, id));
        self.by_key.remove(&(n.server_key, id));
        if let Some(at) = n.next_attempt_at {
            self.due.remove(&(at, id));
        }
    }

    /// Ids that may match `filter`, through the narrowest index, after `after` in `order`.
    fn candidates<'a>(
        &'a self,
        filter: &Filter,
        after: Option<u64>,
        order: Order,
    ) -> Box<dyn Iterator<Item = u64> + 'a> {
        let (lo, hi) = match (order, after) {
            (_, None) => (Bound::Unbounded, Bound::Unbounded),
            (Order::OldestFirst, Some(a)) => (Bound::Excluded(a), Bound::Unbounded),
            (Order::NewestFirst, Some(a)) => (Bound::Unbounded, Bound::Excluded(a)),
        };
        fn ids<'a, I: DoubleEndedIterator<Item = u64> + 'a>(
            it: I,
            order: Order,
        ) -> Box<dyn Iterator<Item = u64> + 'a> {
            match order {
                Order::OldestFirst => Box::new(it),
                Order::NewestFirst => Box::new(it.rev()),
            }
        }
        let id_bound = |b: Bound<u64>, edge: u64| match b {
            Bound::Excluded(id) => Bound::Excluded(id),
            Bound::Included(id) => Bound::Included(id),
            Bound::Unbounded => Bound::Included(edge),
        };
        if let Some(account) = filter.account_id {
            let range = (
                id_bound(lo, 0).map(|id| (account, id)),
                id_bound(hi, u64::MAX).map(|id| (account, id)),
            );
            ids(self.by_account.range(range).map(|(_, id)| *id), order)
        } else if let Some(key) = filter.server_key.as_deref() {
            let key: Arc<str> = Arc::from(key);
            let range = (
                id_bound(lo, 0).map(|id| (key.clone(), id)),
                id_bound(hi, u64::MAX).map(|id| (key.clone(), id)),
            );
            ids(self.by_key.range(range).map(|(_, id)| *id), order)
        } else {
            ids(self.entries.range((lo, hi)).map(|(id, _)| *id), order)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::payload;

    fn record(log: &Notifications, key: &str, account: Uuid, url: Option<&str>) -> u64 {
        let (payload, status_code) =
            payload::account(Event::AccountLinked, &account, "M1", key).unwrap();
        log.record(
            Recorded {
                event: Event::AccountLinked,
                status_code,
                account_id: account,
                transaction: None,
                server_key: Arc::from(key),
                payload,
                target: Target::Linking,
                url: url.map(str::to_string),
            },
            0,
        )
    }

    #[test]
    fn the_log_drops_its_oldest_notification_past_its_capacity_pending_or_not() {
        let log = Notifications::new(3);
        let a = Uuid::new_v4();
        for _ in 0..4 {
            record(&log, "k", a, Some("http://x.test/"));
        }
        assert!(log.get(1).is_none());
        assert_eq!(log.len(), 3);
        let due: Vec<u64> = std::iter::from_fn(|| log.take_due(0).map(|d| d.id)).collect();
        assert_eq!(due, [2, 3, 4], "the dropped one left the queue too");
        let page = log.page(
            &Filter {
                account_id: Some(a),
                ..Filter::default()
            },
            None,
            10,
            Order::OldestFirst,
        );
        assert_eq!(page.notifications.len(), 3);
    }

    #[test]
    fn pages_follow_their_cursor_through_an_index() {
        let log = Notifications::new(100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for i in 0..10 {
            record(
                &log,
                if i % 2 == 0 { "k1" } else { "k2" },
                if i < 5 { a } else { b },
                None,
            );
        }
        let by_key = Filter {
            server_key: Some("k2".into()),
            ..Filter::default()
        };
        let first = log.page(&by_key, None, 3, Order::OldestFirst);
        let ids: Vec<u64> = first.notifications.iter().map(|n| n.id).collect();
        assert_eq!(ids, [2, 4, 6]);
        let second = log.page(&by_key, first.next, 3, Order::OldestFirst);
        let ids: Vec<u64> = second.notifications.iter().map(|n| n.id).collect();
        assert_eq!((ids, second.next), (vec![8, 10], None));
        let newest = log.page(&Filter::default(), None, 2, Order::NewestFirst);
        let ids: Vec<u64> = newest.notifications.iter().map(|n| n.id).collect();
        assert_eq!((ids, newest.next), (vec![10, 9], Some(9)));
        let by_account = Filter {
            account_id: Some(b),
            ..Filter::default()
        };
        let page = log.page(&by_account, Some(9), 10, Order::NewestFirst);
        let ids: Vec<u64> = page.notifications.iter().map(|n| n.id).collect();
        assert_eq!(ids, [8, 7, 6]);
        log.clear(Some("k1"));
        assert_eq!(log.len(), 5);
    }

    #[test]
    fn attempts_kept_are_bounded_and_counted() {
        let log = Notifications::new(10);
        let id = record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        for i in 0..(ATTEMPTS_KEPT as u64 + 5) {
            let due = log.take_due(i).expect("due");
            let result = AttemptResult::failed("http://x.test/".into(), "refused".into());
            log.finish(
                due.id,
                Outcome::Sent { at_ms: i, result },
                &[Duration::ZERO],
                i,
            );
            log.retry(id, i);
        }
        let n = log.get(id).unwrap();
        assert_eq!(n.attempts.len(), ATTEMPTS_KEPT);
        assert_eq!(n.attempts_total, ATTEMPTS_KEPT as u32 + 5);
        assert_eq!(n.attempts.back().unwrap().number, n.attempts_total);
    }

    #[tokio::test]
    async fn a_wait_sees_changes_made_after_it_started() {
        let log = Arc::new(Notifications::new(10));
        let filter = Filter {
            state: Some(DeliveryState::Undelivered),
            ..Filter::default()
        };
        let waiter = {
            let log = log.clone();
            let filter = filter.clone();
            tokio::spawn(async move { log.wait(&filter, 2, Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        record(&log, "k", Uuid::new_v4(), None);
        record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        record(&log, "k", Uuid::new_v4(), None);
        let (ids, done) = waiter.await.unwrap().unwrap();
        assert!(done);
        assert_eq!(ids, [1, 3]);
    }
}
