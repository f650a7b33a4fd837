//! One delivery attempt over HTTP, and Midtrans' retry policy by response class.
//!
//! Midtrans ("Best practices to handle notification"): 2xx is done; 500 is retried once; 503 four
//! times; 400 and 404 twice; 301, 302 and 303 never; 307 and 308 are followed with POST and the same
//! body, at most 5 redirects; anything else (other codes, timeouts, refused connections) five times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use reqwest::header::{HeaderValue, LOCATION};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

/// Midtrans waits 15 s for the merchant's answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// What Midtrans' notifications say they are.
pub const USER_AGENT: &str = "Veritrans";
/// Redirects followed within one attempt.
pub const MAX_REDIRECTS: usize = 5;
/// Every notification carries the sending server's instance id in this header, and every
/// pay-account-mock refuses a request that carries it (see `guard.rs`): a notification URL that
/// leads back to a mock (its own control API, say) would otherwise loop.
pub const INSTANCE_HEADER: &str = "x-pay-account-mock-instance";
/// The HTTP status of that refusal (508 Loop Detected).
pub const LOOP_STATUS: u16 = 508;

/// Clients shared by embedded servers, by (timeout, slots); building one is most of a server's
/// start-up. Bounded: past [`MAX_SHARED_CLIENTS`] distinct pairs, servers build their own.
static SHARED_CLIENTS: parking_lot::Mutex<Vec<((Duration, usize), reqwest::Client)>> =
    parking_lot::Mutex::new(Vec::new());
const MAX_SHARED_CLIENTS: usize = 16;

fn build_client(timeout: Duration, max_in_flight: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(max_in_flight)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the notification HTTP client: {e}"))
}

fn shared_client(timeout: Duration, max_in_flight: usize) -> Result<reqwest::Client, String> {
    let key = (timeout, max_in_flight);
    let mut clients = SHARED_CLIENTS.lock();
    if let Some((_, client)) = clients.iter().find(|(k, _)| *k == key) {
        return Ok(client.clone());
    }
    let client = build_client(timeout, max_in_flight)?;
    if clients.len() < MAX_SHARED_CLIENTS {
        clients.push((key, client.clone()));
    }
    Ok(client)
}

/// The HTTP client for notifications and the limit on attempts in flight.
pub struct Deliveries {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    /// This server's instance id, as the header value every notification carries.
    instance: HeaderValue,
    /// The attempts under way (at most one per slot), so that a reset can cancel them.
    in_flight: parking_lot::Mutex<rustc_hash::FxHashMap<tokio::task::Id, AbortHandle>>,
}

impl Deliveries {
    /// A shared connection pool; at most `max_in_flight` attempts at once, each within `timeout`;
    /// a fresh instance id. With `process_wide`, the client is shared with every other server of
    /// the process made with the same two values (embedded servers, whose threads live as long as
    /// the process, so a pooled connection never outlives the runtime that drives it).
    ///
    /// # Errors
    /// The HTTP client cannot be built (its TLS backend does not start): the server must not start
    /// with a client that has no timeout.
    pub fn new(
        timeout: Duration,
        max_in_flight: usize,
        process_wide: bool,
    ) -> Result<Self, String> {
        let client = if process_wide {
            shared_client(timeout, max_in_flight)?
        } else {
            build_client(timeout, max_in_flight)?
        };
        let instance = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .map_err(|e| format!("instance id: {e}"))?;
        Ok(Self {
            client,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            instance,
            in_flight: parking_lot::Mutex::default(),
        })
    }

    /// Keeps `attempt` (a task just spawned, not yet run) until it ends or is cancelled.
    pub(crate) fn track(&self, attempt: AbortHandle) {
        self.in_flight.lock().insert(attempt.id(), attempt);
    }

    /// Forgets an attempt that ended.
    pub(crate) fn untrack(&self, id: tokio::task::Id) {
        self.in_flight.lock().remove(&id);
    }

    /// Cancels every attempt under way: none of them sends or records anything more (one that is
    /// being polled at this very moment on another thread stops after that poll).
    pub fn cancel_all(&self) {
        for (_, attempt) in self.in_flight.lock().drain() {
            attempt.abort();
        }
    }

    /// This server's instance id, as sent in [`INSTANCE_HEADER`].
    pub fn instance(&self) -> &HeaderValue {
        &self.instance
    }

    /// The headers every attempt sends (besides `Host` and `Content-Length`), in order; the
    /// dashboard shows these very values.
    pub fn headers(&self) -> [(&'static str, &str); 4] {
        [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", USER_AGENT),
            (INSTANCE_HEADER, self.instance.to_str().unwrap_or_default()),
        ]
    }

    /// A slot for one attempt, if one is free; the attempt holds it until it ends.
    pub fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// POSTs `body` to `url`, following 307/308 with POST up to [`MAX_REDIRECTS`] times.
    pub async fn post(&self, url: &str, body: &str) -> AttemptResult {
        let started = Instant::now();
        let body = Bytes::copy_from_slice(body.as_bytes());
        let mut current = url.to_string();
        let mut redirects = 0;
        loop {
            let mut request = self.client.post(&current);
            for (name, value) in self.headers() {
                request = request.header(name, value);
            }
            let sent = request.body(body.clone()).send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    return AttemptResult {
                        duration: started.elapsed(),
                        redirects,
                        ..AttemptResult::failed(current, describe(&e))
                    };
                }
            };
            let status = response.status().as_u16();
            if status == LOOP_STATUS
                && let Some(refuser) = response.headers().get(INSTANCE_HEADER)
            {
                let whose = if refuser == self.instance {
                    "this server itself"
                } else {
                    "another pay-account-mock server"
                };
                return AttemptResult {
                    status: Some(status),
                    duration: started.elapsed(),
                    redirects,
                    loop_refused: true,
                    ..AttemptResult::failed(
                        current,
                        format!(
                            "refused: the notification URL leads to {whose}, which does not take notifications (a loop); not retried"
                        ),
                    )
                };
            }
            if matches!(status, 307 | 308) && redirects < MAX_REDIRECTS {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| response.url().join(l).ok())
                    // Kept with the attempt: no longer than a notification URL may be.
                    .filter(|next| next.as_str().len() <= crate::limits::URL_MAX_LEN);
                if let Some(next) = next {
                    current = next.to_string();
                    redirects += 1;
                    continue;
                }
            }
            return AttemptResult {
                final_url: current,
                status: Some(status),
                error: None,
                redirects,
                duration: started.elapsed(),
                loop_refused: false,
            };
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The URL that gave the final answer (after any 307/308 redirects).
    pub final_url: String,
    /// The final HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Why there was no answer (timeout, connection refused, bad URL, a loop refused, ...).
    pub error: Option<String>,
    pub redirects: usize,
    pub duration: Duration,
    /// The receiver is a pay-account-mock that refused the notification as a loop.
    pub loop_refused: bool,
}

impl AttemptResult {
    /// An attempt that got no usable answer. The error is kept to
    /// [`ATTEMPT_ERROR_MAX_BYTES`](crate::limits::ATTEMPT_ERROR_MAX_BYTES), as the state file holds
    /// it: an HTTP client's message can repeat a long URL, escaped.
    pub fn failed(url: String, error: String) -> Self {
        Self {
            final_url: url,
            status: None,
            error: Some(shortened(error, crate::limits::ATTEMPT_ERROR_MAX_BYTES)),
            redirects: 0,
            duration: Duration::ZERO,
            loop_refused: false,
        }
    }

    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else if e.is_builder() {
        "invalid URL".into()
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        msg
    }
}

/// `text` cut to at most `max` bytes, at a character's start.
fn shortened(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// How many retries a failure of this kind gets in total.
pub fn retries_for(result: &AttemptResult) -> u32 {
    if result.loop_refused {
        return 0;
    }
    match result.status {
        Some(200..=299) => 0,
        Some(500) => 1,
        Some(503) => 4,
        Some(400 | 404) => 2,
        Some(301..=303) => 0,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_status(status: Option<u16>) -> AttemptResult {
        AttemptResult {
            final_url: String::new(),
            status,
            error: None,
            redirects: 0,
            duration: Duration::ZERO,
            loop_refused: false,
        }
    }

    #[test]
    fn an_error_text_is_cut_at_a_character_within_the_bound() {
        let long = "é".repeat(crate::limits::ATTEMPT_ERROR_MAX_BYTES);
        let cut = shortened(long, crate::limits::ATTEMPT_ERROR_MAX_BYTES - 1);
        assert_eq!(cut.len(), crate::limits::ATTEMPT_ERROR_MAX_BYTES - 2);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(shortened("short".into(), 5), "short");
        let long = "x".repeat(2 * crate::limits::ATTEMPT_ERROR_MAX_BYTES);
        let kept = AttemptResult::failed(String::new(), long).error.unwrap();
        assert_eq!(kept.len(), crate::limits::ATTEMPT_ERROR_MAX_BYTES);
    }

    #[test]
    fn retry_budget_follows_the_documented_policy() {
        for (status, retries) in [
            (Some(200), 0),
            (Some(204), 0),
            (Some(500), 1),
            (Some(503), 4),
            (Some(400), 2),
            (Some(404), 2),
            (Some(301), 0),
            (Some(302), 0),
            (Some(303), 0),
            (Some(307), 5),
            (Some(502), 5),
            (Some(429), 5),
            (None, 5),
        ] {
            assert_eq!(retries_for(&with_status(status)), retries, "{status:?}");
        }
    }
}
