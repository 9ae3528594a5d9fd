//! The async side of a crawl: the tasks that perform what the [`Planner`] decides.
//!
//! Tasks (all on the caller's tokio runtime, plus the writer thread):
//! - the *driver* owns the planner: every [`TICK`] it hands it the time and the routing
//!   table's size, drains its [`Action`]s into IO tasks (DHT queries, store lookups, metadata
//!   fetches, the post-fetch stage and the store write of a fetched torrent: [`crate::io`])
//!   and feeds their results back ([`crate::driver`]);
//! - the *housekeeper* bootstraps, refreshes gauges, saves the routing table, and runs the
//!   diagnosis ([`crate::housekeeper`]);
//! - the *writer* thread commits records in batches.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use net::Node;
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::CrawlerConfig;
use crate::driver::Driver;
use crate::filter::{AllowAll, PostFetch, PreFetchFilter};
use crate::housekeeper::{housekeeper, save_routing_table};
use crate::metrics::Metrics;
use crate::nodes_file;
use crate::planner::Planner;
use crate::writer::{Writer, WriterHandle};

/// Seconds since the Unix epoch, read from the system clock (0 if it is set before 1970).
/// The driver stamps sampled candidates and store touches with it (the planner and the store
/// take the time as an argument); `bitagent` uses it to date blocklist entries.
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
    /// Nodes in the DHT node's routing table, as of the housekeeper's last refresh.
    pub routing_table: usize,
    /// Crawl-table nodes by BEP-51 support: yes, no, unknown.
    pub crawl_table: [i64; 3],
    /// Whether sampling has started.
    pub sampling: bool,
    /// Infohashes received in samples.
    pub sampled: u64,
    /// Sampled infohashes new to the crawler (past the seen filter and the store lookup)
    /// since start: the candidates handed to the pre-fetch filter.
    pub new_hashes: u64,
    /// Fetches in flight.
    pub fetching: i64,
    /// Candidates waiting.
    pub queued: i64,
    /// Torrents persisted since start.
    pub persisted: u64,
    /// Torrents in the store (the store's exact count, refreshed by the writer after every
    /// command), including those stored before this run.
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
    pub(crate) post: Arc<dyn PostFetch>,
    pub(crate) peer_id: [u8; 20],
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
    ) -> Self {
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
    ) -> Self {
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
        Self {
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

    /// The numbers as of now, read from [`Crawler::metrics`] (see [`status_of`]); cheap, no
    /// lock, so a status line may call it every second.
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

/// Builds a [`Status`] from a crawl's metrics, `started` being when that crawl started (the
/// uptime is measured from it). For callers that hold only the [`Metrics`], not the
/// [`Crawler`]: `bitagent run`'s `/status` route renders it on every request.
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
