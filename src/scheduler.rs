//! Work that falls due on the mock clock: activation links expiring, pending transactions expiring
//! (and pre-auth holds lapsing), and notification attempts.
//!
//! One task sleeps until the earliest due time and is woken early when an attempt is queued or ends,
//! or the clock is advanced. It performs each due attempt as a task of its own, at most
//! `--max-deliveries` at once: an attempt takes a slot before it leaves the queue, so the rest wait
//! their turn on the clock and a dead receiver can hold only that many sockets. Each attempt goes to
//! the merchant's notification URL of the moment.
//!
//! The state file's saver ([`crate::state_file::keep_saved`]) runs beside it, and stops with it.

use std::time::Duration;

use actix_web::web;

use crate::app::AppState;
use crate::notifications::log::{Due, Outcome};

/// Longest nap between checks; real time can only make things due earlier than planned if the clock
/// was advanced, and that wakes the task anyway.
const MAX_NAP: Duration = Duration::from_secs(60);

/// Runs until dropped with the server. The attempts in flight belong to it: dropping it (a server
/// that stops, or a pooled server being reset) cancels them, so a stopped server sends nothing more.
pub async fn run(app: web::Data<AppState>) {
    // The state file's saver lives and dies with the scheduler.
    tokio::join!(due_work(app.clone()), crate::state_file::keep_saved(app));
}

async fn due_work(app: web::Data<AppState>) {
    let mut attempts = tokio::task::JoinSet::new();
    loop {
        while attempts.try_join_next().is_some() {}
        let woken = app.notifications.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = app.clock.now_ms();
        let expired = app.store.expire_due(now, 0).count + crate::payments::expire_due(&app, now);
        if expired > 0 {
            app.changed();
        }
        let mut slots_full = false;
        loop {
            let Some(permit) = app.deliveries.permit() else {
                // Every slot is taken: an attempt that ends wakes this task.
                slots_full = true;
                break;
            };
            let Some(due) = app.notifications.take_due(now) else {
                break;
            };
            let app = app.clone();
            let tracked = app.clone();
            let handle = attempts.spawn_local(async move {
                // Forgotten however the task ends: done, cancelled or dropped with the server.
                let _tracked = Tracked(app.clone(), tokio::task::id());
                attempt(&app, due).await;
                app.changed();
                drop(permit);
                app.notifications.wake.notify_one();
            });
            tracked.deliveries.track(handle);
        }
        let next_attempt = if slots_full {
            None
        } else {
            app.notifications.next_due()
        };
        let nap = [
            next_attempt,
            app.store.next_expiry(),
            app.transactions.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| Duration::from_millis(at.saturating_sub(now)))
        .unwrap_or(MAX_NAP)
        .min(MAX_NAP);
        tokio::select! {
            () = tokio::time::sleep(nap) => {}
            () = &mut woken => {}
        }
    }
}

/// An attempt task's entry in [`crate::notifications::delivery::Deliveries`], removed when the task
/// ends in any way.
struct Tracked(web::Data<AppState>, tokio::task::Id);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.deliveries.untrack(self.1);
    }
}

/// One attempt: to the merchant's URL now, with the retry schedule now.
async fn attempt(app: &AppState, due: Due) {
    if !app.notifications.is_in_flight(&due) {
        return; // reset, or dropped from the log, since it fell due
    }
    let url = app
        .settings
        .read()
        .url_for(&due.target, &due.server_key)
        .map(str::to_string);
    let outcome = match url {
        Some(url) => {
            let at_ms = app.clock.now_ms();
            let result = app.deliveries.post(&url, &due.payload.get()).await;
            if let Some(error) = &result.error {
                tracing::debug!(notification = due.id, %url, %error, "notification attempt failed");
            }
            Outcome::Sent { at_ms, result }
        }
        None => Outcome::NoUrl,
    };
    let schedule = app.settings.read().retry_schedule.clone();
    app.notifications
        .finish(&due, outcome, &schedule, app.clock.now_ms());
}

/// Moves the clock forward `by`, and what that sets off at once: due expiries of accounts and
/// transactions, and a wake-up for the retries that fell due. Returns the accounts that expired,
/// with the ids of the first `keep_ids`. Callers run it whole on the blocking pool: a pool that
/// cannot take it leaves the clock where it was, never moved without its expiries.
///
/// # Errors
/// [`TooFar`](crate::clock::TooFar): past [`MAX_OFFSET`](crate::clock::MAX_OFFSET); nothing moved.
pub fn advance_clock(
    state: &AppState,
    by: std::time::Duration,
    keep_ids: usize,
) -> Result<crate::accounts::Expired, crate::clock::TooFar> {
    state.clock.advance(by)?;
    let now = state.clock.now_ms();
    let expired = state.store.expire_due(now, keep_ids);
    crate::payments::expire_due(state, now);
    state.notifications.wake.notify_one();
    Ok(expired)
}
