//! Unwrapped data keys held in memory for a bounded lease. Dropping an entry drops (and so zeroizes) its key.

use std::collections::HashMap;

use crate::secret::DataKey;

#[derive(Default)]
pub(crate) struct KeyCache {
    keys: HashMap<u32, (DataKey, u64)>,
}

impl KeyCache {
    /// Stores `key`, fetched at `now` (Unix seconds).
    pub(crate) fn insert(&mut self, id: u32, key: DataKey, now: u64) {
        self.keys.insert(id, (key, now));
    }

    /// The key and its age in seconds, unless its lease of `lease` seconds ran out (then it is dropped).
    pub(crate) fn get(&mut self, id: u32, now: u64, lease: u64) -> Option<(DataKey, u64)> {
        let (key, fetched) = self.keys.get(&id)?;
        // A clock that went backwards counts as an expired lease, never as a longer one.
        let age = now.checked_sub(*fetched);
        match age {
            Some(age) if age < lease => Some((key.clone(), age)),
            _ => {
                self.keys.remove(&id);
                None
            }
        }
    }

    /// Forgets `id`.
    pub(crate) fn remove(&mut self, id: u32) {
        self.keys.remove(&id);
    }
}
