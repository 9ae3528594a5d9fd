//! The crawl policy without IO.
//!
//! [`Planner`] makes every decision of a crawl: which node to ask next and with which query,
//! what to do with a sampled infohash, when to pause sampling, how to resolve a candidate's
//! peers, and how fetches share the caps. It never reads the clock (time comes in as `now`),
//! opens no socket, takes no lock and draws randomness only from a ChaCha8 RNG seeded with
//! [`CrawlerConfig::seed`], so a crawl's decisions can be replayed on virtual time. The
//! crawler's async tasks ([`Crawler`](crate::Crawler)) perform the IO it asks for and feed the
//! results back.
//!
//! Parts: [`crawl_table`] (sampling candidates and their pace), [`dedup`] (the seen filter),
//! [`fair_queue`] (candidates served round-robin over their sampling nodes), `sampling` (the
//! sampler's decisions) and `resolve` (one candidate's resolution).
//!
//! The clock, locks, atomics, sockets and OS randomness are denied here by clippy's
//! `disallowed_methods` / `disallowed_types` (configured in the workspace's `clippy.toml`);
//! tests take their one base instant from `t0`.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

mod action;
pub mod crawl_table;
pub mod dedup;
mod dispatch;
pub mod fair_queue;
mod resolve;
mod sampling;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dht::{NodeInfo, Reply};
use infohash::InfoHash;

use crate::config::CrawlerConfig;
use crate::filter::{Candidate, PreFetchFilter, Verdict};
use crawl_table::{Bep51, CrawlTable};
use fair_queue::FairQueue;
use resolve::Resolution;
use sampling::{Phase, Sampler};

pub use action::{Action, Counts, QueryError, ResolveId, busy_retry};
pub use resolve::{FetchReport, Swarm};

/// How often the driver calls [`Planner::handle_tick`].
pub const TICK: Duration = Duration::from_millis(100);

/// The crawl policy as a deterministic state machine (see the module docs).
///
/// Verb families:
///
/// * getters: [`Planner::is_sampling`], [`Planner::is_idle`], [`Planner::crawl_table`],
///   [`Planner::crawl_table_counts`], [`Planner::counts`],
///   [`Planner::queued`], [`Planner::resolving`], [`Planner::seen_len`],
///   [`Planner::dedup_depth`];
/// * inputs, with `now` where time matters: [`Planner::handle_tick`] (every [`TICK`], with the routing
///   table's size), [`Planner::handle_saved_nodes`], [`Planner::handle_routing_table`],
///   [`Planner::handle_find_node`], [`Planner::handle_sample`], [`Planner::handle_stored`],
///   [`Planner::handle_peers`], [`Planner::handle_scrape`], [`Planner::handle_lookup`],
///   [`Planner::handle_fetch`], [`Planner::handle_finished`], [`Planner::handle_aborted`],
///   [`Planner::handle_shutdown`];
/// * output: [`Planner::poll_action`].
///
/// Drain order: after every input, call `poll_action` until `None` and start each action;
/// report each action's result to the `handle_*` call it names (every action with a
/// [`ResolveId`] must be answered, by its own call or by `handle_aborted`).
///
/// Caps: `sample_concurrency` sample/discovery queries, `resolve_concurrency` candidates in
/// resolution (at most `per_source_in_flight` per sampling node), `fetch_concurrency`
/// fetches over TCP; `candidate_queue` candidates waiting in the fair queue plus as many in
/// its inbox, and sampling pauses while the inbox is more than half full.
#[derive(Debug)]
pub struct Planner {
    cfg: CrawlerConfig,
    filter: Arc<dyn PreFetchFilter>,
    sampler: Sampler,
    /// Candidates past the filter, before the fair queue.
    inbox: VecDeque<Candidate>,
    queue: FairQueue,
    /// Infohashes between the filter and the end of their resolution, with how many samples
    /// named them meanwhile (bounded: past the cap a hash is simply not tracked).
    pending: HashMap<InfoHash, u32>,
    pending_cap: usize,
    resolutions: BTreeMap<ResolveId, Resolution>,
    /// Fetched candidates in the post-fetch stage: their source IP, whose slot they hold.
    finishing: BTreeMap<ResolveId, IpAddr>,
    /// Candidates holding a resolution slot (resolving or finishing).
    in_flight: usize,
    next_id: ResolveId,
    /// Fetches holding a TCP slot.
    tcp_in_use: BTreeSet<ResolveId>,
    /// Fetches waiting for a TCP slot, in order.
    tcp_waiting: VecDeque<(ResolveId, Vec<SocketAddr>)>,
    actions: VecDeque<Action>,
    counts: Counts,
    /// Set by [`Planner::handle_shutdown`]: no new sampling, no new resolution.
    stopping: bool,
}

impl Planner {
    /// A planner for a node of the family `v6`, starting at `now`.
    pub fn new(
        cfg: CrawlerConfig,
        filter: Arc<dyn PreFetchFilter>,
        v6: bool,
        now: Instant,
    ) -> Self {
        let phase = Phase {
            threshold: cfg.sample_threshold,
            stall_after: cfg.stall_after,
        };
        let sampler = Sampler::new(
            phase,
            cfg.crawl_table.clone(),
            cfg.seen_capacity,
            cfg.sample_concurrency,
            cfg.seed,
            v6,
            now,
        );
        Self {
            queue: FairQueue::new(cfg.candidate_queue, cfg.per_source_in_flight),
            pending_cap: 2 * cfg.candidate_queue + cfg.resolve_concurrency,
            cfg,
            filter,
            sampler,
            inbox: VecDeque::new(),
            pending: HashMap::new(),
            resolutions: BTreeMap::new(),
            finishing: BTreeMap::new(),
            in_flight: 0,
            next_id: 0,
            tcp_in_use: BTreeSet::new(),
            tcp_waiting: VecDeque::new(),
            actions: VecDeque::new(),
            counts: Counts::default(),
            stopping: false,
        }
    }

    // ------------------------------------------------------------ getters

    /// Whether BEP-51 sampling has started.
    pub fn is_sampling(&self) -> bool {
        self.sampler.sampling
    }

    /// The crawl table.
    pub fn crawl_table(&self) -> &CrawlTable {
        &self.sampler.table
    }

    /// Crawl-table nodes by BEP-51 support: yes, no, unknown.
    pub fn crawl_table_counts(&self) -> [usize; 3] {
        let t = &self.sampler.table;
        [
            t.count(Bep51::Yes),
            t.count(Bep51::No),
            t.count(Bep51::Unknown),
        ]
    }

    /// The decision counters.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Candidates waiting (inbox and fair queue).
    pub fn queued(&self) -> usize {
        self.queue.len() + self.inbox.len()
    }

    /// Candidates being resolved (not yet fetched, given up or dropped).
    pub fn resolving(&self) -> usize {
        self.resolutions.len()
    }

    /// Hashes in the seen filter's current generation.
    pub fn seen_len(&self) -> usize {
        self.sampler.seen.current_len()
    }

    /// New hashes waiting for the store lookup, at the last tick.
    pub fn dedup_depth(&self) -> usize {
        self.sampler.dedup_depth
    }

    /// Whether nothing is in resolution or finishing (what a shutdown waits for).
    pub fn is_idle(&self) -> bool {
        self.resolutions.is_empty() && self.finishing.is_empty()
    }

    // ------------------------------------------------------------ output

    /// The next action to start.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ------------------------------------------------------------ sampling inputs

    /// Nodes saved by the last run: those of our family with a usable address go into the
    /// crawl table.
    pub fn handle_saved_nodes(&mut self, now: Instant, nodes: &[NodeInfo]) {
        self.sampler.offer_own_family(now, nodes);
    }

    /// The crawl stops: no more sampling, no new resolution; those under way go on.
    pub fn handle_shutdown(&mut self) {
        self.stopping = true;
    }

    /// The periodic step, with the routing table's current size.
    pub fn handle_tick(&mut self, now: Instant, routing_nodes: usize) {
        if self.stopping {
            return;
        }
        // Back-pressure: the inbox only fills once the fair queue is full.
        let paused = self.inbox.len() > self.cfg.candidate_queue / 2;
        if self
            .sampler
            .tick(now, routing_nodes, paused, &mut self.actions)
        {
            tracing::info!(
                routing_table = routing_nodes,
                crawl_table = self.sampler.table.len(),
                "BEP-51 sampling starts"
            );
        }
    }

    /// The routing table, as asked by [`Action::ReadRoutingTable`].
    pub fn handle_routing_table(&mut self, now: Instant, nodes: &[NodeInfo]) {
        self.sampler.offer_all(now, nodes);
    }

    /// The result of [`Action::FindNode`].
    pub fn handle_find_node(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        result: Result<&Reply, QueryError>,
    ) {
        self.sampler.on_find_node(now, addr, result);
    }

    /// The result of [`Action::Sample`].
    pub fn handle_sample(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        result: Result<&Reply, QueryError>,
    ) {
        self.sampler
            .on_sample(now, addr, result, &mut self.pending, &mut self.counts);
    }

    /// The result of [`Action::CheckStored`]: whether each hash is stored (`None`: the
    /// lookup failed, the batch is dropped). `unix_now` stamps the candidates and touches.
    pub fn handle_stored(&mut self, now: Instant, unix_now: i64, known: Option<Vec<bool>>) {
        let Some(batch) = self.sampler.checking.take() else {
            return;
        };
        let Some(known) = known else { return };
        let mut touch = Vec::new();
        for ((hash, source), known) in batch.into_iter().zip(known) {
            if known {
                self.counts.dedup_stored += 1;
                touch.push(hash);
                continue;
            }
            self.counts.dedup_new += 1;
            let c = Candidate {
                info_hash: hash,
                source,
                seen_at: unix_now,
            };
            match self.filter.check(&c) {
                Verdict::Pass => self.counts.prefilter_pass += 1,
                Verdict::Drop(why) => {
                    self.counts.prefilter_drop += 1;
                    tracing::debug!(info_hash = %hash, %why, "dropped before fetch");
                    continue;
                }
            }
            if self.inbox.len() >= self.cfg.candidate_queue.max(1) {
                self.counts.candidate_drops += 1;
                continue;
            }
            if self.pending.len() < self.pending_cap {
                self.pending.insert(c.info_hash, 1);
            }
            self.inbox.push_back(c);
        }
        if !touch.is_empty() {
            self.actions.push_back(Action::Touch {
                hashes: touch,
                at: unix_now,
            });
        }
        self.dispatch(now);
    }

    // ------------------------------------------------------------ resolution inputs

    /// The result of [`Action::GetPeers`] (empty on error).
    pub fn handle_peers(&mut self, now: Instant, id: ResolveId, peers: Vec<SocketAddr>) {
        self.step(now, id, |r, p| r.on_peers(peers, p));
    }

    /// The result of [`Action::Scrape`] (`None` on error or without an estimate).
    pub fn handle_scrape(&mut self, now: Instant, id: ResolveId, swarm: Option<Swarm>) {
        self.step(now, id, |r, p| r.on_scrape(swarm, p));
    }

    /// The result of [`Action::Lookup`]: peers and estimate, `None` if it failed.
    pub fn handle_lookup(
        &mut self,
        now: Instant,
        id: ResolveId,
        found: Option<(Vec<SocketAddr>, Option<Swarm>)>,
    ) {
        self.step(now, id, |r, p| r.on_lookup(found, p));
    }

    /// The result of [`Action::Fetch`]; frees its TCP slot.
    pub fn handle_fetch(&mut self, now: Instant, id: ResolveId, report: FetchReport) {
        if self.tcp_in_use.remove(&id) {
            self.pump_tcp();
        }
        self.step(now, id, |r, _| r.on_fetch(report));
    }

    /// [`Action::Finish`] is done (stored, dropped, or its task died): the slot is free.
    pub fn handle_finished(&mut self, now: Instant, id: ResolveId) {
        if let Some(ip) = self.finishing.remove(&id) {
            self.free(ip);
        }
        self.dispatch(now);
    }

    /// A task working for `id` ended without reporting (it panicked or was cancelled): the
    /// resolution ends (counted as `other`) and its slots are free.
    pub fn handle_aborted(&mut self, now: Instant, id: ResolveId) {
        if self.finishing.contains_key(&id) {
            return self.handle_finished(now, id);
        }
        if self.tcp_in_use.remove(&id) {
            self.pump_tcp();
        }
        self.tcp_waiting.retain(|(w, _)| *w != id);
        if let Some(r) = self.resolutions.remove(&id) {
            *self.counts.fetch.entry("other").or_default() += 1;
            self.pending.remove(&r.candidate.info_hash);
            self.free(r.candidate.source.ip());
        }
        self.dispatch(now);
    }
}

/// A fixed instant for tests on virtual time (the one clock read they make).
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
pub(crate) fn t0() -> Instant {
    Instant::now()
}
