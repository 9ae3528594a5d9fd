//! Health diagnosis from the crawler's own numbers (sans-IO: time and counters are passed in).
//!
//! - **Starvation**: fewer than `starvation_nodes` routing-table nodes `starvation_after`
//!   after start. On the public DHT a healthy node has hundreds within a minute; staying
//!   below means UDP is filtered (egress firewall, NAT dropping replies, a VPN blocking UDP).
//! - **Thrash**: the p95 of DHT request durations rising window after window while the
//!   number of new infohashes per window stops growing: we are sending more than the network
//!   path (or the machine) can carry, and queries queue up instead of finding more.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::metrics::quantile_between;

/// When the two diagnoses of the module docs fire, and how often they repeat. The defaults
/// suit the public DHT; part of [`CrawlerConfig`](crate::CrawlerConfig).
#[derive(Debug, Clone)]
pub struct DiagnosisConfig {
    /// Routing-table nodes below which the node is starved.
    pub starvation_nodes: usize,
    /// When to check for starvation (after start), and how often to repeat the warning.
    pub starvation_after: Duration,
    /// Length of one thrash-detection window.
    pub window: Duration,
    /// Windows of rising p95 needed to call it thrash.
    pub rising_windows: usize,
    /// Least warning-to-warning gap for thrash.
    pub thrash_repeat: Duration,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        Self {
            starvation_nodes: 100,
            starvation_after: Duration::from_secs(600),
            window: Duration::from_secs(60),
            rising_windows: 3,
            thrash_repeat: Duration::from_secs(600),
        }
    }
}

/// Something worth telling the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// Too few routing-table nodes too long after start.
    Starvation {
        /// Nodes in the routing table now.
        nodes: usize,
        /// Time since start.
        after: Duration,
    },
    /// Request latency rising while discovery plateaus.
    Thrash {
        /// p95 request duration (seconds) at the start of the rise.
        p95_from: f64,
        /// p95 now.
        p95_to: f64,
        /// New infohashes in the last window.
        hashes_last: u64,
        /// New infohashes in the window before.
        hashes_before: u64,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Starvation { nodes, after } => write!(
                f,
                "DHT starvation: only {nodes} nodes in the routing table after {} s. UDP \
                 traffic is probably filtered: check that outgoing UDP to port 6881 and the \
                 replies are allowed (firewall, NAT, VPN). Test it with `bitagent dht ping \
                 router.bittorrent.com:6881`: no answer within a few seconds means UDP is \
                 blocked on this network.",
                after.as_secs()
            ),
            Self::Thrash {
                p95_from,
                p95_to,
                hashes_last,
                hashes_before,
            } => write!(
                f,
                "routing-table thrash: DHT request p95 rose from {p95_from} s to {p95_to} s \
                 while new infohashes per window plateaued ({hashes_before} then \
                 {hashes_last}). The crawler sends more than the network carries: lower \
                 DHT_SCALING_FACTOR."
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Window {
    p95: Option<f64>,
    hashes: u64,
}

/// The detector. Call [`Diagnosis::tick`] periodically (every few seconds).
#[derive(Debug)]
pub struct Diagnosis {
    cfg: DiagnosisConfig,
    started: Instant,
    next_starvation_check: Instant,
    window_start: Instant,
    window_hist: Vec<u64>,
    window_hashes: u64,
    windows: VecDeque<Window>,
    last_thrash: Option<Instant>,
}

impl Diagnosis {
    /// Starts the clocks at `now`.
    pub fn new(cfg: DiagnosisConfig, now: Instant) -> Self {
        Self {
            next_starvation_check: now + cfg.starvation_after,
            window_start: now,
            window_hist: Vec::new(),
            window_hashes: 0,
            windows: VecDeque::new(),
            last_thrash: None,
            started: now,
            cfg,
        }
    }

    /// Looks at the current numbers: routing-table size, the total of new infohashes so far,
    /// and the request-duration histogram (its bounds and cumulative-by-bucket counts, all
    /// kinds merged). Returns the warnings due now.
    pub fn tick(
        &mut self,
        now: Instant,
        routing_nodes: usize,
        hashes_total: u64,
        bounds: &[f64],
        hist: &[u64],
    ) -> Vec<Warning> {
        let mut out = Vec::new();
        if now >= self.next_starvation_check {
            self.next_starvation_check = now + self.cfg.starvation_after;
            if routing_nodes < self.cfg.starvation_nodes {
                out.push(Warning::Starvation {
                    nodes: routing_nodes,
                    after: now - self.started,
                });
            }
        }
        if self.window_hist.is_empty() {
            self.window_hist = hist.to_vec();
            self.window_hashes = hashes_total;
        }
        if now - self.window_start >= self.cfg.window {
            let w = Window {
                p95: quantile_between(bounds, &self.window_hist, hist, 0.95),
                hashes: hashes_total.saturating_sub(self.window_hashes),
            };
            self.window_start = now;
            self.window_hist = hist.to_vec();
            self.window_hashes = hashes_total;
            self.windows.push_back(w);
            while self.windows.len() > self.cfg.rising_windows + 1 {
                self.windows.pop_front();
            }
            if let Some(w) = self.thrash(now) {
                self.last_thrash = Some(now);
                out.push(w);
            }
        }
        out
    }

    fn thrash(&self, now: Instant) -> Option<Warning> {
        if self
            .last_thrash
            .is_some_and(|t| now - t < self.cfg.thrash_repeat)
        {
            return None;
        }
        if self.windows.len() < self.cfg.rising_windows + 1 {
            return None;
        }
        let p: Vec<f64> = self.windows.iter().map(|w| w.p95).collect::<Option<_>>()?;
        let rising = p.windows(2).all(|x| x[1] > x[0]) && p[p.len() - 1] >= 2.0 * p[0];
        let n = self.windows.len();
        let (before, last) = (self.windows[n - 2].hashes, self.windows[n - 1].hashes);
        // Plateau: the last window found no more than 10% over the one before.
        let plateau = last.saturating_mul(10) <= before.saturating_mul(11);
        (rising && plateau).then(|| Warning::Thrash {
            p95_from: p[0],
            p95_to: p[p.len() - 1],
            hashes_last: last,
            hashes_before: before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::DURATION_BUCKETS;

    fn cfg() -> DiagnosisConfig {
        DiagnosisConfig {
            starvation_nodes: 100,
            starvation_after: Duration::from_secs(600),
            window: Duration::from_secs(60),
            rising_windows: 3,
            thrash_repeat: Duration::from_secs(600),
        }
    }

    /// Cumulative histogram after adding `n` observations in bucket `b`.
    fn add(h: &mut [u64], b: usize, n: u64) {
        h[b] += n;
    }

    #[test]
    fn starvation_is_reported_after_the_delay_and_repeated() {
        let t0 = Instant::now();
        let mut d = Diagnosis::new(cfg(), t0);
        let h = vec![0; DURATION_BUCKETS.len() + 1];
        assert!(
            d.tick(t0 + Duration::from_secs(599), 3, 0, DURATION_BUCKETS, &h)
                .is_empty()
        );
        let w = d.tick(t0 + Duration::from_secs(600), 3, 0, DURATION_BUCKETS, &h);
        assert!(
            matches!(w[0], Warning::Starvation { nodes: 3, .. }),
            "{w:?}"
        );
        assert!(w[0].to_string().contains("UDP"));
        assert!(
            d.tick(t0 + Duration::from_secs(700), 3, 0, DURATION_BUCKETS, &h)
                .is_empty()
        );
        assert_eq!(
            d.tick(t0 + Duration::from_secs(1200), 3, 0, DURATION_BUCKETS, &h)
                .len(),
            1
        );
        // A healthy table is never reported.
        let mut d = Diagnosis::new(cfg(), t0);
        assert!(
            d.tick(t0 + Duration::from_secs(600), 150, 0, DURATION_BUCKETS, &h)
                .is_empty()
        );
    }

    #[test]
    fn thrash_needs_rising_latency_and_a_plateau() {
        let t0 = Instant::now();
        let mut h = vec![0; DURATION_BUCKETS.len() + 1];
        // Latency rising 0.05 -> 0.1 -> 0.25 -> 0.5 s; hashes 1000 per window, flat.
        let run = |hashes: &[u64]| {
            let mut d = Diagnosis::new(cfg(), t0);
            let mut h = h.clone();
            let mut total = 0;
            let mut warnings = Vec::new();
            d.tick(t0, 150, 0, DURATION_BUCKETS, &h);
            for (i, (bucket, found)) in [3usize, 4, 5, 6].iter().zip(hashes).enumerate() {
                add(&mut h, *bucket, 100);
                total += found;
                let now = t0 + Duration::from_secs(60 * (i as u64 + 1));
                warnings.extend(d.tick(now, 150, total, DURATION_BUCKETS, &h));
            }
            warnings
        };
        let w = run(&[1000, 1000, 1000, 1000]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].to_string().contains("DHT_SCALING_FACTOR"));
        // Latency rising but discovery still growing: a busy crawler, not thrash.
        assert!(run(&[1000, 2000, 3000, 4000]).is_empty());
        // Flat latency: nothing.
        let mut d = Diagnosis::new(cfg(), t0);
        d.tick(t0, 150, 0, DURATION_BUCKETS, &h);
        for i in 1..=5u64 {
            add(&mut h, 3, 100);
            let w = d.tick(
                t0 + Duration::from_secs(60 * i),
                150,
                1000 * i,
                DURATION_BUCKETS,
                &h,
            );
            assert!(w.is_empty());
        }
    }
}
