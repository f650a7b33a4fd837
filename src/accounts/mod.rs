//! Pay accounts and their state machine.
//!
//! ```text
//! PENDING --link--> ENABLED --unbind (merchant) / unlink (customer, in the app)--> DISABLED
//!    \--expire--> EXPIRED
//! ```
//! Nothing else is allowed; EXPIRED and DISABLED are final (relinking makes a new account).
//! The store that holds accounts lives in [`store`].

pub mod store;

use std::sync::Arc;

use base64::Engine;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use thin_vec::ThinVec;
use uuid::Uuid;

use crate::clock::OptionalMs;
use crate::money::Amount;
use crate::shared_text::SharedText;

pub use store::{
    AccountPage, Counts, CreateOutcome, Expired, Filling, Owner, Replaced, Store, TransitionError,
};

/// `account_status` as Midtrans spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountStatus {
    Pending,
    Expired,
    Enabled,
    Disabled,
}

impl AccountStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Enabled, Self::Expired, Self::Disabled];

    /// The position in [`AccountStatus::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::Pending => 0,
            Self::Enabled => 1,
            Self::Expired => 2,
            Self::Disabled => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Expired => "EXPIRED",
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
        }
    }

    /// The body `status_code` of a Get Pay Account answer in this state.
    pub fn get_status_code(self) -> &'static str {
        match self {
            Self::Pending => "201",
            Self::Enabled => "200",
            Self::Expired | Self::Disabled => "204",
        }
    }

    /// The transitions allowed from this state.
    pub fn allowed(self) -> &'static [Transition] {
        match self {
            Self::Pending => &[Transition::Link, Transition::Expire],
            Self::Enabled => &[Transition::Unbind, Transition::Unlink],
            Self::Expired | Self::Disabled => &[],
        }
    }
}

impl std::fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that changes an account's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transition {
    /// The customer approved the link (web page, app PIN, or the control API).
    Link,
    /// The activation link was not used in time.
    Expire,
    /// The merchant called `POST /v2/pay/account/{id}/unbind`.
    Unbind,
    /// The customer unlinked the merchant in the Gojek app.
    Unlink,
}

impl Transition {
    /// The transition a control API or dashboard path names (`link`, `expire`, `unbind`, `unlink`).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Link, Self::Expire, Self::Unbind, Self::Unlink]
            .into_iter()
            .find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Expire => "expire",
            Self::Unbind => "unbind",
            Self::Unlink => "unlink",
        }
    }

    pub fn from_status(self) -> AccountStatus {
        match self {
            Self::Link | Self::Expire => AccountStatus::Pending,
            Self::Unbind | Self::Unlink => AccountStatus::Enabled,
        }
    }

    pub fn to_status(self) -> AccountStatus {
        match self {
            Self::Link => AccountStatus::Enabled,
            Self::Expire => AccountStatus::Expired,
            Self::Unbind | Self::Unlink => AccountStatus::Disabled,
        }
    }
}

/// One entry of `metadata.payment_options`; serialises as
/// `{"name", "active", "balance": {"value", "currency"}, "metadata": {}, "token"}`.
///
/// Memory: a million linked accounts hold two million of these, so the name and currency are shared
/// with the fixtures and a generated token is kept as its UUID and only encoded when sent.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentOption {
    pub name: Arc<str>,
    pub active: bool,
    pub balance: Balance,
    pub token: Token,
}

/// A change to one payment option, found by name; fields left out stay as they are. What
/// `PATCH /__admin/accounts/{id}` and the dashboard's balance form send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionChange {
    pub name: String,
    pub balance: Option<String>,
    pub active: Option<bool>,
}

/// Applies `changes` in order; the first that cannot apply stops it with the reason (callers
/// work on a copy, so a refused change leaves the account as it was).
///
/// # Errors
/// An option the account does not have, or a balance that is not a Midtrans amount.
pub fn change_options(
    options: &mut [PaymentOption],
    changes: &[OptionChange],
) -> Result<(), String> {
    for change in changes {
        let option = options
            .iter_mut()
            .find(|o| *o.name == *change.name)
            .ok_or_else(|| format!("the account has no payment option {}", change.name))?;
        if let Some(balance) = &change.balance {
            if !crate::money::is_amount(balance) {
                return Err(format!(
                    "balance '{balance}' must look like \"1000000.00\" (at most 15 digits before the point)"
                ));
            }
            option.balance.value = Amount::parse(balance).unwrap_or_default();
        }
        if let Some(active) = change.active {
            option.active = active;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Balance {
    /// Kept as the amount, written as Midtrans writes it (`"1000000.00"`): a charge reads and
    /// changes it without parsing or allocating.
    pub value: Amount,
    pub currency: Arc<str>,
}

/// A payment option token: opaque to clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// Sent as base64 of `{"type": "<option name>", "id": "<uuid>"}`, the shape of the documented
    /// tokens (which are base64 of `{"type": "GOPAY_WALLET", "id": ""}`).
    Generated(Uuid),
    /// Sent as written (fixtures).
    Given(Box<str>),
}

impl PaymentOption {
    /// Whether `token` is this option's token as clients see it (a given one without a copy).
    pub fn has_token(&self, token: &str) -> bool {
        match &self.token {
            Token::Given(t) => **t == *token,
            Token::Generated(_) => self.token_text() == token,
        }
    }

    /// The token as clients see it (a given one without a copy).
    pub fn token_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.token {
            Token::Given(t) => std::borrow::Cow::Borrowed(t),
            Token::Generated(id) => {
                let json = format!(r#"{{"type": "{}", "id": "{id}"}}"#, self.name);
                std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(json))
            }
        }
    }
}

impl Serialize for PaymentOption {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("PaymentOption", 5)?;
        st.serialize_field("name", &*self.name)?;
        st.serialize_field("active", &self.active)?;
        st.serialize_field("balance", &self.balance)?;
        st.serialize_field("metadata", &EmptyObject {})?;
        st.serialize_field("token", &*self.token_text())?;
        st.end()
    }
}

/// Serialises as `{}`: the per-option `metadata` Midtrans always sends empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct EmptyObject {}

/// A country calling code: 1 to 3 digits, the only ones any route, fixture or state file takes.
/// Kept in place in 4 bytes (an inline string took 24): see BENCHMARKS.md, "Smaller records".
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CountryCode {
    len: u8,
    digits: [u8; 3],
}

impl CountryCode {
    pub const INDONESIA: Self = Self {
        len: 2,
        digits: *b"62\0",
    };

    /// `code` if it is 1 to 3 ASCII digits.
    pub fn new(code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        if bytes.is_empty() || bytes.len() > 3 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut digits = [0; 3];
        digits[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            len: u8::try_from(bytes.len()).ok()?,
            digits,
        })
    }

    pub fn as_str(&self) -> &str {
        // Digits only, so always UTF-8.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for CountryCode {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A pay account as the mock keeps it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    /// The server key that created it; `None` for a shared fixture account, usable by every key.
    pub owner: Option<SharedText>,
    pub status: AccountStatus,
    /// An inline string (up to 24 bytes, which every real number fits): no allocation of its own
    /// on every create (see BENCHMARKS.md).
    pub phone_number: CompactString,
    pub country_code: CountryCode,
    /// Shared by a key's accounts while it sends the same URL (see `Store::create`).
    pub redirect_url: Option<SharedText>,
    /// The web (`gpar_`) link works once, as Midtrans documents: its form was submitted.
    pub web_link_used: bool,
    /// Its place in creation order (set by the store): the cursor of account pages. Free in memory:
    /// the account's allocation has room for it.
    pub seq: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// When a PENDING account expires on the mock clock; none means never.
    pub expires_at_ms: OptionalMs,
    /// Empty until the account is first linked.
    pub payment_options: ThinVec<PaymentOption>,
}

impl crate::by_id::Keyed for Account {
    fn key(&self) -> &Uuid {
        &self.id
    }
}

/// Activation link ids are derived from account ids by a fixed XOR that keeps the UUID version and
/// variant bits: the links look unrelated to the account id, as Midtrans' do, yet need no index and
/// no extra random draw per create.
const LINK_MASK: u128 = 0x5a3c96e1_0f1e_0b27_0d2b_7c49e8a136f5;

/// The activation link id of an account id.
pub fn link_id_of(account_id: &Uuid) -> Uuid {
    Uuid::from_u128(account_id.as_u128() ^ LINK_MASK)
}

/// The account id behind an activation link id (the derivation is its own inverse).
pub fn account_id_of_link(link_id: &Uuid) -> Uuid {
    Uuid::from_u128(link_id.as_u128() ^ LINK_MASK)
}

impl Account {
    /// A fresh account created at `now_ms`: no owner, links unused, no expiry, no payment options.
    pub fn new(
        id: Uuid,
        status: AccountStatus,
        phone_number: &str,
        country_code: CountryCode,
        redirect_url: Option<&str>,
        now_ms: u64,
    ) -> Self {
        Self {
            id,
            owner: None,
            status,
            phone_number: phone_number.into(),
            country_code,
            redirect_url: redirect_url.map(SharedText::from),
            web_link_used: false,
            seq: 0,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            expires_at_ms: OptionalMs::NONE,
            payment_options: ThinVec::new(),
        }
    }

    /// The id behind the `gpar_`/`gpad_` activation links.
    pub fn link_id(&self) -> Uuid {
        link_id_of(&self.id)
    }

    /// The status as of `now`: a PENDING account past its expiry reads as EXPIRED even before the
    /// sweeper has recorded it, so reads never depend on the sweeper's timing.
    pub fn status_at(&self, now_ms: u64) -> AccountStatus {
        match (self.status, self.expires_at_ms.get()) {
            (AccountStatus::Pending, Some(at)) if now_ms >= at => AccountStatus::Expired,
            (status, _) => status,
        }
    }

    /// Whether `server_key` may see and change this account.
    pub fn visible_to(&self, server_key: &str) -> bool {
        self.owner
            .as_deref()
            .is_none_or(|owner| owner == server_key)
    }

    /// The customer's number with all but the last four digits hidden, for the activation pages.
    pub fn masked_phone(&self) -> String {
        let digits: Vec<char> = self.phone_number.chars().collect();
        let hidden = digits.len().saturating_sub(4);
        let shown: String = digits[hidden..].iter().collect();
        format!("+{} {}{shown}", self.country_code, "*".repeat(hidden))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_code_is_one_to_three_ascii_digits() {
        for code in ["1", "62", "999"] {
            assert_eq!(
                CountryCode::new(code).map(|c| c.to_string()),
                Some(code.into())
            );
        }
        for code in ["", "1234", "6a", "+62", "\u{0666}\u{0662}", " 62"] {
            assert_eq!(CountryCode::new(code), None, "{code:?}");
        }
        assert_eq!(CountryCode::new("62"), Some(CountryCode::INDONESIA));
    }

    /// Every create keeps an account, and the memory it touches fresh is most of what a create
    /// costs beyond the limit's at c32 (BENCHMARKS.md). At 104 bytes an account is a 112-byte
    /// allocation (glibc adds 8 and rounds to 16); at 136 it was 144.
    #[test]
    fn an_account_stays_small() {
        assert!(std::mem::size_of::<Account>() <= 104);
    }

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        use AccountStatus::*;
        for status in [Pending, Expired, Enabled, Disabled] {
            for t in [
                Transition::Link,
                Transition::Expire,
                Transition::Unbind,
                Transition::Unlink,
            ] {
                assert_eq!(
                    status.allowed().contains(&t),
                    t.from_status() == status,
                    "{status} {t:?}"
                );
            }
        }
        assert_eq!(Transition::Link.to_status(), Enabled);
        assert_eq!(Transition::from_name("unlink"), Some(Transition::Unlink));
        assert_eq!(Transition::from_name("approve"), None);
        assert_eq!(Transition::Unlink.to_status(), Disabled);
    }

    #[test]
    fn link_ids_are_distinct_valid_v4_uuids_that_lead_back() {
        let id = Uuid::parse_str("00000269-7836-49e5-bc65-e592afafec14").unwrap();
        let account = Account::new(
            id,
            AccountStatus::Pending,
            "81",
            CountryCode::INDONESIA,
            None,
            0,
        );
        let link = account.link_id();
        assert_ne!(link, id);
        assert_eq!(link.get_version_num(), 4);
        assert_eq!(link.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(account_id_of_link(&link), id);
    }

    #[test]
    fn generated_tokens_decode_to_the_documented_shape() {
        let option = PaymentOption {
            name: Arc::from("GOPAY_WALLET"),
            active: true,
            balance: Balance {
                value: Amount::from_units(1),
                currency: Arc::from("IDR"),
            },
            token: Token::Generated(Uuid::nil()),
        };
        let json = serde_json::to_value(&option).unwrap();
        let token = json["token"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            r#"{"type": "GOPAY_WALLET", "id": "00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(
            json,
            serde_json::json!({"name": "GOPAY_WALLET", "active": true,
                "balance": {"value": "1.00", "currency": "IDR"}, "metadata": {}, "token": token})
        );
        let given = PaymentOption {
            token: Token::Given("eyJ0eXBlIjogIlBBWV9MQVRFUiIsICJpZCI6ICIifQ==".into()),
            ..option
        };
        assert_eq!(
            serde_json::to_value(&given).unwrap()["token"],
            "eyJ0eXBlIjogIlBBWV9MQVRFUiIsICJpZCI6ICIifQ=="
        );
    }

    #[test]
    fn get_status_codes_follow_the_docs() {
        assert_eq!(AccountStatus::Pending.get_status_code(), "201");
        assert_eq!(AccountStatus::Enabled.get_status_code(), "200");
        assert_eq!(AccountStatus::Expired.get_status_code(), "204");
        assert_eq!(AccountStatus::Disabled.get_status_code(), "204");
    }
}
