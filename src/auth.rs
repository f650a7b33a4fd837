//! Midtrans authentication: HTTP Basic with the server key as the username and an empty password.
//!
//! The key also scopes the data: each key sees only the accounts it created (plus shared fixtures),
//! which is what lets parallel CI jobs share one server.

use std::future::{Ready, ready};

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;

use crate::app::AppState;
use crate::error::ApiError;

/// The server key of a Midtrans request, as an extractor: a handler that takes it answers `"401"`
/// before anything else when the key is missing or not accepted.
pub struct ServerKey(pub String);

impl FromRequest for ServerKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let accepted = req
            .app_data::<web::Data<AppState>>()
            .map_or(&[][..], |state| state.server_keys.as_slice());
        ready(server_key(req, accepted).map(ServerKey))
    }
}

/// The server key of a request. With `accepted` empty any non-empty key passes; otherwise the key must
/// be one of them. The password part is ignored, as the clients always send it empty.
///
/// # Errors
/// [`ApiError::Unauthorized`] for a missing, malformed, empty or unaccepted key.
pub fn server_key(req: &HttpRequest, accepted: &[String]) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let key = parse_basic(value).ok_or(ApiError::Unauthorized)?;
    if accepted.is_empty() || accepted.contains(&key) {
        Ok(key)
    } else {
        Err(ApiError::Unauthorized)
    }
}

thread_local! {
    /// The last credential decoded on this thread, and its username: a client sends the same one
    /// with every request, and decoding it (base64, a buffer, UTF-8) was a large part of a GET's
    /// handler (see BENCHMARKS.md).
    static LAST: std::cell::RefCell<Option<(Box<str>, Option<String>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The username of a `Basic` credential, if it is well-formed and a possible key ([`decode_basic`],
/// remembered for the last credential seen on the thread).
pub(crate) fn parse_basic(value: &str) -> Option<String> {
    LAST.with_borrow_mut(|last| match last {
        Some((seen, user)) if **seen == *value => user.clone(),
        _ => {
            let user = decode_basic(value);
            *last = Some((value.into(), user.clone()));
            user
        }
    })
}

/// The username of a `Basic` credential, if it is well-formed and a key as
/// [`crate::limits::check_server_key`] has it: not blank, no surrounding spaces or control
/// characters, at most [`crate::limits::SERVER_KEY_MAX_LEN`] long.
fn decode_basic(value: &str) -> Option<String> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let mut decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    // Keep the username in the decoded buffer itself: one allocation per request, not two.
    let colon = decoded.iter().position(|&b| b == b':')?;
    decoded.truncate(colon);
    let user = String::from_utf8(decoded).ok()?;
    // A key the server could not save with what it made (the state file refuses it) is one
    // Midtrans would not know either.
    crate::limits::check_server_key("", &user).ok()?;
    Some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_yield_the_server_key() {
        // The worked example from the Midtrans authorization docs.
        assert_eq!(
            parse_basic("Basic U0ItTWlkLXNlcnZlci1hYmMxMjNjZGU0NTY6").as_deref(),
            Some("SB-Mid-server-abc123cde456")
        );
        assert_eq!(
            parse_basic("basic U0ItTWlkLXNlcnZlci1URVNUS0VZMTIzOg==").as_deref(),
            Some("SB-Mid-server-TESTKEY123")
        );
    }

    #[test]
    fn a_key_the_state_file_would_refuse_is_no_key() {
        let basic = |user: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:"));
            parse_basic(&format!("Basic {encoded}"))
        };
        let longest = "k".repeat(crate::limits::SERVER_KEY_MAX_LEN);
        assert_eq!(basic(&longest), Some(longest.clone()));
        for refused in [
            format!("{longest}k"),
            " SB-Mid-server-x".into(),
            "SB-Mid-server-x ".into(),
            "SB-Mid\u{1}server".into(),
            "   ".into(),
        ] {
            assert_eq!(basic(&refused), None, "{refused:?}");
        }
    }

    #[test]
    fn the_remembered_credential_answers_as_decoding_it_does() {
        let values = [
            "Basic U0ItTWlkLXNlcnZlci1hYmMxMjNjZGU0NTY6",
            "basic U0ItTWlkLXNlcnZlci1URVNUS0VZMTIzOg==",
            "Basic Og==",
            "Basic !!!",
            "",
            "Basic U0ItTWlkLXNlcnZlci1hYmMxMjNjZGU0NTY6 ",
        ];
        // Every value after every other one, and after itself: hits, misses, and a miss that
        // follows a malformed value.
        for a in values {
            for b in values {
                for v in [a, a, b, b, a] {
                    assert_eq!(parse_basic(v), decode_basic(v), "{v:?} after {a:?}, {b:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_credentials_are_refused() {
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer U0ItTWlkLXNlcnZlci1hYmMxMjNjZGU0NTY6",
            "Basic Og==",                 // ":" (empty key)
            "Basic U0ItTWlkLXNlcnZlcg==", // no colon
            "Basic //79",                 // not UTF-8
        ] {
            assert_eq!(parse_basic(bad), None, "{bad}");
        }
    }
}
