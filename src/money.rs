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
            serde_json::Value::Number(n) => {
                let text = n.to_string();
                // `100000.0` is how serde_json writes a float without a fraction.
                let text = text.strip_suffix(".0").unwrap_or(&text);
                Self::parse(text)
            }
            serde_json::Value::String(s) => Self::parse(s),
            _ => None,
        }
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// Adds, stopping at [`Amount::MAX`].
    pub fn saturating_add(self, other: Self) -> Self {
        Self::from_hundredths(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
