//! The notification log and the queue of due attempts.
//!
//! # Bounds and costs
//! The log keeps at most `capacity` notifications (`--notification-log-size`), and no more than
//! [`crate::limits::NOTIFICATION_LOG_BYTES`] of them by weight; recording one more, or an attempt
//! that makes one heavier, drops the oldest, pending or not (`shed`). Each keeps its newest
//! [`ATTEMPTS_KEPT`] attempts.
//! Notifications are kept oldest first, and so are the ids of each account's and each server key's:
//! recording one and dropping the oldest only add and remove at the ends (no tree to rebalance, no
//! notifications shifted; see BENCHMARKS.md, "Charges: what a charge costs"; the log itself in
//! chunks, so that it never copies itself as it grows), a lookup by id is a binary search, and
//! forgetting one merchant's is O(n). Due attempts are ordered by time (O(log n)). Lists are pages
//! read through an index; waiters look only at what changed since they last looked (a short feed
//! of changed ids), and rescan only if they fell behind it. One `parking_lot::Mutex` guards it
//! all; nothing awaits or does I/O under it.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

use super::delivery::{self, AttemptResult};
use super::{Attempt, DeliveryState, Event, Notification, Payload, Target, TransactionRef};
use crate::by_id::{ById, Keyed};
use crate::chunked::ChunkedDeque;
use crate::clock;
use crate::paging::{Order, SCAN_BUDGET};
use crate::shared_text::SharedText;

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
    pub server_key: SharedText,
    pub payload: Payload,
    /// Where its attempts go.
    pub target: Target,
    /// Where it would go now; `None` records it undelivered.
    pub url: Option<String>,
}

/// An attempt taken off the queue: what to send, and for which merchant.
pub struct Due {
    pub id: u64,
    /// The log's [`Log::generation`] when it was taken: an import may have given its id to
    /// another notification since.
    generation: u64,
    pub server_key: SharedText,
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

/// One account's notification ids, oldest first, in the log's table by account.
struct AccountIds {
    account: Uuid,
    ids: VecDeque<u64>,
}

impl Keyed for AccountIds {
    fn key(&self) -> &Uuid {
        &self.account
    }
}

struct Log {
    capacity: usize,
    /// The weight it may hold, and holds ([`Notification::weight`] of each as it was counted).
    max_bytes: usize,
    bytes: usize,
    next_id: u64,
    /// Oldest first: ids increase along it (with gaps where a merchant's were forgotten).
    entries: ChunkedDeque<Notification>,
    /// Each account's and each server key's notification ids, oldest first. Account ids are the
    /// mock's own; server keys come from requests, so their map hashes with a random key. The
    /// accounts' table grows (and sheds what removals leave behind) a few entries per insert: a
    /// map that rehashed at once stalled a record for milliseconds (BENCHMARKS.md).
    by_account: ById<AccountIds>,
    by_key: HashMap<SharedText, VecDeque<u64>>,
    /// Attempts due on the mock clock: (due time, notification id).
    due: BTreeSet<(u64, u64)>,
    /// Ids of the latest changes, oldest first; `changes_end` counts every change ever made.
    changes: VecDeque<u64>,
    changes_end: u64,
    /// Counts the times the whole log was replaced or emptied: an import reuses the ids of the
    /// document it restores, so an attempt taken before must not finish on the notification
    /// that has its id now.
    generation: u64,
    /// Counts the times one merchant's notifications were removed, which waits check what they
    /// matched against (the change feed does not list the removed ids).
    removals: u64,
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
        Self::with_max_bytes(capacity, crate::limits::NOTIFICATION_LOG_BYTES)
    }

    /// A log that keeps at most `capacity` notifications, and fewer past `max_bytes` of them.
    pub(crate) fn with_max_bytes(capacity: usize, max_bytes: usize) -> Self {
        Self {
            log: Mutex::new(Log {
                capacity: capacity.max(1),
                max_bytes,
                bytes: 0,
                next_id: 0,
                entries: ChunkedDeque::default(),
                by_account: ById::default(),
                by_key: HashMap::new(),
                due: BTreeSet::new(),
                changes: VecDeque::new(),
                changes_end: 0,
                generation: 0,
                removals: 0,
            }),
            changed: Notify::new(),
            wake: Notify::new(),
            waiters: Arc::new(Semaphore::new(MAX_WAITERS)),
        }
    }

    /// Records a notification and queues its first attempt at `now_ms` (or records it undelivered
    /// when there is no URL); returns its id. Past the capacity, or the weight the log may hold,
    /// the oldest notifications go.
    pub fn record(&self, new: Recorded, now_ms: u64) -> u64 {
        let mut log = self.log.lock();
        log.next_id = log.next_id.saturating_add(1);
        let id = log.next_id;
        let state = if new.url.is_some() {
            DeliveryState::Pending
        } else {
            DeliveryState::Undelivered
        };
        log.push(Notification {
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
            weight: 0,
        });
        log.shed();
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
        let generation = log.generation;
        loop {
            let &(at, id) = log.due.first()?;
            if at > now_ms {
                return None;
            }
            log.due.pop_first();
            if let Some(n) = log.get_mut(id) {
                n.next_attempt_at = None;
                n.in_flight = true;
                return Some(Due {
                    id,
                    generation,
                    server_key: n.server_key.clone(),
                    target: n.target.clone(),
                    payload: n.payload.clone(),
                });
            }
        }
    }

    /// Whether the notification `due` was taken for is still in the log with an attempt under way.
    pub(crate) fn is_in_flight(&self, due: &Due) -> bool {
        let log = self.log.lock();
        log.generation == due.generation && log.get(due.id).is_some_and(|n| n.in_flight)
    }

    /// When the next attempt falls due, if any is queued.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.log.lock().due.first().map(|&(at, _)| at)
    }

    /// Records what became of an attempt and, per the retry policy and `schedule`, queues the next.
    pub(crate) fn finish(&self, due: &Due, outcome: Outcome, schedule: &[Duration], now_ms: u64) {
        let id = due.id;
        let mut log = self.log.lock();
        if log.generation != due.generation {
            return; // the log was replaced or emptied while the attempt ran
        }
        let Some(n) = log.get_mut(id) else {
            return; // dropped from the log (capacity or reset) while the attempt ran
        };
        n.in_flight = false;
        let counted = n.attempts_weight();
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
        let now_counted = n.attempts_weight();
        n.weight = n.weight.saturating_sub(counted).saturating_add(now_counted);
        log.bytes = log
            .bytes
            .saturating_sub(counted)
            .saturating_add(now_counted);
        if let Some(at) = next {
            log.due.insert((at, id));
        }
        log.shed();
        log.changed(id);
        drop(log);
        self.signal();
    }

    /// Queues an immediate attempt with a fresh retry budget (it goes to the merchant's URL of the
    /// moment). Returns the notification and its attempt count before the retry; `None` if there is
    /// no such notification.
    pub fn retry(&self, id: u64, now_ms: u64) -> Option<(Notification, u32)> {
        let mut log = self.log.lock();
        let n = log.get_mut(id)?;
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
        self.log.lock().get(id).cloned()
    }

    /// How many notifications the log holds.
    pub fn len(&self) -> usize {
        self.log.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `limit` notifications matching `filter`, after the id `after` in the given order; fewer
    /// once their weight passes [`crate::limits::PAGE_BYTES`].
    pub fn page(&self, filter: &Filter, after: Option<u64>, limit: usize, order: Order) -> Page {
        let log = self.log.lock();
        let mut notifications = Vec::new();
        let mut last = None;
        // Copied under the lock: ends early past a page's bytes, as every list's answer does.
        let mut bytes = 0usize;
        for (scanned, id) in log.candidates(filter, after, order).enumerate() {
            if notifications.len() >= limit
                || scanned >= SCAN_BUDGET
                || bytes >= crate::limits::PAGE_BYTES
            {
                return Page {
                    notifications,
                    next: last,
                };
            }
            last = Some(id);
            if let Some(n) = log.get(id).filter(|n| filter.matches(n)) {
                bytes = bytes.saturating_add(n.weight);
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
        let start = log.entries.partition_point(|n| n.id <= after);
        let end = start.saturating_add(limit);
        log.entries.range(start, end).cloned().collect()
    }

    /// Replaces the whole log (the state file): `notifications`, none above `last_id` (put in id
    /// order here, one per id). Those with a next attempt are queued for it; the oldest go past the
    /// capacity.
    pub(crate) fn restore(&self, last_id: u64, mut notifications: Vec<Notification>) {
        notifications.sort_by_key(|n| n.id);
        notifications.dedup_by_key(|n| n.id);
        let mut log = self.log.lock();
        let old = log.take_all();
        // The import checks that no id is above `last_id`; new ids must stay above every kept one.
        log.next_id = last_id.max(notifications.last().map_or(0, |n| n.id));
        for n in notifications {
            log.push(n);
        }
        log.shed();
        log.changes.clear();
        log.changes_end += 1;
        drop(log);
        drop(old);
        self.signal();
    }

    /// How many notifications the log keeps at most.
    pub fn capacity(&self) -> usize {
        self.log.lock().capacity
    }

    /// Forgets everything, or one merchant's notifications.
    pub fn clear(&self, server_key: Option<&str>) {
        let mut log = self.log.lock();
        let old = match server_key {
            None => Some(log.take_all()),
            Some(key) => {
                log.remove_key(key);
                None
            }
        };
        if old.is_some() {
            // Every waiter rescans.
            log.changes.clear();
            log.changes_end += 1;
        }
        drop(log);
        self.changed.notify_waiters();
        drop(old);
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
        // Where the last look left the change feed, and the log's removals and generation then.
        let mut seen: Option<Seen> = None;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // What changed since the last look, under the same hold of the lock that finds it can
            // still be read; `None` when the feed no longer reaches back so far (or on the first
            // look): then a scan of every candidate.
            let caught_up = seen.and_then(|s| self.log.lock().catch_up(s, filter, &mut matched));
            if caught_up.is_some() {
                seen = caught_up;
            } else {
                // Every candidate, a scan budget's worth per hold of the lock, so that a filter
                // that matches little in a long log does not hold up every create and charge
                // (which record here) for a whole pass. What changed meanwhile is checked again
                // below.
                matched.clear();
                let mut began = None;
                let mut after = None;
                loop {
                    let next = {
                        let log = self.log.lock();
                        began.get_or_insert(log.seen());
                        log.scan_piece(filter, after, count, &mut matched)
                    };
                    match next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                    tokio::task::yield_now().await;
                }
                // A scan that stopped at `count` left later candidates unread.
                let stopped_full = matched.len() >= count;
                let Some(began) = began else { continue };
                let caught_up = self.log.lock().catch_up(began, filter, &mut matched);
                let Some(caught_up) = caught_up else {
                    // Changed past what the feed holds, or emptied or replaced meanwhile. What the
                    // scan found and still matches is kept (`catch_up` checked it, or emptied it
                    // when the ids may name other notifications now), and the rest is scanned
                    // again.
                    if matched.len() >= count {
                        return Ok((sorted(matched, count), true));
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Ok((sorted(matched, count), false));
                    }
                    tokio::task::yield_now().await;
                    continue;
                };
                // Some of those it found changed since: the unread ones may match now.
                seen = Some(caught_up).filter(|_| !stopped_full || matched.len() >= count);
            }
            if matched.len() >= count {
                return Ok((sorted(matched, count), true));
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Ok((sorted(matched, count), false));
            }
        }
    }

    /// Waits until notification `id` has more than `attempts` attempts or is no longer pending (or
    /// is gone), at most `timeout`; then returns it as it stands. Counts among the
    /// [`MAX_WAITERS`] waits: past them it returns at once (every change of the log wakes every
    /// wait, and a transition's answer does not need the attempt).
    pub async fn wait_for_attempt(
        &self,
        id: u64,
        attempts: u32,
        timeout: Duration,
    ) -> Option<Notification> {
        let Ok(_permit) = self.waiters.clone().try_acquire_owned() else {
            return self.get(id);
        };
        let generation = self.log.lock().generation;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // Looked at in place: copied once, at the end.
            let (settled, replaced) = {
                let log = self.log.lock();
                let settled = log.get(id).is_none_or(|n| {
                    n.attempts_total > attempts || n.state != DeliveryState::Pending
                });
                (settled, log.generation != generation)
            };
            if replaced {
                // Emptied or imported: the id may name another notification now.
                return None;
            }
            if settled || tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.get(id);
            }
        }
    }

    fn signal(&self) {
        self.wake.notify_one();
        self.changed.notify_waiters();
    }
}

/// Where a wait's last look at the log left off.
#[derive(Clone, Copy)]
struct Seen {
    changes_end: u64,
    removals: u64,
    generation: u64,
}

/// The oldest `count` of `ids`: changes caught up after a scan can add past `count`.
fn sorted(ids: HashSet<u64>, count: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.truncate(count);
    ids
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

    /// Adds to `matched` the ids that match `filter`, after `after`, until it holds `count`; looks
    /// at [`SCAN_BUDGET`] candidates at most, and returns the last one looked at when it stopped
    /// there with more to look at.
    fn scan_piece(
        &self,
        filter: &Filter,
        after: Option<u64>,
        count: usize,
        matched: &mut HashSet<u64>,
    ) -> Option<u64> {
        let mut last = None;
        for (scanned, id) in self
            .candidates(filter, after, Order::OldestFirst)
            .enumerate()
        {
            if matched.len() >= count {
                return None;
            }
            if scanned >= SCAN_BUDGET {
                return last;
            }
            last = Some(id);
            if self.get(id).is_some_and(|n| filter.matches(n)) {
                matched.insert(id);
            }
        }
        None
    }

    /// Where a wait's look at the log stands now.
    fn seen(&self) -> Seen {
        Seen {
            changes_end: self.changes_end,
            removals: self.removals,
            generation: self.generation,
        }
    }

    /// Brings `matched` (the ids that matched `filter` as of `since`) up to now. `None` when the
    /// change feed no longer reaches back to `since`: then `matched` keeps only the ids that still
    /// match, or nothing at all if the log was emptied or replaced (its ids may name other
    /// notifications now).
    fn catch_up(&self, since: Seen, filter: &Filter, matched: &mut HashSet<u64>) -> Option<Seen> {
        if self.generation != since.generation {
            matched.clear();
            return None;
        }
        // A merchant's notifications removed, or more changes than the feed holds: ids are never
        // reused within a generation, so each one matched is looked at again as it is now.
        let changes = self.changes_since(since.changes_end);
        if self.removals != since.removals || changes.is_none() {
            matched.retain(|&id| self.get(id).is_some_and(|n| filter.matches(n)));
        }
        for id in changes? {
            if self.get(id).is_some_and(|n| filter.matches(n)) {
                matched.insert(id);
            } else {
                matched.remove(&id);
            }
        }
        Some(self.seen())
    }

    /// The ids changed since `seen` (a former `changes_end`), or `None` if the feed no longer reaches
    /// back that far.
    fn changes_since(&self, seen: u64) -> Option<impl Iterator<Item = u64> + '_> {
        let start = self.changes_end - self.changes.len() as u64;
        let skip = usize::try_from(seen.checked_sub(start)?).ok()?;
        Some(self.changes.iter().skip(skip).copied())
    }

    fn get(&self, id: u64) -> Option<&Notification> {
        let i = self.entries.position_by_key(&id, |n| n.id)?;
        self.entries.get(i)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Notification> {
        let i = self.entries.position_by_key(&id, |n| n.id)?;
        self.entries.get_mut(i)
    }

    /// Adds `n`, whose id is above every id in the log, with its index entries.
    fn push(&mut self, mut n: Notification) {
        let id = n.id;
        n.weight = n.weight();
        self.bytes = self.bytes.saturating_add(n.weight);
        debug_assert!(self.entries.back().is_none_or(|last| last.id < id));
        if let Some(at) = n.next_attempt_at {
            self.due.insert((at, id));
        }
        match self.by_account.get_mut(&n.account_id) {
            Some(account) => account.ids.push_back(id),
            None => {
                let ids = VecDeque::from([id]);
                // Not there: this cannot be refused.
                let _ = self.by_account.insert_new(AccountIds {
                    account: n.account_id,
                    ids,
                });
            }
        }
        match self.by_key.get_mut(&*n.server_key) {
            Some(ids) => ids.push_back(id),
            None => {
                self.by_key
                    .insert(n.server_key.clone(), VecDeque::from([id]));
            }
        }
        self.entries.push_back(n);
    }

    /// Drops the oldest notifications while there are more than the capacity, or while they weigh
    /// more than the log may hold (the newest stays, whatever it weighs).
    fn shed(&mut self) {
        while self.entries.len() > self.capacity
            || (self.bytes > self.max_bytes && self.entries.len() > 1)
        {
            self.evict_oldest();
        }
    }

    /// Drops the oldest notification: the oldest of its account's and its server key's too.
    fn evict_oldest(&mut self) {
        let Some(n) = self.entries.pop_front() else {
            return;
        };
        // A change, so that a wait that counted it drops it.
        self.changed(n.id);
        self.bytes = self.bytes.saturating_sub(n.weight);
        if let Some(account) = self.by_account.get_mut(&n.account_id) {
            account.ids.pop_front();
            if account.ids.is_empty() {
                self.by_account.remove(&n.account_id);
            }
        }
        if let Some(ids) = self.by_key.get_mut(&*n.server_key) {
            ids.pop_front();
            if ids.is_empty() {
                self.by_key.remove(&*n.server_key);
            }
        }
        if let Some(at) = n.next_attempt_at {
            self.due.remove(&(at, n.id));
        }
    }

    /// Empties the log and hands back what it held, to be freed after the lock is released (a
    /// full log is a great many allocations).
    fn take_all(&mut self) -> impl Sized + use<> {
        self.bytes = 0;
        self.generation = self.generation.wrapping_add(1);
        (
            std::mem::take(&mut self.entries),
            std::mem::take(&mut self.by_account),
            std::mem::take(&mut self.by_key),
            std::mem::take(&mut self.due),
        )
    }

    /// Forgets one merchant's notifications: one pass over the log, and one over each index list
    /// they were in.
    fn remove_key(&mut self, key: &str) {
        let Some(ids) = self.by_key.remove(key) else {
            return;
        };
        self.removals += 1;
        let gone: HashSet<u64> = ids.into_iter().collect();
        let mut accounts = HashSet::new();
        let due = &mut self.due;
        let bytes = &mut self.bytes;
        self.entries.retain(|n| {
            if !gone.contains(&n.id) {
                return true;
            }
            *bytes = bytes.saturating_sub(n.weight);
            accounts.insert(n.account_id);
            if let Some(at) = n.next_attempt_at {
                due.remove(&(at, n.id));
            }
            false
        });
        for account in accounts {
            if let Some(entry) = self.by_account.get_mut(&account) {
                entry.ids.retain(|id| !gone.contains(id));
                if entry.ids.is_empty() {
                    self.by_account.remove(&account);
                }
            }
        }
    }

    /// Ids that may match `filter`, through the narrowest index, after `after` in `order`.
    fn candidates<'a>(
        &'a self,
        filter: &Filter,
        after: Option<u64>,
        order: Order,
    ) -> Box<dyn Iterator<Item = u64> + 'a> {
        fn ids<'a, I: DoubleEndedIterator<Item = u64> + 'a>(
            it: I,
            order: Order,
        ) -> Box<dyn Iterator<Item = u64> + 'a> {
            match order {
                Order::OldestFirst => Box::new(it),
                Order::NewestFirst => Box::new(it.rev()),
            }
        }
        let list = if let Some(account) = filter.account_id {
            self.by_account.get(&account).map(|a| &a.ids)
        } else if let Some(key) = filter.server_key.as_deref() {
            self.by_key.get(key)
        } else {
            let range = window(&self.entries, after, order);
            return ids(
                self.entries.range(range.start, range.end).map(|n| n.id),
                order,
            );
        };
        match list {
            Some(list) => ids(list.range(window(list, after, order)).copied(), order),
            None => Box::new(std::iter::empty()),
        }
    }
}

/// A list in ascending id order: the log itself, and its indexes' lists of ids.
trait IdOrdered {
    fn count(&self) -> usize;
    /// How many of the first items have an id for which `pred` holds (it holds for a prefix).
    fn prefix(&self, pred: impl Fn(u64) -> bool) -> usize;
}

impl IdOrdered for ChunkedDeque<Notification> {
    fn count(&self) -> usize {
        self.len()
    }

    fn prefix(&self, pred: impl Fn(u64) -> bool) -> usize {
        self.partition_point(|n| pred(n.id))
    }
}

impl IdOrdered for VecDeque<u64> {
    fn count(&self) -> usize {
        self.len()
    }

    fn prefix(&self, pred: impl Fn(u64) -> bool) -> usize {
        self.partition_point(|&id| pred(id))
    }
}

/// The positions in `items` that come after the id `after` in `order`.
fn window(items: &impl IdOrdered, after: Option<u64>, order: Order) -> Range<usize> {
    match (order, after) {
        (_, None) => 0..items.count(),
        (Order::OldestFirst, Some(a)) => items.prefix(|id| id <= a)..items.count(),
        (Order::NewestFirst, Some(a)) => 0..items.prefix(|id| id < a),
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
                server_key: SharedText::from(key),
                payload,
                target: Target::Linking,
                url: url.map(str::to_string),
            },
            0,
        )
    }

    #[test]
    fn an_account_s_notifications_are_found_through_growth_and_eviction() {
        use rand::{Rng, SeedableRng};
        // Many more notifications than the log keeps, over more accounts than it has room for:
        // the table by account grows, loses entries to evictions, and grows again.
        let log = Notifications::new(1_000);
        let accounts: Vec<Uuid> = (0..1_500).map(|_| Uuid::new_v4()).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut kept: VecDeque<(u64, Uuid)> = VecDeque::new();
        for round in 0..6_000 {
            let account = accounts[rng.gen_range(0..accounts.len())];
            let id = record(&log, "k", account, None);
            kept.push_back((id, account));
            if kept.len() > 1_000 {
                kept.pop_front();
            }
            if round % 97 == 0 || round > 5_900 {
                let asked = accounts[rng.gen_range(0..accounts.len())];
                let filter = Filter {
                    account_id: Some(asked),
                    ..Filter::default()
                };
                let found: Vec<u64> = log
                    .page(&filter, None, 1_000, Order::OldestFirst)
                    .notifications
                    .iter()
                    .map(|n| n.id)
                    .collect();
                let expected: Vec<u64> = kept
                    .iter()
                    .filter(|(_, a)| *a == asked)
                    .map(|(id, _)| *id)
                    .collect();
                assert_eq!(found, expected, "round {round}");
                // The index holds exactly the kept notifications, nothing of the evicted ones.
                let inner = log.log.lock();
                let distinct: HashSet<Uuid> = kept.iter().map(|(_, a)| *a).collect();
                assert_eq!(inner.by_account.len(), distinct.len(), "round {round}");
                let indexed: usize = inner.by_account.values().map(|a| a.ids.len()).sum();
                assert_eq!(indexed, kept.len(), "round {round}");
            }
        }
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

    /// The log against a plain list of (id, key, account): records past the capacity, merchants
    /// forgotten, and every page through each index in both orders, cursor by cursor.
    #[test]
    fn pages_through_every_index_match_a_plain_list_after_evictions_and_clears() {
        use rand::{Rng, SeedableRng};
        let keys = ["k1", "k2", "k3"];
        let accounts: Vec<Uuid> = (0..4).map(|i| Uuid::from_u128(i + 1)).collect();
        for seed in 0..20 {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let capacity = rng.gen_range(1..12);
            let log = Notifications::new(capacity);
            let mut model: Vec<(u64, &str, Uuid)> = Vec::new();
            for _ in 0..60 {
                if rng.gen_ratio(1, 8) {
                    let key = keys[rng.gen_range(0..keys.len())];
                    log.clear(Some(key));
                    model.retain(|&(_, k, _)| k != key);
                } else {
                    let key = keys[rng.gen_range(0..keys.len())];
                    let account = accounts[rng.gen_range(0..accounts.len())];
                    let id = record(&log, key, account, None);
                    model.push((id, key, account));
                    if model.len() > capacity {
                        model.remove(0);
                    }
                }
                assert_eq!(log.len(), model.len(), "seed {seed}");
                let filters = std::iter::once(Filter::default())
                    .chain(keys.iter().map(|k| Filter {
                        server_key: Some((*k).into()),
                        ..Filter::default()
                    }))
                    .chain(accounts.iter().map(|a| Filter {
                        account_id: Some(*a),
                        ..Filter::default()
                    }));
                for filter in filters {
                    for order in [Order::OldestFirst, Order::NewestFirst] {
                        let mut want: Vec<u64> = model
                            .iter()
                            .filter(|(_, k, a)| {
                                filter.server_key.as_deref().is_none_or(|f| f == *k)
                                    && filter.account_id.is_none_or(|f| f == *a)
                            })
                            .map(|(id, _, _)| *id)
                            .collect();
                        if order == Order::NewestFirst {
                            want.reverse();
                        }
                        let mut got = Vec::new();
                        let mut after = None;
                        for _ in 0..=want.len() {
                            let page = log.page(&filter, after, 2, order);
                            got.extend(page.notifications.iter().map(|n| n.id));
                            after = page.next;
                            if after.is_none() {
                                break;
                            }
                        }
                        assert_eq!(got, want, "seed {seed}, {filter:?}, {order:?}");
                    }
                }
            }
            // What is left reads back by id, and new ids stay above it.
            for &(id, key, _) in &model {
                assert_eq!(&*log.get(id).expect("kept").server_key, key);
            }
            let next = record(&log, "k1", accounts[0], None);
            assert!(model.iter().all(|&(id, _, _)| id < next));
        }
    }

    /// The log's count of its weight is the sum of what it holds, whatever went in or out.
    fn weight_counted(log: &Notifications) -> (usize, usize) {
        let inner = log.log.lock();
        let held = inner.entries.iter().map(|n| n.weight).sum();
        (inner.bytes, held)
    }

    fn record_heavy(log: &Notifications, key: &str, bytes: usize, url: Option<&str>) -> u64 {
        log.record(
            Recorded {
                event: Event::Payment,
                status_code: "200",
                account_id: Uuid::new_v4(),
                transaction: None,
                server_key: SharedText::from(key),
                payload: Payload::new(format!("\"{}\"", "x".repeat(bytes))),
                target: Target::Payment,
                url: url.map(str::to_string),
            },
            0,
        )
    }

    /// A page ends once its notifications weigh a page's bytes, with a cursor after the last it
    /// holds; following the cursors lists every one once.
    #[test]
    fn a_page_of_heavy_notifications_ends_early_with_a_cursor() {
        let log = Notifications::new(100);
        let ids: Vec<u64> = (0..20)
            .map(|_| record_heavy(&log, "k", 1 << 20, None))
            .collect();
        let first = log.page(&Filter::default(), None, 100, Order::OldestFirst);
        assert!(
            (8..=9).contains(&first.notifications.len()),
            "{}",
            first.notifications.len()
        );
        let mut listed: Vec<u64> = first.notifications.iter().map(|n| n.id).collect();
        let mut next = first.next;
        while let Some(after) = next {
            let page = log.page(&Filter::default(), Some(after), 100, Order::OldestFirst);
            listed.extend(page.notifications.iter().map(|n| n.id));
            next = page.next;
        }
        assert_eq!(listed, ids);
    }

    /// A wait whose scan is cut by a reset does not answer with what the scan found before it:
    /// those notifications are gone (or their ids name others after an import).
    #[tokio::test]
    async fn a_wait_scans_again_after_a_reset_during_its_scan() {
        let log = Notifications::new(SCAN_BUDGET * 2);
        let payment = |log: &Notifications| record_heavy(log, "k", 10, None);
        let old = payment(&log);
        for _ in 0..SCAN_BUDGET {
            record(&log, "k", Uuid::new_v4(), None);
        }
        let filter = Filter {
            event: Some(Event::Payment),
            ..Filter::default()
        };
        let (waited, ()) = tokio::join!(log.wait(&filter, 2, Duration::from_millis(300)), async {
            // Polled after the wait's first poll, which yields after the scan's first piece.
            log.clear(None);
            payment(&log);
        });
        let (ids, done) = waited.unwrap();
        assert!(!ids.contains(&old), "{ids:?}");
        assert!(!done, "only one payment notification is left");
    }

    /// Another merchant's reset during a wait's scan takes nothing from what it found for this
    /// one: its ids still name the same notifications, so the wait answers with them even when its
    /// time is up, and drops only what the reset removed.
    #[tokio::test]
    async fn another_merchant_s_reset_during_a_wait_keeps_what_it_found() {
        let log = Notifications::new(SCAN_BUDGET * 3);
        let payment = |log: &Notifications, key: &str| record_heavy(log, key, 10, None);
        let mine = payment(&log, "mine");
        for _ in 0..SCAN_BUDGET {
            record(&log, "theirs", Uuid::new_v4(), None);
        }
        let theirs = payment(&log, "theirs");
        let filter = Filter {
            event: Some(Event::Payment),
            ..Filter::default()
        };
        let (waited, ()) = tokio::join!(log.wait(&filter, 2, Duration::ZERO), async {
            // Polled after the wait's first poll, which yields after the scan's first piece.
            log.clear(Some("theirs"));
        });
        let (ids, done) = waited.unwrap();
        assert_eq!(ids, [mine], "theirs is gone, mine is kept");
        assert!(!done);
        assert!(log.get(theirs).is_none());
    }

    /// A wait for an attempt ends, with nothing, when an import gives its id to another
    /// notification: it does not wait for that one's attempt, nor answer with it.
    #[tokio::test]
    async fn a_wait_for_an_attempt_ends_when_the_log_is_replaced() {
        let log = Notifications::new(10);
        let id = record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        let document = log.chunk(0, 10);
        let (waited, ()) = tokio::join!(
            tokio::time::timeout(
                Duration::from_secs(30),
                log.wait_for_attempt(id, 0, Duration::from_secs(3_600)),
            ),
            async {
                tokio::task::yield_now().await;
                log.restore(id, document);
            }
        );
        assert!(matches!(waited, Ok(None)), "{waited:?}");
    }

    /// A wait for an attempt past the cap on waits answers at once, with the notification as it
    /// stands.
    #[tokio::test]
    async fn a_wait_for_an_attempt_past_the_cap_returns_at_once() {
        let log = Notifications::new(10);
        let id = record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        let held = log
            .waiters
            .clone()
            .try_acquire_many_owned(MAX_WAITERS as u32)
            .unwrap();
        let n = tokio::time::timeout(
            Duration::from_secs(30),
            log.wait_for_attempt(id, 0, Duration::from_secs(3_600)),
        )
        .await
        .expect("answered at once");
        assert_eq!(n.map(|n| n.state), Some(DeliveryState::Pending));
        drop(held);
    }

    #[test]
    fn the_log_keeps_what_fits_its_weight_the_newest_always() {
        let log = Notifications::with_max_bytes(1_000, 100_000);
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(record_heavy(&log, ["a", "b"][i % 2], 10_000, None));
        }
        // Far below the count: the weight decides, and the newest are the ones kept.
        let kept = log.len();
        assert!((8..=9).contains(&kept), "{kept}");
        let (counted, held) = weight_counted(&log);
        assert_eq!(counted, held);
        assert!(counted <= 100_000, "{counted}");
        assert!(log.get(ids[49]).is_some() && log.get(ids[49 - kept]).is_none());

        // One merchant's go with their weight; the count is right after every kind of removal.
        log.clear(Some("a"));
        let (counted, held) = weight_counted(&log);
        assert_eq!(counted, held);
        assert!(counted > 0);
        log.clear(None);
        assert_eq!(weight_counted(&log), (0, 0));

        // A notification heavier than the whole budget is kept alone: the newest always stays.
        record_heavy(&log, "a", 10_000, None);
        let huge = record_heavy(&log, "a", 200_000, None);
        assert_eq!(log.len(), 1);
        assert!(log.get(huge).is_some());
    }

    #[test]
    fn attempts_count_in_the_weight_and_can_push_the_oldest_out() {
        let log = Notifications::with_max_bytes(1_000, 60_000);
        let first = record_heavy(&log, "k", 1_000, None);
        let id = record_heavy(&log, "k", 1_000, Some("http://x.test/"));
        let (before, _) = weight_counted(&log);
        // Each failed attempt keeps its URL and its error (up to the kept attempts).
        for i in 0..20u64 {
            let due = log.take_due(i).expect("due");
            let result = AttemptResult::failed("http://x.test/".into(), "e".repeat(4_000));
            log.finish(
                &due,
                Outcome::Sent { at_ms: i, result },
                &[Duration::ZERO],
                i,
            );
            log.retry(id, i);
            let (counted, held) = weight_counted(&log);
            assert_eq!(counted, held, "attempt {i}");
        }
        let (after, _) = weight_counted(&log);
        assert!(after > 60_000, "{before} -> {after}");
        assert!(log.get(first).is_none(), "the oldest made room");
        assert_eq!(log.len(), 1, "the newest stays, whatever it weighs");
        assert!(log.get(id).is_some());
    }

    /// An attempt taken before an import finishes on nothing: the document's notification that has
    /// its id now keeps its own state and attempts, and is not counted in flight.
    #[test]
    fn an_attempt_from_before_an_import_leaves_the_imported_log_alone() {
        let log = Notifications::new(10);
        let id = record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        let document = log.chunk(0, 10);
        let due = log.take_due(0).expect("due");
        assert!(log.is_in_flight(&due));
        log.restore(id, document);
        assert!(
            !log.is_in_flight(&due),
            "another notification has its id now"
        );
        let result = AttemptResult::failed("http://x.test/".into(), "refused".into());
        log.finish(
            &due,
            Outcome::Sent { at_ms: 5, result },
            &[Duration::ZERO],
            5,
        );
        let n = log.get(id).unwrap();
        assert_eq!(n.attempts_total, 0);
        assert!(n.attempts.is_empty());
        assert_eq!(n.state, DeliveryState::Pending);
        assert_eq!(
            log.take_due(0).map(|d| d.id),
            Some(id),
            "queued once, as imported"
        );
        assert!(log.take_due(u64::MAX).is_none());
    }

    #[test]
    fn attempts_kept_are_bounded_and_counted() {
        let log = Notifications::new(10);
        let id = record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        for i in 0..(ATTEMPTS_KEPT as u64 + 5) {
            let due = log.take_due(i).expect("due");
            let result = AttemptResult::failed("http://x.test/".into(), "refused".into());
            log.finish(
                &due,
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

    /// A wait of up to 10 s on a task of its own, which runs when the test yields.
    fn spawn_wait(
        log: &Arc<Notifications>,
        filter: &Filter,
        count: usize,
    ) -> tokio::task::JoinHandle<Result<(Vec<u64>, bool), TooManyWaiters>> {
        let (log, filter) = (log.clone(), filter.clone());
        tokio::spawn(async move { log.wait(&filter, count, Duration::from_secs(10)).await })
    }

    /// A wait's first look reads the log a scan budget at a time (the lock is let go between the
    /// pieces), and finds what matches past the first piece.
    #[tokio::test]
    async fn a_wait_reads_a_long_log_in_pieces() {
        let pending = SCAN_BUDGET * 2 + 10;
        let log = Arc::new(Notifications::new(pending + 10));
        for _ in 0..pending {
            record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        }
        let filter = Filter {
            state: Some(DeliveryState::Undelivered),
            ..Filter::default()
        };
        let first = record(&log, "k", Uuid::new_v4(), None);
        {
            let inner = log.log.lock();
            let mut matched = HashSet::new();
            let stop = inner.scan_piece(&filter, None, 2, &mut matched);
            assert_eq!(stop, Some(SCAN_BUDGET as u64), "one budget read");
            assert!(matched.is_empty());
            let stop = inner.scan_piece(&filter, stop, 2, &mut matched);
            assert_eq!(stop, Some(2 * SCAN_BUDGET as u64));
            assert_eq!(inner.scan_piece(&filter, stop, 2, &mut matched), None);
            assert_eq!(matched, HashSet::from([first]));
        }
        let waiter = spawn_wait(&log, &filter, 2);
        tokio::task::yield_now().await;
        let second = record(&log, "k", Uuid::new_v4(), None);
        let (ids, done) = waiter.await.unwrap().unwrap();
        assert!(done);
        assert_eq!(ids, [first, second]);
    }

    /// A wait answers at most `count` notifications, the oldest, however many matched by the time
    /// it looked again.
    #[tokio::test]
    async fn a_wait_answers_at_most_its_count() {
        let log = Arc::new(Notifications::new(10));
        let filter = Filter {
            state: Some(DeliveryState::Undelivered),
            ..Filter::default()
        };
        let first = record(&log, "k", Uuid::new_v4(), None);
        let waiter = spawn_wait(&log, &filter, 2);
        // The wait's first look finds one; three more come before it looks again, and it catches
        // up on all of them at once.
        tokio::task::yield_now().await;
        let second = record(&log, "k", Uuid::new_v4(), None);
        record(&log, "k", Uuid::new_v4(), None);
        record(&log, "k", Uuid::new_v4(), None);
        let (ids, done) = waiter.await.unwrap().unwrap();
        assert!(done);
        assert_eq!(ids, [first, second]);
    }

    /// A notification the full log drops is no longer counted by a wait that had matched it.
    #[tokio::test]
    async fn a_wait_drops_what_the_full_log_sheds() {
        let log = Arc::new(Notifications::new(3));
        let filter = Filter {
            state: Some(DeliveryState::Undelivered),
            ..Filter::default()
        };
        record(&log, "k", Uuid::new_v4(), None);
        let waiter = spawn_wait(&log, &filter, 3);
        tokio::task::yield_now().await;
        let later: Vec<u64> = (0..3)
            .map(|_| record(&log, "k", Uuid::new_v4(), None))
            .collect();
        let (ids, done) = waiter.await.unwrap().unwrap();
        assert!(done);
        assert_eq!(ids, later, "the first was shed");
    }

    #[tokio::test]
    async fn a_wait_sees_changes_made_after_it_started() {
        let log = Arc::new(Notifications::new(10));
        let filter = Filter {
            state: Some(DeliveryState::Undelivered),
            ..Filter::default()
        };
        let waiter = spawn_wait(&log, &filter, 2);
        tokio::task::yield_now().await;
        record(&log, "k", Uuid::new_v4(), None);
        record(&log, "k", Uuid::new_v4(), Some("http://x.test/"));
        record(&log, "k", Uuid::new_v4(), None);
        let (ids, done) = waiter.await.unwrap().unwrap();
        assert!(done);
        assert_eq!(ids, [1, 3]);
    }
}
