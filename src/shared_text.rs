//! One allocation for a text that requests repeat: a merchant sends the same redirect URL with
//! every create and charges with the same server key, and each record would otherwise keep a copy.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A text that many records share, behind a pointer of one word: an `Arc<str>` takes two (it
/// carries the length), and an account keeps two of these, a transaction one. Every byte a record
/// keeps is memory a create or a charge touches fresh (see BENCHMARKS.md, "Smaller records").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedText(Arc<Box<str>>);

impl SharedText {
    /// Whether both are one allocation (cheaper than comparing the texts).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for SharedText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedText {
    fn from(text: &str) -> Self {
        Self(Arc::new(Box::from(text)))
    }
}

impl From<String> for SharedText {
    fn from(text: String) -> Self {
        Self(Arc::new(text.into_boxed_str()))
    }
}

impl Borrow<str> for SharedText {
    fn borrow(&self) -> &str {
        self
    }
}

impl Serialize for SharedText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// The text handed out last, shared with whoever asks for the same text next.
#[derive(Default)]
pub struct LastText(Option<SharedText>);

impl LastText {
    /// `text` as a record keeps it: the last one's allocation when it is the same text, else a new
    /// one, remembered in its place.
    pub fn share(&mut self, text: &str) -> SharedText {
        match &self.0 {
            Some(last) if **last == *text => last.clone(),
            _ => self.0.insert(SharedText::from(text)).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_shares_one_allocation_and_another_replaces_it() {
        let mut last = LastText::default();
        let a = last.share("https://merchant.example/done");
        let b = last.share("https://merchant.example/done");
        assert!(SharedText::ptr_eq(&a, &b));
        let c = last.share("https://other.example/");
        assert_eq!(&*c, "https://other.example/");
        assert!(!SharedText::ptr_eq(&a, &c));
        assert!(SharedText::ptr_eq(
            &c,
            &last.share("https://other.example/")
        ));
    }
}
