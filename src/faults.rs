//! Fault and latency injection: rules that make the Midtrans routes fail, slow down, drop the
//! connection or stall, so that a test can see what its code does when Midtrans misbehaves.
//!
//! A rule matches on any of method, path (or pattern), server key, the phone number of a create
//! body and the account id in the path; it fires `times` times, or with a probability drawn from a
//! generator seeded by `--seed`, or until removed. The first rule (oldest first) that matches and
//! fires decides. Rules come from `POST /__admin/faults` or `--faults FILE` (the same JSON); the
//! effects are applied around the route in `intercept.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Rules one server holds at most.
pub const MAX_RULES: usize = 1000;
/// The largest `--faults` file: room for [`MAX_RULES`] rules of the largest answers.
pub const MAX_FILE_BYTES: u64 = 320 * 1024 * 1024;
/// Longest delay or stall a rule may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(600);
/// How long a stall lasts when the rule does not say.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);
/// Headers a free-form answer may set.
const MAX_HEADERS: usize = 32;
/// Longest matcher text (path, method, key, description).
const MAX_TEXT: usize = 2048;
/// Largest free-form answer: its body, serialised, and its headers' names and values.
const MAX_BODY: usize = 256 * 1024;

/// A ready-made answer for a documented Midtrans failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// HTTP 500, `"500"` "Sorry. Our system is recovering from unexpected issues. Please retry."
    InternalError,
    /// HTTP 503, `"503"`.
    Unavailable,
    /// HTTP 429, `{"message":"API rate limit exceeded"}` (no `status_code`).
    RateLimited,
    /// HTTP 200, `"202"` with GoPay's channel response "Intermittent gopay error".
    IntermittentGopayError,
    /// HTTP 200 (502 with `--http-status mirror`), `"502"` "Timeout from gopay during creation".
    GopayTimeout,
}

/// A rule as the control API takes and shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    // What it matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An exact path, or a pattern where `*` stands for one segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    /// The `gopay_partner.phone_number` of a create body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The account id in the path (get and unbind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    // When it fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    // What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// A free-form answer's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A free-form answer's body, sent as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<JsonText>,
    /// A free-form answer's body, sent as it is (instead of `body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Wait this long before answering (the real answer, or the rule's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// With `delay_ms`: a delay drawn between the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_max_ms: Option<u64>,
    /// Close the connection without an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_connection: Option<bool>,
    /// Send the answer's status and headers, then nothing for this long, then close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_ms: Option<u64>,
}

/// A JSON value kept as its text. A rule only sends its body and shows it, and a tree of values
/// takes tens of times the text's size: a thousand rules of large bodies took gigabytes.
#[derive(Debug, Clone)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self)
    }
}

/// What a fired rule does to the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The real answer, after the delay.
    Delay,
    Answer(Answer),
    Drop,
    /// `Answer`'s head, then silence for this long.
    Stall(Answer, Duration),
}

/// An answer a rule gives instead of the route's.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Preset(Preset),
    Custom {
        status: StatusCode,
        body: Bytes,
        json: bool,
        headers: Vec<(String, String)>,
    },
}

/// A rule that fired on a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub rule: u64,
    pub delay: Duration,
    /// Shared with the rule: a free-form answer is up to 256 KiB, and a rule fires under the lock.
    pub effect: Arc<Effect>,
}

/// A rule checked and ready to match.
#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    /// Shared with the listings, which write it outside the rules' lock.
    spec: Arc<RuleSpec>,
    effect: Arc<Effect>,
    remaining: Option<u64>,
    fired: u64,
}

impl RuleSpec {
    /// Checks every field against its range and works out the effect.
    ///
    /// # Errors
    /// What is wrong, naming the field.
    fn check(&self) -> Result<Effect, String> {
        for (name, value) in [
            ("description", &self.description),
            ("method", &self.method),
            ("path", &self.path),
            ("server_key", &self.server_key),
            ("phone_number", &self.phone_number),
            ("account_id", &self.account_id),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_TEXT) {
                return Err(format!("{name} must be at most {MAX_TEXT} bytes long"));
            }
        }
        // The rule a removal by key (`DELETE /__admin/faults?server_key=`) applies too.
        if let Some(key) = &self.server_key {
            crate::limits::check_server_key("server_key", key)?;
        }
        if self.path.as_deref().is_some_and(|p| !p.starts_with('/')) {
            return Err("path must start with '/'".into());
        }
        if self.times == Some(0) {
            return Err("times must be at least 1 (leave it out to fire until removed)".into());
        }
        if let Some(p) = self.probability
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(format!(
                "probability must be above 0 and at most 1, got {p}"
            ));
        }
        let max_ms = u64::try_from(MAX_DELAY.as_millis()).unwrap_or(u64::MAX);
        for (name, value) in [
            ("delay_ms", self.delay_ms),
            ("delay_max_ms", self.delay_max_ms),
            ("stall_ms", self.stall_ms),
        ] {
            if value.is_some_and(|v| v > max_ms) {
                return Err(format!("{name} must be at most {max_ms}"));
            }
        }
        let longest_delay = self.delay_max_ms.or(self.delay_ms).unwrap_or(0);
        if longest_delay.saturating_add(self.stall_ms.unwrap_or(0)) > max_ms {
            return Err(format!(
                "a delay and a stall together must be at most {max_ms} ms (the longest delay plus stall_ms)"
            ));
        }
        match (self.delay_ms, self.delay_max_ms) {
            (None, Some(_)) => {
                return Err("delay_max_ms needs delay_ms (the shortest delay)".into());
            }
            (Some(min), Some(max)) if max < min => {
                return Err(format!(
                    "delay_max_ms ({max}) must not be below delay_ms ({min})"
                ));
            }
            _ => {}
        }
        let answer = self.answer()?;
        let dropped = self.drop_connection == Some(true);
        let effect = match (answer, dropped, self.stall_ms) {
            (_, true, Some(_)) => {
                return Err("drop_connection and stall_ms cannot be combined".into());
            }
            (Some(_), true, None) => {
                return Err(
                    "drop_connection sends no answer: leave out preset, status and body".into(),
                );
            }
            (None, true, None) => Effect::Drop,
            (answer, false, Some(ms)) => Effect::Stall(
                answer.unwrap_or(Answer::Custom {
                    status: StatusCode::OK,
                    body: Bytes::new(),
                    json: true,
                    headers: Vec::new(),
                }),
                Duration::from_millis(ms.max(1)),
            ),
            (Some(answer), false, None) => Effect::Answer(answer),
            (None, false, None) if self.delay_ms.is_some() => Effect::Delay,
            (None, false, None) => {
                return Err("a rule needs an effect: preset, status (a free-form answer), delay_ms, drop_connection or stall_ms".into());
            }
        };
        Ok(effect)
    }

    fn answer(&self) -> Result<Option<Answer>, String> {
        let custom = self.status.is_some()
            || self.body.is_some()
            || self.body_text.is_some()
            || self.headers.is_some();
        if let Some(preset) = self.preset {
            if custom {
                return Err(
                    "preset cannot be combined with status, body, body_text or headers".into(),
                );
            }
            return Ok(Some(Answer::Preset(preset)));
        }
        if !custom {
            return Ok(None);
        }
        let status = self
            .status
            .ok_or("a free-form answer needs its status (an HTTP status code)")?;
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| (200..=599).contains(&s.as_u16()))
            .ok_or(format!(
                "status must be an HTTP status from 200 to 599, got {status}"
            ))?;
        let (body, json) = match (&self.body, &self.body_text) {
            (Some(_), Some(_)) => return Err("give body (JSON) or body_text, not both".into()),
            (Some(v), None) => (Bytes::copy_from_slice(v.as_str().as_bytes()), true),
            (None, Some(t)) => (Bytes::copy_from_slice(t.as_bytes()), false),
            (None, None) => (Bytes::new(), true),
        };
        if body.len() > MAX_BODY {
            return Err(format!("the answer body must be at most {MAX_BODY} bytes"));
        }
        if self
            .body
            .as_ref()
            .is_some_and(|b| !crate::json::numbers_fit(b.as_str()))
        {
            return Err(
                "body holds a number no double holds (such as 1e400), which most JSON readers refuse"
                    .into(),
            );
        }
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if headers.len() > MAX_HEADERS {
            return Err(format!("at most {MAX_HEADERS} headers"));
        }
        let size = headers
            .iter()
            .fold(body.len(), |n, (k, v)| n.saturating_add(k.len() + v.len()));
        if size > MAX_BODY {
            return Err(format!(
                "the answer's body and headers must be at most {MAX_BODY} bytes together"
            ));
        }
        for (name, value) in &headers {
            let ok = actix_web::http::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && actix_web::http::header::HeaderValue::from_str(value).is_ok();
            if !ok {
                return Err(format!(
                    "header '{}' is not a valid HTTP header name and value",
                    name.escape_debug()
                ));
            }
        }
        Ok(Some(Answer::Custom {
            status,
            body,
            json,
            headers,
        }))
    }

    /// Whether a rule needs the phone number of a create body.
    fn wants_phone(&self) -> bool {
        self.phone_number.is_some()
    }
}

/// What a request offers the matchers.
pub struct Facts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub server_key: Option<&'a str>,
    /// Filled only when some rule matches on it ([`Faults::wants_phone`]).
    pub phone_number: Option<&'a str>,
}

impl Facts<'_> {
    /// The account id of a Pay Account path (`/v2/pay/account/{id}[/unbind]`).
    fn account_id(&self) -> Option<&str> {
        self.path
            .strip_prefix("/v2/pay/account/")
            .and_then(|rest| rest.split('/').next())
            .filter(|id| !id.is_empty())
    }
}

impl Rule {
    fn matches(&self, f: &Facts<'_>) -> bool {
        let s = &self.spec;
        self.remaining != Some(0)
            && s.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(f.method))
            && s.path
                .as_deref()
                .is_none_or(|p| crate::journal::path_matches(p, f.path))
            && s.server_key
                .as_deref()
                .is_none_or(|k| f.server_key == Some(k))
            && s.phone_number
                .as_deref()
                .is_none_or(|p| f.phone_number == Some(p))
            && s.account_id
                .as_deref()
                .is_none_or(|a| f.account_id().is_some_and(|id| id.eq_ignore_ascii_case(a)))
    }

    /// What a listing shows of it, taken under the lock and written after it.
    fn snapshot(&self) -> RuleView {
        RuleView {
            id: self.id,
            spec: Arc::clone(&self.spec),
            fired: self.fired,
            remaining: self.remaining,
        }
    }
}

/// A rule as the control API shows it: its id, what it was given, and its counts.
#[derive(Debug)]
pub struct RuleView {
    pub id: u64,
    spec: Arc<RuleSpec>,
    fired: u64,
    remaining: Option<u64>,
}

impl RuleView {
    /// As JSON text (its body goes in as the text it came as).
    pub fn to_json(&self) -> Box<RawValue> {
        #[derive(Serialize)]
        struct View<'a> {
            id: u64,
            #[serde(flatten)]
            spec: &'a RuleSpec,
            fired: u64,
            remaining: Option<u64>,
        }
        let view = View {
            id: self.id,
            spec: &self.spec,
            fired: self.fired,
            remaining: self.remaining,
        };
        // Nothing in a rule fails to serialise (its only float, `probability`, is checked finite).
        serde_json::value::to_raw_value(&view).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

/// The rules of one server.
pub struct Faults {
    inner: Mutex<Inner>,
    /// Rules held, read without the lock on every request.
    count: AtomicUsize,
    /// Rules that match on a create body's phone number.
    phone_rules: AtomicUsize,
    seed: Option<u64>,
    /// The `--faults` file's rules, which a full reset restores.
    initial: Vec<RuleSpec>,
}

struct Inner {
    rules: Vec<Rule>,
    next_id: u64,
    rng: SmallRng,
}

fn rng(seed: Option<u64>) -> SmallRng {
    match seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::from_entropy(),
    }
}

impl Faults {
    /// The rules of `initial` (already checked by [`check_all`]), drawing from `seed`.
    pub fn new(initial: &[RuleSpec], seed: Option<u64>) -> Self {
        let faults = Self {
            inner: Mutex::new(Inner {
                rules: Vec::new(),
                next_id: 1,
                rng: rng(seed),
            }),
            count: AtomicUsize::new(0),
            phone_rules: AtomicUsize::new(0),
            seed,
            initial: initial.to_vec(),
        };
        faults.restore();
        faults
    }

    /// Back to the start: the `--faults` rules only, ids from 1, the generator reseeded with
    /// `--seed` (without one it goes on: a reseed from the OS is a system call per reset).
    pub fn restore(&self) {
        let mut inner = self.inner.lock();
        inner.rules.clear();
        inner.next_id = 1;
        if self.seed.is_some() {
            inner.rng = rng(self.seed);
        }
        for spec in &self.initial {
            if let Ok(effect) = spec.check() {
                let id = inner.next_id;
                inner.next_id += 1;
                inner.rules.push(Rule {
                    id,
                    remaining: spec.times,
                    spec: Arc::new(spec.clone()),
                    effect: Arc::new(effect),
                    fired: 0,
                });
            }
        }
        self.recount(&inner);
    }

    fn recount(&self, inner: &Inner) {
        self.count.store(inner.rules.len(), Ordering::Relaxed);
        let phone = inner
            .rules
            .iter()
            .filter(|r| r.spec.wants_phone() && r.remaining != Some(0))
            .count();
        self.phone_rules.store(phone, Ordering::Relaxed);
    }

    /// Whether any rule is held (checked before anything else is worked out).
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Whether some rule matches on a create body's phone number.
    pub fn wants_phone(&self) -> bool {
        self.phone_rules.load(Ordering::Relaxed) > 0
    }

    /// Adds a rule; returns it as the list shows it.
    ///
    /// # Errors
    /// The rule is invalid, or [`MAX_RULES`] are held.
    pub fn add(&self, spec: RuleSpec) -> Result<RuleView, String> {
        let effect = spec.check()?;
        let mut inner = self.inner.lock();
        if inner.rules.len() >= MAX_RULES {
            return Err(format!(
                "{MAX_RULES} rules are held already: delete some (DELETE /__admin/faults)"
            ));
        }
        let id = inner.next_id;
        inner.next_id = inner.next_id.saturating_add(1);
        let rule = Rule {
            id,
            remaining: spec.times,
            spec: Arc::new(spec),
            effect: Arc::new(effect),
            fired: 0,
        };
        let view = rule.snapshot();
        inner.rules.push(rule);
        self.recount(&inner);
        Ok(view)
    }

    /// A page of the rules, oldest first, after the rule `after`: at most `limit`, and the id to go
    /// on after when more follow. With a server key, the rules that apply to it: its own and
    /// everybody's (those without a key).
    pub fn list(
        &self,
        server_key: Option<&str>,
        after: Option<u64>,
        limit: usize,
    ) -> (Vec<RuleView>, Option<u64>) {
        let inner = self.inner.lock();
        let mut listed = inner.rules.iter().filter(|r| {
            after.is_none_or(|a| r.id > a)
                && server_key
                    .is_none_or(|k| r.spec.server_key.as_deref().is_none_or(|own| own == k))
        });
        let page: Vec<RuleView> = listed.by_ref().take(limit).map(Rule::snapshot).collect();
        let more = listed.next().is_some();
        let next = page.last().filter(|_| more).map(|r| r.id);
        (page, next)
    }

    pub fn get(&self, id: u64) -> Option<RuleView> {
        self.inner
            .lock()
            .rules
            .iter()
            .find(|r| r.id == id)
            .map(Rule::snapshot)
    }

    /// Removes one rule; false if there was none.
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.inner.lock();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        self.recount(&inner);
        inner.rules.len() < before
    }

    /// Removes every rule, or those of one server key; returns how many went.
    pub fn clear(&self, server_key: Option<&str>) -> usize {
        let mut inner = self.inner.lock();
        let before = inner.rules.len();
        match server_key {
            None => inner.rules.clear(),
            Some(k) => inner
                .rules
                .retain(|r| r.spec.server_key.as_deref() != Some(k)),
        }
        self.recount(&inner);
        before - inner.rules.len()
    }

    /// The first rule that matches `facts` and fires, counted as fired.
    pub fn fire(&self, facts: &Facts<'_>) -> Option<Fired> {
        let mut inner = self.inner.lock();
        let Inner { rules, rng, .. } = &mut *inner;
        for rule in rules.iter_mut() {
            if !rule.matches(facts) {
                continue;
            }
            if let Some(p) = rule.spec.probability
                && rng.r#gen::<f64>() >= p
            {
                continue;
            }
            rule.fired = rule.fired.saturating_add(1);
            if let Some(left) = &mut rule.remaining {
                *left = left.saturating_sub(1);
                if *left == 0 && rule.spec.wants_phone() {
                    // Used up: creates no longer need their body read before the route for it.
                    self.phone_rules.fetch_sub(1, Ordering::Relaxed);
                }
            }
            let delay = match (rule.spec.delay_ms, rule.spec.delay_max_ms) {
                (Some(min), Some(max)) if max > min => rng.gen_range(min..=max),
                (Some(ms), _) => ms,
                (None, _) => 0,
            };
            return Some(Fired {
                rule: rule.id,
                delay: Duration::from_millis(delay),
                effect: Arc::clone(&rule.effect),
            });
        }
        None
    }
}

/// Checks a set of rules as a `--faults` file or a config gives them.
///
/// # Errors
/// A message naming the rule that is wrong.
pub fn check_all(specs: &[RuleSpec]) -> Result<(), String> {
    if specs.len() > MAX_RULES {
        return Err(format!("at most {MAX_RULES} rules, got {}", specs.len()));
    }
    for (i, spec) in specs.iter().enumerate() {
        spec.check().map_err(|e| format!("rule #{}: {e}", i + 1))?;
    }
    Ok(())
}

/// The rules of a `--faults` file: a JSON array of rules, or `{"faults": [...]}`.
///
/// # Errors
/// A message naming the rule that is wrong.
pub fn parse_file(text: &str) -> Result<Vec<RuleSpec>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        List(Vec<RuleSpec>),
        Wrapped { faults: Vec<RuleSpec> },
    }
    let specs = match serde_json::from_str::<File>(text) {
        Ok(File::List(l) | File::Wrapped { faults: l }) => l,
        Err(_) => {
            // Again as a plain list, for serde's message about the rule that is wrong.
            serde_json::from_str::<Vec<RuleSpec>>(text).map_err(|e| e.to_string())?
        }
    };
    check_all(&specs)?;
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(method: &'a str, path: &'a str, key: Option<&'a str>) -> Facts<'a> {
        Facts {
            method,
            path,
            server_key: key,
            phone_number: None,
        }
    }

    fn spec(json: &str) -> RuleSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rules_fire_their_times_then_stop() {
        let f = Faults::new(&[], None);
        f.add(spec(
            r#"{"path":"/v2/pay/account/*/unbind","preset":"internal_error","times":2}"#,
        ))
        .unwrap();
        let unbind = facts("POST", "/v2/pay/account/abc/unbind", None);
        assert!(f.fire(&unbind).is_some());
        assert!(f.fire(&facts("GET", "/v2/pay/account/abc", None)).is_none());
        assert!(f.fire(&unbind).is_some());
        assert!(f.fire(&unbind).is_none());
        let listed: serde_json::Value =
            serde_json::from_str(f.list(None, None, 10).0[0].to_json().get()).unwrap();
        assert_eq!(listed["fired"], 2);
        assert_eq!(listed["remaining"], 0);
    }

    #[test]
    fn matchers_combine() {
        let f = Faults::new(&[], None);
        f.add(spec(
            r#"{"server_key":"k1","account_id":"ABC","method":"get","status":503}"#,
        ))
        .unwrap();
        assert!(
            f.fire(&facts("GET", "/v2/pay/account/abc", Some("k2")))
                .is_none()
        );
        assert!(
            f.fire(&facts("POST", "/v2/pay/account/abc", Some("k1")))
                .is_none()
        );
        assert!(
            f.fire(&facts("GET", "/v2/pay/account/abd", Some("k1")))
                .is_none()
        );
        assert!(
            f.fire(&facts("GET", "/v2/pay/account/abc", Some("k1")))
                .is_some()
        );
    }

    #[test]
    fn a_seeded_probability_is_reproducible() {
        let draws = |seed| {
            let f = Faults::new(&[spec(r#"{"probability":0.5,"delay_ms":1}"#)], Some(seed));
            (0..64)
                .map(|_| f.fire(&facts("GET", "/", None)).is_some())
                .collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7));
        let fired = a.iter().filter(|&&b| b).count();
        assert!((10..54).contains(&fired), "{fired} of 64");
    }

    #[test]
    fn invalid_rules_are_refused_with_the_field_named() {
        for (json, wanted) in [
            (r#"{}"#, "needs an effect"),
            (r#"{"times":0,"preset":"unavailable"}"#, "times"),
            (
                r#"{"probability":1.5,"preset":"unavailable"}"#,
                "probability",
            ),
            (r#"{"delay_ms":700000}"#, "delay_ms"),
            (r#"{"delay_ms":10,"delay_max_ms":5}"#, "delay_max_ms"),
            (r#"{"preset":"rate_limited","status":500}"#, "preset cannot"),
            (r#"{"status":99}"#, "status must"),
            (
                r#"{"drop_connection":true,"status":500}"#,
                "drop_connection",
            ),
            (r#"{"status":200,"headers":{"bad name":"x"}}"#, "header"),
            (r#"{"path":"v2","preset":"unavailable"}"#, "path"),
        ] {
            let err = Faults::new(&[], None).add(spec(json)).unwrap_err();
            assert!(err.contains(wanted), "{json}: {err}");
        }
        assert!(serde_json::from_str::<RuleSpec>(r#"{"preset":"teapot"}"#).is_err());
        assert!(serde_json::from_str::<RuleSpec>(r#"{"delay":5}"#).is_err());
    }

    #[test]
    fn files_hold_a_list_or_a_wrapped_list() {
        assert_eq!(
            parse_file(r#"[{"preset":"unavailable"}]"#).unwrap().len(),
            1
        );
        assert_eq!(
            parse_file(r#"{"faults":[{"preset":"unavailable"},{"delay_ms":5}]}"#)
                .unwrap()
                .len(),
            2
        );
        let err = parse_file(r#"[{"preset":"unavailable"},{"times":0,"delay_ms":1}]"#).unwrap_err();
        assert!(err.starts_with("rule #2: times"), "{err}");
        assert!(parse_file("nope").is_err());
    }

    #[test]
    fn a_reset_restores_the_file_rules() {
        let f = Faults::new(&[spec(r#"{"preset":"unavailable","times":1}"#)], Some(1));
        assert!(f.fire(&facts("GET", "/", None)).is_some());
        f.add(spec(r#"{"delay_ms":1}"#)).unwrap();
        f.restore();
        let (listed, next) = f.list(None, None, 10);
        assert_eq!((listed.len(), next), (1, None));
        let listed: serde_json::Value = serde_json::from_str(listed[0].to_json().get()).unwrap();
        assert_eq!(listed["id"], 1);
        assert_eq!(listed["fired"], 0);
    }
}
