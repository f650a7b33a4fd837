//! A hash table that grows a few dozen entries per insert instead of all at once.
//!
//! A table that grows at once moves every entry in one insert. With a million entries that held
//! every request in flight for a tenth of a second, which set the POST p99 (accounts) and the
//! charge p99 (transactions). Instead a full table becomes the old one, a table twice its size
//! takes the inserts, and each insert moves the entries of some of the old table's buckets across
//! (and has the CPU fetch the next ones, long out of the cache); finds look in both until the old
//! one is empty.
//!
//! The place of a key that is coming can be fetched ahead ([`GrowingTable::prefetch`]): a table of a
//! million entries is far larger than the CPU's caches, and an insert otherwise waits for memory
//! (see BENCHMARKS.md, "An insert's place fetched ahead").

use hashbrown::hash_table::{Entry, HashTable};

use crate::prefetch;

/// An entry that knows its hash (keeps it), so that moving it or turning away an entry whose tag
/// matched by chance reads nothing outside the table.
pub trait Hashed {
    fn hash(&self) -> u64;
}

/// Entries `T`, found by their hash and an equality the caller gives.
pub struct GrowingTable<T> {
    table: HashTable<T>,
    /// The table before the last growth, emptied into `table` as inserts arrive.
    old: HashTable<T>,
    /// The next bucket of `old` to empty.
    cursor: usize,
    /// Buckets of `old` each insert empties: enough that `old` is empty before `table` is full.
    step: usize,
    /// Where each table keeps its buckets, once an insert has shown it.
    places: Places,
}

/// Where `table` and `old` keep their buckets: the address their control bytes start at, which
/// their entries end at (hashbrown's layout: entry `i` lies `i + 1` entries below it). Only read to
/// fetch memory ahead, which is a hint: a wrong address costs nothing but the hint. A test pins the
/// layout ([`GrowingTable::prefetch`]).
#[derive(Clone, Copy, Default)]
struct Places {
    table: Option<usize>,
    old: Option<usize>,
}

impl<T> Default for GrowingTable<T> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
            old: HashTable::new(),
            cursor: 0,
            step: 0,
            places: Places::default(),
        }
    }
}

/// The fewest buckets of the old table an insert empties. More per insert ends the move sooner,
/// and while it runs a new entry is looked for in both tables; an insert that moves 32 buckets'
/// entries still takes microseconds, not the milliseconds a whole table takes.
pub const MOVE_AT_LEAST: usize = 32;

/// The fewest entries a table is made for, so that small tables do not grow at every insert.
const MIN_CAPACITY: usize = 16;

impl<T: Hashed> GrowingTable<T> {
    pub fn len(&self) -> usize {
        self.table.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn find(&self, hash: u64, eq: impl Fn(&T) -> bool) -> Option<&T> {
        self.table
            .find(hash, &eq)
            .or_else(|| self.old.find(hash, &eq))
    }

    pub fn find_mut(&mut self, hash: u64, eq: impl Fn(&T) -> bool) -> Option<&mut T> {
        match self.table.find_mut(hash, &eq) {
            Some(entry) => Some(entry),
            None => self.old.find_mut(hash, &eq),
        }
    }

    /// The entries whose hash may be `hash` (the tables compare 7 of its bits).
    pub fn iter_hash(&self, hash: u64) -> impl Iterator<Item = &T> {
        self.table.iter_hash(hash).chain(self.old.iter_hash(hash))
    }

    /// Adds `entry`, whose hash is `hash`, unless an entry `eq` accepts is there already; gives it
    /// back if so. A new entry costs no lookup beyond the insert's own, but for one in the old
    /// table while a move runs.
    ///
    /// # Errors
    /// The entry itself, when `eq` accepts one the table holds.
    pub fn insert_new(
        &mut self,
        hash: u64,
        entry: T,
        eq: impl Fn(&T) -> bool,
    ) -> Result<&mut T, T> {
        debug_assert_eq!(hash, entry.hash());
        if !self.old.is_empty() && self.old.find(hash, &eq).is_some() {
            return Err(entry);
        }
        if self.table.len() >= self.table.capacity() {
            if self.table.find(hash, &eq).is_some() {
                return Err(entry);
            }
            self.grow();
        }
        // Moving changes where entries are, not which: the check above still holds.
        self.move_some();
        match self.table.entry(hash, eq, T::hash) {
            Entry::Occupied(_) => Err(entry),
            Entry::Vacant(slot) => {
                let slot = slot.insert(entry);
                let index = slot.bucket_index();
                let entry = slot.into_mut();
                self.places.table = Some(end_of_entries(entry, index));
                Ok(entry)
            }
        }
    }

    /// Has the CPU fetch the buckets where an entry hashed `hash` would be looked for or put: its
    /// first group of control bytes and its first slot, in both tables while a move runs. For a
    /// key known before its insert (the id a store draws next), so that the insert finds them in
    /// the cache.
    pub fn prefetch(&self, hash: u64) {
        prefetch_bucket(&self.table, self.places.table, hash);
        if !self.old.is_empty() {
            prefetch_bucket(&self.old, self.places.old, hash);
        }
    }

    pub fn remove(&mut self, hash: u64, eq: impl Fn(&T) -> bool) -> Option<T> {
        let found = match self.table.find_entry(hash, &eq) {
            Ok(slot) => Ok(slot),
            Err(_) => self.old.find_entry(hash, &eq),
        };
        let removed = found.ok().map(|slot| slot.remove().0);
        if self.old.is_empty() {
            self.release_old();
        }
        removed
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.table.iter().chain(self.old.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.table.iter_mut().chain(self.old.iter_mut())
    }

    /// Makes the full table the old one, and a table with room for twice its entries the new one.
    fn grow(&mut self) {
        // By `step`, the old table is empty here, unless removals left the new one too little room
        // (hashbrown then grows it at once: a pause, not a loss).
        while !self.old.is_empty() {
            self.move_some();
        }
        let len = self.table.len();
        let capacity = len.saturating_mul(2).max(MIN_CAPACITY);
        self.old = std::mem::replace(&mut self.table, HashTable::with_capacity(capacity));
        self.places = Places {
            table: None,
            old: self.places.table,
        };
        self.cursor = 0;
        // The new table takes `capacity - len` inserts before it is full: the old table's buckets
        // are spread over half of them.
        let room = capacity.saturating_sub(len).max(1);
        self.step = self
            .old
            .num_buckets()
            .saturating_mul(2)
            .div_ceil(room)
            .max(MOVE_AT_LEAST);
    }

    /// Frees the old table's buckets once it holds nothing, however it got empty.
    fn release_old(&mut self) {
        if self.old.capacity() > 0 {
            self.old = HashTable::new();
        }
        self.places.old = None;
        self.cursor = 0;
    }

    /// Moves the entries of the old table's next `step` buckets into the new table, and frees the
    /// old table once it is empty.
    fn move_some(&mut self) {
        if self.old.is_empty() {
            return;
        }
        let end = self
            .cursor
            .saturating_add(self.step)
            .min(self.old.num_buckets());
        for index in self.cursor..end {
            if let Ok(slot) = self.old.get_bucket_entry(index) {
                let (entry, _) = slot.remove();
                self.table.insert_unique(entry.hash(), entry, T::hash);
            }
        }
        self.cursor = end;
        if self.old.is_empty() {
            self.release_old();
            return;
        }
        // The next insert puts these entries in the new table, at places last touched long ago.
        let ahead = end.saturating_add(self.step).min(self.old.num_buckets());
        for index in end..ahead {
            if let Some(entry) = self.old.get_bucket(index) {
                prefetch_bucket(&self.table, self.places.table, entry.hash());
            }
        }
    }
}

/// The address `table`'s control bytes start at, from `entry`, its entry in bucket `index`.
fn end_of_entries<T>(entry: &T, index: usize) -> usize {
    (std::ptr::from_ref(entry) as usize)
        .wrapping_add(index.wrapping_add(1).wrapping_mul(std::mem::size_of::<T>()))
}

/// Fetches the first group of control bytes and the first slot `hash` probes in `table`, whose
/// control bytes start at `place`.
fn prefetch_bucket<T>(table: &HashTable<T>, place: Option<usize>, hash: u64) {
    let Some(place) = place else { return };
    // hashbrown probes from bucket `hash & (buckets - 1)`, reading 16 control bytes from there.
    let bucket = usize::try_from(hash).unwrap_or(usize::MAX) & table.num_buckets().wrapping_sub(1);
    prefetch::address(place.wrapping_add(bucket), 16);
    let size = std::mem::size_of::<T>();
    prefetch::address(
        place.wrapping_sub(bucket.wrapping_add(1).wrapping_mul(size)),
        size,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Entry(u64, u32);

    impl Hashed for Entry {
        fn hash(&self) -> u64 {
            self.0
        }
    }

    fn spread(i: u32) -> u64 {
        u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// Growing moves some entries per insert, never the whole table at once, the old table is
    /// empty before the next growth, and a find sees an entry wherever it is meanwhile.
    #[test]
    fn the_table_grows_a_few_entries_per_insert() {
        let mut table: GrowingTable<Entry> = GrowingTable::default();
        let (mut most_moved, mut inserts_while_moving, mut growths) = (0, 0, 0);
        for i in 0..200_000u32 {
            let before = table.table.len();
            let growing = before >= table.table.capacity();
            if growing {
                assert!(
                    table.old.is_empty(),
                    "growth {growths} found entries still to move"
                );
                growths += 1;
            }
            let h = spread(i);
            assert_eq!(
                table.insert_new(h, Entry(h, i), |e| e.0 == h).map(|e| e.1),
                Ok(i)
            );
            let moved = table.table.len() - if growing { 0 } else { before } - 1;
            most_moved = most_moved.max(moved);
            inserts_while_moving += usize::from(!table.old.is_empty());
            assert_eq!(table.len(), usize::try_from(i).unwrap() + 1);
            if i % 997 == 0 {
                for j in (0..=i).step_by(101) {
                    let h = spread(j);
                    assert_eq!(table.find(h, |e| e.0 == h).map(|e| e.1), Some(j));
                }
            }
        }
        assert!(growths >= 14, "{growths}");
        assert!(
            most_moved <= MOVE_AT_LEAST,
            "an insert moved {most_moved} entries"
        );
        assert!(inserts_while_moving > 2_000, "{inserts_while_moving}");
    }

    /// The places [`GrowingTable::prefetch`] fetches are where hashbrown keeps the entries: every
    /// entry of either table lies where its bucket index says, below the address learnt from the
    /// last insert. A hashbrown whose entries were laid out otherwise fails here, not silently in
    /// `make bench`. (That its control bytes begin at that address, right above entry 0, is
    /// hashbrown's documented layout; no safe code can look.)
    #[test]
    fn the_places_fetched_ahead_are_where_the_entries_are() {
        let mut table: GrowingTable<Entry> = GrowingTable::default();
        let (mut checked, mut checked_old) = (0, 0);
        for i in 0..50_000u32 {
            let h = spread(i);
            assert!(table.insert_new(h, Entry(h, i), |e| e.0 == h).is_ok());
            let moving = !table.old.is_empty();
            if i % 1_999 != 0 && !(moving && i % 97 == 0) {
                continue;
            }
            for (t, place, old) in [
                (&table.table, table.places.table, false),
                (&table.old, table.places.old, true),
            ] {
                if t.is_empty() {
                    continue;
                }
                let place = place.expect("known once an insert was made");
                for index in 0..t.num_buckets() {
                    if let Some(e) = t.get_bucket(index) {
                        assert_eq!(end_of_entries(e, index), place, "bucket {index}");
                        if old {
                            checked_old += 1;
                        } else {
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(
            checked > 100_000 && checked_old > 1_000,
            "{checked} {checked_old}"
        );
    }

    /// Removals that empty the old table while a move runs free it, and the table goes on.
    #[test]
    fn removals_that_empty_the_old_table_free_it() {
        let mut table: GrowingTable<Entry> = GrowingTable::default();
        let mut i = 0u32;
        while table.old.is_empty() || i < 1_000 {
            let h = spread(i);
            assert!(table.insert_new(h, Entry(h, i), |e| e.0 == h).is_ok());
            i += 1;
        }
        let moving: Vec<u64> = table.old.iter().map(|e| e.0).collect();
        assert!(!moving.is_empty());
        for h in moving {
            assert_eq!(table.remove(h, |e| e.0 == h).map(|e| e.0), Some(h));
        }
        assert_eq!((table.old.capacity(), table.cursor), (0, 0));
        assert_eq!(table.iter().count(), table.len());
        for j in i..i + 5_000 {
            let h = spread(j);
            assert!(table.insert_new(h, Entry(h, j), |e| e.0 == h).is_ok());
            assert!(table.find(h, |e| e.0 == h).is_some());
        }
    }

    /// Entries that share a hash are told apart by the caller's equality, in both tables.
    #[test]
    fn entries_with_one_hash_are_told_apart_by_their_equality() {
        let mut table: GrowingTable<Entry> = GrowingTable::default();
        for i in 0..2_000u32 {
            let h = u64::from(i % 7);
            assert!(table.insert_new(h, Entry(h, i), |e| e.1 == i).is_ok());
            assert_eq!(
                table.insert_new(h, Entry(h, i), |e| e.1 == i),
                Err(Entry(h, i))
            );
        }
        for i in (0..2_000u32).step_by(3) {
            let h = u64::from(i % 7);
            assert_eq!(table.remove(h, |e| e.1 == i), Some(Entry(h, i)));
            assert_eq!(table.find(h, |e| e.1 == i), None);
        }
        assert_eq!(table.len(), 2_000 - 667);
        assert_eq!(table.iter().count(), table.len());
    }
}
