//! Failed-authentication rate limiting, per client address: a token bucket of failures. Each wrong token
//! takes one; while the bucket is empty every request from that address is refused with 429 before any token
//! is looked at. Tokens hold 256 random bits, so this is not what keeps them from being guessed; it keeps a
//! misbehaving client from filling the log and the CPU.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many addresses are tracked; past it, addresses whose buckets have refilled are forgotten.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures still allowed, as of `at`.
    left: f64,
    at: Instant,
}

/// Per-address failure buckets.
#[derive(Debug)]
pub(crate) struct FailureLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailureLimiter {
    /// `burst` failures at once, refilling at `per_second`.
    pub(crate) fn new(burst: u32, per_second: f64) -> FailureLimiter {
        FailureLimiter { burst: f64::from(burst), per_second, buckets: Mutex::new(HashMap::new()) }
    }

    fn refill(&self, b: Bucket, now: Instant) -> f64 {
        (b.left + now.saturating_duration_since(b.at).as_secs_f64() * self.per_second).min(self.burst)
    }

    /// `Err(wait)` while `ip` has no failures left.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match buckets.get(&ip) {
            Some(&b) => {
                let left = self.refill(b, now);
                if left >= 1.0 { Ok(()) } else { Err(Duration::from_secs_f64((1.0 - left) / self.per_second)) }
            }
            None => Ok(()),
        }
    }

    /// Records a failure of `ip`.
    pub(crate) fn failed(&self, ip: IpAddr, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&ip) {
            let burst = self.burst;
            buckets.retain(|_, b| self.refill(*b, now) < burst);
        }
        let b = buckets.entry(ip).or_insert(Bucket { left: self.burst, at: now });
        let left = self.refill(*b, now);
        *b = Bucket { left: (left - 1.0).max(0.0), at: now };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_blocks_the_address_until_it_refills() {
        let limiter = FailureLimiter::new(3, 2.0);
        let (ip, other): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip, t0).is_ok());
            limiter.failed(ip, t0);
        }
        let wait = limiter.check(ip, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter.check(other, t0).is_ok(), "another address is not affected");
        assert!(limiter.check(ip, t0 + Duration::from_millis(400)).is_err());
        assert!(limiter.check(ip, t0 + Duration::from_millis(500)).is_ok());
    }
}
