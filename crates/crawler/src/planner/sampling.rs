//! Who to ask next, and what to do with the answers: discovery (`find_node`) until the
//! routing table is big enough or stops growing, then BEP-51 sampling at the pace each node's
//! `interval` allows; samples go through the seen filter into a batch for the store lookup.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dht::{Id20, NodeInfo, Reply};
use infohash::InfoHash;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::crawl_table::{CrawlTable, CrawlTableConfig, SampleOutcome};
use super::dedup::SeenFilter;
use super::{Action, Counts, QueryError};

/// The routing table feeds the crawl table while the latter has fewer nodes than this...
const FEED_BELOW: usize = 64;
/// ... at most this often.
const FEED_EVERY: Duration = Duration::from_secs(2);
/// Crawl-table entries looked at per `next_due`.
const SCAN: usize = 256;
/// A sample query that failed locally (not a timeout, not a KRPC error) is retried after this.
const SAMPLE_RETRY: Duration = Duration::from_secs(5);
/// A node asked `find_node` during discovery is asked again after this.
const DISCOVER_AGAIN: Duration = Duration::from_secs(30);

/// When discovery turns into sampling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    /// Routing-table nodes that start sampling at once.
    pub threshold: usize,
    /// Start anyway when the routing table has not grown for this long.
    pub stall_after: Duration,
}

/// The sampling half of the planner.
#[derive(Debug)]
pub(crate) struct Sampler {
    phase: Phase,
    concurrency: usize,
    v6: bool,
    pub table: CrawlTable,
    pub seen: SeenFilter,
    rng: ChaCha8Rng,
    pub sampling: bool,
    best_table: usize,
    best_at: Instant,
    last_feed: Option<Instant>,
    /// New hashes since the last store lookup, with the node that sampled each.
    batch: Vec<(InfoHash, SocketAddr)>,
    /// The batch whose store lookup is in flight.
    pub checking: Option<Vec<(InfoHash, SocketAddr)>>,
    /// The batch size at the last tick (the `dedup` queue depth).
    pub dedup_depth: usize,
    /// Sample and discovery queries in flight.
    pub in_flight: usize,
}

impl Sampler {
    pub(super) fn new(
        phase: Phase,
        table: CrawlTableConfig,
        seen_capacity: usize,
        concurrency: usize,
        seed: u64,
        v6: bool,
        now: Instant,
    ) -> Self {
        Self {
            phase,
            concurrency,
            v6,
            table: CrawlTable::new(table),
            seen: SeenFilter::new(seen_capacity),
            rng: ChaCha8Rng::seed_from_u64(seed),
            sampling: false,
            best_table: 0,
            best_at: now,
            last_feed: None,
            batch: Vec::new(),
            checking: None,
            dedup_depth: 0,
            in_flight: 0,
        }
    }

    /// Offers nodes of our address family (and with a usable address) to the crawl table.
    pub(super) fn offer_own_family(&mut self, now: Instant, nodes: &[NodeInfo]) {
        for n in nodes {
            if n.addr.is_ipv6() == self.v6 && !n.addr.ip().is_unspecified() {
                self.table.offer(now, n.id, n.addr);
            }
        }
    }

    /// Offers the routing table's nodes (ours already: same family).
    pub(super) fn offer_all(&mut self, now: Instant, nodes: &[NodeInfo]) {
        for n in nodes {
            self.table.offer(now, n.id, n.addr);
        }
    }

    /// The periodic step: phase, feeding, the batch for the store, new queries (unless
    /// `paused`). Returns whether sampling started at this tick.
    pub(super) fn tick(
        &mut self,
        now: Instant,
        routing_nodes: usize,
        paused: bool,
        out: &mut VecDeque<Action>,
    ) -> bool {
        let mut started = false;
        if routing_nodes > self.best_table {
            self.best_table = routing_nodes;
            self.best_at = now;
        }
        let stalled = routing_nodes > 0 && now - self.best_at >= self.phase.stall_after;
        if !self.sampling && (routing_nodes >= self.phase.threshold || stalled) {
            self.sampling = true;
            started = true;
            self.table.make_all_due(now);
        }
        if self.table.len() < FEED_BELOW && self.last_feed.is_none_or(|t| now - t >= FEED_EVERY) {
            self.last_feed = Some(now);
            out.push_back(Action::ReadRoutingTable);
        }
        self.dedup_depth = self.batch.len();
        if !self.batch.is_empty() && self.checking.is_none() {
            let batch = std::mem::take(&mut self.batch);
            let hashes = batch.iter().map(|(h, _)| *h).collect();
            self.checking = Some(batch);
            out.push_back(Action::CheckStored { hashes });
        }
        while !paused && self.in_flight < self.concurrency {
            let Some((addr, _id)) = self.table.next_due(now, SCAN) else {
                break;
            };
            let mut target = [0u8; 20];
            self.rng.fill(&mut target);
            let target = Id20(target);
            self.in_flight += 1;
            out.push_back(if self.sampling {
                Action::Sample { addr, target }
            } else {
                Action::FindNode { addr, target }
            });
        }
        started
    }

    /// A `sample_infohashes` answer (or failure) from `addr`. New hashes go to the batch;
    /// hashes seen before bump their times-seen count in `pending`.
    pub(super) fn on_sample(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        result: Result<&Reply, QueryError>,
        pending: &mut HashMap<InfoHash, u32>,
        counts: &mut Counts,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let r = match result {
            Ok(r) => r,
            Err(QueryError::Remote) => {
                return self.table.record(now, addr, SampleOutcome::Unsupported);
            }
            Err(QueryError::Timeout) => {
                return self.table.record(now, addr, SampleOutcome::Timeout);
            }
            Err(_) => return self.table.release(addr, now + SAMPLE_RETRY),
        };
        self.offer_own_family(now, &r.nodes);
        if r.samples.is_empty() && r.num.is_none() {
            return self.table.record(now, addr, SampleOutcome::Unsupported);
        }
        counts.samples_received += r.samples.len() as u64;
        let mut new = 0;
        for h in &r.samples {
            if self.seen.check_and_insert(h) {
                new += 1;
                self.batch.push((*h, addr));
            } else {
                counts.dedup_seen += 1;
                if let Some(n) = pending.get_mut(h) {
                    *n = n.saturating_add(1);
                }
            }
        }
        let outcome = SampleOutcome::Samples {
            num: r.num,
            interval: r.interval,
            new,
        };
        self.table.record(now, addr, outcome);
    }

    /// A discovery `find_node` answer (or failure) from `addr`.
    pub(super) fn on_find_node(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        result: Result<&Reply, QueryError>,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match result {
            Ok(r) => {
                self.offer_own_family(now, &r.nodes);
                self.table.release(addr, now + DISCOVER_AGAIN);
            }
            Err(QueryError::Timeout) => self.table.record(now, addr, SampleOutcome::Timeout),
            Err(_) => self.table.release(addr, now + DISCOVER_AGAIN),
        }
    }
}
