//! Command-line flags, each with a `PAY_ACCOUNT_MOCK_<FLAG>` environment variable, and their
//! translation into a [`Config`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

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
    #[arg(long, env = "PAY_ACCOUNT_MOCK_LEGACY_SANDBOX", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
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

    /// How long a PENDING account waits for activation before it expires ("15m", "90s"; 0 = never;
    /// at most a year).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_ACTIVATION_TTL", default_value = "15m", value_parser = config::parse_duration)]
    pub activation_ttl: Duration,

    /// Notification retry intervals, comma-separated ("100ms,200ms" for CI; 1 to 20 of at most 7
    /// days each) [default: Midtrans' 2m,10m,30m,1h30m,3h30m].
    #[arg(long, env = "PAY_ACCOUNT_MOCK_RETRY_SCHEDULE")]
    pub retry_schedule: Option<String>,

    /// Do not send account_unlinked after a merchant unbind (only after an unlink in the app).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_NO_UNBIND_NOTIFICATION", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub no_unbind_notification: bool,

    /// How long a notification attempt waits for the receiver (1ms to 10m).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_NOTIFICATION_TIMEOUT", default_value = "15s", value_parser = config::parse_duration)]
    pub notification_timeout: Duration,

    /// Notification attempts in flight at once (1 to 1024); the rest wait their turn.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_MAX_DELIVERIES", default_value_t = config::DEFAULT_MAX_DELIVERIES)]
    pub max_deliveries: usize,

    /// Notifications the log keeps (1 to 1,000,000); past it the oldest goes, pending or not.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_NOTIFICATION_LOG_SIZE", default_value_t = config::DEFAULT_NOTIFICATION_LOG_SIZE)]
    pub notification_log_size: usize,

    /// Midtrans requests the journal keeps (0 to 1,000,000; 0 turns it off).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_JOURNAL_SIZE", default_value_t = config::DEFAULT_JOURNAL_SIZE)]
    pub journal_size: usize,

    /// JSON file of fault rules in effect from the start (the body of POST /__admin/faults, as a
    /// list).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_FAULTS")]
    pub faults: Option<PathBuf>,

    /// Keep the state in this JSON file across restarts: loaded at start when it exists, saved
    /// while the server runs and when it stops.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// How often the state file is saved at most, when something changed (100ms to 1h).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_STATE_SAVE_INTERVAL", default_value = "2s", value_parser = config::parse_duration)]
    pub state_save_interval: Duration,

    /// Largest accepted request body, in bytes (1 to 16 MiB).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_MAX_BODY_BYTES", default_value_t = config::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// How long a request body may take to arrive in full (100ms to 1h); slower ones get 408. Also
    /// how long an export's client may take nothing of it before its connection is cut.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_BODY_TIMEOUT", default_value = "30s", value_parser = config::parse_duration)]
    pub body_timeout: Duration,

    /// Also answer to this host name in the Host header (repeatable; the variable takes a
    /// comma-separated list; "*" turns the check off) [default: localhost, loopback, the listening
    /// address and the --public-url host].
    #[arg(
        long = "allowed-host",
        env = "PAY_ACCOUNT_MOCK_ALLOWED_HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,

    /// HTTP worker threads (1 to 128) [default: one per available core].
    #[arg(long, env = "PAY_ACCOUNT_MOCK_WORKERS")]
    pub workers: Option<usize>,

    /// Accounts the server holds at most (1 to 50,000,000); a create past it answers "500" until a
    /// reset.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_MAX_ACCOUNTS", default_value_t = config::DEFAULT_MAX_ACCOUNTS)]
    pub max_accounts: usize,

    /// Preload N generated ENABLED accounts (for benchmarks; at most 5,000,000).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_GENERATE_ACCOUNTS", default_value_t = 0)]
    pub generate_accounts: usize,

    /// Payment Notification URL: where signed transaction notifications are POSTed.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_PAYMENT_NOTIFICATION_URL")]
    pub payment_notification_url: Option<String>,

    /// merchant_id of GoPay transactions.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_GOPAY_MERCHANT_ID", default_value = config::DEFAULT_GOPAY_MERCHANT_ID)]
    pub gopay_merchant_id: String,

    /// Charges from this many IDR up ask for the PIN (0 to 999,999,999,999,999).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_PIN_THRESHOLD", default_value_t = config::DEFAULT_PIN_THRESHOLD)]
    pub pin_threshold: u64,

    /// How long a charge's verification (PIN) links work (1s to 1 day).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_VERIFICATION_LINK_TTL", default_value = "5m", value_parser = config::parse_duration)]
    pub verification_link_ttl: Duration,

    /// How long a pending transaction waits for the PIN before it expires (1s to 7 days).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_TRANSACTION_TTL", default_value = "15m", value_parser = config::parse_duration)]
    pub transaction_ttl: Duration,

    /// How long a pre-auth hold lasts before it lapses (1s to 7 days).
    #[arg(long, env = "PAY_ACCOUNT_MOCK_PRE_AUTH_HOLD", default_value = "15m", value_parser = config::parse_duration)]
    pub pre_auth_hold: Duration,

    /// Transactions the server holds at most (1 to 10,000,000); a charge past it answers "500"
    /// until a reset.
    #[arg(long, env = "PAY_ACCOUNT_MOCK_MAX_TRANSACTIONS", default_value_t = config::DEFAULT_MAX_TRANSACTIONS)]
    pub max_transactions: usize,

    /// Log filter (tracing's env-filter syntax), e.g. "info" or "pay_account_mock=debug".
    #[arg(
        long,
        env = "PAY_ACCOUNT_MOCK_LOG",
        default_value = "info,actix_server=warn"
    )]
    pub log: String,

    /// The flags whose value came from their environment variable (for messages).
    #[arg(skip)]
    from_env: Vec<String>,
}

impl Cli {
    /// Parses a command line (and the environment).
    ///
    /// # Errors
    /// `Ok(Err(message))` for a value that cannot be parsed, naming the flag, or the environment
    /// variable it came from; `Err` for what clap answers itself (`--help`, `--version`, an unknown
    /// flag).
    pub fn parse_args<I, T>(args: I) -> Result<Result<Self, String>, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = match Self::command().try_get_matches_from(&args) {
            Ok(m) => m,
            Err(e) => return explain(e, &args).map(Err),
        };
        let mut cli = Self::from_arg_matches(&matches).map_err(|e| e.with_cmd(&Self::command()))?;
        cli.from_env = Self::command()
            .get_arguments()
            .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::EnvVariable))
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        Ok(Ok(cli))
    }

    /// How to name a flag in a message: `--flag`, or its variable when the value came from there.
    pub fn source(&self, flag: &str) -> String {
        if self.from_env.iter().any(|f| f == flag) {
            env_name(flag)
        } else {
            flag.to_string()
        }
    }

    /// A message about a flag, renamed after its variable when the value came from there.
    fn rename(&self, message: String) -> String {
        for flag in &self.from_env {
            if let Some(rest) = message.strip_prefix(flag.as_str())
                && rest.starts_with([' ', ':'])
            {
                return format!("{}{rest}", env_name(flag));
            }
        }
        message
    }

    /// Checks the flags and loads the fixtures.
    ///
    /// # Errors
    /// A fixtures folder that cannot be loaded, or a value out of range, with a message for the user
    /// that names the flag (or its variable) or the file.
    pub fn into_config(self) -> Result<Config, String> {
        let fixtures = match &self.fixtures {
            Some(dir) => Fixtures::load_dir(dir)
                .map_err(|e| format!("{}: {e}", self.source("--fixtures")))?,
            None => Fixtures::default(),
        };
        let faults = match &self.faults {
            Some(path) => crate::limits::read_at_most(path, crate::faults::MAX_FILE_BYTES)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".into())
                })
                .and_then(|text| crate::faults::parse_file(&text))
                .map_err(|e| format!("{} ({}): {e}", self.source("--faults"), path.display()))?,
            None => Vec::new(),
        };
        let retry_schedule = match &self.retry_schedule {
            Some(s) => config::parse_retry_schedule(s)
                .map_err(|e| format!("{}: {e}", self.source("--retry-schedule")))?,
            None => config::midtrans_retry_schedule(),
        };
        let config = Config {
            host: self.host.clone(),
            port: self.port,
            public_url: self
                .public_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            server_keys: self.server_keys.clone(),
            legacy_sandbox: self.legacy_sandbox,
            http_status: self.http_status,
            fixtures,
            seed: self.seed,
            notification_url: self.notification_url.clone(),
            merchant_id: self.merchant_id.clone(),
            activation_ttl: self.activation_ttl,
            retry_schedule,
            unbind_notification: !self.no_unbind_notification,
            max_body_bytes: self.max_body_bytes,
            workers: Some(self.workers.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .clamp(crate::limits::WORKERS.0, crate::limits::WORKERS.1)
            })),
            notification_timeout: self.notification_timeout,
            generate_accounts: self.generate_accounts,
            max_deliveries: self.max_deliveries,
            body_timeout: self.body_timeout,
            notification_log_size: self.notification_log_size,
            max_accounts: self.max_accounts,
            allowed_hosts: self.allowed_hosts.clone(),
            payment_notification_url: self.payment_notification_url.clone(),
            gopay_merchant_id: self.gopay_merchant_id.clone(),
            pin_threshold: self.pin_threshold,
            verification_link_ttl: self.verification_link_ttl,
            transaction_ttl: self.transaction_ttl,
            pre_auth_hold: self.pre_auth_hold,
            max_transactions: self.max_transactions,
            journal_size: self.journal_size,
            faults,
            state_file: self.state_file.clone(),
            state_save_interval: self.state_save_interval,
        };
        config.validate().map_err(|e| self.rename(e))?;
        Ok(config)
    }
}

/// `--flag-name` → `PAY_ACCOUNT_MOCK_FLAG_NAME`.
fn env_name(flag: &str) -> String {
    format!(
        "PAY_ACCOUNT_MOCK_{}",
        flag.trim_start_matches('-')
            .replace('-', "_")
            .to_ascii_uppercase()
    )
}

/// A clap error as one line that names the flag, or the environment variable the bad value came
/// from; `Err` for the errors clap should print itself (help, version, usage).
fn explain(e: clap::Error, args: &[OsString]) -> Result<String, clap::Error> {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return Err(e);
    }
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        _ => return Err(e),
    };
    let flag = arg.split_whitespace().next().unwrap_or(&arg).to_string();
    let on_command_line = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
    });
    let rendered = e.to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    Ok(if on_command_line {
        first
    } else {
        first.replace(
            &format!("'{arg}'"),
            &format!("{} (the variable of {flag})", env_name(&flag)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["pay-account-mock"];
        argv.extend_from_slice(args);
        Cli::parse_args(argv)
            .map_err(|e| e.to_string())??
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

    #[test]
    fn values_out_of_range_are_refused_naming_the_flag() {
        for (args, expected) in [
            (
                &["--workers", "513"][..],
                "--workers must be between 1 and 128, got 513",
            ),
            (
                &["--workers", "0"],
                "--workers must be between 1 and 128, got 0",
            ),
            (
                &["--generate-accounts", "99999999"],
                "--generate-accounts must be between 0 and 5000000",
            ),
            (
                &["--activation-ttl", "300000000000"],
                "--activation-ttl must be between 0 and 365d, got 5000000000m",
            ),
            (
                &["--retry-schedule", "1s,9999999999"],
                "--retry-schedule: a retry interval must be between 0 and 7d",
            ),
            (
                &["--notification-timeout", "0"],
                "--notification-timeout must be between 1ms and 10m",
            ),
            (
                &["--body-timeout", "2h"],
                "--body-timeout must be between 100ms and 1h",
            ),
            (
                &["--max-body-bytes", "0"],
                "--max-body-bytes must be between 1 and 16777216",
            ),
            (
                &["--max-deliveries", "0"],
                "--max-deliveries must be between 1 and 1024",
            ),
            (
                &["--notification-log-size", "0"],
                "--notification-log-size must be between",
            ),
            (
                &["--journal-size", "1000001"],
                "--journal-size must be between 0 and 1000000",
            ),
            (
                &["--faults", "/nonexistent/faults.json"],
                "--faults (/nonexistent/faults.json): No such file",
            ),
            (
                &["--server-key", " "],
                "--server-key must be a non-blank key",
            ),
            (
                &["--merchant-id", ""],
                "--merchant-id must be 1 to 64 printable characters",
            ),
            (
                &["--allowed-host", "http://x.test"],
                "--allowed-host must be a host name",
            ),
            (
                &["--activation-ttl", "bogus"],
                "write a number of seconds (90) or a number with units (100ms, 90s, 15m, 1h 30m)",
            ),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn boolean_flags_take_no_value_on_the_command_line() {
        let c = parse(&["--legacy-sandbox", "--no-unbind-notification"]).unwrap();
        assert!(c.legacy_sandbox && !c.unbind_notification);
    }

    #[test]
    fn variable_names_follow_their_flags() {
        assert_eq!(
            env_name("--max-body-bytes"),
            "PAY_ACCOUNT_MOCK_MAX_BODY_BYTES"
        );
        assert_eq!(env_name("--allowed-host"), "PAY_ACCOUNT_MOCK_ALLOWED_HOST");
        for arg in Cli::command().get_arguments() {
            if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
                assert_eq!(
                    env_name(&format!("--{long}")),
                    env.to_string_lossy(),
                    "{long}"
                );
            }
        }
    }
}
