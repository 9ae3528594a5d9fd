//! The crawl table: BEP-51 sampling candidates, separate from (and larger than) the Kademlia
//! routing table.
//!
//! Fed by the `nodes` of every reply we get, it remembers per node whether it supports BEP-51,
//! the `num` it last reported, and when it may next be sampled (its `interval`). It is bounded:
//! when full, a new node replaces the worst known entry (one that failed, then one that does
//! not support BEP-51) or is refused. Sans-IO: time is a parameter.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dht::Id20;

/// Whether a node answers `sample_infohashes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bep51 {
    /// Not asked yet (or no conclusive answer).
    Unknown,
    /// Answered with `samples`.
    Yes,
    /// Answered without samples or with "method unknown".
    No,
}

impl Bep51 {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Yes => "yes",
            Self::No => "no",
        }
    }
}

/// How a sample query ended, as the crawl table needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOutcome {
    /// `samples` came back.
    Samples {
        /// `num` (how many infohashes the node stores), if given.
        num: Option<i64>,
        /// `interval` in seconds, if given.
        interval: Option<i64>,
        /// How many of the samples were new to us.
        new: usize,
    },
    /// An answer without samples, or a KRPC error: the node does not do BEP-51.
    Unsupported,
    /// No answer.
    Timeout,
}

/// Tuning of a [`CrawlTable`].
#[derive(Debug, Clone)]
pub struct CrawlTableConfig {
    /// Most nodes kept.
    pub capacity: usize,
    /// Interval assumed when a node gives none.
    pub default_interval: Duration,
    /// Shortest wait between two samples of one node, whatever its `interval` says.
    pub min_interval: Duration,
    /// Longest wait honoured (a node asking for more is sampled after this anyway).
    pub max_interval: Duration,
    /// When the last sample brought nothing new, wait at least this long before the next
    /// one (a sample that still brought news is followed as soon as the node's own
    /// `interval` allows: we never sample faster than a node asks).
    pub quiet_interval: Duration,
    /// How long a node that does not support BEP-51 waits before we ask it again (it is still
    /// useful for discovery: its answers carry nodes).
    pub unsupported_retry: Duration,
    /// Timeouts in a row before a node is forgotten.
    pub max_failures: u8,
}

impl Default for CrawlTableConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            default_interval: Duration::from_secs(60),
            min_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(6 * 3600),
            quiet_interval: Duration::from_secs(10),
            unsupported_retry: Duration::from_secs(30 * 60),
            max_failures: 2,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    id: Id20,
    bep51: Bep51,
    num: Option<i64>,
    next_at: Instant,
    failures: u8,
    in_flight: bool,
    samples: u32,
}

/// The crawl table. See the module docs.
#[derive(Debug)]
pub struct CrawlTable {
    cfg: CrawlTableConfig,
    nodes: HashMap<SocketAddr, Entry>,
    /// Round-robin order of addresses; stale addresses (removed nodes) are skipped lazily.
    ring: Vec<SocketAddr>,
    cursor: usize,
    counts: [usize; 3],
    refused: u64,
    evicted: u64,
}

fn slot(b: Bep51) -> usize {
    match b {
        Bep51::Unknown => 0,
        Bep51::Yes => 1,
        Bep51::No => 2,
    }
}

impl CrawlTable {
    /// An empty table.
    pub fn new(cfg: CrawlTableConfig) -> Self {
        Self {
            cfg,
            nodes: HashMap::new(),
            ring: Vec::new(),
            cursor: 0,
            counts: [0; 3],
            refused: 0,
            evicted: 0,
        }
    }

    /// Nodes in the table.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes by BEP-51 support.
    pub fn count(&self, b: Bep51) -> usize {
        self.counts[slot(b)]
    }

    /// Nodes refused because the table was full of better ones.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Nodes evicted to make room for new ones.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Whether `addr` is in the table.
    pub fn contains(&self, addr: &SocketAddr) -> bool {
        self.nodes.contains_key(addr)
    }

    /// BEP-51 support of `addr`, if known to the table.
    pub fn support(&self, addr: &SocketAddr) -> Option<Bep51> {
        self.nodes.get(addr).map(|e| e.bep51)
    }

    /// Offers a node heard of in a reply. Returns whether it is new to the table.
    pub fn offer(&mut self, now: Instant, id: Id20, addr: SocketAddr) -> bool {
        if addr.port() == 0 {
            return false;
        }
        if let Some(e) = self.nodes.get_mut(&addr) {
            e.id = id;
            return false;
        }
        if self.nodes.len() >= self.cfg.capacity && !self.evict_one() {
            self.refused += 1;
            return false;
        }
        self.nodes.insert(
            addr,
            Entry {
                id,
                bep51: Bep51::Unknown,
                num: None,
                next_at: now,
                failures: 0,
                in_flight: false,
                samples: 0,
            },
        );
        self.counts[slot(Bep51::Unknown)] += 1;
        self.ring.push(addr);
        true
    }

    /// Drops the least useful node: one with failures, else one without BEP-51. Returns
    /// whether one was dropped. Scans a bounded window of the ring, so the cost per offer is
    /// bounded too.
    fn evict_one(&mut self) -> bool {
        let window = self.ring.len().min(64);
        let mut victim: Option<(usize, SocketAddr)> = None;
        for k in 0..window {
            let i = (self.cursor + k) % self.ring.len();
            let addr = self.ring[i];
            let Some(e) = self.nodes.get(&addr) else {
                continue;
            };
            if e.in_flight {
                continue;
            }
            let score = if e.failures > 0 {
                2
            } else if e.bep51 == Bep51::No {
                1
            } else {
                0
            };
            if score > victim.map_or(0, |(s, _)| s) {
                victim = Some((score, addr));
                if score == 2 {
                    break;
                }
            }
        }
        match victim {
            Some((_, addr)) => {
                self.remove(&addr);
                self.evicted += 1;
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, addr: &SocketAddr) {
        if let Some(e) = self.nodes.remove(addr) {
            self.counts[slot(e.bep51)] -= 1;
        }
        // The ring keeps the stale address until `next_due` or `compact` passes over it.
        if self.ring.len() > 2 * self.nodes.len() + 64 {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let nodes = &self.nodes;
        self.ring.retain(|a| nodes.contains_key(a));
        self.cursor = 0;
    }

    /// The next node due for a sample (round robin over the table), marking it in flight, or
    /// `None` if no node is due at `now`. Looks at most `scan` entries.
    pub fn next_due(&mut self, now: Instant, scan: usize) -> Option<(SocketAddr, Id20)> {
        let n = self.ring.len();
        if n == 0 {
            return None;
        }
        for _ in 0..scan.min(n) {
            if self.cursor >= self.ring.len() {
                self.cursor = 0;
            }
            let addr = self.ring[self.cursor];
            self.cursor += 1;
            match self.nodes.get_mut(&addr) {
                Some(e) if !e.in_flight && e.next_at <= now => {
                    e.in_flight = true;
                    return Some((addr, e.id));
                }
                Some(_) => {}
                None => {
                    // Stale: drop it from the ring.
                    self.cursor -= 1;
                    self.ring.swap_remove(self.cursor);
                }
            }
        }
        None
    }

    /// Records how a sample query to `addr` ended and schedules its next one.
    pub fn record(&mut self, now: Instant, addr: SocketAddr, outcome: SampleOutcome) {
        let cfg = &self.cfg;
        let Some(e) = self.nodes.get_mut(&addr) else {
            return;
        };
        e.in_flight = false;
        let before = e.bep51;
        match outcome {
            SampleOutcome::Samples { num, interval, new } => {
                e.failures = 0;
                e.bep51 = Bep51::Yes;
                e.num = num;
                e.samples += 1;
                let asked = interval
                    .and_then(|s| u64::try_from(s).ok())
                    .map_or(cfg.default_interval, Duration::from_secs)
                    .clamp(cfg.min_interval, cfg.max_interval);
                // A node whose sample still brought news (and stores more than it showed us)
                // is asked again as soon as it allows; otherwise not before eager_interval.
                let stores_more = num.is_none_or(|n| n > 0);
                let wait = if new > 0 && stores_more {
                    asked
                } else {
                    asked.max(cfg.quiet_interval)
                };
                e.next_at = now + wait;
            }
            SampleOutcome::Unsupported => {
                e.failures = 0;
                e.bep51 = Bep51::No;
                e.next_at = now + cfg.unsupported_retry;
            }
            SampleOutcome::Timeout => {
                e.failures = e.failures.saturating_add(1);
                if e.failures >= cfg.max_failures {
                    self.remove(&addr);
                    return;
                }
                e.next_at = now + cfg.default_interval;
            }
        }
        let after = e.bep51;
        if before != after {
            self.counts[slot(before)] -= 1;
            self.counts[slot(after)] += 1;
        }
    }

    /// Ends a query to `addr` that says nothing about BEP-51 (a discovery `find_node`, or a
    /// local error), and schedules its next one at `next_at`.
    pub fn release(&mut self, addr: SocketAddr, next_at: Instant) {
        if let Some(e) = self.nodes.get_mut(&addr) {
            e.in_flight = false;
            e.next_at = next_at;
        }
    }

    /// Makes every node due now (when sampling starts after discovery).
    pub fn make_all_due(&mut self, now: Instant) {
        for e in self.nodes.values_mut() {
            if e.bep51 != Bep51::No {
                e.next_at = now;
            }
        }
    }

    /// The `num` `addr` last reported.
    pub fn last_num(&self, addr: &SocketAddr) -> Option<i64> {
        self.nodes.get(addr).and_then(|e| e.num)
    }

    /// Sum of the last `num` over nodes that support BEP-51 (a rough size of what the
    /// sampled part of the DHT stores).
    pub fn num_total(&self) -> i64 {
        self.nodes
            .values()
            .filter_map(|e| e.num)
            .fold(0i64, |a, n| a.saturating_add(n.max(0)))
    }

    /// Checks the internal counters (for tests).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut c = [0usize; 3];
        for e in self.nodes.values() {
            c[slot(e.bep51)] += 1;
        }
        if c != self.counts {
            return Err(format!("counts {:?} != actual {:?}", self.counts, c));
        }
        if self.nodes.len() > self.cfg.capacity {
            return Err(format!(
                "{} nodes > capacity {}",
                self.nodes.len(),
                self.cfg.capacity
            ));
        }
        for a in self.nodes.keys() {
            if !self.ring.contains(a) {
                return Err(format!("{a} missing from the ring"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from(([127, 0, (i >> 8) as u8, i as u8], 6881))
    }

    fn id(i: u32) -> Id20 {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&i.to_be_bytes());
        Id20(b)
    }

    fn small(capacity: usize) -> CrawlTable {
        CrawlTable::new(CrawlTableConfig {
            capacity,
            ..CrawlTableConfig::default()
        })
    }

    #[test]
    fn offers_are_deduplicated_and_due_round_robin() {
        let now = crate::planner::t0();
        let mut t = small(100);
        assert!(t.offer(now, id(1), addr(1)));
        assert!(!t.offer(now, id(1), addr(1)));
        assert!(t.offer(now, id(2), addr(2)));
        let a = t.next_due(now, 10).unwrap().0;
        let b = t.next_due(now, 10).unwrap().0;
        assert_ne!(a, b);
        // Both in flight: nothing due.
        assert!(t.next_due(now, 10).is_none());
        t.check_invariants().unwrap();
    }

    #[test]
    fn interval_is_honoured_and_news_bring_the_next_sample_forward() {
        let now = crate::planner::t0();
        let mut t = small(10);
        t.offer(now, id(1), addr(1));
        t.offer(now, id(2), addr(2));
        let (a, _) = t.next_due(now, 10).unwrap();
        let (b, _) = t.next_due(now, 10).unwrap();
        let news = SampleOutcome::Samples {
            num: Some(100),
            interval: Some(2),
            new: 5,
        };
        let nothing_new = SampleOutcome::Samples {
            num: Some(100),
            interval: Some(2),
            new: 0,
        };
        t.record(now, a, news);
        t.record(now, b, nothing_new);
        assert_eq!(t.count(Bep51::Yes), 2);
        assert!(t.next_due(now + Duration::from_secs(1), 10).is_none());
        // After its 2 s interval `a` is due again; `b` waits for the quiet interval (10 s).
        let due = t.next_due(now + Duration::from_secs(2), 10).unwrap().0;
        assert_eq!(due, a);
        assert!(t.next_due(now + Duration::from_secs(3), 10).is_none());
        assert_eq!(t.next_due(now + Duration::from_secs(10), 10).unwrap().0, b);
        assert_eq!(t.last_num(&a), Some(100));
        t.check_invariants().unwrap();
    }

    #[test]
    fn unsupported_and_failing_nodes_are_tracked_and_dropped() {
        let now = crate::planner::t0();
        let mut t = small(10);
        t.offer(now, id(1), addr(1));
        t.offer(now, id(2), addr(2));
        let (a, _) = t.next_due(now, 10).unwrap();
        let (b, _) = t.next_due(now, 10).unwrap();
        t.record(now, a, SampleOutcome::Unsupported);
        assert_eq!(t.support(&a), Some(Bep51::No));
        t.record(now, b, SampleOutcome::Timeout);
        assert!(t.contains(&b));
        let later = now + Duration::from_secs(61);
        let (b2, _) = t.next_due(later, 10).unwrap();
        assert_eq!(b2, b);
        t.record(later, b, SampleOutcome::Timeout);
        assert!(!t.contains(&b), "two timeouts in a row forget the node");
        assert_eq!(t.count(Bep51::No), 1);
        assert_eq!(t.count(Bep51::Unknown), 0);
        t.check_invariants().unwrap();
    }

    #[test]
    fn a_full_table_evicts_the_worst_or_refuses() {
        let now = crate::planner::t0();
        let mut t = small(3);
        for i in 0..3 {
            t.offer(now, id(i), addr(i));
        }
        // All unknown and healthy: a fourth is refused.
        assert!(!t.offer(now, id(9), addr(9)));
        assert_eq!(t.refused(), 1);
        // One turns out not to support BEP-51: it makes room.
        let (a, _) = t.next_due(now, 10).unwrap();
        t.record(now, a, SampleOutcome::Unsupported);
        assert!(t.offer(now, id(9), addr(9)));
        assert!(!t.contains(&a));
        assert_eq!(t.evicted(), 1);
        assert_eq!(t.len(), 3);
        t.check_invariants().unwrap();
    }

    #[test]
    fn bounded_under_churn() {
        // A seeded churn of offers and outcomes never breaks the counters or the cap.
        let now = crate::planner::t0();
        let mut t = small(50);
        let mut rng = testkit::seeded(0x9e37_79b9_7f4a_7c15);
        let mut clock = now;
        for step in 0..20_000u32 {
            let x = testkit::rng::RngCore::next_u64(&mut rng);
            let i = (x % 400) as u32;
            t.offer(clock, id(i), addr(i));
            if let Some((a, _)) = t.next_due(clock, 8) {
                let o = match x % 3 {
                    0 => SampleOutcome::Timeout,
                    1 => SampleOutcome::Unsupported,
                    _ => SampleOutcome::Samples {
                        num: Some(5),
                        interval: Some(1),
                        new: (x % 2) as usize,
                    },
                };
                t.record(clock, a, o);
            }
            clock += Duration::from_millis(100);
            if step % 1000 == 0 {
                t.check_invariants()
                    .unwrap_or_else(|e| panic!("step {step}: {e}"));
            }
        }
        t.check_invariants().unwrap();
        assert!(t.ring.len() <= 2 * t.len() + 64 + 1);
    }
}
