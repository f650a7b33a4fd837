//! Every generated id (accounts, and the UUIDs inside payment option tokens) comes from here, so
//! `--seed` can make a whole run reproducible.

use parking_lot::Mutex;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;
use uuid::Uuid;

/// Ids a store draws for one new record before it gives up: random ids never repeat, and a seeded
/// sequence would need this many of its next ids already in the store ([`TAKEN_CAUSE`]).
pub const DRAWS: usize = 64;

/// How every id drawn can be taken, for the warning of a create or a charge that found none free.
pub const TAKEN_CAUSE: &str =
    "a seeded server given a state document that holds the ids its seed draws next";

/// A source of UUIDs; seeded, or from the OS when no seed is given.
///
/// ChaCha12 is what `rand`'s `StdRng` is, named so that its position in the stream can be read and
/// set: a seeded server restored from a state file goes on where it stopped instead of handing out
/// its ids again.
pub struct IdGen {
    rng: Mutex<ChaCha12Rng>,
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

    /// How far into its stream the generator is.
    pub fn position(&self) -> u128 {
        self.rng.lock().get_word_pos()
    }

    /// Moves the generator to `position` of its stream.
    pub fn seek(&self, position: u128) {
        self.rng.lock().set_word_pos(position);
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.lock().fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

fn rng(seed: Option<u64>) -> ChaCha12Rng {
    match seed {
        Some(seed) => ChaCha12Rng::seed_from_u64(seed),
        None => ChaCha12Rng::from_entropy(),
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

    #[test]
    fn a_seeded_generator_resumes_where_it_stopped() {
        let first = IdGen::new(Some(7));
        first.uuid();
        let position = first.position();
        let next = first.uuid();
        let resumed = IdGen::new(Some(7));
        resumed.seek(position);
        assert_eq!(resumed.uuid(), next);
    }

    #[test]
    fn the_stream_is_the_one_std_rng_gives() {
        // Ids made with a seed before the generator was named stay the same.
        let mut std = rand::rngs::StdRng::seed_from_u64(42);
        let mut bytes = [0u8; 16];
        std.fill_bytes(&mut bytes);
        let ids = IdGen::new(Some(42));
        assert_eq!(
            ids.uuid(),
            uuid::Builder::from_random_bytes(bytes).into_uuid()
        );
    }
}
