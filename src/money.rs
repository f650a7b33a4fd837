//! Amounts as Midtrans writes them (`"100000.00"`), kept as whole hundredths so that balances,
//! charges and refunds add up exactly.

use std::fmt;

/// At most this many digits before the point (fixtures, balances and requests alike).
pub const MAX_WHOLE_DIGITS: usize = 15;

/// A Midtrans amount: at most 15 digits, a dot, two digits.
pub fn is_amount(s: &str) -> bool {
    match s.split_once('.') {
        Some((whole, cents)) => {
            !whole.is_empty()
                && whole.len() <= MAX_WHOLE_DIGITS
                && whole.bytes().all(|b| b.is_ascii_digit())
                && cents.len() == 2
                && cents.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// An amount in hundredths of the currency unit; never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u64);

impl Amount {
    pub const ZERO: Self = Self(0);
    /// The largest amount: 15 nines and `.99`.
    pub const MAX: Self = Self(10u64.pow(MAX_WHOLE_DIGITS as u32 + 2) - 1);

    pub fn from_hundredths(n: u64) -> Self {
        Self(n.min(Self::MAX.0))
    }

    /// Whole units (IDR has no minor unit in use).
    pub fn from_units(n: u64) -> Self {
        Self::from_hundredths(n.saturating_mul(100))
    }

    pub fn hundredths(self) -> u64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `"1000000.00"`, `"12"`, `"12.5"`: digits with at most two after the point; `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        let (whole, cents) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty()
            || whole.len() > MAX_WHOLE_DIGITS
            || cents.len() > 2
            || (s.contains('.') && cents.is_empty())
            || !whole
                .bytes()
                .chain(cents.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: u64 = whole.parse().ok()?;
        let cents: u64 = match cents.len() {
            0 => 0,
            1 => cents.parse::<u64>().ok()? * 10,
            _ => cents.parse().ok()?,
        };
        Some(Self(whole * 100 + cents))
    }

    /// A JSON number (or a string of one) with at most two decimals, as requests send amounts.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Number(n) => match n.as_u64() {
                // A whole number (what clients send) needs no text: it fits when `parse` would
                // take its digits.
                Some(units) => {
                    (units < 10u64.pow(MAX_WHOLE_DIGITS as u32)).then(|| Self::from_units(units))
                }
                None => Self::parse_number_text(&n.to_string()),
            },
            serde_json::Value::String(s) => Self::parse(s),
            _ => None,
        }
    }

    fn parse_number_text(text: &str) -> Option<Self> {
        // `100000.0` is how serde_json writes a float without a fraction.
        Self::parse(text.strip_suffix(".0").unwrap_or(text))
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// Adds, stopping at [`Amount::MAX`].
    pub fn saturating_add(self, other: Self) -> Self {
        Self::from_hundredths(self.0.saturating_add(other.0))
    }

    /// `"100000.00"`, written on the stack: every charge answer shows one.
    pub fn text(self) -> AmountText {
        // At most 15 digits (`MAX`), a point and two.
        let mut out = [0u8; 18];
        let mut at = out.len();
        let mut n = self.0.min(Self::MAX.0);
        let mut digits = 0;
        while digits < 3 || n > 0 {
            if digits == 2 {
                at -= 1;
                out[at] = b'.';
            }
            at -= 1;
            out[at] = b'0' + (n % 10) as u8;
            n /= 10;
            digits += 1;
        }
        AmountText {
            out,
            start: at as u8,
        }
    }
}

/// An [`Amount`] as text (see [`Amount::text`]).
pub struct AmountText {
    out: [u8; 18],
    start: u8,
}

impl std::ops::Deref for AmountText {
    type Target = str;

    fn deref(&self) -> &str {
        // Only ASCII digits and a point are ever written.
        std::str::from_utf8(self.out.get(usize::from(self.start)..).unwrap_or(&[])).unwrap_or("")
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_what_format_writes() {
        let mut n: u64 = 1;
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 12_345, Amount::MAX.0, u64::MAX];
        while n < Amount::MAX.0 {
            values.extend([n - 1, n, n + 1, n * 7]);
            n *= 10;
        }
        for v in values {
            let a = Amount::from_hundredths(v);
            assert_eq!(&*a.text(), format!("{}.{:02}", a.0 / 100, a.0 % 100), "{v}");
            assert_eq!(a.to_string(), &*a.text());
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", &*a.text())
            );
        }
    }

    #[test]
    fn whole_numbers_read_as_their_text_would() {
        let max_whole = 10u64.pow(MAX_WHOLE_DIGITS as u32);
        for n in [
            0,
            1,
            1000,
            99_999,
            max_whole - 1,
            max_whole,
            max_whole + 1,
            u64::MAX,
        ] {
            assert_eq!(
                Amount::from_json(&json!(n)),
                Amount::parse_number_text(&n.to_string()),
                "{n}"
            );
        }
        assert_eq!(Amount::from_json(&json!(-5)), None);
    }

    #[test]
    fn amounts_parse_and_print_like_midtrans() {
        assert_eq!(
            Amount::parse("100000.00"),
            Some(Amount::from_units(100_000))
        );
        assert_eq!(Amount::parse("12"), Some(Amount::from_units(12)));
        assert_eq!(Amount::parse("12.5"), Some(Amount::from_hundredths(1250)));
        assert_eq!(Amount::from_units(100_000).to_string(), "100000.00");
        assert_eq!(Amount::from_hundredths(5).to_string(), "0.05");
        for bad in [
            "",
            ".5",
            "1.",
            "1.234",
            "-1",
            "1e5",
            "1 000",
            "1234567890123456",
        ] {
            assert_eq!(Amount::parse(bad), None, "{bad}");
        }
        assert_eq!(Amount::parse("999999999999999.99"), Some(Amount::MAX));
        assert_eq!(
            Amount::MAX.saturating_add(Amount::from_units(1)),
            Amount::MAX
        );
    }

    #[test]
    fn request_amounts_come_as_numbers_or_strings() {
        assert_eq!(
            Amount::from_json(&json!(10000)),
            Some(Amount::from_units(10_000))
        );
        assert_eq!(
            Amount::from_json(&json!(10000.0)),
            Some(Amount::from_units(10_000))
        );
        assert_eq!(
            Amount::from_json(&json!(10.25)),
            Some(Amount::from_hundredths(1025))
        );
        assert_eq!(
            Amount::from_json(&json!("10000")),
            Some(Amount::from_units(10_000))
        );
        for bad in [
            json!(-5),
            json!(1.005),
            json!(null),
            json!(true),
            json!(1e300),
        ] {
            assert_eq!(Amount::from_json(&bad), None, "{bad}");
        }
    }
}
