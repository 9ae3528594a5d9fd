//! Simulation parameters and the engine configuration used for simulated nodes.

use std::time::Duration;

use dht::Rate;

use crate::link::LinkConfig;

/// Everything a [`crate::Network`] is built from. Same `SimConfig` (including `seed`) and
/// same driver calls give the same run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes created up front (more can be added with `Network::add_node`).
    pub nodes: usize,
    /// Master seed: engine seeds, the link model and the workload RNG derive from it.
    pub seed: u64,
    /// Latency, jitter and loss of every datagram.
    pub link: LinkConfig,
    /// Template for every engine; `seed` is replaced per node and `read_only` by
    /// `read_only_fraction`. See [`SimConfig::engine_defaults`].
    pub engine: dht::Config,
    /// Fraction of the initial nodes (never node 0) that run as BEP-43 read-only nodes.
    pub read_only_fraction: f64,
    /// Call `check_invariants()` on the routing table of every engine right after it handles
    /// an input or a command, and panic (with seed and step) on a violation. Costly.
    pub check_invariants: bool,
    /// Timer resolution: engine deadlines are rounded up to a multiple of it. 1 ms, like
    /// tokio's timer wheel.
    pub timer_granularity: Duration,
    /// Ceiling of the back-off for a *spinning* engine: one that, right after
    /// `handle_timeout(now)`, asks to be woken again at or before `now` (a real driver would
    /// busy-loop; a virtual clock would never advance). Such an engine is woken again after
    /// `timer_granularity`, doubling on each consecutive spin up to this ceiling; the streak
    /// ends as soon as the engine names a future deadline. A correct engine never spins, so
    /// this never applies; while one does, its timers run at most this late. 64 ms.
    pub spin_backoff_max: Duration,
    /// Most events kept per node before the oldest are dropped.
    pub events_per_node: usize,
    /// Whether to keep `Event::NodeAdded` (off by default: very frequent, rarely needed).
    pub keep_node_added: bool,
    /// How many earlier nodes each node bootstraps from in `Network::bootstrap_all`.
    pub bootstrap_peers: usize,
    /// Virtual time between two consecutive nodes joining in `Network::bootstrap_all`.
    pub bootstrap_spacing: Duration,
}

impl SimConfig {
    /// `nodes` nodes under `seed`, with a lossless 20–50 ms link and
    /// [`SimConfig::engine_defaults`].
    pub fn new(nodes: usize, seed: u64) -> Self {
        Self {
            nodes,
            seed,
            link: LinkConfig::default(),
            engine: Self::engine_defaults(),
            read_only_fraction: 0.0,
            check_invariants: false,
            timer_granularity: Duration::from_millis(1),
            spin_backoff_max: Duration::from_millis(64),
            events_per_node: 256,
            keep_node_added: false,
            bootstrap_peers: 3,
            bootstrap_spacing: Duration::from_millis(20),
        }
    }

    /// The engine configuration for simulated nodes: [`dht::Config::default`] (a polite full
    /// node: K = 20, alpha = 3, per-IP query budget 1/s burst 4, per-IP answer budget 5/s
    /// burst 20) with two changes:
    ///
    /// * the global outgoing query budget is raised to 2000/s, burst 2000, so a node that
    ///   bootstraps, runs several lookups and crawls with BEP-51 at once is never starved by
    ///   its own global budget; the per-IP budgets stay at their defaults because every
    ///   simulated node has its own IP, exactly as on the real DHT;
    /// * fewer events are buffered inside the engine (the simulator drains them after every
    ///   input anyway).
    pub fn engine_defaults() -> dht::Config {
        dht::Config {
            global_query_rate: Rate {
                per_second: 2000.0,
                burst: 2000.0,
            },
            max_events: 1024,
            ..dht::Config::default()
        }
    }
}
