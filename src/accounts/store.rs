//! The in-memory account store.
//!
//! # Locking
//! One `parking_lot::RwLock` guards all account state. Every method takes it, does a short piece of
//! work (a hash lookup, a status change, rendering a few hundred bytes) and lets it go before
//! returning: no I/O and no `.await` ever happens under the lock. Notifications are recorded by the
//! caller *after* the method returned. GETs take the read lock only, so readers never wait on each
//! other; lazy expiry (see [`Account::status_at`]) keeps that true for accounts past their TTL.
//!
//! # Indexes
//! Besides the accounts by id: every account and each server key's accounts in creation order (for
//! pages), status counts (all, per key, shared), PENDING expiries by time, and the ENABLED accounts by
//! (owner, country code, phone number). Each is changed in the same place as the account it follows,
//! so none can disagree with the accounts.

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use compact_str::CompactString;
use parking_lot::{RwLock, RwLockWriteGuard};
use thin_vec::ThinVec;
use uuid::Uuid;

use super::{Account, AccountStatus, CountryCode, PaymentOption, Transition};
use crate::by_id::ById;
use crate::chunked::{ChunkedVec, MinHeap};
use crate::clock::OptionalMs;
use crate::limits::EXPIRE_BATCH;
use crate::money::Amount;
use crate::paging::{self, Order};
use crate::shared_text::{LastText, SharedText};
use crate::table::{GrowingTable, Hashed};

/// Expiry entries of accounts no longer PENDING that the queue may hold beyond twice the PENDING
/// accounts before it is compacted.
const EXPIRIES_SLACK: usize = 1024;

/// The outcome of a create.
#[derive(Debug)]
pub enum CreateOutcome {
    /// A new PENDING account, by id; `expires_first` when no PENDING account expires before it
    /// (the scheduler, asleep until the next expiry it knew of, is to be woken).
    Created { id: Uuid, expires_first: bool },
    /// This merchant already has an ENABLED account for the number: Midtrans answers "200, account
    /// exists and is linked" with it instead of starting a new link.
    AlreadyLinked(Account),
    /// The store holds its limit of accounts (`--max-accounts`); nothing was made.
    Full,
    /// Every id drawn named an account that exists (a seeded server given a state document that
    /// holds the ids its seed draws next); nothing was made.
    NoFreeId,
}

/// Why a transition did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum TransitionError {
    NotFound,
    Invalid { current: AccountStatus },
}

/// What create needs to make an account.
pub struct NewAccount<'a> {
    /// Draws the id, with the one the next draw gives when known (its place in the table is
    /// fetched ahead); drawn again while it names an account that exists.
    pub draw_id: &'a dyn Fn() -> (Uuid, Option<Uuid>),
    pub owner: &'a str,
    pub phone_number: CompactString,
    pub country_code: CountryCode,
    pub redirect_url: Option<String>,
    pub now_ms: u64,
    pub expires_at_ms: Option<u64>,
}

/// Whose accounts a page or a count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    Any,
    Key(&'a str),
    /// The shared fixture accounts, which no key owns.
    Shared,
}

/// What [`Store::expire_due`] recorded.
#[derive(Debug, Default)]
pub struct Expired {
    pub count: usize,
    /// The first of them, as many as were asked for.
    pub ids: Vec<Uuid>,
}

/// Accounts by status, in the order of [`AccountStatus::ALL`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts(pub [usize; 4]);

impl Counts {
    pub fn get(&self, status: AccountStatus) -> usize {
        self.0[status.index()]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    fn add(&mut self, status: AccountStatus) {
        self.0[status.index()] += 1;
    }

    fn sub(&mut self, status: AccountStatus) {
        let n = &mut self.0[status.index()];
        *n = n.saturating_sub(1);
    }
}

/// One page of accounts (with the status as of now) and where the next starts.
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub next: Option<u64>,
}

/// A server key's accounts.
struct OwnerIndex {
    /// The one allocation of the key every account it owns shares.
    key: SharedText,
    /// The redirect URL of its last create, which the next create shares when it sends the same:
    /// a merchant sends one URL, and each account kept a copy of it.
    redirect_url: LastText,
    /// Ids, oldest first (their `seq` orders them).
    ids: ChunkedVec<Uuid>,
    counts: Counts,
}

/// The server keys that own accounts, each with its index.
#[derive(Default)]
struct Owners {
    /// Keyed by server keys, which come from requests: hashed with a random key of its own, so
    /// that keys crafted to collide cannot make every create probe all of them.
    by_key: hashbrown::HashMap<String, OwnerIndex, RandomState>,
    /// The same keys in order: the dashboard offers the first few, and reading every key for them
    /// held the store's lock for as long as there were keys. Changed only when a key comes or goes.
    sorted: BTreeSet<SharedText>,
}

impl Owners {
    /// The index of `key`, made on first use.
    fn index(&mut self, key: &str) -> &mut OwnerIndex {
        let sorted = &mut self.sorted;
        self.by_key.entry_ref(key).or_insert_with(|| {
            let key = SharedText::from(key);
            sorted.insert(key.clone());
            OwnerIndex {
                key,
                redirect_url: LastText::default(),
                ids: ChunkedVec::default(),
                counts: Counts::default(),
            }
        })
    }

    fn get(&self, key: &str) -> Option<&OwnerIndex> {
        self.by_key.get(key)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut OwnerIndex> {
        self.by_key.get_mut(key)
    }

    fn remove(&mut self, key: &str) -> Option<OwnerIndex> {
        self.sorted.remove(key);
        self.by_key.remove(key)
    }

    /// The first `limit` keys in alphabetical order.
    fn first(&self, limit: usize) -> impl Iterator<Item = &str> {
        self.sorted.iter().take(limit).map(|k| &**k)
    }
}

/// Memory: accounts are boxed so that the table's empty slots (up to half of it after a resize)
/// cost a pointer rather than a whole account, and the linked index holds ids and hashes, not
/// keys (see below). With 1,000,000 accounts this is about a quarter of the RSS (see
/// BENCHMARKS.md).
#[derive(Default)]
struct State {
    accounts: ById<Box<Account>>,
    /// ENABLED owned accounts, hashed by (owner, country code, phone number). The key is
    /// compared against the account itself, so its strings are stored once. One number can have
    /// several ENABLED accounts (each linked from its own PENDING one): all are here, and the one
    /// linked last answers a new create.
    linked: GrowingTable<Linked>,
    linked_hasher: RandomState,
    next_link: u64,
    /// PENDING accounts by expiry time; entries for accounts that left PENDING are skipped when due.
    expiries: MinHeap<(u64, Uuid)>,
    /// Per server key: its accounts in creation order and their counts.
    owners: Owners,
    /// Every account's id, in creation order.
    order: ChunkedVec<Uuid>,
    next_seq: u64,
    counts: Counts,
    shared_counts: Counts,
    /// Something has written to the store since [`Store::refill`] last filled it.
    written: bool,
}

impl State {
    /// The owner index of `key`, made on first use.
    fn owner(&mut self, key: &str) -> &mut OwnerIndex {
        self.owners.index(key)
    }

    /// Adds `account` and its index entries; gives it back, and changes nothing, if an account
    /// with its id is there already.
    fn insert(&mut self, account: Account) -> Result<(), Box<Account>> {
        let (id, status) = self.insert_unlinked(account)?;
        if status == AccountStatus::Enabled {
            self.link(&id);
        }
        Ok(())
    }

    /// [`State::insert`] but for the linked index, which the caller fills.
    fn insert_unlinked(
        &mut self,
        mut account: Account,
    ) -> Result<(Uuid, AccountStatus), Box<Account>> {
        let seq = self.next_seq + 1;
        account.seq = seq;
        let State {
            accounts,
            owners,
            expiries,
            order,
            counts,
            shared_counts,
            next_seq,
            ..
        } = self;
        // The owner's key is read from the stored account: no copy of its pointer per insert.
        let stored = accounts.insert_new(Box::new(account))?;
        *next_seq = seq;
        let (id, status) = (stored.id, stored.status);
        let expires = stored.expires_at_ms.get();
        if let Some(at) = expires {
            expiries.push((at, id));
        }
        order.push(id);
        counts.add(status);
        match stored.owner.as_deref() {
            Some(key) => {
                let owner = owners.index(key);
                owner.ids.push(id);
                owner.counts.add(status);
            }
            None => shared_counts.add(status),
        }
        if expires.is_some() {
            self.compact_expiries();
        }
        Ok((id, status))
    }

    /// Drops the expiry entries of accounts that left PENDING or the store, once there are more
    /// entries than twice the PENDING accounts and [`EXPIRIES_SLACK`]: a key's reset left its
    /// accounts' entries until they fell due (an activation TTL may be a year), so the queue grew
    /// past `--max-accounts`. Linear in the entries, at most once per as many stale ones.
    fn compact_expiries(&mut self) {
        let pending = self.counts.get(AccountStatus::Pending);
        if self.expiries.len() <= pending.saturating_mul(2).saturating_add(EXPIRIES_SLACK) {
            return;
        }
        let accounts = &self.accounts;
        self.expiries.retain(|(at, id)| {
            accounts.get(id).is_some_and(|a| {
                a.status == AccountStatus::Pending && a.expires_at_ms.get() == Some(*at)
            })
        });
    }

    /// Removes one account and its index entries (fixtures replaced by id; O(n), rare).
    fn remove(&mut self, id: &Uuid) {
        let Some(account) = self.accounts.remove(id) else {
            return;
        };
        self.unlink(&account);
        self.order.retain(|other| other != id);
        self.counts.sub(account.status);
        match account.owner.as_deref() {
            Some(key) => {
                if let Some(owner) = self.owners.get_mut(key) {
                    owner.ids.retain(|other| other != id);
                    owner.counts.sub(account.status);
                    if owner.ids.is_empty() {
                        self.owners.remove(key);
                    }
                }
            }
            None => self.shared_counts.sub(account.status),
        }
    }

    /// Moves an account's counts from one status to another.
    fn recount(&mut self, owner: Option<&str>, from: AccountStatus, to: AccountStatus) {
        self.counts.sub(from);
        self.counts.add(to);
        let counts = match owner {
            Some(key) => match self.owners.get_mut(key) {
                Some(o) => &mut o.counts,
                None => return,
            },
            None => &mut self.shared_counts,
        };
        counts.sub(from);
        counts.add(to);
    }

    /// The ENABLED account linked last for (owner, country code, phone number), if any.
    fn linked_get(&self, owner: &str, country_code: &str, phone_number: &str) -> Option<Uuid> {
        if self.linked.is_empty() {
            return None;
        }
        let hash = self
            .linked_hasher
            .hash_one((owner, country_code, phone_number));
        self.linked
            .iter_hash(hash)
            .filter(|e| {
                e.hash == hash
                    && self
                        .accounts
                        .get(&e.id)
                        .is_some_and(|a| has_key(a, owner, country_code, phone_number))
            })
            .max_by_key(|e| e.order)
            .map(|e| e.id)
    }

    /// Adds the (stored, ENABLED, owned) account `id` to the linked index, as linked last.
    fn link(&mut self, id: &Uuid) {
        let State {
            accounts,
            linked,
            linked_hasher,
            next_link,
            ..
        } = self;
        let Some(account) = accounts.get(id) else {
            return;
        };
        let Some(hash) = linked_hash(linked_hasher, account) else {
            return;
        };
        let order = *next_link + 1;
        let entry = Linked {
            id: *id,
            order,
            hash,
        };
        if linked.insert_new(hash, entry, |e| e.id == *id).is_ok() {
            *next_link = order;
        }
    }

    /// Takes `account` out of the linked index, if it is there.
    fn unlink(&mut self, account: &Account) {
        let Some(hash) = linked_hash(&self.linked_hasher, account) else {
            return;
        };
        self.linked.remove(hash, |e| e.id == account.id);
    }

    /// Records the expiry of a PENDING account whose time has come; whether it changed.
    fn settle_expiry(&mut self, id: &Uuid, now_ms: u64) -> bool {
        let Some(account) = self.accounts.get_mut(id) else {
            return false;
        };
        if account.status == AccountStatus::Pending
            && account.status_at(now_ms) == AccountStatus::Expired
        {
            account.status = AccountStatus::Expired;
            account.updated_at_ms = now_ms;
            let owner = account.owner.clone();
            self.recount(
                owner.as_deref(),
                AccountStatus::Pending,
                AccountStatus::Expired,
            );
            return true;
        }
        false
    }
}

/// An ENABLED account in the linked index, with the order it was linked in and the hash of its
/// (owner, country code, phone number): kept so that growing the index reads no account and hashes
/// no string again.
struct Linked {
    id: Uuid,
    order: u64,
    hash: u64,
}

impl Hashed for Linked {
    fn hash(&self) -> u64 {
        self.hash
    }
}

fn has_key(a: &Account, owner: &str, country_code: &str, phone_number: &str) -> bool {
    a.owner.as_deref() == Some(owner)
        && &*a.country_code == country_code
        && &*a.phone_number == phone_number
}

/// The linked-index hash of an owned account; shared accounts are never in the index.
fn linked_hash(hasher: &RandomState, account: &Account) -> Option<u64> {
    let owner = account.owner.as_deref()?;
    Some(hasher.hash_one((owner, &*account.country_code, &*account.phone_number)))
}

pub struct Store {
    state: RwLock<State>,
    /// Accounts a create may bring the store to.
    limit: usize,
}

impl Default for Store {
    fn default() -> Self {
        Self::with_limit(usize::MAX)
    }
}

/// Accounts gathered outside the store's lock (a [`Store::refill`], a state file's accounts),
/// for [`Store::install`] to put in place at once.
pub struct Filling(State);

/// What an [`Store::install`] took out: dropped by the caller after its locks are released, as a
/// million accounts take a while to free.
#[must_use = "dropped after the locks are released"]
pub struct Replaced(#[allow(dead_code)] State);

impl Filling {
    /// Every account of a state file, in creation order, with its indexes.
    pub fn of(accounts: Vec<Account>) -> Self {
        let mut state = State::default();
        for mut account in accounts {
            account.owner = account.owner.map(|k| state.owner(&k).key.clone());
            // Not refused: the state file's import refuses a document that repeats an id.
            let _ = state.insert_unlinked(account);
        }
        // The linked index in the order the accounts were linked (an ENABLED account's
        // `updated_at_ms` is its link), not created: of several ENABLED accounts of one key and
        // number, the one linked last answers a create, after a restart too.
        let mut enabled: Vec<(u64, u64, Uuid)> = state
            .accounts
            .values()
            .filter(|a| a.status == AccountStatus::Enabled)
            .map(|a| (a.updated_at_ms, a.seq, a.id))
            .collect();
        enabled.sort_unstable();
        for (_, _, id) in enabled {
            state.link(&id);
        }
        state.written = true;
        Self(state)
    }

    /// Adds an account as is; replaces one with the same id.
    pub fn insert(&mut self, mut account: Account, owner: Option<&str>) {
        let state = &mut self.0;
        account.owner = owner.map(|k| state.owner(k).key.clone());
        let id = account.id;
        state.remove(&id);
        // Not refused: the id was just removed.
        let _ = state.insert(account);
    }
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose creates stop at `limit` accounts (fixtures and generated ones are checked
    /// against it at start, in `Config::validate`).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            state: RwLock::default(),
            limit,
        }
    }

    /// The state, to change it: every change goes through here, so that [`Store::refill`] knows.
    fn write(&self) -> RwLockWriteGuard<'_, State> {
        let mut state = self.state.write();
        state.written = true;
        state
    }

    /// The accounts `fill` adds (fixtures, generated bench data), made at `now_ms`, for
    /// [`Store::install`]; meanwhile the store is empty, so that two sets are never held at once.
    /// With `reuse`, a store that nothing has written to since it was last filled keeps its
    /// accounts, only their times moved to `now_ms`, and the answer is `None`: `fill` must then add
    /// the same accounts every time. Rebuilding them was most of a pooled server's reset (see
    /// BENCHMARKS.md).
    #[must_use = "the accounts go in with Store::install"]
    pub fn refill(
        &self,
        now_ms: u64,
        reuse: bool,
        fill: impl FnOnce(&mut Filling),
    ) -> Option<Filling> {
        if reuse {
            let mut state = self.state.write();
            if !state.written {
                for account in state.accounts.values_mut() {
                    account.created_at_ms = now_ms;
                    account.updated_at_ms = now_ms;
                }
                return None;
            }
        }
        // Freed after the lock is released, as a million of them take a while.
        let old = std::mem::take(&mut *self.write());
        drop(old);
        let mut filling = Filling(State::default());
        fill(&mut filling);
        Some(filling)
    }

    /// Puts `accounts` in place of every account, under one hold of the lock; whatever was
    /// written meanwhile (a create while a reset refilled) is replaced with the rest.
    pub fn install(&self, accounts: Filling) -> Replaced {
        Replaced(std::mem::replace(&mut *self.state.write(), accounts.0))
    }

    /// Creates a PENDING account, unless the merchant already linked this number.
    pub fn create(&self, new: NewAccount<'_>) -> CreateOutcome {
        // Drawn before the lock: only an id that is taken is drawn again under it.
        let (mut id, mut next) = (new.draw_id)();
        let mut state = self.write();
        if let Some(id) = state.linked_get(new.owner, &new.country_code, &new.phone_number)
            && let Some(existing) = state.accounts.get(&id)
        {
            return CreateOutcome::AlreadyLinked(Account::clone(existing));
        }
        if state.accounts.len() >= self.limit {
            return CreateOutcome::Full;
        }
        let owner = state.owner(new.owner);
        let redirect_url = new.redirect_url.map(|url| owner.redirect_url.share(&url));
        let mut account = Account {
            owner: Some(owner.key.clone()),
            phone_number: new.phone_number,
            redirect_url,
            expires_at_ms: new.expires_at_ms.into(),
            ..Account::new(
                Uuid::nil(),
                AccountStatus::Pending,
                "",
                new.country_code,
                None,
                new.now_ms,
            )
        };
        for _ in 0..crate::ids::DRAWS {
            account.id = id;
            match state.insert(account) {
                Ok(()) => {
                    if let Some(next) = next {
                        state.accounts.prefetch(&next);
                    }
                    let expires_first = new
                        .expires_at_ms
                        .is_some_and(|at| state.expiries.peek() == Some(&(at, id)));
                    return CreateOutcome::Created { id, expires_first };
                }
                Err(taken) => account = *taken,
            }
            (id, next) = (new.draw_id)();
        }
        CreateOutcome::NoFreeId
    }

    /// Runs `f` on the account under the read lock, with its status as of `now`. With a server key,
    /// an account that key may not see is reported as missing.
    pub fn read<R>(
        &self,
        id: &Uuid,
        server_key: Option<&str>,
        now_ms: u64,
        f: impl FnOnce(&Account, AccountStatus) -> R,
    ) -> Option<R> {
        let state = self.state.read();
        let account = state.accounts.get(id)?;
        if server_key.is_some_and(|k| !account.visible_to(k)) {
            return None;
        }
        Some(f(account, account.status_at(now_ms)))
    }

    /// A copy of the account, with any due expiry applied.
    pub fn get(&self, id: &Uuid, server_key: Option<&str>, now_ms: u64) -> Option<Account> {
        self.read(id, server_key, now_ms, |a, status| {
            let mut a = a.clone();
            a.status = status;
            a
        })
    }

    /// The account behind an activation link id.
    pub fn by_link(&self, link_id: &Uuid, now_ms: u64) -> Option<Account> {
        self.get(&super::account_id_of_link(link_id), None, now_ms)
    }

    /// Uses up the one-time web link (its form was submitted); false if it already was.
    pub fn use_web_link(&self, id: &Uuid) -> bool {
        let mut state = self.write();
        match state.accounts.get_mut(id) {
            Some(a) if !a.web_link_used => {
                a.web_link_used = true;
                true
            }
            _ => false,
        }
    }

    /// Applies a transition. `server_key` scopes the lookup (the Midtrans API); `None` is the control
    /// API, which sees every account. `options` gives the payment options of a newly linked account.
    pub fn transition(
        &self,
        id: &Uuid,
        server_key: Option<&str>,
        transition: Transition,
        now_ms: u64,
        options: impl FnOnce(&Account) -> ThinVec<PaymentOption>,
    ) -> Result<Account, TransitionError> {
        let mut state = self.write();
        match state.accounts.get(id) {
            Some(a) if server_key.is_none_or(|k| a.visible_to(k)) => {}
            _ => return Err(TransitionError::NotFound),
        }
        state.settle_expiry(id, now_ms);
        let account = state
            .accounts
            .get_mut(id)
            .ok_or(TransitionError::NotFound)?;
        if account.status != transition.from_status() {
            return Err(TransitionError::Invalid {
                current: account.status,
            });
        }
        account.status = transition.to_status();
        account.updated_at_ms = now_ms;
        if transition == Transition::Link {
            account.expires_at_ms = OptionalMs::NONE;
            if account.payment_options.is_empty() {
                account.payment_options = options(account);
            }
        }
        let account = Account::clone(account);
        state.recount(
            account.owner.as_deref(),
            transition.from_status(),
            account.status,
        );
        if account.status == AccountStatus::Enabled {
            state.link(id);
        } else {
            state.unlink(&account);
        }
        Ok(account)
    }

    /// Changes an account's payment options in place (control API).
    pub fn update_payment_options(
        &self,
        id: &Uuid,
        f: impl FnOnce(&mut ThinVec<PaymentOption>) -> Result<(), String>,
    ) -> Option<Result<Account, String>> {
        let mut state = self.write();
        let account = state.accounts.get_mut(id)?;
        let mut options = account.payment_options.clone();
        Some(f(&mut options).map(|()| {
            account.payment_options = options;
            Account::clone(account)
        }))
    }

    /// Changes the balance of the payment option `option` of an account under the write lock, so
    /// that concurrent charges and refunds never lose an update: `f` gets the balance and returns
    /// the new one, or `None` to leave it. Returns the new balance; `None` when the account or the
    /// option is gone, or `f` refused.
    pub fn change_balance(
        &self,
        id: &Uuid,
        option: &str,
        f: impl FnOnce(Amount) -> Option<Amount>,
    ) -> Option<Amount> {
        self.with_option(
            id,
            |o| *o.name == *option,
            |_, o| {
                let new = f(o.balance.value)?;
                o.balance.value = new;
                Some(new)
            },
        )
    }

    /// Runs `f` on the first payment option of an account that `which` picks, with the account's
    /// status, under the write lock; `None` when the account or such an option is gone, or `f`
    /// gives none.
    fn with_option<R>(
        &self,
        id: &Uuid,
        which: impl Fn(&PaymentOption) -> bool,
        f: impl FnOnce(AccountStatus, &mut PaymentOption) -> Option<R>,
    ) -> Option<R> {
        let mut state = self.write();
        let account = state.accounts.get_mut(id)?;
        let status = account.status;
        let o = account.payment_options.iter_mut().find(|o| which(o))?;
        f(status, o)
    }

    /// Takes `amount` from the active option `option` of an ENABLED account, under the write lock
    /// (a charge settled by its PIN after the account was unbound, or the option deactivated, must
    /// not pay). False when the account is not ENABLED, the option is gone or inactive, or its
    /// balance is short; nothing changes then.
    pub fn debit_enabled(&self, id: &Uuid, option: &str, amount: Amount) -> bool {
        let active = |o: &PaymentOption| *o.name == *option && o.active;
        self.with_option(id, active, |status, o| {
            if status != AccountStatus::Enabled {
                return None;
            }
            o.balance.value = o.balance.value.checked_sub(amount)?;
            Some(())
        })
        .is_some()
    }

    /// Records every expiry that is due, [`EXPIRE_BATCH`] at a time under the lock (readers
    /// meanwhile see the accounts not yet recorded as EXPIRED already: [`Account::status_at`]);
    /// returns how many accounts expired, and the ids of the first `keep_ids`.
    pub fn expire_due(&self, now_ms: u64, keep_ids: usize) -> Expired {
        let mut expired = Expired::default();
        loop {
            {
                let state = self.state.read();
                match state.expiries.peek() {
                    Some((at, _)) if *at <= now_ms => {}
                    _ => return expired,
                }
            }
            let mut state = self.write();
            for _ in 0..EXPIRE_BATCH {
                let Some((at, id)) = state.expiries.peek().copied() else {
                    return expired;
                };
                if at > now_ms {
                    return expired;
                }
                state.expiries.pop();
                if state.settle_expiry(&id, now_ms) {
                    expired.count += 1;
                    if expired.ids.len() < keep_ids {
                        expired.ids.push(id);
                    }
                }
            }
        }
    }

    /// When the next PENDING account expires, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        self.state.read().expiries.peek().map(|(at, _)| *at)
    }

    /// Up to `limit` accounts of `owner` (with `status`, if given) in creation order, after the
    /// cursor `after`; see [`crate::paging`].
    pub fn page(
        &self,
        owner: Owner<'_>,
        status: Option<AccountStatus>,
        after: Option<u64>,
        limit: usize,
        order: Order,
        now_ms: u64,
    ) -> AccountPage {
        let state = self.state.read();
        let none = ChunkedVec::default();
        let list = match owner {
            Owner::Key(key) => state.owners.get(key).map_or(&none, |o| &o.ids),
            Owner::Any | Owner::Shared => &state.order,
        };
        // Every listed id is a stored account (removals take it out of the lists).
        let seq = |id: &Uuid| state.accounts.get(id).map_or(0, |a| a.seq);
        let mut accounts = Vec::new();
        let mut last = None;
        for (scanned, id) in paging::after(list, after, order, seq).enumerate() {
            if accounts.len() >= limit || scanned >= paging::SCAN_BUDGET {
                return AccountPage {
                    accounts,
                    next: last,
                };
            }
            let Some(a) = state.accounts.get(id) else {
                continue;
            };
            last = Some(a.seq);
            if owner == Owner::Shared && a.owner.is_some() {
                continue;
            }
            let current = a.status_at(now_ms);
            if status.is_none_or(|s| s == current) {
                let mut a = Account::clone(a);
                a.status = current;
                accounts.push(a);
            }
        }
        AccountPage {
            accounts,
            next: None,
        }
    }

    /// Accounts by status, of everyone, one key, or the shared ones.
    pub fn counts(&self, owner: Owner<'_>) -> Counts {
        let state = self.state.read();
        match owner {
            Owner::Any => state.counts,
            Owner::Key(key) => state.owners.get(key).map(|o| o.counts).unwrap_or_default(),
            Owner::Shared => state.shared_counts,
        }
    }

    /// The first `limit` server keys that own accounts, in alphabetical order.
    pub fn keys(&self, limit: usize) -> Vec<String> {
        let state = self.state.read();
        state.owners.first(limit).map(str::to_string).collect()
    }

    /// Removes the accounts one server key owns; returns how many.
    pub fn remove_owned_by(&self, server_key: &str) -> usize {
        let mut state = self.write();
        let Some(owner) = state.owners.remove(server_key) else {
            return 0;
        };
        // The creation order is walked from the key's oldest account on (a key a test made a moment
        // ago is near the end), beside the key's own list, which is in the same order: no lookup
        // per account, which at millions of accounts held the lock for a good part of a second.
        let State {
            order, accounts, ..
        } = &mut *state;
        let whole = order.remove_in_order(&owner.ids, |id| accounts.get(id).map_or(0, |a| a.seq));
        debug_assert!(whole, "a key's list left the creation order");
        if !whole {
            // The two lists disagree, which no write makes them do: the slow way, to be sure.
            order.retain(|id| {
                accounts
                    .get(id)
                    .is_some_and(|a| a.owner.as_deref() != Some(server_key))
            });
        }
        // Freed after the lock is released, as a key may own a great many.
        let mut removed = Vec::with_capacity(owner.ids.len());
        // Each removal is a random place in the table: fetched a few removals ahead, so that they
        // are not waited for one by one (see BENCHMARKS.md).
        let mut ahead = owner.ids.iter().skip(crate::limits::REMOVE_AHEAD);
        for id in owner.ids.iter() {
            if let Some(next) = ahead.next() {
                state.accounts.prefetch(next);
            }
            if let Some(account) = state.accounts.remove(id) {
                state.unlink(&account);
                state.counts.sub(account.status);
                removed.push(account);
            }
        }
        state.compact_expiries();
        drop(state);
        drop(removed);
        owner.ids.len()
    }

    pub fn len(&self) -> usize {
        self.state.read().accounts.len()
    }

    /// The `seq` the newest account got: a reader in pieces stops there, so that accounts made
    /// while it reads are not chased.
    pub fn last_seq(&self) -> u64 {
        self.state.read().next_seq
    }

    /// Accounts a create may bring the store to (`--max-accounts`).
    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_hashes_server_keys_with_a_key_of_its_own() {
        let (a, b) = (State::default(), State::default());
        let key = "SB-Mid-server-x";
        assert_ne!(
            a.owners.by_key.hasher().hash_one(key),
            b.owners.by_key.hasher().hash_one(key)
        );
    }

    fn new_account(store: &Store, owner: &str, phone: &str, expires: Option<u64>) -> Account {
        match store.create(NewAccount {
            draw_id: &|| (Uuid::new_v4(), None),
            owner,
            phone_number: phone.into(),
            country_code: CountryCode::INDONESIA,
            redirect_url: None,
            now_ms: 1_000,
            expires_at_ms: expires,
        }) {
            CreateOutcome::Created { id, .. } => store.get(&id, None, 1_000).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// Of two ENABLED accounts of one key and number, the one linked last answers a create; a
    /// state file's accounts come in creation order, and the answer must not change with them.
    #[test]
    fn the_account_linked_last_answers_a_create_after_a_state_file_too() {
        let store = Store::new();
        let older = new_account(&store, "k", "81", None);
        let newer = new_account(&store, "k", "81", None);
        let link = |id: &Uuid, at: u64| {
            store
                .transition(id, None, Transition::Link, at, |_| ThinVec::new())
                .expect("linked");
        };
        link(&newer.id, 2_000);
        link(&older.id, 3_000);
        let answer = |store: &Store| match store.create(NewAccount {
            draw_id: &|| (Uuid::new_v4(), None),
            owner: "k",
            phone_number: "81".into(),
            country_code: CountryCode::INDONESIA,
            redirect_url: None,
            now_ms: 4_000,
            expires_at_ms: None,
        }) {
            CreateOutcome::AlreadyLinked(a) => a.id,
            other => panic!("{other:?}"),
        };
        assert_eq!(answer(&store), older.id);
        let saved = store.page(Owner::Any, None, None, 10, Order::OldestFirst, 4_000);
        let restored = Store::new();
        drop(restored.install(Filling::of(saved.accounts)));
        assert_eq!(answer(&restored), older.id);
    }

    #[test]
    fn a_key_s_accounts_share_its_redirect_url_while_it_sends_the_same() {
        let store = Store::with_limit(100);
        let create = |owner: &str, url: Option<&str>| {
            let outcome = store.create(NewAccount {
                draw_id: &|| (Uuid::new_v4(), None),
                owner,
                phone_number: "81".into(),
                country_code: CountryCode::INDONESIA,
                redirect_url: url.map(str::to_string),
                now_ms: 1_000,
                expires_at_ms: None,
            });
            let CreateOutcome::Created { id, .. } = outcome else {
                panic!("{outcome:?}");
            };
            store.get(&id, None, 1_000).unwrap().redirect_url
        };
        let [a, b, none, c, d, other, e] = [
            create("k", Some("https://a.example")),
            create("k", Some("https://a.example")),
            create("k", None),
            create("k", Some("https://b.example")),
            create("k", Some("https://a.example")),
            create("k2", Some("https://a.example")),
            create("k", Some("https://a.example")),
        ];
        let url = |u: &Option<SharedText>| u.as_deref().map(str::to_string);
        assert_eq!(
            [&a, &b, &none, &c, &d, &other, &e].map(url),
            [
                Some("https://a.example"),
                Some("https://a.example"),
                None,
                Some("https://b.example"),
                Some("https://a.example"),
                Some("https://a.example"),
                Some("https://a.example"),
            ]
            .map(|u| u.map(str::to_string))
        );
        let shared = |x: &Option<SharedText>, y: &Option<SharedText>| {
            SharedText::ptr_eq(x.as_ref().unwrap(), y.as_ref().unwrap())
        };
        assert!(shared(&a, &b));
        assert!(!shared(&a, &d), "b.example came between them");
        assert!(
            shared(&d, &e),
            "another key's create does not end the sharing"
        );
        assert!(!shared(&e, &other), "keys do not share");
    }

    #[test]
    fn a_refill_keeps_the_accounts_only_while_nothing_has_written_to_the_store() {
        use std::cell::Cell;

        let fixture = Uuid::from_u128(1);
        let fills = Cell::new(0);
        let refill = |store: &Store, now: u64, reuse: bool| {
            let filled = store.refill(now, reuse, |f| {
                fills.set(fills.get() + 1);
                f.insert(
                    Account::new(
                        fixture,
                        AccountStatus::Pending,
                        "81",
                        CountryCode::INDONESIA,
                        None,
                        now,
                    ),
                    None,
                );
            });
            if let Some(filled) = filled {
                drop(store.install(filled));
            }
        };
        let fresh = |store: &Store, now: u64| {
            let a = store
                .get(&fixture, None, now)
                .expect("the fixture is there");
            assert_eq!(a.status, AccountStatus::Pending);
            assert!(a.payment_options.is_empty() && !a.web_link_used);
            assert_eq!((a.created_at_ms, a.updated_at_ms), (now, now));
            assert_eq!(store.len(), 1);
        };
        let store = Store::new();
        refill(&store, 1, false);
        // Reads write nothing: the accounts stay, only their times move.
        let _ = store.get(&fixture, None, 2);
        let _ = store.page(Owner::Any, None, None, 10, Order::OldestFirst, 2);
        let _ = store.expire_due(2, 0);
        refill(&store, 3, true);
        assert_eq!(fills.get(), 1);
        fresh(&store, 3);
        // Without `reuse` it fills again whatever.
        refill(&store, 4, false);
        assert_eq!(fills.get(), 2);
        fresh(&store, 4);

        let option = || PaymentOption {
            name: "GOPAY_WALLET".into(),
            active: true,
            balance: super::super::Balance {
                value: crate::money::Amount::from_units(5),
                currency: "IDR".into(),
            },
            token: super::super::Token::Given("t".into()),
        };
        let add_option = |s: &Store| {
            s.update_payment_options(&fixture, |o| {
                o.push(option());
                Ok(())
            })
            .expect("found")
            .expect("updated");
        };
        type Write<'a> = Box<dyn Fn(&Store) + 'a>;
        let writes: Vec<(&str, Write)> = vec![
            (
                "create",
                Box::new(|s| drop(new_account(s, "k", "82", None))),
            ),
            (
                "use_web_link",
                Box::new(|s| assert!(s.use_web_link(&fixture))),
            ),
            (
                "transition",
                Box::new(|s| {
                    s.transition(&fixture, None, Transition::Link, 5, |_| {
                        thin_vec::thin_vec![option()]
                    })
                    .expect("linked");
                }),
            ),
            ("update_payment_options", Box::new(add_option)),
            (
                "change_balance",
                Box::new(|s| {
                    add_option(s);
                    refill_marker(s);
                    s.change_balance(&fixture, "GOPAY_WALLET", |_| Some(Amount::default()))
                        .expect("changed");
                }),
            ),
            (
                "expire_due",
                Box::new(|s| {
                    let a = new_account(s, "k", "83", Some(2));
                    refill_marker(s);
                    assert_eq!(s.expire_due(5, 0).count, 1, "{a:?}");
                }),
            ),
            (
                "remove_owned_by",
                Box::new(|s| {
                    drop(new_account(s, "k", "84", None));
                    refill_marker(s);
                    assert_eq!(s.remove_owned_by("k"), 1);
                }),
            ),
            (
                "install",
                Box::new(|s| drop(s.install(Filling::of(Vec::new())))),
            ),
        ];
        for (name, write) in &writes {
            let before = fills.get();
            write(&store);
            refill(&store, 6, true);
            assert_eq!(fills.get(), before + 1, "{name} wrote to the store");
            fresh(&store, 6);
        }
    }

    /// Marks `store` as freshly filled without changing it, so that the next write in a test is
    /// the only one since (the write under test, not the set-up before it).
    fn refill_marker(store: &Store) {
        store.state.write().written = false;
    }

    #[test]
    fn accounts_are_scoped_to_their_server_key() {
        let store = Store::new();
        let a = new_account(&store, "key-a", "81", None);
        assert!(store.get(&a.id, Some("key-a"), 0).is_some());
        assert!(store.get(&a.id, Some("key-b"), 0).is_none());
        assert!(store.get(&a.id, None, 0).is_some());
        assert_eq!(
            store
                .transition(&a.id, Some("key-b"), Transition::Link, 0, |_| ThinVec::new(
                ))
                .unwrap_err(),
            TransitionError::NotFound
        );
    }

    /// The sweep records every due expiry however many there are, a batch per hold of the lock,
    /// and names as many as it is asked to.
    #[test]
    fn a_sweep_past_many_batches_expires_them_all_and_names_the_first() {
        let store = Store::with_limit(10_000);
        let n = EXPIRE_BATCH * 2 + 7;
        for i in 0..n {
            new_account(&store, "k", &format!("8{i:09}"), Some(2_000));
        }
        let later = new_account(&store, "k", "899", Some(9_000));
        let expired = store.expire_due(5_000, 10);
        assert_eq!(expired.count, n);
        assert_eq!(expired.ids.len(), 10);
        assert_eq!(store.counts(Owner::Key("k")).get(AccountStatus::Expired), n);
        assert_eq!(
            store.get(&later.id, None, 5_000).unwrap().status,
            AccountStatus::Pending
        );
        assert_eq!(store.expire_due(5_000, 10).count, 0, "nothing left due");
    }

    /// Accounts that leave PENDING by a key's reset or a link leave no expiry entry behind for
    /// long: the queue stays within twice the PENDING accounts and its slack, however many
    /// come and go, and the accounts still PENDING expire when due.
    #[test]
    fn the_expiry_queue_stays_bounded_by_the_pending_accounts() {
        let store = Store::with_limit(100_000);
        let year = 365 * 24 * 3_600_000;
        let kept = new_account(&store, "kept", "81", Some(year));
        let bound = |store: &Store| {
            let state = store.state.read();
            let pending = state.counts.get(AccountStatus::Pending);
            assert!(
                state.expiries.len() <= 2 * pending + EXPIRIES_SLACK + 1,
                "{} entries for {pending} PENDING accounts",
                state.expiries.len()
            );
        };
        for round in 0..20 {
            for i in 0..1_000 {
                new_account(&store, "reset", &format!("8{i:09}"), Some(year));
            }
            bound(&store);
            assert_eq!(store.remove_owned_by("reset"), 1_000);
            bound(&store);
            for i in 0..500 {
                let a = new_account(&store, "linked", &format!("8{round:02}{i:07}"), Some(year));
                store
                    .transition(&a.id, None, Transition::Link, 2_000, |_| ThinVec::new())
                    .unwrap();
            }
            bound(&store);
        }
        assert!(store.state.read().expiries.len() < 3 * EXPIRIES_SLACK);
        let expired = store.expire_due(year, 10);
        assert_eq!((expired.count, expired.ids), (1, vec![kept.id]));
    }

    /// A create tells when its account expires before every other PENDING one, so that the
    /// scheduler asleep until the next expiry it knew of can be woken.
    #[test]
    fn a_create_tells_when_its_account_expires_first() {
        let store = Store::new();
        let create = |phone: &str, expires: Option<u64>| match store.create(NewAccount {
            draw_id: &|| (Uuid::new_v4(), None),
            owner: "k",
            phone_number: phone.into(),
            country_code: CountryCode::INDONESIA,
            redirect_url: None,
            now_ms: 1_000,
            expires_at_ms: expires,
        }) {
            CreateOutcome::Created { expires_first, .. } => expires_first,
            other => panic!("{other:?}"),
        };
        assert!(create("81", Some(5_000)));
        assert!(!create("82", Some(6_000)));
        assert!(!create("83", None));
        assert!(create("84", Some(4_000)));
    }

    #[test]
    fn pending_accounts_expire_lazily_and_by_the_sweeper() {
        let store = Store::new();
        let a = new_account(&store, "k", "81", Some(5_000));
        assert_eq!(
            store.get(&a.id, None, 4_999).unwrap().status,
            AccountStatus::Pending
        );
        assert_eq!(
            store.get(&a.id, None, 5_000).unwrap().status,
            AccountStatus::Expired
        );
        assert_eq!(
            store
                .transition(&a.id, None, Transition::Link, 6_000, |_| ThinVec::new())
                .unwrap_err(),
            TransitionError::Invalid {
                current: AccountStatus::Expired
            }
        );
        assert!(
            store.expire_due(7_000, 1).ids.is_empty(),
            "already settled by the transition"
        );
        let b = new_account(&store, "k", "82", Some(8_000));
        assert_eq!(store.expire_due(8_000, 1).ids, vec![b.id]);
    }

    /// A drawn id that names an account is drawn again: the account that has it stays as it was
    /// and is listed once.
    #[test]
    fn a_create_never_takes_the_id_of_an_account_that_exists() {
        let store = Store::new();
        let a = new_account(&store, "k", "81", None);
        store
            .transition(&a.id, Some("k"), Transition::Link, 2, |_| ThinVec::new())
            .unwrap();
        let fresh = Uuid::new_v4();
        let draws = std::cell::Cell::new(0);
        let create = |draw_id: &dyn Fn() -> (Uuid, Option<Uuid>)| {
            store.create(NewAccount {
                draw_id,
                owner: "k",
                phone_number: "82".into(),
                country_code: CountryCode::INDONESIA,
                redirect_url: None,
                now_ms: 3,
                expires_at_ms: Some(10),
            })
        };
        let outcome = create(&|| {
            draws.set(draws.get() + 1);
            (if draws.get() < 3 { a.id } else { fresh }, None)
        });
        assert!(
            matches!(outcome, CreateOutcome::Created { id, .. } if id == fresh),
            "{outcome:?}"
        );
        assert_eq!(draws.get(), 3);
        let kept = store.get(&a.id, None, 3).unwrap();
        assert_eq!(
            (kept.status, kept.phone_number.as_str()),
            (AccountStatus::Enabled, "81")
        );
        let listed = |owner| -> Vec<Uuid> {
            let page = store.page(owner, None, None, 10, crate::paging::Order::OldestFirst, 3);
            page.accounts.iter().map(|a| a.id).collect()
        };
        assert_eq!(listed(Owner::Any), [a.id, fresh]);
        assert_eq!(listed(Owner::Key("k")), [a.id, fresh]);
        let counts = store.counts(Owner::Key("k"));

        // Only taken ids: nothing is made and nothing changes.
        let outcome = create(&|| (fresh, None));
        assert!(matches!(outcome, CreateOutcome::NoFreeId), "{outcome:?}");
        assert_eq!(store.len(), 2);
        assert_eq!(listed(Owner::Any), [a.id, fresh]);
        assert_eq!(store.counts(Owner::Key("k")), counts);
        assert_eq!(
            store.get(&fresh, None, 3).unwrap().phone_number.as_str(),
            "82"
        );
    }

    #[test]
    fn linking_twice_answers_with_the_linked_account() {
        let store = Store::new();
        let a = new_account(&store, "k", "81", None);
        store
            .transition(&a.id, Some("k"), Transition::Link, 2, |_| ThinVec::new())
            .unwrap();
        match store.create(NewAccount {
            draw_id: &|| (Uuid::new_v4(), None),
            owner: "k",
            phone_number: "81".into(),
            country_code: CountryCode::INDONESIA,
            redirect_url: None,
            now_ms: 3,
            expires_at_ms: None,
        }) {
            CreateOutcome::AlreadyLinked(existing) => assert_eq!(existing.id, a.id),
            other => panic!("{other:?}"),
        }
        // Another merchant, or the same one after unbinding, starts a new link.
        new_account(&store, "other", "81", None);
        store
            .transition(&a.id, Some("k"), Transition::Unbind, 4, |_| ThinVec::new())
            .unwrap();
        new_account(&store, "k", "81", None);
    }

    #[test]
    fn the_linked_index_survives_growth_and_removals() {
        let store = Store::new();
        let ids: Vec<Uuid> = (0..2_000)
            .map(|i| {
                let a = new_account(&store, "k", &format!("8{i}"), None);
                store
                    .transition(&a.id, Some("k"), Transition::Link, 2, |_| ThinVec::new())
                    .unwrap();
                a.id
            })
            .collect();
        for id in ids.iter().step_by(2) {
            store
                .transition(id, Some("k"), Transition::Unbind, 3, |_| ThinVec::new())
                .unwrap();
        }
        for (i, id) in ids.iter().enumerate() {
            let outcome = store.create(NewAccount {
                draw_id: &|| (Uuid::new_v4(), None),
                owner: "k",
                phone_number: format!("8{i}").into(),
                country_code: CountryCode::INDONESIA,
                redirect_url: None,
                now_ms: 4,
                expires_at_ms: None,
            });
            match outcome {
                CreateOutcome::AlreadyLinked(a) => assert!(i % 2 == 1 && a.id == *id, "{i}"),
                CreateOutcome::Created { .. } => assert!(i % 2 == 0, "{i}"),
                CreateOutcome::Full | CreateOutcome::NoFreeId => panic!("{outcome:?}"),
            }
        }
    }

    #[test]
    fn reset_by_key_leaves_other_merchants_alone() {
        let store = Store::new();
        new_account(&store, "a", "81", None);
        new_account(&store, "a", "82", None);
        let b = new_account(&store, "b", "81", None);
        assert_eq!(store.remove_owned_by("a"), 2);
        assert_eq!(store.len(), 1);
        assert!(store.get(&b.id, Some("b"), 0).is_some());
        assert!(store.by_link(&b.link_id(), 0).is_some());
    }

    #[test]
    fn pages_run_in_creation_order_per_key_and_survive_a_reset_by_key() {
        let store = Store::new();
        let mut mine = Vec::new();
        for i in 0..5 {
            mine.push(new_account(&store, "a", &format!("81{i}"), None).id);
            new_account(&store, "b", &format!("82{i}"), None);
        }
        let ids = |page: &AccountPage| page.accounts.iter().map(|a| a.id).collect::<Vec<_>>();
        let first = store.page(Owner::Key("a"), None, None, 2, Order::OldestFirst, 0);
        assert_eq!(ids(&first), mine[..2]);
        let second = store.page(Owner::Key("a"), None, first.next, 10, Order::OldestFirst, 0);
        assert_eq!((ids(&second), second.next), (mine[2..].to_vec(), None));
        let newest = store.page(Owner::Key("a"), None, None, 2, Order::NewestFirst, 0);
        assert_eq!(ids(&newest), [mine[4], mine[3]]);
        assert_eq!(store.counts(Owner::Key("a")).get(AccountStatus::Pending), 5);
        assert_eq!(store.counts(Owner::Any).total(), 10);
        assert_eq!(store.remove_owned_by("b"), 5);
        let all = store.page(Owner::Any, None, None, 100, Order::OldestFirst, 0);
        assert_eq!(ids(&all), mine);
        assert_eq!(store.counts(Owner::Any).total(), 5);
        assert_eq!(store.keys(10), ["a"]);
    }

    #[test]
    fn the_key_list_is_the_first_keys_that_own_accounts_in_order() {
        let store = Store::new();
        let mut model = BTreeSet::new();
        // Keys arrive out of order, some more than once; some go with their accounts.
        for i in 0..300u32 {
            let key = format!("k{:03}", (i * 37) % 101);
            new_account(&store, &key, &format!("81{i}"), None);
            model.insert(key);
            if i % 50 == 49 {
                let gone = format!("k{:03}", (i * 11) % 101);
                store.remove_owned_by(&gone);
                model.remove(&gone);
            }
        }
        let first = |n: usize| model.iter().take(n).cloned().collect::<Vec<_>>();
        assert_eq!(store.keys(5), first(5));
        assert_eq!(store.keys(1000), first(1000));
        // A fixture account replaced by id, the last of its key's: the key goes too.
        let lone = new_account(&store, "a-lone", "89", None);
        assert_eq!(store.keys(1), ["a-lone"]);
        store.write().remove(&lone.id);
        assert_eq!(store.keys(5), first(5));
        // A state file's accounts bring their keys with them.
        let moved = Filling::of(vec![Account {
            owner: Some("z".into()),
            ..lone
        }]);
        drop(store.install(moved));
        assert_eq!(store.keys(5), ["z"]);
    }

    #[test]
    fn a_reset_by_key_takes_exactly_that_key_s_accounts_out_of_the_creation_order() {
        let store = Store::new();
        let keys = ["a", "b", "c"];
        let mut made: Vec<(&str, Uuid)> = Vec::new();
        // Interleaved, with "c" starting late and "b" made in runs, across several chunks.
        for i in 0..9_000 {
            let key = match i % 7 {
                0..=2 => "b",
                3 if i > 4_000 => "c",
                _ => "a",
            };
            made.push((key, new_account(&store, key, &format!("8{i:09}"), None).id));
        }
        let all = |store: &Store| {
            let mut ids = Vec::new();
            let mut after = None;
            loop {
                let page = store.page(Owner::Any, None, after, 1000, Order::OldestFirst, 0);
                ids.extend(page.accounts.iter().map(|a| (a.id, a.seq)));
                match page.next {
                    Some(next) => after = Some(next),
                    None => return ids,
                }
            }
        };
        for gone in keys {
            let owned = made.iter().filter(|(k, _)| *k == gone).count();
            assert_eq!(store.remove_owned_by(gone), owned);
            made.retain(|(k, _)| *k != gone);
            let expected: Vec<Uuid> = made.iter().map(|(_, id)| *id).collect();
            let listed = all(&store);
            let ids: Vec<Uuid> = listed.iter().map(|(id, _)| *id).collect();
            assert_eq!(ids, expected, "after removing {gone}");
            assert_eq!(
                store.state.read().order.len(),
                expected.len(),
                "no id left behind"
            );
            // Cursors still work on what is left: a page after the middle one starts right after it.
            let middle = listed.len() / 2;
            if middle + 1 < listed.len() {
                let after = Some(listed[middle].1);
                let page = store.page(Owner::Any, None, after, 1, Order::OldestFirst, 0);
                assert_eq!(page.accounts[0].id, listed[middle + 1].0);
            }
        }
        assert!(store.is_empty());
    }
}
