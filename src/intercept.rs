//! Around every Midtrans call (the guard sends them here while a journal or a fault rule is on):
//! the fault rules first ([`crate::faults`]), then the route, then the journal
//! ([`crate::journal`]), which records the answer as the client got it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::config::HttpStatusMode;
use crate::error::ApiError;
use crate::faults::{Answer, Effect, Facts, Fired, Preset};
use crate::journal::{Recording, RequestBody};
use crate::routing::routed_path;

/// The descriptor of the connection a request came on, so that a rule can drop it (and an export
/// whose client stopped reading can be cut, see `control/state.rs`).
#[derive(Clone, Copy)]
pub struct ConnectionFd(pub std::os::fd::RawFd);

impl ConnectionFd {
    /// Closes the connection in both directions: the client reads the end of the stream, and the
    /// connection's next read or write fails, so that it ends and frees what it holds. Only while
    /// the connection is open: its descriptor could otherwise name another socket by now.
    pub fn cut(self) {
        use std::os::fd::FromRawFd;
        // SAFETY: the caller holds the connection open (see above); `ManuallyDrop` keeps this
        // borrowed handle from closing the descriptor, which the connection owns.
        let stream =
            std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(self.0) });
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }

    /// Whether the client has closed its end (its read gives the end of the stream), without
    /// reading anything the connection would. A client that half-closes to wait for its answer
    /// reads as gone too, as nginx takes it: nothing tells the two apart without writing.
    fn peer_left(self) -> bool {
        use std::os::fd::FromRawFd;
        // SAFETY: as in `cut`: the connection is open while its request is served, and
        // `ManuallyDrop` leaves the descriptor to it. The socket is non-blocking (tokio's).
        let stream =
            std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(self.0) });
        let mut byte = [0u8; 1];
        match stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

/// How often a rule's delay or stall looks whether its client is still there.
const PEER_CHECK: Duration = Duration::from_millis(250);

/// Sleeps `length`, or until the client of `fd` leaves: a rule's delay or stall must not hold a
/// connection (and its descriptor) for minutes after a client that timed out. Returns whether it
/// left.
async fn sleep_while_there(fd: Option<ConnectionFd>, length: Duration) -> bool {
    let Some(fd) = fd else {
        tokio::time::sleep(length).await;
        return false;
    };
    let end = tokio::time::Instant::now() + length;
    loop {
        let now = tokio::time::Instant::now();
        if now >= end {
            return false;
        }
        tokio::time::sleep_until(end.min(now + PEER_CHECK)).await;
        if fd.peer_left() {
            return true;
        }
    }
}

/// The fault rules, the route, `--http-status mirror`, and the journal, for one Midtrans request.
pub async fn midtrans<B: MessageBody + 'static>(
    state: &AppState,
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    // When it arrived, for the journal (on the mock clock as it was then: a rule's delay may see
    // the clock moved); the rest of the request is copied with its answer. The same wall time
    // serves for the duration: one clock read fewer on every request.
    let arrived = state.journal.enabled().then(|| state.clock.instant());
    let fired = if state.faults.any() {
        match fire(state, &mut req).await {
            Ok(fired) => fired,
            Err(e) => {
                // The body could not be read: the answer the route would have given.
                let response = answered(req, HttpResponse::from_error(e));
                return Ok(finish(state, response, arrived, None));
            }
        }
    } else {
        None
    };
    let Some(fired) = fired else {
        let response = next.call(req).await?.map_into_left_body();
        return Ok(finish(state, response, arrived, None));
    };
    let fd = req.conn_data::<ConnectionFd>().copied();
    if !fired.delay.is_zero() && sleep_while_there(fd, fired.delay).await {
        // Nobody to answer: the route is not run (nothing changes that no one hears of), and the
        // journal shows no answer, as for a dropped connection.
        drop_connection(&req);
        let gone = Fired {
            effect: std::sync::Arc::new(Effect::Drop),
            ..fired
        };
        let response = answered(req, HttpResponse::new(StatusCode::INTERNAL_SERVER_ERROR));
        return Ok(finish(state, response, arrived, Some(&gone)));
    }
    let response = match &*fired.effect {
        Effect::Delay => next.call(req).await?.map_into_left_body(),
        Effect::Answer(answer) => answered(req, respond(answer)),
        Effect::Drop => {
            drop_connection(&req);
            answered(req, HttpResponse::new(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Effect::Stall(answer, stall) => {
            let response = respond(answer).set_body(BoxBody::new(Stalled(Box::pin(
                sleep_while_there(fd, *stall),
            ))));
            answered(req, response)
        }
    };
    Ok(finish(state, response, arrived, Some(&fired)))
}

/// `req` answered with `response`, which keeps its error (for `--http-status mirror`).
fn answered<B>(req: ServiceRequest, response: HttpResponse) -> ServiceResponse<EitherBody<B>> {
    let (req, _) = req.into_parts();
    ServiceResponse::new(req, response).map_into_right_body()
}

/// The rule that fires on `req`, if any. Reads the body first when a rule matches on the phone
/// number of a create, and puts it back for the route; only when the route would read it too, so
/// that a request it refuses first (no key, a form) gets that answer, not the body's.
async fn fire(state: &AppState, req: &mut ServiceRequest) -> Result<Option<Fired>, ApiError> {
    let server_key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| crate::auth::parse_basic(v.to_str().ok()?));
    let mut phone_number = None;
    if state.faults.wants_phone()
        && req.method() == Method::POST
        && routed_path(req.request()) == "/v2/pay/account"
        && crate::auth::server_key(req.request(), &state.server_keys).is_ok()
        && crate::api::check_content_type(req.request()).is_ok()
    {
        let (http_req, payload) = req.parts_mut();
        let payload = web::Payload::from_request(http_req, payload)
            .await
            .map_err(|_| ApiError::Malformed)?;
        let body = crate::api::read_body(state, req.request(), payload).await?;
        phone_number = crate::api::create::phone_number_of(&body);
        req.set_payload(Payload::from(body));
    }
    Ok(state.faults.fire(&Facts {
        method: req.method().as_str(),
        path: routed_path(req.request()),
        server_key: server_key.as_deref(),
        phone_number: phone_number.as_deref(),
    }))
}

/// A rule's answer.
fn respond(answer: &Answer) -> HttpResponse {
    match answer {
        Answer::Preset(Preset::InternalError) => HttpResponse::from_error(ApiError::Internal),
        Answer::Preset(Preset::Unavailable) => HttpResponse::from_error(ApiError::Unavailable),
        Answer::Preset(Preset::RateLimited) => HttpResponse::from_error(ApiError::RateLimited),
        Answer::Preset(Preset::GopayTimeout) => HttpResponse::from_error(ApiError::GopayTimeout),
        Answer::Preset(Preset::IntermittentGopayError) => HttpResponse::Ok().json(json!({
            "status_code": "202",
            "payment_type": "gopay",
            "channel_response_code": "901",
            "channel_response_message": "Intermittent gopay error",
        })),
        Answer::Custom {
            status,
            body,
            json,
            headers,
        } => {
            let mut response = HttpResponse::build(*status);
            if *json {
                response.content_type("application/json");
            } else {
                response.content_type("text/plain; charset=utf-8");
            }
            for (name, value) in headers {
                response.insert_header((name.as_str(), value.as_str()));
            }
            response.body(body.clone())
        }
    }
}

/// Closes the request's connection in both directions: the client reads the end of the stream
/// where its answer should be. The route's answer is never written.
fn drop_connection(req: &ServiceRequest) {
    // The connection outlives the request.
    if let Some(&fd) = req.conn_data::<ConnectionFd>() {
        fd.cut();
    }
}

/// A body that sends nothing until its time is up (or its client leaves), then breaks the
/// connection.
struct Stalled(Pin<Box<dyn Future<Output = bool>>>);

impl MessageBody for Stalled {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        match self.0.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Some(Err(std::io::Error::other(
                "a fault rule stalled this answer",
            )))),
        }
    }
}

/// Applies `--http-status mirror`, then records the request and its answer.
fn finish<B: MessageBody + 'static>(
    state: &AppState,
    mut response: ServiceResponse<EitherBody<B>>,
    arrived: Option<crate::clock::Instant>,
    fired: Option<&Fired>,
) -> ServiceResponse<EitherBody<B>> {
    if state.http_status == HttpStatusMode::Mirror {
        crate::api::mirror(&mut response);
    }
    let Some(arrived) = arrived else {
        return response;
    };
    let (req, res) = response.into_parts();
    let status = match fired.map(|f| &*f.effect) {
        Some(Effect::Drop) => 0,
        _ => res.status().as_u16(),
    };
    let (res, body) = res.into_parts();
    let stalled = matches!(fired.map(|f| &*f.effect), Some(Effect::Stall(..)));
    let answer = if stalled {
        Err(body)
    } else {
        body.try_into_bytes()
    };
    {
        let extensions = req.extensions();
        state.journal.record(Recording {
            at_ms: arrived.ms(),
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            body: extensions.get::<RequestBody>().map(|b| &b.0[..]),
            response: answer.as_ref().map_or(&[][..], |b| &b[..]),
            status,
            duration: SystemTime::now()
                .duration_since(arrived.wall)
                .unwrap_or_default(),
            fault: fired.map(|f| f.rule),
        });
    }
    let body = match answer {
        Ok(bytes) => EitherBody::right(BoxBody::new(bytes)),
        Err(body) => body,
    };
    ServiceResponse::new(req, res.set_body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stalled_bodies_have_no_length() {
        let body = Stalled(Box::pin(sleep_while_there(None, Duration::from_millis(1))));
        assert_eq!(body.size(), BodySize::Stream);
        let mut body = std::pin::pin!(body);
        let next = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        assert!(matches!(next, Some(Err(_))));
    }
}
