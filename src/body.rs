//! Reading a request body, for every route and dialect alike: at most `--max-body-bytes`, arriving in
//! full within `--body-timeout`, however it trickles in. Each dialect turns a [`BodyError`] into its
//! own answer (the Midtrans envelope, the control API's JSON, an HTML page).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, web};

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Declared or sent larger than the limit.
    TooLarge,
    /// Not all of it arrived in time.
    Timeout,
    /// The stream broke (bad chunked framing, a reset connection).
    Broken,
}

/// Reads the body of `req` within `limit` bytes and `timeout`.
///
/// # Errors
/// [`BodyError`]: too large, too slow, or broken.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::Bytes, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(timeout, payload.to_bytes_limited(limit)).await {
        Ok(Ok(Ok(bytes))) => Ok(bytes),
        Ok(Ok(Err(_))) => Err(BodyError::Broken),
        Ok(Err(_)) => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Timeout),
    }
}
