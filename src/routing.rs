//! Route helpers shared by every dialect.

use actix_web::{Route, guard, web};

/// A route for GET that answers HEAD the same way (without the body: the HTTP layer drops it).
pub fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
