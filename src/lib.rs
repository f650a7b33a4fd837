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
//!   [`embedded`]: serving without threads of its own, on threads the process's servers share;
//!   [`pool`]: `pooled(Config)`, idle servers reset and handed to the next test.
//! - [`config`]: [`Config`], the plain settings struct; [`limits`]: the ranges every outside value
//!   must fall in; [`cli`] turns flags (and their variables) into a config.
//! - [`guard`]: what every request passes first: `Host` names ([`hosts`]), cross-site requests,
//!   notification loops, request logging. [`body`]: reading a body within its size and time
//!   limits. [`routing`]: GET routes that answer HEAD.
//! - [`api`]: the emulated Midtrans routes: `api::create`, `api::get`, `api::unbind`; [`error`]: their
//!   envelope; [`auth`]: the server key extractor.
//! - [`transitions`]: the one place an account changes state and its notification is recorded.
//! - [`accounts`]: accounts, their state machine, and the in-memory [`accounts::Store`].
//! - [`notifications`]: payloads, signatures, the bounded log and queue, one delivery attempt.
//! - [`scheduler`]: what falls due on the mock [`clock`]: expiries and delivery attempts.
//! - [`pages`]: the HTML dialect (layout, looks, [`pages::PageError`]); [`activation`]: the
//!   `gpar_`/`gpad_` pages a customer opens; [`dashboard`]: the QA dashboard at `/__admin/`.
//! - [`journal`]: the Midtrans requests received; [`faults`]: rules that make them fail or slow
//!   down; [`intercept`]: both around each Midtrans call.
//! - [`control`]: the mock-only JSON control API under `/__admin`; [`paging`]: pages of long lists;
//!   [`table`]: a hash table that grows a few entries per insert; [`by_id`]: records by id in one
//!   (accounts, transactions); [`chunked`]: lists that grow without copying (creation order,
//!   expiries, the notification log); [`shared_text`]: one allocation for a text requests repeat;
//!   [`prefetch`]: fetching memory ahead of a request that would wait for it.
//! - [`fixtures`]: phone number scenarios, preloaded accounts, default balances; [`scenarios`]: the
//!   phone scenarios in effect, the fixtures' and those added at run time.
//! - [`app`]: the state the routes share, and reset; [`ids`]: seedable ids and tokens;
//!   [`settings`]: the runtime config and the checks on a change to it.
//! - [`state_file`]: the whole state as one document, saved while the server runs and loaded at
//!   start (`--state-file`), exported and imported by `/__admin/state`.

pub mod accounts;
pub mod activation;
pub mod api;
pub mod app;
pub mod auth;
pub mod body;
pub mod by_id;
pub mod charges;
pub mod chunked;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod dashboard;
pub mod embedded;
pub mod error;
pub mod faults;
pub mod fixtures;
pub mod guard;
pub mod hosts;
pub mod ids;
pub mod intercept;
pub mod journal;
pub mod json;
pub mod limits;
pub mod money;
pub mod notifications;
pub mod pages;
pub mod paging;
pub mod payments;
pub mod pool;
pub mod prefetch;
pub mod routing;
pub mod scenarios;
pub mod scheduler;
pub mod settings;
pub mod shared_text;
pub mod startup;
pub mod state_file;
pub mod table;
pub mod transitions;
pub mod verification;

pub use config::Config;
pub use pool::pooled;
pub use startup::{Server, start};
