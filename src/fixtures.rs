//! Fixtures: the data the server starts from, kept as JSON in `fixtures/` so users can change it.
//!
//! The shipped files are compiled in, so the binary runs with no files around it; `--fixtures DIR`
//! replaces any of the three files that DIR holds (a file it lacks keeps the shipped default).

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::AccountStatus;

const PHONE_NUMBERS: &str = include_str!("../fixtures/phone_numbers.json");
const ACCOUNTS: &str = include_str!("../fixtures/accounts.json");
const PAYMENT_OPTIONS: &str = include_str!("../fixtures/payment_options.json");

/// What create answers for a phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A normal PENDING account.
    Pending,
    /// `"202"`, channel response `105` "User Not Found"; no account is created.
    UserNotFound,
    /// `"410"` "GoPay user is blocked" (or the 2021 `"202"` answer with `--legacy-sandbox`).
    UserBlocked,
}

/// A phone number with a scripted outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneScenario {
    pub phone_number: String,
    /// Without it the number matches whatever country code the request carries.
    #[serde(default)]
    pub country_code: Option<String>,
    pub outcome: Outcome,
    #[serde(default)]
    pub description: Option<String>,
    /// Balances given when this number's account is linked, instead of the defaults.
    #[serde(default)]
    pub payment_options: Option<Vec<PaymentOptionFixture>>,
}

/// A payment option as written in the fixtures; the token is generated unless given.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PaymentOptionFixture {
    /// Shared by every account that gets this option (see [`crate::accounts::PaymentOption`]).
    pub name: Arc<str>,
    #[serde(default = "yes")]
    pub active: bool,
    pub balance: String,
    #[serde(default = "idr")]
    pub currency: Arc<str>,
    #[serde(default)]
    pub token: Option<String>,
}

fn yes() -> bool {
    true
}

fn idr() -> Arc<str> {
    Arc::from("IDR")
}

/// An account present at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFixture {
    pub account_id: Uuid,
    /// Owner; without it every server key may use the account.
    #[serde(default)]
    pub server_key: Option<String>,
    pub account_status: AccountStatus,
    pub phone_number: String,
    #[serde(default = "indonesia")]
    pub country_code: String,
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default)]
    pub payment_options: Option<Vec<PaymentOptionFixture>>,
}

fn indonesia() -> String {
    "62".into()
}

/// All fixture data.
#[derive(Debug, Clone)]
pub struct Fixtures {
    pub phone_numbers: Vec<PhoneScenario>,
    pub accounts: Vec<AccountFixture>,
    pub payment_options: Vec<PaymentOptionFixture>,
}

#[derive(Deserialize)]
struct PhoneNumbersFile {
    #[serde(default, rename = "_comment")]
    _comment: Option<String>,
    phone_numbers: Vec<PhoneScenario>,
}

#[derive(Deserialize)]
struct AccountsFile {
    #[serde(default, rename = "_comment")]
    _comment: Option<String>,
    accounts: Vec<AccountFixture>,
}

#[derive(Deserialize)]
struct PaymentOptionsFile {
    #[serde(default, rename = "_comment")]
    _comment: Option<String>,
    payment_options: Vec<PaymentOptionFixture>,
}

impl Default for Fixtures {
    /// The shipped fixtures; they are checked by a unit test, so parsing them cannot fail at run time.
    fn default() -> Self {
        Self::parse(PHONE_NUMBERS, ACCOUNTS, PAYMENT_OPTIONS)
            .unwrap_or_else(|e| panic!("the compiled-in fixtures are invalid: {e}"))
    }
}

impl Fixtures {
    /// No phone scenarios, no accounts, the default payment options: a blank slate for tests.
    pub fn empty() -> Self {
        Self {
            phone_numbers: Vec::new(),
            accounts: Vec::new(),
            ..Self::default()
        }
    }

    /// Reads `phone_numbers.json`, `accounts.json` and `payment_options.json` from `dir`; a missing
    /// file keeps the shipped default.
    ///
    /// # Errors
    /// A file that cannot be read or does not parse, with its path and the reason.
    pub fn load_dir(dir: &Path) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("fixtures folder {} does not exist", dir.display()));
        }
        let read = |name: &str, default: &'static str| -> Result<(String, String), String> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok((text, path.display().to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Ok((default.to_string(), format!("built-in {name}")))
                }
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        };
        let (phones, phones_src) = read("phone_numbers.json", PHONE_NUMBERS)?;
        let (accounts, accounts_src) = read("accounts.json", ACCOUNTS)?;
        let (options, options_src) = read("payment_options.json", PAYMENT_OPTIONS)?;
        let phone_numbers = serde_json::from_str::<PhoneNumbersFile>(&phones)
            .map_err(|e| format!("{phones_src}: {e}"))?
            .phone_numbers;
        let accounts = serde_json::from_str::<AccountsFile>(&accounts)
            .map_err(|e| format!("{accounts_src}: {e}"))?
            .accounts;
        let payment_options = serde_json::from_str::<PaymentOptionsFile>(&options)
            .map_err(|e| format!("{options_src}: {e}"))?
            .payment_options;
        Self::checked(phone_numbers, accounts, payment_options)
    }

    fn parse(phones: &str, accounts: &str, options: &str) -> Result<Self, String> {
        let phone_numbers = serde_json::from_str::<PhoneNumbersFile>(phones)
            .map_err(|e| format!("phone_numbers.json: {e}"))?
            .phone_numbers;
        let accounts = serde_json::from_str::<AccountsFile>(accounts)
            .map_err(|e| format!("accounts.json: {e}"))?
            .accounts;
        let payment_options = serde_json::from_str::<PaymentOptionsFile>(options)
            .map_err(|e| format!("payment_options.json: {e}"))?
            .payment_options;
        Self::checked(phone_numbers, accounts, payment_options)
    }

    fn checked(
        phone_numbers: Vec<PhoneScenario>,
        accounts: Vec<AccountFixture>,
        payment_options: Vec<PaymentOptionFixture>,
    ) -> Result<Self, String> {
        let mut seen = std::collections::HashSet::new();
        for a in &accounts {
            if !seen.insert(a.account_id) {
                return Err(format!(
                    "accounts.json: account_id {} appears twice",
                    a.account_id
                ));
            }
            if a.server_key.as_deref() == Some("") {
                return Err(format!(
                    "accounts.json: account {} has an empty server_key (leave it out to share the account)",
                    a.account_id
                ));
            }
        }
        let all_options = payment_options
            .iter()
            .chain(
                accounts
                    .iter()
                    .flat_map(|a| a.payment_options.iter().flatten()),
            )
            .chain(
                phone_numbers
                    .iter()
                    .flat_map(|p| p.payment_options.iter().flatten()),
            );
        for o in all_options {
            if !is_amount(&o.balance) {
                return Err(format!(
                    "payment option {}: balance '{}' must look like \"1000000.00\"",
                    o.name, o.balance
                ));
            }
        }
        Ok(Self {
            phone_numbers,
            accounts,
            payment_options,
        })
    }

    /// The scenario for a phone number, if any; an entry with a country code wins over one without.
    pub fn scenario(&self, phone_number: &str, country_code: &str) -> Option<&PhoneScenario> {
        let mut fallback = None;
        for s in &self.phone_numbers {
            if s.phone_number != phone_number {
                continue;
            }
            match s.country_code.as_deref() {
                Some(cc) if cc == country_code => return Some(s),
                None if fallback.is_none() => fallback = Some(s),
                _ => {}
            }
        }
        fallback
    }
}

/// A Midtrans amount: digits, a dot, two digits.
pub fn is_amount(s: &str) -> bool {
    match s.split_once('.') {
        Some((whole, cents)) => {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && cents.len() == 2
                && cents.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_fixtures_parse_and_hold_the_sandbox_numbers() {
        let f = Fixtures::default();
        assert_eq!(
            f.scenario("123450001", "62").map(|s| s.outcome),
            Some(Outcome::UserNotFound)
        );
        assert_eq!(
            f.scenario("123450002", "1").map(|s| s.outcome),
            Some(Outcome::UserBlocked)
        );
        assert_eq!(
            f.scenario("8271939753", "62").map(|s| s.outcome),
            Some(Outcome::UserBlocked)
        );
        assert!(f.scenario("8271939753", "380").is_none());
        assert!(f.scenario("81212345678", "62").is_none());
        assert_eq!(f.payment_options.len(), 2);
        assert_eq!(f.accounts.len(), 4);
    }

    #[test]
    fn amounts_need_two_decimals() {
        assert!(is_amount("1000000.00"));
        assert!(is_amount("0.00"));
        assert!(!is_amount("1000000"));
        assert!(!is_amount(".00"));
        assert!(!is_amount("1,000.00"));
    }

    #[test]
    fn a_fixtures_folder_overrides_only_the_files_it_has() {
        let dir = std::env::temp_dir().join(format!("pam-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("phone_numbers.json"),
            r#"{"phone_numbers":[{"phone_number":"899","outcome":"user_blocked"}]}"#,
        )
        .unwrap();
        let f = Fixtures::load_dir(&dir).unwrap();
        assert_eq!(f.phone_numbers.len(), 1);
        assert_eq!(f.accounts.len(), 4);
        std::fs::write(
            dir.join("accounts.json"),
            r#"{"accounts":[{"account_id":"x"}]}"#,
        )
        .unwrap();
        let err = Fixtures::load_dir(&dir).unwrap_err();
        assert!(err.contains("accounts.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
