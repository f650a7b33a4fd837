//! Integration tests: each starts the real server on port 0 and talks HTTP to it.

mod helpers;
mod pages;

mod activation;
mod charge;
mod cli;
mod concurrency;
mod control;
mod create;
mod dashboard;
mod errors;
mod faults;
mod get;
mod hardening;
mod journal;
mod model;
mod notifications;
mod scenarios;
mod state_file;
mod unbind;
