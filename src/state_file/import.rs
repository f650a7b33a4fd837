//! A document read, upgraded, checked against every range, and put in place of the whole state.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::document::*;
use super::{FORMAT, VERSION};
use crate::accounts::{Account, Balance, Filling, PaymentOption, Token};
use crate::app::AppState;
use crate::charges::store::Book;
use crate::charges::{Extras, INSUFFICIENT_BALANCE, NotifyTo, Refund, Transaction};
use crate::clock::{self, MAX_MS};
use crate::fixtures::PaymentOptionFixture;
use crate::limits;
use crate::money::Amount;
use crate::notifications::{Attempt, DeliveryState, Notification, Payload, Target};
use crate::settings::{ConfigPatch, Settings};
use crate::shared_text::SharedText;

/// The body `status_code`s a notification can carry.
const STATUS_CODES: [&str; 8] = ["200", "201", "202", "204", "407", "410", "412", "500"];

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
    if crate::json::first_byte(bytes) != Some(b'{') {
        return Err("not a state document: expected a JSON object".into());
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
    if version == VERSION {
        // Straight into the document: a tree of values first took tens of times the document's
        // size (a 50 MB document peaked at 1.9 GB), even for one refused at its first field.
        return serde_json::from_slice(bytes).map_err(|e| format!("invalid state document: {e}"));
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
    let transactions = prepare_transactions(app, doc.transactions.items, &accounts)?;
    let last_refund_id = check_counter(
        "transactions.last_refund_id",
        doc.transactions.last_refund_id,
    )?;
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
    let last_notification_id = check_counter("notifications.last_id", doc.notifications.last_id)?;
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

/// A counter that goes on counting from the document's value.
fn check_counter(what: &str, n: u64) -> Result<u64, String> {
    if n > limits::COUNTER_IMPORT_MAX {
        return Err(format!(
            "{what} must be at most {}",
            limits::COUNTER_IMPORT_MAX
        ));
    }
    Ok(n)
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
        let country_code = crate::fixtures::check_country_code(&a.country_code).map_err(at)?;
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
                    // Checked above, with the payment options.
                    value: Amount::parse(&o.balance).unwrap_or_default(),
                    currency: shared(o.currency),
                },
                token,
            });
        }
        out.push(Account {
            id: a.account_id,
            owner: a.server_key.map(SharedText::from),
            status: a.account_status,
            phone_number: a.phone_number.into(),
            country_code,
            redirect_url: a.redirect_url.map(SharedText::from),
            web_link_used: a.web_link_used,
            seq: 0,
            created_at_ms: a.created_at_ms,
            updated_at_ms: a.updated_at_ms,
            expires_at_ms: a.expires_at_ms.into(),
            payment_options: options.into(),
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
    accounts: &[Account],
) -> Result<Vec<Transaction>, String> {
    let accounts: std::collections::HashMap<&uuid::Uuid, &Account> =
        accounts.iter().map(|a| (&a.id, a)).collect();
    let max = app.transactions.with(|book| book.limit());
    if saved.len() > max {
        return Err(format!(
            "transactions: {} transactions, more than --max-transactions ({max})",
            saved.len()
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(saved.len());
    // Whether each (server key, order id) is still taken by the latest transaction read with it:
    // a charge may reuse an order id only once the transaction before has freed it.
    let mut taken: std::collections::HashMap<(String, String), bool> =
        std::collections::HashMap::new();
    let mut out = Vec::with_capacity(saved.len());
    for t in saved {
        let at = |e: String| format!("transaction {}: {e}", t.transaction_id);
        if !seen.insert(t.transaction_id) {
            return Err(at("the transaction_id appears twice".into()));
        }
        crate::charges::check_order_id(&t.order_id).map_err(at)?;
        limits::check_server_key("server_key", &t.server_key).map_err(at)?;
        if t.payment_option.is_empty() {
            return Err(at("payment_option must not be empty".into()));
        }
        check_text("payment_option", &t.payment_option, 64).map_err(at)?;
        // A charge is made on a linked account of its own key, with one of its options; money
        // moved later (a settle, a refund) goes to that option.
        let account = accounts
            .get(&t.account_id)
            .ok_or_else(|| at(format!("account {} is not in the document", t.account_id)))?;
        if account.owner.as_deref().is_some_and(|o| o != t.server_key) {
            return Err(at(format!(
                "account {} belongs to another server_key",
                t.account_id
            )));
        }
        if !account
            .payment_options
            .iter()
            .any(|o| *o.name == *t.payment_option)
        {
            return Err(at(format!(
                "account {} has no payment option '{}'",
                t.account_id,
                t.payment_option.escape_debug()
            )));
        }
        let gross_amount = amount("gross_amount", &t.gross_amount).map_err(at)?;
        if let Some(url) = &t.callback_url {
            check_text("callback_url", url, limits::URL_MAX_LEN).map_err(at)?;
        }
        if let Some(m) = &t.metadata {
            crate::charges::check_metadata(m.get()).map_err(at)?;
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
        if !t.refunds.is_empty() && t.settled_at_ms.is_none() {
            return Err(at("refunds of a transaction that was never settled".into()));
        }
        for r in t.refunds {
            crate::charges::check_refund_key(&r.refund_key)
                .map_err(|e| at(format!("refund_key '{}': {e}", r.refund_key.escape_debug())))?;
            if let Some(reason) = &r.reason
                && reason.chars().count() > crate::charges::REASON_MAX_CHARS
            {
                return Err(at(format!(
                    "a refund's reason must be at most {} characters",
                    crate::charges::REASON_MAX_CHARS
                )));
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
        let refunded = refunds.iter().fold(Amount::ZERO, |sum, r: &Refund| {
            sum.saturating_add(r.refund_amount)
        });
        if refunded > gross_amount {
            return Err(at("its refunds add up to more than its gross_amount".into()));
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
        let holds = !t.transaction_status.frees_order_id(t.cancelled_while);
        let order = (t.server_key.clone(), t.order_id.clone());
        if taken.insert(order, holds) == Some(true) {
            return Err(at(format!(
                "order_id '{}' is still taken by an earlier transaction of its server key (only \
                 one that expired, was denied or was cancelled while pending frees it)",
                t.order_id.escape_debug()
            )));
        }
        out.push(Transaction {
            id: t.transaction_id,
            order_id: t.order_id.as_str().into(),
            owner: SharedText::from(t.server_key.as_str()),
            account_id: t.account_id,
            payment_option: Arc::from(t.payment_option.as_str()),
            gross_amount,
            status: t.transaction_status,
            cancelled_while: t.cancelled_while,
            pre_auth: t.pre_auth,
            recurring: t.recurring,
            extras: Extras {
                callback_url: t.callback_url.map(String::into_boxed_str),
                metadata: t.metadata,
                notify_to: t.notify_to.unwrap_or_default(),
            }
            .boxed(),
            deny_reason,
            created_at_ms: t.created_at_ms,
            updated_at_ms: t.updated_at_ms,
            settled_at_ms: t.settled_at_ms,
            expires_at_ms: t.expires_at_ms,
            links_expire_at_ms: t.links_expire_at_ms,
            web_link_used: t.web_link_used,
            refunds,
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
        // Read as the control API's lists read it again: numbers that fit a double, nesting
        // serde_json reads.
        if n.payload.len() > limits::NOTIFICATION_PAYLOAD_MAX_BYTES
            || crate::json::depth(&n.payload) > limits::NOTIFICATION_PAYLOAD_MAX_DEPTH
            || !crate::json::numbers_fit(&n.payload)
        {
            return Err(at(format!(
                "payload must be JSON text of at most {} bytes, nesting at most {} levels, its numbers within a double's range",
                limits::NOTIFICATION_PAYLOAD_MAX_BYTES,
                limits::NOTIFICATION_PAYLOAD_MAX_DEPTH
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
                check_text("an attempt's error", e, limits::ATTEMPT_ERROR_MAX_BYTES).map_err(at)?;
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
            server_key: SharedText::from(n.server_key.as_str()),
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
            weight: 0,
        });
    }
    Ok(out)
}

/// Replaces the whole state of `app` with `prepared`: attempts under way are cancelled, and the
/// journal and fault rules stay as they are.
pub fn import(app: &AppState, prepared: Prepared) {
    let _replacing = app.replacing();
    // The old log goes first, then the attempts under way, as a reset does: no attempt of the old
    // state is taken while the new one is built (the log is emptied again with the swap, of what
    // the old state recorded meanwhile).
    app.notifications.clear(None);
    app.deliveries.cancel_all();
    // Both built before either goes in: the swap holds the book's lock, which charges wait for.
    let accounts = Filling::of(prepared.accounts);
    let limit = app.transactions.with(|book| book.limit());
    // The count was checked against the limit, and the ids for repeats: this cannot fail.
    let book = Book::restored(limit, prepared.transactions, prepared.last_refund_id).ok();
    // The rest under the same hold of the book's lock: a change made meanwhile on an account of
    // the document, and its notification, come after the whole document, never between.
    app.replace_accounts_and_transactions(accounts, book, || {
        let _ = app.scenarios.restore(prepared.scenarios);
        *app.settings.write() = prepared.settings;
        let _ = app.clock.set_offset(prepared.offset);
        if let Some(position) = prepared.position {
            app.ids.seek(position);
        }
        app.notifications
            .restore(prepared.last_notification_id, prepared.notifications);
    });
    app.changed();
}
