//! The server's configuration: a plain struct that the CLI, the tests and embedding users all fill in.
//!
//! Nothing here knows about clap; `cli.rs` turns flags into a [`Config`], tests build one directly.

use std::time::Duration;

use crate::fixtures::Fixtures;

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
/// Notifications the log keeps.
pub const DEFAULT_NOTIFICATION_LOG_SIZE: usize = 100_000;

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

/// The ranges every number from outside (a flag, a control API request, a fixture) must fall in.
/// They are documented in the README's "Limits" section; a value outside one is refused with a message
/// that names it, never clamped in silence.
pub mod limits {
    use std::time::Duration;

    const DAY: u64 = 24 * 3600;
    /// `--activation-ttl` and `activation_ttl`: 0 (never) up to a year.
    pub const ACTIVATION_TTL_MAX: Duration = Duration::from_secs(365 * DAY);
    /// One retry interval: up to a week (Midtrans' longest is 3.5 hours).
    pub const RETRY_INTERVAL_MAX: Duration = Duration::from_secs(7 * DAY);
    /// Intervals in a retry schedule.
    pub const RETRY_SCHEDULE_MAX_LEN: usize = 20;
    /// `--notification-timeout`: how long one attempt may wait.
    pub const NOTIFICATION_TIMEOUT: (Duration, Duration) =
        (Duration::from_millis(1), Duration::from_secs(600));
    /// `--body-timeout`: how long a request body may take to arrive.
    pub const BODY_TIMEOUT: (Duration, Duration) =
        (Duration::from_millis(100), Duration::from_secs(3600));
    /// `--max-body-bytes`.
    pub const MAX_BODY_BYTES: (usize, usize) = (1, 16 * 1024 * 1024);
    /// `--workers`.
    pub const WORKERS: (usize, usize) = (1, 128);
    /// `--max-deliveries`: notification attempts in flight at once.
    pub const MAX_DELIVERIES: (usize, usize) = (1, 1024);
    /// `--notification-log-size`.
    pub const NOTIFICATION_LOG_SIZE: (usize, usize) = (1, 1_000_000);
    /// `--generate-accounts` (about 600 bytes each).
    pub const GENERATE_ACCOUNTS_MAX: usize = 5_000_000;
    /// A merchant id, server key, phone number or country code is short; these bound what is kept.
    pub const MERCHANT_ID_MAX_LEN: usize = 64;
    pub const SERVER_KEY_MAX_LEN: usize = 256;
    /// A notification or redirect URL.
    pub const URL_MAX_LEN: usize = 2048;
    /// Per server key notification URLs.
    pub const NOTIFICATION_URLS_MAX: usize = 10_000;
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

/// A retry schedule has 1 to [`limits::RETRY_SCHEDULE_MAX_LEN`] intervals of at most
/// [`limits::RETRY_INTERVAL_MAX`] each.
///
/// # Errors
/// Which rule the schedule breaks.
pub fn check_retry_schedule(schedule: &[Duration]) -> Result<(), String> {
    if schedule.is_empty() {
        return Err("a retry schedule needs at least one interval".into());
    }
    if schedule.len() > limits::RETRY_SCHEDULE_MAX_LEN {
        return Err(format!(
            "a retry schedule has at most {} intervals, got {}",
            limits::RETRY_SCHEDULE_MAX_LEN,
            schedule.len()
        ));
    }
    for d in schedule {
        check_duration(
            "a retry interval",
            *d,
            Duration::ZERO,
            limits::RETRY_INTERVAL_MAX,
        )?;
    }
    Ok(())
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

/// `d` if it lies in `min..=max`.
///
/// # Errors
/// A message naming `what` and the range.
pub fn check_duration(
    what: &str,
    d: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, String> {
    if (min..=max).contains(&d) {
        Ok(d)
    } else {
        Err(format!(
            "{what} must be between {} and {}, got {}",
            show(min),
            show(max),
            show(d)
        ))
    }
}

/// `n` if it lies in `min..=max`.
///
/// # Errors
/// A message naming `what` and the range.
pub fn check_count(what: &str, n: usize, (min, max): (usize, usize)) -> Result<usize, String> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{what} must be between {min} and {max}, got {n}"))
    }
}

/// A duration in its largest whole unit (`365d`, `10m`, `100ms`), as the flags write them.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    match ms {
        0 if d.is_zero() => "0".into(),
        0 => humantime::format_duration(d).to_string(),
        ms => format!("{ms}ms"),
    }
}

/// An absolute http(s) URL of at most [`limits::URL_MAX_LEN`] bytes.
///
/// # Errors
/// A message naming `what`.
pub fn check_url(what: &str, url: &str) -> Result<(), String> {
    if url.len() > limits::URL_MAX_LEN {
        return Err(format!(
            "{what} must be at most {} bytes long, got {}",
            limits::URL_MAX_LEN,
            url.len()
        ));
    }
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(format!(
            "{what} must be an absolute http(s) URL, got '{url}'"
        )),
    }
}

/// A merchant id: 1 to [`limits::MERCHANT_ID_MAX_LEN`] printable characters.
///
/// # Errors
/// A message naming `what`.
pub fn check_merchant_id(what: &str, id: &str) -> Result<(), String> {
    if id.trim().is_empty()
        || id.len() > limits::MERCHANT_ID_MAX_LEN
        || id.chars().any(char::is_control)
    {
        return Err(format!(
            "{what} must be 1 to {} printable characters, got '{}'",
            limits::MERCHANT_ID_MAX_LEN,
            id.escape_debug()
        ));
    }
    Ok(())
}

/// A server key: not blank, no surrounding or control characters, at most
/// [`limits::SERVER_KEY_MAX_LEN`] bytes.
///
/// # Errors
/// A message naming `what`.
pub fn check_server_key(what: &str, key: &str) -> Result<(), String> {
    if key.trim().is_empty()
        || key.trim() != key
        || key.len() > limits::SERVER_KEY_MAX_LEN
        || key.chars().any(char::is_control)
    {
        return Err(format!(
            "{what} must be a non-blank key of at most {} characters without surrounding spaces, got '{}'",
            limits::SERVER_KEY_MAX_LEN,
            key.escape_debug()
        ));
    }
    Ok(())
}

/// Everything needed to build the app. `Default` is what `make run` uses, minus the port.
#[derive(Debug, Clone)]
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
    /// HTTP worker threads; `None` lets actix pick one per available core.
    pub workers: Option<usize>,
    /// How long a notification attempt waits for the receiver (Midtrans: 15 s).
    pub notification_timeout: Duration,
    /// Generated ENABLED accounts preloaded at start (benchmarks); 0 = none.
    pub generate_accounts: usize,
    /// Notification attempts in flight at once; the rest wait their turn on the clock.
    pub max_deliveries: usize,
    /// How long a request body may take to arrive in full.
    pub body_timeout: Duration,
    /// Notifications the log keeps; past it the oldest goes, pending or not.
    pub notification_log_size: usize,
    /// Host names accepted in the `Host` header besides this server's own (see `guard.rs`); `*`
    /// accepts any.
    pub allowed_hosts: Vec<String>,
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
            allowed_hosts: Vec::new(),
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
        check_duration(
            "--activation-ttl",
            self.activation_ttl,
            Duration::ZERO,
            limits::ACTIVATION_TTL_MAX,
        )?;
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
        check_count(
            "--generate-accounts",
            self.generate_accounts,
            (0, limits::GENERATE_ACCOUNTS_MAX),
        )?;
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
    fn durations_show_in_their_largest_whole_unit() {
        for (d, shown) in [
            (Duration::ZERO, "0"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(3600), "1h"),
            (limits::ACTIVATION_TTL_MAX, "365d"),
            (Duration::from_nanos(5), "5ns"),
        ] {
            assert_eq!(show(d), shown);
        }
    }

    #[test]
    fn http_status_modes_parse() {
        assert_eq!("mirror".parse(), Ok(HttpStatusMode::Mirror));
        assert_eq!("midtrans".parse(), Ok(HttpStatusMode::Midtrans));
        assert!("loud".parse::<HttpStatusMode>().is_err());
    }
}
