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
///
/// The generator draws one id ahead ([`IdGen::uuid_and_next`]), so that a store can have the CPU fetch
/// the place of its next record while it has other work (see BENCHMARKS.md, "An insert's place
/// fetched ahead"). The id drawn ahead is still the next one given, and the position is where
/// that id starts: the sequence is the same as without it.
pub struct IdGen {
    inner: Mutex<Inner>,
}

struct Inner {
    rng: ChaCha12Rng,
    /// The next id, drawn ahead; `None` until the first draw after a (re)start or a seek.
    ahead: Option<Uuid>,
}

/// The stream's 32-bit words an id takes.
const ID_WORDS: u128 = 4;

impl Inner {
    fn draw(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl IdGen {
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                rng: rng(seed),
                ahead: None,
            }),
        }
    }

    /// Starts the sequence again (a reset): the same ids as a fresh server with this seed. Without
    /// a seed there is no sequence to restart, and the ids stay random.
    pub fn reseed(&self, seed: Option<u64>) {
        if let Some(seed) = seed {
            *self.inner.lock() = Inner {
                rng: rng(Some(seed)),
                ahead: None,
            };
        }
    }

    /// How far into its stream the generator is: where the next id given starts.
    pub fn position(&self) -> u128 {
        let inner = self.inner.lock();
        let drawn = inner.rng.get_word_pos();
        if inner.ahead.is_some() {
            drawn.saturating_sub(ID_WORDS)
        } else {
            drawn
        }
    }

    /// Moves the generator to `position` of its stream.
    pub fn seek(&self, position: u128) {
        let mut inner = self.inner.lock();
        inner.rng.set_word_pos(position);
        inner.ahead = None;
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> Uuid {
        self.uuid_and_next().0
    }

    /// A random (version 4) UUID, and the one the next draw gives.
    pub fn uuid_and_next(&self) -> (Uuid, Uuid) {
        let mut inner = self.inner.lock();
        let id = match inner.ahead.take() {
            Some(id) => id,
            None => inner.draw(),
        };
        let next = inner.draw();
        inner.ahead = Some(next);
        (id, next)
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

    /// The id drawn ahead changes neither the sequence nor the position: a generator that gave
    /// some ids and one seeked to its position give the same ids next, and each draw names the
    /// next.
    #[test]
    fn drawing_ahead_changes_neither_the_ids_nor_the_position() {
        let plain: Vec<Uuid> = {
            let mut std = rand::rngs::StdRng::seed_from_u64(9);
            (0..40)
                .map(|_| {
                    let mut bytes = [0u8; 16];
                    std.fill_bytes(&mut bytes);
                    uuid::Builder::from_random_bytes(bytes).into_uuid()
                })
                .collect()
        };
        let ids = IdGen::new(Some(9));
        assert_eq!(ids.position(), 0);
        for (n, want) in plain.iter().enumerate().take(20) {
            assert_eq!(ids.uuid_and_next(), (*want, plain[n + 1]));
            assert_eq!(ids.position(), (n as u128 + 1) * ID_WORDS);
        }
        let resumed = IdGen::new(Some(9));
        resumed.seek(ids.position());
        for want in &plain[20..39] {
            assert_eq!((ids.uuid(), resumed.uuid()), (*want, *want));
        }
        ids.reseed(Some(9));
        assert_eq!(ids.uuid(), plain[0]);
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
