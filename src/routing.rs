//! Route helpers shared by every dialect.

use actix_web::http::Method;
use actix_web::{Route, guard, web};

/// A route for GET that answers HEAD the same way (without the body: the HTTP layer drops it).
pub fn get() -> Route {
    web::route().guard(guard::fn_guard(|ctx| is_get(&ctx.head().method)))
}

/// Whether `method` is one a [`get`] route answers; for paths dispatched by hand.
pub fn is_get(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}
