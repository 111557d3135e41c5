//! A hash map split into shards, so that growing it never holds the simulator up for long.
//!
//! A `HashMap` grows by moving every entry into a table twice the size, all at once. The Nodo's
//! sessions and idempotency cache reach hundreds of thousands of entries in a load test, and
//! the simulator answers nobody while one grows: 70 ms at 115,000 cached answers, measured on
//! the load benchmark, and a load test would blame that on the system under test. Split over
//! [`SHARDS`] maps, a growth moves one shard's entries: a sixty-fourth of them; and the purge of
//! expired entries looks at one shard per step instead of scanning millions at once.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, Hash};

/// How many maps the entries are spread over.
pub(crate) const SHARDS: usize = 64;

/// A map with the part of `HashMap`'s interface the simulator uses.
#[derive(Debug, Clone)]
pub(crate) struct ShardedMap<K, V> {
    shards: Box<[HashMap<K, V>]>,
    /// Picks the shard. Its keys are not those of the shards' own hashers: with the same hash,
    /// every key of a shard would share the bits that pick the shard, and crowd its buckets.
    picker: RandomState,
}

impl<K: Hash + Eq, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        ShardedMap {
            shards: (0..SHARDS).map(|_| HashMap::new()).collect(),
            picker: RandomState::new(),
        }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    fn shard_of(&self, key: &K) -> usize {
        // The top bits: SipHash's are as good as any, and `SHARDS` is a power of two.
        (self.picker.hash_one(key) >> (64 - SHARDS.trailing_zeros())) as usize
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.shards[self.shard_of(key)].get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.shard_of(key);
        self.shards[i].get_mut(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let i = self.shard_of(&key);
        self.shards[i].insert(key, value)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.shard_of(key);
        self.shards[i].remove(key)
    }

    pub(crate) fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let i = self.shard_of(&key);
        self.shards[i].entry(key)
    }

    /// Keep only the entries of shard `i` (of [`SHARDS`]) for which `keep` is true: a scan of
    /// the whole map done in steps.
    pub(crate) fn retain_shard(&mut self, i: usize, keep: impl FnMut(&K, &mut V) -> bool) {
        if let Some(shard) = self.shards.get_mut(i) {
            shard.retain(keep);
        }
    }

    pub(crate) fn clear(&mut self) {
        for shard in self.shards.iter_mut() {
            shard.clear();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }
}

impl<K: Hash + Eq, V> FromIterator<(K, V)> for ShardedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = ShardedMap::default();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the operations, the map holds what a plain `HashMap` would.
        #[test]
        fn behaves_as_a_hash_map(ops in prop::collection::vec((0u8..4, 0u16..500, any::<u32>()), 0..400)) {
            let mut sharded = ShardedMap::default();
            let mut plain = HashMap::new();
            for (op, k, v) in ops {
                match op {
                    0 => prop_assert_eq!(sharded.insert(k, v), plain.insert(k, v)),
                    1 => prop_assert_eq!(sharded.remove(&k), plain.remove(&k)),
                    2 => {
                        *sharded.entry(k).or_insert(0) ^= v;
                        *plain.entry(k).or_insert(0) ^= v;
                    }
                    _ => {
                        for i in 0..SHARDS {
                            sharded.retain_shard(i, |k, _| k % 7 != v as u16 % 7);
                        }
                        plain.retain(|k, _| k % 7 != v as u16 % 7);
                    }
                }
                prop_assert_eq!(sharded.len(), plain.len());
            }
            for k in 0u16..500 {
                prop_assert_eq!(sharded.get(&k), plain.get(&k));
            }
            sharded.clear();
            prop_assert_eq!(sharded.len(), 0);
        }
    }

    #[test]
    fn entries_spread_over_every_shard() {
        let map: ShardedMap<u32, ()> = (0..10_000).map(|k| (k, ())).collect();
        assert_eq!(map.len(), 10_000);
        // About 156 each; none empty, none with more than twice its share.
        for shard in map.shards.iter() {
            assert!(
                (1..=2 * 10_000 / SHARDS).contains(&shard.len()),
                "{}",
                shard.len()
            );
        }
    }
}
