//! One allocation for a text that requests repeat: a merchant sends the same redirect URL with
//! every create and charges with the same server key, and each record would otherwise keep a copy.

use std::sync::Arc;

/// The text handed out last, shared with whoever asks for the same text next.
#[derive(Default)]
pub struct LastText(Option<Arc<str>>);

impl LastText {
    /// `text` as a record keeps it: the last one's allocation when it is the same text, else a new
    /// one, remembered in its place.
    pub fn share(&mut self, text: &str) -> Arc<str> {
        match &self.0 {
            Some(last) if **last == *text => last.clone(),
            _ => self.0.insert(Arc::from(text)).clone(),
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
        assert!(Arc::ptr_eq(&a, &b));
        let c = last.share("https://other.example/");
        assert_eq!(&*c, "https://other.example/");
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&c, &last.share("https://other.example/")));
    }
}
