//! Records by their UUID, in a table that finds each record by the id the record itself holds.
//! The account store keeps its accounts in one (as pointers beside their ids' hashes: 16 bytes a
//! slot), the transaction store its transactions (the id beside the pointer).
//!
//! A map from id to pointer takes 24 bytes a slot, and every create grows the accounts' table: on
//! this server fresh memory is a large part of what a create costs beyond the limit's (see
//! BENCHMARKS.md). The hash beside the pointer is there so that neither growing the table nor an
//! entry whose tag matches by chance (about one insert in ten) reads an account: each would be a
//! wait for memory. The table grows a few dozen records per insert ([`GrowingTable`]).

use std::hash::BuildHasher;
use std::sync::Arc;

use uuid::Uuid;

use crate::table::{GrowingTable, Hashed};

/// A record that carries its own id.
pub trait Keyed {
    fn key(&self) -> &Uuid;
}

impl<T: Keyed + ?Sized> Keyed for Box<T> {
    fn key(&self) -> &Uuid {
        (**self).key()
    }
}

/// An id beside its record, for records a table should not read to find or move them.
impl<T> Keyed for (Uuid, Arc<T>) {
    fn key(&self) -> &Uuid {
        &self.0
    }
}

/// Entries `E` (records, or pointers to them), by their ids.
pub struct ById<E>(GrowingTable<Slot<E>>);

impl<E> Default for ById<E> {
    fn default() -> Self {
        Self(GrowingTable::default())
    }
}

/// An entry as the table holds it, with the hash of its id.
struct Slot<E> {
    hash: u64,
    entry: E,
}

impl<E> Hashed for Slot<E> {
    fn hash(&self) -> u64 {
        self.hash
    }
}

/// Ids are UUIDs: fast to hash. Those made here are random; those that come from fixtures and
/// state files are checked for their count, not their spread.
fn hash(id: &Uuid) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

impl<E: Keyed> ById<E> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, id: &Uuid) -> Option<&E> {
        let hash = hash(id);
        self.0
            .find(hash, |s| s.hash == hash && s.entry.key() == id)
            .map(|s| &s.entry)
    }

    pub fn get_mut(&mut self, id: &Uuid) -> Option<&mut E> {
        let hash = hash(id);
        self.0
            .find_mut(hash, |s| s.hash == hash && s.entry.key() == id)
            .map(|s| &mut s.entry)
    }

    pub fn contains_key(&self, id: &Uuid) -> bool {
        self.get(id).is_some()
    }

    /// Adds `entry` unless an entry with its id is there already; gives it back if so (see
    /// [`GrowingTable::insert_new`] for what a new id costs).
    ///
    /// # Errors
    /// The entry itself, when its id is taken.
    pub fn insert_new(&mut self, entry: E) -> Result<&mut E, E> {
        let id = *entry.key();
        let hash = hash(&id);
        let slot = Slot { hash, entry };
        match self
            .0
            .insert_new(hash, slot, |s| s.hash == hash && *s.entry.key() == id)
        {
            Ok(s) => Ok(&mut s.entry),
            Err(s) => Err(s.entry),
        }
    }

    pub fn remove(&mut self, id: &Uuid) -> Option<E> {
        let hash = hash(id);
        self.0
            .remove(hash, |s| s.hash == hash && s.entry.key() == id)
            .map(|s| s.entry)
    }

    /// Has the CPU fetch where `id` would go, for an id known before its insert (see
    /// [`GrowingTable::prefetch`]).
    pub fn prefetch(&self, id: &Uuid) {
        self.0.prefetch(hash(id));
    }

    pub fn values(&self) -> impl Iterator<Item = &E> {
        self.0.iter().map(|s| &s.entry)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.0.iter_mut().map(|s| &mut s.entry)
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

    /// The table agrees with a `HashMap` through inserts (new and refused), removals and growth.
    fn agrees_with_a_map<E: Keyed>(
        make: impl Fn(Uuid, u32) -> E,
        value: impl Fn(&E) -> u32,
        bump: impl Fn(&mut E),
    ) {
        let mut table: ById<E> = ById::default();
        let mut map = std::collections::HashMap::new();
        let ids: Vec<Uuid> = (0..3_000u128)
            .map(|i| Uuid::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)))
            .collect();
        for (step, id) in ids.iter().cycle().take(12_000).enumerate() {
            let n = u32::try_from(step).unwrap();
            match step % 5 {
                0..=2 => {
                    let inserted = table.insert_new(make(*id, n)).map(|e| value(e));
                    let want = map.get(id).map_or(Ok(n), |_| Err(n));
                    assert_eq!(inserted.map_err(|e| value(&e)), want);
                    map.entry(*id).or_insert(n);
                }
                3 => assert_eq!(table.remove(id).map(|e| value(&e)), map.remove(id)),
                _ => {
                    if let Some(e) = table.get_mut(id) {
                        bump(e);
                    }
                    if let Some(v) = map.get_mut(id) {
                        *v += 1;
                    }
                }
            }
            assert_eq!(table.len(), map.len());
        }
        for id in &ids {
            assert_eq!(table.get(id).map(&value), map.get(id).copied());
            assert_eq!(table.contains_key(id), map.contains_key(id));
        }
        let mut all: Vec<(Uuid, u32)> = table.values().map(|e| (*e.key(), value(e))).collect();
        let mut want: Vec<(Uuid, u32)> = map.into_iter().collect();
        all.sort();
        want.sort();
        assert_eq!(all, want);
        for e in table.values_mut() {
            bump(e);
        }
        assert!(
            table
                .values()
                .all(|e| want.contains(&(*e.key(), value(e) - 1)))
        );
    }

    #[test]
    fn boxed_records_agree_with_a_map() {
        agrees_with_a_map(|id, n| Box::new(Record(id, n)), |r| r.1, |r| r.1 += 1);
    }

    #[test]
    fn ids_beside_shared_records_agree_with_a_map() {
        agrees_with_a_map(
            |id, n| (id, Arc::new(n)),
            |e| *e.1,
            |e| *Arc::make_mut(&mut e.1) += 1,
        );
    }
}
