//! pay-account-mock: a local sandbox that answers like the Midtrans Pay Account API (GoPay
//! Tokenization), sends its signed notifications, and lets tests and QA drive accounts by hand.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = pay_account_mock::start(pay_account_mock::Config { port: 0, ..Default::default() })?;
//! // point the Midtrans client's base URL at server.url() ...
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`startup`]: `start(Config)` → a running [`Server`] with its URL; the route table.
//! - [`config`]: [`Config`], the plain settings struct; [`cli`] turns flags into it.
//! - [`api`]: the emulated Midtrans routes: `api::create`, `api::get`, `api::unbind`.
//! - [`activation`]: the `gpar_`/`gpad_` activation pages a customer opens to link an account.
//! - [`dashboard`]: the QA dashboard at `/__admin/`: accounts, their transitions, the notification log.
//! - [`control`]: the mock-only control API under `/__admin` (transitions, notification log, clock).
//! - [`accounts`]: accounts, their state machine, and the in-memory [`accounts::Store`].
//! - [`notifications`]: notification payloads, signatures, delivery with retries, and the log.
//! - [`scheduler`]: what falls due on the mock [`clock`]: expiries and retries.
//! - [`error`]: the Midtrans error envelope; [`auth`]: server keys.
//! - [`fixtures`]: phone number scenarios, preloaded accounts, default balances.
//! - [`app`]: the state the routes share; [`ids`]: seedable ids and tokens.

pub mod accounts;
pub mod activation;
pub mod api;
pub mod app;
pub mod auth;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod dashboard;
pub mod error;
pub mod fixtures;
pub mod guard;
pub mod ids;
pub mod notifications;
pub mod pages;
pub mod paging;
pub mod scheduler;
pub mod startup;
pub mod transitions;

pub use config::Config;
pub use startup::{Server, start};
