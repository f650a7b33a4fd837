//! Command-line flags, each with a `PAY_ACCOUNT_MOCK_<FLAG>` environment variable, and their
//! translation into a [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::{self, Config, HttpStatusMode};
use crate::fixtures::Fixtures;

/// A local sandbox for the Midtrans Pay Account API (GoPay Tokenization).
#[derive(Debug, Parser)]
#[command(name = "pay-account-mock", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 picks a free port (the start-up line tells which).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_PORT", default_value_t = config::DEFAULT_PORT)]
    pub port: u16,

    /// Base URL put into activation links [default: the listening address].
    #[arg(long, env = "PAY_ACCOUNT_MOCK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Accept only this server key (repeatable; the variable takes a comma-separated list)
    /// [default: any non-empty key].
    #[arg(
        long = "server-key",
        env = "PAY_ACCOUNT_MOCK_SERVER_KEY",
        value_delimiter = ','
    )]
    pub server_keys: Vec<String>,

    /// Answer the blocked number like the 2021 sandbox ("202", "Wallet is Blocked") instead of "410".
    #[arg(long, env = "PAY_ACCOUNT_MOCK_LEGACY_SANDBOX")]
    pub legacy_sandbox: bool,

    /// HTTP status line of 4xx bodies: "midtrans" (HTTP 200 except 400 and 401) or "mirror" (the
    /// body's code).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_HTTP_STATUS", default_value = "midtrans")]
    pub http_status: HttpStatusMode,

    /// Folder with phone_numbers.json, accounts.json and/or payment_options.json replacing the
    /// built-in fixtures.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_FIXTURES")]
    pub fixtures: Option<PathBuf>,

    /// Seed for generated ids and tokens, for reproducible runs.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_SEED")]
    pub seed: Option<u64>,

    /// Account linking notification URL: where signed notifications are POSTed.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_NOTIFICATION_URL")]
    pub notification_url: Option<String>,

    /// merchant_id in notifications.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_MERCHANT_ID", default_value = config::DEFAULT_MERCHANT_ID)]
    pub merchant_id: String,

    /// How long a PENDING account waits for activation before it expires ("15m", "90s"; 0 = never).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_ACTIVATION_TTL", default_value = "15m", value_parser = config::parse_duration)]
    pub activation_ttl: Duration,

    /// Notification retry intervals, comma-separated ("100ms,200ms" for CI)
    /// [default: Midtrans' 2m,10m,30m,1h30m,3h30m].
    #[arg(long, env = "PAY_ACCOUNT_MOCK_RETRY_SCHEDULE")]
    pub retry_schedule: Option<String>,

    /// Do not send account_unlinked after a merchant unbind (only after an unlink in the app).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_NO_UNBIND_NOTIFICATION")]
    pub no_unbind_notification: bool,

    /// How long a notification attempt waits for the receiver.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_NOTIFICATION_TIMEOUT", default_value = "15s", value_parser = config::parse_duration)]
    pub notification_timeout: Duration,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_MAX_BODY_BYTES", default_value_t = config::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// HTTP worker threads [default: one per available core].
    #[arg(long, env = "PAY_ACCOUNT_MOCK_WORKERS")]
    pub workers: Option<usize>,

    /// Preload N generated ENABLED accounts (for benchmarks).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_GENERATE_ACCOUNTS", default_value_t = 0)]
    pub generate_accounts: usize,

    /// Log filter (tracing's env-filter syntax), e.g. "info" or "pay_account_mock=debug".
    #[arg(
        long,
        env = "PAY_ACCOUNT_MOCK_LOG",
        default_value = "info,actix_server=warn"
    )]
    pub log: String,
}

impl Cli {
    /// Checks the flags and loads the fixtures.
    ///
    /// # Errors
    /// A fixtures folder that cannot be loaded, or a value out of range, with a message for the user.
    pub fn into_config(self) -> Result<Config, String> {
        let fixtures = match &self.fixtures {
            Some(dir) => Fixtures::load_dir(dir)?,
            None => Fixtures::default(),
        };
        if self.server_keys.iter().any(|k| k.trim().is_empty()) {
            return Err("--server-key must not be empty".into());
        }
        if let Some(url) = &self.public_url {
            check_url("--public-url", url)?;
        }
        if let Some(url) = &self.notification_url {
            check_url("--notification-url", url)?;
        }
        if self.max_body_bytes == 0 {
            return Err("--max-body-bytes must be at least 1".into());
        }
        let retry_schedule = match &self.retry_schedule {
            Some(s) => {
                config::parse_retry_schedule(s).map_err(|e| format!("--retry-schedule: {e}"))?
            }
            None => config::midtrans_retry_schedule(),
        };
        Ok(Config {
            host: self.host,
            port: self.port,
            public_url: self.public_url.map(|u| u.trim_end_matches('/').to_string()),
            server_keys: self.server_keys,
            legacy_sandbox: self.legacy_sandbox,
            http_status: self.http_status,
            fixtures,
            seed: self.seed,
            notification_url: self.notification_url,
            merchant_id: self.merchant_id,
            activation_ttl: self.activation_ttl,
            retry_schedule,
            unbind_notification: !self.no_unbind_notification,
            max_body_bytes: self.max_body_bytes,
            workers: self.workers,
            notification_timeout: self.notification_timeout,
            generate_accounts: self.generate_accounts,
        })
    }
}

/// An absolute http(s) URL.
pub fn check_url(flag: &str, url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(format!(
            "{flag} must be an absolute http(s) URL, got '{url}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["pay-account-mock"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .into_config()
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = parse(&[]).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8080));
        assert_eq!(c.activation_ttl, Duration::from_secs(900));
        assert_eq!(c.retry_schedule, config::midtrans_retry_schedule());
        assert_eq!(c.merchant_id, "M099098");
        assert!(c.unbind_notification && !c.legacy_sandbox);
        assert_eq!(c.http_status, HttpStatusMode::Midtrans);
    }

    #[test]
    fn flags_reach_the_config() {
        let c = parse(&[
            "--port",
            "0",
            "--server-key",
            "a",
            "--server-key",
            "b",
            "--http-status",
            "mirror",
            "--retry-schedule",
            "100ms,200ms",
            "--activation-ttl",
            "0",
            "--no-unbind-notification",
            "--notification-url",
            "http://127.0.0.1:9/hook",
            "--public-url",
            "http://mock.test/",
        ])
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.server_keys, ["a", "b"]);
        assert_eq!(c.http_status, HttpStatusMode::Mirror);
        assert_eq!(
            c.retry_schedule,
            [Duration::from_millis(100), Duration::from_millis(200)]
        );
        assert!(c.activation_ttl.is_zero());
        assert!(!c.unbind_notification);
        assert_eq!(c.public_url.as_deref(), Some("http://mock.test"));
    }

    #[test]
    fn bad_values_are_refused_with_a_message() {
        assert!(parse(&["--http-status", "loud"]).is_err());
        assert!(
            parse(&["--notification-url", "not a url"])
                .unwrap_err()
                .contains("--notification-url")
        );
        assert!(
            parse(&["--fixtures", "/nonexistent/fixtures"])
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(parse(&["--retry-schedule", "soon"]).is_err());
    }
}
