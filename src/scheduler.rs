//! Work that falls due on the mock clock: activation links expiring and notification attempts.
//!
//! One task sleeps until the earliest due time and is woken early when an attempt is queued or the
//! clock is advanced. Attempts run as their own tasks, so a slow receiver delays nothing else.

use std::time::Duration;

use actix_web::web;

use crate::app::AppState;

/// Longest nap between checks; real time can only make things due earlier than planned if the clock
/// was advanced, and that wakes the task anyway.
const MAX_NAP: Duration = Duration::from_secs(60);

/// Runs until the task is dropped with the server.
pub async fn run(app: web::Data<AppState>) {
    loop {
        let woken = app.notifications.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = app.clock.now_ms();
        app.store.expire_due(now);
        let (due, next_attempt) = app.notifications.take_due(now);
        for id in due {
            let app = app.clone();
            actix_web::rt::spawn(async move { app.notifications.attempt(&app, id).await });
        }
        let next = [next_attempt, app.store.next_expiry()]
            .into_iter()
            .flatten()
            .min();
        let nap = next
            .map(|at| Duration::from_millis(at.saturating_sub(now)))
            .unwrap_or(MAX_NAP)
            .min(MAX_NAP);
        tokio::select! {
            () = tokio::time::sleep(nap) => {}
            () = &mut woken => {}
        }
    }
}
