//! The state of a running server as a document, read in pieces so that no lock is held for long.

use std::collections::HashSet;
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
        gopay_merchant_id: s.gopay_merchant_id.to_string(),
        pin_threshold: s.pin_threshold.hundredths() / 100,
        verification_link_ttl: text(s.verification_link_ttl),
        transaction_ttl: text(s.transaction_ttl),
        pre_auth_hold: text(s.pre_auth_hold),
    }
}

/// Reads a list in creation order, a page (`read(after)`: items and the next cursor) at a time.
///
/// Each page is read under its own lock, so a reset between two of them starts the creation order
/// again: the cursor must move forward (or the reading stops), and an item already read is not
/// taken twice. The next save, due because of that reset, writes the new state whole.
fn in_pieces<T, K: Eq + std::hash::Hash>(
    mut read: impl FnMut(Option<u64>) -> (Vec<T>, Option<u64>),
    id: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut after = None;
    loop {
        let (items, next) = read(after);
        out.extend(items.into_iter().filter(|t| seen.insert(id(t))));
        super::pace();
        match next {
            Some(next) if after.is_none_or(|a| next > a) => after = Some(next),
            _ => return out,
        }
    }
}

fn export_accounts(app: &AppState) -> Vec<SavedAccount> {
    let accounts = in_pieces(
        |after| {
            let page = app.store.page(
                Owner::Any,
                None,
                after,
                CHUNK,
                Order::OldestFirst,
                app.clock.now_ms(),
            );
            (page.accounts, page.next)
        },
        |a| a.id,
    );
    accounts.iter().map(saved_account).collect()
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
    let mut last_refund_id = 0;
    let transactions = in_pieces(
        |after| {
            app.transactions.with(|book| {
                last_refund_id = last_refund_id.max(book.last_refund_id());
                book.page(after, CHUNK, Order::OldestFirst, |_| true)
            })
        },
        |t| t.id,
    );
    let items: Vec<SavedTransaction> = transactions.iter().map(saved_transaction).collect();
    // Never below a refund that was read, whatever happened between the pieces.
    let highest = items
        .iter()
        .flat_map(|t| &t.refunds)
        .map(|r| r.refund_chargeback_id)
        .max()
        .unwrap_or(0);
    SavedTransactions {
        last_refund_id: last_refund_id.max(highest),
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

fn export_notifications(app: &AppState) -> SavedNotifications {
    let now = app.clock.now_ms();
    // Those recorded up to now; later ones go into the next save. Ids only grow, so each piece
    // starts past the one before, and the reading ends at `end`.
    let end = app.notifications.last_id();
    let mut items = Vec::new();
    let mut after = 0;
    while after < end {
        let chunk = app.notifications.chunk(after, CHUNK);
        let Some(last) = chunk.last() else { break };
        after = last.id;
        items.extend(
            chunk
                .iter()
                .filter(|n| n.id <= end)
                .map(|n| saved_notification(n, now)),
        );
        super::pace();
    }
    // Read again at the end: never below an id that was written.
    let last_id = app.notifications.last_id().max(end);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_between_two_pieces_repeats_nothing_and_ends() {
        // Pieces of two: (id, cursor). After the first piece the list starts over: a reset with a
        // seed makes the same ids again, here behind one made first, so they move along by one.
        let before = [(10, 1), (11, 2), (12, 3)];
        let after_reset = [(20, 1), (10, 2), (11, 3), (12, 4)];
        let mut calls = 0;
        let read = |after: Option<u64>| {
            calls += 1;
            let list: &[(u32, u64)] = if calls == 1 { &before } else { &after_reset };
            let rest: Vec<(u32, u64)> = list
                .iter()
                .copied()
                .filter(|(_, seq)| after.is_none_or(|a| *seq > a))
                .collect();
            let piece: Vec<(u32, u64)> = rest.iter().copied().take(2).collect();
            let next = (rest.len() > 2).then(|| piece[1].1);
            (piece, next)
        };
        let ids: Vec<u32> = in_pieces(read, |t| t.0).iter().map(|t| t.0).collect();
        assert_eq!(
            ids,
            [10, 11, 12],
            "11 comes again after the reset, and is taken once"
        );

        // A cursor that does not move forward ends the reading.
        let stuck = |_| (vec![(1u32, 1u64)], Some(1));
        assert_eq!(in_pieces(stuck, |t| t.0).len(), 1);
    }
}
