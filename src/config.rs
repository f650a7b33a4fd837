//! The server's configuration: a plain struct that the CLI, the tests and embedding users all fill in.
//!
//! Nothing here knows about clap; `cli.rs` turns flags into a [`Config`], tests build one directly.

use std::time::Duration;

use crate::fixtures::Fixtures;
use crate::limits::{
    self, check_count, check_duration, check_merchant_id, check_retry_schedule, check_server_key,
    check_url,
};

/// Default listening port, as documented in the README.
pub const DEFAULT_PORT: u16 = 8080;
/// Default merchant id in notifications (the placeholder the Midtrans docs use).
pub const DEFAULT_MERCHANT_ID: &str = "M099098";
/// How long an activation link stays usable before the account expires. Midtrans does not publish the
/// figure; 15 minutes sits inside the 5-15 minute range the reference recommends.
pub const DEFAULT_ACTIVATION_TTL: Duration = Duration::from_secs(15 * 60);
/// Largest request body accepted; the Pay Account requests are a few hundred bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Notification attempts in flight at once.
pub const DEFAULT_MAX_DELIVERIES: usize = 64;
/// How long a request body may trickle in.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests the journal keeps.
pub const DEFAULT_JOURNAL_SIZE: usize = 10_000;
/// Notifications the log keeps.
pub const DEFAULT_NOTIFICATION_LOG_SIZE: usize = 100_000;
/// Accounts the store holds at most (about 6 GB).
pub const DEFAULT_MAX_ACCOUNTS: usize = 10_000_000;
/// `merchant_id` of GoPay transactions (`G` and nine digits, as the sandbox's).
pub const DEFAULT_GOPAY_MERCHANT_ID: &str = "G099098001";
/// The sandbox asks for the PIN from IDR 100,000 up.
pub const DEFAULT_PIN_THRESHOLD: u64 = 100_000;
/// GoPay verification links work 5 minutes.
pub const DEFAULT_VERIFICATION_LINK_TTL: Duration = Duration::from_secs(5 * 60);
/// A pending GoPay transaction expires after 15 minutes; an authorization's hold lapses after as long.
pub const DEFAULT_TRANSACTION_TTL: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_MAX_TRANSACTIONS: usize = 1_000_000;
/// The state file is saved at most this often.
pub const DEFAULT_STATE_SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// Which HTTP status line accompanies a 4xx Midtrans body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpStatusMode {
    /// What the real API does: HTTP 400 for validation, 401 for auth, HTTP 200 for every other body
    /// (the "404", "410", "412" and "413" bodies included).
    #[default]
    Midtrans,
    /// The body's `status_code` is also the HTTP status for every 4xx body.
    Mirror,
}

impl std::str::FromStr for HttpStatusMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "midtrans" | "default" => Ok(Self::Midtrans),
            "mirror" => Ok(Self::Mirror),
            other => Err(format!(
                "unknown HTTP status mode '{other}' (expected 'midtrans' or 'mirror')"
            )),
        }
    }
}

/// Midtrans' documented notification retry intervals: 2 min, 10 min, 30 min, 1.5 h, 3.5 h.
pub fn midtrans_retry_schedule() -> Vec<Duration> {
    [2 * 60, 10 * 60, 30 * 60, 90 * 60, 210 * 60]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// Parses a comma-separated retry schedule such as `100ms,200ms,1s` or `2m,10m,30m,90m,210m`.
/// A bare number is seconds.
///
/// # Errors
/// An interval that does not parse or is out of range, or an empty or overlong list.
pub fn parse_retry_schedule(s: &str) -> Result<Vec<Duration>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(parse_duration(part)?);
    }
    check_retry_schedule(&out)?;
    Ok(out)
}

/// Parses `15m`, `900s`, `100ms`, `1h 30m`, or a bare number of seconds.
///
/// # Errors
/// A message with the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|_| {
        format!(
            "invalid duration '{s}': write a number of seconds (90) or a number with units (100ms, 90s, 15m, 1h 30m)"
        )
    })
}

/// Everything needed to build the app. `Default` is what `make run` uses, minus the port.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one (read it back from the server handle).
    pub port: u16,
    /// Base URL put into activation links; `None` means the address the server listens on.
    pub public_url: Option<String>,
    /// Accepted server keys; empty accepts any non-empty key.
    pub server_keys: Vec<String>,
    /// Answer the blocked-user number the way the 2021 sandbox did ("202", "Wallet is Blocked").
    pub legacy_sandbox: bool,
    /// HTTP status lines for 4xx bodies.
    pub http_status: HttpStatusMode,
    /// Phone scenarios, preloaded accounts and default payment options.
    pub fixtures: Fixtures,
    /// Makes generated ids and tokens reproducible.
    pub seed: Option<u64>,
    /// Where notifications go ("Account linking notification URL"); `None` records them undelivered.
    pub notification_url: Option<String>,
    /// `merchant_id` in notifications.
    pub merchant_id: String,
    /// How long a PENDING account waits for activation; zero means forever.
    pub activation_ttl: Duration,
    /// Delay before each notification retry (the n-th entry before the n-th retry).
    pub retry_schedule: Vec<Duration>,
    /// Send `account_unlinked` after a merchant unbind too, not only after an unlink in the app.
    pub unbind_notification: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// `None` (the default): served from threads every embedded server of the process shares, no
    /// thread of its own. `Some(n)`: its own actix system with `n` HTTP worker threads (the binary).
    pub workers: Option<usize>,
    /// How long a notification attempt waits for the receiver (Midtrans: 15 s).
    pub notification_timeout: Duration,
    /// Generated ENABLED accounts preloaded at start (benchmarks); 0 = none.
    pub generate_accounts: usize,
    /// Notification attempts in flight at once; the rest wait their turn on the clock.
    pub max_deliveries: usize,
    /// How long a request body may take to arrive in full, and an export's client may take
    /// nothing of it.
    pub body_timeout: Duration,
    /// Notifications the log keeps; past it the oldest goes, pending or not.
    pub notification_log_size: usize,
    /// Accounts the store holds at most; a create past it answers `"500"` until a reset.
    pub max_accounts: usize,
    /// Host names accepted in the `Host` header besides this server's own (see `guard.rs`); `*`
    /// accepts any.
    pub allowed_hosts: Vec<String>,
    /// Where payment notifications go ("Payment Notification URL"); `None` records them undelivered.
    pub payment_notification_url: Option<String>,
    /// `merchant_id` of GoPay transactions.
    pub gopay_merchant_id: String,
    /// Charges from this many IDR up ask for the PIN.
    pub pin_threshold: u64,
    /// How long a charge's verification (PIN) links work.
    pub verification_link_ttl: Duration,
    /// How long a pending transaction waits for the PIN before it expires.
    pub transaction_ttl: Duration,
    /// How long a pre-auth hold lasts before it lapses (the transaction expires, the hold is released).
    pub pre_auth_hold: Duration,
    /// Transactions the store holds at most; a charge past it answers `"500"` until a reset.
    pub max_transactions: usize,
    /// Midtrans requests the journal keeps; 0 turns it off.
    pub journal_size: usize,
    /// Fault rules in effect at start (and after a full reset).
    pub faults: Vec<crate::faults::RuleSpec>,
    /// Where the state is kept across restarts ([`crate::state_file`]); `None`: in memory only.
    pub state_file: Option<std::path::PathBuf>,
    /// How often the state file is saved, at most.
    pub state_save_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            public_url: None,
            server_keys: Vec::new(),
            legacy_sandbox: false,
            http_status: HttpStatusMode::default(),
            fixtures: Fixtures::default(),
            seed: None,
            notification_url: None,
            merchant_id: DEFAULT_MERCHANT_ID.into(),
            activation_ttl: DEFAULT_ACTIVATION_TTL,
            retry_schedule: midtrans_retry_schedule(),
            unbind_notification: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            workers: None,
            notification_timeout: crate::notifications::delivery::DEFAULT_TIMEOUT,
            generate_accounts: 0,
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            notification_log_size: DEFAULT_NOTIFICATION_LOG_SIZE,
            max_accounts: DEFAULT_MAX_ACCOUNTS,
            allowed_hosts: Vec::new(),
            payment_notification_url: None,
            gopay_merchant_id: DEFAULT_GOPAY_MERCHANT_ID.into(),
            pin_threshold: DEFAULT_PIN_THRESHOLD,
            verification_link_ttl: DEFAULT_VERIFICATION_LINK_TTL,
            transaction_ttl: DEFAULT_TRANSACTION_TTL,
            pre_auth_hold: DEFAULT_TRANSACTION_TTL,
            max_transactions: DEFAULT_MAX_TRANSACTIONS,
            journal_size: DEFAULT_JOURNAL_SIZE,
            faults: Vec::new(),
            state_file: None,
            state_save_interval: DEFAULT_STATE_SAVE_INTERVAL,
        }
    }
}

impl Config {
    /// Checks every value against its documented range ([`limits`]); `start` refuses a config that
    /// fails, so an embedding test gets the same message as the command line.
    ///
    /// # Errors
    /// The first value out of range, named by its flag.
    pub fn validate(&self) -> Result<(), String> {
        self.fixtures.check()?;
        for key in &self.server_keys {
            check_server_key("--server-key", key)?;
        }
        if let Some(url) = &self.public_url {
            check_url("--public-url", url)?;
        }
        if let Some(url) = &self.notification_url {
            check_url("--notification-url", url)?;
        }
        check_merchant_id("--merchant-id", &self.merchant_id)?;
        if let Some(url) = &self.payment_notification_url {
            check_url("--payment-notification-url", url)?;
        }
        check_merchant_id("--gopay-merchant-id", &self.gopay_merchant_id)?;
        let (min, max) = limits::PIN_THRESHOLD;
        if !(min..=max).contains(&self.pin_threshold) {
            return Err(format!(
                "--pin-threshold must be between {min} and {max} (whole IDR), got {}",
                self.pin_threshold
            ));
        }
        let (min, max) = limits::VERIFICATION_LINK_TTL;
        check_duration(
            "--verification-link-ttl",
            self.verification_link_ttl,
            min,
            max,
        )?;
        let (min, max) = limits::TRANSACTION_TTL;
        check_duration("--transaction-ttl", self.transaction_ttl, min, max)?;
        check_duration("--pre-auth-hold", self.pre_auth_hold, min, max)?;
        check_count(
            "--max-transactions",
            self.max_transactions,
            limits::MAX_TRANSACTIONS,
        )?;
        check_duration(
            "--activation-ttl",
            self.activation_ttl,
            Duration::ZERO,
            limits::ACTIVATION_TTL_MAX,
        )?;
        limits::check_step("--activation-ttl", self.activation_ttl)?;
        check_retry_schedule(&self.retry_schedule).map_err(|e| format!("--retry-schedule: {e}"))?;
        let (min, max) = limits::NOTIFICATION_TIMEOUT;
        check_duration(
            "--notification-timeout",
            self.notification_timeout,
            min,
            max,
        )?;
        let (min, max) = limits::BODY_TIMEOUT;
        check_duration("--body-timeout", self.body_timeout, min, max)?;
        check_count(
            "--max-body-bytes",
            self.max_body_bytes,
            limits::MAX_BODY_BYTES,
        )?;
        if let Some(n) = self.workers {
            check_count("--workers", n, limits::WORKERS)?;
        }
        check_count(
            "--max-deliveries",
            self.max_deliveries,
            limits::MAX_DELIVERIES,
        )?;
        check_count(
            "--notification-log-size",
            self.notification_log_size,
            limits::NOTIFICATION_LOG_SIZE,
        )?;
        check_count("--max-accounts", self.max_accounts, limits::MAX_ACCOUNTS)?;
        check_count("--journal-size", self.journal_size, limits::JOURNAL_SIZE)?;
        crate::faults::check_all(&self.faults).map_err(|e| format!("--faults: {e}"))?;
        check_duration(
            "--state-save-interval",
            self.state_save_interval,
            limits::STATE_SAVE_INTERVAL.0,
            limits::STATE_SAVE_INTERVAL.1,
        )?;
        if let Some(path) = &self.state_file {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            if path.is_dir() || !dir.is_dir() {
                return Err(format!(
                    "--state-file: '{}' must name a file in an existing folder",
                    path.display()
                ));
            }
        }
        check_count(
            "--generate-accounts",
            self.generate_accounts,
            (0, limits::GENERATE_ACCOUNTS_MAX),
        )?;
        // The store holds the fixture accounts too: a state saved with them must load again.
        let accounts = self
            .generate_accounts
            .saturating_add(self.fixtures.accounts.len());
        if accounts > self.max_accounts {
            return Err(format!(
                "--max-accounts ({}) is less than the {} fixture accounts plus --generate-accounts ({})",
                self.max_accounts,
                self.fixtures.accounts.len(),
                self.generate_accounts
            ));
        }
        for host in &self.allowed_hosts {
            if host != "*" && !is_host_name(host) {
                return Err(format!(
                    "--allowed-host must be a host name or address without scheme or port (or *), got '{}'",
                    host.escape_debug()
                ));
            }
        }
        Ok(())
    }
}

/// A DNS name or an IP address, as a `Host` header carries it without the port.
fn is_host_name(s: &str) -> bool {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    !s.is_empty()
        && s.len() <= 253
        && (s.parse::<std::net::IpAddr>().is_ok()
            || s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedules_parse_in_any_unit() {
        assert_eq!(
            parse_retry_schedule("100ms, 2s,3").unwrap(),
            vec![
                Duration::from_millis(100),
                Duration::from_secs(2),
                Duration::from_secs(3)
            ]
        );
        assert_eq!(
            parse_retry_schedule("2m,10m,30m,1h 30m,3h 30m").unwrap(),
            midtrans_retry_schedule()
        );
        assert!(parse_retry_schedule("").is_err());
        assert!(parse_retry_schedule("soon").is_err());
    }

    #[test]
    fn the_fixture_accounts_count_against_max_accounts() {
        let fixtures = Config::default().fixtures.accounts.len();
        assert!(fixtures > 1);
        let with = |max_accounts, generate_accounts| Config {
            max_accounts,
            generate_accounts,
            ..Config::default()
        };
        assert!(with(fixtures, 0).validate().is_ok());
        assert!(with(fixtures + 2, 2).validate().is_ok());
        let err = with(fixtures - 1, 0).validate().unwrap_err();
        assert!(err.contains("--max-accounts"), "{err}");
        assert!(with(fixtures + 1, 2).validate().is_err());
    }

    #[test]
    fn http_status_modes_parse() {
        assert_eq!("mirror".parse(), Ok(HttpStatusMode::Mirror));
        assert_eq!("midtrans".parse(), Ok(HttpStatusMode::Midtrans));
        assert!("loud".parse::<HttpStatusMode>().is_err());
    }
}
