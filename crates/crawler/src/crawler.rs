//! The async side of a crawl: the tasks that perform what the [`Planner`] decides.
//!
//! Tasks (all on the caller's tokio runtime, plus the writer thread):
//! - the *driver* owns the planner: every [`TICK`] it hands it the time and the routing
//!   table's size, drains its [`Action`]s into IO tasks (DHT queries, store lookups, metadata
//!   fetches, the post-fetch stage and the store write of a fetched torrent) and feeds their
//!   results back; it copies the planner's counters into the metrics. A task that panics is
//!   reported to the planner as aborted, so its slots are freed;
//! - the *housekeeper* bootstraps, refreshes gauges, saves the routing table, and runs the
//!   diagnosis ([`crate::housekeeper`]);
//! - the *writer* thread commits records in batches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dht::{Id20, NodeInfo};
use net::Node;
use peerwire::Metadata;
use store::{InfoHash, Store};
use tokio::sync::watch;
use tokio::task::{Id as TaskId, JoinSet};

use crate::config::CrawlerConfig;
use crate::filter::{AllowAll, Candidate, PostFetch, PostVerdict, PreFetchFilter};
use crate::housekeeper::{housekeeper, save_routing_table};
use crate::metrics::Metrics;
use crate::nodes_file;
use crate::planner::{
    Action, FetchReport, Planner, QueryError, ResolveId, Swarm, TICK, busy_retry,
};
use crate::record::to_record;
use crate::writer::{Writer, WriterHandle};

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A running crawl. Dropping it without [`Crawler::shutdown`] stops the tasks abruptly; the
/// database stays consistent (every batch is one transaction) but queued records are lost.
#[derive(Debug)]
pub struct Crawler {
    node: Node,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    driver: JoinSet<()>,
    writer: Option<Writer>,
    writer_handle: Option<WriterHandle>,
    nodes_file: Option<std::path::PathBuf>,
    started: Instant,
}

/// A point-in-time view for status lines and `stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Time since start.
    pub uptime: Duration,
    /// Routing-table nodes.
    pub routing_table: usize,
    /// Crawl-table nodes by BEP-51 support: yes, no, unknown.
    pub crawl_table: [i64; 3],
    /// Whether sampling has started.
    pub sampling: bool,
    /// Infohashes received in samples.
    pub sampled: u64,
    /// New infohashes.
    pub new_hashes: u64,
    /// Fetches in flight.
    pub fetching: i64,
    /// Candidates waiting.
    pub queued: i64,
    /// Torrents persisted since start.
    pub persisted: u64,
    /// Torrents in the store.
    pub stored: i64,
    /// Fetches that failed (all causes).
    pub failed: u64,
}

/// What the tasks share (read-only).
pub(crate) struct Ctx {
    pub(crate) cfg: CrawlerConfig,
    pub(crate) node: Node,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) writer: WriterHandle,
    post: Arc<dyn PostFetch>,
    peer_id: [u8; 20],
}

impl Crawler {
    /// Starts crawling with `node` (bound by the caller, normally with
    /// [`CrawlerConfig::node_config`]) into `store`, every new infohash passing `filter`,
    /// every fetched torrent stored as it is.
    pub async fn start(
        node: Node,
        store: Box<dyn Store>,
        filter: Arc<dyn PreFetchFilter>,
        cfg: CrawlerConfig,
    ) -> Crawler {
        Self::start_with(node, store, filter, Arc::new(AllowAll), cfg).await
    }

    /// [`Crawler::start`] with a post-fetch stage that classifies each verified torrent and
    /// decides whether it is stored (see [`PostFetch`]).
    pub async fn start_with(
        node: Node,
        store: Box<dyn Store>,
        filter: Arc<dyn PreFetchFilter>,
        post: Arc<dyn PostFetch>,
        cfg: CrawlerConfig,
    ) -> Crawler {
        let metrics = Arc::new(Metrics::default());
        let (writer, writer_handle) = Writer::spawn(store, cfg.writer.clone(), metrics.clone());
        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            node: node.clone(),
            metrics: metrics.clone(),
            writer: writer_handle.clone(),
            post,
            peer_id: net::peer_id(),
            cfg: cfg.clone(),
        });
        let mut tasks = JoinSet::new();
        let saved = match &cfg.nodes_file {
            Some(p) => match nodes_file::load(p) {
                Ok((nodes, skipped)) => {
                    if skipped > 0 {
                        tracing::warn!(file = %p.display(), skipped, "unreadable lines in the saved routing table");
                    }
                    nodes
                }
                Err(e) => {
                    tracing::warn!(file = %p.display(), "cannot read the saved routing table: {e}");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let (routing_tx, routing_rx) = watch::channel(0usize);
        tasks.spawn(housekeeper(
            ctx.clone(),
            saved.clone(),
            routing_tx,
            stop_rx.clone(),
        ));
        tracing::info!(seed = cfg.seed, "crawl planner seed (CrawlerConfig::seed)");
        let now = Instant::now();
        let mut planner = Planner::new(cfg.clone(), filter, node.local_addr().is_ipv6(), now);
        planner.handle_saved_nodes(now, &saved);
        let mut driver = JoinSet::new();
        driver.spawn(Driver::new(ctx, planner).run(routing_rx, stop_rx));
        Crawler {
            node,
            metrics,
            stop,
            tasks,
            driver,
            writer: Some(writer),
            writer_handle: Some(writer_handle),
            nodes_file: cfg.nodes_file.clone(),
            started: Instant::now(),
        }
    }

    /// The metrics (shared; render with [`Metrics::render`]).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// A handle on the store writer (to run maintenance jobs on the store between batches).
    pub fn writer(&self) -> Option<WriterHandle> {
        self.writer_handle.clone()
    }

    /// The DHT node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Current numbers.
    pub fn status(&self) -> Status {
        status_of(&self.metrics, self.started)
    }

    /// Commits everything the writer has queued (for tests and checkpoints).
    pub async fn flush(&self) {
        if let Some(w) = &self.writer_handle {
            let _ = w.flush().await;
        }
    }

    /// Stops sampling, gives fetches in flight up to `grace` to finish, commits everything
    /// queued, saves the routing table, shuts the node down, and returns the store.
    pub async fn shutdown(mut self, grace: Duration) -> Box<dyn Store> {
        let _ = self.stop.send(true);
        // The housekeeper stops at once; the driver stops sampling and dispatching at once.
        while self.tasks.join_next().await.is_some() {}
        // Candidates in resolution: finish (and queue their records) or be cut off.
        let drained = tokio::time::timeout(grace, async {
            while self.driver.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::info!(
                left = self.metrics.fetch_in_flight.get(),
                "fetches still running after the grace period were cancelled"
            );
            self.driver.abort_all();
            while self.driver.join_next().await.is_some() {}
        }
        if let Some(path) = &self.nodes_file {
            save_routing_table(&self.node, path).await;
        }
        self.node.shutdown().await;
        // Stop explicitly: maintenance tasks of the caller may still hold writer handles.
        if let Some(w) = self.writer_handle.take() {
            let _ = w.stop().await;
        }
        let writer = self.writer.take().expect("writer present until shutdown");
        // The tasks' contexts held writer handles; all are gone now.
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .expect("writer thread")
    }
}

/// The status from the metrics.
pub fn status_of(m: &Metrics, started: Instant) -> Status {
    Status {
        uptime: started.elapsed(),
        routing_table: m.routing_table_nodes.get().max(0) as usize,
        crawl_table: [
            m.crawl_table_nodes.with("yes").get(),
            m.crawl_table_nodes.with("no").get(),
            m.crawl_table_nodes.with("unknown").get(),
        ],
        sampling: m.sampling.get() == 1,
        sampled: m.samples_received.get(),
        new_hashes: m.hashes_added.get(),
        fetching: m.fetch_in_flight.get(),
        queued: m.queue_depth.with("candidates").get(),
        persisted: m.persisted.with("torrent").get(),
        stored: m.store_torrents.get(),
        failed: m.fetch.total() - m.fetch.with("ok").get(),
    }
}

// ---------------------------------------------------------------- driver

/// What an IO task was doing, to report it if it dies without an answer.
#[derive(Debug, Clone, Copy)]
enum Job {
    Sample(SocketAddr),
    FindNode(SocketAddr),
    Stored,
    Resolve(ResolveId),
    Other,
}

/// What an IO task brings back.
enum Done {
    FindNode(SocketAddr, Result<net::Response, net::Error>),
    Sample(SocketAddr, Result<net::Response, net::Error>),
    RoutingTable(Vec<NodeInfo>),
    Stored(Option<Vec<bool>>),
    Nothing,
    Peers(ResolveId, Vec<SocketAddr>),
    Scrape(ResolveId, Option<Swarm>),
    Lookup(ResolveId, Option<(Vec<SocketAddr>, Option<Swarm>)>),
    Fetch(ResolveId, FetchReport, Option<Metadata>),
    Finished(ResolveId),
}

/// The task that owns the planner and performs its actions.
struct Driver {
    ctx: Arc<Ctx>,
    planner: Planner,
    /// Sampling-side tasks (queries, store lookups): cancelled when the crawl stops.
    sampling: JoinSet<Done>,
    /// Resolution-side tasks (peers, fetches, the post-fetch stage): drained when it stops.
    work: JoinSet<Done>,
    jobs: HashMap<TaskId, Job>,
    /// Metadata fetched for resolutions not yet finished (a scrape may still be running).
    fetched: HashMap<ResolveId, Metadata>,
}

impl Driver {
    fn new(ctx: Arc<Ctx>, planner: Planner) -> Driver {
        Driver {
            ctx,
            planner,
            sampling: JoinSet::new(),
            work: JoinSet::new(),
            jobs: HashMap::new(),
            fetched: HashMap::new(),
        }
    }

    /// Runs until `stop`, then until the candidates in resolution are done.
    async fn run(mut self, routing: watch::Receiver<usize>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    self.sampling.abort_all();
                    self.planner.handle_shutdown();
                }
                Some(r) = self.sampling.join_next_with_id(), if !self.sampling.is_empty() => {
                    self.joined(r);
                }
                Some(r) = self.work.join_next_with_id(), if !self.work.is_empty() => {
                    self.joined(r);
                }
                _ = tick.tick(), if !stopping => {
                    let routing_nodes = *routing.borrow();
                    self.planner.handle_tick(Instant::now(), routing_nodes);
                }
                else => return,
            }
            self.start_actions();
            self.publish();
            if stopping && self.planner.is_idle() && self.work.is_empty() {
                return;
            }
        }
    }

    fn joined(&mut self, r: Result<(TaskId, Done), tokio::task::JoinError>) {
        let now = Instant::now();
        let p = &mut self.planner;
        let done = match r {
            Ok((tid, done)) => {
                self.jobs.remove(&tid);
                done
            }
            Err(e) => {
                let Some(job) = self.jobs.remove(&e.id()) else {
                    return;
                };
                if e.is_panic() {
                    tracing::warn!(?job, "a crawler task panicked: {e}");
                }
                match job {
                    Job::Sample(addr) => p.handle_sample(now, addr, Err(QueryError::Other)),
                    Job::FindNode(addr) => p.handle_find_node(now, addr, Err(QueryError::Other)),
                    Job::Stored => p.handle_stored(now, unix_now(), None),
                    Job::Resolve(id) => {
                        self.fetched.remove(&id);
                        p.handle_aborted(now, id);
                    }
                    Job::Other => {}
                }
                return;
            }
        };
        match done {
            Done::FindNode(addr, r) => p.handle_find_node(now, addr, reply(&r)),
            Done::Sample(addr, r) => p.handle_sample(now, addr, reply(&r)),
            Done::RoutingTable(nodes) => p.handle_routing_table(now, &nodes),
            Done::Stored(known) => p.handle_stored(now, unix_now(), known),
            Done::Nothing => {}
            Done::Peers(id, peers) => p.handle_peers(now, id, peers),
            Done::Scrape(id, swarm) => p.handle_scrape(now, id, swarm),
            Done::Lookup(id, found) => p.handle_lookup(now, id, found),
            Done::Fetch(id, report, meta) => {
                if let Some(meta) = meta {
                    self.fetched.insert(id, meta);
                }
                p.handle_fetch(now, id, report);
            }
            Done::Finished(id) => p.handle_finished(now, id),
        }
    }

    /// Starts every action the planner has.
    fn start_actions(&mut self) {
        while let Some(a) = self.planner.poll_action() {
            let ctx = self.ctx.clone();
            let node = ctx.node.clone();
            let (job, handle) = match a {
                Action::FindNode { addr, target } => (
                    Job::FindNode(addr),
                    self.sampling.spawn(async move {
                        let r = timed_query(&ctx.metrics, "find_node", || {
                            node.find_node_at(addr, target)
                        })
                        .await;
                        Done::FindNode(addr, r)
                    }),
                ),
                Action::Sample { addr, target } => (
                    Job::Sample(addr),
                    self.sampling.spawn(async move {
                        let r = timed_query(&ctx.metrics, "sample_infohashes", || {
                            node.sample(addr, target)
                        })
                        .await;
                        Done::Sample(addr, r)
                    }),
                ),
                Action::ReadRoutingTable => (
                    Job::Other,
                    self.sampling.spawn(async move {
                        Done::RoutingTable(node.routing_table().await.unwrap_or_default())
                    }),
                ),
                Action::CheckStored { hashes } => (
                    Job::Stored,
                    self.sampling
                        .spawn(async move { Done::Stored(ctx.writer.known(hashes).await.ok()) }),
                ),
                Action::Touch { hashes, at } => (
                    Job::Other,
                    self.sampling.spawn(async move {
                        let _ = ctx.writer.touch(hashes, at).await;
                        Done::Nothing
                    }),
                ),
                Action::GetPeers {
                    id,
                    source,
                    info_hash,
                } => (
                    Job::Resolve(id),
                    self.work.spawn(async move {
                        let peers = timed_query(&ctx.metrics, "get_peers", || {
                            node.get_peers_at(source, info_hash, false)
                        })
                        .await
                        .map(|r| r.reply.peers)
                        .unwrap_or_default();
                        Done::Peers(id, peers)
                    }),
                ),
                Action::Scrape {
                    id,
                    source,
                    info_hash,
                } => (
                    Job::Resolve(id),
                    self.work.spawn(async move {
                        let swarm = timed_query(&ctx.metrics, "scrape", || {
                            node.get_peers_at(source, info_hash, true)
                        })
                        .await
                        .ok()
                        .and_then(|r| {
                            Some((r.reply.scrape_seeds?, r.reply.scrape_peers.unwrap_or(0.0)))
                        });
                        Done::Scrape(id, swarm)
                    }),
                ),
                Action::Lookup {
                    id,
                    info_hash,
                    seed,
                } => (
                    Job::Resolve(id),
                    self.work.spawn(async move {
                        Done::Lookup(id, lookup(&ctx, info_hash, seed).await)
                    }),
                ),
                Action::Fetch {
                    id,
                    info_hash,
                    peers,
                } => (
                    Job::Resolve(id),
                    self.work.spawn(async move {
                        let (report, meta) = fetch(&ctx, info_hash, &peers).await;
                        Done::Fetch(id, report, meta)
                    }),
                ),
                Action::Finish {
                    id,
                    candidate,
                    swarm,
                    took,
                } => {
                    ctx.metrics.fetch_duration.observe(took);
                    let meta = self.fetched.remove(&id);
                    (
                        Job::Resolve(id),
                        self.work.spawn(async move {
                            if let Some(meta) = meta {
                                finish(&ctx, candidate, &meta, swarm).await;
                            }
                            Done::Finished(id)
                        }),
                    )
                }
            };
            self.jobs.insert(handle.id(), job);
        }
    }

    /// Copies the planner's counters and sizes into the metrics.
    fn publish(&self) {
        let m = &self.ctx.metrics;
        let p = &self.planner;
        let c = p.counts();
        m.samples_received.set_to(c.samples_received);
        m.dedup.with("seen").set_to(c.dedup_seen);
        m.dedup.with("new").set_to(c.dedup_new);
        m.dedup.with("stored").set_to(c.dedup_stored);
        m.hashes_added.set_to(c.dedup_new);
        m.prefilter.with("pass").set_to(c.prefilter_pass);
        m.prefilter.with("drop").set_to(c.prefilter_drop);
        m.swarm_filter.with("pass").set_to(c.swarm_pass);
        m.swarm_filter.with("drop").set_to(c.swarm_drop);
        m.queue_drops.with("candidates").set_to(c.candidate_drops);
        for (cause, n) in &c.fetch {
            m.fetch.with(cause).set_to(*n);
        }
        m.fetch_in_flight.set(p.resolving() as i64);
        m.queue_depth.with("candidates").set(p.queued() as i64);
        m.queue_depth.with("dedup").set(p.dedup_depth() as i64);
        m.sampling.set(i64::from(p.is_sampling()));
        let [yes, no, unknown] = p.crawl_table_counts();
        m.crawl_table_nodes.with("yes").set(yes as i64);
        m.crawl_table_nodes.with("no").set(no as i64);
        m.crawl_table_nodes.with("unknown").set(unknown as i64);
        let t = p.crawl_table();
        m.crawl_table_evictions.set_to(t.refused() + t.evicted());
        m.seen_filter_hashes.set(p.seen_len() as i64);
    }
}

/// The reply, or why there is none, as the planner takes it.
fn reply(r: &Result<net::Response, net::Error>) -> Result<&dht::Reply, QueryError> {
    match r {
        Ok(r) => Ok(&r.reply),
        Err(net::Error::Timeout { .. }) => Err(QueryError::Timeout),
        Err(net::Error::Remote { .. }) => Err(QueryError::Remote),
        Err(net::Error::Busy(_)) => Err(QueryError::Busy),
        Err(_) => Err(QueryError::Other),
    }
}

/// Runs one direct query, with the concurrency gauge, the duration histogram and the result
/// counter of its kind, retrying as [`busy_retry`] says when the engine's queue is full.
async fn timed_query<F, Fut>(
    m: &Metrics,
    kind: &'static str,
    f: F,
) -> Result<net::Response, net::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<net::Response, net::Error>>,
{
    let gauge = m.request_concurrency.with(kind);
    gauge.inc();
    let start = Instant::now();
    let mut attempt = 0u32;
    let r = loop {
        let r = f().await;
        if matches!(r, Err(net::Error::Busy(_)))
            && let Some(wait) = busy_retry(attempt)
        {
            attempt += 1;
            tokio::time::sleep(wait).await;
            continue;
        }
        break r;
    };
    gauge.dec();
    let label = match &r {
        Ok(_) => {
            m.request_duration.with(kind).observe(start.elapsed());
            "ok"
        }
        Err(net::Error::Timeout { .. }) => "timeout",
        Err(net::Error::Busy(_)) => "busy",
        Err(_) => "error",
    };
    m.request(kind).with(label).inc();
    r
}

/// An iterative get_peers lookup with scrape: the peers found and the BEP-33 estimate.
async fn lookup(
    ctx: &Ctx,
    hash: Id20,
    seed: Option<SocketAddr>,
) -> Option<(Vec<SocketAddr>, Option<Swarm>)> {
    let m = &ctx.metrics;
    let gauge = m.request_concurrency.with("lookup_get_peers");
    gauge.inc();
    let start = Instant::now();
    let r = ctx
        .node
        .lookup_peers(hash, ctx.cfg.scrape, seed.into_iter().collect())
        .await;
    gauge.dec();
    match r {
        Ok(r) => {
            m.request_duration
                .with("lookup_get_peers")
                .observe(start.elapsed());
            m.request("lookup_get_peers").with("ok").inc();
            let swarm = r.scrape_seeds.map(|s| (s, r.scrape_peers.unwrap_or(0.0)));
            Some((r.peers, swarm))
        }
        Err(e) => {
            let label = if matches!(e, net::Error::Busy(_)) {
                "busy"
            } else {
                "error"
            };
            m.request("lookup_get_peers").with(label).inc();
            None
        }
    }
}

/// Fetches the metadata from `peers` (the planner has reserved a TCP slot for it).
async fn fetch(
    ctx: &Ctx,
    info_hash: [u8; 20],
    peers: &[SocketAddr],
) -> (FetchReport, Option<Metadata>) {
    ctx.metrics.tcp_in_flight.inc();
    let out = net::fetch_from_any(
        peers,
        ctx.cfg.peers_in_parallel,
        info_hash,
        ctx.peer_id,
        ctx.cfg.fetch.clone(),
        ctx.cfg.connect_timeout,
    )
    .await;
    ctx.metrics.tcp_in_flight.dec();
    let attempted = peers.len() - out.not_tried;
    ctx.metrics.fetch_connections.add(attempted as u64);
    let report = FetchReport {
        ok: out.metadata.is_some(),
        attempted,
        last_failure: out.failures.last().map(|(_, f)| f.cause()),
    };
    (report, out.metadata.map(|(_, m)| m))
}

/// Makes the record, runs the post-fetch stage, and stores (or blocks) it.
async fn finish(ctx: &Ctx, c: Candidate, meta: &Metadata, swarm: Option<Swarm>) {
    let m = &ctx.metrics;
    let mut record = to_record(
        c.info_hash,
        &meta.info,
        ctx.cfg.file_cap,
        c.seen_at,
        swarm,
        unix_now(),
    );
    match ctx.post.decide(&mut record) {
        PostVerdict::Keep => {
            m.postfetch.with("keep").inc();
            if swarm.is_some() {
                m.scrapes.inc();
            }
            let _ = ctx.writer.put(record).await;
        }
        PostVerdict::Drop { rule, block } => {
            m.postfetch.with(if block { "block" } else { "drop" }).inc();
            tracing::debug!(info_hash = %InfoHash(c.info_hash), %rule, block, "dropped after fetch");
            if block {
                let _ = ctx.writer.block(vec![record.info_hash], unix_now()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use lab::swarm::{Lab, LabConfig};

    use super::*;

    /// Panics on its first torrent, keeps every later one.
    #[derive(Debug, Default)]
    struct PanicsOnce(AtomicUsize);

    impl PostFetch for PanicsOnce {
        fn decide(&self, _: &mut store::TorrentRecord) -> PostVerdict {
            assert!(
                self.0.fetch_add(1, Ordering::SeqCst) > 0,
                "the post-fetch stage panics (on purpose)"
            );
            PostVerdict::Keep
        }
    }

    /// With one resolution slot, a fetch task that panics must still free it: the next
    /// candidates are fetched and stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_fetch_task_frees_its_slot() {
        let seed = testkit::rng::seed_or(7);
        let _guard = testkit::SeedGuard::new("a_panicking_fetch_task_frees_its_slot", seed);
        let lab = Lab::start(LabConfig {
            nodes: 20,
            torrents: 10,
            first_ip: "127.0.7.10".parse().unwrap(),
            port: 0,
            seed,
            sample_interval: Duration::from_secs(2),
            ..LabConfig::default()
        })
        .await
        .expect("lab starts");
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = CrawlerConfig::scaled(1);
        cfg.seed = seed;
        cfg.bootstrap = vec![lab.bootstrap().to_string()];
        cfg.stall_after = Duration::from_secs(2);
        cfg.connect_timeout = Duration::from_secs(2);
        cfg.fetch.total_timeout = Duration::from_secs(10);
        cfg.resolve_concurrency = 1;
        let node = Node::bind("127.0.7.1:0".parse().unwrap(), cfg.node_config(seed))
            .await
            .unwrap();
        let store = store::SqliteStore::open(dir.path().join("db.sqlite3")).unwrap();
        let post = Arc::new(PanicsOnce::default());
        let crawler =
            Crawler::start_with(node, Box::new(store), Arc::new(AllowAll), post.clone(), cfg).await;
        let persisted = testkit::eventually(Duration::from_secs(120), async || {
            let n = crawler.status().persisted;
            (n >= 2).then_some(n)
        })
        .await;
        assert!(
            persisted.is_some(),
            "nothing fetched after the panic: post-fetch called {} times",
            post.0.load(Ordering::SeqCst)
        );
        assert!(post.0.load(Ordering::SeqCst) >= 3);
        let _ = crawler.shutdown(Duration::from_secs(5)).await;
    }
}
