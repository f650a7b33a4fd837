//! The ranges every number and string from outside (a flag, a control API request, a fixture) must
//! fall in, and the checks that hold them to it. They are documented in the README's "Limits"
//! section; a value outside one is refused with a message that names it, never clamped in silence.

use std::time::Duration;

const DAY: u64 = 24 * 3600;
/// `--activation-ttl` and `activation_ttl`: 0 (never) up to a year.
pub const ACTIVATION_TTL_MAX: Duration = Duration::from_secs(365 * DAY);
/// The mock clock's step. A TTL or a retry interval above 0 but under it would count as 0 (for a
/// TTL, "never"), so it is refused wherever one comes from: a flag, the control API, the state file.
pub const CLOCK_STEP: Duration = Duration::from_millis(1);
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
/// A page of the journal (`GET /__admin/requests`, `find`) or of the fault rules ends, with a
/// cursor, at about this much JSON, whatever its `limit`.
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Ids that count up (notification ids, refunds' `refund_chargeback_id`) never pass the largest
/// integer JavaScript reads exactly, far from where adding one wraps.
pub const COUNTER_MAX: u64 = (1 << 53) - 1;
/// What a state document may set them to: half of [`COUNTER_MAX`], so that counting on from there
/// (2^52 more ids) never passes it, and a document saved later loads again.
pub const COUNTER_IMPORT_MAX: u64 = COUNTER_MAX / 2;
/// `--journal-size`: 0 turns the journal off.
pub const JOURNAL_SIZE: (usize, usize) = (0, 1_000_000);
/// `--generate-accounts` (about 600 bytes each).
pub const GENERATE_ACCOUNTS_MAX: usize = 5_000_000;
/// `--max-accounts`: accounts the store holds at most (about 600 bytes each).
pub const MAX_ACCOUNTS: (usize, usize) = (1, 50_000_000);
/// A merchant id, server key, phone number or country code is short; these bound what is kept.
pub const MERCHANT_ID_MAX_LEN: usize = 64;
pub const SERVER_KEY_MAX_LEN: usize = 256;
/// A phone number's digits. Midtrans documents 9 to 12, which its sandbox did not enforce (its
/// own examples link 14): a create takes any length up to this, so that what it keeps a fixture
/// file and a state document take too.
pub const PHONE_NUMBER_MAX_DIGITS: usize = 64;
/// A notification or redirect URL.
pub const URL_MAX_LEN: usize = 2048;
/// Per server key notification URLs.
pub const NOTIFICATION_URLS_MAX: usize = 10_000;
/// `--verification-link-ttl`: how long a charge's PIN links work.
pub const VERIFICATION_LINK_TTL: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(DAY));
/// `--transaction-ttl` and `--pre-auth-hold`; also a charge's `custom_expiry` (GoPay trims it to
/// 7 days; under 20 s is refused).
pub const TRANSACTION_TTL: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(7 * DAY));
/// `--max-transactions` (see BENCHMARKS.md for the memory each takes).
pub const MAX_TRANSACTIONS: (usize, usize) = (1, 10_000_000);
/// `--pin-threshold`, in whole IDR.
pub const PIN_THRESHOLD: (u64, u64) = (0, 999_999_999_999_999);
/// URLs in `X-Override-Notification` / `X-Append-Notification` (Midtrans: 3).
pub const NOTIFICATION_HEADER_URLS_MAX: usize = 3;
/// A charge's `metadata`, kept with the transaction and echoed in every notification: its JSON text.
pub const METADATA_MAX_BYTES: usize = 4096;
/// How deeply a charge's `metadata` may nest: notifications and control answers hold it a level or
/// two down, and serde_json reads no document deeper than 128 levels.
pub const METADATA_MAX_DEPTH: usize = 64;
/// How deeply a notification's payload may nest: its metadata one level down. An imported payload
/// deeper than any the mock writes would make the lists that hold it (a few levels further down)
/// too deep for serde_json and most JSON readers.
pub const NOTIFICATION_PAYLOAD_MAX_DEPTH: usize = METADATA_MAX_DEPTH + 1;
/// A notification attempt's error text, as kept and saved (an HTTP client's message can repeat a
/// long URL, escaped).
pub const ATTEMPT_ERROR_MAX_BYTES: usize = 4096;
/// Refunds one transaction can have: each adds an entry to every later notification of it.
pub const REFUNDS_MAX: usize = 100;
/// A notification's body, as a state document may hold it: above the largest this server writes
/// (a payment notification with [`REFUNDS_MAX`] refunds whose reasons are escaped character by
/// character, and the largest metadata; a unit test builds it).
pub const NOTIFICATION_PAYLOAD_MAX_BYTES: usize = 256 * 1024;
/// What the notification log may hold (its notifications' weight, [`crate::notifications::Notification::weight`]):
/// past it the oldest go, even below `--notification-log-size`. Each refund of a transaction
/// adds to every later notification of it, so a count alone let a few hundred refunded
/// transactions fill gigabytes.
pub const NOTIFICATION_LOG_BYTES: usize = 512 * 1024 * 1024;
/// Exports and imports of the whole state (`/__admin/state`) under way at once: each holds a whole
/// document in memory.
pub const STATE_TRANSFERS: usize = 2;
/// Expiries (accounts, transactions) recorded per hold of their store's lock: a million falling
/// due at once (the clock moved past a load test's accounts) would otherwise hold every request
/// up for the whole sweep.
pub const EXPIRE_BATCH: usize = 1024;
/// How many removals ahead a key's reset has the CPU fetch the next account's or transaction's
/// place in its table: each is a random place, and waiting for them one by one was most of a reset.
pub const REMOVE_AHEAD: usize = 8;
/// `--state-save-interval`.
pub const STATE_SAVE_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(3600));

/// A retry schedule has 1 to [`RETRY_SCHEDULE_MAX_LEN`] intervals of at most
/// [`RETRY_INTERVAL_MAX`] each.
///
/// # Errors
/// Which rule the schedule breaks.
pub fn check_retry_schedule(schedule: &[Duration]) -> Result<(), String> {
    if schedule.is_empty() {
        return Err("a retry schedule needs at least one interval".into());
    }
    if schedule.len() > RETRY_SCHEDULE_MAX_LEN {
        return Err(format!(
            "a retry schedule has at most {} intervals, got {}",
            RETRY_SCHEDULE_MAX_LEN,
            schedule.len()
        ));
    }
    for d in schedule {
        check_duration("a retry interval", *d, Duration::ZERO, RETRY_INTERVAL_MAX)?;
        check_step("a retry interval", *d)?;
    }
    Ok(())
}

/// `d` unless it is above 0 but under [`CLOCK_STEP`].
///
/// # Errors
/// The message naming `what`.
pub fn check_step(what: &str, d: Duration) -> Result<Duration, String> {
    if d.is_zero() || d >= CLOCK_STEP {
        Ok(d)
    } else {
        Err(format!("{what} must be 0 or at least 1ms"))
    }
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
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        // Below a millisecond: every unit, so that "7d 1ns" is not shown as the "7d" it exceeds.
        return humantime::format_duration(d).to_string();
    }
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
        0 => "0".into(),
        ms => format!("{ms}ms"),
    }
}

/// An absolute http(s) URL of at most [`URL_MAX_LEN`] bytes.
///
/// # Errors
/// A message naming `what`.
pub fn check_url(what: &str, url: &str) -> Result<(), String> {
    if url.len() > URL_MAX_LEN {
        return Err(format!(
            "{what} must be at most {} bytes long, got {}",
            URL_MAX_LEN,
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

/// A merchant id: 1 to [`MERCHANT_ID_MAX_LEN`] printable characters.
///
/// # Errors
/// A message naming `what`.
pub fn check_merchant_id(what: &str, id: &str) -> Result<(), String> {
    if id.trim().is_empty() || id.len() > MERCHANT_ID_MAX_LEN || id.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be 1 to {} printable characters, got '{}'",
            MERCHANT_ID_MAX_LEN,
            id.escape_debug()
        ));
    }
    Ok(())
}

/// A server key: not blank, no surrounding or control characters, at most
/// [`SERVER_KEY_MAX_LEN`] bytes.
///
/// # Errors
/// A message naming `what`.
pub fn check_server_key(what: &str, key: &str) -> Result<(), String> {
    if key.trim().is_empty()
        || key.trim() != key
        || key.len() > SERVER_KEY_MAX_LEN
        || key.chars().any(char::is_control)
    {
        return Err(format!(
            "{what} must be a non-blank key of at most {} characters without surrounding spaces, got '{}'",
            SERVER_KEY_MAX_LEN,
            key.escape_debug()
        ));
    }
    Ok(())
}

/// Reads the file at `path`, refusing one larger than `max` bytes without reading more than one
/// byte past it: a file named at start (`--faults`, the state file) could be `/dev/zero`.
///
/// # Errors
/// The file cannot be read (`NotFound` as such), or is larger than `max` (`FileTooLarge`).
pub fn read_at_most(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it is larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_in_their_largest_whole_unit() {
        for (d, shown) in [
            (Duration::ZERO, "0"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(3600), "1h"),
            (ACTIVATION_TTL_MAX, "365d"),
            (Duration::from_nanos(5), "5ns"),
            // Past a range's end by less than a millisecond: shown whole, not rounded to the end.
            (
                Duration::from_secs(7 * 86_400) + Duration::from_nanos(1),
                "7days 1ns",
            ),
            (
                Duration::from_millis(1) + Duration::from_micros(1),
                "1ms 1us",
            ),
        ] {
            assert_eq!(show(d), shown);
        }
    }

    #[test]
    fn a_file_past_its_bound_is_refused_without_reading_it_all() {
        let dir = std::env::temp_dir().join(format!("read-at-most-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_at_most(&path, 5).unwrap(), b"12345");
        let err = read_at_most(&path, 4).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("larger than 4 bytes"), "{err}");
        let missing = read_at_most(&dir.join("none"), 4).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        // An endless file stops one byte past the bound.
        let err = read_at_most(std::path::Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
