//! One delivery attempt over HTTP, and Midtrans' retry policy by response class.
//!
//! Midtrans ("Best practices to handle notification"): 2xx is done; 500 is retried once; 503 four
//! times; 400 and 404 twice; 301, 302 and 303 never; 307 and 308 are followed with POST and the same
//! body, at most 5 redirects; anything else (other codes, timeouts, refused connections) five times.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};

/// Midtrans waits 15 s for the merchant's answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects followed within one attempt.
pub const MAX_REDIRECTS: usize = 5;

/// The HTTP client for notifications: built once, redirects handled by hand (see [`post`]).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Veritrans")
        .build()
        .unwrap_or_default()
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The URL that gave the final answer (after any 307/308 redirects).
    pub final_url: String,
    /// The final HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Why there was no answer (timeout, connection refused, bad URL, ...).
    pub error: Option<String>,
    pub redirects: usize,
    pub duration: Duration,
}

impl AttemptResult {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// POSTs `body` to `url`, following 307/308 with POST up to [`MAX_REDIRECTS`] times.
pub async fn post(client: &reqwest::Client, url: &str, body: &str) -> AttemptResult {
    let started = Instant::now();
    let mut current = url.to_string();
    let mut redirects = 0;
    loop {
        let sent = client
            .post(&current)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_owned())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return AttemptResult {
                    final_url: current,
                    status: None,
                    error: Some(describe(&e)),
                    redirects,
                    duration: started.elapsed(),
                };
            }
        };
        let status = response.status().as_u16();
        if matches!(status, 307 | 308) && redirects < MAX_REDIRECTS {
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok());
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
        };
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

/// How many retries a failure of this kind gets in total.
pub fn retries_for(result: &AttemptResult) -> u32 {
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
        }
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
