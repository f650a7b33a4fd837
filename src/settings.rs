//! The runtime config: the settings the control API (`PATCH /__admin/config`), the dashboard and
//! the state file change while the server runs, and the one place a change to them is checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, parse_duration};
use crate::limits::{
    self, check_duration, check_merchant_id, check_retry_schedule, check_server_key, check_url,
};
use crate::money::Amount;
use crate::notifications::Target;

/// Settings the control API can change while the server runs.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The "Account linking notification URL" for every merchant without its own.
    pub notification_url: Option<String>,
    /// Per server key notification URLs.
    pub notification_urls: HashMap<String, String>,
    /// The "Payment Notification URL" for every merchant without its own.
    pub payment_notification_url: Option<String>,
    /// Per server key payment notification URLs.
    pub payment_notification_urls: HashMap<String, String>,
    pub merchant_id: String,
    #[serde(serialize_with = "ser_duration")]
    pub activation_ttl: Duration,
    #[serde(serialize_with = "ser_durations")]
    pub retry_schedule: Vec<Duration>,
    pub unbind_notification: bool,
    /// `merchant_id` of GoPay transactions; shared by every answer and notification that shows it.
    pub gopay_merchant_id: Arc<str>,
    /// Charges from this amount up ask for the PIN.
    pub pin_threshold: Amount,
    #[serde(serialize_with = "ser_duration")]
    pub verification_link_ttl: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub transaction_ttl: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub pre_auth_hold: Duration,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

fn ser_durations<S: serde::Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(d.iter().map(|d| humantime::format_duration(*d).to_string()))
}

impl Settings {
    /// Where a merchant's account linking notifications go.
    pub fn notification_url_for(&self, server_key: &str) -> Option<&str> {
        self.notification_urls
            .get(server_key)
            .or(self.notification_url.as_ref())
            .map(String::as_str)
    }

    /// Where a notification for `server_key` goes now.
    pub fn url_for<'a>(&'a self, target: &'a Target, server_key: &str) -> Option<&'a str> {
        match target {
            Target::Linking => self.notification_url_for(server_key),
            Target::Payment => self
                .payment_notification_urls
                .get(server_key)
                .or(self.payment_notification_url.as_ref())
                .map(String::as_str),
            Target::Url(url) => Some(url),
        }
    }

    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            notification_url: config.notification_url.clone(),
            notification_urls: HashMap::new(),
            payment_notification_url: config.payment_notification_url.clone(),
            payment_notification_urls: HashMap::new(),
            merchant_id: config.merchant_id.clone(),
            activation_ttl: config.activation_ttl,
            retry_schedule: config.retry_schedule.clone(),
            unbind_notification: config.unbind_notification,
            gopay_merchant_id: Arc::from(config.gopay_merchant_id.as_str()),
            pin_threshold: Amount::from_units(config.pin_threshold),
            verification_link_ttl: config.verification_link_ttl,
            transaction_ttl: config.transaction_ttl,
            pre_auth_hold: config.pre_auth_hold,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(f64),
    Text(String),
}

impl DurationValue {
    /// The duration; one above 0 but under a millisecond (the mock clock's step) is refused, as it
    /// would count as 0, which for a TTL means "never".
    fn parse(&self, what: &str) -> Result<Duration, String> {
        let (d, above_zero) = match self {
            Self::Seconds(s) => {
                let d = Duration::try_from_secs_f64(*s).map_err(|_| {
                    format!("{what} must be a non-negative number of seconds, got {s}")
                })?;
                (d, *s > 0.0)
            }
            Self::Text(t) => {
                let d = parse_duration(t).map_err(|e| format!("{what}: {e}"))?;
                (d, !d.is_zero())
            }
        };
        // A number of seconds so small that it is 0 as a duration is still above 0.
        let d = if above_zero {
            d.max(Duration::from_nanos(1))
        } else {
            d
        };
        limits::check_step(what, d)
    }
}

/// Whole IDR, as a number or as the amount text `GET /__admin/config` shows (`"100000.00"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum WholeIdr {
    Number(u64),
    Text(String),
}

impl WholeIdr {
    fn units(&self, what: &str) -> Result<u64, String> {
        match self {
            Self::Number(n) => Ok(*n),
            Self::Text(t) => Amount::parse(t)
                .filter(|a| a.hundredths() % 100 == 0)
                .map(|a| a.hundredths() / 100)
                .ok_or_else(|| format!("{what} must be whole IDR, got '{}'", t.escape_debug())),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Schedule {
    Text(String),
    List(Vec<DurationValue>),
}

/// Fields left out keep their value; `null` clears a notification URL.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    #[serde(default, with = "double_option")]
    notification_url: Option<Option<String>>,
    /// Per server key; a `null` value removes the key's own URL.
    notification_urls: Option<HashMap<String, Option<String>>>,
    merchant_id: Option<String>,
    activation_ttl: Option<DurationValue>,
    retry_schedule: Option<Schedule>,
    unbind_notification: Option<bool>,
    #[serde(default, with = "double_option")]
    payment_notification_url: Option<Option<String>>,
    /// Per server key; a `null` value removes the key's own URL.
    payment_notification_urls: Option<HashMap<String, Option<String>>>,
    gopay_merchant_id: Option<String>,
    pin_threshold: Option<WholeIdr>,
    verification_link_ttl: Option<DurationValue>,
    transaction_ttl: Option<DurationValue>,
    pre_auth_hold: Option<DurationValue>,
}

/// Tells a missing field (keep) from an explicit `null` (clear).
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Validates the whole patch first, then applies it, so a bad field changes nothing.
impl ConfigPatch {
    /// Applies the patch to `settings`, all of it or (when a value is out of its range) none of it.
    ///
    /// # Errors
    /// The first value out of its range, named.
    pub fn apply(self, settings: &mut Settings) -> Result<(), String> {
        let patch = self;
        let bad = |e: String| e;
        if let Some(Some(url)) = &patch.notification_url {
            check_url("notification_url", url).map_err(bad)?;
        }
        for (key, url) in patch.notification_urls.iter().flatten() {
            check_server_key("a notification_urls key", key).map_err(bad)?;
            if let Some(url) = url {
                check_url(&format!("notification_urls[{key}]"), url).map_err(bad)?;
            }
        }
        if let Some(Some(url)) = &patch.payment_notification_url {
            check_url("payment_notification_url", url).map_err(bad)?;
        }
        for (key, url) in patch.payment_notification_urls.iter().flatten() {
            check_server_key("a payment_notification_urls key", key).map_err(bad)?;
            if let Some(url) = url {
                check_url(&format!("payment_notification_urls[{key}]"), url).map_err(bad)?;
            }
        }
        if let Some(id) = &patch.gopay_merchant_id {
            check_merchant_id("gopay_merchant_id", id).map_err(bad)?;
        }
        let pin_threshold = patch
            .pin_threshold
            .as_ref()
            .map(|n| n.units("pin_threshold"))
            .transpose()?;
        if let Some(n) = pin_threshold {
            let (min, max) = limits::PIN_THRESHOLD;
            if !(min..=max).contains(&n) {
                return Err(bad(format!(
                    "pin_threshold must be between {min} and {max} (whole IDR), got {n}"
                )));
            }
        }
        let ttl_in =
            |value: &Option<DurationValue>, what: &str, (min, max): (Duration, Duration)| {
                value
                    .as_ref()
                    .map(|d| check_duration(what, d.parse(what)?, min, max))
                    .transpose()
            };
        let link_ttl = ttl_in(
            &patch.verification_link_ttl,
            "verification_link_ttl",
            limits::VERIFICATION_LINK_TTL,
        )
        .map_err(bad)?;
        let tx_ttl = ttl_in(
            &patch.transaction_ttl,
            "transaction_ttl",
            limits::TRANSACTION_TTL,
        )
        .map_err(bad)?;
        let hold = ttl_in(
            &patch.pre_auth_hold,
            "pre_auth_hold",
            limits::TRANSACTION_TTL,
        )
        .map_err(bad)?;
        if let Some(id) = &patch.merchant_id {
            check_merchant_id("merchant_id", id).map_err(bad)?;
        }
        let ttl = patch
            .activation_ttl
            .as_ref()
            .map(|d| {
                let ttl = d.parse("activation_ttl")?;
                check_duration(
                    "activation_ttl",
                    ttl,
                    Duration::ZERO,
                    limits::ACTIVATION_TTL_MAX,
                )
            })
            .transpose()
            .map_err(bad)?;
        let schedule = match &patch.retry_schedule {
            None => None,
            Some(Schedule::Text(t)) => Some(
                crate::config::parse_retry_schedule(t)
                    .map_err(|e| bad(format!("retry_schedule: {e}")))?,
            ),
            Some(Schedule::List(list)) => {
                let schedule = list
                    .iter()
                    .map(|d| d.parse("a retry_schedule interval"))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad)?;
                check_retry_schedule(&schedule).map_err(|e| bad(format!("retry_schedule: {e}")))?;
                Some(schedule)
            }
        };
        let added = patch
            .notification_urls
            .iter()
            .flatten()
            .filter(|(k, v)| v.is_some() && !settings.notification_urls.contains_key(*k))
            .count();
        let added_payment = patch
            .payment_notification_urls
            .iter()
            .flatten()
            .filter(|(k, v)| v.is_some() && !settings.payment_notification_urls.contains_key(*k))
            .count();
        if settings.notification_urls.len().saturating_add(added) > limits::NOTIFICATION_URLS_MAX
            || settings
                .payment_notification_urls
                .len()
                .saturating_add(added_payment)
                > limits::NOTIFICATION_URLS_MAX
        {
            return Err(bad(format!(
                "at most {} server keys can have their own notification URL (of each kind)",
                limits::NOTIFICATION_URLS_MAX
            )));
        }
        if let Some(url) = patch.notification_url {
            settings.notification_url = url;
        }
        for (key, url) in patch.notification_urls.into_iter().flatten() {
            match url {
                Some(url) => settings.notification_urls.insert(key, url),
                None => settings.notification_urls.remove(&key),
            };
        }
        if let Some(id) = patch.merchant_id {
            settings.merchant_id = id;
        }
        if let Some(ttl) = ttl {
            settings.activation_ttl = ttl;
        }
        if let Some(schedule) = schedule {
            settings.retry_schedule = schedule;
        }
        if let Some(on) = patch.unbind_notification {
            settings.unbind_notification = on;
        }
        if let Some(url) = patch.payment_notification_url {
            settings.payment_notification_url = url;
        }
        for (key, url) in patch.payment_notification_urls.into_iter().flatten() {
            match url {
                Some(url) => settings.payment_notification_urls.insert(key, url),
                None => settings.payment_notification_urls.remove(&key),
            };
        }
        if let Some(id) = patch.gopay_merchant_id {
            settings.gopay_merchant_id = id.into();
        }
        if let Some(n) = pin_threshold {
            settings.pin_threshold = crate::money::Amount::from_units(n);
        }
        if let Some(d) = link_ttl {
            settings.verification_link_ttl = d;
        }
        if let Some(d) = tx_ttl {
            settings.transaction_ttl = d;
        }
        if let Some(d) = hold {
            settings.pre_auth_hold = d;
        }
        Ok(())
    }
}
