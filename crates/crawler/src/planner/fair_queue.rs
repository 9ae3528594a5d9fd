//! Candidates waiting for a fetch slot, served fairly across the nodes that sampled them.
//!
//! Every candidate's first query goes to the node that sampled it, and each node gets at most
//! one query per second from us (the engine's per-IP budget). A plain FIFO would let the 20
//! hashes of one sample fill every fetch slot while they wait for that one node's budget.
//! This queue keeps one FIFO per source IP, hands out candidates round-robin over the IPs, and
//! caps the candidates in flight per IP. Bounded: `push` refuses past `capacity`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::filter::Candidate;

/// The queue. See the module docs.
#[derive(Debug)]
pub struct FairQueue {
    capacity: usize,
    per_source: usize,
    queues: HashMap<IpAddr, Source>,
    /// IPs with queued candidates, in service order (each at most once).
    ring: VecDeque<IpAddr>,
    len: usize,
}

#[derive(Debug, Default)]
struct Source {
    queued: VecDeque<Candidate>,
    in_flight: usize,
    in_ring: bool,
}

impl FairQueue {
    /// A queue of at most `capacity` candidates, at most `per_source` in flight per IP.
    pub fn new(capacity: usize, per_source: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            per_source: per_source.max(1),
            queues: HashMap::new(),
            ring: VecDeque::new(),
            len: 0,
        }
    }

    /// Candidates waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `push` would refuse.
    pub fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    /// Queues a candidate; gives it back when full.
    pub fn push(&mut self, c: Candidate) -> Result<(), Candidate> {
        if self.is_full() {
            return Err(c);
        }
        let ip = c.source.ip();
        let s = self.queues.entry(ip).or_default();
        s.queued.push_back(c);
        self.len += 1;
        if !s.in_ring && s.in_flight < self.per_source {
            s.in_ring = true;
            self.ring.push_back(ip);
        }
        Ok(())
    }

    /// The next candidate whose source has room, round-robin over sources; counts it in
    /// flight until [`FairQueue::done`].
    pub fn pop(&mut self) -> Option<Candidate> {
        let ip = self.ring.pop_front()?;
        let s = self.queues.get_mut(&ip).expect("ring entries have a queue");
        let c = s.queued.pop_front().expect("ring entries have work");
        s.in_flight += 1;
        self.len -= 1;
        if !s.queued.is_empty() && s.in_flight < self.per_source {
            self.ring.push_back(ip);
        } else {
            s.in_ring = false;
        }
        Some(c)
    }

    /// A candidate from `ip` finished.
    pub fn done(&mut self, ip: IpAddr) {
        let Some(s) = self.queues.get_mut(&ip) else {
            return;
        };
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.queued.is_empty() {
            if s.in_flight == 0 {
                self.queues.remove(&ip);
            }
        } else if !s.in_ring && s.in_flight < self.per_source {
            s.in_ring = true;
            self.ring.push_back(ip);
        }
    }

    /// Sources tracked (queued or in flight).
    pub fn sources(&self) -> usize {
        self.queues.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infohash::InfoHash;
    use std::net::SocketAddr;

    fn cand(ip: u8, n: u8) -> Candidate {
        Candidate {
            info_hash: InfoHash::v1([n; 20]),
            source: SocketAddr::from(([127, 0, 0, ip], 6881)),
            seen_at: 0,
        }
    }

    #[test]
    fn round_robin_over_sources_with_a_per_source_cap() {
        let mut q = FairQueue::new(100, 2);
        for n in 0..5 {
            q.push(cand(1, n)).unwrap();
        }
        q.push(cand(2, 10)).unwrap();
        q.push(cand(3, 20)).unwrap();
        let order: Vec<u8> = std::iter::from_fn(|| q.pop())
            .map(|c| c.info_hash.as_bytes()[0])
            .collect();
        // Source 1 gets two slots, the others one each, interleaved; then source 1 waits.
        assert_eq!(order, vec![0, 10, 20, 1]);
        assert_eq!(q.len(), 3);
        q.done(SocketAddr::from(([127, 0, 0, 1], 1)).ip());
        assert_eq!(q.pop().unwrap().info_hash.as_bytes()[0], 2);
        assert!(q.pop().is_none());
        q.done("127.0.0.2".parse().unwrap());
        q.done("127.0.0.3".parse().unwrap());
        assert_eq!(q.sources(), 1);
    }

    #[test]
    fn bounded_and_clean_after_draining() {
        let mut q = FairQueue::new(3, 1);
        q.push(cand(1, 1)).unwrap();
        q.push(cand(1, 2)).unwrap();
        q.push(cand(2, 3)).unwrap();
        assert!(q.push(cand(3, 4)).is_err());
        let mut rng = testkit::seeded(7);
        let mut out = 0;
        for _ in 0..100 {
            while let Some(c) = q.pop() {
                out += 1;
                q.done(c.source.ip());
            }
            let source = testkit::rng::Rng::random_range(&mut rng, 0..16);
            let _ = q.push(cand(source, 0));
        }
        while let Some(c) = q.pop() {
            out += 1;
            q.done(c.source.ip());
        }
        assert!(out >= 100);
        assert!(q.is_empty());
        assert_eq!(q.sources(), 0);
        assert!(q.ring.is_empty());
    }
}
