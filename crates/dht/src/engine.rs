//! The sans-IO DHT node.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use infohash::InfoHash;
use krpc::{Id20, Kind, Message, Method, NodeInfo, Query, Response};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bep42;
use crate::config::{Config, IdCheck};
use crate::event::{Event, LookupId, QueryFailure, QueryId, Reply, Transmit};
use crate::ip_vote::IpVote;
use crate::lookup::{Lookup, LookupKind, NextQuery};
use crate::peer_store::PeerStore;
use crate::rate_limit::{IpRateLimiter, TokenBucket};
use crate::routing_table::{Insert, RoutingTable, TableConfig};
use crate::stats::Stats;
use crate::token::TokenIssuer;
use crate::transactions::{Outgoing, Purpose, Transactions, Txn};

/// Prefix lengths the join covers with lookups even before the table has split that far.
const JOIN_PREFIXES: usize = 8;

/// A command could not be started: the engine is at one of its caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Too many transactions in flight or queued.
    #[error("too many queries in flight")]
    Transactions,
    /// Too many concurrent lookups.
    #[error("too many lookups in progress")]
    Lookups,
}

#[derive(Debug)]
struct Pending {
    dst: SocketAddr,
    out: Outgoing,
    purpose: Purpose,
}

/// A BitTorrent DHT node without IO.
///
/// The engine never reads the clock, opens a socket or touches the OS RNG: time comes in as
/// `now`, randomness from [`Config::seed`]. Its four verb families:
///
/// * getters: [`Engine::id`], [`Engine::routing_table`], [`Engine::stats`], ...
/// * inputs: [`Engine::handle_datagram`], [`Engine::handle_timeout`];
/// * commands: [`Engine::bootstrap`], [`Engine::find_node`], [`Engine::get_peers`], and the
///   direct queries [`Engine::ping`], [`Engine::find_node_at`], [`Engine::sample`],
///   [`Engine::get_peers_at`], [`Engine::announce_at`];
/// * outputs: [`Engine::poll_transmit`], [`Engine::poll_event`], [`Engine::poll_timeout`].
///
/// Drain order, after every input or command: call `poll_transmit` until `None` and send
/// each datagram; call `poll_event` until `None`; then ask `poll_timeout` when to call
/// `handle_timeout` next (and call it then, or earlier when a datagram arrives).
///
/// Every table and queue is capped by [`Config`]: the routing table (K per bucket, at most
/// 160 buckets), transactions, the queue of budget-delayed queries, lookups and their
/// candidates, the peer store, rate-limiter maps, outgoing datagrams and events. Datagrams
/// that are not KRPC are counted in [`Stats::malformed`] and dropped.
#[derive(Debug)]
pub struct Engine {
    pub(crate) cfg: Config,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) local: SocketAddr,
    pub(crate) id: Id20,
    pub(crate) table: RoutingTable,
    pub(crate) tokens: TokenIssuer,
    pub(crate) store: PeerStore,
    pub(crate) stats: Stats,
    txns: Transactions,
    pending: VecDeque<Pending>,
    lookups: BTreeMap<LookupId, Lookup>,
    next_lookup: u64,
    next_query: u64,
    out_ip: IpRateLimiter,
    out_global: TokenBucket,
    in_ip: IpRateLimiter,
    vote: IpVote,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    routers: Vec<SocketAddr>,
    bootstrap_lookup: Option<LookupId>,
    next_maintenance: Instant,
    to_ping: VecDeque<SocketAddr>,
    to_ping_set: BTreeSet<SocketAddr>,
    refreshing: BTreeSet<usize>,
    /// When queued queries or pings can next get budget.
    retry_at: Option<Instant>,
    /// Earliest time for the next automatic re-bootstrap, and the current backoff.
    next_bootstrap: Instant,
    bootstrap_backoff: std::time::Duration,
}

impl Engine {
    /// A node bound to `local` (the driver's socket address).
    pub fn new(cfg: Config, local: SocketAddr, now: Instant) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let id = cfg.node_id.unwrap_or_else(|| {
            let mut id = Id20::ZERO;
            rng.fill_bytes(&mut id.0);
            id
        });
        let table = RoutingTable::new(id, table_config(&cfg), now);
        let mut secret = [0u8; 16];
        rng.fill_bytes(&mut secret);
        let hseed = rng.next_u64();
        Self {
            tokens: TokenIssuer::new(secret, now, cfg.token_rotation),
            store: PeerStore::new(
                cfg.max_torrents,
                cfg.max_peers_per_torrent,
                cfg.peer_ttl,
                cfg.sample_interval,
            ),
            out_ip: IpRateLimiter::new(cfg.per_ip_query_rate, cfg.max_tracked_ips, hseed),
            out_global: TokenBucket::new(cfg.global_query_rate, now),
            in_ip: IpRateLimiter::new(cfg.per_ip_answer_rate, cfg.max_tracked_ips, hseed ^ 0x5555),
            vote: IpVote::new(cfg.external_ip_votes, 64),
            next_maintenance: now + cfg.maintenance_interval,
            bootstrap_backoff: cfg.maintenance_interval,
            cfg,
            rng,
            local,
            id,
            table,
            stats: Stats::default(),
            txns: Transactions::default(),
            pending: VecDeque::new(),
            lookups: BTreeMap::new(),
            next_lookup: 1,
            next_query: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            routers: Vec::new(),
            bootstrap_lookup: None,
            to_ping: VecDeque::new(),
            to_ping_set: BTreeSet::new(),
            refreshing: BTreeSet::new(),
            retry_at: None,
            next_bootstrap: now,
        }
    }

    // ---------------------------------------------------------------- getters

    /// Our node id.
    pub fn id(&self) -> Id20 {
        self.id
    }

    /// The socket address we were created with.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The routing table.
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The external IP agreed by vote, if any.
    pub fn external_ip(&self) -> Option<IpAddr> {
        self.vote.current()
    }

    /// Lookups in progress.
    pub fn active_lookups(&self) -> usize {
        self.lookups.len()
    }

    /// Queries in flight.
    pub fn in_flight(&self) -> usize {
        self.txns.len()
    }

    /// Queries waiting for their budget.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// Number of infohashes in the peer store.
    pub fn stored_infohash_count(&self) -> usize {
        self.store.len()
    }

    /// Infohashes in the peer store.
    pub fn stored_infohashes(&self) -> impl Iterator<Item = &InfoHash> {
        self.store.infohashes()
    }

    // ---------------------------------------------------------------- outputs

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front()?;
        self.stats.tx_datagrams += 1;
        self.stats.tx_bytes += t.data.len() as u64;
        Some(t)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = Some(self.next_maintenance);
        let mut min = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        min(self.txns.next_deadline());
        min(Some(self.tokens.next_rotation()));
        for l in self.lookups.values() {
            min(l.next_slow());
        }
        if !self.pending.is_empty() || !self.to_ping.is_empty() {
            min(self.retry_at);
        }
        t
    }

    // ---------------------------------------------------------------- commands

    /// Joins the DHT through `routers` (addresses with unknown ids): a `find_node` lookup for
    /// our own id seeded with them and with whatever the table already holds. The routers are
    /// remembered and reused if the table ever empties.
    ///
    /// When it finishes, lookups for random ids at every prefix length follow (the Kademlia
    /// join), so the table spans the keyspace right away. Maintenance repeats the whole
    /// bootstrap, with a backoff, while the table holds fewer than K contacts.
    pub fn bootstrap(&mut self, now: Instant, routers: &[SocketAddr]) -> Result<LookupId, Busy> {
        if !routers.is_empty() {
            self.routers = routers.to_vec();
        }
        let routers = self.routers.clone();
        self.bootstrap_lookup = Some(LookupId(self.next_lookup));
        let id = self.start_lookup(now, self.id, LookupKind::FindNode, &routers);
        if id.is_err() {
            self.bootstrap_lookup = None;
        }
        id
    }

    /// Starts an iterative `find_node` lookup for `target`.
    pub fn find_node(&mut self, now: Instant, target: Id20) -> Result<LookupId, Busy> {
        self.start_lookup(now, target, LookupKind::FindNode, &[])
    }

    /// Starts an iterative `get_peers` lookup for `info_hash`, optionally with BEP-33 scrape.
    /// `seeds` are extra addresses to ask first (e.g. the node that sampled the hash).
    pub fn get_peers(
        &mut self,
        now: Instant,
        info_hash: InfoHash,
        scrape: bool,
        seeds: &[SocketAddr],
    ) -> Result<LookupId, Busy> {
        let target = Id20::from(info_hash);
        self.start_lookup(now, target, LookupKind::GetPeers { scrape }, seeds)
    }

    /// Sends one `ping` to `addr`.
    pub fn ping(&mut self, now: Instant, addr: SocketAddr) -> Result<QueryId, Busy> {
        self.direct(now, addr, Outgoing::Ping)
    }

    /// Sends one `find_node` for `target` to `addr`.
    pub fn find_node_at(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        target: Id20,
    ) -> Result<QueryId, Busy> {
        self.direct(now, addr, Outgoing::FindNode(target))
    }

    /// Sends one BEP-51 `sample_infohashes` with `target` to `addr`.
    pub fn sample(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        target: Id20,
    ) -> Result<QueryId, Busy> {
        self.direct(now, addr, Outgoing::Sample(target))
    }

    /// Sends one `get_peers` for `info_hash` to `addr`.
    pub fn get_peers_at(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        info_hash: InfoHash,
        scrape: bool,
    ) -> Result<QueryId, Busy> {
        self.direct(now, addr, Outgoing::GetPeers { info_hash, scrape })
    }

    /// Sends one `announce_peer` to `addr` with a token it gave us.
    pub fn announce_at(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        info_hash: InfoHash,
        port: Option<u16>,
        token: Vec<u8>,
    ) -> Result<QueryId, Busy> {
        let out = Outgoing::Announce {
            info_hash,
            port: port.unwrap_or(0),
            implied_port: port.is_none(),
            token,
        };
        self.direct(now, addr, out)
    }

    /// Stores a peer for `info_hash` as if it had announced (the lab and tests seed nodes so).
    pub fn add_local_peer(
        &mut self,
        now: Instant,
        info_hash: InfoHash,
        peer: SocketAddr,
        seed: bool,
    ) -> bool {
        self.store.announce(info_hash, peer, seed, now)
    }

    fn direct(&mut self, now: Instant, addr: SocketAddr, out: Outgoing) -> Result<QueryId, Busy> {
        let q = QueryId(self.next_query);
        self.next_query += 1;
        if self.query(now, addr, out, Purpose::Direct(q)) {
            Ok(q)
        } else {
            Err(Busy::Transactions)
        }
    }

    fn start_lookup(
        &mut self,
        now: Instant,
        target: Id20,
        kind: LookupKind,
        seeds: &[SocketAddr],
    ) -> Result<LookupId, Busy> {
        if self.lookups.len() >= self.cfg.max_lookups {
            return Err(Busy::Lookups);
        }
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let known = self.table.closest(&target, self.cfg.k * 2, now);
        let l = Lookup::new(
            id,
            target,
            kind,
            &known,
            seeds,
            self.cfg.lookup_candidates,
            self.cfg.lookup_max_peers,
        );
        self.lookups.insert(id, l);
        self.stats.lookups_started += 1;
        self.step_lookup(now, id);
        Ok(id)
    }

    // ---------------------------------------------------------------- inputs

    /// Feeds one received datagram.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.rx_datagrams += 1;
        self.stats.rx_bytes += bytes.len() as u64;
        let Ok(msg) = Message::decode(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        match msg.kind {
            Kind::Query(q) => self.on_query(now, from, &msg, &q),
            Kind::Response(r) => self.on_response(now, from, &msg, &r),
            Kind::Error(e) => {
                let Some(txn) = self.txns.take(msg.tid, from) else {
                    self.stats.unsolicited += 1;
                    return;
                };
                self.stats.errors_received += 1;
                let reason = QueryFailure::Error {
                    code: e.code,
                    message: String::from_utf8_lossy(e.message).into_owned(),
                };
                self.on_txn_failed(now, txn, reason, false);
            }
        }
        self.flush_pending(now);
    }

    /// Runs timers: query timeouts, lookup progress, budget-delayed sends and maintenance.
    pub fn handle_timeout(&mut self, now: Instant) {
        for txn in self.txns.expire(now) {
            self.stats.timeouts += 1;
            self.on_txn_failed(now, txn, QueryFailure::Timeout, true);
        }
        let ids: Vec<LookupId> = self.lookups.keys().copied().collect();
        for id in ids {
            self.step_lookup(now, id);
        }
        if self.tokens.due(now) {
            let mut s = [0u8; 16];
            self.rng.fill_bytes(&mut s);
            self.tokens.rotate(s, now);
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + self.cfg.maintenance_interval;
            self.maintenance(now);
        }
        self.flush_pending(now);
    }

    fn on_query(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>, q: &Query<'_>) {
        self.stats.queries_received.bump(q.method.name());
        if self.cfg.read_only {
            // BEP-43: a read-only node does not answer.
            self.stats.queries_ignored_read_only += 1;
            return;
        }
        if !self.in_ip.try_take(from.ip(), now) {
            self.stats.queries_rate_limited += 1;
            return;
        }
        if !msg.read_only && q.id != self.id {
            self.table.heard_query(&q.id, &from, now);
            if self.id_admissible(&q.id, from.ip()) {
                self.consider(
                    now,
                    NodeInfo {
                        id: q.id,
                        addr: from,
                    },
                );
            }
        }
        self.answer(now, from, msg.tid, q);
    }

    fn on_response(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>, r: &Response<'_>) {
        let Some(txn) = self.txns.take(msg.tid, from) else {
            self.stats.unsolicited += 1;
            return;
        };
        self.stats.replies += 1;
        // Time from when the query left (after any budget wait) to its answer.
        let rtt = now.saturating_duration_since(txn.sent);
        self.stats.rtt.observe(rtt);
        if let Some(ip) = msg.ip {
            self.external_vote(now, from.ip(), ip.ip());
        }
        let valid = bep42::is_valid(&r.id, from.ip());
        if !valid {
            self.stats.bep42_invalid += 1;
        }
        let admissible =
            !msg.read_only && r.id != self.id && (valid || self.cfg.id_check != IdCheck::Enforce);
        if admissible {
            match self.table.insert(r.id, from, valid, now) {
                Insert::Added => self.push_event(Event::NodeAdded(NodeInfo {
                    id: r.id,
                    addr: from,
                })),
                Insert::Cached {
                    ping: Some((_, addr)),
                } => self.enqueue_ping(addr),
                _ => {}
            }
        }
        let family_v6 = self.local.is_ipv6();
        let nodes_iter = || {
            let list = if family_v6 { r.nodes6 } else { r.nodes };
            list.iter()
        };
        // Nodes we can reach, that are not us, and that pass the id check when enforced.
        let usable = |e: &Self, n: &NodeInfo| {
            n.id != e.id
                && n.addr != e.local
                && n.addr.port() != 0
                && !n.addr.ip().is_unspecified()
                && e.id_admissible(&n.id, n.addr.ip())
        };
        let contacts: Vec<NodeInfo> = nodes_iter().filter(|n| usable(self, n)).collect();
        for n in &contacts {
            self.consider(now, *n);
        }
        if txn.method == b"sample_infohashes" {
            let hashes = r.samples.map(|s| s.iter().collect()).unwrap_or_default();
            self.push_event(Event::Samples {
                from: NodeInfo {
                    id: r.id,
                    addr: from,
                },
                hashes,
                interval: r.interval,
                num: r.num,
            });
        }
        match txn.purpose {
            Purpose::Lookup { lookup, seed } => {
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    l.on_response(from, seed, r, &contacts);
                    self.step_lookup(now, lookup);
                }
            }
            Purpose::Direct(q) => {
                let reply = owned_reply(msg, r);
                self.push_event(Event::Reply {
                    query: q,
                    from,
                    reply,
                    rtt,
                });
            }
            Purpose::Maintenance => {}
        }
    }

    fn on_txn_failed(&mut self, now: Instant, txn: Txn, reason: QueryFailure, timed_out: bool) {
        if timed_out {
            self.table.failed(&txn.dst, now);
        }
        match txn.purpose {
            Purpose::Lookup { lookup, seed } => {
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    l.on_failure(&txn.dst, seed);
                    self.step_lookup(now, lookup);
                }
            }
            Purpose::Direct(q) => self.push_event(Event::QueryFailed {
                query: q,
                to: txn.dst,
                reason,
            }),
            Purpose::Maintenance => {}
        }
    }

    /// A contact we heard about: ping it if it would get a slot in the table.
    /// Whether a node claiming `id` at `ip` may enter the table under the configured BEP-42
    /// check (only `Enforce` refuses anything).
    fn id_admissible(&self, id: &Id20, ip: IpAddr) -> bool {
        self.cfg.id_check != IdCheck::Enforce || bep42::is_valid(id, ip)
    }

    /// Callers have checked the id against [`Engine::id_admissible`].
    fn consider(&mut self, now: Instant, n: NodeInfo) {
        if self.table.has_room_for(&n.id, now) {
            self.enqueue_ping(n.addr);
        }
    }

    fn enqueue_ping(&mut self, addr: SocketAddr) {
        if self.to_ping.len() >= self.cfg.max_pending_pings || !self.to_ping_set.insert(addr) {
            return;
        }
        self.to_ping.push_back(addr);
    }

    fn external_vote(&mut self, now: Instant, voter: IpAddr, seen: IpAddr) {
        let Some(ip) = self.vote.add(voter, seen) else {
            return;
        };
        if bep42::is_exempt(ip) || self.cfg.node_id.is_some() || bep42::is_valid(&self.id, ip) {
            return;
        }
        let mut random = [0u8; 17];
        self.rng.fill_bytes(&mut random);
        let r = (self.rng.next_u32() & 0xff) as u8;
        let new_id = bep42::id_for_ip(ip, r, random);
        self.id = new_id;
        self.table = self.table.rebuilt(new_id, now);
        self.stats.id_changes += 1;
        self.push_event(Event::ExternalIp { ip, new_id });
        // Announce the new identity to our neighbourhood.
        let _ = self.find_node(now, new_id);
    }

    // ---------------------------------------------------------------- lookups

    fn step_lookup(&mut self, now: Instant, id: LookupId) {
        let (k, alpha, slow) = (self.cfg.k, self.cfg.alpha, self.cfg.lookup_slow_after);
        let Some(l) = self.lookups.get_mut(&id) else {
            return;
        };
        let next = l.next_queries(now, k, alpha, slow);
        let kind = l.kind;
        let target = l.target;
        for q in next {
            let (addr, seed, scrape_phase) = match q {
                NextQuery::Seed(a) => (a, true, false),
                NextQuery::Node(n) => (n.addr, false, false),
                NextQuery::Scrape(n) => (n.addr, false, true),
            };
            let out = match kind {
                LookupKind::FindNode => Outgoing::FindNode(target),
                LookupKind::GetPeers { .. } => Outgoing::GetPeers {
                    info_hash: target.into(),
                    scrape: scrape_phase,
                },
            };
            if !self.query(now, addr, out, Purpose::Lookup { lookup: id, seed })
                && let Some(l) = self.lookups.get_mut(&id)
            {
                l.on_failure(&addr, seed);
            }
        }
        let Some(l) = self.lookups.get(&id) else {
            return;
        };
        if l.is_done(k) {
            let l = self.lookups.remove(&id).expect("present");
            self.stats.lookups_done += 1;
            let result = l.result(k);
            if let Some(bi) = l.refresh_bucket {
                // Nobody to ask is no evidence of a silent segment; only unanswered queries are.
                let answered = result.queries == 0
                    || result
                        .closest
                        .iter()
                        .any(|(n, _)| self.table.bucket_index(&n.id) == bi);
                self.table.refreshed(bi, answered, now);
                self.refreshing.remove(&bi);
            }
            if self.bootstrap_lookup == Some(id) {
                self.bootstrap_lookup = None;
                // Kademlia join: the lookup for our own id filled the near buckets; now spread
                // over the whole keyspace instead of waiting 15 minutes for bucket refreshes
                // (in a small network this is what finds the nodes far from our id).
                self.join_lookups(now);
            }
            self.push_event(Event::LookupDone(result));
        }
    }

    // ---------------------------------------------------------------- sending

    /// Sends or queues a query. Returns false if the engine is at its caps.
    fn query(&mut self, now: Instant, dst: SocketAddr, out: Outgoing, purpose: Purpose) -> bool {
        if self.txns.len() >= self.cfg.max_transactions
            && self.pending.len() >= self.cfg.max_pending_queries
        {
            self.stats.queries_refused += 1;
            return false;
        }
        if self.txns.len() < self.cfg.max_transactions && self.take_budget(now, dst.ip()) {
            self.send_query(now, dst, out, purpose);
            return true;
        }
        if self.pending.len() >= self.cfg.max_pending_queries {
            self.stats.queries_refused += 1;
            return false;
        }
        self.stats.queries_deferred += 1;
        self.pending.push_back(Pending { dst, out, purpose });
        true
    }

    fn take_budget(&mut self, now: Instant, ip: IpAddr) -> bool {
        if !self.out_global.ready(now) {
            return false;
        }
        if !self.out_ip.try_take(ip, now) {
            return false;
        }
        self.out_global.try_take(now)
    }

    /// Sends what the budgets allow of the queued queries, then maintenance pings with what is
    /// left. Queries whose destination has no budget yet rotate to the back, so one slow IP
    /// does not hold up the others. Remembers when to try again for `poll_timeout`.
    fn flush_pending(&mut self, now: Instant) {
        let mut retry: Option<Instant> = None;
        let mut later = |t: Option<Instant>| {
            if let Some(t) = t {
                retry = Some(retry.map_or(t, |r| r.min(t)));
            }
        };
        for _ in 0..self.pending.len() {
            // A full transaction table frees up on a reply or a deadline: both wake us anyway.
            if self.txns.len() >= self.cfg.max_transactions {
                break;
            }
            if !self.out_global.ready(now) {
                later(Some(self.out_global.next_ready()));
                break;
            }
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            if self.take_budget(now, p.dst.ip()) {
                self.send_query(now, p.dst, p.out, p.purpose);
            } else {
                later(self.out_ip.next_ready(p.dst.ip()));
                self.pending.push_back(p);
            }
        }
        // Maintenance pings go after the queued queries, with what global budget is left;
        // queries still waiting for *their* destination's budget do not hold them back.
        {
            for _ in 0..self.to_ping.len() {
                if self.txns.len() >= self.cfg.max_transactions / 2 {
                    break;
                }
                if !self.out_global.ready(now) {
                    later(Some(self.out_global.next_ready()));
                    break;
                }
                let Some(addr) = self.to_ping.pop_front() else {
                    break;
                };
                if self.take_budget(now, addr.ip()) {
                    self.to_ping_set.remove(&addr);
                    self.send_query(now, addr, Outgoing::Ping, Purpose::Maintenance);
                } else {
                    later(self.out_ip.next_ready(addr.ip()));
                    self.to_ping.push_back(addr);
                }
            }
        }
        self.retry_at = retry;
    }

    fn send_query(&mut self, now: Instant, dst: SocketAddr, out: Outgoing, purpose: Purpose) {
        let mut tid = self.rng.next_u32();
        while self.txns.contains(tid) {
            tid = self.rng.next_u32();
        }
        let tid_bytes = tid.to_be_bytes();
        let method = match &out {
            Outgoing::Ping => Method::Ping,
            Outgoing::FindNode(t) => Method::FindNode {
                target: *t,
                want: Default::default(),
            },
            Outgoing::GetPeers { info_hash, scrape } => Method::GetPeers {
                info_hash: *info_hash,
                want: Default::default(),
                noseed: false,
                scrape: *scrape,
            },
            Outgoing::Sample(t) => Method::SampleInfohashes {
                target: *t,
                want: Default::default(),
            },
            Outgoing::Announce {
                info_hash,
                port,
                implied_port,
                token,
            } => Method::AnnouncePeer {
                info_hash: *info_hash,
                port: *port,
                implied_port: *implied_port,
                token,
                seed: false,
            },
        };
        let version = self.cfg.version;
        let msg = Message {
            tid: &tid_bytes,
            version: Some(&version),
            ip: None,
            read_only: self.cfg.read_only,
            kind: Kind::Query(Query {
                id: self.id,
                method,
            }),
        };
        self.stats.queries_sent.bump(out.name());
        self.push_message(dst, &msg);
        self.txns.insert(
            tid,
            Txn {
                dst,
                method: out.name(),
                purpose,
                sent: now,
                deadline: now + self.cfg.query_timeout,
            },
        );
    }

    pub(crate) fn push_message(&mut self, dst: SocketAddr, msg: &Message<'_>) {
        if self.transmits.len() >= self.cfg.max_transmits {
            self.stats.transmits_dropped += 1;
            return;
        }
        // Encode straight into the datagram handed out (a Vec never overflows).
        let mut data = Vec::with_capacity(512);
        if msg.encode(&mut data).is_ok() {
            self.transmits.push_back(Transmit { dst, data });
        }
    }

    /// Queues an event. When the queue is full the oldest *informational* event (node added,
    /// samples, announce) makes room; completions (replies, failures, finished lookups) are
    /// never dropped, and their number is already bounded by the transaction and lookup caps.
    pub(crate) fn push_event(&mut self, e: Event) {
        if self.events.len() >= self.cfg.max_events {
            let droppable = |e: &Event| {
                matches!(
                    e,
                    Event::NodeAdded(_) | Event::Samples { .. } | Event::Announced { .. }
                )
            };
            if let Some(i) = self.events.iter().position(droppable) {
                self.events.remove(i);
                self.stats.events_dropped += 1;
            } else if droppable(&e) {
                self.stats.events_dropped += 1;
                return;
            }
        }
        self.events.push_back(e);
    }

    // ---------------------------------------------------------------- maintenance

    fn maintenance(&mut self, now: Instant) {
        self.store.expire(now);
        self.in_ip.sweep(now);
        self.out_ip.sweep(now);
        // A table with fewer than K contacts and no bootstrap running: go back to the routers
        // (plus whatever we know), backing off from the maintenance interval up to the
        // bucket-refresh interval so a genuinely tiny network is not hammered.
        if self.table.len() >= self.cfg.k {
            self.bootstrap_backoff = self.cfg.maintenance_interval;
        } else if self.bootstrap_lookup.is_none()
            && !self.routers.is_empty()
            && now >= self.next_bootstrap
        {
            self.next_bootstrap = now + self.bootstrap_backoff;
            self.bootstrap_backoff = (self.bootstrap_backoff * 2).min(self.cfg.bucket_refresh);
            // Spread over the keyspace again: in a network smaller than K that is the only way
            // to meet the nodes no reply has named yet. The backoff bounds the cost.
            let _ = self.bootstrap(now, &[]);
        }
        // Refresh stale buckets, a few at a time, leaving room for the application's lookups.
        if !self.table.is_empty() {
            let due: Vec<usize> = self.table.due_refreshes(now).into_iter().take(2).collect();
            self.refresh_buckets(now, &due);
        }
        // Check on questionable nodes so bad ones make way for their replacements.
        for (_, addr) in self.table.questionable(now, 4) {
            if !self.txns.to_addr(&addr) {
                self.enqueue_ping(addr);
            }
        }
    }
}

impl Engine {
    /// Starts a `find_node` lookup for a random id in each of `buckets`, leaving at least half
    /// of the lookup slots to the application.
    /// The second half of a join: a `find_node` for a random id at each prefix length from 0
    /// to at least [`JOIN_PREFIXES`] (or as many buckets as the table has), so the lookups
    /// spread over the whole keyspace, also into buckets the table has not split into yet.
    /// In a small network that is what finds nodes far from our id and from any one target
    /// (a reply only names the ~8 nodes closest to the target asked for).
    fn join_lookups(&mut self, now: Instant) {
        let n = self.table.buckets().len().clamp(JOIN_PREFIXES, 160);
        for cpl in 0..n as u32 {
            if self.lookups.len() * 2 >= self.cfg.max_lookups {
                break;
            }
            let target = self.table.random_id_at_prefix(cpl, &mut self.rng);
            let bi = self.table.bucket_index(&target);
            if let Ok(id) = self.find_node(now, target)
                && !self.refreshing.contains(&bi)
                && let Some(l) = self.lookups.get_mut(&id)
            {
                l.refresh_bucket = Some(bi);
                self.refreshing.insert(bi);
            }
        }
    }

    fn refresh_buckets(&mut self, now: Instant, buckets: &[usize]) {
        for &bi in buckets {
            if self.refreshing.contains(&bi) || self.lookups.len() * 2 >= self.cfg.max_lookups {
                continue;
            }
            let target = self.table.random_id_in_bucket(bi, &mut self.rng);
            if let Ok(id) = self.find_node(now, target) {
                if let Some(l) = self.lookups.get_mut(&id) {
                    l.refresh_bucket = Some(bi);
                    self.refreshing.insert(bi);
                } else {
                    // Finished at once: nobody to ask is not a silent segment, no backoff.
                    self.table.refreshed(bi, true, now);
                }
            }
        }
    }
}

fn table_config(cfg: &Config) -> TableConfig {
    TableConfig {
        k: cfg.k,
        replacements: cfg.replacements_per_bucket,
        questionable_after: cfg.questionable_after,
        max_failures: cfg.max_failures,
        refresh: cfg.bucket_refresh,
        max_refresh: cfg.max_refresh_backoff,
        prefer_verified: cfg.id_check != IdCheck::Off,
    }
}

fn owned_reply(msg: &Message<'_>, r: &Response<'_>) -> Reply {
    Reply {
        id: r.id,
        version: msg.version.map(<[u8]>::to_vec),
        our_addr: msg.ip,
        nodes: r.nodes.iter().chain(r.nodes6.iter()).collect(),
        peers: r.values.iter().collect(),
        token: r.token.map(<[u8]>::to_vec),
        samples: r.samples.map(|s| s.iter().collect()).unwrap_or_default(),
        interval: r.interval,
        num: r.num,
        scrape_seeds: r.bf_seeds.map(krpc::scrape_estimate),
        scrape_peers: r.bf_peers.map(krpc::scrape_estimate),
    }
}
