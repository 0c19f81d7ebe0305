//! Rollback protection: the store's state anchored in the key service. The key service keeps a record of the
//! store (`atrest_keys::StateRecord`: manifest generation, highest durable commit batch, newest data key, the
//! data keys destroyed), which only ever moves forward. Opening compares the data directory with it and refuses
//! a directory that is older: a copy of the whole directory put back, an old keyring (a shredded key live
//! again), an old manifest, or a log that ends before a batch the record saw durable.
//!
//! The record is advanced after the state it describes is durable, never before, so a crash leaves it behind
//! the directory (a smaller window), never ahead (a false alarm): after every manifest write (checkpoints,
//! merges, collection changes, drops) by a background thread, by that thread at least every
//! [`StoreConfig::anchor_every`](crate::StoreConfig) while the store changes, and at close, synchronously.
//! Writes to the key service are serialized and each one covers the last, so the record is monotonic; only
//! [`RollbackCheck::Accept`] moves it back, to the directory as it was opened.
//!
//! The window: a rollback to a state no older than the last record is not detected, so writes acknowledged
//! since the last advance (at most `anchor_every` plus one key-service write, or all writes since the key
//! service stopped answering) can be rolled back unnoticed. docs/keys.md states what is and is not detected.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use atrest_keys::{KeyError, KeyState, StateRecord};

use crate::config::RollbackCheck;
use crate::error::{Result, StoreError};
use crate::store::Inner;

/// Whether the key service keeps this store's record, and what it holds.
#[derive(Debug)]
enum Protection {
    /// Not protected: why.
    Off(String),
    /// Protected; what the key service's record holds as this store last read or wrote it (`None` until the
    /// first record of a store is written, at the end of its open).
    On(Option<StateRecord>),
}

#[derive(Debug)]
struct Record {
    protection: Protection,
    /// The rollback accepted at open (what was older), under [`RollbackCheck::Accept`].
    accepted: Vec<String>,
    /// The last failure to advance the record, cleared by the next success.
    problem: Option<String>,
}

/// Requests to the background thread.
#[derive(Debug, Default)]
struct Signal {
    wanted: bool,
    stop: bool,
}

/// The store's side of rollback protection (a field of [`Inner`]).
#[derive(Debug)]
pub(crate) struct Anchor {
    /// Held across each key-service write, so writes happen one at a time and in order.
    record: Mutex<Record>,
    signal: Mutex<Signal>,
    wake: Condvar,
    /// The generation of the newest manifest known durable (the state's manifest is ahead of it while a
    /// manifest is being written).
    generation: AtomicU64,
}

impl Anchor {
    pub(crate) fn new() -> Anchor {
        Anchor {
            record: Mutex::new(Record { protection: Protection::On(None), accepted: Vec::new(), problem: None }),
            signal: Mutex::default(),
            wake: Condvar::new(),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signal(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that the manifest of `generation` is durable, and asks the background thread to advance the
    /// record to it now; does not wait.
    pub(crate) fn manifest_durable(&self, generation: u64) {
        self.generation.fetch_max(generation, Ordering::AcqRel);
        self.request();
    }

    /// Asks the background thread to advance the record now; does not wait.
    pub(crate) fn request(&self) {
        self.signal().wanted = true;
        self.wake.notify_all();
    }

    /// Stops the background thread (it finishes a write under way first).
    pub(crate) fn stop(&self) {
        self.signal().stop = true;
        self.wake.notify_all();
    }

    /// Whether the key service keeps this store's record (so the background thread has work).
    pub(crate) fn enabled(&self) -> bool {
        matches!(self.lock().protection, Protection::On(_))
    }

    /// What the key service's record holds (`None`: rollback protection is off), and why protection is off
    /// or the last failure to advance the record.
    pub(crate) fn status(&self) -> (Option<StateRecord>, Option<String>) {
        let r = self.lock();
        match &r.protection {
            Protection::Off(why) => (None, Some(why.clone())),
            Protection::On(held) => (held.clone(), r.problem.clone()),
        }
    }

    /// What was older than the record and accepted at open.
    pub(crate) fn accepted(&self) -> Vec<String> {
        self.lock().accepted.clone()
    }
}

impl Inner {
    /// Before replay: reads the key service's record and refuses a manifest or keyring older than it (or,
    /// under [`RollbackCheck::Accept`], notes what is older). `fresh`: a store just created, whose record is
    /// written, not read.
    pub(crate) fn check_record(&self, fresh: bool) -> Result<()> {
        let generation = self.read_state().manifest.generation;
        self.anchor.generation.store(generation, Ordering::Release);
        let mut r = self.anchor.lock();
        if self.cfg.rollback == RollbackCheck::Ignore {
            r.protection = Protection::Off("not checked for this open (a scratch copy of the store)".into());
            return Ok(());
        }
        if fresh {
            return Ok(());
        }
        let record = match self.keys.read_state_record(&self.format.store_id) {
            Ok(record) => record,
            Err(KeyError::RecordsUnsupported { provider }) => {
                r.protection = Protection::Off(format!("{provider} cannot keep state records"));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(held) = &record {
            let mut behind = Vec::new();
            if generation < held.generation {
                behind.push(format!(
                    "the manifest is at generation {generation}, the record at {}: {} manifest writes \
                     (checkpoints, merges, collection changes) older",
                    held.generation,
                    held.generation - generation
                ));
            }
            behind.extend(self.keyring_behind(held));
            self.refuse_or_accept(&mut r, behind, held)?;
        }
        r.protection = Protection::On(record);
        Ok(())
    }

    /// During replay, once the log's last complete batch is known (and before its tail is truncated): refuses
    /// a log that ends before a batch the record saw durable.
    pub(crate) fn check_durable(&self, last_batch: u64) -> Result<()> {
        let mut r = self.anchor.lock();
        let Protection::On(Some(held)) = &r.protection else { return Ok(()) };
        if last_batch >= held.durable_batch {
            return Ok(());
        }
        let held = held.clone();
        let missing = held.durable_batch - last_batch;
        let behind = vec![format!(
            "the log ends at commit batch {last_batch}, but the record saw batch {} durable: {missing} commit \
             batch{} of acknowledged writes missing (the log's end is an older copy, or damaged)",
            held.durable_batch,
            if missing == 1 { "" } else { "es" }
        )];
        self.refuse_or_accept(&mut r, behind, &held)
    }

    fn refuse_or_accept(&self, r: &mut Record, mut behind: Vec<String>, held: &StateRecord) -> Result<()> {
        if behind.is_empty() {
            return Ok(());
        }
        let age = self.cfg.clock.now_unix().saturating_sub(held.written);
        behind.push(format!("the record was last advanced {} ago", human_age(age)));
        if self.cfg.rollback == RollbackCheck::Refuse {
            return Err(StoreError::Rollback { dir: self.storage.describe("").trim_end_matches('/').into(), behind });
        }
        r.accepted.extend(behind);
        Ok(())
    }

    /// What of the keyring is older than `held`: data keys it lacks, shredded keys it holds live.
    fn keyring_behind(&self, held: &StateRecord) -> Vec<String> {
        let entries = self.keys.entries();
        let newest = entries.iter().map(|e| e.id).max().unwrap_or(0);
        let mut behind = Vec::new();
        if newest < held.keys_through {
            behind.push(format!(
                "the keyring's newest data key is {newest}, the record knows keys through {}: {} data keys missing",
                held.keys_through,
                held.keys_through - newest
            ));
        }
        let revived: Vec<String> = entries
            .iter()
            .filter(|e| e.state != KeyState::Destroyed && held.shredded.contains(&e.id))
            .map(|e| e.id.to_string())
            .collect();
        if !revived.is_empty() {
            behind.push(format!(
                "the keyring holds {} data keys live again that were destroyed (crypto-shredded): {}",
                revived.len(),
                revived.join(", ")
            ));
        }
        behind
    }

    /// After replay: moves the record back to the directory where a rollback was accepted (failing the open
    /// if the key service does not take it, so the acceptance is never only half done); otherwise writes the
    /// first record of a new store (or of one the key service had none for) or advances it to the opened
    /// state, where a failure is kept and retried in the background like any other.
    pub(crate) fn anchor_opened(&self) -> Result<()> {
        let durable = self.lock_writer().synced;
        if self.anchor.lock().accepted.is_empty() {
            let _ = self.advance_record(durable);
            return Ok(());
        }
        let mut r = self.anchor.lock();
        if let Protection::On(_) = r.protection {
            let current = self.current_record(durable);
            r.protection = Protection::On(None);
            self.write_record(&mut r, current)?;
        }
        Ok(())
    }

    /// Advances the record to the store's state with batches through `durable` synced (writes the first one
    /// where the key service has none yet): a no-op where nothing changed or protection is off.
    pub(crate) fn advance_record(&self, durable: u64) -> std::result::Result<(), KeyError> {
        let mut r = self.anchor.lock();
        let Protection::On(held) = &r.protection else { return Ok(()) };
        let current = self.current_record(durable);
        let next = match held {
            Some(h) => h.merge(&current),
            None => current,
        };
        let result = self.write_record(&mut r, next);
        r.problem = result.as_ref().err().map(ToString::to_string);
        result
    }

    /// Writes `next` unless the record already says all of it.
    fn write_record(&self, r: &mut Record, mut next: StateRecord) -> std::result::Result<(), KeyError> {
        if let Protection::On(Some(held)) = &r.protection {
            next.written = held.written;
            if *held == next {
                return Ok(());
            }
        }
        next.written = self.cfg.clock.now_unix();
        match self.keys.write_state_record(&next) {
            Ok(()) => r.protection = Protection::On(Some(next)),
            // A new store on a provider that keeps no records.
            Err(KeyError::RecordsUnsupported { provider }) => {
                r.protection = Protection::Off(format!("{provider} cannot keep state records"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The record that describes the store now, with batches through `durable` synced.
    fn current_record(&self, durable: u64) -> StateRecord {
        let generation = self.anchor.generation.load(Ordering::Acquire);
        let entries = self.keys.entries();
        StateRecord {
            store_id: self.format.store_id,
            generation,
            durable_batch: durable,
            keys_through: entries.iter().map(|e| e.id).max().unwrap_or(0),
            shredded: entries.iter().filter(|e| e.state == KeyState::Destroyed).map(|e| e.id).collect::<BTreeSet<_>>(),
            written: 0,
        }
    }

    /// The background thread: advances the record when asked (after a manifest write) and at least every
    /// `anchor_every` while anything changed; returns once stopped.
    pub(crate) fn anchor_loop(&self) {
        loop {
            {
                let mut s = self.anchor.signal();
                if !s.wanted && !s.stop {
                    s = self.anchor.wake.wait_timeout(s, self.cfg.anchor_every).unwrap_or_else(|p| p.into_inner()).0;
                }
                if s.stop {
                    return;
                }
                s.wanted = false;
            }
            let durable = self.lock_writer().synced;
            // A failure is kept for the stats and tried again at the next turn; the store goes on.
            let _ = self.advance_record(durable);
        }
    }

    /// At close, with writes stopped: the record describes the store as closed.
    pub(crate) fn anchor_close(&self) -> Result<()> {
        let durable = self.lock_writer().synced;
        self.advance_record(durable).map_err(StoreError::RecordNotAdvanced)
    }
}

/// `seconds` as a short human duration.
fn human_age(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7200 => format!("{} min", seconds / 60),
        7200..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    }
}
