//! The state every route shares, built once from a [`Config`] before the HTTP workers start.

use std::time::Duration;

use parking_lot::RwLock;
use thin_vec::ThinVec;

use crate::accounts::{Account, AccountStatus, CountryCode, Filling, PaymentOption, Store};
use crate::accounts::{Balance, Token};
use crate::charges::TransactionStore;
use crate::charges::store::Book;
use crate::clock::Clock;
use crate::config::{Config, HttpStatusMode};
use crate::fixtures::{Fixtures, PaymentOptionFixture};
use crate::ids::IdGen;
use crate::money::Amount;
use crate::notifications::Notifications;
use crate::notifications::delivery::Deliveries;
pub use crate::settings::Settings;

/// Shared state: the store, the clock, the id source, settings and the notification machinery.
pub struct AppState {
    pub store: Store,
    pub transactions: TransactionStore,
    pub ids: IdGen,
    pub clock: Clock,
    pub fixtures: Fixtures,
    pub settings: RwLock<Settings>,
    /// The settings at start, which a full reset restores.
    initial_settings: Settings,
    pub notifications: Notifications,
    /// The notification HTTP client, its slots, and this server's instance id (the loop guard).
    pub deliveries: Deliveries,
    /// Host names the `Host` header may carry (see `guard.rs`).
    pub allowed_hosts: crate::hosts::Hosts,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Base URL of activation links (no trailing slash).
    pub public_url: String,
    pub http_status: HttpStatusMode,
    pub server_keys: Vec<String>,
    pub legacy_sandbox: bool,
    pub max_body_bytes: usize,
    /// Phone number scenarios in effect ([`crate::scenarios`]).
    pub scenarios: crate::scenarios::Scenarios,
    /// The Midtrans requests received ([`crate::journal`]).
    pub journal: crate::journal::Journal,
    /// Fault and latency rules ([`crate::faults`]).
    pub faults: crate::faults::Faults,
    /// Keys the activation pages' and the dashboard's form tokens.
    pub form_secret: uuid::Uuid,
    seed: Option<u64>,
    generated_accounts: usize,
    /// Moves on every change that the state file must catch ([`crate::state_file`]).
    revision: std::sync::atomic::AtomicU64,
    /// Replacements of the whole state begun and ended (see [`AppState::settled_replacements`]).
    replacements_begun: std::sync::atomic::AtomicU64,
    replacements_ended: std::sync::atomic::AtomicU64,
    /// `--state-file`, if given.
    pub state_file: Option<crate::state_file::StateFile>,
    /// Places for exports and imports of the whole state ([`crate::limits::STATE_TRANSFERS`]).
    pub state_transfers: std::sync::Arc<tokio::sync::Semaphore>,
    /// Requests being served, counted by embedded servers only (`workers: None`): a pooled server
    /// with one under way when its test drops it is not handed to the next test, where the
    /// request would finish on the next test's state.
    in_flight: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

/// A request counted in [`AppState::in_flight`] until it is answered (or dropped), or work that
/// goes on after its request is gone (an import on the blocking pool), until the work ends.
pub(crate) struct Serving(Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>);

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(n) = &self.0 {
            n.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
}

/// A replacement of the whole state under way; it has ended when this drops.
pub(crate) struct Replacing<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for Replacing<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AppState {
    /// The state for `config`, serving at `public_url`; `listen_host` is the address it listens on
    /// (one of the hosts it answers to).
    ///
    /// # Errors
    /// The notification HTTP client cannot be built.
    pub fn new(config: &Config, public_url: String, listen_host: &str) -> Result<Self, String> {
        let settings = Settings::from_config(config);
        let state = Self {
            store: Store::with_limit(config.max_accounts),
            transactions: TransactionStore::with_limit(config.max_transactions),
            ids: IdGen::new(config.seed),
            clock: Clock::default(),
            fixtures: config.fixtures.clone(),
            settings: RwLock::new(settings.clone()),
            initial_settings: settings,
            notifications: Notifications::new(config.notification_log_size),
            deliveries: Deliveries::new(
                config.notification_timeout,
                config.max_deliveries,
                config.workers.is_none(),
            )?,
            allowed_hosts: crate::hosts::allowed_hosts(config, &public_url, listen_host),
            body_timeout: config.body_timeout,
            public_url: public_url.trim_end_matches('/').to_string(),
            http_status: config.http_status,
            server_keys: config.server_keys.clone(),
            legacy_sandbox: config.legacy_sandbox,
            max_body_bytes: config.max_body_bytes,
            scenarios: crate::scenarios::Scenarios::new(config.fixtures.phone_numbers.clone()),
            journal: crate::journal::Journal::new(config.journal_size),
            faults: crate::faults::Faults::new(&config.faults, config.seed),
            form_secret: uuid::Uuid::new_v4(),
            seed: config.seed,
            generated_accounts: config.generate_accounts,
            revision: std::sync::atomic::AtomicU64::new(0),
            replacements_begun: std::sync::atomic::AtomicU64::new(0),
            replacements_ended: std::sync::atomic::AtomicU64::new(0),
            state_file: config.state_file.as_ref().map(|path| {
                crate::state_file::StateFile::new(path.clone(), config.state_save_interval)
            }),
            state_transfers: std::sync::Arc::new(tokio::sync::Semaphore::new(
                crate::limits::STATE_TRANSFERS,
            )),
            in_flight: config
                .workers
                .is_none()
                .then(|| std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0))),
        };
        if let Some(accounts) = state.fill_store(false) {
            drop(state.store.install(accounts));
        }
        Ok(state)
    }

    /// The `--seed` it was started with.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The settings at start.
    pub fn initial_settings(&self) -> &Settings {
        &self.initial_settings
    }

    /// Something changed that the state file keeps.
    pub fn changed(&self) {
        self.revision
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// How many changes there have been (see [`AppState::changed`]).
    pub fn revision(&self) -> u64 {
        self.revision.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The whole state is being replaced until the guard drops (see
    /// [`AppState::settled_replacements`]).
    pub(crate) fn replacing(&self) -> Replacing<'_> {
        self.replacements_begun
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Replacing(&self.replacements_ended)
    }

    /// Counts a request as being served until the guard returned drops.
    pub(crate) fn serving(&self) -> Serving {
        if let Some(n) = &self.in_flight {
            n.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        Serving(self.in_flight.clone())
    }

    /// Whether a request is being served (embedded servers only; false for the others).
    pub(crate) fn is_serving(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|n| n.load(std::sync::atomic::Ordering::Acquire) > 0)
    }

    /// How many replacements of the whole state (a reset, an import) have begun, or `None` while
    /// one runs (two may overlap). A reader in pieces that gets `Some(n)` at its start and again at
    /// its end read one state.
    pub fn settled_replacements(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::SeqCst;
        // Ended first: one that begins or ends between the two reads makes them differ.
        let ended = self.replacements_ended.load(SeqCst);
        let begun = self.replacements_begun.load(SeqCst);
        (begun == ended).then_some(begun)
    }

    /// Everything back to how the server started: the fixture (and generated) accounts, an empty
    /// notification log with no attempt under way, the start-up settings, the wall clock, and the
    /// id sequence of `--seed`.
    pub fn reset(&self) {
        let _replacing = self.replacing();
        let records = self.store.len()
            + self.transactions.len()
            + self.notifications.len()
            + self.journal.len();
        let cleared = self.transactions.with(|book| book.clear(None));
        drop(cleared);
        self.notifications.clear(None);
        self.deliveries.cancel_all();
        self.journal.reset();
        self.faults.restore();
        self.scenarios.reset();
        *self.settings.write() = self.initial_settings.clone();
        self.clock.reset();
        self.ids.reseed(self.seed);
        if let Some(accounts) = self.fill_store(true) {
            // The log is emptied again with the swap: a link or a charge on an old account since
            // the first clearing goes with the account.
            self.replace_accounts_and_transactions(accounts, None, || {
                self.notifications.clear(None);
            });
        }
        if records >= GIVE_BACK_FROM_RECORDS {
            give_back_memory();
        }
    }

    /// Puts `accounts` and `book` (`None`: no transactions) in place of the accounts and the
    /// transactions at once, under the book's lock, then runs `then` (the notification log's
    /// part) under it too. A charge holds that lock from reading its account to recording its
    /// transaction and notification, and so does an account's change, so none is left naming an
    /// account the swap took out (one charged or linked while a reset refilled the store, say).
    /// What was there is freed after the locks are released.
    pub(crate) fn replace_accounts_and_transactions(
        &self,
        accounts: Filling,
        book: Option<Book>,
        then: impl FnOnce(),
    ) {
        let replaced = self.transactions.with(|current| {
            let book = book.unwrap_or_else(|| current.emptied());
            let replaced = (
                std::mem::replace(current, book),
                self.store.install(accounts),
            );
            then();
            replaced
        });
        drop(replaced);
    }

    /// One merchant's accounts, notifications and own notification URL removed; returns how many
    /// accounts went.
    pub fn reset_key(&self, server_key: &str) -> usize {
        // All three under the book's lock, as a full reset swaps them: no charge lands between,
        // an export reading the transactions sees the key's accounts and transactions both or
        // neither, and a charge or link that comes right after keeps its notification (charges and
        // changes record theirs under that lock).
        // So are the key's phone scenarios and notification URLs: a link or a charge reads them
        // under that lock. (A create reads its scenario without it: one that overlaps the reset
        // may still follow a scenario the reset removes.)
        let (removed, cleared) = self.transactions.with(|book| {
            let cleared = book.clear(Some(server_key));
            let removed = self.store.remove_owned_by(server_key);
            // Authorizations on shared accounts (the key's own are gone) give their holds back,
            // as their expiry or a cancel would have.
            for t in cleared.holds() {
                crate::payments::release_hold(self, t);
            }
            self.notifications.clear(Some(server_key));
            self.scenarios.reset_key(server_key);
            let mut settings = self.settings.write();
            settings.notification_urls.remove(server_key);
            settings.payment_notification_urls.remove(server_key);
            (removed, cleared)
        });
        drop(cleared);
        self.journal.clear(Some(server_key));
        self.faults.clear(Some(server_key));
        removed
    }

    /// The `--generate-accounts` ENABLED accounts owned by [`BENCH_SERVER_KEY`] (benchmarks), with distinct
    /// phone numbers `899xxxxxxxx` (country code 62) and the default payment options. Ids come from
    /// [`IdGen`], so `--seed` makes them reproducible.
    fn generate_accounts(&self, filling: &mut Filling, now: u64) {
        let n = self.generated_accounts;
        if n == 0 {
            return;
        }
        let started = std::time::Instant::now();
        for i in 0..n {
            let mut account = Account::new(
                self.ids.uuid(),
                AccountStatus::Enabled,
                &format!("899{i:08}"),
                CountryCode::INDONESIA,
                None,
                now,
            );
            account.payment_options = self.default_payment_options(&account);
            filling.insert(account, Some(BENCH_SERVER_KEY));
        }
        tracing::info!(
            accounts = n,
            server_key = BENCH_SERVER_KEY,
            ms = started.elapsed().as_millis() as u64,
            "generated accounts"
        );
    }

    /// Fills the store with the fixture accounts, then the generated ones. Without `--seed`, a
    /// reset (`reuse`) keeps the accounts of the last fill if nothing has changed them since:
    /// rebuilt, they would differ only in their random tokens. With `--seed` they are rebuilt, as
    /// building them draws from the id sequence that the seed makes reproducible.
    /// `None` when the store kept its accounts.
    fn fill_store(&self, reuse: bool) -> Option<Filling> {
        let now = self.clock.now_ms();
        self.store
            .refill(now, reuse && self.seed.is_none(), |filling| {
                self.load_fixture_accounts(filling, now);
                self.generate_accounts(filling, now);
            })
    }

    /// The fixture accounts. Fixture PENDING accounts never expire by themselves.
    fn load_fixture_accounts(&self, filling: &mut Filling, now: u64) {
        for f in self.fixtures.accounts.iter() {
            // `start` refuses fixtures with a bad country code (`Config::validate`); this only
            // keeps a state built without it from panicking.
            let Some(country_code) = CountryCode::new(&f.country_code) else {
                tracing::warn!(
                    account_id = %f.account_id,
                    country_code = %f.country_code.escape_debug(),
                    "fixture account left out: its country_code must be 1 to 3 digits"
                );
                continue;
            };
            let mut account = Account::new(
                f.account_id,
                f.account_status,
                &f.phone_number,
                country_code,
                f.redirect_url.as_deref(),
                now,
            );
            account.payment_options = match (&f.payment_options, f.account_status) {
                (Some(options), _) => self.payment_options(options),
                (None, AccountStatus::Enabled | AccountStatus::Disabled) => {
                    self.default_payment_options(&account)
                }
                _ => ThinVec::new(),
            };
            filling.insert(account, f.server_key.as_deref());
        }
    }

    /// The payment options a newly linked account gets: its phone scenario's (as its merchant sees
    /// them), or the defaults.
    pub fn default_payment_options(&self, account: &Account) -> ThinVec<PaymentOption> {
        self.scenarios.with(
            account.owner.as_deref(),
            &account.phone_number,
            &account.country_code,
            |scenario| {
                let options = scenario.and_then(|s| s.payment_options.as_deref());
                self.payment_options(options.unwrap_or(&self.fixtures.payment_options))
            },
        )
    }

    fn payment_options(&self, fixtures: &[PaymentOptionFixture]) -> ThinVec<PaymentOption> {
        fixtures
            .iter()
            .map(|o| PaymentOption {
                name: o.name.clone(),
                active: o.active,
                balance: Balance {
                    // Checked with the fixtures (`money::is_amount`).
                    value: Amount::parse(&o.balance).unwrap_or_default(),
                    currency: o.currency.clone(),
                },
                token: match &o.token {
                    Some(t) => Token::Given(t.as_str().into()),
                    None => Token::Generated(self.ids.uuid()),
                },
            })
            .collect()
    }
}

/// Owner of the accounts made by `--generate-accounts` (the key the benchmark harness sends).
pub const BENCH_SERVER_KEY: &str = "SB-Mid-server-bench";

/// Records (accounts, transactions, notifications, journal entries) from which a reset is
/// followed by [`give_back_memory`]: about 16 MiB, far more than a test's server holds, so that
/// the pooled servers of a test suite never pay for it.
const GIVE_BACK_FROM_RECORDS: usize = 40_000;

/// Returns the memory that replacing a large state (an import, a reset) freed to the system. glibc
/// keeps freed memory in its arenas for later allocations, and a state is several small
/// allocations per account: ten imports of a 175 MB document left 850 MB resident where the state
/// took about 150 (see BENCHMARKS.md). Elsewhere than glibc, nothing.
pub fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a plain integer and only releases free memory of the arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}
