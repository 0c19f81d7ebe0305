//! Retries for key services reached over a network: transient failures ([`KeyError::is_transient`]) are tried
//! again with exponential backoff; everything else (a wrong PIN, a missing or wrong key) fails at once, since
//! retrying cannot fix it. Sleeping goes through [`Sleeper`] so tests run without waiting.

use std::time::Duration;

use super::{KeyProvider, ProviderHealth};
use crate::error::{KeyError, Result};
use crate::secret::{DataKey, MasterKeyId};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub initial_backoff: Duration,
    /// Upper bound for one wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 3, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(2) }
    }
}

/// Waits between attempts.
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Blocks for `duration`.
    fn sleep(&self, duration: Duration);
}

/// Sleeps the calling thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A provider whose transient failures are retried.
#[derive(Debug)]
pub struct Retrying<P, S = ThreadSleeper> {
    inner: P,
    policy: RetryPolicy,
    sleeper: S,
}

impl<P: KeyProvider, S: Sleeper> Retrying<P, S> {
    /// Wraps `inner`.
    pub fn new(inner: P, policy: RetryPolicy, sleeper: S) -> Self {
        Retrying { inner, policy, sleeper }
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    fn run<T>(&self, mut op: impl FnMut(&P) -> Result<T>) -> Result<T> {
        let mut backoff = self.policy.initial_backoff;
        let mut attempt = 1;
        loop {
            match op(&self.inner) {
                Err(e) if e.is_transient() && attempt < self.policy.attempts => {
                    self.sleeper.sleep(backoff);
                    backoff = (backoff * 2).min(self.policy.max_backoff);
                    attempt += 1;
                }
                Err(KeyError::ProviderUnreachable { provider, reason }) if attempt > 1 => {
                    return Err(KeyError::ProviderUnreachable {
                        provider,
                        reason: format!("{reason} (after {attempt} attempts)"),
                    });
                }
                other => return other,
            }
        }
    }
}

impl<P: KeyProvider, S: Sleeper> KeyProvider for Retrying<P, S> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn master_key_ids(&self) -> Result<Vec<MasterKeyId>> {
        self.run(|p| p.master_key_ids())
    }

    fn create_master_key(&self, id: &MasterKeyId) -> Result<()> {
        self.run(|p| p.create_master_key(id))
    }

    fn wrap(&self, master: &MasterKeyId, key: &DataKey, aad: &[u8]) -> Result<Vec<u8>> {
        self.run(|p| p.wrap(master, key, aad))
    }

    fn unwrap(&self, master: &MasterKeyId, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
        self.run(|p| p.unwrap(master, wrapped, aad))
    }

    fn retire_master_key(&self, id: &MasterKeyId) -> Result<()> {
        self.run(|p| p.retire_master_key(id))
    }

    fn read_records(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        self.run(|p| p.read_records(name))
    }

    fn write_record(&self, name: &str, master: &MasterKeyId, bytes: &[u8]) -> Result<()> {
        self.run(|p| p.write_record(name, master, bytes))
    }

    fn health(&self) -> Result<ProviderHealth> {
        self.run(|p| p.health())
    }
}
