//! `/__admin/requests`: the journal of Midtrans requests, so that a test can check which calls its
//! code made: list with filters, find and count with a matcher, forget.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, merchant_scope, method_not_allowed, read_json};
use crate::app::AppState;
use crate::journal::Matcher;
use crate::paging;
use crate::routing;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/requests")
            .route(routing::get().to(list))
            .route(routing::delete().to(forget))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/requests/find")
            .route(routing::post().to(find))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/requests/count")
            .route(routing::post().to(count))
            .default_service(web::to(method_not_allowed)),
    );
}

/// A time as a query or matcher gives it: RFC 3339, or milliseconds since the epoch.
#[derive(Deserialize)]
#[serde(untagged)]
enum Since {
    Ms(u64),
    Text(String),
}

impl Since {
    fn ms(&self) -> Result<u64, ControlError> {
        match self {
            Self::Ms(ms) => Ok(*ms),
            Self::Text(t) => {
                if let Ok(ms) = t.trim().parse::<u64>() {
                    return Ok(ms);
                }
                humantime::parse_rfc3339_weak(t.trim())
                    .ok()
                    .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(crate::clock::duration_ms)
                    .ok_or_else(|| {
                        ControlError::BadRequest(format!(
                            "since must be an RFC 3339 time (2026-01-31T12:00:00Z) or milliseconds since the epoch, got '{}'",
                            t.escape_debug()
                        ))
                    })
            }
        }
    }
}

/// `GET /__admin/requests` filters and page.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    server_key: Option<String>,
    method: Option<String>,
    path: Option<String>,
    status_code: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The matcher of `find` and `count`; `find` also takes a page.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MatcherBody {
    method: Option<String>,
    path: Option<String>,
    server_key: Option<String>,
    body: Option<Value>,
    status_code: Option<String>,
    status: Option<u16>,
    since: Option<Since>,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl MatcherBody {
    fn matcher(self) -> Result<Matcher, ControlError> {
        Ok(Matcher {
            since_ms: self.since.as_ref().map(Since::ms).transpose()?,
            method: self.method,
            path: self.path,
            server_key: self.server_key,
            body: self.body,
            status_code: self.status_code,
            status: self.status,
        })
    }
}

/// Runs a journal query on a blocking thread: matching may parse every body the journal holds (up
/// to 64 MiB), which must not hold up the requests a worker serves. At most
/// [`QUERIES_AT_ONCE`](crate::journal::QUERIES_AT_ONCE) run at once; the others wait their turn.
async fn off_worker<R: Send + 'static>(
    state: &web::Data<AppState>,
    query: impl FnOnce(&AppState) -> R + Send + 'static,
) -> Result<R, ControlError> {
    let state = state.clone();
    let turn = state.journal.query_turn().await;
    web::block(move || {
        let _turn = turn;
        query(&state)
    })
    .await
    .map_err(|_| {
        ControlError::Internal("the server is stopping: the journal query did not run".into())
    })
}

/// A page of entries, written as JSON on the blocking thread. It ends early, with a cursor, once it
/// holds [`crate::limits::PAGE_BYTES`]: a thousand entries of large bodies would otherwise make one
/// answer of hundreds of megabytes.
async fn page(
    state: &web::Data<AppState>,
    matcher: Matcher,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<HttpResponse, ControlError> {
    let (limit, before) = paging::request(limit, cursor).map_err(ControlError::BadRequest)?;
    let body = off_worker(state, move |s| {
        let (found, next) = s.journal.find(&matcher, before, limit);
        paging::write_bounded(
            "requests",
            &found,
            next,
            |e| e.id,
            |out, e| serde_json::to_writer(out, &e.view()),
        )
    })
    .await?
    .map_err(|e| ControlError::Internal(format!("the page could not be written: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// `GET /__admin/requests[?server_key=&method=&path=&status_code=&since=&limit=&cursor=]`: newest
/// first.
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ControlError> {
    let q = query.into_inner();
    let matcher = Matcher {
        since_ms: q.since.map(|s| Since::Text(s).ms()).transpose()?,
        method: q.method,
        path: q.path,
        server_key: q.server_key,
        status_code: q.status_code,
        ..Matcher::default()
    };
    page(&state, matcher, q.limit, q.cursor.as_deref()).await
}

/// `POST /__admin/requests/find` with a matcher: the requests that match, newest first.
async fn find(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let mut body: MatcherBody = read_json(&state, &req, payload).await?;
    let (limit, cursor) = (body.limit.take(), body.cursor.take());
    page(&state, body.matcher()?, limit, cursor.as_deref()).await
}

/// `POST /__admin/requests/count` with a matcher: how many requests match.
async fn count(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let body: MatcherBody = read_json(&state, &req, payload).await?;
    if body.limit.is_some() || body.cursor.is_some() {
        return Err(ControlError::BadRequest(
            "count takes no limit or cursor: it counts every match".into(),
        ));
    }
    let matcher = body.matcher()?;
    let n = off_worker(&state, move |s| s.journal.count(&matcher)).await?;
    Ok(HttpResponse::Ok().json(json!({ "count": n })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgetQuery {
    server_key: Option<String>,
}

/// `DELETE /__admin/requests[?server_key=]`.
async fn forget(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ForgetQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let key = merchant_scope(&state, &req, query.into_inner().server_key, payload).await?;
    // One key's entries are found by decoding every entry's credentials.
    let deleted = off_worker(&state, move |s| s.journal.clear(key.as_deref())).await?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}
