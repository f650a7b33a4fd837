//! Every generated id and token comes from here, so `--seed` can make a whole run reproducible.

use base64::Engine;
use parking_lot::Mutex;
use rand::{RngCore, SeedableRng, rngs::StdRng};
use uuid::Uuid;

/// A source of UUIDs and payment option tokens; seeded, or from the OS when no seed is given.
pub struct IdGen {
    rng: Mutex<StdRng>,
}

impl IdGen {
    pub fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Self {
            rng: Mutex::new(rng),
        }
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.lock().fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// An opaque payment option token shaped like the documented ones, which are base64 of
    /// `{"type": "GOPAY_WALLET", "id": ""}`: here the id is filled with a fresh UUID.
    pub fn payment_option_token(&self, option_name: &str) -> String {
        let json = format!(r#"{{"type": "{option_name}", "id": "{}"}}"#, self.uuid());
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_makes_ids_reproducible() {
        let (a, b) = (IdGen::new(Some(7)), IdGen::new(Some(7)));
        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(
            a.payment_option_token("PAY_LATER"),
            b.payment_option_token("PAY_LATER")
        );
        assert_ne!(IdGen::new(None).uuid(), IdGen::new(None).uuid());
    }

    #[test]
    fn tokens_decode_to_the_documented_shape() {
        let token = IdGen::new(Some(1)).payment_option_token("GOPAY_WALLET");
        let json = base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["type"], "GOPAY_WALLET");
        assert_eq!(v["id"].as_str().unwrap().len(), 36);
    }
}
