//! [`Map`]: the insertion-ordered hash map behind Weft's `map` values.
//!
//! Entries live in a vector in insertion order; a hash table holds the
//! indexes of the live ones. Removing a key leaves a hole (a tombstone) so it
//! is O(1) and keeps every other entry where it was; the holes are squeezed
//! out once they outnumber the live entries, which keeps removal O(1)
//! amortized. This is the layout CPython's `dict` uses, and what `m.remove(k)`
//! in a loop needs (an `IndexMap` would shift every later entry on each
//! removal: O(n) per call).

use crate::value::{Key, Value};
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::fmt;
use std::hash::{BuildHasher, Hash};

pub use hashbrown::Equivalent;

/// An insertion-ordered map from [`Key`] to [`Value`] with O(1) removal.
#[derive(Clone, Default)]
pub struct Map {
    /// Entries in insertion order; `None` where one was removed.
    slots: Vec<Option<(Key, Value)>>,
    /// Indexes into `slots` of the live entries, hashed by their keys.
    table: HashTable<usize>,
}

fn hash_of<Q: Hash + ?Sized>(k: &Q) -> u64 {
    FxBuildHasher.hash_one(k)
}

impl Map {
    /// An empty map (no allocation).
    pub const fn new() -> Map {
        Map {
            slots: Vec::new(),
            table: HashTable::new(),
        }
    }

    /// Whether the map owns no memory (it was never given any entries).
    pub(crate) fn capacity_is_zero(&self) -> bool {
        self.slots.capacity() == 0 && self.table.capacity() == 0
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Map {
        Map {
            slots: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
        }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map has no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Makes room for `n` more entries.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        let slots = &self.slots;
        self.table.reserve(n, |&i| rehash(slots, i));
    }

    fn find<Q: Hash + Equivalent<Key> + ?Sized>(&self, k: &Q) -> Option<usize> {
        let slots = &self.slots;
        self.table
            .find(hash_of(k), |&i| {
                slots[i].as_ref().is_some_and(|(key, _)| k.equivalent(key))
            })
            .copied()
    }

    /// The value for `k`.
    #[inline]
    pub fn get<Q: Hash + Equivalent<Key> + ?Sized>(&self, k: &Q) -> Option<&Value> {
        let i = self.find(k)?;
        self.slots[i].as_ref().map(|(_, v)| v)
    }

    /// The value for `k`, to change in place.
    #[inline]
    pub fn get_mut<Q: Hash + Equivalent<Key> + ?Sized>(&mut self, k: &Q) -> Option<&mut Value> {
        let i = self.find(k)?;
        self.slots[i].as_mut().map(|(_, v)| v)
    }

    /// Whether `k` is a key.
    pub fn contains_key<Q: Hash + Equivalent<Key> + ?Sized>(&self, k: &Q) -> bool {
        self.find(k).is_some()
    }

    /// Sets `k` to `v`. A new key goes last; an existing one keeps its place.
    /// Returns the old value.
    pub fn insert(&mut self, k: Key, v: Value) -> Option<Value> {
        match self.find_or_claim(&k) {
            Ok(i) => Some(self.replace_at(i, v)),
            Err(()) => {
                self.slots.push(Some((k, v)));
                None
            }
        }
    }

    /// Sets the key `k` borrows to `v`, making the owned key with `owned`
    /// only when the key is new (`m[k] = v` on an existing key then copies
    /// nothing, and reference-counted keys are not touched). Returns the old
    /// value.
    #[inline]
    pub fn insert_with<Q: Hash + Equivalent<Key> + ?Sized>(
        &mut self,
        k: &Q,
        v: Value,
        owned: impl FnOnce() -> Key,
    ) -> Option<Value> {
        match self.find_or_claim(k) {
            Ok(i) => Some(self.replace_at(i, v)),
            Err(()) => {
                self.slots.push(Some((owned(), v)));
                None
            }
        }
    }

    /// One probe of the table for `k`: `Ok(slot)` when it is a key, else
    /// `Err(())` after the table was given the index of the slot past the
    /// end, which the caller must then push (with a key equal to `k`).
    #[inline]
    fn find_or_claim<Q: Hash + Equivalent<Key> + ?Sized>(&mut self, k: &Q) -> Result<usize, ()> {
        let slots = &self.slots;
        let next = slots.len();
        match self.table.entry(
            hash_of(k),
            |&i| slots[i].as_ref().is_some_and(|(key, _)| k.equivalent(key)),
            |&j| rehash(slots, j),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => Ok(*e.get()),
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(next);
                Err(())
            }
        }
    }

    fn replace_at(&mut self, i: usize, v: Value) -> Value {
        let slot = self.slots[i]
            .as_mut()
            .expect("the table holds live slots only");
        std::mem::replace(&mut slot.1, v)
    }

    /// Removes `k`, returning its value; the other entries keep their order.
    pub fn remove<Q: Hash + Equivalent<Key> + ?Sized>(&mut self, k: &Q) -> Option<Value> {
        let slots = &self.slots;
        let entry = self
            .table
            .find_entry(hash_of(k), |&i| {
                slots[i].as_ref().is_some_and(|(key, _)| k.equivalent(key))
            })
            .ok()?;
        let (i, _) = entry.remove();
        let (_, v) = self.slots[i]
            .take()
            .expect("the table holds live slots only");
        self.maybe_compact();
        Some(v)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.table.clear();
    }

    /// Squeezes out the holes once they outnumber the live entries.
    fn maybe_compact(&mut self) {
        let holes = self.slots.len() - self.table.len();
        if self.table.is_empty() {
            self.slots.clear();
        } else if holes > 8 && holes > self.table.len() {
            self.slots.retain(Option::is_some);
            self.table.clear();
            for (i, slot) in self.slots.iter().enumerate() {
                let (k, _) = slot.as_ref().expect("retained live slots only");
                let slots = &self.slots;
                self.table
                    .insert_unique(hash_of(k), i, |&j| rehash(slots, j));
            }
        }
    }

    /// The first live entry at slot `from` or later, with its slot: a cursor
    /// for iterating without holding a borrow (`for k in m`). Pass the
    /// returned slot plus one to get the next entry.
    pub fn entry_from(&self, from: usize) -> Option<(usize, &Key, &Value)> {
        self.slots
            .get(from..)?
            .iter()
            .enumerate()
            .find_map(|(d, s)| s.as_ref().map(|(k, v)| (from + d, k, v)))
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            slots: self.slots.iter(),
            remaining: self.len(),
        }
    }

    /// Entries in insertion order, values mutable.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&Key, &mut Value)> + '_ {
        self.slots.iter_mut().flatten().map(|(k, v)| (&*k, v))
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> Keys<'_> {
        Keys(self.iter())
    }

    /// Values in insertion order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`Map`] in insertion order.
#[derive(Clone)]
pub struct Iter<'a> {
    slots: std::slice::Iter<'a, Option<(Key, Value)>>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.slots.by_ref().flatten().next()?;
        self.remaining -= 1;
        Some((k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (k, v) = self.slots.by_ref().rev().flatten().next()?;
        self.remaining -= 1;
        Some((k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The keys of a [`Map`] in insertion order.
#[derive(Clone)]
pub struct Keys<'a>(Iter<'a>);

impl<'a> Iterator for Keys<'a> {
    type Item = &'a Key;
    fn next(&mut self) -> Option<&'a Key> {
        self.0.next().map(|(k, _)| k)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Keys<'_> {}

fn rehash(slots: &[Option<(Key, Value)>], i: usize) -> u64 {
    hash_of(
        &slots[i]
            .as_ref()
            .expect("the table holds live slots only")
            .0,
    )
}

impl Extend<(Key, Value)> for Map {
    fn extend<I: IntoIterator<Item = (Key, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Key, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(iter: I) -> Map {
        let mut m = Map::new();
        m.extend(iter);
        m
    }
}

impl IntoIterator for Map {
    type Item = (Key, Value);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<(Key, Value)>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn k(i: i64) -> Key {
        Key(Value::Int(i))
    }

    #[test]
    fn keeps_insertion_order_across_removals() {
        let mut m = Map::new();
        for i in 0..100 {
            m.insert(k(i), Value::Int(i * 10));
        }
        for i in (0..100).filter(|i| i % 3 != 0) {
            assert_eq!(m.remove(&k(i)), Some(Value::Int(i * 10)));
        }
        let keys: Vec<i64> = m
            .keys()
            .map(|k| match k.0 {
                Value::Int(i) => i,
                _ => -1,
            })
            .collect();
        assert_eq!(keys, (0..100).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        assert_eq!(m.len(), 34);
        assert_eq!(m.get(&k(3)), Some(&Value::Int(30)));
        assert_eq!(m.get(&k(4)), None);
        assert_eq!(m.remove(&k(4)), None);
        // A removed key that comes back goes last.
        m.insert(k(1), Value::Nil);
        assert_eq!(
            m.iter().next_back().map(|(k, _)| k.0.clone()),
            Some(Value::Int(1))
        );
    }

    #[test]
    fn existing_key_keeps_its_place() {
        let mut m = Map::new();
        m.insert(Key::str("a"), Value::Int(1));
        m.insert(Key::str("b"), Value::Int(2));
        assert_eq!(m.insert(Key::str("a"), Value::Int(3)), Some(Value::Int(1)));
        assert_eq!(format!("{:?}", m), r#"{"a": 3, "b": 2}"#);
    }

    #[test]
    fn insert_with_makes_the_key_only_when_it_is_new() {
        let mut m = Map::new();
        let mut made = 0;
        for round in 0..3 {
            for i in 0..50 {
                let k = Key::str(&format!("key{i}"));
                let old = m.insert_with(&k, Value::Int(round), || {
                    made += 1;
                    k.clone()
                });
                assert_eq!(old, (round > 0).then_some(Value::Int(round - 1)));
            }
        }
        assert_eq!((made, m.len()), (50, 50));
        assert_eq!(m.get(&Key::str("key49")), Some(&Value::Int(2)));
        // Order kept: the first key inserted is still first.
        assert_eq!(m.keys().next(), Some(&Key::str("key0")));
        // After removals, a key that comes back goes last again.
        m.remove(&Key::str("key0"));
        m.insert_with(&Key::str("key0"), Value::Nil, || Key::str("key0"));
        assert_eq!(m.keys().last(), Some(&Key::str("key0")));
        assert_eq!(m.len(), 50);
    }

    #[test]
    fn cursor_skips_holes() {
        let mut m: Map = (0..20).map(|i| (k(i), Value::Int(i))).collect();
        m.remove(&k(0));
        m.remove(&k(1));
        let mut seen = vec![];
        let mut at = 0;
        while let Some((slot, key, _)) = m.entry_from(at) {
            seen.push(key.0.clone());
            at = slot + 1;
        }
        assert_eq!(seen.len(), 18);
        assert_eq!(seen[0], Value::Int(2));
    }

    #[test]
    fn holes_are_squeezed_out() {
        let mut m: Map = (0..200).map(|i| (k(i), Value::Int(i))).collect();
        for i in 0..150 {
            assert!(m.remove(&k(i)).is_some());
            let holes = m.slots.len() - m.len();
            assert!(
                holes <= 8 || holes <= m.len(),
                "{holes} holes for {} entries",
                m.len()
            );
        }
        assert_eq!(m.len(), 50);
        assert_eq!(m.get(&k(199)), Some(&Value::Int(199)));
        for i in 150..200 {
            m.remove(&k(i));
        }
        assert!(m.is_empty() && m.slots.is_empty());
    }
}
