//! What every request passes before it reaches a route, whatever its dialect:
//!
//! - **Loops.** A request carrying a pay-account-mock instance id (every notification a mock sends
//!   does, see `notifications/delivery.rs`) is refused with 508: a notification URL that leads back
//!   into a mock, such as its own `/__admin/notifications/1/retry`, would otherwise loop for ever.
//! - **DNS rebinding.** The `Host` header must name this server: `localhost`, a loopback address, the
//!   address it listens on (any IP address when it listens on all of them), the `--public-url` host,
//!   or an `--allowed-host`. A page whose own name was rebound to 127.0.0.1 carries its name, and is
//!   refused with 421.
//! - **Cross-site requests.** A state-changing request (not GET, HEAD or OPTIONS) to the control API,
//!   the dashboard or the activation pages that a browser marks as coming from another site (an
//!   `Origin` other than this server's, see [`crate::hosts::Hosts::same_origin`], or
//!   `Sec-Fetch-Site: cross-site`) is refused with 403, and so is a read of the control API's JSON
//!   that is not a navigation. Scripts (curl, the official clients, test code) send neither header
//!   and are unaffected. The pages also tell browsers not to show them in another site's frame
//!   ([`crate::pages`]), where that site could click their buttons.
//! - **Logging.** One line per request at debug level.
//! - **`--http-status mirror`**, applied to every answer on its way out ([`crate::api::mirror`]).
//! - **Faults and the journal** around the Midtrans routes ([`crate::intercept`]).
//!
//! Each refusal is answered in the dialect of the path: the control API's JSON under `/__admin`
//! (HTML for the dashboard's pages), an HTML page on the activation pages, the Midtrans envelope
//! elsewhere.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use crate::app::AppState;
use crate::config::HttpStatusMode;
use crate::control::ControlError;
use crate::error::ApiError;
use crate::notifications::delivery::INSTANCE_HEADER;
use crate::pages::{Look, PageError};
use crate::routing::routed_path;

/// Why a request was refused.
enum Refusal {
    Loop,
    ForeignHost(String),
    CrossSite,
}

/// The dialect a path speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Midtrans,
    Control,
    Page(Look),
}

fn dialect(path: &str) -> Dialect {
    if path == "/__admin" || path == "/__admin/" || path.starts_with("/__admin/ui/") {
        Dialect::Page(Look::Dashboard)
    } else if path.starts_with("/__admin/") {
        Dialect::Control
    } else if path.starts_with("/v2/gopay/redirect/") {
        Dialect::Page(Look::Card)
    } else {
        Dialect::Midtrans
    }
}

/// The middleware (`middleware::from_fn(guard::check)`).
pub async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let _serving = state.serving();
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let Some(refusal) = refusal(&req, &state, changes_state) {
        let mut response = refuse(refusal, dialect(routed_path(req.request())));
        tracing::debug!(
            method = %req.method(),
            path = req.path(),
            status = response.status().as_u16(),
            "refused before routing"
        );
        // reqwest and actix carry different `http` versions: the value crosses as bytes.
        if let Ok(value) = header::HeaderValue::from_bytes(state.deliveries.instance().as_bytes()) {
            response.headers_mut().insert(INSTANCE.clone(), value);
        }
        return Ok(req.into_response(response).map_into_right_body());
    }
    let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| {
        (
            std::time::Instant::now(),
            req.method().clone(),
            req.path().to_string(),
        )
    });
    let watched = state.journal.enabled() || state.faults.any();
    let response = if watched && dialect(routed_path(req.request())) == Dialect::Midtrans {
        crate::intercept::midtrans(&state, req, next).await?
    } else {
        let mut response = next.call(req).await?;
        if state.http_status == HttpStatusMode::Mirror {
            crate::api::mirror(&mut response);
        }
        response.map_into_left_body()
    };
    if changes_state && state.state_file.is_some() {
        // After the answer, so that a save that sees the new revision sees the change too. Only
        // with a state file: the counter is shared by every worker.
        state.changed();
    }
    if let Some((started, method, path)) = logged {
        tracing::debug!(
            %method,
            path,
            status = response.status().as_u16(),
            us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    }
    Ok(response)
}

/// The loop guard's header, parsed once.
static INSTANCE: header::HeaderName = header::HeaderName::from_static(INSTANCE_HEADER);
static SEC_FETCH_SITE: header::HeaderName = header::HeaderName::from_static("sec-fetch-site");
static SEC_FETCH_MODE: header::HeaderName = header::HeaderName::from_static("sec-fetch-mode");
static SEC_FETCH_DEST: header::HeaderName = header::HeaderName::from_static("sec-fetch-dest");

fn refusal(req: &ServiceRequest, state: &AppState, changes_state: bool) -> Option<Refusal> {
    let headers = req.headers();
    if headers.contains_key(&INSTANCE) {
        return Some(Refusal::Loop);
    }
    // A `Host` that is not text names no host of this server: it is refused, not skipped. So is a
    // request target in absolute form (`GET http://name/...`) naming another host: its name is the
    // request's host (RFC 9112 3.2.2). (A second `Host` never gets here: the HTTP layer refuses
    // it with 400.)
    let authority = req.uri().authority().map(|a| a.as_str());
    let host = match headers.get(header::HOST) {
        Some(h) => Some(h.to_str().unwrap_or("")),
        None => authority,
    };
    if let Some(foreign) = [host, authority]
        .into_iter()
        .flatten()
        .find(|h| !state.allowed_hosts.allows(h))
    {
        return Some(Refusal::ForeignHost(foreign.to_string()));
    }
    let dialect = dialect(routed_path(req.request()));
    let refused = match dialect {
        Dialect::Midtrans => false,
        _ if changes_state => cross_site(req, state, host),
        // Reading the control API's JSON from another origin's page (an `<img>` or a frame of
        // `/__admin/state` holds a transfer place for every load) has no use: refused but for
        // a top-level navigation (a link followed to look at a list). Another port of the same
        // host is another origin, though the browser calls it `same-site`.
        Dialect::Control => {
            (cross_site(req, state, host) || not_same_origin(req)) && !top_level_navigation(req)
        }
        Dialect::Page(_) => false,
    };
    refused.then_some(Refusal::CrossSite)
}

/// A browser says the request comes from a page on another site.
fn cross_site(req: &ServiceRequest, state: &AppState, host: Option<&str>) -> bool {
    let headers = req.headers();
    if headers
        .get(&SEC_FETCH_SITE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    // `Origin: null`, or no Host to compare with, is another site's.
    !origin
        .to_str()
        .is_ok_and(|origin| state.allowed_hosts.same_origin(origin, host))
}

/// A browser says the request comes from a page of another origin, even of this site (another
/// port): `Sec-Fetch-Site` other than `same-origin` or `none` (typed in, a bookmark).
fn not_same_origin(req: &ServiceRequest) -> bool {
    req.headers().get(&SEC_FETCH_SITE).is_some_and(|v| {
        let v = v.as_bytes();
        !v.eq_ignore_ascii_case(b"same-origin") && !v.eq_ignore_ascii_case(b"none")
    })
}

/// A browser's top-level navigation: `Sec-Fetch-Mode: navigate` for a document, not for a frame,
/// an `<object>` or an `<embed>` (which navigate too, and which another site's page can load
/// without the user).
fn top_level_navigation(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers
        .get(&SEC_FETCH_MODE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"navigate"))
        && headers
            .get(&SEC_FETCH_DEST)
            .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"document"))
}

fn refuse(refusal: Refusal, dialect: Dialect) -> HttpResponse {
    match dialect {
        Dialect::Midtrans => match refusal {
            Refusal::Loop => ApiError::LoopDetected,
            Refusal::ForeignHost(_) | Refusal::CrossSite => ApiError::ForeignHost,
        }
        .error_response(),
        Dialect::Control => match refusal {
            Refusal::Loop => ControlError::LoopDetected,
            Refusal::ForeignHost(host) => ControlError::ForeignHost(host),
            Refusal::CrossSite => ControlError::CrossSite,
        }
        .error_response(),
        Dialect::Page(look) => {
            let (status, title, message) = match refusal {
                Refusal::Loop => (
                    StatusCode::LOOP_DETECTED,
                    "Loop refused",
                    "This is a pay-account-mock notification; a mock server does not take notifications.".to_string(),
                ),
                Refusal::ForeignHost(host) => (
                    StatusCode::MISDIRECTED_REQUEST,
                    "Unknown host",
                    format!("This server does not answer to the host name '{host}'. Start it with --allowed-host to allow it."),
                ),
                Refusal::CrossSite => (
                    StatusCode::FORBIDDEN,
                    "Cross-site request refused",
                    "This form was sent from a page on another site. Use the page this server shows.".to_string(),
                ),
            };
            PageError::new(look, status, title, message).error_response()
        }
    }
}
