//! The event loop: N engines on virtual addresses, a virtual clock and a discrete-event queue.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use dht::{Engine, Event, LookupId, LookupResult};
use krpc::Id20;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::Clock;
use crate::config::SimConfig;
use crate::link::Link;
use crate::oracle::{self, Score};
use crate::queue::{EventQueue, Payload};
use crate::trace::TraceHash;

/// The UDP port every simulated node listens on.
pub const PORT: u16 = 6881;

/// The virtual address of node `i`: `10.0.0.0 + i + 1`, port 6881. These addresses are never
/// bound or sent to: they only key the simulator's routing. (10/8 is also BEP-42-exempt, so
/// engines keep their random ids.)
pub fn node_addr(i: usize) -> SocketAddr {
    let n = u32::try_from(i + 1).expect("fewer than 2^24 nodes");
    assert!(n < 1 << 24, "fewer than 2^24 nodes");
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | n), PORT))
}

/// The node index behind a virtual address (the inverse of [`node_addr`]).
pub fn node_index(addr: &SocketAddr) -> Option<usize> {
    match addr {
        SocketAddr::V4(a) if a.port() == PORT => {
            let n = u32::from(*a.ip()).checked_sub(0x0a00_0001)?;
            (n < (1 << 24) - 1).then_some(n as usize)
        }
        _ => None,
    }
}

/// SplitMix64: derives independent seeds from the master seed.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const STREAM_LINK: u64 = 1 << 40;
const STREAM_WORKLOAD: u64 = (1 << 40) + 1;

/// What one [`Network::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing is scheduled.
    Idle,
    /// A datagram was handed to node `to`.
    Delivered {
        /// Sending node.
        from: usize,
        /// Receiving node.
        to: usize,
        /// Datagram size.
        bytes: usize,
    },
    /// A datagram reached a node that is offline and was dropped.
    DroppedOffline {
        /// The offline node.
        to: usize,
    },
    /// Node `node`'s `handle_timeout` ran.
    Timer {
        /// The node.
        node: usize,
    },
    /// Node `node`'s timer came due, but its deadline had moved later; it was rescheduled.
    TimerDeferred {
        /// The node.
        node: usize,
    },
}

/// Network-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Steps taken (deliveries, offline drops, timer firings and deferrals).
    pub steps: u64,
    /// Datagrams handed to an engine.
    pub delivered: u64,
    /// Bytes handed to engines.
    pub bytes_delivered: u64,
    /// Datagrams lost by the link model.
    pub dropped_loss: u64,
    /// Datagrams to an address no node has.
    pub dropped_unknown: u64,
    /// Datagrams that arrived at an offline node.
    pub dropped_offline: u64,
    /// `handle_timeout` calls.
    pub timers_fired: u64,
    /// Times an engine, right after `handle_timeout(now)`, asked to be woken again at or
    /// before `now`: it had nothing it could do yet but claimed otherwise. A real driver
    /// would busy-loop; the simulator backs off (see `SimConfig::spin_backoff_max`).
    pub timer_spins: u64,
    /// Events dropped because a node's event buffer was full.
    pub events_dropped: u64,
}

/// One simulated node.
#[derive(Debug)]
struct Node {
    engine: Engine,
    addr: SocketAddr,
    online: bool,
    /// Virtual time of the node's live timer entry in the queue, if any.
    timer_at: Option<Duration>,
    /// Consecutive spins (see `NetStats::timer_spins`).
    spin_streak: u32,
    events: VecDeque<(Duration, Event)>,
}

/// N DHT engines on a deterministic virtual network. See the crate docs for the model.
#[derive(Debug)]
pub struct Network {
    cfg: SimConfig,
    clock: Clock,
    queue: EventQueue,
    link: Link,
    rng: ChaCha8Rng,
    nodes: Vec<Node>,
    trace: TraceHash,
    stats: NetStats,
}

impl Network {
    /// Creates `cfg.nodes` engines at virtual time zero (none bootstrapped yet). A
    /// `read_only_fraction` of them (chosen by the seed, never node 0) run read-only.
    pub fn new(cfg: SimConfig) -> Self {
        let clock = Clock::new();
        let mut net = Self {
            link: Link::new(cfg.link, derive_seed(cfg.seed, STREAM_LINK)),
            rng: ChaCha8Rng::seed_from_u64(derive_seed(cfg.seed, STREAM_WORKLOAD)),
            clock,
            queue: EventQueue::new(),
            nodes: Vec::with_capacity(cfg.nodes),
            trace: TraceHash::new(),
            stats: NetStats::default(),
            cfg,
        };
        let n = net.cfg.nodes;
        let mut read_only = vec![false; n];
        if n > 1 {
            let count = ((n as f64 * net.cfg.read_only_fraction).round() as usize).min(n - 1);
            let mut idx: Vec<usize> = (1..n).collect();
            idx.shuffle(&mut net.rng);
            for &i in &idx[..count] {
                read_only[i] = true;
            }
        }
        for ro in read_only {
            let mut c = net.cfg.engine.clone();
            c.read_only = ro;
            net.add_node_with(c);
        }
        net
    }

    /// Adds a node running the simulation's engine template (read-only or not). Its seed
    /// derives from the master seed and its index only, so adding nodes never changes others.
    pub fn add_node(&mut self, read_only: bool) -> usize {
        let mut c = self.cfg.engine.clone();
        c.read_only = read_only;
        self.add_node_with(c)
    }

    /// Adds a node with a custom engine configuration. Its `seed` is always replaced by the
    /// one derived from the network seed and the node's index.
    pub fn add_node_with(&mut self, mut c: dht::Config) -> usize {
        let i = self.nodes.len();
        c.seed = derive_seed(self.cfg.seed, i as u64);
        let addr = node_addr(i);
        let engine = Engine::new(c, addr, self.clock.instant());
        self.nodes.push(Node {
            engine,
            addr,
            online: true,
            timer_at: None,
            spin_streak: 0,
            events: VecDeque::new(),
        });
        self.reschedule(i, false);
        i
    }

    // ------------------------------------------------------------------ getters

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Virtual time since the start.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// The current virtual time as the engines see it.
    pub fn instant(&self) -> Instant {
        self.clock.instant()
    }

    /// Node `i`'s engine.
    pub fn engine(&self, i: usize) -> &Engine {
        &self.nodes[i].engine
    }

    /// Node `i`'s engine, mutably. After issuing commands through it, call
    /// [`Network::flush`] so its datagrams, events and timer are picked up (or use
    /// [`Network::command`], which does both).
    pub fn engine_mut(&mut self, i: usize) -> &mut Engine {
        &mut self.nodes[i].engine
    }

    /// Node `i`'s virtual address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].addr
    }

    /// The node at `addr`.
    pub fn node_at(&self, addr: &SocketAddr) -> Option<usize> {
        node_index(addr).filter(|&i| i < self.nodes.len())
    }

    /// Whether node `i` is a read-only (BEP-43) node.
    pub fn is_read_only(&self, i: usize) -> bool {
        self.nodes[i].engine.config().read_only
    }

    /// Whether node `i` is online.
    pub fn is_online(&self, i: usize) -> bool {
        self.nodes[i].online
    }

    /// Events collected for node `i` (oldest first), with the virtual time they were emitted.
    pub fn events(&self, i: usize) -> impl Iterator<Item = &(Duration, Event)> {
        self.nodes[i].events.iter()
    }

    /// Removes and returns node `i`'s collected events.
    pub fn take_events(&mut self, i: usize) -> Vec<(Duration, Event)> {
        self.nodes[i].events.drain(..).collect()
    }

    /// Removes and returns the result of lookup `id` on node `i`, if it has finished.
    pub fn take_lookup(&mut self, i: usize, id: LookupId) -> Option<LookupResult> {
        let ev = &mut self.nodes[i].events;
        let pos = ev
            .iter()
            .position(|(_, e)| matches!(e, Event::LookupDone(r) if r.id == id))?;
        match ev.remove(pos) {
            Some((_, Event::LookupDone(r))) => Some(r),
            _ => None,
        }
    }

    /// The workload RNG (seeded from the master seed; independent of the link and engines).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// A uniformly random 160-bit id from the workload RNG.
    pub fn random_id(&mut self) -> Id20 {
        let mut id = Id20::ZERO;
        self.rng.fill_bytes(&mut id.0);
        id
    }

    /// A uniformly random online full (not read-only) node, from the workload RNG.
    pub fn random_full_node(&mut self) -> usize {
        loop {
            let i = self.rng.random_range(0..self.nodes.len());
            if self.nodes[i].online && !self.is_read_only(i) {
                return i;
            }
        }
    }

    /// Network-wide counters.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Datagrams handed to engines so far.
    pub fn messages_delivered(&self) -> u64 {
        self.stats.delivered
    }

    /// Datagrams dropped so far (lost, to unknown addresses, or to offline nodes).
    pub fn datagrams_dropped(&self) -> u64 {
        self.stats.dropped_loss + self.stats.dropped_unknown + self.stats.dropped_offline
    }

    /// Datagrams currently in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.datagrams_in_flight()
    }

    /// The FNV-1a 64 hash of every datagram delivered so far (time, source, destination,
    /// bytes), in delivery order.
    pub fn trace_hash(&self) -> u64 {
        self.trace.value()
    }

    // ------------------------------------------------------------------ oracle

    /// The true `k` closest ids to `target` among online full nodes, leaving out node
    /// `exclude` (a lookup never returns the node that runs it).
    pub fn true_closest(&self, target: &Id20, k: usize, exclude: Option<usize>) -> Vec<Id20> {
        let ids = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| Some(*i) != exclude && n.online && !n.engine.config().read_only)
            .map(|(_, n)| n.engine.id());
        oracle::k_closest(ids, target, k)
    }

    /// Scores the result of a lookup run by node `from` against [`Network::true_closest`]
    /// with K from the engine template.
    pub fn score(&self, from: usize, r: &LookupResult) -> Score {
        let want = self.true_closest(&r.target, self.cfg.engine.k, Some(from));
        let got: Vec<Id20> = r.closest.iter().map(|(n, _)| n.id).collect();
        oracle::score(&got, &want)
    }

    // ------------------------------------------------------------------ commands

    /// Runs `f` on node `i`'s engine at the current virtual time, then drains the engine
    /// (datagrams, events, timer) as the engine's call protocol requires.
    pub fn command<R>(&mut self, i: usize, f: impl FnOnce(&mut Engine, Instant) -> R) -> R {
        let now = self.clock.instant();
        let r = f(&mut self.nodes[i].engine, now);
        self.after_input(i, false);
        r
    }

    /// Drains node `i` after it was driven through [`Network::engine_mut`].
    pub fn flush(&mut self, i: usize) {
        self.after_input(i, false);
    }

    /// Bootstraps node `i` from the given nodes' addresses.
    pub fn bootstrap_node(&mut self, i: usize, routers: &[usize]) {
        let addrs: Vec<SocketAddr> = routers.iter().map(|&r| self.nodes[r].addr).collect();
        // Busy cannot happen on a fresh engine; a failure would show up in the lookups' results.
        let _ = self.command(i, |e, now| e.bootstrap(now, &addrs));
    }

    /// Joins every node one after the other, `bootstrap_spacing` of virtual time apart, each
    /// from up to `bootstrap_peers` random earlier online full nodes. The first full node
    /// has nobody to ask; it learns of the others when they query it. Runs the network
    /// while doing so; returns when the last node has started its bootstrap.
    pub fn bootstrap_all(&mut self) {
        let mut joined: Vec<usize> = Vec::new();
        for i in 0..self.nodes.len() {
            if !self.nodes[i].online {
                continue;
            }
            if i > 0 {
                let t = self.now() + self.cfg.bootstrap_spacing;
                self.run_until(t);
            }
            let want = self.cfg.bootstrap_peers.min(joined.len());
            let routers: Vec<usize> = joined
                .choose_multiple(&mut self.rng, want)
                .copied()
                .collect();
            if !routers.is_empty() {
                self.bootstrap_node(i, &routers);
            }
            if !self.is_read_only(i) {
                joined.push(i);
            }
        }
    }

    /// Takes node `i` offline: datagrams to it are dropped, its timers do not run.
    pub fn set_online(&mut self, i: usize, online: bool) {
        self.nodes[i].online = online;
        if online {
            self.nodes[i].timer_at = None;
            self.reschedule(i, false);
        }
    }

    // ------------------------------------------------------------------ running

    /// Processes the next scheduled event (skipping superseded timers).
    pub fn step(&mut self) -> Step {
        loop {
            let Some((at, payload)) = self.queue.pop() else {
                return Step::Idle;
            };
            match payload {
                Payload::Datagram {
                    from,
                    from_addr,
                    to,
                    data,
                } => {
                    self.clock.advance_to(at);
                    self.stats.steps += 1;
                    let node = &mut self.nodes[to];
                    if !node.online {
                        self.stats.dropped_offline += 1;
                        return Step::DroppedOffline { to };
                    }
                    self.trace.record(at, &from_addr, &node.addr, &data);
                    self.stats.delivered += 1;
                    self.stats.bytes_delivered += data.len() as u64;
                    node.engine
                        .handle_datagram(self.clock.instant(), from_addr, &data);
                    self.after_input(to, false);
                    return Step::Delivered {
                        from,
                        to,
                        bytes: data.len(),
                    };
                }
                Payload::Timer { node } => {
                    let n = &mut self.nodes[node];
                    if n.timer_at != Some(at) || !n.online {
                        continue; // superseded
                    }
                    self.clock.advance_to(at);
                    self.stats.steps += 1;
                    n.timer_at = None;
                    let due = n
                        .engine
                        .poll_timeout()
                        .is_some_and(|d| self.clock.offset_of(d) <= at);
                    if !due {
                        self.reschedule(node, false);
                        return Step::TimerDeferred { node };
                    }
                    self.stats.timers_fired += 1;
                    n.engine.handle_timeout(self.clock.instant());
                    self.after_input(node, true);
                    return Step::Timer { node };
                }
            }
        }
    }

    /// Runs every event scheduled up to virtual time `t` (inclusive), then sets the clock to
    /// `t`.
    pub fn run_until(&mut self, t: Duration) {
        while self.queue.peek_time().is_some_and(|at| at <= t) {
            self.step();
        }
        if t > self.clock.now() {
            self.clock.advance_to(t);
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.now() + d;
        self.run_until(t);
    }

    /// Runs until no datagram is in flight and no engine has a lookup or query outstanding,
    /// checking every 100 ms of virtual time, or until virtual time `deadline`. Returns
    /// whether the network went quiet. (Engines always have a maintenance timer, so the
    /// queue itself is never empty.)
    pub fn run_until_quiet(&mut self, deadline: Duration) -> bool {
        loop {
            if self.is_quiet() {
                return true;
            }
            if self.now() >= deadline {
                return false;
            }
            let t = (self.now() + Duration::from_millis(100)).min(deadline);
            self.run_until(t);
        }
    }

    /// Whether no datagram is in flight and no online engine has a lookup or query
    /// outstanding.
    pub fn is_quiet(&self) -> bool {
        self.queue.datagrams_in_flight() == 0
            && self
                .nodes
                .iter()
                .all(|n| !n.online || (n.engine.active_lookups() == 0 && n.engine.in_flight() == 0))
    }

    /// Runs until every `(node, lookup)` in `pending` has finished or virtual time `deadline`
    /// passes; returns the results found, in the order of `pending` (`None` for unfinished).
    pub fn wait_lookups(
        &mut self,
        pending: &[(usize, LookupId)],
        deadline: Duration,
    ) -> Vec<Option<LookupResult>> {
        let mut out: Vec<Option<LookupResult>> = vec![None; pending.len()];
        loop {
            for (slot, &(i, id)) in out.iter_mut().zip(pending) {
                if slot.is_none() {
                    *slot = self.take_lookup(i, id);
                }
            }
            if out.iter().all(Option::is_some) || self.now() >= deadline {
                return out;
            }
            let t = (self.now() + Duration::from_millis(50)).min(deadline);
            self.run_until(t);
        }
    }

    // ------------------------------------------------------------------ internals

    /// The drain order of the engine's call protocol: transmits, then events, then the timer.
    fn after_input(&mut self, i: usize, woke: bool) {
        let now = self.clock.now();
        while let Some(t) = self.nodes[i].engine.poll_transmit() {
            let Some(to) = self.node_at(&t.dst) else {
                self.stats.dropped_unknown += 1;
                continue;
            };
            match self.link.transit() {
                None => self.stats.dropped_loss += 1,
                Some(delay) => self.queue.push(
                    now + delay,
                    Payload::Datagram {
                        from: i,
                        from_addr: self.nodes[i].addr,
                        to,
                        data: t.data,
                    },
                ),
            }
        }
        let keep_added = self.cfg.keep_node_added;
        let cap = self.cfg.events_per_node;
        let node = &mut self.nodes[i];
        while let Some(e) = node.engine.poll_event() {
            if !keep_added && matches!(e, Event::NodeAdded(_)) {
                continue;
            }
            if node.events.len() >= cap {
                node.events.pop_front();
                self.stats.events_dropped += 1;
            }
            node.events.push_back((now, e));
        }
        if self.cfg.check_invariants
            && let Err(v) = node.engine.routing_table().check_invariants()
        {
            panic!(
                "routing-table invariant violated: seed {} step {} node {i} t={now:?}: {v}",
                self.cfg.seed, self.stats.steps
            );
        }
        self.reschedule(i, woke);
    }

    /// Makes sure node `i` has a timer entry no later than its engine's `poll_timeout`
    /// (rounded up to the timer granularity). `woke`: the engine just ran `handle_timeout`.
    fn reschedule(&mut self, i: usize, woke: bool) {
        let now = self.clock.now();
        let g = self.cfg.timer_granularity;
        let node = &mut self.nodes[i];
        if !node.online {
            return;
        }
        let Some(deadline) = node.engine.poll_timeout() else {
            return;
        };
        let mut at = round_up(self.clock.offset_of(deadline), g).max(now);
        if woke {
            if at <= now {
                self.stats.timer_spins += 1;
                let backoff = g
                    .max(Duration::from_nanos(1))
                    .saturating_mul(1 << node.spin_streak.min(20))
                    .min(self.cfg.spin_backoff_max.max(g));
                node.spin_streak += 1;
                at = now + backoff;
            } else {
                node.spin_streak = 0;
            }
        }
        if node.timer_at.is_some_and(|t| t <= at) {
            return; // the existing, earlier entry will re-check when it fires
        }
        node.timer_at = Some(at);
        self.queue.push(at, Payload::Timer { node: i });
    }
}

fn round_up(d: Duration, g: Duration) -> Duration {
    let g = g.as_nanos();
    if g <= 1 {
        return d;
    }
    let n = d.as_nanos().div_ceil(g) * g;
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_private_v4() {
        assert_eq!(node_addr(0), "10.0.0.1:6881".parse().unwrap());
        assert_eq!(node_addr(255), "10.0.1.0:6881".parse().unwrap());
        for i in [0, 1, 254, 255, 70_000] {
            assert_eq!(node_index(&node_addr(i)), Some(i));
        }
        assert_eq!(node_index(&"10.0.0.0:6881".parse().unwrap()), None);
        assert_eq!(node_index(&"10.0.0.1:6882".parse().unwrap()), None);
        assert_eq!(node_index(&"11.0.0.1:6881".parse().unwrap()), None);
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
    }

    #[test]
    fn rounding() {
        let ms = Duration::from_millis(1);
        assert_eq!(round_up(Duration::from_micros(1500), ms), 2 * ms);
        assert_eq!(round_up(2 * ms, ms), 2 * ms);
        assert_eq!(
            round_up(Duration::from_nanos(7), Duration::ZERO),
            Duration::from_nanos(7)
        );
    }
}
