//! Fixtures: the data the server starts from, kept as JSON in `fixtures/` so users can change it.
//!
//! The shipped files are compiled in, so the binary runs with no files around it; `--fixtures DIR`
//! replaces any of the three files that DIR holds (a file it lacks keeps the shipped default).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{AccountStatus, CountryCode};
use crate::limits::PHONE_NUMBER_MAX_DIGITS;
use crate::money::is_amount;

const PHONE_NUMBERS: &str = include_str!("../fixtures/phone_numbers.json");
const ACCOUNTS: &str = include_str!("../fixtures/accounts.json");
const PAYMENT_OPTIONS: &str = include_str!("../fixtures/payment_options.json");

/// What create answers for a phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A normal PENDING account.
    Pending,
    /// `"202"`, channel response `105` "User Not Found"; no account is created.
    UserNotFound,
    /// `"410"` "GoPay user is blocked" (or the 2021 `"202"` answer with `--legacy-sandbox`).
    UserBlocked,
}

impl Outcome {
    /// As the fixture files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::UserNotFound => "user_not_found",
            Self::UserBlocked => "user_blocked",
        }
    }
}

/// A phone number with a scripted outcome.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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

/// All fixture data. Shared slices: every config of a test suite carries a copy, and pooled servers
/// compare them (equal pointers compare at once).
#[derive(Debug, Clone, Eq)]
pub struct Fixtures {
    pub phone_numbers: Arc<[PhoneScenario]>,
    pub accounts: Arc<[AccountFixture]>,
    pub payment_options: Arc<[PaymentOptionFixture]>,
}

impl PartialEq for Fixtures {
    /// Written out because the derived comparison of `Arc<[T]>` compares every element even when
    /// both sides are the same slice, as they are for every pooled server of a suite.
    fn eq(&self, other: &Self) -> bool {
        fn same<T: PartialEq>(a: &Arc<[T]>, b: &Arc<[T]>) -> bool {
            Arc::ptr_eq(a, b) || **a == **b
        }
        same(&self.phone_numbers, &other.phone_numbers)
            && same(&self.accounts, &other.accounts)
            && same(&self.payment_options, &other.payment_options)
    }
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
    /// Parsed once per process: a test suite builds a default config per test.
    fn default() -> Self {
        static SHIPPED: std::sync::OnceLock<Fixtures> = std::sync::OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                let builtin =
                    |text: &str, name: &str| (text.to_string(), format!("built-in {name}"));
                Self::parse(
                    builtin(PHONE_NUMBERS, "phone_numbers.json"),
                    builtin(ACCOUNTS, "accounts.json"),
                    builtin(PAYMENT_OPTIONS, "payment_options.json"),
                )
                .unwrap_or_else(|e| panic!("the compiled-in fixtures are invalid: {e}"))
            })
            .clone()
    }
}

impl Fixtures {
    /// No phone scenarios, no accounts, the default payment options: a blank slate for tests.
    pub fn empty() -> Self {
        Self {
            phone_numbers: Arc::from([]),
            accounts: Arc::from([]),
            ..Self::default()
        }
    }

    /// Reads `phone_numbers.json`, `accounts.json` and `payment_options.json` from `dir`; a missing
    /// file keeps the shipped default, another `.json` file (a misspelt name) is an error.
    ///
    /// # Errors
    /// A folder or file that cannot be read, does not parse, or holds an invalid entry, with the
    /// path, the entry and the reason.
    pub fn load_dir(dir: &Path) -> Result<Self, String> {
        if dir.is_file() {
            return Err(format!(
                "{} is a file; give the folder that holds {}",
                dir.display(),
                FILES.join(", ")
            ));
        }
        if !dir.is_dir() {
            return Err(format!("fixtures folder {} does not exist", dir.display()));
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read the fixtures folder {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !FILES.contains(&name.as_str()) {
                return Err(format!(
                    "{}: unknown fixture file (expected {})",
                    dir.join(&name).display(),
                    FILES.join(", ")
                ));
            }
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
        Self::parse(
            read("phone_numbers.json", PHONE_NUMBERS)?,
            read("accounts.json", ACCOUNTS)?,
            read("payment_options.json", PAYMENT_OPTIONS)?,
        )
    }

    /// Parses and checks the three files, given as (text, name for messages).
    fn parse(
        (phones, phones_src): (String, String),
        (accounts, accounts_src): (String, String),
        (options, options_src): (String, String),
    ) -> Result<Self, String> {
        let phone_numbers = serde_json::from_str::<PhoneNumbersFile>(&phones)
            .map_err(|e| format!("{phones_src}: {e}"))?
            .phone_numbers;
        let accounts = serde_json::from_str::<AccountsFile>(&accounts)
            .map_err(|e| format!("{accounts_src}: {e}"))?
            .accounts;
        let payment_options = serde_json::from_str::<PaymentOptionsFile>(&options)
            .map_err(|e| format!("{options_src}: {e}"))?
            .payment_options;
        check_phone_numbers(&phone_numbers).map_err(|e| format!("{phones_src}: {e}"))?;
        check_accounts(&accounts).map_err(|e| format!("{accounts_src}: {e}"))?;
        check_options(&payment_options).map_err(|e| format!("{options_src}: {e}"))?;
        Ok(Self {
            phone_numbers: phone_numbers.into(),
            accounts: accounts.into(),
            payment_options: payment_options.into(),
        })
    }

    /// Checks fixtures built in code as those read from files are checked.
    ///
    /// # Errors
    /// The first invalid entry, named by its list and entry.
    pub fn check(&self) -> Result<(), String> {
        check_phone_numbers(&self.phone_numbers).map_err(|e| format!("fixtures: {e}"))?;
        check_accounts(&self.accounts).map_err(|e| format!("fixtures: {e}"))?;
        check_options(&self.payment_options).map_err(|e| format!("fixtures: payment options: {e}"))
    }

    /// The scenario for a phone number, if any; an entry with a country code wins over one without.
    pub fn scenario(&self, phone_number: &str, country_code: &str) -> Option<&PhoneScenario> {
        pick(self.phone_numbers.iter(), phone_number, country_code)
    }
}

/// The scenario of `scenarios` for a phone number: one with that country code, else the first one
/// without a country code.
pub fn pick<'a>(
    scenarios: impl Iterator<Item = &'a PhoneScenario>,
    phone_number: &str,
    country_code: &str,
) -> Option<&'a PhoneScenario> {
    let mut fallback = None;
    for s in scenarios {
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

/// The files a fixtures folder may hold.
const FILES: [&str; 3] = [
    "phone_numbers.json",
    "accounts.json",
    "payment_options.json",
];
/// Entries one fixture file may hold.
pub const MAX_ENTRIES: usize = 100_000;
/// Payment options one account or scenario may have.
pub const MAX_OPTIONS: usize = 16;

fn check_count<T>(what: &str, items: &[T], max: usize) -> Result<(), String> {
    if items.len() > max {
        return Err(format!("at most {max} {what}, got {}", items.len()));
    }
    Ok(())
}

/// A phone number as create accepts it: digits, not starting with 0.
pub(crate) fn check_phone(phone: &str) -> Result<(), String> {
    if phone.is_empty()
        || phone.len() > PHONE_NUMBER_MAX_DIGITS
        || !phone.bytes().all(|b| b.is_ascii_digit())
        || phone.starts_with('0')
    {
        return Err(format!(
            "phone_number '{}' must be 1 to {PHONE_NUMBER_MAX_DIGITS} digits, not starting with 0",
            phone.escape_debug()
        ));
    }
    Ok(())
}

pub(crate) fn check_country_code(cc: &str) -> Result<CountryCode, String> {
    CountryCode::new(cc)
        .ok_or_else(|| format!("country_code '{}' must be 1 to 3 digits", cc.escape_debug()))
}

fn check_phone_numbers(scenarios: &[PhoneScenario]) -> Result<(), String> {
    check_count("phone numbers", scenarios, MAX_ENTRIES)?;
    for (i, s) in scenarios.iter().enumerate() {
        check_scenario(s).map_err(|e| {
            format!(
                "phone number #{} ('{}'): {e}",
                i + 1,
                s.phone_number.escape_debug()
            )
        })?;
    }
    Ok(())
}

/// One phone scenario's fields against their ranges (a fixture's, or one added at run time).
///
/// # Errors
/// The first field that is wrong.
pub fn check_scenario(s: &PhoneScenario) -> Result<(), String> {
    check_phone(&s.phone_number)?;
    if let Some(cc) = &s.country_code {
        check_country_code(cc)?;
    }
    if s.description.as_ref().is_some_and(|d| d.len() > 1000) {
        return Err("description must be at most 1000 bytes long".into());
    }
    if let Some(options) = &s.payment_options {
        check_options(options)?;
    }
    Ok(())
}

fn check_accounts(accounts: &[AccountFixture]) -> Result<(), String> {
    check_count("accounts", accounts, MAX_ENTRIES)?;
    let mut seen = std::collections::HashSet::new();
    for a in accounts {
        let entry = |e: String| format!("account {}: {e}", a.account_id);
        if !seen.insert(a.account_id) {
            return Err(entry("the account_id appears twice".into()));
        }
        if let Some(key) = &a.server_key {
            crate::limits::check_server_key("server_key", key)
                .map_err(|e| entry(format!("{e} (leave it out to share the account)")))?;
        }
        check_phone(&a.phone_number).map_err(entry)?;
        check_country_code(&a.country_code).map_err(entry)?;
        if let Some(url) = &a.redirect_url
            && url.len() > crate::limits::URL_MAX_LEN
        {
            return Err(entry(format!(
                "redirect_url must be at most {} bytes long",
                crate::limits::URL_MAX_LEN
            )));
        }
        if let Some(options) = &a.payment_options {
            check_options(options).map_err(entry)?;
        }
    }
    Ok(())
}

pub(crate) fn check_options(options: &[PaymentOptionFixture]) -> Result<(), String> {
    check_count("payment options", options, MAX_OPTIONS)?;
    for (i, o) in options.iter().enumerate() {
        let option = |e: String| format!("payment option {}: {e}", o.name.escape_debug());
        // A charge finds its option by token and moves money by name: two options of one name
        // would check one balance and debit the other.
        if options[..i].iter().any(|earlier| earlier.name == o.name) {
            return Err(option(
                "names must differ between an account's options".into(),
            ));
        }
        if o.name.trim().is_empty() || o.name.len() > 64 {
            return Err(option("name must be 1 to 64 characters".into()));
        }
        if !is_amount(&o.balance) {
            return Err(option(format!(
                "balance '{}' must look like \"1000000.00\" (at most 15 digits before the point)",
                o.balance.escape_debug()
            )));
        }
        if o.currency.is_empty()
            || o.currency.len() > 8
            || !o.currency.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(option(format!(
                "currency '{}' must be 1 to 8 letters",
                o.currency.escape_debug()
            )));
        }
        if o.token
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.len() > 1024)
        {
            return Err(option("token must be 1 to 1024 characters".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_are_the_fixture_files_names() {
        for o in [
            Outcome::Pending,
            Outcome::UserNotFound,
            Outcome::UserBlocked,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

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

    /// A fresh folder holding `files` (name, content).
    fn folder(tag: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pam-fixtures-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        dir
    }

    #[test]
    fn bad_entries_are_refused_naming_the_file_and_the_entry() {
        let id = "00000269-7836-49e5-bc65-e592afafec99";
        let account = |extra: &str| {
            format!(
                r#"{{"accounts":[{{"account_id":"{id}","account_status":"ENABLED","phone_number":"8123"{extra}}}]}}"#
            )
        };
        let cases: Vec<(&str, String, &str)> = vec![
            ("phone_numbers.json", r#"{"phone_numbers":[{"phone_number":"","outcome":"pending"}]}"#.into(), "phone number #1 (''): phone_number '' must be"),
            ("phone_numbers.json", r#"{"phone_numbers":[{"phone_number":"81","country_code":"abcd","outcome":"pending"}]}"#.into(), "country_code 'abcd' must be 1 to 3 digits"),
            ("accounts.json", account(r#","server_key":" ""#), "must be a non-blank key"),
            ("accounts.json", account(r#","country_code":"abcd""#), "country_code 'abcd'"),
            ("accounts.json", account(r#","payment_options":[{"name":"GOPAY_WALLET","balance":"12"}]"#), "payment option GOPAY_WALLET: balance '12'"),
            ("payment_options.json", r#"{"payment_options":[{"name":"X","balance":"1234567890123456.00"}]}"#.into(), "payment option X: balance"),
        ];
        for (i, (file, content, expected)) in cases.into_iter().enumerate() {
            let dir = folder(&format!("bad{i}"), &[(file, &content)]);
            let err = Fixtures::load_dir(&dir).unwrap_err();
            assert!(err.contains(file), "{err}");
            assert!(err.contains(expected), "{err}");
            if file == "accounts.json" {
                assert!(err.contains(id), "{err}");
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_misspelt_file_or_a_file_for_a_folder_is_refused() {
        let dir = folder("misspelt", &[("phone_number.json", "{}")]);
        let err = Fixtures::load_dir(&dir).unwrap_err();
        assert!(
            err.contains("phone_number.json: unknown fixture file"),
            "{err}"
        );
        let err = Fixtures::load_dir(&dir.join("phone_number.json")).unwrap_err();
        assert!(err.contains("is a file; give the folder"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
