//! Reading a few named fields of a JSON object without building a `serde_json::Map` (an ordered map
//! hashed with SipHash, most of the cost of reading a request): each field comes back as the raw
//! JSON text it was sent as, borrowed from the body, and only what is used is parsed further. A
//! repeated key keeps its last value, as a map would; the whole text is still checked to be JSON
//! (numbers only when a field is read: `1e400` is JSON syntax, but no amount).

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// What a JSON text is, as far as reading fields goes.
pub enum Shape<'a, const N: usize> {
    /// An object: the raw values of the named fields, in the order of the names.
    Object([Option<&'a RawValue>; N]),
    Null,
    /// Any other JSON value.
    Other,
}

/// Reads the fields `names` of the JSON object `json`.
///
/// # Errors
/// `json` is not JSON.
pub fn read<'a, const N: usize>(
    json: &'a [u8],
    names: &[&str; N],
) -> Result<Shape<'a, N>, serde_json::Error> {
    deserialize(json, Fields(names))
}

/// A request body read with `seed` (`PhantomData::<T>` for a plain `T`), all of it JSON.
///
/// Checked as UTF-8 once and read as text: read from bytes, serde_json checks each raw value and
/// each string again (a tenth of a charge). Bytes that are not UTF-8 are read as bytes, for
/// serde_json's own error.
///
/// # Errors
/// `json` is not JSON, or not what `seed` reads.
pub fn deserialize<'a, S: DeserializeSeed<'a>>(
    json: &'a [u8],
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    match std::str::from_utf8(json) {
        Ok(text) => whole(serde_json::Deserializer::from_str(text), seed),
        Err(_) => whole(serde_json::Deserializer::from_slice(json), seed),
    }
}

/// `seed`'s value, with nothing but whitespace after it.
fn whole<'a, R: serde_json::de::Read<'a>, S: DeserializeSeed<'a>>(
    mut de: serde_json::Deserializer<R>,
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The named fields of a raw value that should be an object; anything else has none.
pub fn of<'a, const N: usize>(
    raw: Option<&'a RawValue>,
    names: &[&str; N],
) -> [Option<&'a RawValue>; N] {
    match raw.map(|r| whole(serde_json::Deserializer::from_str(r.get()), Fields(names))) {
        Some(Ok(Shape::Object(fields))) => fields,
        _ => [None; N],
    }
}

/// A field's value, read as what a request may send.
pub enum Leaf<'a> {
    /// Missing or `null`.
    Absent,
    Str(Cow<'a, str>),
    Bool(bool),
    /// A number, an object or an array.
    Other(&'a RawValue),
}

pub fn leaf(raw: Option<&RawValue>) -> Leaf<'_> {
    let Some(raw) = raw else {
        return Leaf::Absent;
    };
    match raw.get() {
        "null" => Leaf::Absent,
        "true" => Leaf::Bool(true),
        "false" => Leaf::Bool(false),
        // A raw value is valid JSON: a string without a backslash is its text between the quotes.
        text if text.len() >= 2 && text.starts_with('"') && !text.contains('\\') => {
            Leaf::Str(Cow::Borrowed(text.get(1..text.len() - 1).unwrap_or("")))
        }
        text if text.starts_with('"') => match serde_json::from_str::<&str>(text) {
            Ok(s) => Leaf::Str(Cow::Borrowed(s)),
            // Escapes: the unescaped text needs a copy.
            Err(_) => serde_json::from_str::<String>(text)
                .map_or(Leaf::Other(raw), |s| Leaf::Str(Cow::Owned(s))),
        },
        _ => Leaf::Other(raw),
    }
}

/// A field's value as a `serde_json::Value` (for numbers and the rare nested value).
pub fn value(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

struct Fields<'n, const N: usize>(&'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for Fields<'_, N> {
    type Value = Shape<'de, N>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Fields<'_, N> {
    type Value = Shape<'de, N>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = [None; N];
        while let Some(at) = map.next_key_seed(KeyIndex(self.0))? {
            let value: &'de RawValue = map.next_value()?;
            if let Some(i) = at {
                fields[i] = Some(value);
            }
        }
        Ok(Shape::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Shape::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
}

/// A key, as the index of the name it is (`None`: a key not asked for).
struct KeyIndex<'n, const N: usize>(&'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<const N: usize> Visitor<'_> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read like a `serde_json::Map` would be: the same fields, the last of repeated keys.
    #[test]
    fn fields_read_like_a_json_map() {
        let names = ["a", "b", "c"];
        for text in [
            r#"{"a": 1, "b": {"x": [1, 2]}, "z": null, "a": "last"}"#,
            r#"{"b": "\u0041\n", "c": true}"#,
            r#"{}"#,
        ] {
            let map: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
            let Ok(Shape::Object(fields)) = read(text.as_bytes(), &names) else {
                panic!("{text} is an object");
            };
            for (name, field) in names.iter().zip(fields) {
                assert_eq!(
                    field.map(value),
                    map.get(*name).cloned(),
                    "{name} of {text}"
                );
            }
        }
        assert!(matches!(read(b"null", &names), Ok(Shape::Null)));
        for other in [&b"[1, {}]"[..], b"\"s\"", b"12", b"true"] {
            assert!(matches!(read(other, &names), Ok(Shape::Other)));
        }
        // Numbers are checked when a field is read, not before: 1e400 is JSON syntax.
        for broken in [&b"{"[..], b"{\"a\": 1} x", b"{\"a\": [1,}", b""] {
            assert!(
                read(broken, &names).is_err(),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
        assert!(matches!(leaf(fields_a(r#"{"a": "x\"y"}"#)), Leaf::Str(s) if s == "x\"y"));
        assert!(matches!(leaf(fields_a(r#"{"a": null}"#)), Leaf::Absent));
        assert!(matches!(
            leaf(fields_a(r#"{"a": false}"#)),
            Leaf::Bool(false)
        ));
        assert!(matches!(leaf(fields_a(r#"{"a": 5}"#)), Leaf::Other(_)));
    }

    /// A string field reads as serde_json reads it, with or without escapes; bytes that are not
    /// UTF-8 are refused as serde_json refuses them.
    #[test]
    fn strings_read_as_serde_json_reads_them() {
        for text in [
            r#"{"a": ""}"#,
            r#"{"a": "order-1"}"#,
            r#"{"a": "ümlaut ✓ 😀"}"#,
            r#"{"a": "tab\tand \u00fc"}"#,
            r#"{"a": "\\"}"#,
            r#"{"a": "x", "a": "last \"one\""}"#,
        ] {
            let map: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
            let Leaf::Str(s) = leaf(fields_a(text)) else {
                panic!("{text} has a string");
            };
            assert_eq!(Some(&*s), map["a"].as_str(), "{text}");
        }
        for bytes in [&b"{\"a\": \"\xff\"}"[..], b"{\"a\": 1, \"b\": \"\xc3\"}"] {
            assert!(serde_json::from_slice::<Value>(bytes).is_err());
            assert!(read(bytes, &["a"]).is_err());
        }
    }

    fn fields_a(text: &'static str) -> Option<&'static RawValue> {
        match read(text.as_bytes(), &["a"]) {
            Ok(Shape::Object([a])) => a,
            _ => None,
        }
    }
}
