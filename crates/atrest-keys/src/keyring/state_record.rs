//! The keyring's access to the key service's state records (see [`crate::StateRecord`]): the store reads its
//! record when it opens and writes it as it moves on. Writes are serialized with master-key rotation, which
//! moves a record authenticated under the old master key (beside a local key file) to the new one before the
//! old one is retired.

use std::sync::PoisonError;

use super::{Core, Keyring};
use crate::error::Result;
use crate::record::{StateRecord, record_name};
use crate::secret::MasterKeyId;

impl Keyring {
    /// The key service's state record of store `store_id`: `None` if it holds none. Where an interrupted update
    /// left two copies, what they vouch for together.
    ///
    /// # Errors
    /// [`crate::KeyError::RecordsUnsupported`] where the provider cannot keep records;
    /// [`crate::KeyError::StateRecordCorrupt`] for a copy that does not authenticate or decode, or that names
    /// another store; the service's errors.
    pub fn read_state_record(&self, store_id: &[u8; 16]) -> Result<Option<StateRecord>> {
        let core = &self.core;
        let mut held = core.record.lock().unwrap_or_else(PoisonError::into_inner);
        let origin = format!("of store {} in {}", record_name(store_id), core.provider.describe());
        let mut merged: Option<StateRecord> = None;
        for copy in core.provider.read_records(&record_name(store_id))? {
            let record = StateRecord::decode(&copy, &origin)?;
            if &record.store_id != store_id {
                return Err(crate::KeyError::StateRecordCorrupt {
                    origin,
                    reason: format!("it is the record of store {}", record_name(&record.store_id)),
                });
            }
            merged = Some(match merged {
                Some(m) => m.merge(&record),
                None => record,
            });
        }
        if merged.is_some() {
            held.clone_from(&merged);
        }
        Ok(merged)
    }

    /// Replaces the key service's state record of `record.store_id` with `record` (monotonicity is the
    /// caller's: the store only moves it back when told to accept a rollback).
    ///
    /// # Errors
    /// [`crate::KeyError::RecordsUnsupported`] where the provider cannot keep records; the service's errors.
    pub fn write_state_record(&self, record: &StateRecord) -> Result<()> {
        let core = &self.core;
        let mut held = core.record.lock().unwrap_or_else(PoisonError::into_inner);
        let master = core.lock().data.master_key.clone();
        core.write_record_locked(record, &master)?;
        *held = Some(record.clone());
        Ok(())
    }
}

impl Core {
    /// Writes `record` under `master`; the caller holds `self.record`.
    pub(super) fn write_record_locked(&self, record: &StateRecord, master: &MasterKeyId) -> Result<()> {
        self.provider.write_record(&record_name(&record.store_id), master, &record.encode())
    }
}
