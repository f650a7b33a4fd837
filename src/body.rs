//! Reading a request body, for every route and dialect alike: at most `--max-body-bytes`, arriving in
//! full within `--body-timeout`, however it trickles in. Each dialect turns a [`BodyError`] into its
//! own answer (the Midtrans envelope, the control API's JSON, an HTML page).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_core::Stream;

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
    read_after(req, None, payload, limit, timeout).await
}

/// What [`first_chunk`] found: the first piece of a body, and the time left to read the rest in.
pub struct Started {
    first: Option<web::Bytes>,
    left: Duration,
}

/// Waits, at most `timeout`, for the first piece of the body (or its end, if it has none), for a
/// route that must not hold anything for a client that sent a head and nothing more. The rest is
/// read with [`read_rest`], within what is left of `timeout`.
///
/// # Errors
/// [`BodyError`]: declared too large, nothing in time, or broken.
pub async fn first_chunk(
    req: &HttpRequest,
    payload: &mut web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<Started, BodyError> {
    if declared_over(req, limit) {
        return Err(BodyError::TooLarge);
    }
    let started = tokio::time::Instant::now();
    let first = std::future::poll_fn(|cx| Pin::new(&mut *payload).poll_next(cx));
    let first = tokio::time::timeout(timeout, first)
        .await
        .map_err(|_| BodyError::Timeout)?
        .transpose()
        .map_err(|_| BodyError::Broken)?;
    Ok(Started {
        first,
        left: timeout.saturating_sub(started.elapsed()),
    })
}

/// The rest of a body [`first_chunk`] began, as [`read`] reads a whole one.
///
/// # Errors
/// [`BodyError`]: too large, too slow, or broken.
pub async fn read_rest(
    req: &HttpRequest,
    started: Started,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    read_after(req, started.first, payload, limit, started.left).await
}

async fn read_after(
    req: &HttpRequest,
    first: Option<web::Bytes>,
    payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::Bytes, BodyError> {
    if declared_over(req, limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = std::pin::pin!(collect(first, payload, limit));
    // The timer is armed only for a body still on its way after the handler's second poll: actix
    // polls a handler once before it feeds the body that came with the head, and then again in
    // the same turn, so most bodies are whole by then and never pay for a timer. The first
    // pending poll wakes its own task, so that the second poll comes even if no data does.
    let mut polls = 0u8;
    let early = std::future::poll_fn(|cx| match body.as_mut().poll(cx) {
        Poll::Ready(read) => Poll::Ready(Some(read)),
        Poll::Pending if polls == 0 => {
            polls = 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    match early {
        Some(read) => read,
        None => tokio::time::timeout(timeout, body)
            .await
            .unwrap_or(Err(BodyError::Timeout)),
    }
}

/// Whether the body's declared length is over `limit`.
fn declared_over(req: &HttpRequest, limit: usize) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// The body's chunks (after `first`, when one was read already), at most `limit` bytes. A body that
/// comes in one chunk (most do: it arrived with the head) is that chunk, not a copy of it.
async fn collect(
    mut first: Option<web::Bytes>,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    if first.as_ref().is_some_and(|f| f.len() > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut joined = web::BytesMut::new();
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        // `joined` starts as a copy of `first`: counted once.
        let so_far = if joined.is_empty() {
            first.as_ref().map_or(0, web::Bytes::len)
        } else {
            joined.len()
        };
        if so_far.saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        match &first {
            None => first = Some(chunk),
            Some(first) => {
                if joined.is_empty() {
                    joined.extend_from_slice(first);
                }
                joined.extend_from_slice(&chunk);
            }
        }
    }
    Ok(if joined.is_empty() {
        first.unwrap_or_default()
    } else {
        joined.freeze()
    })
}
