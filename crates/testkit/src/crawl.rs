//! A crawler on loopback for end-to-end tests (feature `crawl`): the one test
//! [`CrawlerConfig`], a lab started with its timing printed, and a [`CrawlFixture`] (a bound
//! [`Node`], an SQLite store in a temporary directory, a started [`Crawler`]) with a bounded
//! wait for N persisted torrents.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use testkit::crawl::{self, CrawlFixture};
//!
//! let lab = crawl::start_lab(lab::swarm::LabConfig {
//!     nodes: 60,
//!     torrents: 200,
//!     first_ip: "127.0.10.10".parse().unwrap(),
//!     ..lab::swarm::LabConfig::default()
//! })
//! .await;
//! let fx = CrawlFixture::on_lab(&lab, "127.0.10.1:0".parse().unwrap(), 7)
//!     .start()
//!     .await;
//! let progress = fx.wait_persisted(200, Duration::from_secs(120), &[]).await;
//! let store = fx.crawler.shutdown(Duration::from_secs(5)).await;
//! # let _ = (progress, store);
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crawler::filter::PostFetch;
use crawler::{AllowAll, Crawler, CrawlerConfig, PreFetchFilter};
use lab::swarm::{Lab, LabConfig};
use net::Node;
use store::SqliteStore;
use tempfile::TempDir;
use tokio::time::Instant;

/// The database file of a fixture, in its directory.
pub const DB_FILE: &str = "bitagent.sqlite3";
/// The saved routing table of a fixture (with [`CrawlBuilder::save_nodes`]), in its directory.
pub const NODES_FILE: &str = "dht_nodes.txt";

/// The crawler configuration the loopback crawl tests share: bootstrapped from `bootstrap`,
/// sampling once the routing table stalls for 3 s (a loopback swarm of tens or hundreds of
/// nodes never reaches the public-DHT `sample_threshold` of 300), 2 s to connect and 10 s per
/// metadata fetch. Tests adjust fields from there ([`CrawlBuilder::configure`]).
pub fn test_config(bootstrap: Vec<String>) -> CrawlerConfig {
    let mut c = CrawlerConfig::scaled(1);
    c.bootstrap = bootstrap;
    c.sample_threshold = 300;
    c.stall_after = Duration::from_secs(3);
    c.connect_timeout = Duration::from_secs(2);
    c.fetch.total_timeout = Duration::from_secs(10);
    c
}

/// Starts a lab swarm (panicking when it cannot) and prints how long that took.
pub async fn start_lab(cfg: LabConfig) -> Lab {
    let t0 = std::time::Instant::now();
    let lab = Lab::start(cfg).await.expect("lab starts");
    eprintln!("lab ready in {:?}", t0.elapsed());
    lab
}

/// The counts at `percents` of `total`, rounded up: the marks a crawl's progress is reported
/// at ([`CrawlFixture::wait_persisted`]).
pub fn marks(total: u64, percents: &[u64]) -> Vec<u64> {
    percents.iter().map(|p| (total * p).div_ceil(100)).collect()
}

/// The lines of a Prometheus text `render` naming one of `keys`, without comments and zero
/// samples: the metrics a test prints after a crawl.
pub fn metric_lines(render: &str, keys: &[&str]) -> String {
    render
        .lines()
        .filter(|l| !l.starts_with('#') && keys.iter().any(|k| l.contains(k)) && !l.ends_with(" 0"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How far a crawl got in [`CrawlFixture::wait_persisted`].
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Torrents persisted when the wait ended.
    pub persisted: u64,
    /// Each mark reached, with the time it was first seen reached.
    pub marks: Vec<(u64, Duration)>,
}

/// A started crawler and its data directory (the database [`DB_FILE`], and [`NODES_FILE`]
/// when saved). The fields are public: `fx.crawler.shutdown(..)` leaves `fx.dir` usable, so a
/// second crawl can restart over the same data ([`CrawlBuilder::in_dir`]).
#[derive(Debug)]
pub struct CrawlFixture {
    /// The running crawler.
    pub crawler: Crawler,
    /// The directory of its database; removed when dropped.
    pub dir: TempDir,
}

impl CrawlFixture {
    /// A crawler with its node bound on `bind` (loopback), the DHT seeded with `seed`, run with
    /// `config` (normally [`test_config`]); no filter until [`CrawlBuilder::filters`].
    pub fn builder(bind: SocketAddr, seed: u64, config: CrawlerConfig) -> CrawlBuilder {
        CrawlBuilder {
            bind,
            seed,
            config,
            dir: None,
            save_nodes: false,
            filter: Arc::new(AllowAll),
            post: Arc::new(AllowAll),
        }
    }

    /// [`CrawlFixture::builder`] with [`test_config`] bootstrapped from `lab`.
    pub fn on_lab(lab: &Lab, bind: SocketAddr, seed: u64) -> CrawlBuilder {
        Self::builder(bind, seed, test_config(vec![lab.bootstrap().to_string()]))
    }

    /// The database's path.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join(DB_FILE)
    }

    /// The saved routing table's path (written at shutdown with [`CrawlBuilder::save_nodes`]).
    pub fn nodes_file(&self) -> PathBuf {
        self.dir.path().join(NODES_FILE)
    }

    /// Another connection to the database (a reader beside the crawler's writer).
    ///
    /// # Panics
    /// When the database cannot be opened.
    pub fn open_store(&self) -> SqliteStore {
        SqliteStore::open(self.db_path()).expect("open the fixture's database")
    }

    /// Waits (bounded by `limit`) until `want` torrents are persisted, noting when each of
    /// `marks` (ascending counts, see [`marks`]) is reached. The count when the wait ended
    /// is in [`Progress::persisted`], `want` or more unless the time ran out.
    pub async fn wait_persisted(&self, want: u64, limit: Duration, marks: &[u64]) -> Progress {
        let start = Instant::now();
        let mut reached = Vec::new();
        let done = crate::eventually(limit, async || {
            let n = self.crawler.status().persisted;
            while reached.len() < marks.len() && n >= marks[reached.len()] {
                reached.push((marks[reached.len()], start.elapsed()));
            }
            (n >= want).then_some(n)
        })
        .await;
        Progress {
            persisted: done.unwrap_or_else(|| self.crawler.status().persisted),
            marks: reached,
        }
    }
}

/// Builds a [`CrawlFixture`]; see [`CrawlFixture::builder`].
#[derive(Debug)]
pub struct CrawlBuilder {
    bind: SocketAddr,
    seed: u64,
    config: CrawlerConfig,
    dir: Option<TempDir>,
    save_nodes: bool,
    filter: Arc<dyn PreFetchFilter>,
    post: Arc<dyn PostFetch>,
}

impl CrawlBuilder {
    /// Adjusts the crawler configuration.
    pub fn configure(mut self, f: impl FnOnce(&mut CrawlerConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Saves the routing table to [`NODES_FILE`] at shutdown (and loads it at start).
    pub fn save_nodes(mut self) -> Self {
        self.save_nodes = true;
        self
    }

    /// Runs over an earlier fixture's directory (its database and saved routing table) instead
    /// of a fresh one.
    pub fn in_dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// The pre-fetch filter and post-fetch stage ([`Crawler::start_with`]); both allow
    /// everything by default.
    pub fn filters(mut self, filter: Arc<dyn PreFetchFilter>, post: Arc<dyn PostFetch>) -> Self {
        self.filter = filter;
        self.post = post;
        self
    }

    /// Binds the node, opens the store and starts the crawler.
    ///
    /// # Panics
    /// When the directory, the socket or the database cannot be made.
    pub async fn start(self) -> CrawlFixture {
        let dir = match self.dir {
            Some(d) => d,
            None => tempfile::tempdir().expect("a temporary directory"),
        };
        let mut config = self.config;
        if self.save_nodes {
            config.nodes_file = Some(dir.path().join(NODES_FILE));
        }
        let node = Node::bind(self.bind, config.node_config(self.seed))
            .await
            .unwrap_or_else(|e| panic!("bind the crawler's node on {}: {e}", self.bind));
        let store = SqliteStore::open(dir.path().join(DB_FILE)).expect("open the database");
        let crawler =
            Crawler::start_with(node, Box::new(store), self.filter, self.post, config).await;
        CrawlFixture { crawler, dir }
    }
}
