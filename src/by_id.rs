//! Records by their UUID, in a table that holds only the pointer to each record and finds it by the
//! id the record itself holds. The account store keeps its accounts in one.
//!
//! A map from id to pointer takes 24 bytes a slot, this table 8. Every create grows the table, and
//! on this server fresh memory is the largest cost a create has beyond the limit's (see
//! BENCHMARKS.md): the smaller table is a third of that memory for the table's share.
//!
//! The price is paid when the table grows: each record is read again to hash its id. That happens
//! once per doubling, and only the requests in flight at that moment wait for it. At the rate
//! charges arrive, that cost outweighed the memory saved, so transactions keep their map.

use std::hash::BuildHasher;
use std::ops::Deref;

use hashbrown::hash_table::{Entry, HashTable};
use uuid::Uuid;

/// A record that carries its own id.
pub trait Keyed {
    fn key(&self) -> &Uuid;
}

/// Pointers `P` to records, by the records' ids.
pub struct ById<P>(HashTable<P>);

impl<P> Default for ById<P> {
    fn default() -> Self {
        Self(HashTable::new())
    }
}

/// Ids are UUIDs: fast to hash. Those made here are random; those that come from fixtures and
/// state files are checked for their count, not their spread.
fn hash(id: &Uuid) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

impl<P: Deref<Target: Keyed>> ById<P> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, id: &Uuid) -> Option<&P> {
        self.0.find(hash(id), |p| p.key() == id)
    }

    pub fn get_mut(&mut self, id: &Uuid) -> Option<&mut P> {
        self.0.find_mut(hash(id), |p| p.key() == id)
    }

    pub fn contains_key(&self, id: &Uuid) -> bool {
        self.get(id).is_some()
    }

    /// Adds `record`, in place of the one with the same id if there is one; the slot it went to.
    pub fn insert(&mut self, record: P) -> &mut P {
        let id = *record.key();
        match self
            .0
            .entry(hash(&id), |p| *p.key() == id, |p| hash(p.key()))
        {
            Entry::Occupied(mut slot) => {
                *slot.get_mut() = record;
                slot.into_mut()
            }
            Entry::Vacant(slot) => slot.insert(record).into_mut(),
        }
    }

    pub fn remove(&mut self, id: &Uuid) -> Option<P> {
        self.0
            .find_entry(hash(id), |p| p.key() == id)
            .ok()
            .map(|slot| slot.remove().0)
    }

    pub fn values(&self) -> impl Iterator<Item = &P> {
        self.0.iter()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut P> {
        self.0.iter_mut()
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

    /// The table agrees with a `HashMap` through inserts (new and replacing), removals and growth.
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
                    table.insert(Box::new(Record(*id, n)));
                    map.insert(*id, n);
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
        let mut all: Vec<(Uuid, u32)> = table.values().map(|r| (r.0, r.1)).collect();
        let mut want: Vec<(Uuid, u32)> = map.into_iter().collect();
        all.sort();
        want.sort();
        assert_eq!(all, want);
        for r in table.values_mut() {
            r.1 = 0;
        }
        assert!(table.values().all(|r| r.1 == 0));
    }
}
