//! Candidates through the planner: the inbox and fair queue, resolution slots, the TCP cap,
//! and the swarm check between peers and TCP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use infohash::InfoHash;

use super::resolve::{Policy, Resolution, Step, Swarm};
use super::{Action, Counts, Planner, ResolveId};
use crate::filter::{Candidate, PreFetchFilter, SwarmFacts, Verdict};

impl Planner {
    /// Moves candidates into the fair queue and starts resolutions up to the cap.
    pub(super) fn dispatch(&mut self, now: Instant) {
        while !self.queue.is_full() {
            let Some(c) = self.inbox.pop_front() else {
                break;
            };
            // Not full (checked above).
            let _ = self.queue.push(c);
        }
        while !self.stopping && self.in_flight < self.cfg.resolve_concurrency.max(1) {
            let Some(c) = self.queue.pop() else { break };
            self.in_flight += 1;
            let id = self.next_id;
            self.next_id += 1;
            let (r, first) = Resolution::start(c, now);
            self.resolutions.insert(id, r);
            self.apply(now, id, vec![first]);
        }
    }

    /// Steps resolution `id` with `f`, giving it the policy (settings and the swarm check).
    pub(super) fn step(
        &mut self,
        now: Instant,
        id: ResolveId,
        f: impl FnOnce(&mut Resolution, &mut Policy<'_>) -> Vec<Step>,
    ) {
        let Some(r) = self.resolutions.get_mut(&id) else {
            return;
        };
        let filter = self.filter.as_ref();
        let pending = &self.pending;
        let counts = &mut self.counts;
        let candidate = r.candidate.clone();
        let mut check = |peers: usize, swarm: Option<Swarm>| {
            swarm_check(filter, pending, counts, &candidate, peers, swarm)
        };
        let mut policy = Policy {
            peers_per_hash: self.cfg.peers_per_hash,
            scrape: self.cfg.scrape,
            wants_swarm: filter.wants_swarm(),
            swarm_check: &mut check,
        };
        let steps = f(r, &mut policy);
        self.apply(now, id, steps);
        self.dispatch(now);
    }

    /// Turns a resolution's steps into actions, and ends it when it is over.
    pub(super) fn apply(&mut self, now: Instant, id: ResolveId, steps: Vec<Step>) {
        let Some(r) = self.resolutions.get(&id) else {
            return;
        };
        let source = r.candidate.source;
        let info_hash = r.candidate.info_hash;
        for s in steps {
            match s {
                Step::GetPeers => self.actions.push_back(Action::GetPeers {
                    id,
                    source,
                    info_hash,
                }),
                Step::Scrape => self.actions.push_back(Action::Scrape {
                    id,
                    source,
                    info_hash,
                }),
                Step::Lookup { seed } => self.actions.push_back(Action::Lookup {
                    id,
                    info_hash,
                    seed,
                }),
                Step::Fetch { peers } => {
                    self.tcp_waiting.push_back((id, peers));
                    self.pump_tcp();
                }
                Step::Finish { swarm } => {
                    let r = self.resolutions.remove(&id).expect("present");
                    *self.counts.fetch.entry("ok").or_default() += 1;
                    self.pending.remove(&r.candidate.info_hash);
                    self.finishing.insert(id, source.ip());
                    self.actions.push_back(Action::Finish {
                        id,
                        candidate: r.candidate,
                        swarm,
                        took: now - r.started,
                    });
                }
                Step::GiveUp { cause } => {
                    *self.counts.fetch.entry(cause).or_default() += 1;
                    self.end(id);
                }
                Step::Dropped => self.end(id),
            }
        }
        debug_assert!(
            self.resolutions.get(&id).is_none_or(|r| !r.is_over()),
            "an ended resolution is removed"
        );
    }

    /// Ends resolution `id` without a record: its slot is free at once.
    pub(super) fn end(&mut self, id: ResolveId) {
        if let Some(r) = self.resolutions.remove(&id) {
            self.pending.remove(&r.candidate.info_hash);
            self.free(r.candidate.source.ip());
        }
    }

    pub(super) fn free(&mut self, ip: IpAddr) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.queue.done(ip);
    }

    /// Starts waiting fetches while TCP slots are free.
    pub(super) fn pump_tcp(&mut self) {
        while self.tcp_in_use.len() < self.cfg.fetch_concurrency.max(1) {
            let Some((id, peers)) = self.tcp_waiting.pop_front() else {
                break;
            };
            let Some(r) = self.resolutions.get(&id) else {
                continue;
            };
            self.tcp_in_use.insert(id);
            self.actions.push_back(Action::Fetch {
                id,
                info_hash: r.candidate.info_hash,
                peers,
            });
        }
    }
}

/// The swarm check between peers and TCP: `false` drops the candidate (counted).
fn swarm_check(
    filter: &dyn PreFetchFilter,
    pending: &HashMap<InfoHash, u32>,
    counts: &mut Counts,
    c: &Candidate,
    peers: usize,
    swarm: Option<Swarm>,
) -> bool {
    let round = |x: f64| x.round().clamp(0.0, f64::from(u32::MAX)) as u32;
    let facts = SwarmFacts {
        peers,
        seeders: swarm.map(|s| round(s.0)),
        leechers: swarm.map(|s| round(s.1)),
        times_seen: pending.get(&c.info_hash).copied().unwrap_or(1),
    };
    match filter.check_swarm(c, &facts) {
        Verdict::Pass => {
            counts.swarm_pass += 1;
            true
        }
        Verdict::Drop(why) => {
            counts.swarm_drop += 1;
            tracing::debug!(info_hash = %c.info_hash, %why, "dropped before connecting");
            false
        }
    }
}
