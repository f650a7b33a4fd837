//! The emulated Midtrans API: the Pay Account routes, create ([`create`]), get ([`get`]) and unbind
//! ([`unbind`]), and the GoPay Tokenization charge routes, charge and capture ([`charge`]) and
//! status, cancel, expire and refund ([`transaction`]).
//!
//! Handlers take the merchant's [`ServerKey`] as an extractor (so auth is checked before the body)
//! and return `Result<HttpResponse, ApiError>`: every failure is the Midtrans envelope. The
//! `--http-status mirror` rule is applied to those errors in one place, [`mirror`]. Request bodies are
//! read through `body.rs` (not `web::Json`) so that size, time and syntax errors all get the
//! envelope rather than an actix default page.

pub mod charge;
pub mod create;
pub mod fields;
pub mod get;
pub mod transaction;
pub mod unbind;

use actix_web::dev::ServiceResponse;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, PaymentOption};
use crate::app::AppState;
use crate::error::ApiError;
use crate::json;

pub use crate::auth::ServerKey;

/// Registers the routes; any other method on their paths gets the Midtrans 405 body, any other path
/// under them the 404 one.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v2/pay/account")
            .route(crate::routing::post().to(create::create))
            .default_service(web::to(method_not_allowed)),
    )
    // One scope for the paths below: its prefix is matched once, which `make bench` measured
    // cheaper than a resource for each.
    .service(
        web::scope("/v2/pay/account")
            // `/{account_id}` and `/{account_id}/unbind`, told apart by [`account_path`].
            .default_service(web::to(by_account_path)),
    )
    .service(
        web::resource("/v2/charge")
            .route(crate::routing::post().to(charge::charge))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/capture")
            .route(crate::routing::post().to(charge::capture))
            .default_service(web::to(method_not_allowed)),
    )
    // `{id}` may be empty: the Node client's `notification({})` asks for `/v2//status`.
    .service(
        web::resource("/v2/{id:[^/]*}/status")
            .route(crate::routing::get().to(transaction::status))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/cancel")
            .route(crate::routing::post().to(transaction::cancel))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/expire")
            .route(crate::routing::post().to(transaction::expire))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/refund")
            .route(crate::routing::post().to(transaction::refund))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v2/{id:[^/]*}/refund/online/direct")
            .route(crate::routing::post().to(transaction::refund_direct))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `--http-status mirror`: an error answered over HTTP 200 gets its body code as the status. The
/// request guard (`guard.rs`) applies it to every answer when the mode is on.
pub fn mirror<B>(response: &mut ServiceResponse<B>) {
    let mirrored = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(ApiError::mirrored_status);
    if let Some(status) = mirrored {
        *response.response_mut().status_mut() = status;
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// A path under `/v2/pay/account/`, after that prefix.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AccountPath<'a> {
    /// `/{account_id}`: get.
    Account(&'a str),
    /// `/{account_id}/unbind`.
    Unbind(&'a str),
}

impl<'a> AccountPath<'a> {
    fn id(&self) -> &'a str {
        match *self {
            AccountPath::Account(id) | AccountPath::Unbind(id) => id,
        }
    }
}

/// What the resources `/{account_id}` and `/{account_id}/unbind` would match of `tail`, split by
/// hand: actix-web matches a `{segment}` with `regex-lite`, which cost a GET as many instructions as
/// everything else it does (see `BENCHMARKS.md`). A unit test pins it to actix-web's own matching.
pub(crate) fn account_path(tail: &str) -> Option<AccountPath<'_>> {
    let rest = tail.strip_prefix('/')?;
    let (id, action) = match rest.split_once('/') {
        Some((id, action)) => (id, Some(action)),
        None => (rest, None),
    };
    match action {
        _ if id.is_empty() => None,
        None => Some(AccountPath::Account(id)),
        Some("unbind") => Some(AccountPath::Unbind(id)),
        Some(_) => None,
    }
}

/// The account routes: the method picks the handler (GET or HEAD, POST), as a resource's routes
/// would; the key is checked before anything else only on a route that exists.
async fn by_account_path(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let method = req.method();
    match account_path(req.match_info().unprocessed()) {
        Some(AccountPath::Account(_)) if crate::routing::is_get(method) => {
            let key = ServerKey::extract(&req).await?;
            get::get(state, key, req, payload).await
        }
        Some(AccountPath::Unbind(_)) if method == Method::POST => {
            let key = ServerKey::extract(&req).await?;
            unbind::unbind(state, key, req, payload).await
        }
        Some(_) => Err(ApiError::MethodNotAllowed),
        None => Err(ApiError::UnknownRoute),
    }
}

/// Any path no route has.
pub async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnknownRoute)
}

/// Reads the request body within the size and time limits.
pub(crate) async fn read_body(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<web::Bytes, ApiError> {
    let body = crate::body::read(req, payload, state.max_body_bytes, state.body_timeout).await?;
    // An empty body is recorded as none: the journal shows and matches them alike, and a GET
    // then costs no map and box in the request's extensions.
    if state.journal.enabled() && !body.is_empty() {
        req.extensions_mut()
            .insert(crate::journal::RequestBody(body.clone()));
    }
    Ok(body)
}

/// The merchant's `Idempotency-Key`, if Midtrans would use it (one over 46 characters is ignored).
/// Any bytes are a key: UTF-8 text as it is, other bytes escaped (`\xff`), so that two keys are
/// one only when their bytes are.
pub(crate) fn idempotency_key(req: &HttpRequest) -> Option<std::borrow::Cow<'_, str>> {
    let bytes = req.headers().get("idempotency-key")?.as_bytes();
    let max = crate::charges::store::IDEMPOTENCY_KEY_MAX_LEN;
    let key = match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().count() > max => return None,
        Ok(text) if !text.contains('\\') => std::borrow::Cow::Borrowed(text),
        Ok(_) => std::borrow::Cow::Owned(escaped(bytes)),
        Err(_) if bytes.len() > max => return None,
        Err(_) => std::borrow::Cow::Owned(escaped(bytes)),
    };
    (!key.is_empty()).then_some(key)
}

/// `bytes` with every byte that is not printable ASCII, and every backslash, written `\xNN`: text
/// with a backslash in it, which no key passed through as it is holds.
fn escaped(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02x}");
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// A JSON answer over HTTP 200 of bytes already written.
pub(crate) fn json_answer(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(crate::json::content_type())
        .body(body)
}

/// A body sent as a form, text or XML is refused; no Content-Type at all is read as JSON.
pub(crate) fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let json_suffix = mime
        .get(mime.len().saturating_sub(5)..)
        .is_some_and(|end| end.eq_ignore_ascii_case("+json"));
    if mime.is_empty() || mime.eq_ignore_ascii_case("application/json") || json_suffix {
        Ok(())
    } else {
        Err(ApiError::UnsupportedContentType)
    }
}

/// An account id from the path (the handlers read it after the body, so a body error comes first);
/// anything that is not a UUID cannot exist.
pub(crate) fn account_id(req: &HttpRequest) -> Result<Uuid, ApiError> {
    account_path(req.match_info().unprocessed())
        .and_then(|path| Uuid::parse_str(path.id()).ok())
        .ok_or(ApiError::AccountNotFound)
}

/// The Get Pay Account body (also what create answers for an already linked number).
#[derive(Serialize)]
pub(crate) struct AccountBody<'a> {
    pub status_code: &'static str,
    pub payment_type: &'static str,
    pub account_id: &'a Uuid,
    pub account_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Metadata<'a> {
    pub payment_options: &'a [PaymentOption],
}

impl<'a> AccountBody<'a> {
    /// The documented body for the account in `status`: payment options only when ENABLED.
    pub fn new(account: &'a Account, status: AccountStatus) -> Self {
        Self {
            status_code: status.get_status_code(),
            payment_type: "gopay",
            account_id: &account.id,
            account_status: status.as_str(),
            metadata: (status == AccountStatus::Enabled).then_some(Metadata {
                payment_options: &account.payment_options,
            }),
        }
    }

    /// The body as serde_json writes it (a test pins the two together), written by hand: through
    /// serde it was most of a GET's instructions once the path match was cut.
    pub fn to_json(&self) -> String {
        let mut o = json::Object::with_capacity(if self.metadata.is_some() { 512 } else { 160 });
        o.str("status_code", self.status_code);
        o.str("payment_type", self.payment_type);
        o.str(
            "account_id",
            self.account_id
                .hyphenated()
                .encode_lower(&mut Uuid::encode_buffer()),
        );
        o.str("account_status", self.account_status);
        if let Some(metadata) = &self.metadata {
            o.object("metadata", |m| {
                m.objects("payment_options", metadata.payment_options, |o, option| {
                    o.str("name", &option.name);
                    o.bool("active", option.active);
                    o.object("balance", |b| {
                        b.str("value", &option.balance.value.text());
                        b.str("currency", &option.balance.currency);
                    });
                    o.object("metadata", |_| {});
                    o.str("token", &option.token_text());
                });
            });
        }
        o.finish()
    }

    /// A 200 answer with this body.
    pub fn response(&self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header(json::content_type())
            .body(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::dev::{Path, ResourceDef};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// What actix-web's resources, the plain version, match of `tail`.
    fn by_actix(tail: &str) -> Option<AccountPath<'_>> {
        let capture = |pattern: &str| {
            let mut path = Path::new(tail);
            ResourceDef::new(pattern)
                .capture_match_info(&mut path)
                .then(|| path.get("account_id").map(str::len))
                .flatten()
        };
        // The captured id is the segment right after the first slash.
        let id = |len: usize| &tail[1..1 + len];
        if let Some(len) = capture("/{account_id}") {
            Some(AccountPath::Account(id(len)))
        } else {
            capture("/{account_id}/unbind").map(|len| AccountPath::Unbind(id(len)))
        }
    }

    #[test]
    fn the_account_body_is_what_serde_json_writes() {
        use std::sync::Arc;

        use crate::accounts::{Balance, Token};

        let option = |name: &str, active: bool, value: &str, token: Token| PaymentOption {
            name: Arc::from(name),
            active,
            balance: Balance {
                value: crate::money::Amount::parse(value).unwrap(),
                currency: Arc::from("IDR"),
            },
            token,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let option_sets = vec![
            vec![],
            vec![
                option(
                    "GOPAY_WALLET",
                    true,
                    "1000000.00",
                    Token::Given("eyJ0eXBlIjogIkdPUEFZX1dBTExFVCIsICJpZCI6ICIifQ==".into()),
                ),
                option("PAY_LATER", false, "0.00", Token::Generated(Uuid::nil())),
            ],
            // Text that needs escaping, in every string field there is.
            vec![
                option(
                    "A \"quoted\" \\ name\n\u{1}",
                    true,
                    "5.00",
                    Token::Given("tab\there \u{e9}\u{1F600}".into()),
                ),
                option(
                    "\u{e9}",
                    true,
                    "1.00",
                    Token::Generated(Uuid::from_u128(rng.r#gen())),
                ),
            ],
        ];
        for options in &option_sets {
            for status in AccountStatus::ALL {
                let mut account = Account::new(
                    Uuid::from_u128(rng.r#gen()),
                    status,
                    "81212345678",
                    crate::accounts::CountryCode::INDONESIA,
                    None,
                    0,
                );
                account.payment_options = options.iter().cloned().collect();
                for shown in AccountStatus::ALL {
                    let body = AccountBody::new(&account, shown);
                    let expected = serde_json::to_string(&body).expect("serialises");
                    assert_eq!(body.to_json(), expected);
                }
            }
        }
    }

    #[test]
    fn the_account_paths_are_split_as_actix_web_matches_them() {
        let pieces = [
            "/",
            "//",
            "unbind",
            "/unbind",
            "x",
            "%2F",
            "\u{e9}",
            "00000269-7836-49e5-bc65-e592afafec14",
            "?",
            " ",
        ];
        let endings = [
            "",
            "/unbind",
            "/unbind/",
            "/UNBIND",
            "unbind",
            "/unbind/x",
            "/x",
        ];
        let mut rng = StdRng::seed_from_u64(11);
        let mut drawn = [0; 3];
        for _ in 0..20_000 {
            let mut tail: String = ["/", "", "//"][rng.gen_range(0..3)].into();
            for _ in 0..rng.gen_range(0..4) {
                tail.push_str(pieces[rng.gen_range(0..pieces.len())]);
            }
            tail.push_str(endings[rng.gen_range(0..endings.len())]);
            let expected = by_actix(&tail);
            drawn[match expected {
                Some(AccountPath::Account(_)) => 0,
                Some(AccountPath::Unbind(_)) => 1,
                None => 2,
            }] += 1;
            assert_eq!(account_path(&tail), expected, "{tail:?}");
        }
        // Both kinds and misses were drawn, each many times.
        assert!(drawn.iter().all(|&n| n > 300), "{drawn:?}");
        assert_eq!(
            account_path("/abc/unbind"),
            Some(AccountPath::Unbind("abc"))
        );
        assert_eq!(account_path("/abc"), Some(AccountPath::Account("abc")));
    }
}
