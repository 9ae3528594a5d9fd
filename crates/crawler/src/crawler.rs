//! The pipeline: bootstrap → crawl table and BEP-51 sampling → dedup → pre-fetch filter →
//! get_peers (+ BEP-33 scrape) → metadata over TCP → batched store writes.
//!
//! Tasks (all on the caller's tokio runtime, plus the writer thread):
//! - the *sampler* owns the crawl table and the seen filter; it keeps up to
//!   `sample_concurrency` queries in flight, turns samples into candidates, and pauses while
//!   the candidate queue is more than half full (back-pressure instead of loss);
//! - the *dispatcher* takes candidates and runs each under a fetch permit (the global fetch
//!   cap): peers from the sampling node (an iterative lookup when it has none), a scrape, the
//!   metadata from up to `peers_per_hash` peers, `peers_in_parallel` at a time;
//! - the *housekeeper* bootstraps, refreshes gauges, saves the routing table, and runs the
//!   diagnosis;
//! - the *writer* thread commits records in batches.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dht::{Id20, NodeInfo};
use net::Node;
use peerwire::{InfoDict, Metadata};
use rand::{Rng as _, SeedableRng as _};
use store::{FileEntry, InfoHash, Store, TorrentRecord};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::CrawlerConfig;
use crate::crawl_table::{Bep51, CrawlTable, SampleOutcome};
use crate::dedup::SeenFilter;
use crate::diagnosis::Diagnosis;
use crate::fair_queue::FairQueue;
use crate::filter::{
    AllowAll, Candidate, PostFetch, PostVerdict, PreFetchFilter, SwarmFacts, Verdict,
};
use crate::metrics::Metrics;
use crate::nodes_file;
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
    fetches: Arc<tokio::sync::Mutex<JoinSet<()>>>,
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

struct Ctx {
    cfg: CrawlerConfig,
    node: Node,
    metrics: Arc<Metrics>,
    writer: WriterHandle,
    filter: Arc<dyn PreFetchFilter>,
    post: Arc<dyn PostFetch>,
    /// Infohashes between the filter and the end of their fetch, with how many samples named
    /// them meanwhile (bounded: past the cap a hash is simply not tracked).
    pending: std::sync::Mutex<std::collections::HashMap<[u8; 20], u32>>,
    pending_cap: usize,
    peer_id: [u8; 20],
    routing_nodes: std::sync::atomic::AtomicUsize,
    /// The global cap on infohashes being fetched over TCP.
    tcp: tokio::sync::Semaphore,
    sampling: AtomicBool,
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
            filter,
            post,
            pending: std::sync::Mutex::new(std::collections::HashMap::new()),
            pending_cap: 2 * cfg.candidate_queue + cfg.resolve_concurrency,
            peer_id: net::peer_id(),
            routing_nodes: 0.into(),
            tcp: tokio::sync::Semaphore::new(cfg.fetch_concurrency.max(1)),
            sampling: AtomicBool::new(false),
            cfg: cfg.clone(),
        });
        let (cand_tx, cand_rx) = mpsc::channel(cfg.candidate_queue.max(1));
        let fetches = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
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
        tasks.spawn(housekeeper(ctx.clone(), saved.clone(), stop_rx.clone()));
        tasks.spawn(sampler(ctx.clone(), saved, cand_tx, stop_rx.clone()));
        tasks.spawn(dispatcher(ctx.clone(), cand_rx, fetches.clone(), stop_rx));
        Crawler {
            node,
            metrics,
            stop,
            tasks,
            fetches,
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
        // Sampler, dispatcher and housekeeper stop at once.
        while self.tasks.join_next().await.is_some() {}
        // Fetches in flight: finish (and queue their records) or be cut off.
        {
            let mut fetches = self.fetches.lock().await;
            let drained = tokio::time::timeout(grace, async {
                while fetches.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::info!(
                    left = fetches.len(),
                    "fetches still running after the grace period were cancelled"
                );
                fetches.abort_all();
                while fetches.join_next().await.is_some() {}
            }
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

async fn save_routing_table(node: &Node, path: &std::path::Path) {
    match node.routing_table().await {
        Ok(nodes) if !nodes.is_empty() => match nodes_file::save(path, &nodes) {
            Ok(()) => {
                tracing::debug!(nodes = nodes.len(), file = %path.display(), "routing table saved")
            }
            Err(e) => tracing::warn!(file = %path.display(), "cannot save the routing table: {e}"),
        },
        Ok(_) => {}
        Err(e) => tracing::debug!("no routing table to save: {e}"),
    }
}

// ---------------------------------------------------------------- housekeeper

async fn housekeeper(ctx: Arc<Ctx>, saved: Vec<NodeInfo>, mut stop: watch::Receiver<bool>) {
    let v6 = ctx.node.local_addr().is_ipv6();
    let saved_addrs: Vec<SocketAddr> = saved
        .iter()
        .map(|n| n.addr)
        .filter(|a| a.is_ipv6() == v6)
        .collect();
    // Bootstrap in the background: resolve the seeds (retrying while none resolves, with
    // the saved nodes alone meanwhile), then one bootstrap lookup. The engine re-joins by
    // itself whenever its table runs short.
    let boot = {
        let ctx = ctx.clone();
        async move {
            let mut delay = Duration::from_secs(5);
            loop {
                let mut routers = saved_addrs.clone();
                match net::resolve_routers(&ctx.cfg.bootstrap, v6).await {
                    Ok(r) => routers.extend(r),
                    Err(e) => tracing::warn!("cannot resolve the bootstrap nodes: {e}"),
                }
                if !routers.is_empty() {
                    tracing::info!(
                        seeds = routers.len(),
                        saved = saved_addrs.len(),
                        "bootstrapping"
                    );
                    match ctx.node.bootstrap(routers).await {
                        Ok(r) => {
                            tracing::info!(responses = r.responses, "bootstrap lookup done");
                            return;
                        }
                        Err(e) => tracing::warn!("bootstrap failed: {e}"),
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(300));
            }
        }
    };
    tokio::pin!(boot);
    let mut boot_done = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut diagnosis = Diagnosis::new(ctx.cfg.diagnosis.clone(), Instant::now());
    let mut last_save = Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = &mut boot, if !boot_done => boot_done = true,
            _ = tick.tick() => {
                let m = &ctx.metrics;
                if let Ok(s) = ctx.node.stats().await {
                    ctx.routing_nodes.store(s.routing_table_nodes, Relaxed);
                    m.routing_table_nodes.set(s.routing_table_nodes as i64);
                    m.dht_packets_in.set_to(s.engine.rx_datagrams);
                    m.dht_packets_out.set_to(s.engine.tx_datagrams);
                    m.dht_malformed.set_to(s.engine.malformed);
                }
                m.queue_depth.with("writer").set(ctx.writer.depth() as i64);
                let now = Instant::now();
                let hist = m.request_duration.merged_snapshot();
                for w in diagnosis.tick(
                    now,
                    ctx.routing_nodes.load(Relaxed),
                    m.hashes_added.get(),
                    crate::metrics::DURATION_BUCKETS,
                    &hist,
                ) {
                    tracing::warn!("{w}");
                }
                if let Some(p) = &ctx.cfg.nodes_file
                    && now - last_save >= ctx.cfg.save_nodes_every
                {
                    last_save = now;
                    save_routing_table(&ctx.node, p).await;
                }
            }
        }
    }
}

// ---------------------------------------------------------------- sampler

enum QueryDone {
    Sample {
        addr: SocketAddr,
        result: Result<net::Response, net::Error>,
    },
    Discover {
        addr: SocketAddr,
        result: Result<net::Response, net::Error>,
    },
}

/// Runs one direct query, with the concurrency gauge, the duration histogram and the result
/// counter of its kind, retrying a few times when the engine's queue is full.
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
        match f().await {
            Err(net::Error::Busy(_)) if attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            r => break r,
        }
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

async fn sampler(
    ctx: Arc<Ctx>,
    saved: Vec<NodeInfo>,
    cand_tx: mpsc::Sender<Candidate>,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = &ctx.cfg;
    let m = &ctx.metrics;
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut table = CrawlTable::new(cfg.crawl_table.clone());
    let mut seen = SeenFilter::new(cfg.seen_capacity);
    let mut running: JoinSet<QueryDone> = JoinSet::new();
    let now = Instant::now();
    for n in &saved {
        table.offer(now, n.id, n.addr);
    }
    let mut batch: Vec<(InfoHash, SocketAddr)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sampling = false;
    let mut best_table = 0usize;
    let mut best_at = Instant::now();
    let mut last_table_seed = None::<Instant>;
    let high_water = cfg.candidate_queue / 2;
    loop {
        tokio::select! {
            _ = stop.changed() => {
                running.abort_all();
                return;
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                let Ok(done) = done else { continue };
                handle_done(&ctx, &mut table, &mut seen, &mut batch, done);
            }
            _ = tick.tick() => {
                let now = Instant::now();
                // Phase: sample once the routing table is big enough or stopped growing.
                let rt = ctx.routing_nodes.load(Relaxed);
                if rt > best_table {
                    best_table = rt;
                    best_at = now;
                }
                if !sampling && (rt >= cfg.sample_threshold || (rt > 0 && now - best_at >= cfg.stall_after)) {
                    sampling = true;
                    ctx.sampling.store(true, Relaxed);
                    m.sampling.set(1);
                    table.make_all_due(now);
                    tracing::info!(routing_table = rt, crawl_table = table.len(), "BEP-51 sampling starts");
                }
                // Feed the crawl table from the routing table while it is small.
                if table.len() < 64 && last_table_seed.is_none_or(|t: Instant| now - t >= Duration::from_secs(2)) {
                    last_table_seed = Some(now);
                    if let Ok(nodes) = ctx.node.routing_table().await {
                        for n in nodes {
                            table.offer(now, n.id, n.addr);
                        }
                    }
                }
                // Dedup the batch gathered since the last tick.
                m.queue_depth.with("dedup").set(batch.len() as i64);
                if !batch.is_empty() {
                    let b = std::mem::take(&mut batch);
                    dedup_and_queue(&ctx, b, &cand_tx).await;
                }
                // The dispatcher drains this channel into its fair queue until that is full;
                // only then does the channel fill up and sampling pause.
                let depth = cfg.candidate_queue - cand_tx.capacity();
                // Launch queries up to the concurrency cap, unless fetching lags behind.
                let paused = depth > high_water;
                while !paused && running.len() < cfg.sample_concurrency {
                    let Some((addr, _id)) = table.next_due(now, 256) else { break };
                    let mut target = [0u8; 20];
                    rng.fill(&mut target);
                    let target = Id20(target);
                    let node = ctx.node.clone();
                    let mc = ctx.metrics.clone();
                    if sampling {
                        running.spawn(async move {
                            let result = timed_query(&mc, "sample_infohashes", || node.sample(addr, target)).await;
                            QueryDone::Sample { addr, result }
                        });
                    } else {
                        running.spawn(async move {
                            let result = timed_query(&mc, "find_node", || node.find_node_at(addr, target)).await;
                            QueryDone::Discover { addr, result }
                        });
                    }
                }
                m.crawl_table_nodes.with("yes").set(table.count(Bep51::Yes) as i64);
                m.crawl_table_nodes.with("no").set(table.count(Bep51::No) as i64);
                m.crawl_table_nodes.with("unknown").set(table.count(Bep51::Unknown) as i64);
                m.crawl_table_evictions.set_to(table.refused() + table.evicted());
                m.seen_filter_hashes.set(seen.current_len() as i64);
            }
        }
    }
}

fn handle_done(
    ctx: &Ctx,
    table: &mut CrawlTable,
    seen: &mut SeenFilter,
    batch: &mut Vec<(InfoHash, SocketAddr)>,
    done: QueryDone,
) {
    let now = Instant::now();
    let m = &ctx.metrics;
    let v6 = ctx.node.local_addr().is_ipv6();
    let offer = |table: &mut CrawlTable, nodes: &[NodeInfo]| {
        for n in nodes {
            if n.addr.is_ipv6() == v6 && !n.addr.ip().is_unspecified() {
                table.offer(now, n.id, n.addr);
            }
        }
    };
    match done {
        QueryDone::Sample { addr, result } => match result {
            Ok(r) => {
                offer(table, &r.reply.nodes);
                let has_samples = !r.reply.samples.is_empty() || r.reply.num.is_some();
                if !has_samples {
                    table.record(now, addr, SampleOutcome::Unsupported);
                    return;
                }
                m.samples_received.add(r.reply.samples.len() as u64);
                let mut new = 0;
                for h in &r.reply.samples {
                    if seen.check_and_insert(&h.0) {
                        new += 1;
                        batch.push((InfoHash(h.0), addr));
                    } else {
                        m.dedup.with("seen").inc();
                        if let Some(n) = ctx.pending.lock().expect("pending lock").get_mut(&h.0) {
                            *n = n.saturating_add(1);
                        }
                    }
                }
                table.record(
                    now,
                    addr,
                    SampleOutcome::Samples {
                        num: r.reply.num,
                        interval: r.reply.interval,
                        new,
                    },
                );
            }
            Err(net::Error::Remote { .. }) => table.record(now, addr, SampleOutcome::Unsupported),
            Err(net::Error::Timeout { .. }) => table.record(now, addr, SampleOutcome::Timeout),
            Err(_) => table.release(addr, now + Duration::from_secs(5)),
        },
        QueryDone::Discover { addr, result } => match result {
            Ok(r) => {
                offer(table, &r.reply.nodes);
                table.release(addr, now + Duration::from_secs(30));
            }
            Err(net::Error::Timeout { .. }) => table.record(now, addr, SampleOutcome::Timeout),
            Err(_) => table.release(addr, now + Duration::from_secs(30)),
        },
    }
}

/// Looks the new hashes up in the store, touches the known ones, filters the rest and queues
/// them for fetching.
async fn dedup_and_queue(
    ctx: &Ctx,
    batch: Vec<(InfoHash, SocketAddr)>,
    cand_tx: &mpsc::Sender<Candidate>,
) {
    let m = &ctx.metrics;
    let hashes: Vec<InfoHash> = batch.iter().map(|(h, _)| *h).collect();
    let known = match ctx.writer.known(hashes).await {
        Ok(k) => k,
        Err(_) => return,
    };
    let now = unix_now();
    let mut touch = Vec::new();
    for ((hash, source), known) in batch.into_iter().zip(known) {
        if known {
            m.dedup.with("stored").inc();
            touch.push(hash);
            continue;
        }
        m.dedup.with("new").inc();
        m.hashes_added.inc();
        let c = Candidate {
            info_hash: hash.0,
            source,
            seen_at: now,
        };
        match ctx.filter.check(&c) {
            Verdict::Pass => m.prefilter.with("pass").inc(),
            Verdict::Drop(why) => {
                m.prefilter.with("drop").inc();
                tracing::debug!(info_hash = %hash, %why, "dropped before fetch");
                continue;
            }
        }
        {
            let mut pending = ctx.pending.lock().expect("pending lock");
            if pending.len() < ctx.pending_cap {
                pending.insert(c.info_hash, 1);
            }
        }
        if cand_tx.try_send(c).is_err() {
            m.queue_drops.with("candidates").inc();
            ctx.pending.lock().expect("pending lock").remove(&hash.0);
        }
    }
    if !touch.is_empty() {
        let _ = ctx.writer.touch(touch, now).await;
    }
}

// ---------------------------------------------------------------- dispatcher and fetch

async fn dispatcher(
    ctx: Arc<Ctx>,
    mut cand_rx: mpsc::Receiver<Candidate>,
    fetches: Arc<tokio::sync::Mutex<JoinSet<()>>>,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = &ctx.cfg;
    let mut queue = FairQueue::new(cfg.candidate_queue, cfg.per_source_in_flight);
    let (done_tx, mut done_rx) = mpsc::channel::<std::net::IpAddr>(cfg.resolve_concurrency.max(1));
    let mut in_flight = 0usize;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            c = cand_rx.recv(), if !queue.is_full() => match c {
                Some(c) => {
                    // Not full (checked by the guard).
                    let _ = queue.push(c);
                }
                None => return,
            },
            Some(ip) = done_rx.recv() => {
                in_flight -= 1;
                queue.done(ip);
            }
        }
        let mut set = fetches.lock().await;
        // Reap finished tasks so the set stays as small as the cap.
        while set.try_join_next().is_some() {}
        while in_flight < cfg.resolve_concurrency.max(1) {
            let Some(c) = queue.pop() else { break };
            in_flight += 1;
            let ctx2 = ctx.clone();
            let done = done_tx.clone();
            set.spawn(async move {
                let ip = c.source.ip();
                process(&ctx2, c).await;
                let _ = done.send(ip).await;
            });
        }
        ctx.metrics
            .queue_depth
            .with("candidates")
            .set((queue.len() + cand_rx.len()) as i64);
    }
}

/// Resolves peers for one candidate, fetches its metadata and queues the record.
async fn process(ctx: &Ctx, c: Candidate) {
    let m = &ctx.metrics;
    m.fetch_in_flight.inc();
    let outcome = resolve_and_fetch(ctx, &c).await;
    m.fetch_in_flight.dec();
    ctx.pending
        .lock()
        .expect("pending lock")
        .remove(&c.info_hash);
    let Some((record, swarm_known)) = outcome else {
        return;
    };
    let mut record = record;
    match ctx.post.decide(&mut record) {
        PostVerdict::Keep => {
            m.postfetch.with("keep").inc();
            if swarm_known {
                m.scrapes.inc();
            }
            let _ = ctx.writer.put(record).await;
        }
        PostVerdict::Drop { rule, block } => {
            m.postfetch.with(if block { "block" } else { "drop" }).inc();
            tracing::debug!(info_hash = %record.info_hash, %rule, block, "dropped after fetch");
            if block {
                let _ = ctx.writer.block(vec![record.info_hash], unix_now()).await;
            }
        }
    }
}

/// Scrapes the sampling node (BEP-33): seeders and leechers estimates.
async fn scrape_source(ctx: &Ctx, c: &Candidate) -> Option<(f64, f64)> {
    if !ctx.cfg.scrape {
        return None;
    }
    let node = &ctx.node;
    let hash = Id20(c.info_hash);
    timed_query(&ctx.metrics, "scrape", || {
        node.get_peers_at(c.source, hash, true)
    })
    .await
    .ok()
    .and_then(|r| Some((r.reply.scrape_seeds?, r.reply.scrape_peers.unwrap_or(0.0))))
}

/// The swarm check between peers and TCP. `false`: dropped (counted).
fn swarm_passes(ctx: &Ctx, c: &Candidate, peers: usize, swarm: Option<(f64, f64)>) -> bool {
    let round = |x: f64| x.round().clamp(0.0, f64::from(u32::MAX)) as u32;
    let times_seen = ctx
        .pending
        .lock()
        .expect("pending lock")
        .get(&c.info_hash)
        .copied()
        .unwrap_or(1);
    let facts = SwarmFacts {
        peers,
        seeders: swarm.map(|s| round(s.0)),
        leechers: swarm.map(|s| round(s.1)),
        times_seen,
    };
    match ctx.filter.check_swarm(c, &facts) {
        Verdict::Pass => {
            ctx.metrics.swarm_filter.with("pass").inc();
            true
        }
        Verdict::Drop(why) => {
            ctx.metrics.swarm_filter.with("drop").inc();
            tracing::debug!(info_hash = %InfoHash(c.info_hash), %why, "dropped before connecting");
            false
        }
    }
}

/// Peers, the swarm check, and the metadata: the record to keep (with whether a scrape is in
/// it), or `None` (the outcome is counted).
async fn resolve_and_fetch(ctx: &Ctx, c: &Candidate) -> Option<(TorrentRecord, bool)> {
    let m = &ctx.metrics;
    let started = Instant::now();
    let hash = Id20(c.info_hash);
    let node = &ctx.node;
    let mut tried: Vec<SocketAddr> = Vec::new();
    let mut swarm: Option<(f64, f64)> = None;
    // 1. Peers from the node that sampled the hash.
    let mut peers =
        match timed_query(m, "get_peers", || node.get_peers_at(c.source, hash, false)).await {
            Ok(r) => r.reply.peers,
            Err(_) => Vec::new(),
        };
    let mut outcome = None;
    let mut last_failure: Option<&'static str> = None;
    let mut used_lookup = false;
    if peers.is_empty() {
        // 2. None: an iterative lookup (which scrapes in its second phase).
        used_lookup = true;
        if let Some((p, s)) = lookup(ctx, hash, Some(c.source)).await {
            peers = p;
            swarm = s;
        }
        if !peers.is_empty() {
            if !swarm_passes(ctx, c, peers.len(), swarm) {
                return None;
            }
            let (o, f) = fetch(ctx, c.info_hash, &peers, &mut tried).await;
            outcome = o;
            last_failure = f;
        }
    } else if ctx.filter.wants_swarm() {
        // The filter decides on the swarm size: scrape first, then connect.
        swarm = scrape_source(ctx, c).await;
        if !swarm_passes(ctx, c, peers.len(), swarm) {
            return None;
        }
        let (o, f) = fetch(ctx, c.info_hash, &peers, &mut tried).await;
        outcome = o;
        last_failure = f;
    } else {
        if !swarm_passes(ctx, c, peers.len(), None) {
            return None;
        }
        // The scrape of the same node runs alongside the fetch.
        let (fetched, scraped) = tokio::join!(
            fetch(ctx, c.info_hash, &peers, &mut tried),
            scrape_source(ctx, c)
        );
        outcome = fetched.0;
        last_failure = fetched.1;
        swarm = scraped;
    }
    // 3. The sampling node's peers all failed: ask the DHT for more, once.
    if outcome.is_none()
        && !used_lookup
        && !tried.is_empty()
        // No seed: the sampling node has just answered, and a seed query would wait in its
        // (busy) budget queue; the routing table knows the nodes close to the hash.
        && let Some((more, s)) = lookup(ctx, hash, None).await
    {
        swarm = swarm.or(s);
        let fresh: Vec<SocketAddr> = more.into_iter().filter(|p| !tried.contains(p)).collect();
        if !fresh.is_empty() {
            let (o, f) = fetch(ctx, c.info_hash, &fresh, &mut tried).await;
            outcome = o;
            last_failure = f.or(last_failure);
        }
    }
    let Some(meta) = outcome else {
        let cause = if tried.is_empty() {
            "no_peers"
        } else {
            last_failure.unwrap_or("other")
        };
        m.fetch.with(cause).inc();
        return None;
    };
    m.fetch.with("ok").inc();
    m.fetch_duration.observe(started.elapsed());
    let record = to_record(
        c.info_hash,
        &meta.info,
        ctx.cfg.file_cap,
        c.seen_at,
        swarm,
        unix_now(),
    );
    Some((record, swarm.is_some()))
}

/// An iterative get_peers lookup with scrape: the peers found and the BEP-33 estimate.
async fn lookup(
    ctx: &Ctx,
    hash: Id20,
    seed: Option<SocketAddr>,
) -> Option<(Vec<SocketAddr>, Option<(f64, f64)>)> {
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

/// Tries up to `peers_per_hash` peers (minus those already tried). Returns the metadata, or
/// the last failure's cause.
async fn fetch(
    ctx: &Ctx,
    info_hash: [u8; 20],
    peers: &[SocketAddr],
    tried: &mut Vec<SocketAddr>,
) -> (Option<Metadata>, Option<&'static str>) {
    let budget = ctx.cfg.peers_per_hash.saturating_sub(tried.len());
    let mut list: Vec<SocketAddr> = Vec::new();
    for p in peers {
        if list.len() >= budget {
            break;
        }
        if !tried.contains(p) && !list.contains(p) && p.port() != 0 {
            list.push(*p);
        }
    }
    if list.is_empty() {
        return (None, None);
    }
    let Ok(_slot) = ctx.tcp.acquire().await else {
        return (None, None);
    };
    ctx.metrics.tcp_in_flight.inc();
    let out = net::fetch_from_any(
        &list,
        ctx.cfg.peers_in_parallel,
        info_hash,
        ctx.peer_id,
        ctx.cfg.fetch.clone(),
        ctx.cfg.connect_timeout,
    )
    .await;
    ctx.metrics.tcp_in_flight.dec();
    let attempted = list.len() - out.not_tried;
    ctx.metrics.fetch_connections.add(attempted as u64);
    tried.extend(&list[..attempted]);
    let last = out.failures.last().map(|(_, f)| f.cause());
    (out.metadata.map(|(_, m)| m), last)
}

/// Maps a verified info dict to a store record.
pub fn to_record(
    info_hash: [u8; 20],
    info: &InfoDict,
    file_cap: usize,
    seen_at: i64,
    swarm: Option<(f64, f64)>,
    now: i64,
) -> TorrentRecord {
    let files = info
        .files
        .iter()
        .take(file_cap)
        .map(|f| FileEntry {
            path: f.path.join("/"),
            size: f.length,
        })
        .collect();
    let round = |x: f64| x.round().clamp(0.0, f64::from(u32::MAX)) as u32;
    TorrentRecord {
        info_hash: InfoHash(info_hash),
        name: info.name.clone(),
        total_size: info.total_size,
        files,
        file_count: info.files.len() as u64,
        private: info.private,
        piece_length: info.piece_length,
        meta_version: info.meta_version.and_then(|v| u8::try_from(v).ok()),
        seen_at,
        seeders: swarm.map(|s| round(s.0)),
        leechers: swarm.map(|s| round(s.1)),
        scraped_at: swarm.map(|_| now),
        ..TorrentRecord::default()
    }
}
