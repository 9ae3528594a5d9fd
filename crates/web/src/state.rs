//! What every handler shares: the store's readers, the binary's operations, auth, limits,
//! metrics, and the crawler's recent history for the dashboard.

use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::registry::Registry;
use serde::Serialize;
use store::{InfoHash, Torrent};

use crate::auth::Auth;
use crate::{ApiError, Data, HttpMetrics};

/// A boxed future, as [`Ops`] returns.
pub type OpsFuture<T> = Pin<Box<dyn Future<Output = Result<T, OpsError>> + Send + 'static>>;

/// Why an [`Ops`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The writer is gone (shutting down) or the store refused.
    #[error("{0}")]
    Unavailable(String),
    /// The operation is not possible in this process (e.g. no rules loaded).
    #[error("{0}")]
    Unsupported(String),
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The rules that fired for a torrent (`GET /api/v1/torrents/{infohash}/explain`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The rules revision that produced it.
    pub rules_rev: String,
    /// Content type the rules give now.
    pub content_type: Option<String>,
    /// Tags the rules give now.
    pub tags: Vec<String>,
    /// Names of the rules that fired, in evaluation order.
    pub fired: Vec<String>,
    /// Whether a rule would drop (and block) it, and which.
    pub drop: Option<String>,
    /// Rules that failed to evaluate on it, with the reason.
    pub errors: Vec<String>,
}

/// What `POST /api/v1/reclassify` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReclassifyReport {
    /// Torrents classified again.
    pub reclassified: u64,
    /// Torrents the rules dropped (deleted and blocked).
    pub dropped: u64,
    /// The rules revision now stored.
    pub rules_rev: String,
}

/// A running crawler's status, for the dashboard, `/healthz` and `/api/v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CrawlerStatus {
    /// Seconds since the crawler started.
    pub uptime_secs: u64,
    /// Nodes in the DHT routing table.
    pub routing_table_nodes: u64,
    /// Crawl-table nodes by BEP-51 support: yes, no, unknown.
    pub crawl_table: [u64; 3],
    /// Whether BEP-51 sampling has started.
    pub sampling: bool,
    /// Infohashes received in samples since start.
    pub sampled: u64,
    /// Sampled infohashes new to the crawler since start.
    pub new_hashes: u64,
    /// Metadata fetches in flight.
    pub fetching: u64,
    /// Candidates waiting for a fetch.
    pub queued: u64,
    /// Torrents persisted since start.
    pub persisted: u64,
    /// Fetches that failed since start.
    pub failed: u64,
    /// Fetch outcomes since start by cause (`ok`, `no_peers`, `timeout`, ...), as the
    /// `bitagent_metadata_fetch_total` metric counts them.
    pub fetch_outcomes: Vec<(String, u64)>,
    /// The store's disk budget in bytes (`--max-db-size`), if any.
    pub disk_budget: Option<u64>,
}

/// One minute of the dashboard's chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryPoint {
    /// Seconds since the server started.
    pub at_secs: u64,
    /// Torrents persisted in the interval ending here.
    pub persisted: u64,
    /// Sampled infohashes in the interval ending here.
    pub sampled: u64,
}

/// What the binary does for the server: writes (through the one writer), rules, crawler
/// status. `bitagent run` and `bitagent serve` each implement it.
pub trait Ops: Send + Sync + 'static {
    /// Deletes the torrents and blocks their hashes forever. Returns how many were newly
    /// blocked.
    fn delete_and_block(&self, hashes: Vec<InfoHash>) -> OpsFuture<usize>;
    /// Replaces a stored torrent's tags (content type, attributes and rules revision stay).
    /// Returns whether the torrent exists.
    fn set_tags(&self, hash: InfoHash, tags: Vec<String>) -> OpsFuture<bool>;
    /// Classifies every stored torrent not classified by the current rules again.
    fn reclassify(&self) -> OpsFuture<ReclassifyReport>;
    /// What the current rules say about a stored torrent.
    fn explain(&self, torrent: &Torrent) -> Explanation;
    /// The crawler's status, when one runs in this process.
    fn crawler(&self) -> Option<CrawlerStatus>;
}

/// How the server is exposed.
#[derive(Debug, Clone)]
pub struct Options {
    /// The API key: writes always need it; reads need it unless [`open_reads`](Self::open_reads).
    pub api_key: String,
    /// Reads without a key: the server listens on loopback only, or the user opted in
    /// (`--public-read`).
    pub open_reads: bool,
    /// Searches (API, UI, Torznab, RSS) per second per client IP, with a burst of 4x.
    pub searches_per_sec: NonZeroU32,
    /// How often the dashboard's history takes a point (a minute; tests use less).
    pub history_every: Duration,
    /// Points kept (an hour of minutes).
    pub history_len: usize,
    /// Readers of the store at once.
    pub max_readers: usize,
    /// Where saved searches are kept (a small JSON file in the data directory); `None`:
    /// saved searches are off.
    pub saved_searches: Option<std::path::PathBuf>,
}

impl Options {
    /// Defaults for a server with this key: reads need it, 20 searches/s per IP (burst 80),
    /// an hour of one-minute points, 4 readers.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            open_reads: false,
            searches_per_sec: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            history_every: Duration::from_secs(60),
            history_len: 60,
            max_readers: 4,
            saved_searches: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) data: Data,
    pub(crate) ops: Arc<dyn Ops>,
    pub(crate) auth: Auth,
    pub(crate) options: Options,
    pub(crate) registry: Arc<Registry>,
    pub(crate) http: HttpMetrics,
    pub(crate) limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub(crate) history: Mutex<VecDeque<HistoryPoint>>,
    pub(crate) started: Instant,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("options", &self.0.options.open_reads)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A server over `data` and `ops`. `http` must be registered in `registry` (see
    /// [`HttpMetrics::register`]), which `/metrics` renders.
    pub fn new(
        data: Data,
        ops: Arc<dyn Ops>,
        options: Options,
        registry: Arc<Registry>,
        http: HttpMetrics,
    ) -> Self {
        let per_sec = options.searches_per_sec;
        let burst = per_sec.saturating_mul(NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN));
        let limiter = RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst));
        Self(Arc::new(Inner {
            data,
            ops,
            auth: Auth::new(&options.api_key),
            registry,
            http,
            limiter,
            history: Mutex::new(VecDeque::new()),
            started: Instant::now(),
            options,
        }))
    }

    /// The store's readers.
    pub fn data(&self) -> &Data {
        &self.0.data
    }

    /// The binary's operations.
    pub fn ops(&self) -> &dyn Ops {
        self.0.ops.as_ref()
    }

    /// Counts a search from `ip` against its rate; over it, the seconds to wait.
    pub(crate) fn check_rate(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.0.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            ApiError::TooManyRequests(wait.as_secs().max(1))
        })
    }

    /// Forgets clients idle long enough to be back at full burst (bounds the limiter's
    /// memory whatever the number of client addresses).
    pub(crate) fn forget_idle_clients(&self) {
        self.0.limiter.retain_recent();
        self.0.limiter.shrink_to_fit();
    }

    /// The dashboard's points, oldest first.
    pub(crate) fn history(&self) -> Vec<HistoryPoint> {
        self.0
            .history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// Takes one history point from the crawler's counters (`last` is the previous
    /// `(persisted, sampled)`; returns the new one). No crawler: nothing.
    pub(crate) fn record_history(&self, last: Option<(u64, u64)>) -> Option<(u64, u64)> {
        let st = self.0.ops.crawler()?;
        let now = (st.persisted, st.sampled);
        if let Some((p, s)) = last {
            let mut h = self.0.history.lock().unwrap_or_else(|p| p.into_inner());
            h.push_back(HistoryPoint {
                at_secs: self.0.started.elapsed().as_secs(),
                persisted: now.0.saturating_sub(p),
                sampled: now.1.saturating_sub(s),
            });
            while h.len() > self.0.options.history_len {
                h.pop_front();
            }
        }
        Some(now)
    }
}
