//! The lab swarm: many full DHT nodes in one process, each on its own loopback address,
//! seeding synthetic torrents, so a crawler can be run end to end with no internet.
//!
//! [`Lab::start`] builds it in five steps:
//!
//! 1. **Torrents**: [`synth::generate`] draws [`LabConfig::torrents`] torrents from the seed;
//!    each gets `seeders_per_torrent` seeding nodes (drawn from the seed) and `replicas`
//!    storing nodes: the lab nodes whose ids are XOR-closest to its infohash, which is where
//!    a real DHT keeps a torrent's peers after announces. Node ids are fixed (drawn from the
//!    seed), so all of this is known before any socket exists.
//! 2. **Bind**: node *i* gets the address `first_ip + i` (skipping addresses ending in `.0`
//!    or `.255`; anything outside 127.0.0.0/8 is refused) and binds a UDP socket (a full
//!    [`net::Node`]) and a TCP listener on the same `ip:port`.
//! 3. **Seed**: every replica node and every seeder's own node stores the seeder's TCP
//!    address for the infohash ([`net::Node::add_local_peer`]), so it answers `get_peers`
//!    with it and includes the hash in its BEP-51 samples (redrawn every
//!    [`LabConfig::sample_interval`]). Each node's TCP listener serves the metadata of the
//!    torrents it seeds (BEP-9 over BEP-10, [`peerwire::MetadataServe`]).
//! 4. **Join**: every node bootstraps (at most [`JOIN_CONCURRENCY`] at a time, so no node is
//!    a hot spot) from its [`NEAR`] XOR-closest lab nodes plus [`FAR_ROUTERS`] others spread
//!    over the swarm; the engine's Kademlia join then spreads its table over the keyspace,
//!    and every query also introduces the sender to the node queried.
//! 5. **Readiness**: [`Lab::start`] returns once the swarm is *ready*: every node
//!    - has finished its join (no lookup in progress),
//!    - holds at least `min(K, N - 1)` nodes in its routing table (K = 20), and
//!    - holds at least [`NEAR_REQUIRED`] of its `min(NEAR, N - 1)` XOR-closest lab nodes
//!      (all of them when it has fewer), which is what makes iterative lookups converge on
//!      the replicas.
//!
//!    A node whose join finished short of that bootstraps again from the same routers (up
//!    to [`MAX_REJOINS`] times); a swarm not ready within [`LabConfig::ready_timeout`] is an
//!    error ([`LabError::NotReady`]). Measured (release, 2 cores): 100 nodes / 1,000
//!    torrents ready in ~0.6 s, 1,000 nodes / 10,000 torrents in ~4-6 s (peak RSS ~250 MB).
//!
//! Lab nodes are full nodes with fixed ids (no BEP-42 check: loopback is exempt), stored
//! peers that never expire, and per-IP budgets raised for the join (10 queries/s, burst 20,
//! out; 20 answers/s, burst 50, in), so lab nodes never drop each other's queries; a polite
//! crawler (1 query/s per IP) is far below either.
//!
//! Everything is bounded: each TCP connection has one fixed read buffer, is fed to the
//! metadata state machine in small slices (so a burst of requests cannot queue megabytes of
//! answers), is closed after an idle period, a total lifetime, or once it has been sent
//! several times the torrent's metadata; each node serves at most
//! [`LabConfig::max_connections_per_node`] connections at once and closes the others at once.
//!
//! Nothing here sends a packet outside 127.0.0.0/8: every node is bound to a loopback
//! address and only ever given loopback addresses to talk to.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dht::Id20;
use infohash::InfoHash;
use net::{Node, NodeConfig};
use peerwire::MetadataServe;
use peerwire::handshake::{self, HANDSHAKE_LEN, Handshake};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use synth::SynthTorrent;

/// Near neighbours each node bootstraps from and is checked against for readiness.
pub const NEAR: usize = 8;
/// Of its `min(NEAR, N - 1)` closest, how many a node must hold to be ready (all of them
/// when there are fewer than this).
pub const NEAR_REQUIRED: usize = 6;
/// Extra bootstrap routers per node, spread over the swarm (for the far buckets).
pub const FAR_ROUTERS: usize = 8;
/// Most nodes bootstrapping at once.
pub const JOIN_CONCURRENCY: usize = 32;
/// Most extra bootstraps of a node whose join fell short of the readiness criterion.
pub const MAX_REJOINS: usize = 4;
/// Size of each TCP connection's read buffer.
pub const READ_BUFFER: usize = 4096;
/// Bytes fed to the metadata state machine at a time (bounds the answers queued per step).
const FEED: usize = 256;
/// Bucket size of the lab nodes (the engine's default K).
const K: usize = 20;
/// How often readiness is polled while the joins run.
const POLL: Duration = Duration::from_millis(50);
/// Attempts at binding UDP and TCP on the same OS-chosen port.
const BIND_ATTEMPTS: usize = 16;
/// Peer-id prefix of the lab's seeders.
const PEER_ID_PREFIX: &[u8; 8] = b"-BL0001-";

/// How a [`Lab`] is set up. [`LabConfig::default`]: 100 nodes from 127.0.0.10 on port 6881,
/// 1,000 torrents, seed 0.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Number of DHT nodes (at least 1).
    pub nodes: usize,
    /// Number of synthetic torrents seeded in total.
    pub torrents: usize,
    /// Address of node 0; node *i* gets `first_ip + i`, skipping `.0` and `.255`. Every
    /// address must be in 127.0.0.0/8.
    pub first_ip: Ipv4Addr,
    /// UDP and TCP port, the same on every address; 0 lets the OS pick one per node.
    pub port: u16,
    /// Seed of everything: node ids, torrents, seeder choice.
    pub seed: u64,
    /// BEP-51 interval the nodes advertise; each node redraws its sample (up to 20 of the
    /// hashes it stores) this often.
    pub sample_interval: Duration,
    /// Nodes storing each torrent's peers: the lab nodes XOR-closest to its infohash.
    pub replicas: usize,
    /// Seeding nodes per torrent (capped at the node count).
    pub seeders_per_torrent: usize,
    /// Most TCP connections a node serves at once; more are closed as soon as accepted.
    pub max_connections_per_node: usize,
    /// A TCP connection silent (or not reading) for this long is closed.
    pub idle_timeout: Duration,
    /// Longest life of one TCP connection.
    pub connection_lifetime: Duration,
    /// How long [`Lab::start`] waits for the swarm to be ready.
    pub ready_timeout: Duration,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            nodes: 100,
            torrents: 1000,
            first_ip: Ipv4Addr::new(127, 0, 0, 10),
            port: 6881,
            seed: 0,
            sample_interval: Duration::from_secs(5),
            replicas: 8,
            seeders_per_torrent: 1,
            max_connections_per_node: 64,
            idle_timeout: Duration::from_secs(20),
            connection_lifetime: Duration::from_secs(120),
            ready_timeout: Duration::from_secs(180),
        }
    }
}

/// Why a lab could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The configuration makes no sense (no nodes, say).
    #[error("bad lab configuration: {0}")]
    Config(String),
    /// A node's address would fall outside 127.0.0.0/8.
    #[error("{0} is not a loopback address (the lab stays inside 127.0.0.0/8)")]
    NotLoopback(Ipv4Addr),
    /// A TCP listener could not be bound.
    #[error("cannot bind TCP listener to {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A DHT node failed (could not bind its UDP socket, or stopped).
    #[error(transparent)]
    Net(#[from] net::Error),
    /// One of the lab's own tasks failed (a bug).
    #[error("lab task failed: {0}")]
    Task(String),
    /// The swarm did not become ready in time.
    #[error(
        "lab not ready after {waited:?}: {lagging} of {nodes} nodes short of the readiness criterion"
    )]
    NotReady {
        /// How long we waited.
        waited: Duration,
        /// Nodes not ready.
        lagging: usize,
        /// Nodes in all.
        nodes: usize,
    },
}

/// One torrent of the lab, with who seeds it and who stores its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabTorrent {
    /// SHA-1 of the info dictionary.
    pub info_hash: InfoHash,
    /// The torrent's name.
    pub name: String,
    /// Sum of the file sizes.
    pub total_size: u64,
    /// Piece length.
    pub piece_length: u64,
    /// Files as (path joined with `/`, size); a single file's path is the name.
    pub files: Vec<(String, u64)>,
    /// BEP-27 private flag.
    pub private: bool,
    /// Content type (one of [`synth::KINDS`]).
    pub kind: &'static str,
    /// Language of the name (one of [`synth::LANGS`]).
    pub lang: &'static str,
    /// TCP addresses of the nodes seeding it.
    pub seeders: Vec<SocketAddr>,
    /// UDP addresses of the DHT nodes storing its peers (closest first); the seeders' own
    /// nodes store them too.
    pub replicas: Vec<SocketAddr>,
    pieces_seed: u64,
}

impl LabTorrent {
    /// The bencoded info dictionary (built on demand; deterministic).
    pub fn info_bytes(&self) -> Vec<u8> {
        self.synth().info_bytes()
    }

    fn synth(&self) -> SynthTorrent {
        SynthTorrent {
            name: self.name.clone(),
            files: self.files.clone(),
            piece_length: self.piece_length,
            private: self.private,
            kind: self.kind,
            lang: self.lang,
            pieces_seed: self.pieces_seed,
        }
    }
}

/// Timings and figures of a lab's start-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartupReport {
    /// Whole [`Lab::start`].
    pub total: Duration,
    /// Generating and hashing the torrents, placing seeders and replicas.
    pub generate: Duration,
    /// Binding every node's sockets.
    pub bind: Duration,
    /// Storing the peers on the replica and seeder nodes.
    pub announce: Duration,
    /// From the first bootstrap to readiness.
    pub join: Duration,
    /// Extra bootstraps of nodes whose join fell short.
    pub rejoins: usize,
    /// Mean routing-table size when ready.
    pub mean_table: f64,
    /// Smallest routing table when ready.
    pub min_table: usize,
    /// Fewest of its near nodes any node held when ready.
    pub min_near_known: usize,
}

#[derive(Debug)]
struct Shared {
    torrents: Vec<LabTorrent>,
    index: HashMap<InfoHash, usize>,
    connects: Vec<AtomicU64>,
    total_connects: AtomicU64,
    unknown_connects: AtomicU64,
    refused: AtomicU64,
    pieces_served: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct ConnLimits {
    idle: Duration,
    lifetime: Duration,
}

/// A running lab swarm. Stop it with [`Lab::shutdown`]; dropping it stops the TCP servers at
/// once and the DHT nodes as their last handles go.
#[derive(Debug)]
pub struct Lab {
    nodes: Vec<Node>,
    addrs: Vec<SocketAddr>,
    ids: Vec<Id20>,
    shared: Arc<Shared>,
    servers: JoinSet<()>,
    report: StartupReport,
}

impl Lab {
    /// Builds the swarm and returns once it is ready (see the [module docs](self)).
    pub async fn start(cfg: LabConfig) -> Result<Self, LabError> {
        let t0 = Instant::now();
        if cfg.nodes == 0 {
            return Err(LabError::Config("a lab needs at least one node".into()));
        }
        if cfg.seeders_per_torrent == 0 {
            return Err(LabError::Config("every torrent needs a seeder".into()));
        }
        let ips = node_ips(cfg.first_ip, cfg.nodes)?;
        let ids = node_ids(cfg.seed, cfg.nodes);

        // 1. Torrents and their placement (CPU work, off the async threads).
        let plan = {
            let (cfg, ids) = (cfg.clone(), ids.clone());
            tokio::task::spawn_blocking(move || Plan::new(&cfg, &ids))
                .await
                .map_err(|e| LabError::Task(format!("planning: {e}")))?
        };
        let generate = t0.elapsed();

        // 2. Sockets.
        let t = Instant::now();
        let mut nodes = Vec::with_capacity(cfg.nodes);
        let mut listeners = Vec::with_capacity(cfg.nodes);
        let mut seeds_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x4c41_425f_5345_4544);
        for (i, ip) in ips.iter().enumerate() {
            let ncfg = node_config(&cfg, ids[i], seeds_rng.next_u64());
            let (listener, node) = bind_pair(IpAddr::V4(*ip), cfg.port, ncfg).await?;
            listeners.push(listener);
            nodes.push(node);
        }
        let addrs: Vec<SocketAddr> = nodes.iter().map(Node::local_addr).collect();
        let bind = t.elapsed();

        // 3. Torrents with addresses; peers stored; TCP servers up.
        let t = Instant::now();
        let torrents = plan.torrents(&addrs);
        let index = torrents
            .iter()
            .enumerate()
            .map(|(i, t)| (t.info_hash, i))
            .collect();
        let shared = Arc::new(Shared {
            connects: torrents.iter().map(|_| AtomicU64::new(0)).collect(),
            torrents,
            index,
            total_connects: AtomicU64::new(0),
            unknown_connects: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            pieces_served: AtomicU64::new(0),
        });
        let limits = ConnLimits {
            idle: cfg.idle_timeout,
            lifetime: cfg.connection_lifetime,
        };
        let mut servers = JoinSet::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let seeds: HashMap<InfoHash, usize> = plan.seeded_by[i]
                .iter()
                .map(|&t| (shared.torrents[t].info_hash, t))
                .collect();
            let mut peer_id = [0u8; 20];
            peer_id[..8].copy_from_slice(PEER_ID_PREFIX);
            peer_id[8..16].copy_from_slice(&(i as u64).to_be_bytes());
            servers.spawn(serve_node(
                listener,
                Arc::clone(&shared),
                seeds,
                peer_id,
                cfg.max_connections_per_node.max(1),
                limits,
            ));
        }
        announce(&nodes, &plan, &shared).await?;
        let announce = t.elapsed();

        let mut lab = Self {
            nodes,
            addrs,
            ids,
            shared,
            servers,
            report: StartupReport {
                generate,
                bind,
                announce,
                ..StartupReport::default()
            },
        };

        // 4 and 5. Join, then wait for readiness.
        let t = Instant::now();
        let deadline = t0 + cfg.ready_timeout;
        match join(&lab.nodes, &lab.addrs, &plan, cfg.seed, deadline).await {
            Ok(ready) => {
                lab.report.join = t.elapsed();
                lab.report.rejoins = ready.rejoins;
                lab.report.mean_table = ready.mean_table;
                lab.report.min_table = ready.min_table;
                lab.report.min_near_known = ready.min_near;
            }
            Err(e) => {
                lab.shutdown_ref().await;
                return Err(e);
            }
        }
        lab.report.total = t0.elapsed();
        tracing::info!(
            nodes = lab.nodes.len(),
            torrents = lab.shared.torrents.len(),
            bootstrap = %lab.bootstrap(),
            startup = ?lab.report.total,
            "lab ready"
        );
        Ok(lab)
    }

    /// Node 0's UDP address: what to give a crawler as its bootstrap router.
    pub fn bootstrap(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every node's UDP address (its TCP listener is on the same address).
    pub fn node_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Every node's id, in node order.
    pub fn node_ids(&self) -> &[Id20] {
        &self.ids
    }

    /// Handles on the lab's DHT nodes (for their stats, say).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The torrents, in generation order.
    pub fn torrents(&self) -> &[LabTorrent] {
        &self.shared.torrents
    }

    /// The lab torrent with this infohash.
    pub fn torrent(&self, info_hash: &InfoHash) -> Option<&LabTorrent> {
        let i = *self.shared.index.get(info_hash)?;
        self.shared.torrents.get(i)
    }

    /// TCP connections (to any node) whose handshake asked for `info_hash`; 0 for hashes
    /// that are not the lab's.
    pub fn connects(&self, info_hash: &InfoHash) -> u64 {
        self.shared
            .index
            .get(info_hash)
            .map_or(0, |&i| self.shared.connects[i].load(Ordering::Relaxed))
    }

    /// TCP connections that completed a handshake, for any infohash.
    pub fn total_connects(&self) -> u64 {
        self.shared.total_connects.load(Ordering::Relaxed)
    }

    /// Handshakes that asked for an infohash the lab does not have.
    pub fn unknown_connects(&self) -> u64 {
        self.shared.unknown_connects.load(Ordering::Relaxed)
    }

    /// Connections closed on accept because their node was at its connection cap.
    pub fn refused_connections(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Metadata pieces (BEP-9 `data` messages) sent, all nodes together.
    pub fn pieces_served(&self) -> u64 {
        self.shared.pieces_served.load(Ordering::Relaxed)
    }

    /// How the start-up went.
    pub fn startup(&self) -> &StartupReport {
        &self.report
    }

    /// Stops the TCP servers and every DHT node, and waits until their sockets are closed.
    pub async fn shutdown(mut self) {
        self.shutdown_ref().await;
    }

    async fn shutdown_ref(&mut self) {
        self.servers.abort_all();
        while self.servers.join_next().await.is_some() {}
        let mut stops = JoinSet::new();
        for n in &self.nodes {
            let n = n.clone();
            stops.spawn(async move { n.shutdown().await });
        }
        while stops.join_next().await.is_some() {}
    }
}

/// The addresses of `n` nodes from `first`, skipping those ending in `.0` or `.255`; an error
/// if any falls outside 127.0.0.0/8.
pub fn node_ips(first: Ipv4Addr, n: usize) -> Result<Vec<Ipv4Addr>, LabError> {
    let mut out = Vec::with_capacity(n);
    let mut x = u32::from(first);
    while out.len() < n {
        let ip = Ipv4Addr::from(x);
        if ip.octets()[0] != 127 {
            return Err(LabError::NotLoopback(ip));
        }
        if !matches!(ip.octets()[3], 0 | 255) {
            out.push(ip);
        }
        x = x
            .checked_add(1)
            .ok_or(LabError::NotLoopback(Ipv4Addr::BROADCAST))?;
    }
    Ok(out)
}

/// The node ids of a lab seeded with `seed` (distinct, fixed).
pub fn node_ids(seed: u64, n: usize) -> Vec<Id20> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4c41_425f_4e4f_4445);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut id = Id20::ZERO;
        rng.fill_bytes(&mut id.0);
        if seen.insert(id) {
            out.push(id);
        }
    }
    out
}

/// The `count` entries of `ids` XOR-closest to `target`, closest first, leaving out `skip`.
fn closest(ids: &[Id20], target: &Id20, count: usize, skip: Option<usize>) -> Vec<usize> {
    let mut d: Vec<(Id20, usize)> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(i, id)| (id.distance(target), i))
        .collect();
    let count = count.min(d.len());
    if count == 0 {
        return Vec::new();
    }
    if count < d.len() {
        d.select_nth_unstable(count - 1);
        d.truncate(count);
    }
    d.sort_unstable();
    // Not `into_iter`: an in-place collect would keep the whole scratch allocation alive in
    // every (8-entry) result.
    d.iter().map(|&(_, i)| i).collect()
}

fn node_config(cfg: &LabConfig, id: Id20, seed: u64) -> NodeConfig {
    let mut n = NodeConfig::default();
    n.dht.node_id = Some(id);
    n.dht.seed = seed;
    n.dht.id_check = dht::IdCheck::Off;
    n.dht.sample_interval = cfg.sample_interval;
    n.dht.max_torrents = cfg.torrents.saturating_add(1024);
    // Stored peers never expire while the lab runs (the default is two hours).
    n.dht.peer_ttl = Duration::from_secs(10 * 365 * 24 * 3600);
    // Lab nodes talk to each other a lot while joining: let them, while keeping the answer
    // budget above what any one of them sends, so none of their queries goes unanswered.
    n.dht.per_ip_query_rate = dht::Rate {
        per_second: 10.0,
        burst: 20.0,
    };
    n.dht.per_ip_answer_rate = dht::Rate {
        per_second: 20.0,
        burst: 50.0,
    };
    // A 1,000-node join bursts past the default receive buffer (datagrams were lost).
    n.recv_buffer_bytes = Some(1 << 20);
    // net's `Driver::received` drops the datagram it reads at the end of a full batch (it
    // reads one past `recv_batch` and discards it). With a batch larger than the receive
    // buffer can hold (1 MiB, which the kernel doubles: under ~2,800 small datagrams), a
    // batch always ends on an empty socket and nothing is lost.
    n.recv_batch = 4096;
    n.max_wait = Duration::from_secs(60);
    n
}

/// Binds a TCP listener and a DHT node on the same `ip:port` (with port 0, an OS-chosen port
/// that is free for both).
async fn bind_pair(
    ip: IpAddr,
    port: u16,
    cfg: NodeConfig,
) -> Result<(TcpListener, Node), LabError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let want = SocketAddr::new(ip, port);
        let listener = TcpListener::bind(want)
            .await
            .map_err(|source| LabError::Bind { addr: want, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| LabError::Bind { addr: want, source })?;
        match Node::bind(addr, cfg.clone()).await {
            Ok(node) => return Ok((listener, node)),
            Err(e) if port == 0 && attempt < BIND_ATTEMPTS => {
                tracing::debug!(%addr, error = %e, "UDP port taken, trying another");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

// ------------------------------------------------------------------ planning

/// The swarm's layout, computed from the seed before any socket exists.
#[derive(Debug)]
struct Plan {
    synth: Vec<SynthTorrent>,
    hashes: Vec<InfoHash>,
    /// Per torrent: seeding nodes.
    seeders: Vec<Vec<usize>>,
    /// Per torrent: nodes storing its peers, closest first.
    replicas: Vec<Vec<usize>>,
    /// Per node: torrents it seeds.
    seeded_by: Vec<Vec<usize>>,
    /// Per node: its near neighbours, closest first.
    near: Vec<Vec<usize>>,
    /// Per node: extra routers spread over the swarm.
    far: Vec<Vec<usize>>,
}

impl Plan {
    fn new(cfg: &LabConfig, ids: &[Id20]) -> Self {
        let n = ids.len();
        let synth = synth::generate(cfg.seed, cfg.torrents);
        let hashes: Vec<InfoHash> = synth.iter().map(SynthTorrent::info_hash).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x4c41_425f_504c_414e);
        let per = cfg.seeders_per_torrent.min(n);
        let mut seeded_by = vec![Vec::new(); n];
        let mut seeders = Vec::with_capacity(synth.len());
        for t in 0..synth.len() {
            let mut s: Vec<usize> = Vec::with_capacity(per);
            while s.len() < per {
                let i = rng.random_range(0..n);
                if !s.contains(&i) {
                    s.push(i);
                }
            }
            for &i in &s {
                seeded_by[i].push(t);
            }
            seeders.push(s);
        }
        let replicas = hashes
            .iter()
            .map(|&h| closest(ids, &Id20::from(h), cfg.replicas, None))
            .collect();
        let near = (0..n)
            .map(|i| closest(ids, &ids[i], NEAR, Some(i)))
            .collect::<Vec<_>>();
        let far = (0..n)
            .map(|i| {
                let mut f = Vec::new();
                for _ in 0..FAR_ROUTERS.min(n.saturating_sub(1)) * 2 {
                    let j = rng.random_range(0..n);
                    if j != i && !near[i].contains(&j) && !f.contains(&j) {
                        f.push(j);
                    }
                    if f.len() >= FAR_ROUTERS {
                        break;
                    }
                }
                f
            })
            .collect();
        Self {
            synth,
            hashes,
            seeders,
            replicas,
            seeded_by,
            near,
            far,
        }
    }

    fn torrents(&self, addrs: &[SocketAddr]) -> Vec<LabTorrent> {
        self.synth
            .iter()
            .enumerate()
            .map(|(t, s)| LabTorrent {
                info_hash: self.hashes[t],
                name: s.name.clone(),
                total_size: s.total_size(),
                piece_length: s.piece_length,
                files: s.files.clone(),
                private: s.private,
                kind: s.kind,
                lang: s.lang,
                seeders: self.seeders[t].iter().map(|&i| addrs[i]).collect(),
                replicas: self.replicas[t].iter().map(|&i| addrs[i]).collect(),
                pieces_seed: s.pieces_seed,
            })
            .collect()
    }
}

/// Stores every torrent's seeders on its replica nodes and on the seeders' own nodes, one
/// task per node (each node's commands in order, nodes in parallel).
async fn announce(nodes: &[Node], plan: &Plan, shared: &Shared) -> Result<(), LabError> {
    let mut per_node: Vec<Vec<(InfoHash, SocketAddr)>> = vec![Vec::new(); nodes.len()];
    for (t, lt) in shared.torrents.iter().enumerate() {
        let hash = lt.info_hash;
        let mut targets = plan.replicas[t].clone();
        for &s in &plan.seeders[t] {
            if !targets.contains(&s) {
                targets.push(s);
            }
        }
        for &r in &targets {
            per_node[r].extend(lt.seeders.iter().map(|peer| (hash, *peer)));
        }
    }
    let mut tasks = JoinSet::new();
    for (node, work) in nodes.iter().zip(per_node) {
        let node = node.clone();
        tasks.spawn(async move {
            for (hash, peer) in work {
                node.add_local_peer(hash, peer, true).await?;
            }
            Ok::<(), net::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| LabError::Task(format!("announce: {e}")))??;
    }
    Ok(())
}

// ------------------------------------------------------------------ join and readiness

#[derive(Debug)]
struct Ready {
    rejoins: usize,
    mean_table: f64,
    min_table: usize,
    min_near: usize,
}

/// What one node's routing table says about the readiness criterion.
#[derive(Debug, Clone, Copy)]
struct Check {
    table: usize,
    near_known: usize,
    near_needed: usize,
    min_table: usize,
}

impl Check {
    fn ok(&self) -> bool {
        self.near_known >= self.near_needed && self.table >= self.min_table
    }
}

async fn check_node(node: &Node, near: &[SocketAddr], n: usize) -> Result<Check, net::Error> {
    let table = node.routing_table().await?;
    let near_known = near
        .iter()
        .filter(|a| table.iter().any(|e| e.addr == **a))
        .count();
    Ok(Check {
        table: table.len(),
        near_known,
        near_needed: NEAR_REQUIRED.min(near.len()),
        min_table: K.min(n - 1),
    })
}

async fn join(
    nodes: &[Node],
    addrs: &[SocketAddr],
    plan: &Plan,
    seed: u64,
    deadline: Instant,
) -> Result<Ready, LabError> {
    let n = nodes.len();
    let started = Instant::now();
    // Bootstraps, JOIN_CONCURRENCY at a time, each from its near and far routers. The order
    // is shuffled so that consecutive nodes are not all neighbours of each other.
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4c41_425f_4a4f_494e);
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut running = JoinSet::new();
    for i in order {
        if running.len() >= JOIN_CONCURRENCY
            && let Some(r) = running.join_next().await
        {
            r.map_err(|e| LabError::Task(format!("bootstrap: {e}")))??;
        }
        let node = nodes[i].clone();
        let routers: Vec<SocketAddr> = plan.near[i]
            .iter()
            .chain(&plan.far[i])
            .map(|&j| addrs[j])
            .collect();
        running.spawn(async move {
            if !routers.is_empty() {
                node.bootstrap(routers).await?;
            }
            Ok::<(), net::Error>(())
        });
    }
    while let Some(r) = running.join_next().await {
        r.map_err(|e| LabError::Task(format!("bootstrap: {e}")))??;
    }

    // Readiness: poll the nodes still pending; re-bootstrap those whose join finished short.
    let near_addrs: Vec<Vec<SocketAddr>> = plan
        .near
        .iter()
        .map(|v| v.iter().map(|&j| addrs[j]).collect())
        .collect();
    let mut pending: Vec<usize> = (0..n).collect();
    let mut rejoins_of = vec![0usize; n];
    let mut checks: Vec<Option<Check>> = vec![None; n];
    let mut rejoins = 0;
    loop {
        let mut still = Vec::new();
        for &i in &pending {
            let stats = nodes[i].stats().await?;
            if stats.active_lookups > 0 || stats.queued > 0 {
                still.push(i);
                continue;
            }
            let c = check_node(&nodes[i], &near_addrs[i], n).await?;
            checks[i] = Some(c);
            if c.ok() {
                continue;
            }
            still.push(i);
            if rejoins_of[i] < MAX_REJOINS {
                rejoins_of[i] += 1;
                rejoins += 1;
                let mut routers = near_addrs[i].clone();
                routers.extend(plan.far[i].iter().map(|&j| addrs[j]));
                tracing::debug!(node = %addrs[i], table = c.table, near = c.near_known, "rejoining");
                // Returns once the lookup has started, so the next poll sees it in progress;
                // its end (and the join lookups after it) shows as active_lookups at 0.
                nodes[i]
                    .start_lookup(net::LookupRequest::Bootstrap(routers))
                    .await?;
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(LabError::NotReady {
                waited: started.elapsed(),
                lagging: pending.len(),
                nodes: n,
            });
        }
        tokio::time::sleep(POLL).await;
    }
    let checks: Vec<Check> = checks.into_iter().flatten().collect();
    let total: usize = checks.iter().map(|c| c.table).sum();
    Ok(Ready {
        rejoins,
        mean_table: total as f64 / n as f64,
        min_table: checks.iter().map(|c| c.table).min().unwrap_or(0),
        min_near: checks.iter().map(|c| c.near_known).min().unwrap_or(0),
    })
}

// ------------------------------------------------------------------ metadata serving

async fn serve_node(
    listener: TcpListener,
    shared: Arc<Shared>,
    seeds: HashMap<InfoHash, usize>,
    peer_id: [u8; 20],
    max_conns: usize,
    limits: ConnLimits,
) {
    let seeds = Arc::new(seeds);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    if conns.len() >= max_conns {
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    }
                    let (shared, seeds) = (Arc::clone(&shared), Arc::clone(&seeds));
                    conns.spawn(async move {
                        let _ = tokio::time::timeout(
                            limits.lifetime,
                            serve_conn(stream, &shared, &seeds, peer_id, limits.idle),
                        )
                        .await;
                    });
                }
                // Out of file descriptors, say: back off a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One peer: read its handshake, count it, and serve the metadata if this node seeds the
/// torrent it asks for; otherwise close.
async fn serve_conn(
    mut stream: TcpStream,
    shared: &Shared,
    seeds: &HashMap<InfoHash, usize>,
    peer_id: [u8; 20],
    idle: Duration,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; READ_BUFFER];
    let mut head = [0u8; HANDSHAKE_LEN];
    let mut have = 0;
    // Bytes read past the handshake (a pipelined extension handshake, say).
    let mut extra = 0..0;
    while have < HANDSHAKE_LEN {
        let n = read_some(&mut stream, &mut buf, idle).await?;
        let take = n.min(HANDSHAKE_LEN - have);
        head[have..have + take].copy_from_slice(&buf[..take]);
        have += take;
        if !handshake::prefix_plausible(&head[..have]) {
            return Ok(());
        }
        extra = take..n;
    }
    let Ok(hs) = Handshake::parse(&head) else {
        return Ok(());
    };
    shared.total_connects.fetch_add(1, Ordering::Relaxed);
    let asked = InfoHash::v1(hs.info_hash);
    match shared.index.get(&asked) {
        Some(&t) => shared.connects[t].fetch_add(1, Ordering::Relaxed),
        None => shared.unknown_connects.fetch_add(1, Ordering::Relaxed),
    };
    let Some(&t) = seeds.get(&asked) else {
        return Ok(());
    };
    let info = shared.torrents[t].info_bytes();
    // A fetcher asks for each piece once; several times over is a peer to hang up on.
    let max_pieces = 4 * info.len().div_ceil(peerwire::metadata::PIECE_SIZE) + 4;
    let mut serve = MetadataServe::new(info, peer_id);
    let mut counted = 0;
    let extra = buf[extra].to_vec();
    let mut pending: &[u8] = &head;
    let mut second: &[u8] = &extra;
    loop {
        for chunk in pending.chunks(FEED).chain(second.chunks(FEED)) {
            if serve.handle_input(chunk).is_err() {
                return Ok(());
            }
            while let Some(out) = serve.poll_transmit() {
                match tokio::time::timeout(idle, stream.write_all(&out)).await {
                    Ok(r) => r?,
                    Err(_) => return Ok(()),
                }
            }
            let served = serve.pieces_served();
            shared
                .pieces_served
                .fetch_add((served - counted) as u64, Ordering::Relaxed);
            counted = served;
            if served > max_pieces {
                return Ok(());
            }
        }
        let n = read_some(&mut stream, &mut buf, idle).await?;
        pending = &buf[..n];
        second = &[];
    }
}

/// Reads at least one byte within `idle`; EOF and silence are errors (the connection ends).
async fn read_some(stream: &mut TcpStream, buf: &mut [u8], idle: Duration) -> io::Result<usize> {
    match tokio::time::timeout(idle, stream.read(buf)).await {
        Ok(Ok(0)) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_skip_network_and_broadcast_and_stay_in_loopback() {
        let ips = node_ips(Ipv4Addr::new(127, 0, 0, 253), 4).unwrap();
        assert_eq!(
            ips,
            [
                Ipv4Addr::new(127, 0, 0, 253),
                Ipv4Addr::new(127, 0, 0, 254),
                Ipv4Addr::new(127, 0, 1, 1),
                Ipv4Addr::new(127, 0, 1, 2),
            ]
        );
        assert!(matches!(
            node_ips(Ipv4Addr::new(127, 255, 255, 250), 10),
            Err(LabError::NotLoopback(_))
        ));
        assert!(matches!(
            node_ips(Ipv4Addr::new(10, 0, 0, 1), 1),
            Err(LabError::NotLoopback(_))
        ));
        assert_eq!(
            node_ips(Ipv4Addr::new(127, 0, 0, 10), 1000).unwrap().len(),
            1000
        );
    }

    #[test]
    fn ids_fixed_and_distinct() {
        let a = node_ids(5, 500);
        assert_eq!(a, node_ids(5, 500));
        let set: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(set.len(), 500);
    }

    #[test]
    fn closest_is_the_brute_force_order() {
        let ids = node_ids(9, 200);
        let target = ids[17];
        let got = closest(&ids, &target, 8, Some(17));
        let mut all: Vec<usize> = (0..200).filter(|&i| i != 17).collect();
        all.sort_by_key(|&i| ids[i].distance(&target));
        assert_eq!(got, all[..8]);
        assert_eq!(closest(&ids[..3], &target, 8, None).len(), 3);
    }

    #[test]
    fn plan_places_replicas_and_seeders() {
        let cfg = LabConfig {
            nodes: 30,
            torrents: 50,
            seeders_per_torrent: 2,
            ..LabConfig::default()
        };
        let ids = node_ids(cfg.seed, cfg.nodes);
        let p = Plan::new(&cfg, &ids);
        for t in 0..50 {
            assert_eq!(p.replicas[t].len(), 8);
            assert_eq!(p.seeders[t].len(), 2);
            assert_ne!(p.seeders[t][0], p.seeders[t][1]);
            for &s in &p.seeders[t] {
                assert!(p.seeded_by[s].contains(&t));
            }
        }
        assert!(p.near.iter().all(|v| v.len() == NEAR));
        assert!(p.far.iter().all(|v| !v.is_empty()));
    }
}
