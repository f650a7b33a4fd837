//! The state of a running server as a document, read in pieces and written as it is read, so that
//! no lock is held for long and the document is never whole in memory.
//!
//! # Which state it is
//! Each piece is the state of its items when it was read: a save under load is not a snapshot.
//! Three rules keep the document loadable and its counters ahead of what it holds:
//! - Each list ends where it ended when its reading began; what is made later goes into the next
//!   save, and a reading under creates ends. The transactions end where they ended when the
//!   accounts' reading began: a charge made later may be on an account made later, or linked
//!   after it was written, and the document must hold every transaction's account and option.
//! - The counters come after the lists (`last_refund_id` after the transactions, `ids` last), read
//!   when those are written: a server that goes on from them never draws an id the document holds,
//!   including those drawn for its items meanwhile (a link's tokens, a refund's ids).
//! - A reset or an import under way or made while the pieces are read
//!   ([`AppState::settled_replacements`]) stops the export ([`Interrupted`]): after it the same ids may
//!   come again, and a document that repeated one could not be loaded. [`retrying`] starts again.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::time::Duration;

use serde::ser::{Error as _, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::document::*;
use super::{CHUNK, FORMAT, VERSION};
use crate::accounts::{Account, Owner, Token};
use crate::app::AppState;
use crate::charges::Transaction;
use crate::clock;
use crate::notifications::{DeliveryState, Notification};
use crate::paging::Order;
use crate::settings::Settings;

/// How many items an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub accounts: usize,
    pub transactions: usize,
    pub notifications: usize,
}

/// Why an export stopped before its end.
#[derive(Debug)]
pub enum ExportError {
    /// A reset or an import replaced the state while it was read: nothing written is of use.
    Interrupted,
    Io(std::io::Error),
}

/// The export that a reset or an import interrupted (see the module's documentation).
pub use ExportError::Interrupted;

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Interrupted => f.write_str("the state was reset or replaced while it was read"),
            Self::Io(e) => e.fmt(f),
        }
    }
}

/// Writes the state of `app` to `out` as one JSON document, a piece at a time.
///
/// # Errors
/// [`Interrupted`], or `out` failed.
pub fn export(app: &AppState, out: impl Write) -> Result<Exported, ExportError> {
    let live = Live::begin(app);
    match serde_json::to_writer(out, &live) {
        Ok(()) => Ok(live.written.get()),
        Err(_) if live.interrupted.get() => Err(Interrupted),
        Err(e) => Err(ExportError::Io(e.into())),
    }
}

/// Exports that [`retrying`] starts before giving up, each interrupted by a reset or an import.
pub const TRIES: u32 = 3;

/// Runs `attempt` (an export into a fresh output) until a reset or an import does not interrupt it,
/// at most [`TRIES`] times, a little longer apart each time (a reset of a large state takes a
/// while): `None` when every try was interrupted.
///
/// # Errors
/// The output failed.
pub fn retrying<T>(
    mut attempt: impl FnMut() -> Result<T, ExportError>,
) -> std::io::Result<Option<T>> {
    for done in 0..TRIES {
        if done > 0 {
            std::thread::sleep(Duration::from_millis(100) * done);
        }
        match attempt() {
            Ok(t) => return Ok(Some(t)),
            Err(Interrupted) => {}
            Err(ExportError::Io(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// The document being written: what fits in a moment is read at the start, the lists as they are
/// written.
struct Live<'a> {
    app: &'a AppState,
    /// [`AppState::settled_replacements`] at the start.
    replacements: Option<u64>,
    now_ms: u64,
    saved_at: String,
    clock: SavedClock,
    config: SavedConfig,
    phone_numbers: SavedScenarios,
    written: Cell<Exported>,
    interrupted: Cell<bool>,
    /// The highest `refund_chargeback_id` written.
    highest_refund: Cell<u64>,
    /// The newest transaction's `seq` at the start, before the accounts' end is read.
    transactions_end: u64,
}

impl<'a> Live<'a> {
    fn begin(app: &'a AppState) -> Self {
        let replacements = app.settled_replacements();
        let transactions_end = app.transactions.with(|book| book.last_seq());
        let settings = app.settings.read().clone();
        let (added, hidden) = app.scenarios.runtime();
        let now_ms = app.clock.now_ms();
        Self {
            app,
            replacements,
            now_ms,
            saved_at: clock::rfc3339(now_ms),
            clock: SavedClock {
                offset_ms: clock::duration_ms(app.clock.offset()),
            },
            config: saved_config(&settings),
            phone_numbers: SavedScenarios {
                added: added
                    .into_iter()
                    .map(|(server_key, scenario)| SavedScenario {
                        server_key,
                        scenario,
                    })
                    .collect(),
                hidden: hidden
                    .into_iter()
                    .map(|(phone_number, country_code)| HiddenNumber {
                        phone_number,
                        country_code,
                    })
                    .collect(),
            },
            written: Cell::default(),
            interrupted: Cell::new(false),
            highest_refund: Cell::new(0),
            transactions_end,
        }
    }

    /// Fails the serialisation if a replacement was under way at the start or has been since.
    fn still_one_state<E: serde::ser::Error>(&self) -> Result<(), E> {
        if self.replacements.is_some() && self.app.settled_replacements() == self.replacements {
            return Ok(());
        }
        self.interrupted.set(true);
        Err(E::custom(Interrupted))
    }

    fn count(&self, add: impl FnOnce(&mut Exported)) {
        let mut written = self.written.get();
        add(&mut written);
        self.written.set(written);
    }

    /// The accounts there when the list begins, oldest first, a page at a time.
    fn accounts(&self) -> impl Iterator<Item = Vec<SavedAccount>> + '_ {
        let end = self.app.store.last_seq();
        pieces(end, move |after| {
            let page = self.app.store.page(
                Owner::Any,
                None,
                after,
                CHUNK,
                Order::OldestFirst,
                self.app.clock.now_ms(),
            );
            let items = page
                .accounts
                .iter()
                .filter(|a| a.seq <= end)
                .map(saved_account)
                .collect::<Vec<_>>();
            self.count(|w| w.accounts += items.len());
            (items, page.next)
        })
    }

    /// The transactions there when the export began (see the module's documentation).
    fn transactions(&self) -> impl Iterator<Item = Vec<SavedTransaction>> + '_ {
        let end = self.transactions_end;
        pieces(end, move |after| {
            let (found, next) = self
                .app
                .transactions
                .with(|book| book.page(None, after, CHUNK, Order::OldestFirst, |t| t.seq <= end));
            let items: Vec<SavedTransaction> = found.iter().map(|t| saved_transaction(t)).collect();
            let highest = items
                .iter()
                .flat_map(|t| &t.refunds)
                .map(|r| r.refund_chargeback_id)
                .fold(self.highest_refund.get(), u64::max);
            self.highest_refund.set(highest);
            self.count(|w| w.transactions += items.len());
            (items, next)
        })
    }

    /// Notifications up to `end`. Ids only grow, so each piece starts past the one before.
    fn notifications(&self, end: u64) -> impl Iterator<Item = Vec<SavedNotification>> + '_ {
        pieces(end, move |after| {
            let chunk = self.app.notifications.chunk(after.unwrap_or(0), CHUNK);
            let next = chunk.last().map(|n| n.id);
            let items: Vec<SavedNotification> = chunk
                .iter()
                .filter(|n| n.id <= end)
                .map(|n| saved_notification(n, self.now_ms))
                .collect();
            self.count(|w| w.notifications += items.len());
            (items, next)
        })
    }
}

/// The pieces of a list read in creation order up to `end` (a `seq` or an id), each read by
/// `read(after)`, which gives the items past the cursor `after` and the next cursor (`None` at the
/// end of the list). The reading ends at the list's end, at `end`, or when the cursor does not move
/// forward.
fn pieces<T>(
    end: u64,
    mut read: impl FnMut(Option<u64>) -> (Vec<T>, Option<u64>),
) -> impl Iterator<Item = Vec<T>> {
    let mut after = None;
    let mut done = end == 0;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let (items, next) = read(after);
        match next {
            Some(next) if next < end && after.is_none_or(|a| next > a) => after = Some(next),
            _ => done = true,
        }
        Some(items)
    })
}

/// A list written piece by piece; [`super::pace`] between two pieces, and the state checked after
/// each.
struct Stream<'l, 'a, I> {
    live: &'l Live<'a>,
    pieces: RefCell<Option<I>>,
}

impl<'l, 'a, I> Stream<'l, 'a, I> {
    fn new(live: &'l Live<'a>, pieces: I) -> Self {
        Self {
            live,
            pieces: RefCell::new(Some(pieces)),
        }
    }
}

impl<T: Serialize, I: Iterator<Item = Vec<T>>> Serialize for Stream<'_, '_, I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pieces = self
            .pieces
            .borrow_mut()
            .take()
            .ok_or_else(|| S::Error::custom("a list of the state was written twice"))?;
        let mut seq = s.serialize_seq(None)?;
        for piece in pieces {
            self.live.still_one_state()?;
            for item in &piece {
                seq.serialize_element(item)?;
            }
            super::pace();
        }
        self.live.still_one_state()?;
        seq.end()
    }
}

/// `SavedTransactions`, with `last_refund_id` after the items: never below a refund written.
struct Transactions<'l, 'a>(&'l Live<'a>);

impl Serialize for Transactions<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let live = self.0;
        let mut out = s.serialize_struct("SavedTransactions", 2)?;
        out.serialize_field("items", &Stream::new(live, live.transactions()))?;
        let last = live
            .app
            .transactions
            .with(|book| book.last_refund_id())
            .max(live.highest_refund.get());
        out.serialize_field("last_refund_id", &last)?;
        out.end()
    }
}

struct Notifications<'l, 'a>(&'l Live<'a>);

impl Serialize for Notifications<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let live = self.0;
        let end = live.app.notifications.last_id();
        let mut out = s.serialize_struct("SavedNotifications", 2)?;
        out.serialize_field("last_id", &end)?;
        out.serialize_field("items", &Stream::new(live, live.notifications(end)))?;
        out.end()
    }
}

/// The fields of [`Document`], the counters after the lists (see the module's documentation).
impl Serialize for Live<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut doc = s.serialize_struct("Document", 10)?;
        doc.serialize_field("format", FORMAT)?;
        doc.serialize_field("version", &VERSION)?;
        doc.serialize_field("saved_at", &self.saved_at)?;
        doc.serialize_field("clock", &self.clock)?;
        doc.serialize_field("config", &self.config)?;
        doc.serialize_field("phone_numbers", &self.phone_numbers)?;
        doc.serialize_field("accounts", &Stream::new(self, self.accounts()))?;
        doc.serialize_field("transactions", &Transactions(self))?;
        doc.serialize_field("notifications", &Notifications(self))?;
        let seed = self.app.seed();
        let ids = SavedIds {
            seed,
            position: seed.map(|_| self.app.ids.position().to_string()),
        };
        // A reset or an import since the lists were read rewinds or moves the generator: its
        // place would then not be past the ids the lists hold.
        self.still_one_state()?;
        doc.serialize_field("ids", &ids)?;
        doc.end()
    }
}

fn saved_config(s: &Settings) -> SavedConfig {
    let text = |d: Duration| humantime::format_duration(d).to_string();
    SavedConfig {
        notification_url: s.notification_url.clone(),
        notification_urls: s.notification_urls.clone().into_iter().collect(),
        merchant_id: s.merchant_id.clone(),
        activation_ttl: text(s.activation_ttl),
        retry_schedule: s.retry_schedule.iter().map(|d| text(*d)).collect(),
        unbind_notification: s.unbind_notification,
        payment_notification_url: s.payment_notification_url.clone(),
        payment_notification_urls: s.payment_notification_urls.clone().into_iter().collect(),
        gopay_merchant_id: s.gopay_merchant_id.to_string(),
        pin_threshold: s.pin_threshold.hundredths() / 100,
        verification_link_ttl: text(s.verification_link_ttl),
        transaction_ttl: text(s.transaction_ttl),
        pre_auth_hold: text(s.pre_auth_hold),
    }
}

fn saved_account(a: &Account) -> SavedAccount {
    SavedAccount {
        account_id: a.id,
        server_key: a.owner.as_deref().map(str::to_string),
        account_status: a.status,
        phone_number: a.phone_number.to_string(),
        country_code: a.country_code.to_string(),
        redirect_url: a.redirect_url.as_deref().map(str::to_string),
        web_link_used: a.web_link_used,
        created_at_ms: a.created_at_ms,
        updated_at_ms: a.updated_at_ms,
        expires_at_ms: a.expires_at_ms.get(),
        payment_options: a
            .payment_options
            .iter()
            .map(|o| SavedOption {
                name: o.name.to_string(),
                active: o.active,
                balance: o.balance.value.to_string(),
                currency: o.balance.currency.to_string(),
                token: match &o.token {
                    Token::Given(t) => Some(t.to_string()),
                    Token::Generated(_) => None,
                },
                token_id: match &o.token {
                    Token::Generated(id) => Some(*id),
                    Token::Given(_) => None,
                },
            })
            .collect(),
    }
}

fn saved_transaction(t: &Transaction) -> SavedTransaction {
    SavedTransaction {
        transaction_id: t.id,
        order_id: t.order_id.to_string(),
        server_key: t.owner.to_string(),
        account_id: t.account_id,
        payment_option: t.payment_option.to_string(),
        gross_amount: t.gross_amount.to_string(),
        transaction_status: t.status,
        cancelled_while: t.cancelled_while,
        pre_auth: t.pre_auth,
        recurring: t.recurring,
        callback_url: t.callback_url().map(str::to_string),
        metadata: t.metadata().map(ToOwned::to_owned),
        deny_code: t.deny_reason.map(|r| r.channel_response_code.to_string()),
        created_at_ms: t.created_at_ms,
        updated_at_ms: t.updated_at_ms,
        settled_at_ms: t.settled_at_ms,
        expires_at_ms: t.expires_at_ms,
        links_expire_at_ms: t.links_expire_at_ms,
        web_link_used: t.web_link_used,
        refunds: t
            .refunds
            .iter()
            .map(|r| SavedRefund {
                refund_chargeback_id: r.refund_chargeback_id,
                refund_chargeback_uuid: r.refund_chargeback_uuid,
                refund_key: r.refund_key.to_string(),
                refund_amount: r.refund_amount.to_string(),
                reason: r.reason.as_deref().map(str::to_string),
                direct: r.direct,
                created_at_ms: r.created_at_ms,
            })
            .collect(),
        notify_to: Some(t.notify_to())
            .filter(|to| **to != crate::charges::NotifyTo::Merchant)
            .cloned(),
    }
}

fn saved_notification(n: &Notification, now_ms: u64) -> SavedNotification {
    // An attempt under way (or a retry asked for during one) is made again after a restart.
    let owed = n.in_flight || n.rerun;
    SavedNotification {
        id: n.id,
        event: n.event,
        status_code: n.status_code.to_string(),
        account_id: n.account_id,
        transaction: n.transaction.clone(),
        server_key: n.server_key.to_string(),
        target: n.target.clone(),
        url: n.url.clone(),
        state: if owed {
            DeliveryState::Pending
        } else {
            n.state
        },
        created_at_ms: n.created_at,
        next_attempt_at_ms: if owed {
            Some(now_ms)
        } else {
            n.next_attempt_at
        },
        payload: n.payload.get().to_string(),
        attempts: n
            .attempts
            .iter()
            .map(|a| SavedAttempt {
                number: a.number,
                at_ms: a.at,
                url: a.url.clone(),
                http_status: a.http_status,
                error: a.error.clone(),
                redirects: a.redirects,
                duration_ms: a.duration_ms,
            })
            .collect(),
        attempts_total: n.attempts_total,
        retries: if n.rerun { 0 } else { n.retries },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::create::{CreateRequest, Opened, open_account};

    #[test]
    fn pieces_end_at_the_list_s_end_at_the_cut_or_when_the_cursor_stalls() {
        // Items are their own cursors; pieces of two.
        let list = |len: u64| {
            move |after: Option<u64>| {
                let piece: Vec<u64> = (after.unwrap_or(0) + 1..=len).take(2).collect();
                let next = piece.last().copied().filter(|&l| l < len);
                (piece, next)
            }
        };
        let all = |it: &mut dyn Iterator<Item = Vec<u64>>| it.flatten().collect::<Vec<_>>();
        assert_eq!(all(&mut pieces(9, list(5))), [1, 2, 3, 4, 5]);
        // Reading stops at the piece that reaches the cut (the reader filters within it).
        assert_eq!(all(&mut pieces(3, list(9))), [1, 2, 3, 4]);
        assert_eq!(all(&mut pieces(4, list(9))), [1, 2, 3, 4]);
        assert_eq!(pieces(0, list(9)).count(), 0, "nothing was made");
        let stuck = |_| (vec![1u64], Some(1));
        assert_eq!(
            pieces(9, stuck).count(),
            2,
            "the second piece's cursor did not move"
        );
    }

    /// A writer that runs `hook` once, at the first write past `at` bytes.
    struct Hooked<F: FnOnce()> {
        out: Vec<u8>,
        at: usize,
        hook: Option<F>,
    }

    impl<F: FnOnce()> Write for Hooked<F> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.out.len() > self.at
                && let Some(hook) = self.hook.take()
            {
                hook();
            }
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn seeded(generated: usize) -> AppState {
        let config = crate::Config {
            seed: Some(7),
            generate_accounts: generated,
            ..crate::Config::default()
        };
        AppState::new(&config, "http://127.0.0.1:1".into(), "127.0.0.1").unwrap()
    }

    fn create(app: &AppState, number: &str) -> Opened {
        let request = CreateRequest {
            phone_number: number.into(),
            country_code: crate::accounts::CountryCode::INDONESIA,
            redirect_url: None,
        };
        open_account(app, "SB-Mid-server-k", request)
    }

    /// Where the accounts list starts in an export of `app`, plus `past` bytes.
    fn into_accounts(app: &AppState, past: usize) -> usize {
        let mut plain = Vec::new();
        export(app, &mut plain).unwrap();
        let text = String::from_utf8(plain).unwrap();
        text.find("\"accounts\":[").unwrap() + past
    }

    #[test]
    fn what_is_made_during_an_export_waits_for_the_next_and_the_seed_goes_on_past_it() {
        let app = seeded(3 * CHUNK);
        let at = into_accounts(&app, 2_000);
        let made = RefCell::new(None);
        let mut out = Hooked {
            out: Vec::new(),
            at,
            hook: Some(|| *made.borrow_mut() = Some(create(&app, "81234567001"))),
        };
        let written = export(&app, &mut out).unwrap();
        let Some(Opened::Created(made)) = made.take() else {
            panic!("the hook did not create")
        };
        let doc: Document = serde_json::from_slice(&out.out).unwrap();
        assert_eq!(written.accounts, doc.accounts.len());
        assert_eq!(doc.accounts.len(), app.store.len() - 1);
        assert!(doc.accounts.iter().all(|a| a.account_id != made));
        // The generator's place is read after the lists, past what was drawn meanwhile.
        assert_eq!(doc.ids.position, Some(app.ids.position().to_string()));

        // A server with the same seed that loads the document goes on from there: its next create
        // takes the id the first server would draw next.
        let restored = seeded(0);
        let prepared = super::super::prepare(&restored, doc).unwrap();
        super::super::import(&restored, prepared);
        match create(&restored, "81234567002") {
            Opened::Created(id) => assert_eq!(id, app.ids.uuid()),
            _ => panic!("the restored server did not create"),
        }
    }

    /// An account made while the accounts are read waits for the next save; a charge on it made
    /// before the transactions are read must wait too, or the document names an account it does
    /// not hold and no server loads it.
    #[test]
    fn a_charge_on_an_account_made_during_an_export_waits_for_the_next() {
        let app = seeded(3 * CHUNK);
        let at = into_accounts(&app, 2_000);
        let charged = Cell::new(false);
        let mut out = Hooked {
            out: Vec::new(),
            at,
            hook: Some(|| {
                let Opened::Created(id) = create(&app, "81234567003") else {
                    panic!("not created")
                };
                let (account, _) =
                    crate::transitions::apply(&app, &id, None, crate::accounts::Transition::Link)
                        .unwrap();
                let request = crate::payments::ChargeRequest {
                    order_id: "made-during-an-export".into(),
                    gross_amount: crate::money::Amount::from_units(1000),
                    currency: "IDR",
                    account_id: Some(id),
                    token: account.payment_options[0].token_text().to_string(),
                    callback_url: None,
                    pre_auth: false,
                    recurring: false,
                    metadata: None,
                    expiry: None,
                    notify_to: Default::default(),
                };
                crate::payments::charge(&app, "SB-Mid-server-k", request, None, |_| Vec::new())
                    .unwrap();
                charged.set(true);
            }),
        };
        export(&app, &mut out).unwrap();
        assert!(charged.get(), "the hook did not charge");
        let doc: Document = serde_json::from_slice(&out.out).unwrap();
        assert!(
            doc.transactions.items.is_empty(),
            "{:?}",
            doc.transactions.items.len()
        );
        let restored = seeded(0);
        super::super::prepare(&restored, doc).expect("the document loads");
    }

    #[test]
    fn a_reset_or_an_import_during_an_export_interrupts_it() {
        let app = seeded(3 * CHUNK);
        let at = into_accounts(&app, 2_000);
        let mut out = Hooked {
            out: Vec::new(),
            at,
            hook: Some(|| app.reset()),
        };
        assert!(matches!(export(&app, &mut out), Err(Interrupted)));

        // One under way when the export begins (it may have emptied the lists already); two that
        // overlap, and one of them after the other has ended.
        {
            let _replacing = app.replacing();
            assert!(matches!(export(&app, Vec::new()), Err(Interrupted)));
            let second = app.replacing();
            assert!(matches!(export(&app, Vec::new()), Err(Interrupted)));
            drop(second);
            assert!(matches!(export(&app, Vec::new()), Err(Interrupted)));
        }
        assert!(export(&app, Vec::new()).is_ok());

        let mut plain = Vec::new();
        export(&app, &mut plain).unwrap();
        let doc: Document = serde_json::from_slice(&plain).unwrap();
        let mut out = Hooked {
            out: Vec::new(),
            at,
            hook: Some(|| {
                let prepared = super::super::prepare(&app, doc).unwrap();
                super::super::import(&app, prepared);
            }),
        };
        assert!(matches!(export(&app, &mut out), Err(Interrupted)));

        // One after the last list is read and before the generator's place is: the place would be
        // the reset's, behind ids the lists hold.
        let at_ids = {
            let mut plain = Vec::new();
            export(&app, &mut plain).unwrap();
            let text = String::from_utf8(plain).unwrap();
            // The notifications' list and object close just before the generator's field.
            text.find(",\"ids\":").unwrap() - 2
        };
        let mut out = Hooked {
            out: Vec::new(),
            at: at_ids,
            hook: Some(|| app.reset()),
        };
        assert!(matches!(export(&app, &mut out), Err(Interrupted)));

        // Not interrupted: a reset of one key, which removes and never makes an id again.
        let mut out = Hooked {
            out: Vec::new(),
            at,
            hook: Some(|| {
                app.reset_key("SB-Mid-server-k");
            }),
        };
        assert!(export(&app, &mut out).is_ok());
    }

    #[test]
    fn retrying_starts_again_after_an_interruption_and_gives_up_after_the_last_try() {
        let mut tries = 0;
        let third = retrying(|| {
            tries += 1;
            if tries < TRIES {
                Err(Interrupted)
            } else {
                Ok(tries)
            }
        });
        assert_eq!(third.unwrap(), Some(TRIES));
        let mut tries = 0;
        let never = retrying(|| -> Result<(), _> {
            tries += 1;
            Err(Interrupted)
        });
        assert!(never.unwrap().is_none());
        assert_eq!(tries, TRIES);
        let failed =
            retrying(|| -> Result<(), _> { Err(ExportError::Io(std::io::Error::other("disk"))) });
        assert_eq!(failed.unwrap_err().to_string(), "disk");
    }
}
