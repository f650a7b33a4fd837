//! The state file (`--state-file`): the whole state of a server as one JSON document, saved while it
//! runs and loaded when it starts, so that a QA session survives a restart. `GET /__admin/state`
//! exports the same document and `PUT /__admin/state` imports it.
//!
//! # What it holds, and what not
//! Accounts (balances, tokens, links used), transactions with their refunds, the notification log
//! with its attempts and pending retries, the phone scenarios changed at run time, the runtime
//! config, the clock's offset, and the id counters (and, with `--seed`, the id generator's place).
//! Not the request journal, the fault rules (those of `--faults` come back with the flag), or
//! idempotency replays: they belong to a CI run, not a QA session.
//!
//! # Saving
//! Every request that may change state (any method but GET, HEAD and OPTIONS) and every change the
//! scheduler makes moves [`AppState::revision`]. The saver wakes every `--state-save-interval`
//! and, when the revision moved, reads the state in pieces of [`CHUNK`] items (each under its lock
//! for a moment, never across I/O), writes it to a temporary file in the same folder, flushes it to
//! disk and renames it over the old file. A save runs on a blocking thread, never on a worker.
//!
//! # Format versions
//! The document carries `format` and `version`. A file of another format, or of a newer version, is
//! refused and left as it is. When the format changes, [`VERSION`] goes up and [`upgrade`] gains a
//! step that turns a document of the version before into the new one, so old files keep loading.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, Balance, Owner, PaymentOption, Token};
use crate::app::AppState;
use crate::charges::{INSUFFICIENT_BALANCE, NotifyTo, Refund, Transaction, TxStatus};
use crate::clock::{self, MAX_MS};
use crate::fixtures::{PaymentOptionFixture, PhoneScenario};
use crate::limits;
use crate::money::Amount;
use crate::notifications::{Attempt, DeliveryState, Event, Notification, Payload, Target};
use crate::paging::Order;
use crate::settings::{ConfigPatch, Settings};

/// What the `format` field says.
pub const FORMAT: &str = "pay-account-mock-state";
/// The version this build writes, and the newest it reads.
pub const VERSION: u32 = 1;
/// Items read under one lock while saving.
pub const CHUNK: usize = 1000;
/// The largest document `PUT /__admin/state` takes, and the largest file read at start.
pub const MAX_BYTES: u64 = 1 << 30;
/// The largest notification payload kept (a payload is a few hundred bytes).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// The body `status_code`s a notification can carry.
const STATUS_CODES: [&str; 8] = ["200", "201", "202", "204", "407", "410", "412", "500"];

/// The document.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    pub version: u32,
    /// When it was written, on the mock clock (for people; not read back).
    pub saved_at: String,
    pub clock: SavedClock,
    pub ids: SavedIds,
    /// The runtime config, in the shape `PATCH /__admin/config` takes.
    pub config: SavedConfig,
    pub phone_numbers: SavedScenarios,
    pub accounts: Vec<SavedAccount>,
    pub transactions: SavedTransactions,
    pub notifications: SavedNotifications,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClock {
    /// How far the clock had been advanced; it goes on from there.
    pub offset_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedIds {
    /// The `--seed` of the server that wrote it.
    pub seed: Option<u64>,
    /// Where that seed's id stream was (a decimal string: it does not fit a JSON number). A server
    /// started with the same seed goes on from there; any other makes ids of its own. `null`
    /// without a seed: random ids have no place to go on from.
    pub position: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedConfig {
    pub notification_url: Option<String>,
    pub notification_urls: std::collections::BTreeMap<String, String>,
    pub merchant_id: String,
    pub activation_ttl: String,
    pub retry_schedule: Vec<String>,
    pub unbind_notification: bool,
    pub payment_notification_url: Option<String>,
    pub payment_notification_urls: std::collections::BTreeMap<String, String>,
    pub gopay_merchant_id: String,
    /// Whole IDR.
    pub pin_threshold: u64,
    pub verification_link_ttl: String,
    pub transaction_ttl: String,
    pub pre_auth_hold: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedScenarios {
    /// Scenarios added or replaced at run time.
    pub added: Vec<SavedScenario>,
    /// The fixtures' numbers removed until the next reset.
    pub hidden: Vec<HiddenNumber>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedScenario {
    /// `null`: every merchant's.
    pub server_key: Option<String>,
    pub scenario: PhoneScenario,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiddenNumber {
    pub phone_number: String,
    pub country_code: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedAccount {
    pub account_id: Uuid,
    /// `null`: a shared fixture account.
    pub server_key: Option<String>,
    pub account_status: AccountStatus,
    pub phone_number: String,
    pub country_code: String,
    pub redirect_url: Option<String>,
    pub web_link_used: bool,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    pub payment_options: Vec<SavedOption>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOption {
    pub name: String,
    pub active: bool,
    pub balance: String,
    pub currency: String,
    /// A token written as given (fixtures), or `null` for a generated one ...
    pub token: Option<String>,
    /// ... made from this id.
    pub token_id: Option<Uuid>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTransactions {
    /// The last `refund_chargeback_id` given.
    pub last_refund_id: u64,
    pub items: Vec<SavedTransaction>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTransaction {
    pub transaction_id: Uuid,
    pub order_id: String,
    pub server_key: String,
    pub account_id: Uuid,
    pub payment_option: String,
    pub gross_amount: String,
    pub transaction_status: TxStatus,
    pub cancelled_while: Option<TxStatus>,
    pub pre_auth: bool,
    pub recurring: bool,
    pub callback_url: Option<String>,
    pub metadata: Option<Box<RawValue>>,
    /// The `channel_response_code` of a denial.
    pub deny_code: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub settled_at_ms: Option<u64>,
    pub expires_at_ms: u64,
    pub links_expire_at_ms: u64,
    pub web_link_used: bool,
    pub refunds: Vec<SavedRefund>,
    /// `null`: the merchant's Payment Notification URL.
    pub notify_to: Option<NotifyTo>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRefund {
    pub refund_chargeback_id: u64,
    pub refund_chargeback_uuid: Uuid,
    pub refund_key: String,
    pub refund_amount: String,
    pub reason: Option<String>,
    pub direct: bool,
    pub created_at_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedNotifications {
    /// The id the last notification got.
    pub last_id: u64,
    pub items: Vec<SavedNotification>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedNotification {
    pub id: u64,
    pub event: Event,
    pub status_code: String,
    pub account_id: Uuid,
    pub transaction: Option<crate::notifications::TransactionRef>,
    pub server_key: String,
    pub target: Target,
    pub url: Option<String>,
    pub state: DeliveryState,
    pub created_at_ms: u64,
    /// When the next attempt is due; an attempt under way when the state was read is due at once.
    pub next_attempt_at_ms: Option<u64>,
    /// The body exactly as it is sent (JSON text).
    pub payload: String,
    pub attempts: Vec<SavedAttempt>,
    pub attempts_total: u32,
    /// Retries made since the last first or manual attempt.
    pub retries: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedAttempt {
    pub number: u32,
    pub at_ms: u64,
    pub url: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub redirects: usize,
    pub duration_ms: f64,
}

/// Where a server keeps its state file, and how far it has saved.
pub struct StateFile {
    pub path: PathBuf,
    pub interval: Duration,
    /// The [`AppState::revision`] the file holds.
    saved: AtomicU64,
    /// One save at a time.
    saving: parking_lot::Mutex<()>,
}

impl StateFile {
    pub fn new(path: PathBuf, interval: Duration) -> Self {
        Self {
            path,
            interval,
            saved: AtomicU64::new(0),
            saving: parking_lot::Mutex::new(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// The state of `app` as a document.
pub fn export(app: &AppState) -> Document {
    let settings = app.settings.read().clone();
    let (added, hidden) = app.scenarios.runtime();
    Document {
        format: FORMAT.into(),
        version: VERSION,
        saved_at: clock::rfc3339(app.clock.now_ms()),
        clock: SavedClock {
            offset_ms: clock::duration_ms(app.clock.offset()),
        },
        ids: SavedIds {
            seed: app.seed(),
            position: app.seed().map(|_| app.ids.position().to_string()),
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
        accounts: export_accounts(app),
        transactions: export_transactions(app),
        notifications: export_notifications(app),
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
        gopay_merchant_id: s.gopay_merchant_id.clone(),
        pin_threshold: s.pin_threshold.hundredths() / 100,
        verification_link_ttl: text(s.verification_link_ttl),
        transaction_ttl: text(s.transaction_ttl),
        pre_auth_hold: text(s.pre_auth_hold),
    }
}

fn export_accounts(app: &AppState) -> Vec<SavedAccount> {
    let mut out = Vec::with_capacity(app.store.len());
    let mut after = None;
    // A page never goes past the end, so this ends; the bound is a second guarantee.
    for _ in 0..=(app.store.len() / CHUNK).saturating_add(app.store.len()) {
        let page = app.store.page(
            Owner::Any,
            None,
            after,
            CHUNK,
            Order::OldestFirst,
            app.clock.now_ms(),
        );
        out.extend(page.accounts.iter().map(saved_account));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    out
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
        expires_at_ms: a.expires_at_ms,
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

fn export_transactions(app: &AppState) -> SavedTransactions {
    let mut items = Vec::new();
    let mut after = None;
    let mut last_refund_id = 0;
    let total = app.transactions.len();
    for _ in 0..=(total / CHUNK).saturating_add(total) {
        let (page, next) = app.transactions.with(|book| {
            last_refund_id = book.last_refund_id();
            book.page(after, CHUNK, Order::OldestFirst, |_| true)
        });
        items.extend(page.iter().map(saved_transaction));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    SavedTransactions {
        last_refund_id,
        items,
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
        callback_url: t.callback_url.as_deref().map(str::to_string),
        metadata: t.metadata.clone(),
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
        notify_to: t.notify_to.as_deref().cloned(),
    }
}

fn export_notifications(app: &AppState) -> SavedNotifications {
    let last_id = app.notifications.last_id();
    let now = app.clock.now_ms();
    let mut items = Vec::new();
    let mut after = 0;
    for _ in 0..=app.notifications.capacity() / CHUNK + 1 {
        let chunk = app.notifications.chunk(after, CHUNK);
        let Some(last) = chunk.last() else { break };
        after = last.id;
        items.extend(chunk.iter().map(|n| saved_notification(n, now)));
        if after >= last_id {
            break;
        }
    }
    SavedNotifications { last_id, items }
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

// ---------------------------------------------------------------------------------------------
// Reading and checking

/// Parses a document, upgrading an older version.
///
/// # Errors
/// Not JSON, another format, a newer version, or a field of the wrong shape; the message says which.
pub fn parse(bytes: &[u8]) -> Result<Document, String> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u32>,
    }
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| format!("not a state document: {e}"))?;
    if head.format.as_deref() != Some(FORMAT) {
        return Err(format!(
            "not a state document: \"format\" must be \"{FORMAT}\""
        ));
    }
    let version = head.version.ok_or("the document has no \"version\"")?;
    if version > VERSION {
        return Err(format!(
            "written by a newer pay-account-mock (format version {version}); this one reads versions 1 to {VERSION}"
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a state document: {e}"))?;
    serde_json::from_value(upgrade(value, version)?)
        .map_err(|e| format!("invalid state document: {e}"))
}

/// Turns a document of `version` into one of [`VERSION`], one step per version.
///
/// # Errors
/// A version this build cannot upgrade.
pub fn upgrade(document: serde_json::Value, version: u32) -> Result<serde_json::Value, String> {
    match version {
        // Each later format adds an arm here that rewrites `document` to the next version.
        VERSION => Ok(document),
        v => Err(format!(
            "format version {v} cannot be read (this build reads versions 1 to {VERSION})"
        )),
    }
}

/// A document checked against every range, turned into the state it describes.
pub struct Prepared {
    offset: Duration,
    position: Option<u128>,
    settings: Settings,
    scenarios: crate::scenarios::RuntimeChanges,
    accounts: Vec<Account>,
    transactions: Vec<Transaction>,
    last_refund_id: u64,
    notifications: Vec<Notification>,
    last_notification_id: u64,
}

/// Checks `doc` against the ranges of `app`'s flags and every field's own.
///
/// # Errors
/// The first thing wrong, named by its place in the document; `app` is not touched.
pub fn prepare(app: &AppState, doc: Document) -> Result<Prepared, String> {
    let offset = Duration::from_millis(doc.clock.offset_ms);
    if offset > clock::MAX_OFFSET {
        return Err(format!(
            "clock.offset_ms must be at most {}",
            clock::duration_ms(clock::MAX_OFFSET)
        ));
    }
    let position = match (doc.ids.seed, app.seed(), doc.ids.position.as_deref()) {
        (Some(saved), Some(ours), Some(position)) if saved == ours => Some(
            position
                .parse::<u128>()
                .map_err(|_| "ids.position must be a decimal number".to_string())?,
        ),
        _ => None,
    };
    let settings = prepare_config(app, doc.config).map_err(|e| format!("config: {e}"))?;
    let scenarios = (
        doc.phone_numbers
            .added
            .into_iter()
            .map(|s| (s.server_key, s.scenario))
            .collect(),
        doc.phone_numbers
            .hidden
            .into_iter()
            .map(|h| (h.phone_number, h.country_code))
            .collect(),
    );
    crate::scenarios::check_runtime(&scenarios).map_err(|e| format!("phone_numbers: {e}"))?;
    let accounts = prepare_accounts(app, doc.accounts)?;
    let transactions = prepare_transactions(app, doc.transactions.items)?;
    let last_refund_id = doc.transactions.last_refund_id;
    if let Some(t) = transactions
        .iter()
        .flat_map(|t| &t.refunds)
        .find(|r| r.refund_chargeback_id > last_refund_id)
    {
        return Err(format!(
            "transactions.last_refund_id ({last_refund_id}) is below a refund's id ({})",
            t.refund_chargeback_id
        ));
    }
    let last_notification_id = doc.notifications.last_id;
    let notifications = prepare_notifications(doc.notifications.items, last_notification_id)?;
    Ok(Prepared {
        offset,
        position,
        settings,
        scenarios,
        accounts,
        transactions,
        last_refund_id,
        notifications,
        last_notification_id,
    })
}

fn prepare_config(app: &AppState, c: SavedConfig) -> Result<Settings, String> {
    // Through the same checks as `PATCH /__admin/config`, onto settings with no per-key URLs.
    let patch = serde_json::json!({
        "notification_url": c.notification_url,
        "notification_urls": c.notification_urls,
        "merchant_id": c.merchant_id,
        "activation_ttl": c.activation_ttl,
        "retry_schedule": c.retry_schedule,
        "unbind_notification": c.unbind_notification,
        "payment_notification_url": c.payment_notification_url,
        "payment_notification_urls": c.payment_notification_urls,
        "gopay_merchant_id": c.gopay_merchant_id,
        "pin_threshold": c.pin_threshold,
        "verification_link_ttl": c.verification_link_ttl,
        "transaction_ttl": c.transaction_ttl,
        "pre_auth_hold": c.pre_auth_hold,
    });
    let patch: ConfigPatch = serde_json::from_value(patch).map_err(|e| e.to_string())?;
    let mut settings = app.initial_settings().clone();
    settings.notification_urls.clear();
    settings.payment_notification_urls.clear();
    patch.apply(&mut settings)?;
    Ok(settings)
}

fn check_time(what: &str, ms: u64) -> Result<u64, String> {
    if ms > MAX_MS {
        return Err(format!(
            "{what} must be at most {MAX_MS} (the end of year 9999)"
        ));
    }
    Ok(ms)
}

fn check_text(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("{what} must be at most {max} bytes long"));
    }
    Ok(())
}

fn prepare_accounts(app: &AppState, saved: Vec<SavedAccount>) -> Result<Vec<Account>, String> {
    let max = app.store.limit();
    if saved.len() > max {
        return Err(format!(
            "accounts: {} accounts, more than --max-accounts ({max})",
            saved.len()
        ));
    }
    // Option names and currencies are shared by every account that has them, as in the store.
    let mut names: std::collections::HashMap<String, Arc<str>> = std::collections::HashMap::new();
    let mut shared = |s: String| -> Arc<str> {
        names
            .entry(s)
            .or_insert_with_key(|k| Arc::from(k.as_str()))
            .clone()
    };
    let mut seen = std::collections::HashSet::with_capacity(saved.len());
    let mut out = Vec::with_capacity(saved.len());
    for a in saved {
        let at = |e: String| format!("account {}: {e}", a.account_id);
        if !seen.insert(a.account_id) {
            return Err(at("the account_id appears twice".into()));
        }
        if let Some(key) = &a.server_key {
            limits::check_server_key("server_key", key).map_err(at)?;
        }
        crate::fixtures::check_phone(&a.phone_number).map_err(at)?;
        crate::fixtures::check_country_code(&a.country_code).map_err(at)?;
        if let Some(url) = &a.redirect_url {
            check_text("redirect_url", url, limits::URL_MAX_LEN).map_err(at)?;
        }
        check_time("created_at_ms", a.created_at_ms).map_err(at)?;
        check_time("updated_at_ms", a.updated_at_ms).map_err(at)?;
        if let Some(e) = a.expires_at_ms {
            check_time("expires_at_ms", e).map_err(at)?;
        }
        let fixtures: Vec<PaymentOptionFixture> = a
            .payment_options
            .iter()
            .map(|o| PaymentOptionFixture {
                name: Arc::from(o.name.as_str()),
                active: o.active,
                balance: o.balance.clone(),
                currency: Arc::from(o.currency.as_str()),
                token: o.token.clone(),
            })
            .collect();
        crate::fixtures::check_options(&fixtures).map_err(at)?;
        let mut options = Vec::with_capacity(a.payment_options.len());
        for o in a.payment_options {
            let token = match (o.token, o.token_id) {
                (Some(t), None) => Token::Given(t.into_boxed_str()),
                (None, Some(id)) => Token::Generated(id),
                _ => {
                    return Err(at(format!(
                        "payment option {}: give either token or token_id",
                        o.name.escape_debug()
                    )));
                }
            };
            options.push(PaymentOption {
                name: shared(o.name),
                active: o.active,
                balance: Balance {
                    value: o.balance.into_boxed_str(),
                    currency: shared(o.currency),
                },
                token,
            });
        }
        out.push(Account {
            id: a.account_id,
            owner: a.server_key.map(|k| Arc::from(k.as_str())),
            status: a.account_status,
            phone_number: a.phone_number.into_boxed_str(),
            country_code: a.country_code.into_boxed_str(),
            redirect_url: a.redirect_url.map(String::into_boxed_str),
            web_link_used: a.web_link_used,
            seq: 0,
            created_at_ms: a.created_at_ms,
            updated_at_ms: a.updated_at_ms,
            expires_at_ms: a.expires_at_ms,
            payment_options: options,
        });
    }
    Ok(out)
}

fn amount(what: &str, s: &str) -> Result<Amount, String> {
    Amount::parse(s).ok_or_else(|| {
        format!(
            "{what} '{}' must be an amount like \"10000.00\"",
            s.escape_debug()
        )
    })
}

fn prepare_transactions(
    app: &AppState,
    saved: Vec<SavedTransaction>,
) -> Result<Vec<Transaction>, String> {
    let max = app.transactions.with(|book| book.limit());
    if saved.len() > max {
        return Err(format!(
            "transactions: {} transactions, more than --max-transactions ({max})",
            saved.len()
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(saved.len());
    let mut out = Vec::with_capacity(saved.len());
    for t in saved {
        let at = |e: String| format!("transaction {}: {e}", t.transaction_id);
        if !seen.insert(t.transaction_id) {
            return Err(at("the transaction_id appears twice".into()));
        }
        if t.order_id.is_empty() {
            return Err(at("order_id must not be empty".into()));
        }
        check_text("order_id", &t.order_id, 50).map_err(at)?;
        limits::check_server_key("server_key", &t.server_key).map_err(at)?;
        if t.payment_option.is_empty() {
            return Err(at("payment_option must not be empty".into()));
        }
        check_text("payment_option", &t.payment_option, 64).map_err(at)?;
        let gross_amount = amount("gross_amount", &t.gross_amount).map_err(at)?;
        if let Some(url) = &t.callback_url {
            check_text("callback_url", url, limits::URL_MAX_LEN).map_err(at)?;
        }
        if let Some(m) = &t.metadata {
            check_text("metadata", m.get(), limits::METADATA_MAX_BYTES).map_err(at)?;
        }
        let deny_reason = match t.deny_code.as_deref() {
            None => None,
            Some(code) if code == INSUFFICIENT_BALANCE.channel_response_code => {
                Some(&INSUFFICIENT_BALANCE)
            }
            Some(code) => {
                return Err(at(format!(
                    "deny_code '{}' is not one the mock gives",
                    code.escape_debug()
                )));
            }
        };
        for (what, ms) in [
            ("created_at_ms", t.created_at_ms),
            ("updated_at_ms", t.updated_at_ms),
            ("expires_at_ms", t.expires_at_ms),
            ("links_expire_at_ms", t.links_expire_at_ms),
            ("settled_at_ms", t.settled_at_ms.unwrap_or(0)),
        ] {
            check_time(what, ms).map_err(at)?;
        }
        if t.refunds.len() > limits::REFUNDS_MAX {
            return Err(at(format!("at most {} refunds", limits::REFUNDS_MAX)));
        }
        let mut refunds = Vec::with_capacity(t.refunds.len());
        for r in t.refunds {
            check_text("refund_key", &r.refund_key, 256).map_err(at)?;
            if let Some(reason) = &r.reason {
                check_text("a refund's reason", reason, 1024).map_err(at)?;
            }
            check_time("a refund's created_at_ms", r.created_at_ms).map_err(at)?;
            refunds.push(Refund {
                refund_chargeback_id: r.refund_chargeback_id,
                refund_chargeback_uuid: r.refund_chargeback_uuid,
                refund_key: r.refund_key.into_boxed_str(),
                refund_amount: amount("refund_amount", &r.refund_amount).map_err(at)?,
                reason: r.reason.map(String::into_boxed_str),
                direct: r.direct,
                created_at_ms: r.created_at_ms,
            });
        }
        if let Some(NotifyTo::Override(urls) | NotifyTo::Append(urls)) = &t.notify_to {
            if urls.is_empty() || urls.len() > limits::NOTIFICATION_HEADER_URLS_MAX {
                return Err(at(format!(
                    "notify_to must name 1 to {} URLs",
                    limits::NOTIFICATION_HEADER_URLS_MAX
                )));
            }
            for url in urls {
                limits::check_url("a notify_to URL", url).map_err(at)?;
            }
        }
        out.push(Transaction {
            id: t.transaction_id,
            order_id: Arc::from(t.order_id.as_str()),
            owner: Arc::from(t.server_key.as_str()),
            account_id: t.account_id,
            payment_option: Arc::from(t.payment_option.as_str()),
            gross_amount,
            currency: "IDR",
            status: t.transaction_status,
            cancelled_while: t.cancelled_while,
            pre_auth: t.pre_auth,
            recurring: t.recurring,
            callback_url: t.callback_url.map(String::into_boxed_str),
            metadata: t.metadata,
            deny_reason,
            created_at_ms: t.created_at_ms,
            updated_at_ms: t.updated_at_ms,
            settled_at_ms: t.settled_at_ms,
            expires_at_ms: t.expires_at_ms,
            links_expire_at_ms: t.links_expire_at_ms,
            web_link_used: t.web_link_used,
            refunds,
            notify_to: match t.notify_to {
                None | Some(NotifyTo::Merchant) => None,
                Some(other) => Some(Box::new(other)),
            },
            seq: 0,
        });
    }
    Ok(out)
}

fn prepare_notifications(
    saved: Vec<SavedNotification>,
    last_id: u64,
) -> Result<Vec<Notification>, String> {
    let mut out: Vec<Notification> = Vec::with_capacity(saved.len());
    for n in saved {
        let at = |e: String| format!("notification {}: {e}", n.id);
        if n.id == 0 || n.id > last_id {
            return Err(at(format!(
                "the id must be between 1 and notifications.last_id ({last_id})"
            )));
        }
        if out.last().is_some_and(|prev| prev.id >= n.id) {
            return Err(at("notifications must be in increasing id order".into()));
        }
        let status_code = STATUS_CODES
            .into_iter()
            .find(|c| *c == n.status_code)
            .ok_or_else(|| {
                at(format!(
                    "status_code '{}' is not one a notification carries",
                    n.status_code.escape_debug()
                ))
            })?;
        limits::check_server_key("server_key", &n.server_key).map_err(at)?;
        if let Target::Url(url) = &n.target {
            limits::check_url("target.url", url).map_err(at)?;
        }
        if let Some(url) = &n.url {
            check_text("url", url, limits::URL_MAX_LEN).map_err(at)?;
        }
        check_time("created_at_ms", n.created_at_ms).map_err(at)?;
        let next_attempt_at = match (n.state, n.next_attempt_at_ms) {
            (DeliveryState::Pending, Some(ms)) => {
                Some(check_time("next_attempt_at_ms", ms).map_err(at)?)
            }
            (DeliveryState::Pending, None) => {
                return Err(at("a pending notification needs next_attempt_at_ms".into()));
            }
            (_, Some(_)) => {
                return Err(at(
                    "only a pending notification has a next_attempt_at_ms".into()
                ));
            }
            (_, None) => None,
        };
        if n.payload.len() > MAX_PAYLOAD_BYTES
            || serde_json::from_str::<&RawValue>(&n.payload).is_err()
        {
            return Err(at(format!(
                "payload must be JSON text of at most {MAX_PAYLOAD_BYTES} bytes"
            )));
        }
        if n.attempts.len() > crate::notifications::log::ATTEMPTS_KEPT {
            return Err(at(format!(
                "at most {} attempts are kept",
                crate::notifications::log::ATTEMPTS_KEPT
            )));
        }
        if n.retries > limits::RETRY_SCHEDULE_MAX_LEN as u32 {
            return Err(at(format!(
                "retries must be at most {}",
                limits::RETRY_SCHEDULE_MAX_LEN
            )));
        }
        let mut attempts = std::collections::VecDeque::with_capacity(n.attempts.len());
        for a in n.attempts {
            check_text("an attempt's url", &a.url, limits::URL_MAX_LEN).map_err(at)?;
            if let Some(e) = &a.error {
                check_text("an attempt's error", e, 4096).map_err(at)?;
            }
            check_time("an attempt's at_ms", a.at_ms).map_err(at)?;
            if !a.duration_ms.is_finite() || a.duration_ms < 0.0 {
                return Err(at(
                    "an attempt's duration_ms must be a non-negative number".into()
                ));
            }
            attempts.push_back(Attempt {
                number: a.number,
                at: a.at_ms,
                url: a.url,
                http_status: a.http_status,
                error: a.error,
                redirects: a.redirects,
                duration_ms: a.duration_ms,
            });
        }
        out.push(Notification {
            id: n.id,
            event: n.event,
            account_id: n.account_id,
            transaction: n.transaction,
            server_key: Arc::from(n.server_key.as_str()),
            target: n.target,
            url: n.url,
            state: n.state,
            created_at: n.created_at_ms,
            next_attempt_at,
            payload: Payload::new(n.payload),
            attempts,
            attempts_total: n.attempts_total,
            status_code,
            retries: n.retries,
            in_flight: false,
            rerun: false,
        });
    }
    Ok(out)
}

/// Replaces the whole state of `app` with `prepared`: attempts under way are cancelled, and the
/// journal and fault rules stay as they are.
pub fn import(app: &AppState, prepared: Prepared) {
    app.deliveries.cancel_all();
    app.store.replace_all(prepared.accounts);
    // The count was checked against the limit: this cannot fail.
    let _ = app
        .transactions
        .with(|book| book.restore(prepared.transactions, prepared.last_refund_id));
    let _ = app.scenarios.restore(prepared.scenarios);
    *app.settings.write() = prepared.settings;
    let _ = app.clock.set_offset(prepared.offset);
    if let Some(position) = prepared.position {
        app.ids.seek(position);
    }
    app.notifications
        .restore(prepared.last_notification_id, prepared.notifications);
    app.changed();
}

// ---------------------------------------------------------------------------------------------
// The file

/// Reads the state file at start: `None` when there is none yet.
///
/// # Errors
/// It cannot be read, or is not a valid document; the message names the problem (the caller names
/// the file).
pub fn read(path: &Path) -> Result<Option<Document>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!("it is larger than {MAX_BYTES} bytes"));
    }
    parse(&bytes).map(Some)
}

/// Writes `bytes` over `path` atomically: a temporary file in the same folder, flushed to disk,
/// renamed over the old one.
///
/// # Errors
/// Any I/O failure; the old file is then intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the folder.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Saves the state when it changed since the last save (or always, with `force`). Returns whether it
/// wrote. Blocking: call it from a blocking thread.
///
/// # Errors
/// The document could not be written; the message names the file.
pub fn save(app: &AppState, force: bool) -> Result<bool, String> {
    let Some(file) = app.state_file.as_ref() else {
        return Ok(false);
    };
    let _one = file.saving.lock();
    let revision = app.revision();
    if !force && file.saved.load(Ordering::Acquire) == revision {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let doc = export(app);
    let bytes = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    write_atomic(&file.path, &bytes)
        .map_err(|e| format!("cannot save the state to {}: {e}", file.path.display()))?;
    file.saved.store(revision, Ordering::Release);
    tracing::debug!(
        path = %file.path.display(),
        bytes = bytes.len(),
        accounts = doc.accounts.len(),
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "state saved"
    );
    Ok(true)
}

/// Saves the state every `--state-save-interval` when it changed; runs until dropped with the
/// server. A failed save is logged and tried again at the next interval.
pub async fn keep_saved(app: actix_web::web::Data<AppState>) {
    let Some(interval) = app.state_file.as_ref().map(|f| f.interval) else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(interval).await;
        let app = app.clone();
        match tokio::task::spawn_blocking(move || save(&app, false)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("{e}"),
            Err(e) => tracing::error!(error = %e, "the state save failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("pam-state-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("qa.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn other_formats_and_newer_versions_are_refused() {
        let refusal = |bytes: &[u8]| parse(bytes).err().unwrap_or_default();
        assert!(refusal(b"{}").contains("not a state document"));
        assert!(refusal(b"[1]").contains("not a state document"));
        let newer = format!(r#"{{"format": "{FORMAT}", "version": {}}}"#, VERSION + 1);
        assert!(refusal(newer.as_bytes()).contains("newer"));
        let truncated = format!(r#"{{"format": "{FORMAT}", "version": 1, "acc"#);
        assert!(!refusal(truncated.as_bytes()).is_empty());
    }
}
