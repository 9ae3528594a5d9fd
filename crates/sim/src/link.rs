//! The link model: every datagram independently gets a one-way latency of
//! `latency + uniform(0..=jitter)` and is lost with probability `loss`.
//!
//! The model draws from its own seeded [`ChaCha8Rng`], exactly two numbers per datagram in
//! send order, so the fate of every datagram is a pure function of the network seed and of
//! the order in which engines transmit.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Parameters of the link model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay of every datagram.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per datagram. Jitter reorders datagrams.
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a datagram is lost.
    pub loss: f64,
}

impl Default for LinkConfig {
    /// 20 ms + up to 30 ms jitter, no loss: a lossless wide-area network.
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(30),
            loss: 0.0,
        }
    }
}

/// The seeded link model.
#[derive(Debug, Clone)]
pub struct Link {
    cfg: LinkConfig,
    rng: ChaCha8Rng,
}

impl Link {
    /// A link model drawing from `seed`.
    pub fn new(cfg: LinkConfig, seed: u64) -> Self {
        Self {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The parameters.
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// Decides the fate of one datagram: `Some(one-way delay)`, or `None` if it is lost.
    pub fn transit(&mut self) -> Option<Duration> {
        // Always draw both numbers so loss never shifts the latency stream.
        let lost = self.rng.random::<f64>() < self.cfg.loss;
        let jitter_ns = u64::try_from(self.cfg.jitter.as_nanos()).unwrap_or(u64::MAX);
        let extra = self.rng.random_range(0..=jitter_ns);
        if lost {
            None
        } else {
            Some(self.cfg.latency + Duration::from_nanos(extra))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_within_bounds_and_loss_rate() {
        let cfg = LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            loss: 0.25,
        };
        let mut l = Link::new(cfg, 7);
        let mut lost = 0;
        for _ in 0..10_000 {
            match l.transit() {
                None => lost += 1,
                Some(d) => {
                    assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(15));
                }
            }
        }
        assert!((2_200..2_800).contains(&lost), "{lost}");
    }

    #[test]
    fn same_seed_same_fates() {
        let cfg = LinkConfig {
            loss: 0.5,
            ..LinkConfig::default()
        };
        let (mut a, mut b) = (Link::new(cfg, 3), Link::new(cfg, 3));
        for _ in 0..1000 {
            assert_eq!(a.transit(), b.transit());
        }
    }
}
