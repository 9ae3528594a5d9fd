//! Token buckets: one global, and a bounded map of one bucket per IP.

use std::collections::HashMap;
use std::hash::{BuildHasher, DefaultHasher, Hasher};
use std::net::IpAddr;
use std::time::Instant;

use crate::config::Rate;

/// Slack for floating-point refill error: a bucket this close to a whole token has one.
const EPSILON: f64 = 1e-9;

/// A token bucket on injected time.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> Self {
        Self {
            rate,
            tokens: rate.burst,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate.per_second).min(self.rate.burst);
        self.updated = now;
    }

    /// Whether a token is available now (without taking it).
    pub fn ready(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0 - EPSILON
    }

    /// Takes one token if available.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 - EPSILON {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }

    /// When the next token will be available.
    pub fn next_ready(&self) -> Instant {
        if self.tokens >= 1.0 - EPSILON || self.rate.per_second <= 0.0 {
            return self.updated;
        }
        // Round up to the next microsecond, so that at the promised instant the token is
        // really there (truncating to nanoseconds could leave 0.999999... and a driver that
        // sleeps until `next_ready` would wake to nothing, again and again).
        let wait_us = ((1.0 - self.tokens) / self.rate.per_second * 1e6).ceil();
        self.updated + std::time::Duration::from_micros(wait_us as u64)
    }

    /// Whether the bucket is full again (its entry carries no information and can be freed).
    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.rate.burst
    }
}

/// A `BuildHasher` keyed by the engine seed, so map layouts are reproducible per seed but not
/// predictable by a remote party that does not know it.
#[derive(Debug, Clone, Copy)]
pub struct SeededHasher(pub u64);

impl BuildHasher for SeededHasher {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        let mut h = DefaultHasher::new();
        h.write_u64(self.0);
        h
    }
}

/// One token bucket per IP, with a hard cap on tracked IPs.
///
/// When the map is full, idle (refilled) entries are swept; if none can be freed the new IP is
/// refused, so a flood from many spoofed sources cannot grow memory.
#[derive(Debug)]
pub struct IpRateLimiter {
    rate: Rate,
    cap: usize,
    buckets: HashMap<IpAddr, TokenBucket, SeededHasher>,
}

impl IpRateLimiter {
    /// A limiter of `rate` per IP tracking at most `cap` IPs.
    pub fn new(rate: Rate, cap: usize, seed: u64) -> Self {
        Self {
            rate,
            cap,
            buckets: HashMap::with_hasher(SeededHasher(seed)),
        }
    }

    fn entry(&mut self, ip: IpAddr, now: Instant) -> Option<&mut TokenBucket> {
        if !self.buckets.contains_key(&ip) {
            if self.buckets.len() >= self.cap {
                self.sweep(now);
                if self.buckets.len() >= self.cap {
                    return None;
                }
            }
            self.buckets.insert(ip, TokenBucket::new(self.rate, now));
        }
        self.buckets.get_mut(&ip)
    }

    /// Whether `ip` has a token now.
    pub fn ready(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.buckets.get_mut(&ip) {
            Some(b) => b.ready(now),
            None => self.buckets.len() < self.cap || self.rate.burst >= 1.0,
        }
    }

    /// Takes a token for `ip` if it has one (and the map has room for it).
    pub fn try_take(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.entry(ip, now).is_some_and(|b| b.try_take(now))
    }

    /// When `ip` will next have a token.
    pub fn next_ready(&self, ip: IpAddr) -> Option<Instant> {
        self.buckets.get(&ip).map(TokenBucket::next_ready)
    }

    /// Frees entries that are full again.
    pub fn sweep(&mut self, now: Instant) {
        self.buckets.retain(|_, b| !b.is_full(now));
    }

    /// How many IPs are tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no IP is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            Rate {
                per_second: 1.0,
                burst: 4.0,
            },
            t0,
        );
        for _ in 0..4 {
            assert!(b.try_take(t0));
        }
        assert!(!b.try_take(t0));
        assert_eq!(b.next_ready(), t0 + Duration::from_secs(1));
        assert!(!b.try_take(t0 + Duration::from_millis(999)));
        assert!(b.try_take(t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn per_ip_map_is_bounded() {
        let t0 = Instant::now();
        let mut l = IpRateLimiter::new(
            Rate {
                per_second: 1.0,
                burst: 2.0,
            },
            3,
            7,
        );
        for i in 0..3u8 {
            assert!(l.try_take(IpAddr::from([10, 0, 0, i]), t0));
        }
        // Full, and nobody is idle yet: a fourth IP is refused.
        assert!(!l.try_take(IpAddr::from([10, 0, 0, 9]), t0));
        assert_eq!(l.len(), 3);
        // Once the others refill, they are swept and the newcomer fits.
        assert!(l.try_take(IpAddr::from([10, 0, 0, 9]), t0 + Duration::from_secs(5)));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn fifty_in_ten_seconds_is_never_reached() {
        // The default per-IP budget against libtorrent's DoS rule.
        let t0 = Instant::now();
        let mut l = IpRateLimiter::new(
            Rate {
                per_second: 1.0,
                burst: 4.0,
            },
            16,
            1,
        );
        let ip = IpAddr::from([127, 0, 0, 9]);
        let mut sent = 0;
        for ms in (0..10_000).step_by(10) {
            if l.try_take(ip, t0 + Duration::from_millis(ms)) {
                sent += 1;
            }
        }
        assert!(sent <= 14, "{sent}");
    }
}
