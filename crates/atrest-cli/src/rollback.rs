//! `atrest accept-rollback`: a data directory older than the key service's record of the store (rollback
//! protection, docs/keys.md) is refused at open; this command says what is older, and with `--yes` accepts it
//! as the store now, moving the record back to it.

use std::path::Path;
use std::sync::Arc;

use atrest_store::{FsStorage, RollbackCheck, Store, StoreConfig, StoreError};

use crate::keys::{KeyArgs, open_keys};
use crate::output::outln;

/// Without `yes`, only says what would be accepted (and changes nothing); with it, accepts.
pub fn accept_rollback(data: &Path, args: &KeyArgs, tune: impl Fn(&mut StoreConfig), yes: bool) -> Result<(), String> {
    let config = |rollback| -> Result<StoreConfig, String> {
        let mut c = StoreConfig::new(Arc::new(FsStorage::new(data)), open_keys(data, args)?);
        tune(&mut c);
        c.rollback = rollback;
        Ok(c)
    };
    match Store::open(config(RollbackCheck::Refuse)?) {
        Ok(store) => {
            store.close().map_err(|e| e.to_string())?;
            outln!("nothing to accept: {} is not older than the key service's record of the store", data.display());
            return Ok(());
        }
        Err(StoreError::Rollback { behind, .. }) => {
            outln!(
                "{} is older than the key service's record of the store; accepting it makes this copy the store, \
                 and a later copy is then refused instead:",
                data.display()
            );
            for b in &behind {
                outln!("  {b}");
            }
            if !yes {
                outln!("nothing changed; run `atrest accept-rollback --yes` to accept this");
                return Ok(());
            }
        }
        Err(e) => return Err(crate::serve::store_error(e)),
    }
    let store = Store::open(config(RollbackCheck::Accept)?).map_err(crate::serve::store_error)?;
    let stats = store.stats().map_err(|e| e.to_string())?;
    store.close().map_err(|e| e.to_string())?;
    match stats.anchored {
        Some(r) => outln!(
            "accepted: the record now says generation {}, commit batch {}, data keys through {}, {} destroyed",
            r.generation,
            r.durable_batch,
            r.keys_through,
            r.shredded.len()
        ),
        None => outln!("accepted"),
    }
    Ok(())
}
