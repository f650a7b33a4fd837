//! Every generated id (accounts, and the UUIDs inside payment option tokens) comes from here, so
//! `--seed` can make a whole run reproducible.

use parking_lot::Mutex;
use rand::{RngCore, SeedableRng, rngs::StdRng};
use uuid::Uuid;

/// A source of UUIDs; seeded, or from the OS when no seed is given.
pub struct IdGen {
    rng: Mutex<StdRng>,
}

impl IdGen {
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            rng: Mutex::new(rng(seed)),
        }
    }

    /// Starts the sequence again (a reset): the same ids as a fresh server with this seed. Without
    /// a seed there is no sequence to restart, and the ids stay random.
    pub fn reseed(&self, seed: Option<u64>) {
        if let Some(seed) = seed {
            *self.rng.lock() = rng(Some(seed));
        }
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.lock().fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

fn rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_makes_ids_reproducible() {
        let (a, b) = (IdGen::new(Some(7)), IdGen::new(Some(7)));
        assert_eq!(a.uuid(), b.uuid());
        assert_ne!(IdGen::new(None).uuid(), IdGen::new(None).uuid());
    }
}
