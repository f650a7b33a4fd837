//! `POST /v2/pay/account`: validate, apply the phone number's scenario, create a PENDING account.

use std::borrow::Cow;

use actix_web::{HttpRequest, HttpResponse, web};
use compact_str::{CompactString, ToCompactString};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{AccountBody, ServerKey, read_body};
use crate::accounts::store::NewAccount;
use crate::accounts::{AccountStatus, CountryCode, CreateOutcome, link_id_of};
use crate::activation::{self, Flow};
use crate::app::AppState;
use crate::clock;
use crate::error::ApiError;
use crate::fixtures::Outcome;
use crate::limits;

/// The exact wording Midtrans uses (checked by the official Python test suite).
pub const MSG_PHONE: &str =
    "gopay_partner.phone_number must be numeric digits and must not begin with 0";
const MSG_COUNTRY_CODE: &str = "gopay_partner.country_code must be 1 to 3 numeric digits";

pub async fn create(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::check_content_type(&req)?;
    let body = read_body(&state, &req, payload).await?;
    let request = validate(&body)?;
    match open_account(&state, &server_key, request) {
        Opened::UserNotFound => Ok(HttpResponse::Ok().json(ChannelFailure::user_not_found())),
        Opened::UserBlocked if state.legacy_sandbox => {
            Ok(HttpResponse::Ok().json(ChannelFailure::wallet_blocked()))
        }
        Opened::UserBlocked => Err(ApiError::UserBlocked),
        Opened::Created(id) => Ok(HttpResponse::Ok()
            .insert_header(crate::json::content_type())
            .body(created_body(&id, &state.public_url, &link_id_of(&id)))),
        Opened::Full | Opened::NoFreeId => Err(ApiError::Internal),
        Opened::AlreadyLinked(account) => {
            Ok(AccountBody::new(&account, AccountStatus::Enabled).response())
        }
    }
}

/// What a create comes to.
pub enum Opened {
    /// A new PENDING account.
    Created(Uuid),
    /// The merchant already has an ENABLED account for the number: that one.
    AlreadyLinked(crate::accounts::Account),
    /// The number's scenario: GoPay knows no such user; nothing was made.
    UserNotFound,
    /// The number's scenario: the user is blocked; nothing was made.
    UserBlocked,
    /// The store holds `--max-accounts` accounts.
    Full,
    /// Every id drawn named an account that exists; nothing was made.
    NoFreeId,
}

/// Where a create is decided, for the API and the dashboard alike: the phone number's scenario as
/// `server_key` sees it, then a new PENDING account (or the linked one the merchant has).
pub fn open_account(state: &AppState, server_key: &str, request: CreateRequest) -> Opened {
    let outcome = state.scenarios.with(
        Some(server_key),
        &request.phone_number,
        &request.country_code,
        |s| s.map(|s| s.outcome),
    );
    match outcome {
        Some(Outcome::UserNotFound) => return Opened::UserNotFound,
        Some(Outcome::UserBlocked) => return Opened::UserBlocked,
        Some(Outcome::Pending) | None => {}
    }
    let now = state.clock.now_ms();
    let ttl = state.settings.read().activation_ttl;
    let expires_at_ms = (!ttl.is_zero()).then(|| clock::after(now, ttl));
    let outcome = state.store.create(NewAccount {
        draw_id: &|| {
            let (id, next) = state.ids.uuid_and_next();
            (id, Some(next))
        },
        owner: server_key,
        phone_number: request.phone_number,
        country_code: request.country_code,
        redirect_url: request.redirect_url,
        now_ms: now,
        expires_at_ms,
    });
    match outcome {
        CreateOutcome::Created { id, expires_first } => {
            if expires_first {
                // Its expiry is sooner than what the scheduler sleeps until.
                state.notifications.wake.notify_one();
            }
            Opened::Created(id)
        }
        CreateOutcome::AlreadyLinked(account) => Opened::AlreadyLinked(account),
        CreateOutcome::Full => {
            tracing::warn!(
                accounts = state.store.len(),
                "create refused: the server holds --max-accounts accounts; POST /__admin/reset (all, or ?server_key=) frees them"
            );
            Opened::Full
        }
        CreateOutcome::NoFreeId => {
            tracing::warn!(
                cause = crate::ids::TAKEN_CAUSE,
                "create refused: every id drawn names an account that exists"
            );
            Opened::NoFreeId
        }
    }
}

/// The length of [`created_body`] without its two copies of the public URL.
const CREATED_BODY_FIXED: usize = 375;

/// The "201" body of a new account, written directly: it is all fixed text but the id and the two
/// activation links (written by [`activation::push_link`]), and serde_json plus `format!` were a
/// sixth of a create. Byte for byte what serde_json writes for the same fields (see the test).
fn created_body(account_id: &Uuid, public_url: &str, link_id: &Uuid) -> String {
    let mut buf = Uuid::encode_buffer();
    let link_id = &*link_id.hyphenated().encode_lower(&mut buf);
    // Sized for the whole body, so that it is never copied to grow (a URL with characters JSON
    // escapes is the exception).
    let mut out = String::with_capacity(
        CREATED_BODY_FIXED.saturating_add(public_url.len().saturating_mul(2)),
    );
    out.push_str(r#"{"status_code":"201","payment_type":"gopay","account_id":""#);
    out.push_str(
        account_id
            .hyphenated()
            .encode_lower(&mut Uuid::encode_buffer()),
    );
    out.push_str(r#"","account_status":""#);
    out.push_str(AccountStatus::Pending.as_str());
    out.push_str(r#"","actions":[{"name":"activation-link-url","method":"GET","url":"#);
    push_json_link(&mut out, public_url, Flow::Web, link_id);
    out.push_str(r#"},{"name":"activation-link-app","method":"GET","url":"#);
    push_json_link(&mut out, public_url, Flow::App, link_id);
    out.push_str("}]}");
    out
}

/// An activation link as a JSON string.
fn push_json_link(out: &mut String, public_url: &str, flow: Flow, link_id: &str) {
    // serde_json escapes exactly the control characters, `"` and `\`.
    if public_url
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let mut url = String::new();
        activation::push_link(&mut url, public_url, flow, link_id);
        out.push_str(&serde_json::to_string(&url).unwrap_or_default());
    } else {
        out.push('"');
        activation::push_link(out, public_url, flow, link_id);
        out.push('"');
    }
}

/// A `"202"` answer: the channel (GoPay) refused, no account was made.
#[derive(Serialize)]
struct ChannelFailure {
    status_code: &'static str,
    payment_type: &'static str,
    channel_response_code: &'static str,
    channel_response_message: &'static str,
}

impl ChannelFailure {
    fn user_not_found() -> Self {
        Self {
            status_code: "202",
            payment_type: "gopay",
            channel_response_code: "105",
            channel_response_message: "User Not Found",
        }
    }

    /// The 2021 sandbox's answer for a blocked user; `112` is GoPay's "User Blocked" code.
    fn wallet_blocked() -> Self {
        Self {
            status_code: "202",
            payment_type: "gopay",
            channel_response_code: "112",
            channel_response_message: "Wallet is Blocked",
        }
    }
}

/// A create request that passed validation.
#[derive(Debug, PartialEq)]
pub struct CreateRequest {
    pub phone_number: CompactString,
    pub country_code: CountryCode,
    pub redirect_url: Option<String>,
}

/// Checks a create body, collecting every problem, in the order of the documented fields.
///
/// # Errors
/// [`ApiError::Malformed`] when the body is not a JSON object, [`ApiError::Validation`] otherwise.
pub fn validate(body: &[u8]) -> Result<CreateRequest, ApiError> {
    let root: Body = super::fields::deserialize(body, std::marker::PhantomData)
        .map_err(|_| ApiError::Malformed)?;
    let mut errors = Vec::new();
    match &root.payment_type {
        None | Some(Field::Null) => errors.push("payment_type is required".to_string()),
        Some(Field::Str(s)) if s == "gopay" => {}
        Some(_) => errors.push("payment_type is invalid".to_string()),
    }
    let (mut phone_number, mut country_code, mut redirect_url) = (None, None, None);
    match root.gopay_partner {
        None | Some(Partner::Null) => errors.push("gopay_partner is required".to_string()),
        Some(Partner::Object(partner)) => {
            match digits(partner.phone_number) {
                Digits::Missing => errors.push("gopay_partner.phone_number is required".into()),
                // The one rule for a phone number, which fixtures and state documents share.
                Digits::Ok(p) if crate::fixtures::check_phone(&p).is_ok() => phone_number = Some(p),
                _ => errors.push(MSG_PHONE.into()),
            }
            let code = match digits(partner.country_code) {
                Digits::Missing => Err("gopay_partner.country_code is required"),
                Digits::Ok(c) => CountryCode::new(&c).ok_or(MSG_COUNTRY_CODE),
                _ => Err(MSG_COUNTRY_CODE),
            };
            match code {
                Ok(code) => country_code = Some(code),
                Err(e) => errors.push(e.into()),
            }
            match partner.redirect_url {
                None | Some(Field::Null) => {}
                Some(Field::Str(url)) if url.len() <= limits::URL_MAX_LEN => {
                    redirect_url = Some(url.into_owned());
                }
                Some(_) => errors.push("gopay_partner.redirect_url is invalid".into()),
            }
        }
        Some(Partner::Other) => errors.push("gopay_partner is invalid".to_string()),
    }
    match (phone_number, country_code) {
        (Some(phone_number), Some(country_code)) if errors.is_empty() => Ok(CreateRequest {
            phone_number,
            country_code,
            redirect_url,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The phone number of a create body as [`validate`] reads it (digits as a string or a JSON
/// number, a repeated key's last value), whatever else the body gets wrong: what a fault rule
/// matches on.
pub fn phone_number_of(body: &[u8]) -> Option<CompactString> {
    let root: Body = super::fields::deserialize(body, std::marker::PhantomData).ok()?;
    match root.gopay_partner? {
        Partner::Object(partner) => match digits(partner.phone_number) {
            Digits::Ok(p) => Some(p),
            Digits::Missing | Digits::Invalid => None,
        },
        Partner::Null | Partner::Other => None,
    }
}

/// The fields of a create body that validation looks at, read straight from the JSON instead of
/// through a `serde_json::Value` map of the whole document (a third of the cost of a create).
/// It reads like the map did: the body must be an object, a repeated key keeps its last value, and
/// every other value is still parsed in full as a `Value` (so exactly the same bodies are
/// malformed).
#[derive(Default)]
struct Body<'a> {
    payment_type: Option<Field<'a>>,
    gopay_partner: Option<Partner<'a>>,
}

/// `gopay_partner`: an object with the three fields read, `null`, or any other JSON value.
/// (Short-lived, on the stack: boxing the large variant would only add an allocation.)
#[allow(clippy::large_enum_variant)]
enum Partner<'a> {
    Object(PartnerFields<'a>),
    Null,
    Other,
}

#[derive(Default)]
struct PartnerFields<'a> {
    phone_number: Option<Field<'a>>,
    country_code: Option<Field<'a>>,
    redirect_url: Option<Field<'a>>,
}

/// A field's value as far as validation looks at it: a string is borrowed from the body unless it
/// holds escapes (a `Value` copied each one, and the kept ones were copied again).
enum Field<'a> {
    Null,
    Str(Cow<'a, str>),
    /// A non-negative integer (the 2021 sandbox took a numeric phone number).
    Uint(u64),
    /// Any other value, parsed in full and dropped.
    Other,
}

impl<'de> serde::Deserialize<'de> for Field<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(s)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Field<'de>, E> {
                Ok(Field::Uint(n))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Field<'de>, A::Error> {
                while seq.next_element::<Value>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Field<'de>, A::Error> {
                while map.next_entry::<String, Value>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A key of an object, told apart without allocating.
struct Key(&'static str);

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: serde::de::Error>(self, k: &str) -> Result<Key, E> {
                Ok(Key(match k {
                    "payment_type" => "payment_type",
                    "gopay_partner" => "gopay_partner",
                    "phone_number" => "phone_number",
                    "country_code" => "country_code",
                    "redirect_url" => "redirect_url",
                    _ => "",
                }))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::Deserialize<'de> for Body<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Body<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Body<'de>, A::Error> {
                let mut body = Body::default();
                while let Some(Key(key)) = map.next_key()? {
                    match key {
                        "payment_type" => body.payment_type = Some(map.next_value()?),
                        "gopay_partner" => body.gopay_partner = Some(map.next_value()?),
                        _ => {
                            map.next_value::<Value>()?;
                        }
                    }
                }
                Ok(body)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> serde::Deserialize<'de> for Partner<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Partner<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Partner<'de>, A::Error> {
                let mut p = PartnerFields::default();
                while let Some(Key(key)) = map.next_key()? {
                    match key {
                        "phone_number" => p.phone_number = Some(map.next_value()?),
                        "country_code" => p.country_code = Some(map.next_value()?),
                        "redirect_url" => p.redirect_url = Some(map.next_value()?),
                        _ => {
                            map.next_value::<Value>()?;
                        }
                    }
                }
                Ok(Partner::Object(p))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Partner<'de>, A::Error> {
                while seq.next_element::<Value>()?.is_some() {}
                Ok(Partner::Other)
            }
            fn visit_unit<E>(self) -> Result<Partner<'de>, E> {
                Ok(Partner::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Partner<'de>, E> {
                Ok(Partner::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Partner<'de>, E> {
                Ok(Partner::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Partner<'de>, E> {
                Ok(Partner::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Partner<'de>, E> {
                Ok(Partner::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Partner<'de>, E> {
                Ok(Partner::Other)
            }
        }
        d.deserialize_any(V)
    }
}

enum Digits {
    Missing,
    Ok(CompactString),
    Invalid,
}

/// A string of ASCII digits. A JSON integer is accepted too: the 2021 sandbox took
/// `"phone_number": 874567446788` (the official PHP tests send it so).
fn digits(value: Option<Field>) -> Digits {
    match value {
        None | Some(Field::Null) => Digits::Missing,
        Some(Field::Str(s)) if s.is_empty() => Digits::Missing,
        Some(Field::Str(s)) if s.bytes().all(|b| b.is_ascii_digit()) => Digits::Ok(s.into()),
        Some(Field::Uint(n)) => Digits::Ok(n.to_compact_string()),
        Some(_) => Digits::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault rule sees the phone number the create itself takes: as a string or a number, the
    /// last of repeated keys, and in a body that fails on another field.
    #[test]
    fn phone_numbers_are_read_as_the_create_reads_them() {
        for (body, want) in [
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"812","country_code":"62"}}"#,
                Some("812"),
            ),
            (
                r#"{"gopay_partner":{"phone_number":874567446788}}"#,
                Some("874567446788"),
            ),
            (
                r#"{"gopay_partner":{"phone_number":"811","phone_number":"812"}}"#,
                Some("812"),
            ),
            (
                r#"{"gopay_partner":{"phone_number":"1"},"gopay_partner":{"phone_number":"2"}}"#,
                Some("2"),
            ),
            (
                r#"{"payment_type":"card","gopay_partner":{"phone_number":"812"}}"#,
                Some("812"),
            ),
            (r#"{"gopay_partner":{"phone_number":"81a"}}"#, None),
            (r#"{"gopay_partner":{"phone_number":-812}}"#, None),
            (r#"{"gopay_partner":null}"#, None),
            ("{}", None),
            ("not json", None),
        ] {
            assert_eq!(phone_number_of(body.as_bytes()).as_deref(), want, "{body}");
            if let Ok(request) = validate(body.as_bytes()) {
                assert_eq!(Some(&*request.phone_number), want);
            }
        }
    }

    fn messages(body: &str) -> Vec<String> {
        match validate(body.as_bytes()) {
            Err(ApiError::Validation(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_documented_request_is_valid() {
        let r = validate(
            br#"{"payment_type":"gopay","gopay_partner":{"phone_number":"81212345678","country_code":"62","redirect_url":"https://www.gojek.com"}}"#,
        )
        .unwrap();
        assert_eq!(r.phone_number, "81212345678");
        assert_eq!(r.redirect_url.as_deref(), Some("https://www.gojek.com"));
    }

    #[test]
    fn each_field_problem_has_its_message() {
        let cases = [
            (
                r#"{}"#,
                vec!["payment_type is required", "gopay_partner is required"],
            ),
            (
                r#"{"payment_type":"ovo","gopay_partner":{"phone_number":"812","country_code":"62"}}"#,
                vec!["payment_type is invalid"],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"081234567891","country_code":"62"}}"#,
                vec![MSG_PHONE],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"8123abc","country_code":"62"}}"#,
                vec![MSG_PHONE],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":true,"country_code":"62"}}"#,
                vec![MSG_PHONE],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"country_code":"62"}}"#,
                vec!["gopay_partner.phone_number is required"],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"812"}}"#,
                vec!["gopay_partner.country_code is required"],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"812","country_code":"+62"}}"#,
                vec!["gopay_partner.country_code must be 1 to 3 numeric digits"],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"812","country_code":"6200"}}"#,
                vec!["gopay_partner.country_code must be 1 to 3 numeric digits"],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":{"phone_number":"812","country_code":"62","redirect_url":5}}"#,
                vec!["gopay_partner.redirect_url is invalid"],
            ),
            (
                r#"{"payment_type":"gopay","gopay_partner":"812"}"#,
                vec!["gopay_partner is invalid"],
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(messages(body), expected, "{body}");
        }
        // A redirect URL is kept with the account: at most as long as the state file takes one.
        let with_url = |len: usize| {
            let url = format!("https://shop.example/{}", "x".repeat(len - 21));
            assert_eq!(url.len(), len);
            format!(
                r#"{{"payment_type":"gopay","gopay_partner":{{"phone_number":"812","country_code":"62","redirect_url":"{url}"}}}}"#
            )
        };
        assert!(validate(with_url(limits::URL_MAX_LEN).as_bytes()).is_ok());
        assert_eq!(
            messages(&with_url(limits::URL_MAX_LEN + 1)),
            vec!["gopay_partner.redirect_url is invalid"]
        );
    }

    #[test]
    fn the_created_body_is_what_serde_json_writes() {
        #[derive(Serialize)]
        struct Created<'a> {
            status_code: &'static str,
            payment_type: &'static str,
            account_id: &'a Uuid,
            account_status: &'static str,
            actions: [Action<'a>; 2],
        }
        #[derive(Serialize)]
        struct Action<'a> {
            name: &'static str,
            method: &'static str,
            url: &'a str,
        }
        let id = Uuid::new_v4();
        for base in ["http://127.0.0.1:8080", "https://x.test/a\"b\\c\u{1}é/"] {
            let state =
                AppState::new(&crate::Config::default(), base.to_string(), "127.0.0.1").unwrap();
            let account = match state.store.create(NewAccount {
                draw_id: &|| (id, None),
                owner: "k",
                phone_number: "812".into(),
                country_code: CountryCode::INDONESIA,
                redirect_url: None,
                now_ms: 0,
                expires_at_ms: None,
            }) {
                CreateOutcome::Created { id, .. } => state.store.get(&id, None, 0).unwrap(),
                other => panic!("{other:?}"),
            };
            let (url, app) = (
                activation::link(&state.public_url, Flow::Web, &account.link_id()),
                activation::link(&state.public_url, Flow::App, &account.link_id()),
            );
            let expected = serde_json::to_string(&Created {
                status_code: "201",
                payment_type: "gopay",
                account_id: &id,
                account_status: "PENDING",
                actions: [
                    Action {
                        name: "activation-link-url",
                        method: "GET",
                        url: &url,
                    },
                    Action {
                        name: "activation-link-app",
                        method: "GET",
                        url: &app,
                    },
                ],
            })
            .unwrap();
            let body = created_body(&id, &state.public_url, &account.link_id());
            assert_eq!(body, expected);
            if base.is_ascii() && !base.contains(['"', '\\']) {
                // Exactly the room it was given: never grown by copying.
                assert_eq!(body.len(), CREATED_BODY_FIXED + 2 * state.public_url.len());
                assert_eq!(body.capacity(), body.len());
            }
        }
    }

    #[test]
    fn bodies_read_like_a_json_map() {
        // Repeated keys keep their last value; unknown fields and escapes are fine.
        let r = validate(
            br#"{"x":[1,{"y":null}],"payment_type":"ovo","payment_type":"gopay","gopay_partner":{"phone_number":"1","phone_number":"812","country_code":"6\u0032","z":1.5}}"#,
        )
        .unwrap();
        assert_eq!(
            (r.phone_number.as_str(), r.country_code.as_str()),
            ("812", "62")
        );
        for (partner, message) in [
            ("null", "gopay_partner is required"),
            ("[1,2]", "gopay_partner is invalid"),
            ("true", "gopay_partner is invalid"),
            ("-1", "gopay_partner is invalid"),
            ("2.5", "gopay_partner is invalid"),
        ] {
            let body = format!(r#"{{"payment_type":"gopay","gopay_partner":{partner}}}"#);
            assert_eq!(messages(&body), vec![message], "{body}");
        }
        // A value serde_json cannot hold anywhere in the body makes it malformed, as before,
        // including inside the fields that are read.
        for body in [
            r#"{"payment_type":"gopay","x":1e400}"#,
            r#"{"payment_type":1e400}"#,
            r#"{"payment_type":["gopay",1e400]}"#,
            r#"{"payment_type":"gopay","gopay_partner":{"phone_number":{"a":[1e400]}}}"#,
            r#"{"payment_type":"gopay","gopay_partner":{"country_code":"62","q":-1e400}}"#,
        ] {
            assert_eq!(
                validate(body.as_bytes()),
                Err(ApiError::Malformed),
                "{body}"
            );
        }
        // Escaped text in a kept field is unescaped.
        let r = validate(
            br#"{"payment_type":"gop\u0061y","gopay_partner":{"phone_number":"8\u00312","country_code":"62","redirect_url":"https:\/\/shop.example\/done"}}"#,
        )
        .unwrap();
        assert_eq!(r.phone_number, "812");
        assert_eq!(r.redirect_url.as_deref(), Some("https://shop.example/done"));
        for (phone, message) in [
            ("-812", MSG_PHONE),
            ("8.12", MSG_PHONE),
            ("99999999999999999999999", MSG_PHONE),
            (&format!("\"{}\"", "8".repeat(65)), MSG_PHONE),
            ("{}", MSG_PHONE),
            ("\"\"", "gopay_partner.phone_number is required"),
        ] {
            let body = format!(
                r#"{{"payment_type":"gopay","gopay_partner":{{"phone_number":{phone},"country_code":"62"}}}}"#
            );
            assert_eq!(messages(&body), vec![message], "{body}");
        }
    }

    #[test]
    fn numeric_phone_numbers_are_accepted() {
        let r = validate(
            br#"{"payment_type":"gopay","gopay_partner":{"phone_number":874567446788,"country_code":62}}"#,
        )
        .unwrap();
        assert_eq!(r.phone_number, "874567446788");
        assert_eq!(r.country_code, CountryCode::INDONESIA);
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_malformed() {
        for body in [
            "",
            "{",
            "null",
            "[1]",
            "\"gopay\"",
            "{\"payment_type\":\"gopay\",}",
        ] {
            assert_eq!(
                validate(body.as_bytes()),
                Err(ApiError::Malformed),
                "{body}"
            );
        }
        // Bytes that are not UTF-8, inside a string or out of one.
        for body in [
            &b"{\"payment_type\":\"gop\xffay\"}"[..],
            b"{\"payment_type\":\"gopay\",\"x\":\"\xc3\"}",
            b"\xef\xbb\xbf{}",
        ] {
            assert_eq!(validate(body), Err(ApiError::Malformed));
        }
    }
}
