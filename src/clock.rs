//! The server's own clock: wall time plus an offset that `POST /__admin/clock/advance` moves forward.
//!
//! Activation expiry and notification retries are scheduled on this clock, so a test can jump over
//! Midtrans' 3.5-hour retry interval in a millisecond. Times are milliseconds since the Unix epoch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    /// Now, in milliseconds since the epoch, on the mock's clock.
    pub fn now_ms(&self) -> u64 {
        wall_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward; it never goes back.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// How far the clock has been advanced in total.
    pub fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 with milliseconds, for the control API.
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now_ms() >= before + 3_600_000);
        assert_eq!(clock.offset(), Duration::from_secs(3600));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
