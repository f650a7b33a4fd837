//! The state of a running server as a document, read in pieces so that no lock is held for long.

use std::time::Duration;

use super::document::*;
use super::{CHUNK, FORMAT, VERSION};
use crate::accounts::{Account, Owner, Token};
use crate::app::AppState;
use crate::charges::Transaction;
use crate::clock;
use crate::notifications::{DeliveryState, Notification};
use crate::paging::Order;
use crate::settings::Settings;

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
