//! The state every route shares, built once from a [`Config`] before the HTTP workers start.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;

use crate::accounts::{Account, AccountStatus, PaymentOption, Store};
use crate::accounts::{Balance, Token};
use crate::clock::Clock;
use crate::config::{Config, HttpStatusMode};
use crate::fixtures::{Fixtures, PaymentOptionFixture};
use crate::ids::IdGen;
use crate::notifications::Notifications;

/// Settings the control API can change while the server runs.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The "Account linking notification URL" for every merchant without its own.
    pub notification_url: Option<String>,
    /// Per server key notification URLs.
    pub notification_urls: HashMap<String, String>,
    pub merchant_id: String,
    #[serde(serialize_with = "ser_duration")]
    pub activation_ttl: Duration,
    #[serde(serialize_with = "ser_durations")]
    pub retry_schedule: Vec<Duration>,
    pub unbind_notification: bool,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

fn ser_durations<S: serde::Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(d.iter().map(|d| humantime::format_duration(*d).to_string()))
}

impl Settings {
    /// Where a merchant's notifications go.
    pub fn notification_url_for(&self, server_key: &str) -> Option<String> {
        self.notification_urls
            .get(server_key)
            .cloned()
            .or_else(|| self.notification_url.clone())
    }
}

/// Shared state: the store, the clock, the id source, settings and the notification machinery.
pub struct AppState {
    pub store: Store,
    pub ids: IdGen,
    pub clock: Clock,
    pub fixtures: Fixtures,
    pub settings: RwLock<Settings>,
    pub notifications: Notifications,
    /// Base URL of activation links (no trailing slash).
    pub public_url: String,
    pub http_status: HttpStatusMode,
    pub server_keys: Vec<String>,
    pub legacy_sandbox: bool,
    pub max_body_bytes: usize,
    /// Keys the activation pages' form tokens (see `activation.rs`).
    pub form_secret: uuid::Uuid,
}

impl AppState {
    pub fn new(config: &Config, public_url: String) -> Self {
        let state = Self {
            store: Store::new(),
            ids: IdGen::new(config.seed),
            clock: Clock::default(),
            fixtures: config.fixtures.clone(),
            settings: RwLock::new(Settings {
                notification_url: config.notification_url.clone(),
                notification_urls: HashMap::new(),
                merchant_id: config.merchant_id.clone(),
                activation_ttl: config.activation_ttl,
                retry_schedule: config.retry_schedule.clone(),
                unbind_notification: config.unbind_notification,
            }),
            notifications: Notifications::new(config.notification_timeout),
            public_url: public_url.trim_end_matches('/').to_string(),
            http_status: config.http_status,
            server_keys: config.server_keys.clone(),
            legacy_sandbox: config.legacy_sandbox,
            max_body_bytes: config.max_body_bytes,
            form_secret: uuid::Uuid::new_v4(),
        };
        state.load_fixture_accounts();
        state.generate_accounts(config.generate_accounts);
        state
    }

    /// Preloads `n` ENABLED accounts owned by [`BENCH_SERVER_KEY`] (benchmarks), with distinct
    /// phone numbers `899xxxxxxxx` (country code 62) and the default payment options. Ids come from
    /// [`IdGen`], so `--seed` makes them reproducible.
    pub fn generate_accounts(&self, n: usize) {
        if n == 0 {
            return;
        }
        let started = std::time::Instant::now();
        let now = self.clock.now_ms();
        for i in 0..n {
            let mut account = Account::new(
                self.ids.uuid(),
                AccountStatus::Enabled,
                &format!("899{i:08}"),
                "62",
                None,
                now,
            );
            account.payment_options = self.default_payment_options(&account);
            self.store.insert(account, Some(BENCH_SERVER_KEY));
        }
        tracing::info!(
            accounts = n,
            server_key = BENCH_SERVER_KEY,
            ms = started.elapsed().as_millis() as u64,
            "generated accounts"
        );
    }

    /// (Re)creates the fixture accounts. Fixture PENDING accounts never expire by themselves.
    pub fn load_fixture_accounts(&self) {
        let now = self.clock.now_ms();
        for f in &self.fixtures.accounts {
            let mut account = Account::new(
                f.account_id,
                f.account_status,
                &f.phone_number,
                &f.country_code,
                f.redirect_url.as_deref(),
                now,
            );
            account.payment_options = match (&f.payment_options, f.account_status) {
                (Some(options), _) => self.payment_options(options),
                (None, AccountStatus::Enabled | AccountStatus::Disabled) => {
                    self.default_payment_options(&account)
                }
                _ => Vec::new(),
            };
            self.store.insert(account, f.server_key.as_deref());
        }
    }

    /// The payment options a newly linked account gets: its phone scenario's, or the defaults.
    pub fn default_payment_options(&self, account: &Account) -> Vec<PaymentOption> {
        let scenario = self
            .fixtures
            .scenario(&account.phone_number, &account.country_code)
            .and_then(|s| s.payment_options.as_ref());
        self.payment_options(scenario.unwrap_or(&self.fixtures.payment_options))
    }

    fn payment_options(&self, fixtures: &[PaymentOptionFixture]) -> Vec<PaymentOption> {
        fixtures
            .iter()
            .map(|o| PaymentOption {
                name: o.name.clone(),
                active: o.active,
                balance: Balance {
                    value: o.balance.as_str().into(),
                    currency: o.currency.clone(),
                },
                token: match &o.token {
                    Some(t) => Token::Given(t.as_str().into()),
                    None => Token::Generated(self.ids.uuid()),
                },
            })
            .collect()
    }

    /// The two activation links of an account.
    pub fn activation_links(&self, account: &Account) -> (String, String) {
        (
            format!(
                "{}/v2/gopay/redirect/gpar_{}/link",
                self.public_url,
                account.link_id()
            ),
            format!(
                "{}/v2/gopay/redirect/gpad_{}/link",
                self.public_url,
                account.link_id()
            ),
        )
    }

    /// The key that signs a notification about `account`: its owner's; for a shared fixture account,
    /// the key that acted on it, else the first `--server-key`, else [`SHARED_ACCOUNT_KEY`].
    pub fn signing_key(&self, account: &Account, acting_key: Option<&str>) -> String {
        account
            .owner
            .as_deref()
            .or(acting_key)
            .or(self.server_keys.first().map(String::as_str))
            .unwrap_or(SHARED_ACCOUNT_KEY)
            .to_string()
    }
}

/// Owner of the accounts made by `--generate-accounts` (the key the benchmark harness sends).
pub const BENCH_SERVER_KEY: &str = "SB-Mid-server-bench";

/// Signs notifications about shared fixture accounts changed from the control API or the activation
/// pages when no `--server-key` is configured.
pub const SHARED_ACCOUNT_KEY: &str = "SB-Mid-server-pay-account-mock";
