//! Periodic backups: back up every interval, then prune to the newest `keep`, until stopped.
//!
//! A failed run (target unreachable, key service down) is reported to the caller's callback and the schedule
//! goes on: the next run is a full incremental backup again, so nothing is lost by a skipped one.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use atrest_keys::KeyProvider;
use atrest_store::Store;

use crate::error::{BackupError, Result};
use crate::retention::{PrunePlan, prune};
use crate::store::backup;
use crate::target::Target;
use crate::upload::BackupReport;

/// When to back up and how many backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Time between the start of one run and the next.
    pub every: Duration,
    /// Backups to keep after each run (`None`: keep all).
    pub keep: Option<usize>,
    /// Stop after this many runs (`None`: until stopped).
    pub runs: Option<u64>,
}

/// What one scheduled run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The backup made.
    pub backup: BackupReport,
    /// What retention removed, if it ran.
    pub pruned: Option<PrunePlan>,
}

/// Stops a running schedule from another thread; the schedule wakes at once.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    /// A signal not yet raised.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Asks the schedule to stop after the run in progress.
    pub fn stop(&self) {
        let (lock, cv) = &*self.0;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }

    /// Whether it was raised.
    pub fn is_stopped(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `d`; returns true if the signal was raised.
    fn wait(&self, d: Duration) -> bool {
        let (lock, cv) = &*self.0;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv.wait_timeout_while(guard, d, |stopped| !*stopped).unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

/// Runs `schedule` on `store` to `target` until `stop` is raised or the runs are done; `on_run` sees each run's
/// result. Returns how many runs succeeded. `provider` (the store's master key provider) lets retention open
/// manifests sealed under store keys that a rekey has since destroyed; without it such a kept backup stops
/// the pruning.
///
/// # Errors
/// [`BackupError::Config`] for a zero interval or `keep == Some(0)`.
pub fn run_schedule(
    store: &Store,
    target: &Target,
    provider: Option<&Arc<dyn KeyProvider>>,
    schedule: &Schedule,
    stop: &StopSignal,
    on_run: &mut dyn FnMut(&Result<RunReport>),
) -> Result<u64> {
    if schedule.every.is_zero() {
        return Err(BackupError::Config("the backup interval must be positive".into()));
    }
    if schedule.keep == Some(0) {
        return Err(BackupError::Config("retention must keep at least one backup".into()));
    }
    let mut done = 0u64;
    let mut ok = 0u64;
    loop {
        if stop.is_stopped() {
            break;
        }
        let started = std::time::Instant::now();
        let result = backup(store, target).and_then(|b| {
            let pruned =
                schedule.keep.map(|k| prune(target, store.format().store_id, store.keys(), provider, k)).transpose()?;
            Ok(RunReport { backup: b, pruned })
        });
        ok += u64::from(result.is_ok());
        on_run(&result);
        done += 1;
        if schedule.runs.is_some_and(|r| done >= r) {
            break;
        }
        if stop.wait(schedule.every.saturating_sub(started.elapsed())) {
            break;
        }
    }
    Ok(ok)
}

/// Parses an interval such as `90s`, `15m`, `1h`, `2d` or `500ms`.
///
/// # Errors
/// [`BackupError::Config`] naming the text.
pub fn parse_interval(text: &str) -> Result<Duration> {
    atrest_keys::parse_duration(text)
        .ok_or_else(|| BackupError::Config(format!("interval {text:?}: expected a number and a unit (ms, s, m, h, d)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_interval("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_interval("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_interval("2d").unwrap(), Duration::from_secs(172_800));
        for bad in ["", "h", "1", "1x", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stop_signal_wakes_a_waiter() {
        let s = StopSignal::new();
        let t = {
            let s = s.clone();
            std::thread::spawn(move || s.wait(Duration::from_secs(60)))
        };
        s.stop();
        assert!(t.join().unwrap());
        assert!(s.is_stopped());
    }
}
