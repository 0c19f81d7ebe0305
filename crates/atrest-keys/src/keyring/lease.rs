//! The lease on unwrapped data keys: how long the keyring serves a key from memory without the key service,
//! and what it does when the service stops answering.
//!
//! ```text
//!  fetched            lease / 2                       lease
//!  |---- served ------|---- served; refreshed in the ---|---- dropped: fetched on use; if the service
//!                          background (not blocking                  does not answer, the operation fails
//!                          the caller); a service that                with KeyServiceUnavailable, and the
//!                          refuses the key (revoked)                  service is asked again at most once
//!                          drops it at once                           per retry interval
//! ```
//!
//! Only one provider call for the cache runs at a time: a refresh on its own thread, or a caller that needs a
//! key whose lease ran out (other callers needing a key wait for it rather than call too, for at most the
//! retry interval: a service that hangs fails them closed rather than stalling them). After a failed
//! call the service is left alone for [`KeyringOptions::retry_after_failure`](super::KeyringOptions), so a
//! service that is down costs each operation nothing but the error, and one that is back is used again
//! within seconds, without a restart.

use std::sync::{Arc, MutexGuard, PoisonError};

use super::{Core, State};
use crate::error::{KeyError, Result};
use crate::keyring::KeyState;
use crate::secret::DataKey;

/// A failed provider call, and when the service may be asked again (Unix seconds).
pub(super) struct Backoff {
    until: u64,
    error: KeyError,
}

impl KeyError {
    /// Whether this answer from a key service proves the key may no longer be used (a revoked, missing or
    /// replaced master key, a tampered entry), rather than that the service is not answering properly.
    fn withdraws_key(&self) -> bool {
        matches!(
            self,
            KeyError::MasterKeyNotActive { .. }
                | KeyError::MasterKeyNotFound { .. }
                | KeyError::WrongMasterKey { .. }
                | KeyError::KeyringTampered { .. }
                | KeyError::UnwrapFailed { .. }
                | KeyError::KeyDestroyed { .. }
        )
    }
}

impl Core {
    fn retry_secs(&self) -> u64 {
        self.options.retry_after_failure().as_secs().max(1)
    }

    /// The typed error of a key that is not held because the service failed with `cause`.
    fn unavailable(&self, key_id: u32, cause: &KeyError) -> KeyError {
        let reason = match cause {
            KeyError::ProviderUnreachable { reason, .. } => reason.clone(),
            KeyError::KeyServiceUnavailable { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        KeyError::KeyServiceUnavailable {
            provider: self.provider.describe(),
            key_id,
            lease_secs: self.options.lease.as_secs(),
            reason,
        }
    }

    /// What a failed fetch of key `key_id` reports: refusals as they are, anything else (the service not
    /// answering, or answering with an error) as [`KeyError::KeyServiceUnavailable`], after which the
    /// service is left alone for the retry interval.
    fn fetch_failed(&self, state: &mut State, key_id: u32, e: KeyError, now: u64) -> KeyError {
        if e.withdraws_key() || matches!(e, KeyError::WrongPin { .. }) {
            return e;
        }
        let err = self.unavailable(key_id, &e);
        state.backoff = Some(Backoff { until: now.saturating_add(self.retry_secs()), error: e });
        err
    }

    /// Locks the state with data key `id` in the cache and within its lease: from the cache, or fetched from
    /// the provider (without holding the lock meanwhile). Starts a background refresh of keys past half
    /// their lease.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`], [`KeyError::KeyDestroyed`], [`KeyError::KeyServiceUnavailable`], and the
    /// provider's refusals.
    pub(super) fn hold(self: &Arc<Self>, id: u32) -> Result<MutexGuard<'_, State>> {
        let lease = self.options.lease.as_secs();
        let mut state = self.lock();
        loop {
            let entry =
                state.data.entries.iter().find(|e| e.info.id == id).ok_or(KeyError::UnknownKey { key_id: id })?;
            if entry.info.state == KeyState::Destroyed {
                return Err(KeyError::KeyDestroyed { key_id: id });
            }
            let entry = entry.clone();
            let now = self.clock.now_unix();
            if let Some(age) = state.cache.age(id, now) {
                if age.saturating_mul(2) >= lease && !state.fetching && !backing_off(&state, now) {
                    self.start_refresh(&mut state);
                }
                return Ok(state);
            }
            if state.fetching {
                // Wait for the call under way, but not for a service that hangs: fail closed meanwhile.
                let wait = self.options.retry_after_failure();
                let (s, waited) = self.fetched.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner);
                state = s;
                if waited.timed_out() && state.fetching {
                    let hung = KeyError::ProviderUnreachable {
                        provider: self.provider.describe(),
                        reason: format!("a request to it has not been answered for {} s", wait.as_secs()),
                    };
                    return Err(self.unavailable(id, &hung));
                }
                continue;
            }
            if let Some(b) = state.backoff.as_ref().filter(|b| now < b.until) {
                return Err(self.unavailable(id, &b.error));
            }
            state.fetching = true;
            let data = state.data.clone();
            drop(state);
            let result = self.unwrap_entry(&data, &entry);
            state = self.lock();
            state.fetching = false;
            self.fetched.notify_all();
            match result {
                Ok(key) => {
                    state.backoff = None;
                    if is_live(&state, id) {
                        state.cache.insert(id, key, now);
                    }
                }
                Err(e) => return Err(self.fetch_failed(&mut state, id, e, now)),
            }
        }
    }

    /// Key `id` for an administrative change (rotation), with the lock held throughout: from the cache while
    /// its lease holds, else from the provider.
    pub(super) fn key_locked(&self, state: &mut State, id: u32) -> Result<DataKey> {
        let now = self.clock.now_unix();
        if state.cache.age(id, now).is_some() {
            return state.cache.key(id).ok_or(KeyError::UnknownKey { key_id: id });
        }
        let entry = state.data.entries.iter().find(|e| e.info.id == id).ok_or(KeyError::UnknownKey { key_id: id })?;
        let key = self.unwrap_entry(&state.data, entry)?;
        state.cache.insert(id, key.clone(), now);
        Ok(key)
    }

    fn start_refresh(self: &Arc<Self>, state: &mut State) {
        state.fetching = true;
        let core = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("atrest-key-lease".into()).spawn(move || {
            // A failure is kept as the backoff, and reported by whoever needs the key once its lease ends.
            let _ = core.refresh();
        });
        if spawned.is_err() {
            // No thread to spare: the key is fetched on use once its lease runs out.
            state.fetching = false;
        }
    }

    /// Unwraps every cached key past half its lease again. Called with `fetching` set (by the background
    /// refresh, or [`super::Keyring::refresh_leases`]); clears it and wakes waiters.
    pub(super) fn refresh(&self) -> Result<usize> {
        let (data, due) = {
            let s = self.lock();
            (s.data.clone(), s.cache.due(self.clock.now_unix()))
        };
        let mut results = Vec::with_capacity(due.len());
        for id in due {
            let Some(entry) = data.entries.iter().find(|e| e.info.id == id) else { continue };
            let result = self.unwrap_entry(&data, entry);
            let stop = result.as_ref().is_err_and(|e| !e.withdraws_key());
            results.push((id, result));
            if stop {
                break;
            }
        }
        let mut state = self.lock();
        let now = self.clock.now_unix();
        let mut refreshed = 0;
        let mut first_error = None;
        for (id, result) in results {
            match result {
                Ok(key) => {
                    state.backoff = None;
                    if is_live(&state, id) {
                        state.cache.insert(id, key, now);
                        refreshed += 1;
                    }
                }
                Err(e) => {
                    if e.withdraws_key() {
                        // The service answered and refuses the key: stop serving it now, not at the lease's end.
                        state.cache.remove(id);
                    } else {
                        state.backoff =
                            Some(Backoff { until: now.saturating_add(self.retry_secs()), error: e.clone() });
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        state.fetching = false;
        self.fetched.notify_all();
        match first_error {
            Some(e) => Err(e),
            None => Ok(refreshed),
        }
    }
}

fn backing_off(state: &State, now: u64) -> bool {
    state.backoff.as_ref().is_some_and(|b| now < b.until)
}

fn is_live(state: &State, id: u32) -> bool {
    state.data.entries.iter().any(|e| e.info.id == id && e.info.state != KeyState::Destroyed)
}
