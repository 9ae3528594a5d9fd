//! A BEP-51 crawl driven through one simulated engine: ask every node we learn of for a
//! `sample_infohashes`, follow the `nodes` of each reply to find more, and come back to a
//! node only once the `interval` it advertised has passed (and only if it stores more
//! infohashes than it showed us).
//!
//! The `target` of each query alternates between the queried node's own id (its answer then
//! lists its nearest neighbours, which reaches nodes that few tables hold: every node is in
//! its neighbours' tables) and a random id (which spreads the walk over the keyspace).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use dht::{Event, QueryId};
use infohash::InfoHash;
use krpc::Id20;

use crate::network::Network;

/// Progress of a [`Bep51Walk`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// `sample_infohashes` queries sent.
    pub queries: u64,
    /// Replies received.
    pub replies: u64,
    /// Queries that failed (timeout or error).
    pub failures: u64,
    /// Distinct node addresses learned of.
    pub nodes_seen: usize,
    /// Distinct infohashes collected.
    pub infohashes: usize,
    /// Revisits scheduled because a node stores more than it sampled.
    pub revisits: u64,
}

/// A BEP-51 crawl run from node `crawler` of a [`Network`].
#[derive(Debug)]
pub struct Bep51Walk {
    crawler: usize,
    max_in_flight: usize,
    frontier: VecDeque<(SocketAddr, Option<Id20>)>,
    seen: BTreeSet<SocketAddr>,
    /// Nodes to ask again once their interval has passed: (not before, address).
    revisit: BTreeSet<(Duration, SocketAddr)>,
    in_flight: BTreeMap<QueryId, SocketAddr>,
    found: BTreeSet<InfoHash>,
    stats: WalkStats,
}

impl Bep51Walk {
    /// A crawl from node `crawler`, starting from the contacts in its routing table, with at
    /// most `max_in_flight` queries outstanding.
    pub fn new(net: &Network, crawler: usize, max_in_flight: usize) -> Self {
        let mut w = Self {
            crawler,
            max_in_flight: max_in_flight.max(1),
            frontier: VecDeque::new(),
            seen: BTreeSet::new(),
            revisit: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            found: BTreeSet::new(),
            stats: WalkStats::default(),
        };
        let contacts: Vec<(SocketAddr, Id20)> = net
            .engine(crawler)
            .routing_table()
            .iter()
            .map(|e| (e.addr, e.id))
            .collect();
        for (a, id) in contacts {
            w.learn(a, Some(id));
        }
        w
    }

    /// Adds a node to visit (e.g. a bootstrap node, whose id may be unknown).
    pub fn learn(&mut self, addr: SocketAddr, id: Option<Id20>) {
        if self.seen.insert(addr) {
            self.frontier.push_back((addr, id));
            self.stats.nodes_seen = self.seen.len();
        }
    }

    /// Infohashes collected so far.
    pub fn found(&self) -> &BTreeSet<InfoHash> {
        &self.found
    }

    /// Progress counters.
    pub fn stats(&self) -> WalkStats {
        self.stats
    }

    /// Whether there is nothing left to ask and nothing outstanding (revisits aside).
    pub fn is_exhausted(&self) -> bool {
        self.frontier.is_empty() && self.in_flight.is_empty()
    }

    /// Crawls until virtual time `deadline`, or until nothing is left to ask and nothing is
    /// outstanding and no revisit falls before the deadline.
    pub fn run(&mut self, net: &mut Network, deadline: Duration) {
        loop {
            self.handle_events(net);
            self.send(net);
            let next_revisit = self.revisit.first().map(|(t, _)| *t);
            let idle = self.is_exhausted() && next_revisit.is_none_or(|t| t > deadline);
            if idle || net.now() >= deadline {
                return;
            }
            let t = (net.now() + Duration::from_millis(50)).min(deadline);
            net.run_until(t);
        }
    }

    fn send(&mut self, net: &mut Network) {
        let now = net.now();
        while let Some(&(t, a)) = self.revisit.first() {
            if t > now {
                break;
            }
            self.revisit.pop_first();
            self.frontier.push_back((a, None));
        }
        while self.in_flight.len() < self.max_in_flight {
            let Some((addr, id)) = self.frontier.pop_front() else {
                break;
            };
            let target = match id {
                Some(id) if self.stats.queries.is_multiple_of(2) => id,
                _ => net.random_id(),
            };
            match net.command(self.crawler, |e, now| e.sample(now, addr, target)) {
                Ok(q) => {
                    self.stats.queries += 1;
                    self.in_flight.insert(q, addr);
                }
                Err(_) => {
                    self.frontier.push_front((addr, id));
                    break;
                }
            }
        }
    }

    fn handle_events(&mut self, net: &mut Network) {
        let now = net.now();
        for (_, e) in net.take_events(self.crawler) {
            match e {
                Event::Reply {
                    query, from, reply, ..
                } => {
                    if self.in_flight.remove(&query).is_none() {
                        continue;
                    }
                    self.stats.replies += 1;
                    let shown = reply.samples.len();
                    self.found.extend(reply.samples);
                    self.stats.infohashes = self.found.len();
                    for n in reply.nodes {
                        self.learn(n.addr, Some(n.id));
                    }
                    let stored = reply.num.unwrap_or(0).max(0) as usize;
                    if stored > shown {
                        let wait = reply.interval.unwrap_or(0).max(0) as u64;
                        self.revisit
                            .insert((now + Duration::from_secs(wait.max(1)), from));
                        self.stats.revisits += 1;
                    }
                }
                Event::QueryFailed { query, .. } if self.in_flight.remove(&query).is_some() => {
                    self.stats.failures += 1;
                }
                _ => {}
            }
        }
    }
}
