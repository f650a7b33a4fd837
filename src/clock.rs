//! The server's own clock: wall time plus an offset that `POST /__admin/clock/advance` moves forward.
//!
//! Activation expiry and notification retries are scheduled on this clock, so a test can jump over
//! Midtrans' 3.5-hour retry interval in a millisecond. Times are milliseconds since the Unix epoch.
//!
//! Every time the server handles is at most [`MAX_MS`] (the end of year 9999, the last instant RFC
//! 3339 can write): the offset is bounded by [`MAX_OFFSET`], and arithmetic on times saturates, so
//! no input can wrap the clock or make formatting fail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// 9999-12-31T23:59:59.999Z, the last time RFC 3339 can express.
pub const MAX_MS: u64 = 253_402_300_799_999;

/// How far the clock can be advanced in total: 100 years, far past any retry schedule or TTL.
pub const MAX_OFFSET: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicU64,
}

/// Why the clock did not move.
#[derive(Debug, PartialEq, Eq)]
pub struct TooFar {
    /// How much further the clock may still go.
    pub remaining: Duration,
}

impl Clock {
    /// Now, in milliseconds since the epoch, on the mock's clock.
    pub fn now_ms(&self) -> u64 {
        self.instant().ms()
    }

    /// Now, on both clocks: the wall time (for durations) and the mock time as it is now, which a
    /// later move of the clock does not change.
    pub fn instant(&self) -> Instant {
        Instant {
            wall: SystemTime::now(),
            offset_ms: self.offset_ms.load(Ordering::Relaxed),
        }
    }

    /// Moves the clock forward, unless that takes the total offset past [`MAX_OFFSET`]; it never goes
    /// back (but for [`Clock::reset`]).
    ///
    /// # Errors
    /// [`TooFar`] with the room left; the clock is unchanged.
    pub fn advance(&self, by: Duration) -> Result<(), TooFar> {
        let max = duration_ms(MAX_OFFSET);
        let by = duration_ms(by);
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                offset.checked_add(by).filter(|&o| o <= max)
            })
            .map(|_| ())
            .map_err(|offset| TooFar {
                remaining: Duration::from_millis(max.saturating_sub(offset)),
            })
    }

    /// How far the clock has been advanced in total.
    pub fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Sets the total offset (the state file).
    ///
    /// # Errors
    /// [`TooFar`]: past [`MAX_OFFSET`]; the clock is unchanged.
    pub fn set_offset(&self, offset: Duration) -> Result<(), TooFar> {
        if offset > MAX_OFFSET {
            return Err(TooFar {
                remaining: MAX_OFFSET,
            });
        }
        self.offset_ms.store(duration_ms(offset), Ordering::Relaxed);
        Ok(())
    }

    /// Back to wall time (a full reset).
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// A moment read by [`Clock::instant`].
#[derive(Debug, Clone, Copy)]
pub struct Instant {
    pub wall: SystemTime,
    offset_ms: u64,
}

impl Instant {
    /// On the mock's clock, in milliseconds since the epoch.
    pub fn ms(&self) -> u64 {
        wall_ms(self.wall)
            .saturating_add(self.offset_ms)
            .min(MAX_MS)
    }
}

fn wall_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map(duration_ms).unwrap_or(0)
}

/// A duration in whole milliseconds, saturating.
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The time `d` after `at_ms`, saturating at [`MAX_MS`].
pub fn after(at_ms: u64, d: Duration) -> u64 {
    at_ms.saturating_add(duration_ms(d)).min(MAX_MS)
}

/// A time on the mock clock, or none, in 8 bytes where an `Option<u64>` takes 16: an account keeps
/// one, and every byte of an account is paid in fresh memory on every create (see BENCHMARKS.md).
/// No time passes [`MAX_MS`], so the value above it stands for none.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OptionalMs(u64);

impl OptionalMs {
    pub const NONE: Self = Self(u64::MAX);

    /// `at`, held to [`MAX_MS`] as every time is.
    pub fn new(at: Option<u64>) -> Self {
        at.map_or(Self::NONE, |ms| Self(ms.min(MAX_MS)))
    }

    pub fn get(self) -> Option<u64> {
        (self.0 <= MAX_MS).then_some(self.0)
    }
}

impl From<Option<u64>> for OptionalMs {
    fn from(at: Option<u64>) -> Self {
        Self::new(at)
    }
}

impl std::fmt::Debug for OptionalMs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// RFC 3339 with milliseconds; a time past [`MAX_MS`] is written as [`MAX_MS`].
pub fn rfc3339(ms: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.min(MAX_MS));
    humantime::format_rfc3339_millis(at).to_string()
}

/// Jakarta time (GMT+7) as Midtrans writes transaction times: `2021-11-17 17:10:06`.
///
/// Computed directly (days to a civil date, Howard Hinnant's algorithm) rather than through an RFC
/// 3339 string: a charge writes six of these. The unit test checks it against humantime.
pub fn jakarta(ms: u64) -> String {
    JakartaTime::at(ms).as_str().to_string()
}

/// A [`jakarta`] time kept inline, for answers written on every charge without an allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JakartaTime([u8; 19]);

impl JakartaTime {
    pub fn at(ms: u64) -> Self {
        const OFFSET_S: u64 = 7 * 3600;
        let secs = (ms.min(MAX_MS) / 1000)
            .saturating_add(OFFSET_S)
            .min(MAX_MS / 1000);
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = *b"0000-00-00 00:00:00";
        let mut put = |at: usize, width: usize, mut n: u64| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, rem / 3600);
        put(14, 2, rem / 60 % 60);
        put(17, 2, rem % 60);
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        // Digits, dashes, colons and a space: always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for JakartaTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JakartaTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Serialises a time in milliseconds as RFC 3339 (`#[serde(serialize_with = "clock::ser_rfc3339")]`).
pub fn ser_rfc3339<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(
        UNIX_EPOCH + Duration::from_millis((*ms).min(MAX_MS)),
    ))
}

/// [`ser_rfc3339`] for an optional time.
pub fn ser_rfc3339_opt<S: Serializer>(ms: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => ser_rfc3339(ms, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_time_gives_back_what_it_was_given() {
        for at in [None, Some(0), Some(1), Some(MAX_MS)] {
            assert_eq!(OptionalMs::new(at).get(), at);
        }
        assert_eq!(OptionalMs::new(Some(u64::MAX)).get(), Some(MAX_MS));
        assert_eq!(std::mem::size_of::<OptionalMs>(), 8);
    }

    #[test]
    fn advancing_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(3600)).unwrap();
        assert!(clock.now_ms() >= before + 3_600_000);
        assert_eq!(clock.offset(), Duration::from_secs(3600));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        clock.reset();
        assert_eq!(clock.offset(), Duration::ZERO);
    }

    #[test]
    fn the_clock_cannot_be_pushed_past_its_bound_or_wrapped() {
        let clock = Clock::default();
        clock.advance(MAX_OFFSET - Duration::from_secs(1)).unwrap();
        let err = clock.advance(Duration::from_secs(2)).unwrap_err();
        assert_eq!(err.remaining, Duration::from_secs(1));
        assert_eq!(
            clock.advance(Duration::from_millis(u64::MAX)).unwrap_err(),
            err
        );
        assert_eq!(clock.offset(), MAX_OFFSET - Duration::from_secs(1));
        assert!(clock.now_ms() <= MAX_MS);
        rfc3339(clock.now_ms());
    }

    #[test]
    fn formatting_never_fails_and_arithmetic_saturates() {
        assert_eq!(rfc3339(MAX_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(after(u64::MAX - 1, Duration::MAX), MAX_MS);
        assert_eq!(after(1_000, Duration::from_millis(5)), 1_005);
        assert_eq!(duration_ms(Duration::MAX), u64::MAX);
        assert_eq!(jakarta(1_637_143_806_000), "2021-11-17 17:10:06");
        assert_eq!(jakarta(u64::MAX), "9999-12-31 23:59:59");
        // The direct computation agrees with humantime over leap years and centuries.
        let mut ms = 0u64;
        while ms < MAX_MS - 7 * 3_600_000 {
            let reference = humantime::format_rfc3339_seconds(
                UNIX_EPOCH + Duration::from_millis(ms + 7 * 3_600_000),
            )
            .to_string();
            assert_eq!(
                jakarta(ms),
                reference.trim_end_matches('Z').replacen('T', " ", 1)
            );
            ms += 86_399_999 * 37 + 12_345;
        }
    }
}
