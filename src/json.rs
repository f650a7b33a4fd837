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

/// Whether the JSON text `text` holds a `\u` escape of half a UTF-16 surrogate pair without its
/// other half right beside it: JSON syntax, which a raw value passes, but no text, which a string
/// read from it refuses.
pub fn has_lone_surrogate(text: &[u8]) -> bool {
    let hex = |at: usize| {
        text.get(at..at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    // Where an escape of a high half ended, which must be where the next (low) one begins.
    let mut high_ends: Option<usize> = None;
    let mut i = 0;
    while let Some(off) = text
        .get(i..)
        .and_then(|t| t.iter().position(|&b| b == b'\\'))
    {
        let at = i + off;
        let unit = (text.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten();
        let low = unit.is_some_and(|u| (0xDC00..0xE000).contains(&u));
        match high_ends.take() {
            Some(end) if end == at && low => {
                i = at + 6;
                continue;
            }
            Some(_) => return true,
            None if low => return true,
            None => {}
        }
        match unit {
            Some(u) if (0xD800..0xDC00).contains(&u) => {
                high_ends = Some(at + 6);
                i = at + 6;
            }
            Some(_) => i = at + 6,
            // Any other escape is two bytes (`\\`, `\"`, `\n`...).
            None => i = at + 2,
        }
    }
    high_ends.is_some()
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
    use super::{depth, has_lone_surrogate, numbers_fit};

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

    #[test]
    fn lone_surrogates_are_found_and_pairs_are_not() {
        for (text, lone) in [
            (r#""\ud800""#, true),
            (r#""\udc00""#, true),
            (r#""\ud800x\udc00""#, true),
            (r#""\ud800\n""#, true),
            (r#""\ud83d\ude00""#, false),
            (r#""\\ud800""#, false),
            (r#""\u00e9 \"\\ plain""#, false),
            (r#"{"a":"\uD800\uDC00","b":"\uDBFF"}"#, true),
            ("{}", false),
        ] {
            assert_eq!(has_lone_surrogate(text.as_bytes()), lone, "{text}");
            // What serde_json makes of it as text agrees.
            if text.starts_with('"') {
                assert_eq!(
                    serde_json::from_str::<String>(text).is_err(),
                    lone,
                    "{text}"
                );
            }
        }
    }
}
