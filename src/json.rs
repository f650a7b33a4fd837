//! JSON written by hand, field by field, for the few bodies `make bench` showed were worth it (a
//! charge's answer, its payment notification, and the account body): a `serde_json::Map` or a
//! derived `Serialize` cost several times as much. Every use has a test that pins its output to
//! the serde_json version. Also the one check made on JSON text before serde reads it
//! ([`first_byte`]).

use actix_web::http::header::{self, HeaderName, HeaderValue};
use serde_json::Value;

/// `Content-Type: application/json` as a static value. Given as a `&str` (or left to
/// `HttpResponseBuilder::json`), the value is copied into a fresh allocation on every answer.
pub fn content_type() -> (HeaderName, HeaderValue) {
    (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )
}

/// The first byte of `text` that is not whitespace: `{` when it is an object, `None` when it is
/// blank. Bodies that must be objects check it first, as serde fills a struct from an array too,
/// field by field in order.
pub fn first_byte(text: &[u8]) -> Option<u8> {
    text.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Whether every number in the JSON text `text` fits a double. JSON has no bound on numbers, but
/// most readers (serde_json, Go's, Java's) fail on a whole document over one such as `1e400`, so
/// text that is kept and shown again (a charge's metadata, the journal's bodies) is held to it.
pub fn numbers_fit(text: &str) -> bool {
    // Read as a `Value`: serde_json checks a number's range only when it converts it, which
    // `IgnoredAny` and `RawValue` skip.
    serde_json::from_str::<Value>(text).is_ok()
}

/// How deeply the JSON text `text` nests arrays and objects (0 for a scalar). A scan of the bytes
/// that skips strings, with no recursion: the text need not be valid.
pub fn depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A JSON object written field by field, in the order given; nested objects go into the same
/// buffer.
pub struct Object {
    out: String,
    empty: bool,
}

impl Object {
    pub fn with_capacity(n: usize) -> Self {
        let mut out = String::with_capacity(n);
        out.push('{');
        Self { out, empty: true }
    }

    /// A key; keys are the program's own, plain ASCII that needs no escaping.
    // `#[inline]` on the small writers: left to the compiler, the choice moved with an unrelated
    // change elsewhere in the crate (see BENCHMARKS.md).
    #[inline]
    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    #[inline]
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_str(&mut self.out, value);
    }

    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    pub fn value(&mut self, key: &str, value: &Value) {
        self.key(key);
        self.out.push_str(&value.to_string());
    }

    /// An object written by `write`.
    #[inline]
    pub fn object(&mut self, key: &str, write: impl FnOnce(&mut Object)) {
        self.key(key);
        self.nested(write);
    }

    /// An array of objects, each written by `write`.
    pub fn objects<T>(&mut self, key: &str, items: &[T], write: impl Fn(&mut Object, &T)) {
        self.key(key);
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.nested(|o| write(o, item));
        }
        self.out.push(']');
    }

    #[inline]
    fn nested(&mut self, write: impl FnOnce(&mut Object)) {
        let mut nested = Object {
            out: std::mem::take(&mut self.out),
            empty: true,
        };
        nested.out.push('{');
        write(&mut nested);
        nested.out.push('}');
        self.out = nested.out;
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// The most bytes `s` takes written as a JSON string's contents: a control character becomes at
/// most six (`\u001f`), a quote or a backslash two.
pub fn escaped_len_max(s: &str) -> usize {
    let extra = s.bytes().fold(0usize, |n, b| {
        n + match b {
            0..0x20 => 5,
            b'"' | b'\\' => 1,
            _ => 0,
        }
    });
    s.len().saturating_add(extra)
}

/// Appends `s` as a JSON string; only text that needs escaping goes through serde_json.
pub fn push_str(out: &mut String, s: &str) {
    // A fold rather than `all`: no early exit, so the check runs over whole vectors of bytes.
    let plain = !s.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::from(s).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::{depth, numbers_fit};

    #[test]
    fn depth_counts_nesting_outside_strings() {
        for (text, want) in [
            ("1", 0),
            ("{}", 1),
            (r#"{"a":[1,{"b":[]}]}"#, 4),
            (r#"{"a":"[[[{{{"}"#, 1),
            (r#"["\"[[", ["\\", []]]"#, 3),
            ("[[[", 3),
            ("]]]{", 1),
        ] {
            assert_eq!(depth(text), want, "{text}");
        }
    }

    #[test]
    fn numbers_fit_a_double_or_the_text_is_refused() {
        for ok in [
            "{}",
            r#"{"a":[1,-2.5e300,1e-400,123456789012345678901234567890],"b":"1e400"}"#,
            "1.7976931348623157e308",
        ] {
            assert!(numbers_fit(ok), "{ok}");
        }
        for bad in [r#"{"a":1e400}"#, "[-1e400]", "1.8e308", r#"{"a":1,}"#, ""] {
            assert!(!numbers_fit(bad), "{bad}");
        }
    }
}
