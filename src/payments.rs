//! Where a transaction changes: a charge, the PIN, capture, cancel, expire and refund. Each moves the
//! money on the account (a debit, a hold, a release, a credit), changes the transaction, and records
//! the payment notifications it sends, all before the caller answers.
//!
//! The transaction store's lock is held across the whole change, the balance move included (lock
//! order: transactions, then accounts), so two charges cannot both spend one balance or one order id.
//! What a charge comes to is decided in [`crate::charges::decide`]; the answers' bodies are the API's
//! business (`api/charge.rs`, `api/transaction.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use compact_str::CompactString;
use serde_json::value::RawValue;
use smallvec::SmallVec;
use uuid::Uuid;

use crate::app::AppState;
use crate::charges::decide::{self, Ask, Decision, Facts};
use crate::charges::store::{Book, NotStored, OrderHash};
use crate::charges::{
    Extras, INSUFFICIENT_BALANCE, NotifyTo, Refund, Transaction, TxChange, TxStatus,
};
use crate::clock;
use crate::fixtures::Outcome as PhoneOutcome;
use crate::ids;
use crate::money::Amount;
use crate::notifications::{Event, Recorded, Target, TransactionRef, payload};

/// A charge, as the API read it from the request.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub order_id: String,
    pub gross_amount: Amount,
    /// Checked to be IDR.
    pub currency: &'static str,
    pub account_id: Option<Uuid>,
    pub token: String,
    pub callback_url: Option<String>,
    pub pre_auth: bool,
    pub recurring: bool,
    pub metadata: Option<Box<RawValue>>,
    /// `custom_expiry`, already checked against its range.
    pub expiry: Option<Duration>,
    pub notify_to: NotifyTo,
}

/// Why a charge made no transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeError {
    WalletNotFound,
    TokenInvalid,
    UserBlocked,
    OrderConflict,
    /// `--max-transactions` reached.
    Full,
    /// Every id drawn named a transaction that exists (a seeded server given a state document
    /// that holds the ids its seed draws next).
    NoFreeId,
}

/// Why a change did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeError {
    NotFound,
    NotAllowed { current: TxStatus },
}

/// Why a refund did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundError {
    NotFound,
    NotAllowed,
    InvalidAmount,
    Duplicate,
}

/// A refund, as the API read it.
#[derive(Debug, Clone, Default)]
pub struct RefundRequest {
    /// `None`: what is left of the amount.
    pub amount: Option<Amount>,
    pub refund_key: Option<String>,
    pub reason: Option<String>,
    pub direct: bool,
}

/// Makes a charge: decides it, moves the money, stores the transaction, records its notification;
/// returns its answer as `render` wrote it. With an `Idempotency-Key`, through [`idempotent`]: a
/// key seen within its window gets its first answer again, and nothing changes.
///
/// # Errors
/// [`ChargeError`]: nothing changed and nothing is sent (Midtrans sends no notification for 4xx).
pub fn charge(
    app: &AppState,
    owner: &str,
    req: ChargeRequest,
    idempotency_key: Option<&str>,
    render: impl FnOnce(&Transaction) -> Vec<u8>,
) -> Result<Bytes, ChargeError> {
    let now = app.clock.now_ms();
    let (pin_threshold, link_ttl, tx_ttl, hold) = {
        let s = app.settings.read();
        (
            s.pin_threshold,
            s.verification_link_ttl,
            s.transaction_ttl,
            s.pre_auth_hold,
        )
    };
    idempotent(app, owner, idempotency_key, |book| {
        let owner = book.owner_key(owner);
        let ask = Ask {
            token: &req.token,
            amount: req.gross_amount,
            pre_auth: req.pre_auth,
            recurring: req.recurring,
        };
        let order_hash = book.order_hash(&owner, &req.order_id);
        let order_id_taken = book.order_id_taken(order_hash, &owner, &req.order_id);
        // Decided under the account's read lock, from the account itself (no copy of it).
        let decided = req.account_id.and_then(|id| {
            app.store.read(&id, Some(&owner), now, |account, status| {
                let blocked = app.scenarios.with(
                    Some(&owner),
                    &account.phone_number,
                    &account.country_code,
                    |s| s.is_some_and(|s| s.outcome == PhoneOutcome::UserBlocked),
                );
                let facts = Facts {
                    account: Some((account, status)),
                    blocked,
                    order_id_taken,
                    pin_threshold,
                };
                let decision = decide::decide(&ask, &facts);
                let option = match decision {
                    Decision::Deny { option, .. }
                    | Decision::Settle { option }
                    | Decision::Authorize { option }
                    | Decision::Pending { option } => {
                        account.payment_options.get(option).map(|o| o.name.clone())
                    }
                    _ => None,
                };
                (decision, option)
            })
        });
        let (decision, option) = decided.unwrap_or((Decision::WalletNotFound, None));
        let (mut status, mut deny) = match decision {
            Decision::WalletNotFound => return Err(ChargeError::WalletNotFound),
            Decision::TokenInvalid => return Err(ChargeError::TokenInvalid),
            Decision::UserBlocked => return Err(ChargeError::UserBlocked),
            Decision::OrderConflict => return Err(ChargeError::OrderConflict),
            Decision::Deny { reason, .. } => (TxStatus::Deny, Some(reason)),
            Decision::Settle { .. } => (TxStatus::Settlement, None),
            Decision::Authorize { .. } => (TxStatus::Authorize, None),
            Decision::Pending { .. } => (TxStatus::Pending, None),
        };
        let (Some(account_id), Some(option)) = (req.account_id, option) else {
            return Err(ChargeError::WalletNotFound);
        };
        // No money moves for a charge that cannot be stored.
        if book.len() >= book.limit() {
            return Err(ChargeError::Full);
        }
        if matches!(status, TxStatus::Settlement | TxStatus::Authorize)
            && !debit(app, &account_id, &option, req.gross_amount)
        {
            // The balance changed since it was read (a control API edit): deny, like the sandbox.
            status = TxStatus::Deny;
            deny = Some(&INSUFFICIENT_BALANCE);
        }
        let ttl = match status {
            TxStatus::Authorize => hold,
            _ => req.expiry.unwrap_or(tx_ttl),
        };
        let (id, next_id) = app.ids.uuid_and_next();
        let t = Transaction {
            id,
            order_id: CompactString::from(req.order_id.as_str()),
            owner: owner.clone(),
            account_id,
            payment_option: option,
            gross_amount: req.gross_amount,
            status,
            cancelled_while: None,
            pre_auth: req.pre_auth,
            recurring: req.recurring,
            extras: Extras {
                callback_url: req.callback_url.clone().map(String::into_boxed_str),
                metadata: req.metadata.clone(),
                notify_to: req.notify_to.clone(),
            }
            .boxed(),
            deny_reason: deny,
            created_at_ms: now,
            updated_at_ms: now,
            settled_at_ms: (status == TxStatus::Settlement).then_some(now),
            expires_at_ms: clock::after(now, ttl),
            links_expire_at_ms: clock::after(now, link_ttl.min(ttl)),
            web_link_used: false,
            refunds: Vec::new(),
            seq: 0,
        };
        let (account_id, option, amount) = (t.account_id, t.payment_option.clone(), t.gross_amount);
        let stored = match insert_with_free_id(app, book, t, order_hash, next_id) {
            Ok(stored) => stored,
            Err(e) => {
                if status == TxStatus::Settlement || status == TxStatus::Authorize {
                    credit(app, &account_id, &option, amount);
                }
                return Err(e);
            }
        };
        // Recorded and answered from the stored transaction, without a copy of it.
        notify(app, &stored, false);
        // The answer's own buffer, shared (not copied) with the replay and the HTTP layer.
        Ok(Bytes::from(render(&stored)))
    })
}

/// Stores a new transaction, drawing another id while its id names a transaction that exists.
fn insert_with_free_id(
    app: &AppState,
    book: &mut Book,
    mut t: Transaction,
    order_hash: OrderHash,
    mut next_id: Uuid,
) -> Result<Arc<Transaction>, ChargeError> {
    for _ in 0..ids::DRAWS {
        match book.insert_hashed(t, order_hash) {
            Ok(stored) => {
                // Where the next charge's transaction goes.
                book.prefetch(&next_id);
                if matches!(stored.status, TxStatus::Pending | TxStatus::Authorize)
                    && book.next_due() == Some(stored.expires_at_ms)
                {
                    // It expires sooner than what the scheduler sleeps until.
                    app.notifications.wake.notify_one();
                }
                return Ok(stored);
            }
            Err(NotStored::Full) => return Err(ChargeError::Full),
            Err(NotStored::IdTaken(back)) => {
                t = *back;
                (t.id, next_id) = app.ids.uuid_and_next();
            }
        }
    }
    Err(ChargeError::NoFreeId)
}

/// Applies `change` to the transaction `id` (transaction or order id) of `owner` (`None`: any, for
/// the control API and the PIN pages), moves the money it moves, and records its notification.
/// A settle that finds the balance short denies instead, as the sandbox does after the PIN.
///
/// # Errors
/// [`ChangeError`]: nothing changed.
pub fn change(
    app: &AppState,
    owner: Option<&str>,
    id: &str,
    change: TxChange,
) -> Result<Arc<Transaction>, ChangeError> {
    apply(app, owner, id, change, None)
}

/// [`change`]; with `due_at`, only if the transaction is past its expiry at that time (the
/// sweep: a reset or an import since it took the id may have put a new transaction there).
fn apply(
    app: &AppState,
    owner: Option<&str>,
    id: &str,
    change: TxChange,
    due_at: Option<u64>,
) -> Result<Arc<Transaction>, ChangeError> {
    app.transactions
        .with(|book| change_in(app, book, owner, id, change, due_at))
}

/// [`apply`] under a hold of the book's lock that the caller has.
pub(crate) fn change_in(
    app: &AppState,
    book: &mut Book,
    owner: Option<&str>,
    id: &str,
    change: TxChange,
    due_at: Option<u64>,
) -> Result<Arc<Transaction>, ChangeError> {
    let now = app.clock.now_ms();
    let t = book.find(owner, id).ok_or(ChangeError::NotFound)?;
    let current = t.status;
    if due_at.is_some_and(|at| effective_status(t, at) != TxStatus::Expire) {
        return Err(ChangeError::NotAllowed { current });
    }
    // Past its expiry, only the expiry itself applies (the scheduler records it at once).
    if change != TxChange::Expire && effective_status(t, now) == TxStatus::Expire {
        return Err(ChangeError::NotAllowed {
            current: TxStatus::Expire,
        });
    }
    let mut to = change
        .apply(current)
        .ok_or(ChangeError::NotAllowed { current })?;
    let (account_id, option, amount) = (t.account_id, t.payment_option.clone(), t.gross_amount);
    let mut deny = None;
    match (change, current) {
        // The PIN settles by debiting; a balance that no longer suffices denies, and so does
        // an account unbound (or an option deactivated) since the charge.
        (TxChange::Settle, TxStatus::Pending) if !debit(app, &account_id, &option, amount) => {
            to = TxStatus::Deny;
            deny = Some(&INSUFFICIENT_BALANCE);
        }
        (TxChange::Cancel | TxChange::Expire, TxStatus::Authorize) => {
            credit(app, &account_id, &option, amount);
        }
        _ => {}
    }
    let t = book.find_mut(owner, id).ok_or(ChangeError::NotFound)?;
    if to == TxStatus::Cancel {
        t.cancelled_while = Some(current);
    }
    t.status = to;
    t.updated_at_ms = now;
    if deny.is_some() {
        t.deny_reason = deny;
    }
    if to == TxStatus::Settlement {
        t.settled_at_ms = Some(now);
    }
    let id = t.id;
    let t = book.shared(&id).ok_or(ChangeError::NotFound)?;
    book.settled(&t);
    // Under the book's lock, as the charge does: a reset of the key that takes the
    // transaction out then takes this notification out too.
    notify(app, &t, false);
    Ok(t)
}

/// The answer an `Idempotency-Key` of `owner` got within its window, if any: Midtrans answers a
/// key seen before with that answer, whatever the endpoint and the body.
pub fn replay(app: &AppState, owner: &str, key: Option<&str>) -> Option<Bytes> {
    let key = key?;
    let now = app.clock.now_ms();
    app.transactions
        .with(|book| book.replay(owner, key, now))
        .map(|r| r.body)
}

/// Runs `act` (a change with its answer written) under the book's lock, with `owner`'s
/// `Idempotency-Key`: a key seen within its window gets its first answer again (looked for under
/// the same hold, so that two requests with one key change once), and a successful answer is
/// remembered for the key. Keys are global across the POST endpoints, as Midtrans documents.
///
/// # Errors
/// What `act` returns; nothing is remembered then.
pub fn idempotent<E>(
    app: &AppState,
    owner: &str,
    key: Option<&str>,
    act: impl FnOnce(&mut Book) -> Result<Bytes, E>,
) -> Result<Bytes, E> {
    let now = app.clock.now_ms();
    app.transactions.with(|book| {
        if let Some(key) = key
            && let Some(replay) = book.replay(owner, key, now)
        {
            return Ok(replay.body);
        }
        let body = act(book)?;
        if let Some(key) = key {
            let owner = book.owner_key(owner);
            book.remember(&owner, key, body.clone(), now);
        }
        Ok(body)
    })
}

/// A pending transaction past its expiry is expired, even before the scheduler got to it.
fn effective_status(t: &Transaction, now_ms: u64) -> TxStatus {
    match t.status {
        TxStatus::Pending | TxStatus::Authorize if t.expires_at_ms <= now_ms => TxStatus::Expire,
        s => s,
    }
}

/// Refunds all or part of a settled transaction, credits the option back, and records the two
/// notifications a refund sends (the second with `bank_confirmed_at`), under a hold of the book's
/// lock that the caller has (see [`idempotent`]).
///
/// # Errors
/// [`RefundError`]: nothing changed.
pub(crate) fn refund_in(
    app: &AppState,
    book: &mut Book,
    owner: &str,
    id: &str,
    req: RefundRequest,
) -> Result<(Arc<Transaction>, Refund), RefundError> {
    let now = app.clock.now_ms();
    let t = book.find(Some(owner), id).ok_or(RefundError::NotFound)?;
    if !matches!(t.status, TxStatus::Settlement | TxStatus::PartialRefund)
        || t.refunds.len() >= crate::limits::REFUNDS_MAX
    {
        return Err(RefundError::NotAllowed);
    }
    if let Some(key) = &req.refund_key
        && t.refunds.iter().any(|r| *r.refund_key == **key)
    {
        return Err(RefundError::Duplicate);
    }
    let left = t
        .gross_amount
        .checked_sub(t.refunded())
        .unwrap_or(Amount::ZERO);
    let amount = req.amount.unwrap_or(left);
    if amount.is_zero() || amount > left {
        return Err(RefundError::InvalidAmount);
    }
    let (account_id, option) = (t.account_id, t.payment_option.clone());
    let refund = Refund {
        refund_chargeback_id: book.next_refund_id(),
        refund_chargeback_uuid: app.ids.uuid(),
        refund_key: req
            .refund_key
            .clone()
            .unwrap_or_else(|| app.ids.uuid().to_string())
            .into_boxed_str(),
        refund_amount: amount,
        reason: req.reason.clone().map(String::into_boxed_str),
        direct: req.direct,
        created_at_ms: now,
    };
    credit(app, &account_id, &option, amount);
    let t = book
        .find_mut(Some(owner), id)
        .ok_or(RefundError::NotFound)?;
    t.refunds.push(refund.clone());
    t.status = if t.refunded() >= t.gross_amount {
        TxStatus::Refund
    } else {
        TxStatus::PartialRefund
    };
    t.updated_at_ms = now;
    let id = t.id;
    let t = book.shared(&id).ok_or(RefundError::NotFound)?;
    notify(app, &t, false);
    notify(app, &t, true);
    Ok((t, refund))
}

/// Expires every pending transaction and lapses every hold whose time has come.
pub fn expire_due(app: &AppState, now_ms: u64) -> usize {
    let mut expired = 0;
    loop {
        // A batch at a time: a move of the clock can make every pending transaction due at once.
        let due = app
            .transactions
            .with(|book| book.take_due(now_ms, crate::limits::EXPIRE_BATCH));
        if due.is_empty() {
            return expired;
        }
        for id in due {
            if apply(app, None, &id.to_string(), TxChange::Expire, Some(now_ms)).is_ok() {
                expired += 1;
            }
        }
    }
}

/// Uses up the one-time web PIN link; false if it already was.
pub fn use_web_link(app: &AppState, id: &Uuid) -> bool {
    app.transactions.with(|book| match book.get_mut(id) {
        Some(t) if !t.web_link_used => {
            t.web_link_used = true;
            true
        }
        _ => false,
    })
}

/// Gives back the money an authorization `t` holds (a key's reset that takes `t` out).
pub(crate) fn release_hold(app: &AppState, t: &Transaction) {
    credit(app, &t.account_id, &t.payment_option, t.gross_amount);
}

fn debit(app: &AppState, account: &Uuid, option: &str, amount: Amount) -> bool {
    app.store.debit_enabled(account, option, amount)
}

/// Gives money back to the option; an account or option that is gone gets nothing.
fn credit(app: &AppState, account: &Uuid, option: &str, amount: Amount) {
    app.store
        .change_balance(account, option, |b| Some(b.saturating_add(amount)));
}

/// Records the payment notification of `t`'s current status for every place it goes.
fn notify(app: &AppState, t: &Arc<Transaction>, bank_confirmed: bool) {
    let (merchant_id, targets) = {
        let s = app.settings.read();
        let targets: SmallVec<[(Target, Option<String>); 1]> = targets(t.notify_to())
            .map(|target| {
                let url = s.url_for(&target, &t.owner).map(str::to_string);
                (target, url)
            })
            .collect();
        (s.gopay_merchant_id.clone(), targets)
    };
    let (body, status_code) = payload::transaction(t, merchant_id, bank_confirmed);
    for (target, url) in targets {
        app.notifications.record(
            Recorded {
                event: Event::Payment,
                status_code,
                account_id: t.account_id,
                transaction: Some(TransactionRef {
                    transaction_id: t.id,
                    order_id: t.order_id.clone(),
                    transaction_status: t.status,
                }),
                server_key: t.owner.clone(),
                payload: body.clone(),
                target,
                url,
            },
            app.clock.now_ms(),
        );
    }
}

/// Where a transaction's notifications go: the merchant's Payment Notification URL, and the URLs
/// of the charge's `X-Override-Notification` or `X-Append-Notification`.
fn targets(to: &NotifyTo) -> impl Iterator<Item = Target> + '_ {
    let (merchant, urls): (bool, &[String]) = match to {
        NotifyTo::Merchant => (true, &[]),
        NotifyTo::Override(urls) => (false, urls),
        NotifyTo::Append(urls) => (true, urls),
    };
    merchant
        .then_some(Target::Payment)
        .into_iter()
        .chain(urls.iter().map(|u| Target::Url(Arc::from(u.as_str()))))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::charges::TxStatus;
    use crate::limits::EXPIRE_BATCH;

    /// The sweep expires a transaction only if it is past its expiry at the sweep's time: a
    /// reset or an import since the sweep took the id may have put a new one there.
    #[test]
    fn the_sweep_expires_only_what_is_due() {
        let app = AppState::new(
            &crate::Config::default(),
            "http://127.0.0.1:1".into(),
            "127.0.0.1",
        )
        .unwrap();
        let id = Uuid::from_u128(1);
        app.transactions.with(|book| {
            book.insert(Transaction {
                id,
                expires_at_ms: 10_000,
                ..Transaction::sample(TxStatus::Pending)
            })
            .unwrap();
        });
        let sweep = |at| apply(&app, None, &id.to_string(), TxChange::Expire, Some(at));
        assert!(sweep(9_999).is_err());
        let status = |app: &AppState| app.transactions.with(|b| b.get_mut(&id).map(|t| t.status));
        assert_eq!(status(&app), Some(TxStatus::Pending));
        assert_eq!(sweep(10_000).map(|t| t.status).ok(), Some(TxStatus::Expire));
    }

    /// The sweep takes the due transactions a batch at a time and goes on until none is left, so
    /// that a move of the clock has expired them all by its answer.
    #[test]
    fn every_due_transaction_expires_past_one_batch() {
        let app = AppState::new(
            &crate::Config::default(),
            "http://127.0.0.1:1".into(),
            "127.0.0.1",
        )
        .unwrap();
        let n = EXPIRE_BATCH * 2 + 3;
        app.transactions.with(|book| {
            for i in 0..n {
                book.insert(Transaction {
                    id: Uuid::from_u128(i as u128 + 1),
                    order_id: format!("o-{i}").into(),
                    expires_at_ms: 100,
                    ..Transaction::sample(TxStatus::Pending)
                })
                .unwrap();
            }
        });
        assert_eq!(expire_due(&app, 1_000), n);
        assert_eq!(app.transactions.with(|book| book.next_due()), None);
        assert_eq!(expire_due(&app, 1_000), 0);
    }

    /// Waits (up to 10 s) for `done`.
    pub(crate) fn wait_until(done: impl Fn() -> bool) {
        let started = std::time::Instant::now();
        while !done() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "waited 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// A change records its notification before it lets go of the book, so a reset of its key
    /// either comes first (nothing to change) or takes the notification with the transaction:
    /// none is left about a transaction the reset removed. The change is held where it writes the
    /// notification (it reads the settings there) while the reset runs.
    #[test]
    fn a_key_reset_never_leaves_a_notification_of_a_transaction_it_removed() {
        let app = Arc::new(
            AppState::new(
                &crate::Config::default(),
                "http://127.0.0.1:1".into(),
                "127.0.0.1",
            )
            .unwrap(),
        );
        let pending = Transaction {
            expires_at_ms: app.clock.now_ms() + 3_600_000,
            ..Transaction::sample(TxStatus::Pending)
        };
        let (id, key) = (pending.id.to_string(), pending.owner.to_string());
        app.transactions.with(|book| book.insert(pending)).unwrap();

        let settings = app.settings.write();
        let denying = {
            let app = app.clone();
            std::thread::spawn(move || change(&app, None, &id, TxChange::Deny).is_ok())
        };
        // The change holds the book while it waits to write its notification.
        wait_until(|| app.transactions.is_locked());
        let resetting = {
            let app = app.clone();
            std::thread::spawn(move || app.reset_key(&key))
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(settings);
        assert!(denying.join().unwrap(), "the deny came first");
        resetting.join().unwrap();

        assert_eq!(app.transactions.len(), 0);
        assert_eq!(
            app.notifications.len(),
            0,
            "the reset took the deny's notification"
        );
    }
}
