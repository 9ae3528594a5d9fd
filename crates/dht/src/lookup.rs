//! Iterative Kademlia lookups (`find_node` and `get_peers`), alpha-parallel, converging on
//! the K closest nodes that answer.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krpc::{Id20, NodeInfo, Response, ScrapeFilter};

use crate::event::{LookupId, LookupResult};

/// What a lookup asks each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// `find_node`: converge on the nodes closest to the target.
    FindNode,
    /// `get_peers`: also collect peers (and BEP-33 scrapes when `scrape`).
    GetPeers {
        /// Ask for `BFsd`/`BFpe`.
        scrape: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CandState {
    Fresh,
    InFlight { sent: Instant },
    Responded { token: Option<Vec<u8>> },
    Failed,
}

/// BEP-33 follow-up of a candidate that already answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scrape {
    NotAsked,
    Asked { sent: Instant },
    Done,
}

#[derive(Debug, Clone)]
struct Candidate {
    info: NodeInfo,
    dist: Id20,
    state: CandState,
    scrape: Scrape,
}

/// How many of the closest answering nodes a scraping lookup asks for BEP-33 filters.
///
/// Scrapes go out only after the lookup has converged, in a second phase, because libtorrent
/// (like the BEP allows) answers a `scrape=1` query with the bloom filters *instead of*
/// `values`: asking for both at once would lose the peers.
pub(crate) const SCRAPE_NODES: usize = 8;

/// One lookup in progress.
#[derive(Debug)]
pub(crate) struct Lookup {
    pub(crate) id: LookupId,
    pub(crate) target: Id20,
    pub(crate) kind: LookupKind,
    /// Routing-table bucket this lookup refreshes, if it is a refresh.
    pub(crate) refresh_bucket: Option<usize>,
    candidates: Vec<Candidate>,
    seen_addrs: BTreeSet<SocketAddr>,
    /// Addresses without known ids (bootstrap routers) still to query.
    seeds: Vec<SocketAddr>,
    seeds_in_flight: usize,
    peers: Vec<SocketAddr>,
    peer_set: BTreeSet<SocketAddr>,
    bf_seeds: Option<ScrapeFilter>,
    bf_peers: Option<ScrapeFilter>,
    max_candidates: usize,
    max_peers: usize,
    pub(crate) queries: u32,
    pub(crate) responses: u32,
    /// The `now` of the last [`Lookup::next_queries`]: queries that were already slow then
    /// have been acted upon and no longer need a wake-up.
    last_step: Option<Instant>,
    /// Cached [`Lookup::next_slow`].
    next_slow: Option<Instant>,
}

impl Lookup {
    /// A lookup for `target`, seeded with known contacts and router addresses.
    pub(crate) fn new(
        id: LookupId,
        target: Id20,
        kind: LookupKind,
        known: &[NodeInfo],
        seeds: &[SocketAddr],
        max_candidates: usize,
        max_peers: usize,
    ) -> Self {
        let mut l = Self {
            id,
            target,
            kind,
            refresh_bucket: None,
            candidates: Vec::new(),
            seen_addrs: BTreeSet::new(),
            seeds: seeds.iter().rev().copied().collect(),
            seeds_in_flight: 0,
            peers: Vec::new(),
            peer_set: BTreeSet::new(),
            bf_seeds: None,
            bf_peers: None,
            max_candidates: max_candidates.max(8),
            max_peers,
            queries: 0,
            responses: 0,
            last_step: None,
            next_slow: None,
        };
        for n in known {
            l.add_candidate(*n);
        }
        l
    }

    /// Adds a contact learned from a reply. Duplicates (by id or address) are ignored; when
    /// full, the farthest contact not yet in flight makes room.
    pub(crate) fn add_candidate(&mut self, n: NodeInfo) {
        if self.seen_addrs.contains(&n.addr) {
            return;
        }
        let dist = n.id.distance(&self.target);
        // Found means a candidate with the same id is already there.
        let Err(pos) = self.candidates.binary_search_by(|c| c.dist.cmp(&dist)) else {
            return;
        };
        if self.candidates.len() >= self.max_candidates {
            if pos >= self.candidates.len() {
                return;
            }
            // Evict the farthest candidate that is not in flight.
            let Some(victim) = self
                .candidates
                .iter()
                .rposition(|c| !matches!(c.state, CandState::InFlight { .. }))
            else {
                return;
            };
            if victim < pos {
                return;
            }
            let v = self.candidates.remove(victim);
            self.seen_addrs.remove(&v.info.addr);
        }
        self.seen_addrs.insert(n.addr);
        self.candidates.insert(
            pos,
            Candidate {
                info: n,
                dist,
                state: CandState::Fresh,
                scrape: Scrape::NotAsked,
            },
        );
    }

    fn active(&self, now: Instant, slow_after: Duration) -> usize {
        let slow = |s: &Instant| now.saturating_duration_since(*s) >= slow_after;
        self.seeds_in_flight
            + self
                .candidates
                .iter()
                .filter(|c| matches!(&c.state, CandState::InFlight { sent } if !slow(sent)))
                .count()
    }

    /// Picks who to query next so that at most `alpha` queries are active (a query that has
    /// been outstanding longer than `slow_after` no longer counts). Only candidates within the
    /// `k` closest that have not failed are worth asking. Marks the picks in flight.
    pub(crate) fn next_queries(
        &mut self,
        now: Instant,
        k: usize,
        alpha: usize,
        slow_after: Duration,
    ) -> Vec<NextQuery> {
        self.last_step = Some(now);
        let mut out = Vec::new();
        let mut active = self.active(now, slow_after);
        while active < alpha {
            if let Some(addr) = self.seeds.pop() {
                self.seeds_in_flight += 1;
                out.push(NextQuery::Seed(addr));
                active += 1;
                continue;
            }
            let mut window = 0;
            let mut pick = None;
            for (i, c) in self.candidates.iter().enumerate() {
                if window >= k {
                    break;
                }
                match c.state {
                    CandState::Failed => continue,
                    CandState::Fresh => {
                        pick = Some(i);
                        break;
                    }
                    _ => window += 1,
                }
            }
            let Some(i) = pick else { break };
            self.candidates[i].state = CandState::InFlight { sent: now };
            out.push(NextQuery::Node(self.candidates[i].info));
            active += 1;
        }
        // Second phase: once converged, ask the closest responders for BEP-33 filters.
        if self.wants_scrape() && self.converged(k) {
            for c in self
                .candidates
                .iter_mut()
                .filter(|c| matches!(c.state, CandState::Responded { .. }))
                .take(SCRAPE_NODES)
            {
                if active >= alpha {
                    break;
                }
                if c.scrape == Scrape::NotAsked {
                    c.scrape = Scrape::Asked { sent: now };
                    out.push(NextQuery::Scrape(c.info));
                    active += 1;
                }
            }
        }
        self.queries += out.len() as u32;
        self.next_slow = self.compute_next_slow(slow_after);
        out
    }

    fn wants_scrape(&self) -> bool {
        matches!(self.kind, LookupKind::GetPeers { scrape: true })
    }

    /// When the earliest active query turns slow (so another may be sent), as of the last
    /// [`Lookup::next_queries`] (every answer, failure and timer steps the lookup, so this is
    /// current). Cached: the engine asks for it after every datagram.
    pub(crate) fn next_slow(&self) -> Option<Instant> {
        self.next_slow
    }

    /// Queries that had already turned slow at the last step are not counted: their slot was
    /// reused then, and their timeout is the transaction's deadline.
    fn compute_next_slow(&self, slow_after: Duration) -> Option<Instant> {
        self.candidates
            .iter()
            .filter_map(|c| match (&c.state, &c.scrape) {
                (CandState::InFlight { sent }, _) | (_, Scrape::Asked { sent }) => {
                    Some(*sent + slow_after)
                }
                _ => None,
            })
            .filter(|t| self.last_step.is_none_or(|last| *t > last))
            .min()
    }

    fn find(&mut self, addr: &SocketAddr) -> Option<&mut Candidate> {
        self.candidates.iter_mut().find(|c| c.info.addr == *addr)
    }

    /// Records an answer from `from`: the id it answered with, its write token, the usable
    /// contacts it gave, its peers and its BEP-33 filters.
    pub(crate) fn on_response(
        &mut self,
        from: SocketAddr,
        was_seed: bool,
        r: &Response<'_>,
        contacts: &[NodeInfo],
    ) {
        let (id, token) = (r.id, r.token);
        let nodes = contacts.iter().copied();
        let peers = r.values.iter();
        let scrape = r.bf_seeds.zip(r.bf_peers);
        self.responses += 1;
        if was_seed {
            self.seeds_in_flight = self.seeds_in_flight.saturating_sub(1);
            // A router that answers becomes a candidate like any other.
            self.add_candidate(NodeInfo { id, addr: from });
        }
        let token = token.map(<[u8]>::to_vec);
        if let Some(c) = self.find(&from) {
            if let Scrape::Asked { .. } = c.scrape {
                c.scrape = Scrape::Done;
                if token.is_some() {
                    c.state = CandState::Responded { token };
                }
            } else if c.info.id == id {
                c.state = CandState::Responded { token };
            } else {
                // It answered under another id than we were told: it is not the node we
                // ranked, so it cannot count toward convergence.
                c.state = CandState::Failed;
            }
        }
        for n in nodes {
            self.add_candidate(n);
        }
        for p in peers {
            if self.peers.len() >= self.max_peers {
                break;
            }
            if self.peer_set.insert(p) {
                self.peers.push(p);
            }
        }
        if let Some((sd, pe)) = scrape {
            self.bf_seeds
                .get_or_insert_with(ScrapeFilter::default)
                .union(sd);
            self.bf_peers
                .get_or_insert_with(ScrapeFilter::default)
                .union(pe);
        }
    }

    /// Records a timeout or error from `from`.
    pub(crate) fn on_failure(&mut self, from: &SocketAddr, was_seed: bool) {
        if was_seed {
            self.seeds_in_flight = self.seeds_in_flight.saturating_sub(1);
            return;
        }
        if let Some(c) = self.find(from) {
            if let Scrape::Asked { .. } = c.scrape {
                // Only the scrape follow-up failed; the node's first answer still counts.
                c.scrape = Scrape::Done;
            } else {
                c.state = CandState::Failed;
            }
        }
    }

    /// Whether the node search has converged: nothing in flight, nothing fresh within the K
    /// closest live candidates.
    fn converged(&self, k: usize) -> bool {
        if self.seeds_in_flight > 0 || !self.seeds.is_empty() {
            return false;
        }
        let mut window = 0;
        for c in &self.candidates {
            if window >= k {
                break;
            }
            match c.state {
                CandState::Failed => {}
                CandState::Responded { .. } => window += 1,
                CandState::Fresh | CandState::InFlight { .. } => return false,
            }
        }
        // Slow queries outside the window may still be running; they do not matter.
        true
    }

    /// Whether the lookup is finished: converged, and for a scraping lookup the closest
    /// responders have answered (or failed) the scrape.
    pub(crate) fn is_done(&self, k: usize) -> bool {
        self.converged(k)
            && (!self.wants_scrape()
                || self
                    .candidates
                    .iter()
                    .filter(|c| matches!(c.state, CandState::Responded { .. }))
                    .take(SCRAPE_NODES)
                    .all(|c| c.scrape == Scrape::Done))
    }

    /// The result so far.
    pub(crate) fn result(&self, k: usize) -> LookupResult {
        let closest = self
            .candidates
            .iter()
            .filter_map(|c| match &c.state {
                CandState::Responded { token } => Some((c.info, token.clone())),
                _ => None,
            })
            .take(k)
            .collect();
        LookupResult {
            id: self.id,
            target: self.target,
            closest,
            peers: self.peers.clone(),
            scrape_seeds: self.bf_seeds.as_ref().map(ScrapeFilter::estimate),
            scrape_peers: self.bf_peers.as_ref().map(ScrapeFilter::estimate),
            queries: self.queries,
            responses: self.responses,
        }
    }
}

/// Whom a lookup wants to query next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NextQuery {
    /// A router address with no known id.
    Seed(SocketAddr),
    /// A ranked candidate.
    Node(NodeInfo),
    /// A candidate that answered, asked again for BEP-33 filters.
    Scrape(NodeInfo),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeInfo {
        let mut id = Id20::ZERO;
        id.0[0] = b;
        NodeInfo {
            id,
            addr: SocketAddr::from(([10, 0, 0, b], 1)),
        }
    }

    /// A lookup for the zero id over `known`, keeping `cap` candidates and 10 peers.
    fn lookup(known: &[NodeInfo], kind: LookupKind, cap: usize) -> Lookup {
        Lookup::new(LookupId(1), Id20::ZERO, kind, known, &[], cap, 10)
    }

    #[test]
    fn alpha_and_convergence() {
        let now = Instant::now();
        let slow = Duration::from_secs(1);
        let known: Vec<_> = (1..=10).map(node).collect();
        let mut l = lookup(&known, LookupKind::FindNode, 100);
        let q = l.next_queries(now, 4, 3, slow);
        assert_eq!(q.len(), 3);
        assert_eq!(q[0], NextQuery::Node(node(1)));
        assert!(
            l.next_queries(now, 4, 3, slow).is_empty(),
            "alpha bounds the parallelism"
        );
        // Once slow, a query no longer blocks a new one; only the K closest are worth asking.
        assert_eq!(
            l.next_queries(now + slow, 4, 3, slow),
            vec![NextQuery::Node(node(4))]
        );
        for b in 1..=3 {
            l.on_response(node(b).addr, false, &Response::new(node(b).id), &[]);
        }
        assert!(!l.is_done(4), "node 4 is still in flight");
        l.on_response(node(4).addr, false, &Response::new(node(4).id), &[]);
        assert!(l.is_done(4));
        let r = l.result(4);
        assert_eq!(
            r.closest.iter().map(|c| c.0).collect::<Vec<_>>(),
            (1..=4).map(node).collect::<Vec<_>>()
        );
    }

    #[test]
    fn scrape_is_a_second_phase_on_the_closest_responders() {
        let now = Instant::now();
        let slow = Duration::from_secs(1);
        let known: Vec<_> = (1..=3).map(node).collect();
        let kind = LookupKind::GetPeers { scrape: true };
        let mut l = lookup(&known, kind, 100);
        let q = l.next_queries(now, 8, 3, slow);
        assert!(
            q.iter().all(|q| matches!(q, NextQuery::Node(_))),
            "phase one asks for peers: {q:?}"
        );
        for b in 1..=3 {
            l.on_response(node(b).addr, false, &Response::new(node(b).id), &[]);
        }
        assert!(
            !l.is_done(8),
            "converged, but scrapes are still to be asked"
        );
        let q = l.next_queries(now, 8, 3, slow);
        assert_eq!(
            q,
            (1..=3)
                .map(|b| NextQuery::Scrape(node(b)))
                .collect::<Vec<_>>()
        );
        let mut bf = Response::new(node(1).id);
        let filter = [0xffu8; 256];
        bf.bf_seeds = Some(&filter);
        bf.bf_peers = Some(&filter);
        l.on_response(node(1).addr, false, &bf, &[]);
        l.on_failure(&node(2).addr, false);
        assert!(!l.is_done(8));
        l.on_response(node(3).addr, false, &Response::new(node(3).id), &[]);
        assert!(l.is_done(8));
        let r = l.result(8);
        assert_eq!(
            r.closest.len(),
            3,
            "a failed scrape does not undo the first answer"
        );
        assert!(r.scrape_seeds.unwrap() > 1000.0);
    }

    #[test]
    fn candidate_cap_keeps_closest() {
        let known: Vec<_> = (1..=50).rev().map(node).collect();
        let l = lookup(&known, LookupKind::FindNode, 10);
        assert_eq!(l.candidates.len(), 10);
        assert_eq!(l.candidates[0].info, node(1));
        assert_eq!(l.candidates[9].info, node(10));
    }

    #[test]
    fn failures_widen_the_window() {
        let now = Instant::now();
        let slow = Duration::from_secs(1);
        let known: Vec<_> = (1..=4).map(node).collect();
        let mut l = lookup(&known, LookupKind::FindNode, 100);
        let q = l.next_queries(now, 2, 2, slow);
        assert_eq!(q.len(), 2);
        l.on_failure(&node(1).addr, false);
        l.on_failure(&node(2).addr, false);
        let q = l.next_queries(now, 2, 2, slow);
        assert_eq!(q, vec![NextQuery::Node(node(3)), NextQuery::Node(node(4))]);
    }
}
