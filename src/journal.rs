//! The request journal: the newest calls a merchant's code made to the Midtrans routes, so that a
//! test can ask "did my service unbind this account exactly once, and with which body?".
//!
//! Recording is on the hot path of every Midtrans request, so an entry keeps the request and its
//! answer as one copied buffer ([`Record`]), and everything a query wants (the server key, JSON,
//! `status_code`) is worked out when a query asks. Nothing is kept as a slice of the connection's
//! buffers: a slice would pin the whole read buffer, and the connection would allocate a new one for
//! every request (`make bench` measured a quarter more CPU per request that way).
//! The journal holds at most `--journal-size` entries and [`MAX_BYTES`] of bodies and answers; past
//! either, the oldest go.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, header};
use actix_web::web::Bytes;
use parking_lot::Mutex;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::clock::rfc3339;
use crate::prefetch;

/// Bodies, answers and heads the journal holds at most, in bytes.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Fixed cost counted per entry besides its bytes, so that tiny entries are bounded too.
const ENTRY_OVERHEAD: usize = 256;

/// How many headers an entry keeps.
const RECORDED: usize = 6;
/// The headers a merchant's code sets that a test may want to check; `authorization` is kept for
/// the server key and not shown.
pub static RECORDED_HEADERS: [header::HeaderName; RECORDED] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::USER_AGENT,
    header::HeaderName::from_static("idempotency-key"),
    header::HeaderName::from_static("x-override-notification"),
    header::HeaderName::from_static("x-append-notification"),
];

/// The body a route read, left in the request's extensions for the journal.
pub struct RequestBody(pub Bytes);

/// A request's target (path and query), its [`RECORDED_HEADERS`], its body and the answer, copied
/// into one buffer: one allocation per entry, and nothing shared with the connection's buffers.
#[derive(Default)]
pub struct Record {
    /// Reused when the entry's place is (see [`Journal::record`]).
    bytes: Vec<u8>,
    /// Where the path ends (the query, if any, follows its `?`).
    path_end: u32,
    target_end: u32,
    /// Each recorded header's value, as a range of `bytes`.
    values: [Option<(u32, u32)>; RECORDED],
    /// The body the route read (`None` when it answered before reading one).
    body: Option<(u32, u32)>,
    /// The answer's body, which follows everything else.
    response_start: u32,
}

impl Record {
    /// Copies a request and its answer over what this record held, in its buffer when that is
    /// large enough.
    fn fill(
        &mut self,
        uri: &actix_web::http::Uri,
        headers: &header::HeaderMap,
        body: Option<&[u8]>,
        response: &[u8],
    ) {
        let path = uri.path().as_bytes();
        let query = uri.query().map(str::as_bytes);
        // One pass over the request's few headers rather than a lookup per recorded name; the
        // first value of a name is kept, as `HeaderMap::get` gives it.
        let mut found: [Option<&header::HeaderValue>; RECORDED] = [None; RECORDED];
        for (name, value) in headers.iter() {
            if let Some(i) = RECORDED_HEADERS.iter().position(|r| r == name)
                && let Some(slot @ None) = found.get_mut(i)
            {
                *slot = Some(value);
            }
        }
        let len = path.len()
            + query.map_or(0, |q| q.len() + 1)
            + found.iter().flatten().map(|v| v.len()).sum::<usize>()
            + body.map_or(0, <[u8]>::len)
            + response.len();
        let bytes = &mut self.bytes;
        bytes.clear();
        if bytes.capacity() > len.saturating_mul(2).max(4096) {
            // Not a large body's buffer kept for small ones.
            *bytes = Vec::new();
        }
        bytes.reserve_exact(len);
        bytes.extend_from_slice(path);
        let path_end = offset(bytes.len());
        if let Some(q) = query {
            bytes.push(b'?');
            bytes.extend_from_slice(q);
        }
        let target_end = offset(bytes.len());
        let mut push = |part: &[u8]| {
            let start = offset(bytes.len());
            bytes.extend_from_slice(part);
            (start, offset(bytes.len()))
        };
        let mut values = [None; RECORDED];
        for (slot, value) in values.iter_mut().zip(found) {
            *slot = value.map(|v| push(v.as_bytes()));
        }
        let body = body.map(&mut push);
        let (response_start, _) = push(response);
        self.path_end = path_end;
        self.target_end = target_end;
        self.values = values;
        self.body = body;
        self.response_start = response_start;
    }

    fn slice(&self, (start, end): (u32, u32)) -> &[u8] {
        self.bytes.get(start as usize..end as usize).unwrap_or(&[])
    }

    fn text(&self, range: (u32, u32)) -> &str {
        std::str::from_utf8(self.slice(range)).unwrap_or("")
    }

    pub fn path(&self) -> &str {
        self.text((0, self.path_end))
    }

    pub fn query(&self) -> &str {
        self.text((self.path_end.saturating_add(1), self.target_end))
    }

    /// The value of `RECORDED_HEADERS[i]`, if the request had it.
    fn value(&self, i: usize) -> Option<&[u8]> {
        Some(self.slice((*self.values.get(i)?)?))
    }

    /// The body the route read, if it read one.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.map(|range| self.slice(range))
    }

    /// The answer's body as the client got it.
    pub fn response(&self) -> &[u8] {
        self.bytes
            .get(self.response_start as usize..)
            .unwrap_or(&[])
    }

    /// The bytes it holds (its buffer's capacity, which a reused buffer may have above its length).
    fn len(&self) -> usize {
        self.bytes.capacity()
    }
}

/// Asks the CPU to fetch, ahead of time, the memory the next records of a full journal write over:
/// the oldest entry's buffer, and the entry after it (whose buffer address the next call reads).
/// That memory was last touched thousands of requests ago and is out of the cache; waiting for it
/// was most of what recording cost a request (see BENCHMARKS.md).
fn warm(entries: &VecDeque<Arc<Entry>>) {
    if let Some(next) = entries.front() {
        prefetch::lines(next.record.bytes.as_ptr(), next.record.bytes.capacity());
    }
    if let Some(after) = entries.get(1) {
        // The reference counts precede the entry in its allocation.
        let counts = 2 * std::mem::size_of::<usize>();
        let start = Arc::as_ptr(after).cast::<u8>().wrapping_sub(counts);
        prefetch::lines(start, counts + std::mem::size_of::<Entry>());
    }
}

/// A position in a record; records are far below 4 GiB (heads are capped at 128 KiB, bodies and
/// answers far lower).
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What [`Journal::record`] copies of one request and its answer.
pub struct Recording<'a> {
    pub at_ms: u64,
    pub method: &'a Method,
    pub uri: &'a actix_web::http::Uri,
    pub headers: &'a header::HeaderMap,
    /// The body the route read (`None` when it answered before reading one).
    pub body: Option<&'a [u8]>,
    pub response: &'a [u8],
    pub status: u16,
    pub duration: Duration,
    pub fault: Option<u64>,
}

/// One request and its answer.
#[derive(Default)]
pub struct Entry {
    pub id: u64,
    /// When it arrived, on the mock clock.
    pub at_ms: u64,
    pub method: Method,
    pub record: Record,
    /// The answer's HTTP status.
    pub status: u16,
    pub duration: Duration,
    /// The fault rule that shaped the answer, if any.
    pub fault: Option<u64>,
}

impl Entry {
    /// `r` copied over what this entry held, under the id `id`.
    fn fill(&mut self, id: u64, r: &Recording<'_>) {
        self.record.fill(r.uri, r.headers, r.body, r.response);
        self.id = id;
        self.at_ms = r.at_ms;
        self.method.clone_from(r.method);
        self.status = r.status;
        self.duration = r.duration;
        self.fault = r.fault;
    }

    fn size(&self) -> usize {
        ENTRY_OVERHEAD.saturating_add(self.record.len())
    }

    /// The server key of its Basic credentials, whatever the route said about it.
    pub fn server_key(&self) -> Option<String> {
        // `RECORDED_HEADERS[0]` is `authorization`.
        self.record
            .value(0)
            .and_then(|v| crate::auth::parse_basic(std::str::from_utf8(v).ok()?))
    }

    /// The answer body's `status_code`, if it has one.
    pub fn status_code(&self) -> Option<String> {
        // Every envelope this server writes starts with it; anything else is parsed.
        const PREFIX: &[u8] = br#"{"status_code":""#;
        let response = self.record.response();
        if let Some(rest) = response.strip_prefix(PREFIX)
            && let Some(end) = rest.iter().position(|&b| b == b'"')
        {
            return std::str::from_utf8(&rest[..end]).ok().map(str::to_string);
        }
        match serde_json::from_slice::<Value>(response) {
            Ok(Value::Object(o)) => o.get("status_code").and_then(Value::as_str).map(Into::into),
            _ => None,
        }
    }

    /// The entry as the control API shows it.
    pub fn view(&self) -> EntryView<'_> {
        EntryView(self)
    }

    /// [`Entry::view`] as a value.
    #[cfg(test)]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).unwrap_or_default()
    }
}

/// An entry as the control API shows it, written straight from the entry: its bodies go in as the
/// text they came as, not rebuilt as trees of values first, which took tens of
/// times their size (a page of large bodies took gigabytes).
pub struct EntryView<'a>(&'a Entry);

impl Serialize for EntryView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut o = serializer.serialize_struct("Entry", 13)?;
        o.serialize_field("id", &e.id)?;
        o.serialize_field("at", &rfc3339(e.at_ms))?;
        o.serialize_field("method", e.method.as_str())?;
        o.serialize_field("path", e.record.path())?;
        o.serialize_field("query", e.record.query())?;
        o.serialize_field("server_key", &e.server_key())?;
        o.serialize_field("headers", &Headers(&e.record))?;
        let body = e.record.body().filter(|b| !b.is_empty()).map(JsonOrText);
        o.serialize_field("body", &body)?;
        o.serialize_field("status", &e.status)?;
        o.serialize_field("status_code", &e.status_code())?;
        o.serialize_field("response", &JsonOrText(e.record.response()))?;
        o.serialize_field("duration_ms", &(e.duration.as_secs_f64() * 1000.0))?;
        o.serialize_field("fault", &e.fault)?;
        o.end()
    }
}

/// The recorded headers but the credentials, by name (invalid UTF-8 replaced).
struct Headers<'a>(&'a Record);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(RECORDED_HEADERS.iter().enumerate().skip(1).filter_map(
            |(i, name)| {
                let value = self.0.value(i)?;
                Some((name.as_str(), String::from_utf8_lossy(value)))
            },
        ))
    }
}

/// A body as the JSON it is, when it is JSON whose numbers fit a double, else as text (invalid
/// UTF-8 replaced), so that one body cannot make the whole page unreadable to a strict parser.
struct JsonOrText<'a>(&'a [u8]);

impl Serialize for JsonOrText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = std::str::from_utf8(self.0)
            .ok()
            .filter(|text| crate::json::numbers_fit(text))
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok());
        match raw {
            Some(raw) => raw.serialize(serializer),
            None => serializer.serialize_str(&String::from_utf8_lossy(self.0)),
        }
    }
}

/// What a query asks of entries; every field is optional.
#[derive(Debug, Default)]
pub struct Matcher {
    pub method: Option<String>,
    /// An exact path, or a pattern where `*` stands for one path segment.
    pub path: Option<String>,
    pub server_key: Option<String>,
    /// A JSON value the request body must contain (see [`contains`]).
    pub body: Option<Value>,
    pub status_code: Option<String>,
    /// The HTTP status of the answer.
    pub status: Option<u16>,
    /// Only requests at or after this time on the mock clock (milliseconds since the epoch).
    pub since_ms: Option<u64>,
}

impl Matcher {
    fn matches(&self, e: &Entry) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(e.method.as_str()))
            && self
                .path
                .as_deref()
                .is_none_or(|p| path_matches(p, &crate::routing::routed_form(e.record.path())))
            && self.since_ms.is_none_or(|t| e.at_ms >= t)
            && self.status.is_none_or(|s| s == e.status)
            && self
                .server_key
                .as_deref()
                .is_none_or(|k| e.server_key().as_deref() == Some(k))
            && self
                .status_code
                .as_deref()
                .is_none_or(|c| e.status_code().as_deref() == Some(c))
            && self.body.as_ref().is_none_or(|want| {
                e.record
                    .body()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .is_some_and(|got| contains(&got, want))
            })
    }
}

/// `pattern` is `path`, or the same segments with `*` for any one segment.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == path;
    }
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w == "*" || w == g => {}
            _ => return false,
        }
    }
}

/// `got` contains `want`: objects hold at least `want`'s keys with contained values, arrays have
/// the same length with each element contained, anything else is equal.
pub fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| g.get(k).is_some_and(|gv| contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(gv, wv)| contains(gv, wv))
        }
        _ => got == want,
    }
}

/// The journal of one server.
pub struct Journal {
    inner: Mutex<Inner>,
    capacity: usize,
    /// Queries running at once: each copies the handles of every entry (and keeps what they hold
    /// alive past the bytes bound while it runs), and may parse every body.
    queries: Arc<tokio::sync::Semaphore>,
}

/// Journal queries that run at once; the others wait their turn.
pub const QUERIES_AT_ONCE: usize = 4;

#[derive(Default)]
struct Inner {
    entries: VecDeque<Arc<Entry>>,
    bytes: usize,
    next_id: u64,
}

impl Journal {
    /// A journal of at most `capacity` entries; 0 records nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                next_id: 1,
                ..Inner::default()
            }),
            capacity,
            queries: Arc::new(tokio::sync::Semaphore::new(QUERIES_AT_ONCE)),
        }
    }

    /// A turn to query, once one of the [`QUERIES_AT_ONCE`] is free (never closed).
    pub async fn query_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.queries.clone().acquire_owned().await.ok()
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Keeps a copy of `r` (its id assigned here), dropping the oldest past either bound.
    ///
    /// A full journal writes the new entry over the oldest one's allocations when no query holds
    /// that entry: no new entry and buffer, and no frees of the old ones, whose memory is no longer
    /// in the cache (see BENCHMARKS.md, "A full journal writes over its oldest entry").
    pub fn record(&self, r: Recording<'_>) {
        if !self.enabled() {
            return;
        }
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id = inner.next_id.saturating_add(1);
        let oldest = if inner.entries.len() >= self.capacity {
            inner.entries.pop_front()
        } else {
            None
        };
        if let Some(old) = &oldest {
            inner.bytes = inner.bytes.saturating_sub(old.size());
        }
        let reusable = |mut old: Arc<Entry>| Arc::get_mut(&mut old).is_some().then_some(old);
        let mut entry = oldest.and_then(reusable).unwrap_or_default();
        // Always there: the entry is new, or no one else held it.
        if let Some(e) = Arc::get_mut(&mut entry) {
            e.fill(id, &r);
        }
        inner.bytes = inner.bytes.saturating_add(entry.size());
        inner.entries.push_back(entry);
        while inner.entries.len() > self.capacity || inner.bytes > MAX_BYTES {
            let Some(old) = inner.entries.pop_front() else {
                break;
            };
            inner.bytes = inner.bytes.saturating_sub(old.size());
        }
        if inner.entries.len() >= self.capacity {
            warm(&inner.entries);
        }
    }

    /// The entries that match, newest first, below id `before` (a cursor), at most `limit`; with
    /// the id to go on from when there may be more.
    pub fn find(
        &self,
        matcher: &Matcher,
        before: Option<u64>,
        limit: usize,
    ) -> (Vec<Arc<Entry>>, Option<u64>) {
        // Matching parses bodies: copy the handles out and match without the lock.
        let entries: Vec<Arc<Entry>> = self.inner.lock().entries.iter().cloned().collect();
        let mut found = Vec::new();
        for e in entries.iter().rev() {
            if before.is_some_and(|b| e.id >= b) || !matcher.matches(e) {
                continue;
            }
            if found.len() == limit {
                let next = found.last().map(|f: &Arc<Entry>| f.id);
                return (found, next);
            }
            found.push(e.clone());
        }
        (found, None)
    }

    /// How many entries match.
    pub fn count(&self, matcher: &Matcher) -> usize {
        let entries: Vec<Arc<Entry>> = self.inner.lock().entries.iter().cloned().collect();
        entries.iter().filter(|e| matcher.matches(e)).count()
    }

    /// Forgets every entry, or those of one server key; returns how many went.
    pub fn clear(&self, server_key: Option<&str>) -> usize {
        let mut inner = self.inner.lock();
        let taken = match server_key {
            None => {
                inner.bytes = 0;
                std::mem::take(&mut inner.entries)
            }
            Some(key) => {
                // Which entries are the key's is worked out without the lock (it decodes every
                // entry's credentials, up to a million), then those entries are taken out; entries
                // recorded meanwhile stay. They are told apart by address, not id: a full reset
                // meanwhile starts the ids again, and the entries held here keep their addresses
                // from being reused.
                let entries: Vec<Arc<Entry>> = inner.entries.iter().cloned().collect();
                drop(inner);
                let mine: Vec<Arc<Entry>> = entries
                    .into_iter()
                    .filter(|e| e.server_key().as_deref() == Some(key))
                    .collect();
                let addresses: HashSet<*const Entry> = mine.iter().map(Arc::as_ptr).collect();
                inner = self.inner.lock();
                let before = inner.entries.len();
                inner
                    .entries
                    .retain(|e| !addresses.contains(&Arc::as_ptr(e)));
                inner.bytes = inner.entries.iter().map(|e| e.size()).sum();
                let cleared = before - inner.entries.len();
                drop(inner);
                // Freed here, after the lock.
                drop(mine);
                return cleared;
            }
        };
        // A full journal is a great many entries: freed after the lock is released.
        drop(inner);
        taken.len()
    }

    /// Empty, with ids from 1 again (a full reset).
    pub fn reset(&self) {
        let mut inner = self.inner.lock();
        let taken = std::mem::take(&mut inner.entries);
        inner.bytes = 0;
        inner.next_id = 1;
        drop(inner);
        drop(taken);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Credentials of "key-a" and a user agent.
    fn headers() -> header::HeaderMap {
        let mut h = header::HeaderMap::new();
        // "key-a:"
        h.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Basic a2V5LWE6"),
        );
        h.insert(header::USER_AGENT, header::HeaderValue::from_static("t/1"));
        h
    }

    fn record_in(j: &Journal, path: &str, h: &header::HeaderMap, body: &str, response: &str) {
        j.record(Recording {
            at_ms: 1,
            method: &Method::POST,
            uri: &path.parse().unwrap(),
            headers: h,
            body: Some(body.as_bytes()),
            response: response.as_bytes(),
            status: 200,
            duration: Duration::ZERO,
            fault: None,
        });
    }

    fn record(j: &Journal, path: &str, body: &str, response: &str) {
        record_in(j, path, &headers(), body, response);
    }

    /// Queries past [`QUERIES_AT_ONCE`] wait for a turn, and get one when a query ends.
    #[tokio::test]
    async fn queries_take_turns() {
        let journal = Journal::new(10);
        let mut held = Vec::new();
        for _ in 0..QUERIES_AT_ONCE {
            held.push(journal.query_turn().await.unwrap());
        }
        let next = journal.query_turn();
        tokio::pin!(next);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut next).await;
        assert!(waited.is_err(), "every turn is taken");
        held.pop();
        let turn = tokio::time::timeout(Duration::from_secs(30), next).await;
        assert!(matches!(turn, Ok(Some(_))), "a turn came free");
    }

    #[test]
    fn a_record_keeps_what_header_map_get_gives_and_each_part_apart() {
        use header::{HeaderName, HeaderValue};
        let extra = HeaderName::from_static("x-other");
        let names: Vec<&HeaderName> = RECORDED_HEADERS.iter().chain([&extra]).collect();
        // Every subset of the names, some of them twice (the first value is the one kept).
        for mask in 0u32..(1 << (2 * names.len())) {
            let mut h = header::HeaderMap::new();
            for (i, name) in names.iter().enumerate() {
                let times = (mask >> (2 * i)) & 3;
                for n in 0..times {
                    h.append(
                        (*name).clone(),
                        HeaderValue::from_str(&format!("v{i}-{n}")).unwrap(),
                    );
                }
            }
            let body = (mask % 3 != 0).then_some(&b"{\"a\":1}"[..]);
            let mut r = Record::default();
            r.fill(&"/v2/x?a=b".parse().unwrap(), &h, body, b"answer");
            for (i, name) in RECORDED_HEADERS.iter().enumerate() {
                assert_eq!(
                    r.value(i),
                    h.get(name).map(HeaderValue::as_bytes),
                    "{mask} {name}"
                );
            }
            assert_eq!((r.path(), r.query()), ("/v2/x", "a=b"));
            assert_eq!(r.body(), body);
            assert_eq!(r.response(), b"answer");
        }
    }

    #[test]
    fn path_patterns_stand_for_one_segment() {
        assert!(path_matches(
            "/v2/pay/account/*/unbind",
            "/v2/pay/account/abc/unbind"
        ));
        assert!(!path_matches(
            "/v2/pay/account/*/unbind",
            "/v2/pay/account/a/b/unbind"
        ));
        assert!(!path_matches(
            "/v2/pay/account/*",
            "/v2/pay/account/a/unbind"
        ));
        assert!(path_matches("/v2/charge", "/v2/charge"));
        assert!(!path_matches("/v2/charge", "/v2/charge/"));
    }

    #[test]
    fn bodies_match_by_containment() {
        let got = json!({"a": {"b": 1, "c": [1, {"d": 2, "e": 3}]}, "f": "x"});
        assert!(contains(&got, &json!({"a": {"b": 1}})));
        assert!(contains(&got, &json!({"a": {"c": [1, {"d": 2}]}})));
        assert!(!contains(&got, &json!({"a": {"c": [1]}})));
        assert!(!contains(&got, &json!({"f": "y"})));
        assert!(!contains(&got, &json!({"g": null})));
    }

    #[test]
    fn the_oldest_go_past_the_size_and_keys_are_read_from_the_credentials() {
        let j = Journal::new(3);
        for i in 0..5 {
            record(&j, &format!("/v2/{i}"), "{}", r#"{"status_code":"201"}"#);
        }
        assert_eq!(j.len(), 3);
        let (found, next) = j.find(&Matcher::default(), None, 2);
        let ids: Vec<u64> = found.iter().map(|e| e.id).collect();
        assert_eq!(ids, [5, 4]);
        assert_eq!(next, Some(4));
        let (rest, next) = j.find(&Matcher::default(), next, 2);
        assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), [3]);
        assert_eq!(next, None);
        assert_eq!(found[0].server_key().as_deref(), Some("key-a"));
        assert_eq!(found[0].to_json()["headers"], json!({"user-agent": "t/1"}));
        assert_eq!(found[0].to_json()["path"], "/v2/4");
        assert_eq!(found[0].status_code().as_deref(), Some("201"));
        let m = Matcher {
            server_key: Some("key-a".into()),
            status_code: Some("201".into()),
            ..Matcher::default()
        };
        assert_eq!(j.count(&m), 3);
        assert_eq!(j.clear(Some("key-b")), 0);
        assert_eq!(j.clear(Some("key-a")), 3);
        assert!(j.is_empty());
    }

    #[test]
    fn a_clear_of_one_key_takes_its_entries_only_and_their_bytes() {
        let j = Journal::new(1000);
        let mut b = headers();
        // "key-b:"
        b.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Basic a2V5LWI6"),
        );
        let mut kept = Vec::new();
        for i in 0..60u64 {
            if i % 3 == 0 {
                record_in(&j, &format!("/v2/b/{i}"), &b, "{}", "{}");
            } else {
                record(&j, &format!("/v2/a/{i}"), &"x".repeat(i as usize), "{}");
                kept.push(i + 1);
            }
        }
        assert_eq!(j.clear(Some("key-b")), 20);
        assert_eq!(j.clear(Some("key-b")), 0);
        let (found, _) = j.find(&Matcher::default(), None, 1000);
        let mut ids: Vec<u64> = found.iter().map(|e| e.id).collect();
        ids.reverse();
        assert_eq!(ids, kept);
        let inner = j.inner.lock();
        assert_eq!(
            inner.bytes,
            inner.entries.iter().map(|e| e.size()).sum::<usize>()
        );
    }

    #[test]
    fn bytes_are_bounded_too() {
        let j = Journal::new(1_000_000);
        let big = "x".repeat(1024 * 1024);
        for _ in 0..100 {
            record(&j, "/v2/charge", &big, "{}");
        }
        assert!(j.len() < 100);
        assert!(j.inner.lock().bytes <= MAX_BYTES);
    }

    #[test]
    fn a_disabled_journal_keeps_nothing() {
        let j = Journal::new(0);
        record(&j, "/v2/charge", "{}", "{}");
        assert!(j.is_empty());
    }

    #[test]
    fn an_entry_written_over_the_oldest_keeps_nothing_of_it_and_held_entries_stay_whole() {
        let j = Journal::new(2);
        record(&j, "/v2/a?x=1", r#"{"a":1}"#, r#"{"status_code":"201"}"#);
        record(&j, "/v2/b", r#"{"b":2}"#, r#"{"status_code":"200"}"#);
        // Held by a query while newer entries take the places of the older ones.
        let (held, _) = j.find(&Matcher::default(), None, 10);
        record(&j, "/v2/c", "", "not json");
        // No credentials, no user agent: nothing of the entry it replaced may show.
        for (path, body, response) in [
            ("/v2/d", "{}", r#"{"status_code":"404"}"#),
            ("/v2/e", "[]", r#"{"status_code":"409"}"#),
        ] {
            record_in(&j, path, &header::HeaderMap::new(), body, response);
        }
        let show = |e: &Arc<Entry>| {
            let v = e.to_json();
            let keep = [
                "id",
                "path",
                "query",
                "body",
                "response",
                "headers",
                "server_key",
            ];
            Value::Object(
                keep.iter()
                    .map(|k| (k.to_string(), v[*k].clone()))
                    .collect(),
            )
        };
        let (now, _) = j.find(&Matcher::default(), None, 10);
        assert_eq!(
            now.iter().map(show).collect::<Vec<_>>(),
            [
                json!({"id": 5, "path": "/v2/e", "query": "", "body": [],
                    "response": {"status_code": "409"}, "headers": {}, "server_key": null}),
                json!({"id": 4, "path": "/v2/d", "query": "", "body": {},
                    "response": {"status_code": "404"}, "headers": {}, "server_key": null}),
            ]
        );
        assert_eq!(now[0].status_code().as_deref(), Some("409"));
        assert_eq!(
            held.iter().map(show).collect::<Vec<_>>(),
            [
                json!({"id": 2, "path": "/v2/b", "query": "", "body": {"b": 2},
                    "response": {"status_code": "200"}, "headers": {"user-agent": "t/1"},
                    "server_key": "key-a"}),
                json!({"id": 1, "path": "/v2/a", "query": "x=1", "body": {"a": 1},
                    "response": {"status_code": "201"}, "headers": {"user-agent": "t/1"},
                    "server_key": "key-a"}),
            ]
        );
    }

    #[test]
    fn a_large_buffer_is_not_kept_for_the_small_entries_after_it() {
        let j = Journal::new(1);
        record(&j, "/v2/charge", &"x".repeat(1024 * 1024), "{}");
        assert!(j.inner.lock().bytes > 1024 * 1024);
        record(&j, "/v2/charge", "{}", "{}");
        let bytes = j.inner.lock().bytes;
        assert!(bytes < ENTRY_OVERHEAD + 4096, "{bytes}");
        let (found, _) = j.find(&Matcher::default(), None, 1);
        assert_eq!(found[0].record.body(), Some(&b"{}"[..]));
    }
}
