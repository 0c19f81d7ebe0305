//! CPU clocks and a small rate-measuring loop.
//!
//! Process CPU time (all threads) is what ingest costs in cores; thread CPU time isolates one stage measured
//! on the calling thread, so a busy machine's other processes do not inflate it the way wall time would.

use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};

fn to_duration(ts: rustix::time::Timespec) -> Duration {
    Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), u32::try_from(ts.tv_nsec).unwrap_or(0))
}

/// CPU time used so far by every thread of this process.
pub fn process_cpu() -> Duration {
    to_duration(clock_gettime(ClockId::ProcessCPUTime))
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu() -> Duration {
    to_duration(clock_gettime(ClockId::ThreadCPUTime))
}

/// User and system CPU time of the whole process so far, from `/proc/self/stat` (10 ms resolution), or
/// `None` where that file is missing or unreadable.
pub fn user_system() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let ticks_per_s = 100.0; // USER_HZ, fixed at 100 on Linux
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((Duration::from_secs_f64(utime / ticks_per_s), Duration::from_secs_f64(stime / ticks_per_s)))
}

/// Which clock a rate is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Wall time: for work spread over threads.
    Wall,
    /// CPU time of the calling thread: for single-thread work on a machine other processes also use.
    Thread,
}

/// Calls `f` (which processes `bytes` per call) repeatedly until `budget` of `clock` time has passed (or ten
/// times that of wall time), after a short warm-up, and returns GB/s (10^9 bytes per second of `clock`).
pub fn rate_gb_s(bytes: usize, budget: Duration, clock: Clock, mut f: impl FnMut()) -> f64 {
    // Enough calls between clock reads (about 256 KiB) that reading the thread clock, a system call, stays
    // a small fraction of what is timed.
    let step = ((256 << 10) / bytes.max(1)).max(1) as u64;
    let mut run = |n: u64| (0..n).for_each(|_| f());
    run(step);
    let now = || match clock {
        Clock::Wall => Duration::ZERO,
        Clock::Thread => thread_cpu(),
    };
    let wall = Instant::now();
    let cpu = now();
    let mut calls = 0u64;
    let elapsed = loop {
        run(step);
        calls += step;
        let spent = match clock {
            Clock::Wall => wall.elapsed(),
            Clock::Thread => now() - cpu,
        };
        if spent >= budget || wall.elapsed() >= budget * 10 {
            break spent;
        }
    };
    calls as f64 * bytes as f64 / elapsed.as_secs_f64().max(1e-9) / 1e9
}

/// Bytes per second as MB/s (10^6 bytes), 0 for an empty interval.
pub fn mb_s(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { bytes as f64 / secs / 1e6 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_advance_with_work() {
        let (p0, t0) = (process_cpu(), thread_cpu());
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(thread_cpu() > t0, "thread clock did not advance");
        assert!(process_cpu() > p0, "process clock did not advance");
        for clock in [Clock::Wall, Clock::Thread] {
            assert!(
                rate_gb_s(1000, Duration::from_millis(5), clock, || {
                    std::hint::black_box(&mut x);
                }) > 0.0
            );
        }
        let (user, _) = user_system().expect("/proc/self/stat");
        assert!(user > Duration::ZERO);
        assert_eq!(mb_s(5_000_000, Duration::from_secs(5)), 1.0);
        assert_eq!(mb_s(1, Duration::ZERO), 0.0);
    }
}
