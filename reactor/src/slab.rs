//! A generational slab: values stored by small integer index, with a
//! generation counter per slot so that an old key never reaches a new value.
//!
//! The loop keeps its connections here and uses the index as the `mio::Token`.
//! When connection 5 closes and a new connection later takes slot 5, a task
//! still holding the old key (index 5, generation 1) finds generation 2 and
//! does nothing, instead of writing someone else's message to the newcomer.
//!
//! Used by one thread (the owner of the slab).

/// Names a value in a [`Slab`]: its slot and the slot's generation at insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The slot index (what a `mio::Token` carries).
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// The slot's generation when this key was issued.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

enum Slot<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32 },
}

/// Values addressed by [`Key`], with O(1) insert, lookup and removal.
pub struct Slab<T> {
    /// Every slot ever used; vacant ones are listed in `free`.
    slots: Vec<Slot<T>>,
    /// Vacant slot indices, reused last-in first-out (warm in cache).
    free: Vec<u32>,
    /// Occupied slots.
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub const fn new() -> Slab<T> {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0 }
    }

    /// Number of values stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` and returns its key.
    pub fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            let generation = match slot {
                Slot::Vacant { generation } => generation.wrapping_add(1),
                Slot::Occupied { .. } => unreachable!("free list names an occupied slot"),
            };
            *slot = Slot::Occupied { generation, value };
            return Key { index, generation };
        }
        let index = u32::try_from(self.slots.len()).expect("more than u32::MAX slab entries");
        self.slots.push(Slot::Occupied { generation: 0, value });
        Key { index, generation: 0 }
    }

    /// The value for `key`, if it is still the one stored there.
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Occupied { generation, value }) if *generation == key.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    /// The value for `key`, mutable, if it is still the one stored there.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(Slot::Occupied { generation, value }) if *generation == key.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    /// The key of whatever occupies slot `index` now (for readiness events,
    /// which carry only the index).
    pub fn key_at(&self, index: usize) -> Option<Key> {
        match self.slots.get(index) {
            Some(Slot::Occupied { generation, .. }) => {
                Some(Key { index: index as u32, generation: *generation })
            }
            _ => None,
        }
    }

    /// Removes and returns the value for `key`, if it is still stored.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { generation, .. } if *generation == key.generation => {
                let generation = *generation;
                let old = std::mem::replace(slot, Slot::Vacant { generation });
                self.free.push(key.index);
                self.len -= 1;
                match old {
                    Slot::Occupied { value, .. } => Some(value),
                    Slot::Vacant { .. } => unreachable!(),
                }
            }
            _ => None,
        }
    }

    /// Keys of every stored value, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| match slot {
            Slot::Occupied { generation, .. } => {
                Some(Key { index: index as u32, generation: *generation })
            }
            Slot::Vacant { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn a_stale_key_does_not_reach_the_new_occupant() {
        let mut slab = Slab::new();
        let old = slab.insert(1);
        slab.remove(old);
        let new = slab.insert(2);
        assert_eq!(old.index(), new.index(), "the slot is reused");
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.remove(old), None);
        assert_eq!(slab.get(new), Some(&2));
        assert_eq!(slab.key_at(new.index()), Some(new));
    }

    #[test]
    fn keys_lists_only_occupied_slots() {
        let mut slab = Slab::new();
        let keys: Vec<Key> = (0..4).map(|i| slab.insert(i)).collect();
        slab.remove(keys[1]);
        let listed: Vec<Key> = slab.keys().collect();
        assert_eq!(listed, vec![keys[0], keys[2], keys[3]]);
    }
}
