//! Where an account changes: the one path by which the Midtrans unbind, the control API, the
//! activation pages and the dashboard move an account through its state machine
//! ([`crate::accounts::Transition`]), and record the notification the change sends, signed with the
//! right key.
//!
//! The store applies the change atomically; the notification is recorded right after, before the
//! caller answers, so a change never happens without its notification. Both happen under the
//! transaction book's lock, which a reset of a merchant's key holds while it takes out the key's
//! accounts (then it clears their notifications): a change either comes before the reset, and its
//! notification goes with the account, or finds no account. Delivery is the scheduler's job
//! (`scheduler.rs`); nothing here waits for it.

use uuid::Uuid;

use crate::accounts::{Account, Transition, TransitionError};
use crate::app::AppState;
use crate::notifications::{Event, Recorded, Target, payload};
use crate::shared_text::SharedText;

/// Signs notifications about shared fixture accounts changed from the control API or the activation
/// pages when no `--server-key` is configured.
pub const SHARED_ACCOUNT_KEY: &str = "SB-Mid-server-pay-account-mock";

/// Applies a transition and records the notification it sends, if any. `acting_key` is the server
/// key of the Midtrans request that asked for it: it scopes the lookup (another merchant's account is
/// not found); `None` (control API, pages) reaches every account.
///
/// # Errors
/// The account is not found (or not visible to `acting_key`), or the transition is not allowed from
/// its status; nothing changed.
pub fn apply(
    app: &AppState,
    id: &Uuid,
    acting_key: Option<&str>,
    transition: Transition,
) -> Result<(Account, Option<u64>), TransitionError> {
    app.transactions.with(|_| {
        let account =
            app.store
                .transition(id, acting_key, transition, app.clock.now_ms(), |a| {
                    app.default_payment_options(a)
                })?;
        let silent = transition == Transition::Unbind && !app.settings.read().unbind_notification;
        let notification = match Event::for_transition(transition) {
            Some(event) if !silent => notify(app, &account, event, acting_key),
            _ => None,
        };
        Ok((account, notification))
    })
}

/// Records again the notification of the account's current status (the control API's `notify`).
///
/// # Errors
/// The account is not found, or its status sends no notification.
pub fn notify_again(app: &AppState, id: &Uuid) -> Result<(Account, Option<u64>), TransitionError> {
    app.transactions.with(|_| {
        let account = app
            .store
            .get(id, None, app.clock.now_ms())
            .ok_or(TransitionError::NotFound)?;
        let event = Event::for_status(account.status).ok_or(TransitionError::Invalid {
            current: account.status,
        })?;
        let notification = notify(app, &account, event, None);
        Ok((account, notification))
    })
}

/// Records a notification of `event` about `account` for its merchant, and queues its delivery.
/// Returns its id; `None` for an event that is not about an account. Called under the book's lock
/// (see the module's note).
fn notify(
    app: &AppState,
    account: &Account,
    event: Event,
    acting_key: Option<&str>,
) -> Option<u64> {
    let key = signing_key(app, account, acting_key);
    let (url, merchant_id) = {
        let settings = app.settings.read();
        (
            settings.url_for(&Target::Linking, &key).map(str::to_string),
            settings.merchant_id.clone(),
        )
    };
    let (payload, status_code) = payload::account(event, &account.id, &merchant_id, &key)?;
    Some(app.notifications.record(
        Recorded {
            event,
            status_code,
            account_id: account.id,
            transaction: None,
            server_key: key,
            payload,
            target: Target::Linking,
            url,
        },
        app.clock.now_ms(),
    ))
}

/// The key that signs a notification about `account`: its owner's; for a shared fixture account,
/// the key that acted on it, else the first `--server-key`, else [`SHARED_ACCOUNT_KEY`].
pub fn signing_key(app: &AppState, account: &Account, acting_key: Option<&str>) -> SharedText {
    if let Some(owner) = &account.owner {
        return owner.clone();
    }
    SharedText::from(
        acting_key
            .or(app.server_keys.first().map(String::as_str))
            .unwrap_or(SHARED_ACCOUNT_KEY),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountStatus, CountryCode, Filling};
    use std::sync::Arc;
    use std::time::Duration;

    /// A change and its notification are one step for a reset of the merchant's key: here the
    /// link is held where it writes its notification (it reads the settings there) while the
    /// reset runs, and the reset still takes that notification with the account.
    #[test]
    fn a_key_reset_never_leaves_a_notification_of_an_account_it_removed() {
        const KEY: &str = "SB-Mid-server-RESETRACE";
        let app = Arc::new(
            AppState::new(
                &crate::Config::default(),
                "http://127.0.0.1:1".into(),
                "127.0.0.1",
            )
            .unwrap(),
        );
        let id = Uuid::new_v4();
        let account = Account::new(
            id,
            AccountStatus::Pending,
            "81234567890",
            CountryCode::INDONESIA,
            None,
            app.clock.now_ms(),
        );
        let mut filling = Filling::of(Vec::new());
        filling.insert(account, Some(KEY));
        drop(app.store.install(filling));

        let settings = app.settings.write();
        let linking = {
            let app = app.clone();
            std::thread::spawn(move || apply(&app, &id, None, Transition::Link).is_ok())
        };
        // The link holds the book while it waits to write its notification.
        crate::payments::tests::wait_until(|| app.transactions.is_locked());
        let resetting = {
            let app = app.clone();
            std::thread::spawn(move || app.reset_key(KEY))
        };
        std::thread::sleep(Duration::from_millis(200));
        drop(settings);
        assert!(linking.join().unwrap(), "the link came first");
        assert_eq!(resetting.join().unwrap(), 1);

        assert!(app.store.get(&id, None, app.clock.now_ms()).is_none());
        assert_eq!(
            app.notifications.len(),
            0,
            "the reset took the link's notification"
        );
    }
}
