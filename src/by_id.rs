//! Records by their UUID, in a table that holds only the pointer to each record and finds it by the
//! id the record itself holds. The account store keeps its accounts in one.
//!
//! A map from id to pointer takes 24 bytes a slot, this table 8. Every create grows the table, and
//! on this server fresh memory is the largest cost a create has beyond the limit's (see
//! BENCHMARKS.md): the smaller table is a third of that memory for the table's share.
//!
//! The table grows a few dozen records at a time. Growing reads each record again to hash its id;
//! done at once, with a million records, that held every request in flight for a tenth of a
//! second, which set the POST p99. Instead a full table becomes the old one, a table twice its size
//! takes the inserts, and each insert moves the records of some of the old table's buckets across
//! (and has the CPU fetch the next ones, long out of the cache); finds look in both until the old
//! one is empty. Transactions were tried in this table before it grew this way, and charges got
//! slower: they keep their map.

use std::hash::BuildHasher;
use std::ops::Deref;

use hashbrown::hash_table::{Entry, HashTable};
use uuid::Uuid;

use crate::prefetch;

/// A record that carries its own id.
pub trait Keyed {
    fn key(&self) -> &Uuid;
}

/// Pointers `P` to records, by the records' ids.
pub struct ById<P> {
    table: HashTable<P>,
    /// The table before the last growth, emptied into `table` as inserts arrive.
    old: HashTable<P>,
    /// The next bucket of `old` to empty.
    cursor: usize,
    /// Buckets of `old` each insert empties: enough that `old` is empty before `table` is full.
    step: usize,
}

impl<P> Default for ById<P> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
            old: HashTable::new(),
            cursor: 0,
            step: 0,
        }
    }
}

/// Ids are UUIDs: fast to hash. Those made here are random; those that come from fixtures and
/// state files are checked for their count, not their spread.
fn hash(id: &Uuid) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

fn rehash<P: Deref<Target: Keyed>>(p: &P) -> u64 {
    hash(p.key())
}

/// The fewest buckets of the old table an insert empties. More per insert ends the move sooner,
/// and while it runs a new id is looked for in both tables; an insert that moves 32 buckets'
/// records still takes microseconds, not the milliseconds a whole table takes.
const MOVE_AT_LEAST: usize = 32;

/// The fewest records a table is made for, so that small tables do not grow at every insert.
const MIN_CAPACITY: usize = 16;

impl<P: Deref<Target: Keyed>> ById<P> {
    pub fn len(&self) -> usize {
        self.table.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: &Uuid) -> Option<&P> {
        let h = hash(id);
        self.table
            .find(h, |p| p.key() == id)
            .or_else(|| self.old.find(h, |p| p.key() == id))
    }

    pub fn get_mut(&mut self, id: &Uuid) -> Option<&mut P> {
        let h = hash(id);
        match self.table.find_mut(h, |p| p.key() == id) {
            Some(p) => Some(p),
            None => self.old.find_mut(h, |p| p.key() == id),
        }
    }

    pub fn contains_key(&self, id: &Uuid) -> bool {
        self.get(id).is_some()
    }

    /// Adds `record` unless a record with its id is there already; gives it back if so. A new
    /// id costs no lookup beyond the insert's own.
    pub fn insert_new(&mut self, record: P) -> Result<(), P> {
        let h = rehash(&record);
        let id = *record.key();
        if !self.old.is_empty() && self.old.find(h, |p| *p.key() == id).is_some() {
            return Err(record);
        }
        if self.table.len() >= self.table.capacity() {
            if self.table.find(h, |p| *p.key() == id).is_some() {
                return Err(record);
            }
            self.grow();
        }
        match self.table.entry(h, |p| *p.key() == id, rehash) {
            Entry::Occupied(_) => Err(record),
            Entry::Vacant(slot) => {
                slot.insert(record);
                self.move_some();
                Ok(())
            }
        }
    }

    pub fn remove(&mut self, id: &Uuid) -> Option<P> {
        let h = hash(id);
        let found = match self.table.find_entry(h, |p| p.key() == id) {
            Ok(slot) => Ok(slot),
            Err(_) => self.old.find_entry(h, |p| p.key() == id),
        };
        found.ok().map(|slot| slot.remove().0)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut P> {
        self.table.iter_mut().chain(self.old.iter_mut())
    }

    /// Makes the full table the old one, and a table with room for twice its records the new one.
    fn grow(&mut self) {
        // By `step`, the old table is already empty here; this only makes sure of it.
        while !self.old.is_empty() {
            self.move_some();
        }
        let len = self.table.len();
        let capacity = len.saturating_mul(2).max(MIN_CAPACITY);
        self.old = std::mem::replace(&mut self.table, HashTable::with_capacity(capacity));
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

    /// Moves the records of the old table's next `step` buckets into the new table, and frees the
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
                let (record, _) = slot.remove();
                self.table.insert_unique(rehash(&record), record, rehash);
            }
        }
        self.cursor = end;
        if self.old.is_empty() {
            self.old = HashTable::new();
            self.cursor = 0;
            return;
        }
        // The next insert reads these records' ids, last touched long ago.
        let ahead = end.saturating_add(self.step).min(self.old.num_buckets());
        for index in end..ahead {
            if let Some(p) = self.old.get_bucket(index) {
                prefetch::value(p.key());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record(Uuid, u32);

    impl Keyed for Record {
        fn key(&self) -> &Uuid {
            &self.0
        }
    }

    /// Growing moves some records per insert, never the whole table at once, the old table is
    /// empty before the next growth, and a find sees a record wherever it is meanwhile.
    #[test]
    fn the_table_grows_a_few_records_per_insert() {
        let id = |i: u32| Uuid::from_u128(u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c));
        let mut table: ById<Box<Record>> = ById::default();
        let (mut most_moved, mut inserts_while_moving, mut growths) = (0, 0, 0);
        for i in 0..200_000u32 {
            let before = table.table.len();
            let growing = before >= table.table.capacity();
            if growing {
                assert!(
                    table.old.is_empty(),
                    "growth {growths} found records still to move"
                );
                growths += 1;
            }
            assert!(table.insert_new(Box::new(Record(id(i), i))).is_ok());
            let moved = table.table.len() - if growing { 0 } else { before } - 1;
            most_moved = most_moved.max(moved);
            inserts_while_moving += usize::from(!table.old.is_empty());
            assert_eq!(table.len(), usize::try_from(i).unwrap() + 1);
            if i % 997 == 0 {
                for j in (0..=i).step_by(101) {
                    assert_eq!(table.get(&id(j)).map(|r| r.1), Some(j));
                }
            }
        }
        assert!(growths >= 14, "{growths}");
        assert!(
            most_moved <= MOVE_AT_LEAST,
            "an insert moved {most_moved} records"
        );
        assert!(inserts_while_moving > 2_000, "{inserts_while_moving}");
    }

    /// The table agrees with a `HashMap` through inserts (new and refused), removals and growth.
    #[test]
    fn the_table_agrees_with_a_map() {
        let mut table: ById<Box<Record>> = ById::default();
        let mut map = std::collections::HashMap::new();
        let ids: Vec<Uuid> = (0..3_000u128)
            .map(|i| Uuid::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)))
            .collect();
        for (step, id) in ids.iter().cycle().take(12_000).enumerate() {
            let n = u32::try_from(step).unwrap();
            match step % 5 {
                0..=2 => {
                    let refused = table.insert_new(Box::new(Record(*id, n))).err();
                    assert_eq!(refused.map(|r| r.1), map.get(id).map(|_| n));
                    map.entry(*id).or_insert(n);
                }
                3 => assert_eq!(table.remove(id).map(|r| r.1), map.remove(id)),
                _ => {
                    if let Some(r) = table.get_mut(id) {
                        r.1 += 1;
                    }
                    if let Some(v) = map.get_mut(id) {
                        *v += 1;
                    }
                }
            }
            assert_eq!(table.len(), map.len());
        }
        for id in &ids {
            assert_eq!(table.get(id).map(|r| r.1), map.get(id).copied());
            assert_eq!(table.contains_key(id), map.contains_key(id));
        }
        let mut all: Vec<(Uuid, u32)> = table.values_mut().map(|r| (r.0, r.1)).collect();
        let mut want: Vec<(Uuid, u32)> = map.into_iter().collect();
        all.sort();
        want.sort();
        assert_eq!(all, want);
        for r in table.values_mut() {
            r.1 = 0;
        }
        assert!(table.values_mut().all(|r| r.1 == 0));
    }
}
