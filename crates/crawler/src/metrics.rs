//! The crawler's metrics: lock-free counters, gauges and histograms, rendered as Prometheus
//! text (exposition format 0.0.4). Every metric is listed in `docs/metrics.md`.
//!
//! Label sets are fixed at compile time (no label value ever comes from the network), so the
//! number of series is bounded.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    /// Raises the value to `v` (for counts kept elsewhere and mirrored here).
    pub fn set_to(&self, v: u64) {
        self.0.fetch_max(v, Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

/// A family of counters over a fixed label set.
#[derive(Debug)]
pub struct CounterVec {
    labels: &'static [&'static str],
    values: Vec<Counter>,
}

impl CounterVec {
    fn new(labels: &'static [&'static str]) -> Self {
        Self {
            labels,
            values: labels.iter().map(|_| Counter::default()).collect(),
        }
    }
    /// The counter for `label`. A label outside the fixed set is a programming error: it is
    /// counted under the last label (by convention `"other"`) in release builds.
    pub fn with(&self, label: &str) -> &Counter {
        let i = self.labels.iter().position(|l| *l == label);
        debug_assert!(i.is_some(), "unknown label {label}");
        &self.values[i.unwrap_or(self.labels.len() - 1)]
    }
    /// Sum over all labels.
    pub fn total(&self) -> u64 {
        self.values.iter().map(Counter::get).sum()
    }
}

/// A family of gauges over a fixed label set.
#[derive(Debug)]
pub struct GaugeVec {
    labels: &'static [&'static str],
    values: Vec<Gauge>,
}

impl GaugeVec {
    fn new(labels: &'static [&'static str]) -> Self {
        Self {
            labels,
            values: labels.iter().map(|_| Gauge::default()).collect(),
        }
    }
    /// The gauge for `label` (see [`CounterVec::with`]).
    pub fn with(&self, label: &str) -> &Gauge {
        let i = self.labels.iter().position(|l| *l == label);
        debug_assert!(i.is_some(), "unknown label {label}");
        &self.values[i.unwrap_or(self.labels.len() - 1)]
    }
}

/// Latency buckets in seconds: 5 ms to 30 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts per bucket, plus one for +Inf.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }
    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }
    /// Non-cumulative bucket counts (the last is +Inf).
    pub fn snapshot(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Relaxed)).collect()
    }
    /// The bucket upper bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }
}

/// The `q`-quantile (0..=1) of the observations between two snapshots of the same histogram,
/// as the upper bound of the bucket it falls in (`f64::INFINITY` past the last bound), or
/// `None` without observations.
pub fn quantile_between(bounds: &[f64], before: &[u64], after: &[u64], q: f64) -> Option<f64> {
    let delta: Vec<u64> = after
        .iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let total: u64 = delta.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in delta.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(bounds.get(i).copied().unwrap_or(f64::INFINITY));
        }
    }
    Some(f64::INFINITY)
}

/// A family of histograms over a fixed label set.
#[derive(Debug)]
pub struct HistogramVec {
    labels: &'static [&'static str],
    values: Vec<Histogram>,
}

impl HistogramVec {
    fn new(labels: &'static [&'static str], bounds: &'static [f64]) -> Self {
        Self {
            labels,
            values: labels.iter().map(|_| Histogram::new(bounds)).collect(),
        }
    }
    /// The histogram for `label` (see [`CounterVec::with`]).
    pub fn with(&self, label: &str) -> &Histogram {
        let i = self.labels.iter().position(|l| *l == label);
        debug_assert!(i.is_some(), "unknown label {label}");
        &self.values[i.unwrap_or(self.labels.len() - 1)]
    }
    /// Element-wise sum of all labels' bucket counts.
    pub fn merged_snapshot(&self) -> Vec<u64> {
        let mut out = vec![0; self.values[0].counts.len()];
        for h in &self.values {
            for (o, c) in out.iter_mut().zip(h.snapshot()) {
                *o += c;
            }
        }
        out
    }
}

/// Kinds of DHT queries the crawler sends (label `kind`).
pub const QUERY_KINDS: &[&str] = &[
    "sample_infohashes",
    "get_peers",
    "scrape",
    "find_node",
    "lookup_get_peers",
];

/// Outcomes of a query (label `result`).
pub const QUERY_RESULTS: &[&str] = &["ok", "timeout", "error", "busy"];

/// Outcomes of a metadata fetch for one infohash (label `result`): `ok`, `no_peers`, or the
/// cause of the last peer's failure (`peerwire::FetchError::CAUSES` plus `connect`).
pub const FETCH_RESULTS: &[&str] = &[
    "ok",
    "no_peers",
    "connect",
    "handshake",
    "no_extension_support",
    "no_metadata_support",
    "rejected",
    "timeout",
    "too_big",
    "hash_mismatch",
    "bad_info_dict",
    "protocol",
    "closed",
    "other",
];

/// Dedup outcomes of a sampled infohash (label `result`).
pub const DEDUP_RESULTS: &[&str] = &["seen", "stored", "new"];

/// Pre-fetch filter verdicts (label `verdict`).
pub const FILTER_VERDICTS: &[&str] = &["pass", "drop"];

/// Post-fetch verdicts (label `verdict`).
pub const POST_VERDICTS: &[&str] = &["keep", "drop", "block"];

/// BEP-51 support states (label `bep51`).
pub const BEP51_STATES: &[&str] = &["yes", "no", "unknown"];

/// Queues (label `queue`).
pub const QUEUES: &[&str] = &["dedup", "candidates", "writer"];

/// Persisted entities (label `entity`).
pub const ENTITIES: &[&str] = &["torrent", "file"];

/// Every metric the crawler exports.
#[derive(Debug)]
pub struct Metrics {
    /// Infohashes received in BEP-51 samples (before dedup).
    pub samples_received: Counter,
    /// Infohashes new to the crawler (passed the in-memory filter and the store).
    pub hashes_added: Counter,
    /// Dedup outcomes.
    pub dedup: CounterVec,
    /// Pre-fetch filter verdicts.
    pub prefilter: CounterVec,
    /// Swarm-check verdicts (after get_peers, before TCP).
    pub swarm_filter: CounterVec,
    /// Post-fetch verdicts.
    pub postfetch: CounterVec,
    /// Queries by kind and result.
    pub requests: Vec<CounterVec>,
    /// Queries in flight by kind.
    pub request_concurrency: GaugeVec,
    /// Query latency by kind.
    pub request_duration: HistogramVec,
    /// Metadata fetch outcomes per infohash.
    pub fetch: CounterVec,
    /// TCP connections attempted for metadata.
    pub fetch_connections: Counter,
    /// Infohash fetches in flight.
    pub fetch_in_flight: Gauge,
    /// Infohashes being fetched over TCP now (under the global fetch cap).
    pub tcp_in_flight: Gauge,
    /// Time to fetch metadata (successful fetches).
    pub fetch_duration: Histogram,
    /// Persisted entities.
    pub persisted: CounterVec,
    /// Torrents already stored that were sampled again (last_seen raised).
    pub touched: Counter,
    /// Swarm measurements (BEP-33 scrapes) recorded.
    pub scrapes: Counter,
    /// Nodes in the routing table.
    pub routing_table_nodes: Gauge,
    /// Nodes in the crawl table by BEP-51 support.
    pub crawl_table_nodes: GaugeVec,
    /// Nodes refused or evicted by the full crawl table.
    pub crawl_table_evictions: Counter,
    /// Queue depths.
    pub queue_depth: GaugeVec,
    /// Items dropped because a queue was full.
    pub queue_drops: CounterVec,
    /// Hashes in the current generation of the seen filter.
    pub seen_filter_hashes: Gauge,
    /// Whether sampling has started (0/1).
    pub sampling: Gauge,
    /// Store write batches committed.
    pub store_batches: Counter,
    /// Store errors (a batch that failed is retried once, then dropped and counted).
    pub store_errors: Counter,
    /// Torrents in the store.
    pub store_torrents: Gauge,
    /// DHT datagrams received / sent, malformed datagrams (copied from the engine).
    pub dht_packets_in: Counter,
    /// See `dht_packets_in`.
    pub dht_packets_out: Counter,
    /// See `dht_packets_in`.
    pub dht_malformed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            samples_received: Counter::default(),
            hashes_added: Counter::default(),
            dedup: CounterVec::new(DEDUP_RESULTS),
            prefilter: CounterVec::new(FILTER_VERDICTS),
            swarm_filter: CounterVec::new(FILTER_VERDICTS),
            postfetch: CounterVec::new(POST_VERDICTS),
            requests: QUERY_KINDS
                .iter()
                .map(|_| CounterVec::new(QUERY_RESULTS))
                .collect(),
            request_concurrency: GaugeVec::new(QUERY_KINDS),
            request_duration: HistogramVec::new(QUERY_KINDS, DURATION_BUCKETS),
            fetch: CounterVec::new(FETCH_RESULTS),
            fetch_connections: Counter::default(),
            fetch_in_flight: Gauge::default(),
            tcp_in_flight: Gauge::default(),
            fetch_duration: Histogram::new(DURATION_BUCKETS),
            persisted: CounterVec::new(ENTITIES),
            touched: Counter::default(),
            scrapes: Counter::default(),
            routing_table_nodes: Gauge::default(),
            crawl_table_nodes: GaugeVec::new(BEP51_STATES),
            crawl_table_evictions: Counter::default(),
            queue_depth: GaugeVec::new(QUEUES),
            queue_drops: CounterVec::new(QUEUES),
            seen_filter_hashes: Gauge::default(),
            sampling: Gauge::default(),
            store_batches: Counter::default(),
            store_errors: Counter::default(),
            store_torrents: Gauge::default(),
            dht_packets_in: Counter::default(),
            dht_packets_out: Counter::default(),
            dht_malformed: Counter::default(),
        }
    }
}

impl Metrics {
    /// The counters of one query kind.
    pub fn request(&self, kind: &str) -> &CounterVec {
        let i = QUERY_KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        &self.requests[i]
    }

    /// Renders every metric as Prometheus text.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(16 << 10);
        counter(
            &mut o,
            "bitagent_dht_crawler_samples_received_total",
            "Infohashes received in BEP-51 samples, before dedup.",
            self.samples_received.get(),
        );
        counter(
            &mut o,
            "bitagent_dht_ktable_hashes_added_total",
            "Infohashes new to the crawler: not in the seen filter and not in the store.",
            self.hashes_added.get(),
        );
        counter_vec(
            &mut o,
            "bitagent_dht_crawler_dedup_total",
            "Sampled infohashes by dedup outcome: seen (in-memory filter), stored (store lookup), new.",
            "result",
            &self.dedup,
        );
        counter_vec(
            &mut o,
            "bitagent_dht_crawler_prefetch_filter_total",
            "New infohashes by pre-fetch filter verdict.",
            "verdict",
            &self.prefilter,
        );
        counter_vec(
            &mut o,
            "bitagent_dht_crawler_swarm_filter_total",
            "Infohashes by verdict of the check after get_peers (peer counts, scrape), before any TCP connection.",
            "verdict",
            &self.swarm_filter,
        );
        counter_vec(
            &mut o,
            "bitagent_dht_crawler_postfetch_total",
            "Verified torrents by post-fetch verdict: keep (stored), drop (not stored), block (not stored, never fetched again).",
            "verdict",
            &self.postfetch,
        );
        header(
            &mut o,
            "bitagent_dht_client_request_total",
            "DHT queries sent by the crawler, by kind and result.",
            "counter",
        );
        for (kind, vec) in QUERY_KINDS.iter().zip(&self.requests) {
            for (res, c) in vec.labels.iter().zip(&vec.values) {
                let _ = writeln!(
                    o,
                    "bitagent_dht_client_request_total{{kind=\"{kind}\",result=\"{res}\"}} {}",
                    c.get()
                );
            }
        }
        gauge_vec(
            &mut o,
            "bitagent_dht_client_request_concurrency",
            "DHT queries of the crawler in flight, by kind.",
            "kind",
            &self.request_concurrency,
        );
        header(
            &mut o,
            "bitagent_dht_client_request_duration_seconds",
            "Latency of answered DHT queries (iterative lookups: whole lookup), by kind.",
            "histogram",
        );
        for (kind, h) in QUERY_KINDS.iter().zip(&self.request_duration.values) {
            histogram_body(
                &mut o,
                "bitagent_dht_client_request_duration_seconds",
                &format!("kind=\"{kind}\","),
                h,
            );
        }
        counter_vec(
            &mut o,
            "bitagent_metadata_fetch_total",
            "Metadata fetches per infohash by outcome: ok, no_peers, or the cause of the last failure.",
            "result",
            &self.fetch,
        );
        counter(
            &mut o,
            "bitagent_metadata_fetch_connections_total",
            "TCP connections attempted to peers for metadata.",
            self.fetch_connections.get(),
        );
        gauge(
            &mut o,
            "bitagent_metadata_fetch_in_flight",
            "Infohashes in progress now: waiting for peers from the DHT, or fetching.",
            self.fetch_in_flight.get(),
        );
        gauge(
            &mut o,
            "bitagent_metadata_tcp_in_flight",
            "Infohashes whose metadata is being fetched over TCP now (capped by the fetch concurrency).",
            self.tcp_in_flight.get(),
        );
        header(
            &mut o,
            "bitagent_metadata_fetch_duration_seconds",
            "Time from a candidate leaving the queue to its verified metadata.",
            "histogram",
        );
        histogram_body(
            &mut o,
            "bitagent_metadata_fetch_duration_seconds",
            "",
            &self.fetch_duration,
        );
        counter_vec(
            &mut o,
            "bitagent_dht_crawler_persisted_total",
            "Entities committed to the store (torrents, and file rows written).",
            "entity",
            &self.persisted,
        );
        counter(
            &mut o,
            "bitagent_dht_crawler_touched_total",
            "Stored torrents sampled again (last_seen raised, no fetch).",
            self.touched.get(),
        );
        counter(
            &mut o,
            "bitagent_dht_crawler_scrapes_total",
            "BEP-33 swarm estimates recorded with a torrent.",
            self.scrapes.get(),
        );
        gauge(
            &mut o,
            "bitagent_dht_routing_table_nodes",
            "Nodes in the Kademlia routing table.",
            self.routing_table_nodes.get(),
        );
        gauge_vec(
            &mut o,
            "bitagent_dht_crawl_table_nodes",
            "Nodes in the crawl table by BEP-51 support.",
            "bep51",
            &self.crawl_table_nodes,
        );
        counter(
            &mut o,
            "bitagent_dht_crawl_table_evictions_total",
            "Nodes evicted from or refused by the full crawl table.",
            self.crawl_table_evictions.get(),
        );
        gauge_vec(
            &mut o,
            "bitagent_crawler_queue_depth",
            "Items waiting in the crawler's internal queues.",
            "queue",
            &self.queue_depth,
        );
        counter_vec(
            &mut o,
            "bitagent_crawler_queue_drops_total",
            "Items dropped because a queue was full.",
            "queue",
            &self.queue_drops,
        );
        gauge(
            &mut o,
            "bitagent_crawler_seen_filter_hashes",
            "Infohashes in the current generation of the in-memory seen filter.",
            self.seen_filter_hashes.get(),
        );
        gauge(
            &mut o,
            "bitagent_crawler_sampling",
            "1 once BEP-51 sampling has started (threshold reached or discovery stalled).",
            self.sampling.get(),
        );
        counter(
            &mut o,
            "bitagent_store_batches_total",
            "Write batches committed to the store.",
            self.store_batches.get(),
        );
        counter(
            &mut o,
            "bitagent_store_errors_total",
            "Store operations that failed.",
            self.store_errors.get(),
        );
        gauge(
            &mut o,
            "bitagent_store_torrents",
            "Torrents in the store.",
            self.store_torrents.get(),
        );
        counter(
            &mut o,
            "bitagent_dht_packets_received_total",
            "UDP datagrams received by the DHT node.",
            self.dht_packets_in.get(),
        );
        counter(
            &mut o,
            "bitagent_dht_packets_sent_total",
            "UDP datagrams sent by the DHT node.",
            self.dht_packets_out.get(),
        );
        counter(
            &mut o,
            "bitagent_dht_malformed_packets_total",
            "Datagrams dropped because they did not decode.",
            self.dht_malformed.get(),
        );
        o
    }
}

fn header(o: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, help, "counter");
    let _ = writeln!(o, "{name} {v}");
}

fn gauge(o: &mut String, name: &str, help: &str, v: i64) {
    header(o, name, help, "gauge");
    let _ = writeln!(o, "{name} {v}");
}

fn counter_vec(o: &mut String, name: &str, help: &str, label: &str, v: &CounterVec) {
    header(o, name, help, "counter");
    for (l, c) in v.labels.iter().zip(&v.values) {
        let _ = writeln!(o, "{name}{{{label}=\"{l}\"}} {}", c.get());
    }
}

fn gauge_vec(o: &mut String, name: &str, help: &str, label: &str, v: &GaugeVec) {
    header(o, name, help, "gauge");
    for (l, g) in v.labels.iter().zip(&v.values) {
        let _ = writeln!(o, "{name}{{{label}=\"{l}\"}} {}", g.get());
    }
}

fn histogram_body(o: &mut String, name: &str, labels: &str, h: &Histogram) {
    let counts = h.snapshot();
    let mut cum = 0;
    for (i, b) in h.bounds.iter().enumerate() {
        cum += counts[i];
        let _ = writeln!(o, "{name}_bucket{{{labels}le=\"{b}\"}} {cum}");
    }
    cum += counts[h.bounds.len()];
    let _ = writeln!(o, "{name}_bucket{{{labels}le=\"+Inf\"}} {cum}");
    let sum = h.sum_micros.load(Relaxed) as f64 / 1e6;
    let labels = labels.trim_end_matches(',');
    if labels.is_empty() {
        let _ = writeln!(o, "{name}_sum {sum}\n{name}_count {cum}");
    } else {
        let _ = writeln!(
            o,
            "{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {cum}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_valid_exposition_text() {
        let m = Metrics::default();
        m.hashes_added.add(3);
        m.persisted.with("torrent").inc();
        m.request_duration
            .with("get_peers")
            .observe(Duration::from_millis(30));
        m.request_duration
            .with("get_peers")
            .observe(Duration::from_secs(60));
        m.fetch.with("too_big").inc();
        let text = m.render();
        assert!(text.contains("bitagent_dht_ktable_hashes_added_total 3\n"));
        assert!(text.contains("bitagent_dht_crawler_persisted_total{entity=\"torrent\"} 1\n"));
        assert!(text.contains(
            "bitagent_dht_client_request_duration_seconds_bucket{kind=\"get_peers\",le=\"0.05\"} 1\n"
        ));
        assert!(text.contains(
            "bitagent_dht_client_request_duration_seconds_bucket{kind=\"get_peers\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains(
            "bitagent_dht_client_request_duration_seconds_count{kind=\"get_peers\"} 2\n"
        ));
        assert!(text.contains("bitagent_metadata_fetch_total{result=\"too_big\"} 1\n"));
        assert!(
            text.contains(
                "bitagent_dht_client_request_concurrency{kind=\"sample_infohashes\"} 0\n"
            )
        );
        // Every sample line belongs to a family announced by a TYPE line.
        let mut families = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                families.insert(rest.split(' ').next().unwrap().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|b| families.contains(*b)))
                    .unwrap_or(name);
                assert!(families.contains(base), "no TYPE for {line}");
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
            }
        }
    }

    #[test]
    fn every_fetch_failure_cause_has_a_label() {
        for cause in peerwire::FetchError::CAUSES.iter().chain(&["connect"]) {
            assert!(FETCH_RESULTS.contains(cause), "{cause} has no fetch label");
        }
    }

    #[test]
    fn every_metric_is_documented() {
        let doc = include_str!("../../../docs/metrics.md");
        let text = Metrics::default().render();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(
                    doc.contains(&format!("`{name}")),
                    "{name} is missing from docs/metrics.md"
                );
            }
        }
    }

    #[test]
    fn quantiles_come_from_snapshot_deltas() {
        let h = Histogram::new(DURATION_BUCKETS);
        h.observe(Duration::from_secs(20));
        let before = h.snapshot();
        for _ in 0..94 {
            h.observe(Duration::from_millis(3));
        }
        for _ in 0..6 {
            h.observe(Duration::from_millis(700));
        }
        let after = h.snapshot();
        assert_eq!(
            quantile_between(h.bounds(), &before, &after, 0.5),
            Some(0.005)
        );
        assert_eq!(
            quantile_between(h.bounds(), &before, &after, 0.95),
            Some(1.0)
        );
        assert_eq!(quantile_between(h.bounds(), &after, &after, 0.95), None);
    }
}
