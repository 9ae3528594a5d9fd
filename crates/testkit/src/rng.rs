//! One seeded RNG for tests and benches.
//!
//! Every test that draws random data takes it from [`seeded`] (ChaCha8: fast, portable, the
//! same stream on every platform and Rust release), instead of a hand-written PRNG per file.
//! A test picks a default seed; `BITAGENT_TEST_SEED=N` replays it with another one, and a
//! [`SeedGuard`] held for the test's duration prints the seed if the test panics.

use rand::SeedableRng as _;
pub use rand::{Rng, RngCore};

/// The RNG tests and benches use.
pub type TestRng = rand_chacha::ChaCha8Rng;

/// A ChaCha8 RNG seeded with `seed`: the same stream on every run and platform.
pub fn seeded(seed: u64) -> TestRng {
    TestRng::seed_from_u64(seed)
}

/// The seed to use: `BITAGENT_TEST_SEED` when it is set (decimal or `0x` hex), else `default`.
///
/// # Panics
/// When `BITAGENT_TEST_SEED` is set but is not a number (a typo must not silently run the
/// default seed).
pub fn seed_or(default: u64) -> u64 {
    match std::env::var("BITAGENT_TEST_SEED") {
        Ok(s) => parse_seed(&s)
            .unwrap_or_else(|| panic!("BITAGENT_TEST_SEED={s:?} is not a decimal or 0x-hex u64")),
        Err(_) => default,
    }
}

fn parse_seed(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Prints `what` and the seed to stderr when dropped during a panic, so a failing seeded test
/// says how to replay it. Hold it for the test's duration:
///
/// ```
/// let seed = testkit::rng::seed_or(7);
/// let _guard = testkit::SeedGuard::new("my test", seed);
/// let mut rng = testkit::seeded(seed);
/// # let _ = &mut rng;
/// ```
#[derive(Debug)]
pub struct SeedGuard {
    what: String,
    seed: u64,
}

impl SeedGuard {
    /// A guard for the test named `what`, run with `seed`.
    pub fn new(what: impl Into<String>, seed: u64) -> Self {
        Self {
            what: what.into(),
            seed,
        }
    }

    /// The seed this guard reports.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{} failed with seed {} (replay: BITAGENT_TEST_SEED={})",
                self.what, self.seed, self.seed
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..8).map(|_| seeded(42).next_u64()).collect();
        let mut r = seeded(42);
        let first = r.next_u64();
        assert!(a.iter().all(|&x| x == first));
        assert_ne!(seeded(42).next_u64(), seeded(43).next_u64());
    }

    #[test]
    fn seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_seed("12"), Some(12));
        assert_eq!(parse_seed(" 0x1f "), Some(31));
        assert_eq!(parse_seed("0XFF"), Some(255));
        assert_eq!(parse_seed("x"), None);
    }
}
