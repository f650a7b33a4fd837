//! Idle embedded servers, handed to the next test that asks for the same config.
//!
//! A test suite that wants a server per test gets one from [`pooled`]: an idle server started with
//! an equal config, reset, or a new one. When the test drops it, it is reset at once (its accounts,
//! transactions and notifications freed) and waits here for the next test; past [`MAX_IDLE`] idle
//! servers it stops instead.

use std::io;

use parking_lot::Mutex;

use crate::config::Config;
use crate::startup::{Server, start};

/// Idle servers the pool keeps; a server returned past it stops.
pub const MAX_IDLE: usize = 64;

static IDLE: Mutex<Vec<(Box<Config>, Server)>> = Mutex::new(Vec::new());

/// A server for `config` from the pool: an idle one started with an equal config, as fresh as
/// after `POST /__admin/reset`, or a new one. Pooled servers are always embedded (no threads of
/// their own; `config.workers` is ignored) and listen on a free port (`config.port` is ignored).
/// Dropping the handle (or `stop`) returns the server to the pool.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let mock = pay_account_mock::pooled(pay_account_mock::Config::default())?;
/// let base_url = mock.url();
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`start`]: a value of `config` out of range, or no port could be bound.
pub fn pooled(mut config: Config) -> io::Result<Server> {
    config.port = 0;
    config.workers = None;
    let idle = {
        let mut idle = IDLE.lock();
        idle.iter()
            .rposition(|(c, _)| **c == config)
            .map(|i| idle.swap_remove(i))
    };
    match idle {
        Some((config, server)) => Ok(server.into_pooled(*config)),
        None => {
            let server = start(config.clone())?;
            Ok(server.into_pooled(config))
        }
    }
}

/// Resets `server` (its attempts in flight cancelled first) and keeps it for the next [`pooled`]
/// call with an equal config.
pub(crate) fn give_back(server: Server, config: Box<Config>) {
    if !server.reset_for_reuse() {
        return;
    }
    let mut idle = IDLE.lock();
    if idle.len() < MAX_IDLE {
        idle.push((config, server));
        return;
    }
    drop(idle);
    // The pool is full: `server` drops here, and stops.
    drop(server);
}
