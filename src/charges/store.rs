//! The in-memory transaction store.
//!
//! # Locking
//! One `parking_lot::Mutex` guards the transactions, their indexes and the idempotency replays.
//! `payments.rs` holds it (through [`TransactionStore::with`]) across the whole of a change,
//! including the balance move on the account store, so that two charges cannot both pass the
//! order-id or balance check: the lock order is always transactions, then accounts. Nothing awaits
//! or does I/O under it.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use uuid::Uuid;

use super::{Transaction, TxStatus};
use crate::by_id::ById;
use crate::chunked::ChunkedVec;
use crate::paging::{self, Order};
use crate::shared_text::{LastText, SharedText};
use crate::table::{GrowingTable, Hashed};

/// How long an `Idempotency-Key` replays its first answer (reference 2.5).
pub const IDEMPOTENCY_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Longest `Idempotency-Key` Midtrans honours; longer ones are ignored.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 46;
/// Replays kept at most; past it the oldest goes first.
pub const IDEMPOTENCY_MAX: usize = 100_000;

/// A stored answer for an idempotency key.
#[derive(Debug, Clone)]
pub struct Replay {
    pub body: Bytes,
    at_ms: u64,
}

/// The hash of an (owner, order id) in a [`Book`]'s order index; only its book makes one.
#[derive(Debug, Clone, Copy)]
pub struct OrderHash(u64);

/// Why a transaction was not stored.
#[derive(Debug)]
pub enum NotStored {
    /// `--max-transactions`.
    Full,
    /// A transaction with its id is there already; here it is back, as it was but for its `seq`
    /// (which the next insert sets again).
    IdTaken(Box<Transaction>),
}

/// An entry of the order index: a transaction id, with the hash of its (server key, order id).
struct OrderEntry {
    hash: u64,
    id: Uuid,
}

impl Hashed for OrderEntry {
    fn hash(&self) -> u64 {
        self.hash
    }
}

/// The transactions and their indexes; reached only under the store's lock.
#[derive(Default)]
pub struct Book {
    /// Shared with the payment notifications recorded from them; changed copy-on-write. The id
    /// is kept beside the pointer, so that finding or moving an entry never reads a transaction.
    by_id: ById<(Uuid, Arc<Transaction>)>,
    /// The newest transaction of each (server key, order id): the key's strings live in the
    /// transaction, and the hash is kept so that growing the table never hashes them again
    /// (rehashing strings with SipHash stalled charges for tens of milliseconds at hundreds of
    /// thousands of transactions).
    by_order: GrowingTable<OrderEntry>,
    order_hasher: RandomState,
    /// Every transaction id, in creation order.
    order: ChunkedVec<Uuid>,
    /// Per server key, its transactions' ids in creation order: a key's reset and its pages read
    /// its own, not every transaction. Keyed by server keys from requests: hashed with a random
    /// key of its own, so that keys crafted to collide cannot slow every charge.
    by_owner: hashbrown::HashMap<String, ChunkedVec<Uuid>, RandomState>,
    /// Pending transactions and authorizations by the time they expire.
    due: BTreeSet<(u64, Uuid)>,
    next_seq: u64,
    next_refund_id: u64,
    replays: HashMap<(SharedText, Box<str>), Replay>,
    /// The server key that charged last, shared by its transactions (see [`Book::owner_key`]).
    last_owner: LastText,
    replay_order: VecDeque<(u64, SharedText, Box<str>)>,
    limit: usize,
}

impl Book {
    /// A transaction of `owner` by transaction id or order id (Midtrans accepts both).
    pub fn find(&self, owner: Option<&str>, id: &str) -> Option<&Transaction> {
        let key = self.key_of(owner, id)?;
        self.tx(&key).map(|t| &**t)
    }

    pub fn find_mut(&mut self, owner: Option<&str>, id: &str) -> Option<&mut Transaction> {
        let key = self.key_of(owner, id)?;
        self.tx_mut(&key).map(Arc::make_mut)
    }

    fn tx(&self, id: &Uuid) -> Option<&Arc<Transaction>> {
        self.by_id.get(id).map(|(_, t)| t)
    }

    fn tx_mut(&mut self, id: &Uuid) -> Option<&mut Arc<Transaction>> {
        self.by_id.get_mut(id).map(|(_, t)| t)
    }

    fn key_of(&self, owner: Option<&str>, id: &str) -> Option<Uuid> {
        if let Ok(uuid) = Uuid::parse_str(id)
            && self
                .tx(&uuid)
                .is_some_and(|t| owner.is_none_or(|o| *t.owner == *o))
        {
            return Some(uuid);
        }
        match owner {
            Some(owner) => self.order_of(owner, id),
            None => None,
        }
    }

    /// The transaction itself, shared: a payment notification keeps it as it is now.
    pub fn shared(&self, id: &Uuid) -> Option<Arc<Transaction>> {
        self.tx(id).cloned()
    }

    pub fn get(&self, id: &Uuid) -> Option<&Transaction> {
        self.tx(id).map(|t| &**t)
    }

    pub fn get_mut(&mut self, id: &Uuid) -> Option<&mut Transaction> {
        self.tx_mut(id).map(Arc::make_mut)
    }

    /// `owner` as a transaction keeps it: the last charging key's allocation when it is the same
    /// key (a test or a merchant charges with one key), else a new one, remembered in its place.
    pub fn owner_key(&mut self, owner: &str) -> SharedText {
        self.last_owner.share(owner)
    }

    /// Where (owner, order id) hashes in the order index: a charge works it out once, for the
    /// check and the insert ([`Book::insert_hashed`]).
    pub fn order_hash(&self, owner: &str, order_id: &str) -> OrderHash {
        OrderHash(self.order_hasher.hash_one((owner, order_id)))
    }

    /// Whether `order_id` is taken for `owner`: used by a transaction that did not end in a way
    /// that frees it.
    pub fn order_id_taken(&self, hash: OrderHash, owner: &str, order_id: &str) -> bool {
        self.order_of_hashed(hash, owner, order_id)
            .and_then(|id| self.tx(&id))
            .is_some_and(|t| !t.status.frees_order_id(t.cancelled_while))
    }

    /// Adds a new transaction, unless the store is full or holds its id.
    ///
    /// # Errors
    /// [`NotStored`]; nothing changed.
    pub fn insert(&mut self, t: Transaction) -> Result<Arc<Transaction>, NotStored> {
        let hash = self.order_hash(&t.owner, &t.order_id);
        self.insert_hashed(t, hash)
    }

    /// Has the CPU fetch where a transaction `id` would go (the id the next charge draws).
    pub fn prefetch(&self, id: &Uuid) {
        self.by_id.prefetch(id);
    }

    /// [`Book::insert`] with the [`Book::order_hash`] of `t`'s owner and order id.
    ///
    /// # Errors
    /// [`NotStored`]; nothing changed.
    pub fn insert_hashed(
        &mut self,
        mut t: Transaction,
        OrderHash(hash): OrderHash,
    ) -> Result<Arc<Transaction>, NotStored> {
        debug_assert_eq!(hash, self.order_hash(&t.owner, &t.order_id).0);
        if self.by_id.len() >= self.limit {
            return Err(NotStored::Full);
        }
        let seq = self.next_seq + 1;
        t.seq = seq;
        let id = t.id;
        let new = match self.by_id.insert_new((id, Arc::new(t))) {
            Ok((_, new)) => Arc::clone(new),
            Err((_, t)) => return Err(NotStored::IdTaken(Box::new(Arc::unwrap_or_clone(t)))),
        };
        self.next_seq = seq;
        if matches!(new.status, TxStatus::Pending | TxStatus::Authorize) {
            self.due.insert((new.expires_at_ms, id));
        }
        let Self {
            by_order, by_id, ..
        } = self;
        let same = |e: &OrderEntry| {
            e.hash == hash
                && by_id
                    .get(&e.id)
                    .is_some_and(|(_, o)| o.owner == new.owner && o.order_id == new.order_id)
        };
        match by_order.find_mut(hash, same) {
            Some(entry) => entry.id = id,
            None => {
                // Nothing else has this owner and order id: the equality is never asked.
                let _ = by_order.insert_new(hash, OrderEntry { hash, id }, |_| false);
            }
        }
        self.order.push(id);
        self.by_owner.entry_ref(&*new.owner).or_default().push(id);
        Ok(new)
    }

    /// Takes a transaction that left pending or authorize off the expiry queue.
    pub fn settled(&mut self, t: &Transaction) {
        if !matches!(t.status, TxStatus::Pending | TxStatus::Authorize) {
            self.due.remove(&(t.expires_at_ms, t.id));
        }
    }

    /// The ids of the first `most` transactions due to expire at `now_ms`, taken off the queue.
    pub fn take_due(&mut self, now_ms: u64, most: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        while let Some(&(at, id)) = self.due.first() {
            if at > now_ms || ids.len() >= most {
                break;
            }
            self.due.pop_first();
            ids.push(id);
        }
        ids
    }

    pub fn next_due(&self) -> Option<u64> {
        self.due.first().map(|&(at, _)| at)
    }

    /// The newest transaction of (owner, order id).
    fn order_of(&self, owner: &str, order_id: &str) -> Option<Uuid> {
        self.order_of_hashed(self.order_hash(owner, order_id), owner, order_id)
    }

    fn order_of_hashed(
        &self,
        OrderHash(hash): OrderHash,
        owner: &str,
        order_id: &str,
    ) -> Option<Uuid> {
        self.by_order
            .find(hash, |e| {
                e.hash == hash
                    && self
                        .tx(&e.id)
                        .is_some_and(|t| *t.owner == *owner && *t.order_id == *order_id)
            })
            .map(|e| e.id)
    }

    /// The last `refund_chargeback_id` given.
    pub fn last_refund_id(&self) -> u64 {
        self.next_refund_id
    }

    /// The `seq` the newest transaction got (see [`crate::accounts::Store::last_seq`]).
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    /// A book of at most `limit` transactions holding `transactions` (the state file's), in
    /// creation order, built outside the book's lock; idempotency replays start empty.
    ///
    /// # Errors
    /// [`NotStored`]: more transactions than `limit`, or one id twice (the state file's import
    /// refuses both before it gets here).
    pub fn restored(
        limit: usize,
        transactions: Vec<Transaction>,
        last_refund_id: u64,
    ) -> Result<Self, NotStored> {
        let mut book = Self {
            limit,
            next_refund_id: last_refund_id,
            ..Self::default()
        };
        for t in transactions {
            book.insert(t)?;
        }
        Ok(book)
    }

    /// An empty book that keeps this one's limit.
    pub fn emptied(&self) -> Self {
        Self {
            limit: self.limit,
            ..Self::default()
        }
    }

    /// The next refund's `refund_chargeback_id`.
    pub fn next_refund_id(&mut self) -> u64 {
        self.next_refund_id = self.next_refund_id.saturating_add(1);
        self.next_refund_id
    }

    /// The answer first given for `key` of `owner` within the window, if any.
    pub fn replay(&self, owner: &str, key: &str, now_ms: u64) -> Option<Replay> {
        self.replays
            .get(&(SharedText::from(owner), Box::from(key)))
            .filter(|r| now_ms.saturating_sub(r.at_ms) < IDEMPOTENCY_WINDOW_MS)
            .cloned()
    }

    /// Remembers the answer for `key` (the first one stays for its window).
    pub fn remember(&mut self, owner: &SharedText, key: &str, body: Bytes, now_ms: u64) {
        while let Some((at, _, _)) = self.replay_order.front() {
            if now_ms.saturating_sub(*at) < IDEMPOTENCY_WINDOW_MS
                && self.replay_order.len() < IDEMPOTENCY_MAX
            {
                break;
            }
            if let Some((at, o, k)) = self.replay_order.pop_front() {
                let entry = (o, k);
                if self.replays.get(&entry).is_some_and(|r| r.at_ms == at) {
                    self.replays.remove(&entry);
                }
            }
        }
        let entry = (owner.clone(), Box::<str>::from(key));
        if self
            .replays
            .get(&entry)
            .is_some_and(|r| now_ms.saturating_sub(r.at_ms) < IDEMPOTENCY_WINDOW_MS)
        {
            return;
        }
        self.replay_order
            .push_back((now_ms, entry.0.clone(), entry.1.clone()));
        self.replays.insert(
            entry,
            Replay {
                body,
                at_ms: now_ms,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Transactions the book holds at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Up to `limit` transactions of `owner` (of every key if `None`) matching `keep`, after the
    /// cursor `after`, in `order`.
    pub fn page(
        &self,
        owner: Option<&str>,
        after: Option<u64>,
        limit: usize,
        order: Order,
        keep: impl Fn(&Transaction) -> bool,
    ) -> (Vec<Arc<Transaction>>, Option<u64>) {
        let none = ChunkedVec::default();
        let list = match owner {
            Some(key) => self.by_owner.get(key).unwrap_or(&none),
            None => &self.order,
        };
        let seq = |id: &Uuid| self.tx(id).map_or(0, |t| t.seq);
        let mut found = Vec::new();
        let mut last = None;
        for (scanned, id) in paging::after(list, after, order, seq).enumerate() {
            if found.len() >= limit || scanned >= paging::SCAN_BUDGET {
                return (found, last);
            }
            let Some(t) = self.tx(id) else {
                continue;
            };
            last = Some(t.seq);
            if keep(t) {
                // Shared, not copied, under the lock: a page of transactions full of refunds is
                // megabytes (a later change copies the store's own first).
                found.push(Arc::clone(t));
            }
        }
        (found, None)
    }

    /// Forgets every transaction, or those of one server key. What went is handed back, to be
    /// freed after the book's lock is released: a million transactions take a while.
    pub fn clear(&mut self, owner: Option<&str>) -> Cleared {
        match owner {
            None => {
                let old = std::mem::replace(self, self.emptied());
                Cleared {
                    _book: Some(Box::new(old)),
                    transactions: Vec::new(),
                }
            }
            Some(key) => {
                let ids = self.by_owner.remove(key).unwrap_or_default();
                let Self { order, by_id, .. } = self;
                let whole =
                    order.remove_in_order(&ids, |id| by_id.get(id).map_or(0, |(_, t)| t.seq));
                debug_assert!(whole, "a key's list left the creation order");
                if !whole {
                    // The two lists disagree, which no write makes them do: the slow way.
                    order.retain(|id| by_id.get(id).is_some_and(|(_, t)| *t.owner != *key));
                }
                let mut removed = Vec::with_capacity(ids.len());
                // Fetched a few removals ahead, as a key's accounts are (see BENCHMARKS.md).
                let mut ahead = ids.iter().skip(crate::limits::REMOVE_AHEAD);
                for id in ids.iter() {
                    if let Some(next) = ahead.next() {
                        self.by_id.prefetch(next);
                    }
                    if let Some((_, t)) = self.by_id.remove(id) {
                        let hash = self.order_hasher.hash_one((&*t.owner, &*t.order_id));
                        self.by_order.remove(hash, |e| e.id == t.id);
                        self.due.remove(&(t.expires_at_ms, t.id));
                        removed.push(t);
                    }
                }
                self.replays.retain(|(o, _), _| **o != *key);
                self.replay_order.retain(|(_, o, _)| **o != *key);
                Cleared {
                    _book: None,
                    transactions: removed,
                }
            }
        }
    }
}

/// What [`Book::clear`] took out of the book.
#[must_use = "drop it after the book's lock is released"]
pub struct Cleared {
    _book: Option<Box<Book>>,
    transactions: Vec<Arc<Transaction>>,
}

impl Cleared {
    /// The transactions of a key's clearing that still held money (authorized, not captured): a
    /// hold on a shared account outlives the key's transactions unless it is given back.
    pub fn holds(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .map(|t| &**t)
            .filter(|t| t.status == TxStatus::Authorize)
    }
}

pub struct TransactionStore {
    book: Mutex<Book>,
}

impl TransactionStore {
    /// A store that holds at most `limit` transactions.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            book: Mutex::new(Book {
                limit,
                ..Book::default()
            }),
        }
    }

    /// Whether someone holds the book's lock (tests that hold a change part-way).
    #[cfg(test)]
    pub(crate) fn is_locked(&self) -> bool {
        self.book.is_locked()
    }

    /// Runs `f` with the book under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        f(&mut self.book.lock())
    }

    /// A transaction by transaction or order id, as `owner` sees it (`None`: any), as it is now
    /// (shared: a later change copies the store's own first).
    pub fn find(&self, owner: Option<&str>, id: &str) -> Option<Arc<Transaction>> {
        let book = self.book.lock();
        let t = book.find(owner, id)?;
        book.shared(&t.id)
    }

    pub fn len(&self) -> usize {
        self.book.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn next_due(&self) -> Option<u64> {
        self.book.lock().next_due()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transaction(id: u128, order_id: &str, status: TxStatus) -> Transaction {
        Transaction {
            id: Uuid::from_u128(id),
            order_id: order_id.into(),
            expires_at_ms: 100,
            seq: 0,
            ..Transaction::sample(status)
        }
    }

    fn listed(book: &Book) -> Vec<(Uuid, String)> {
        let (page, _) = book.page(None, None, 100, Order::OldestFirst, |_| true);
        page.into_iter()
            .map(|t| (t.id, t.order_id.to_string()))
            .collect()
    }

    /// A transaction whose id is taken is given back, and the book is as it was: the stored
    /// transaction, its order id, the creation order, the expiry queue and the next `seq`.
    #[test]
    fn an_insert_with_a_taken_id_changes_nothing() {
        let mut book = Book {
            limit: 10,
            ..Book::default()
        };
        book.insert(transaction(7, "first", TxStatus::Pending))
            .unwrap();
        let before = (listed(&book), book.next_due(), book.len());
        let refused = book.insert(transaction(7, "second", TxStatus::Pending));
        match refused {
            Err(NotStored::IdTaken(t)) => assert_eq!(&*t.order_id, "second"),
            other => panic!("{other:?}"),
        }
        assert_eq!((listed(&book), book.next_due(), book.len()), before);
        assert_eq!(
            book.find(Some("SB-Mid-server-TESTKEY123"), "first")
                .map(|t| t.id),
            Some(Uuid::from_u128(7))
        );
        assert!(
            book.find(Some("SB-Mid-server-TESTKEY123"), "second")
                .is_none()
        );
        let next = book
            .insert(transaction(8, "second", TxStatus::Settlement))
            .unwrap();
        assert_eq!(next.seq, 2, "the refused insert took no seq");
        assert!(book.take_due(1_000, 0).is_empty(), "at most none taken");
        assert_eq!(book.take_due(1_000, 10), vec![Uuid::from_u128(7)]);
    }

    /// A key's clear takes exactly its transactions out of the creation order, across chunks,
    /// whichever keys came before and after, and the cursors go on working.
    #[test]
    fn a_clear_of_one_key_takes_exactly_its_transactions_out_of_the_order() {
        let mut book = Book {
            limit: 100_000,
            ..Book::default()
        };
        let mut made: Vec<(&str, Uuid)> = Vec::new();
        for i in 0..9_000u128 {
            let key = match i % 7 {
                0..=2 => "b",
                3 if i > 4_000 => "c",
                _ => "a",
            };
            let t = Transaction {
                owner: SharedText::from(key),
                ..transaction(i + 1, &format!("order-{i}"), TxStatus::Settlement)
            };
            book.insert(t).unwrap();
            made.push((key, Uuid::from_u128(i + 1)));
        }
        let all = |book: &Book| {
            let mut found = Vec::new();
            let mut after = None;
            loop {
                let (page, next) = book.page(None, after, 1000, Order::OldestFirst, |_| true);
                found.extend(page.iter().map(|t| (t.id, t.seq)));
                match next {
                    Some(next) => after = Some(next),
                    None => return found,
                }
            }
        };
        for gone in ["nobody", "b", "c", "a"] {
            drop(book.clear(Some(gone)));
            made.retain(|(k, _)| *k != gone);
            let listed = all(&book);
            let ids: Vec<Uuid> = listed.iter().map(|(id, _)| *id).collect();
            let expected: Vec<Uuid> = made.iter().map(|(_, id)| *id).collect();
            assert_eq!(ids, expected, "after clearing {gone}");
            assert_eq!(book.len(), expected.len());
            assert_eq!(
                book.order.len(),
                expected.len(),
                "no id left behind in the order"
            );
            for key in ["a", "b", "c"] {
                let (page, next) = book.page(Some(key), None, 1000, Order::OldestFirst, |_| true);
                let theirs: Vec<Uuid> = made
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .take(1000)
                    .map(|(_, id)| *id)
                    .collect();
                assert_eq!(page.iter().map(|t| t.id).collect::<Vec<_>>(), theirs);
                assert_eq!(
                    next.is_some(),
                    theirs.len() == 1000,
                    "{key} after clearing {gone}"
                );
            }
            let middle = listed.len() / 2;
            if middle + 1 < listed.len() {
                let (page, _) =
                    book.page(None, Some(listed[middle].1), 1, Order::OldestFirst, |_| {
                        true
                    });
                assert_eq!(page[0].id, listed[middle + 1].0);
            }
        }
        assert!(book.is_empty());
        assert!(book.by_owner.is_empty());
    }

    /// A key's page reads the key's own transactions: a key with a few among a great many of
    /// another's gets them in one page, where a filter over every transaction stops at the scan
    /// budget with nothing found.
    #[test]
    fn a_key_s_page_reads_only_its_own_transactions() {
        let mut book = Book {
            limit: 100_000,
            ..Book::default()
        };
        let busy = paging::SCAN_BUDGET as u128 + 10;
        for i in 0..busy + 3 {
            let owner = if i < busy { "busy" } else { "quiet" };
            let t = Transaction {
                owner: SharedText::from(owner),
                ..transaction(i + 1, &format!("order-{i}"), TxStatus::Settlement)
            };
            book.insert(t).unwrap();
        }
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let (page, next) = book.page(Some("quiet"), None, 10, order, |_| true);
            assert_eq!(page.len(), 3);
            assert_eq!(next, None);
        }
        let (page, next) = book.page(Some("nobody"), None, 10, Order::OldestFirst, |_| true);
        assert!(page.is_empty() && next.is_none());
        let (page, next) = book.page(None, None, 10, Order::OldestFirst, |t| *t.owner == *"quiet");
        assert!(page.is_empty() && next.is_some(), "the scan budget");
    }
}
