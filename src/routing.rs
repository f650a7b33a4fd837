//! Route helpers shared by every dialect.
//!
//! Routes are guarded here rather than with `web::post()` and its siblings: actix-web's method
//! guard records its method in the request's extensions on every request it sees (for an `Allow`
//! header; here every resource answers other methods itself, in its dialect), which allocated
//! three times per request (see BENCHMARKS.md). These guards only compare.

use actix_web::http::Method;
use actix_web::{HttpRequest, Route, guard, web};

/// The path as the router matches it: escapes of characters that need none decoded (`%5F` is `_`,
/// `%61` is `a`), where [`HttpRequest::path`] is the path as sent. Every decision about which part
/// of the server a request is for (its dialect, the cross-site check, fault rules) reads this one:
/// a path sorted as sent but served as routed let `/%5F%5Fadmin/reset` pass as a Midtrans call,
/// past the cross-site check.
pub fn routed_path(req: &HttpRequest) -> &str {
    req.match_info().as_str()
}

/// A path as sent, as [`routed_path`] would give it: for a path kept as sent (the journal's), so
/// that a filter finds `/v2/pay/%61ccount` as the route and the fault rules saw it.
pub fn routed_form(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return path.into();
    }
    match actix_web::http::Uri::try_from(path) {
        Ok(uri) => actix_web::dev::Url::new(uri).path().to_owned().into(),
        Err(_) => path.into(),
    }
}

/// A route for GET that answers HEAD the same way (without the body: the HTTP layer drops it).
pub fn get() -> Route {
    web::route().guard(guard::fn_guard(|ctx| is_get(&ctx.head().method)))
}

/// Whether `method` is one a [`get`] route answers; for paths dispatched by hand.
pub fn is_get(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// A route for `method` alone.
pub fn method(method: Method) -> Route {
    web::route().guard(guard::fn_guard(move |ctx| ctx.head().method == method))
}

pub fn post() -> Route {
    method(Method::POST)
}

pub fn put() -> Route {
    method(Method::PUT)
}

pub fn patch() -> Route {
    method(Method::PATCH)
}

pub fn delete() -> Route {
    method(Method::DELETE)
}
