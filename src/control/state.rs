//! `/__admin/state`: the whole state as the state file holds it ([`crate::state_file`]), so that a
//! QA tester can hand a reproducible state to a developer and a CI job can start from a saved one.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;

use super::{ControlError, method_not_allowed};
use crate::app::AppState;
use crate::intercept::ConnectionFd;
use crate::state_file;
use crate::{limits, routing};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/state")
            .route(routing::get().to(export))
            .route(routing::put().to(import))
            .default_service(web::to(method_not_allowed)),
    );
}

/// One of the places for a whole document in memory, or the answer that none is free.
fn transfer_place(state: &AppState) -> Result<OwnedSemaphorePermit, ControlError> {
    state.state_transfers.clone().try_acquire_owned().map_err(|_| {
        ControlError::Busy(format!(
            "{0} exports or imports of the whole state are under way (at most {0}); try again when one has ended",
            limits::STATE_TRANSFERS
        ))
    })
}

/// The document, read and written on a blocking thread (it may hold millions of accounts). Its
/// place goes with the work, so that a client that leaves does not free it before the work ends,
/// and then into the answer, until the client has taken the last byte: clients that ask and do not
/// read cannot pile documents up in memory. A client that takes nothing of it for `--body-timeout`
/// has its connection cut, so that it cannot hold its place for ever.
async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ControlError> {
    let place = transfer_place(&state)?;
    let app = state.clone();
    let (body, place) = web::block(move || {
        let body = state_file::retrying(|| {
            let mut body = Vec::new();
            state_file::export(&app, &mut body).map(|_| body)
        });
        (body, place)
    })
    .await
    .map_err(|e| ControlError::Internal(format!("the export failed: {e}")))?;
    let body = body
        .map_err(|e| ControlError::Internal(format!("the export failed: {e}")))?
        .ok_or_else(|| {
            ControlError::Busy(format!(
                "the state was reset or replaced at each of {} tries to read it; try again",
                state_file::TRIES
            ))
        })?;
    let taken_at = Rc::new(Cell::new(Instant::now()));
    let (gone_tx, gone) = oneshot::channel();
    if let Some(&fd) = req.conn_data::<ConnectionFd>() {
        actix_web::rt::spawn(cut_when_stalled(
            fd,
            Rc::downgrade(&taken_at),
            gone,
            state.body_timeout,
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(Placed {
            rest: Bytes::from(body),
            taken_at,
            _place: place,
            _gone: gone_tx,
        }))
}

/// Cuts the connection `fd` once its answer has lain untaken for `idle`, and ends as soon as the
/// answer is gone (sent, or dropped with its connection: `gone` closes), so that a client fetching
/// small states in a loop leaves no task asleep for `idle` behind each. It runs on the
/// connection's own thread, so that nothing can close the connection between the check that the
/// answer is still there and the cut.
async fn cut_when_stalled(
    fd: ConnectionFd,
    taken_at: Weak<Cell<Instant>>,
    mut gone: oneshot::Receiver<()>,
    idle: Duration,
) {
    loop {
        let Some(at) = taken_at.upgrade().map(|t| t.get()) else {
            return;
        };
        // `--body-timeout` is at most an hour; a time past the clock's range is never due.
        let Some(due) = at.checked_add(idle) else {
            return;
        };
        if Instant::now() >= due {
            tracing::debug!(
                "GET /__admin/state: the client took nothing for --body-timeout; connection cut"
            );
            fd.cut();
            return;
        }
        tokio::select! {
            _ = &mut gone => return,
            () = tokio::time::sleep_until(due) => {}
        }
    }
}

/// An answer that holds a transfer place until its last byte is taken.
struct Placed {
    rest: Bytes,
    /// When the connection last took a piece.
    taken_at: Rc<Cell<Instant>>,
    _place: OwnedSemaphorePermit,
    /// Dropped with the answer, which ends its watch.
    _gone: oneshot::Sender<()>,
}

/// What the connection takes at a time.
const PIECE: usize = 64 << 10;

impl MessageBody for Placed {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.rest.len() as u64)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.rest.len().min(PIECE);
        this.taken_at.set(Instant::now());
        Poll::Ready(Some(Ok(this.rest.split_to(n))))
    }
}

/// Checks the whole document first: a bad one changes nothing.
async fn import(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    // Taken when the body (the document) begins to arrive, not with the head: a client that sends
    // a head and nothing more holds no place. Then moved into the work: a client that leaves while
    // its body arrives frees it, one that leaves during the work does not.
    let limit = usize::try_from(state_file::MAX_BYTES).unwrap_or(usize::MAX);
    let mut payload = payload;
    let started = crate::body::first_chunk(&req, &mut payload, limit, state.body_timeout).await?;
    let place = transfer_place(&state)?;
    let body = crate::body::read_rest(&req, started, payload, limit).await?;
    let app = state.clone();
    // Counted as served until the work ends: a pooled server whose test left during an import
    // must not be handed to the next test, whose state the import would then replace.
    let serving = state.serving();
    let counts = web::block(move || -> Result<_, String> {
        let _place = place;
        let _serving = serving;
        let large = body.len() >= state_file::GIVE_BACK_FROM_BYTES;
        let imported = state_file::parse(&body).and_then(|doc| {
            let prepared = state_file::prepare(&app, doc)?;
            state_file::import(&app, prepared);
            Ok((
                app.store.len(),
                app.transactions.len(),
                app.notifications.len(),
            ))
        });
        drop(body);
        if large {
            crate::app::give_back_memory();
        }
        imported
    })
    .await
    .map_err(|e| ControlError::Internal(format!("the import failed: {e}")))?
    .map_err(ControlError::BadRequest)?;
    Ok(HttpResponse::Ok().json(json!({
        "imported": {
            "accounts": counts.0,
            "transactions": counts.1,
            "notifications": counts.2,
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watch of an export ends with its answer, not `--body-timeout` later: a client that
    /// fetches small states in a loop would otherwise leave a sleeping task behind each.
    #[tokio::test]
    async fn the_watch_ends_with_the_answer() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = ConnectionFd(std::os::fd::AsRawFd::as_raw_fd(&socket));
        let taken_at = Rc::new(Cell::new(Instant::now()));
        let (gone_tx, gone) = oneshot::channel();
        let watch = cut_when_stalled(
            fd,
            Rc::downgrade(&taken_at),
            gone,
            Duration::from_secs(3600),
        );
        drop(gone_tx);
        tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .expect("the watch ended with its answer");
    }
}
