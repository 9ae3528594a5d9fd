//! The driver task: owns the [`Planner`], performs each of its actions, feeds the results
//! back, and copies its counters into the metrics. Actions that only wait for an answer (DHT
//! queries, store lookups) are futures the driver polls itself; actions with real work
//! (metadata fetches, the post-fetch stage) run as tasks of their own. One task per action
//! would cost a cross-thread wake-up each, which on a 2-core machine was a fifth of the
//! crawler's CPU. An action that panics (or is cancelled) is reported to the planner as
//! aborted, so the slots it held are freed.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use dht::NodeInfo;
use futures_util::FutureExt as _;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use peerwire::Metadata;
use tokio::sync::watch;
use tokio::task::{Id as TaskId, JoinSet};

use crate::crawler::{Ctx, unix_now};
use crate::io::{fetch, finish, lookup, reply, timed_query};
use crate::planner::{Action, FetchReport, Planner, QueryError, ResolveId, Swarm, TICK};

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

/// An action the driver polls itself; `None`: it panicked.
type Waiting = Pin<Box<dyn Future<Output = (Job, Option<Done>)> + Send>>;

/// `f` as a [`Waiting`] future for `job`, its panic caught.
fn waiting(job: Job, f: impl Future<Output = Done> + Send + 'static) -> Waiting {
    Box::pin(
        AssertUnwindSafe(f)
            .catch_unwind()
            .map(move |r| (job, r.ok())),
    )
}

/// The task that owns the planner and performs its actions.
pub(crate) struct Driver {
    ctx: Arc<Ctx>,
    planner: Planner,
    /// Sampling-side queries and store lookups: dropped when the crawl stops.
    sampling: FuturesUnordered<Waiting>,
    /// Resolution-side queries (peers, scrape, lookup): finished when it stops.
    queries: FuturesUnordered<Waiting>,
    /// Resolution-side tasks (fetches, the post-fetch stage): finished when it stops.
    work: JoinSet<Done>,
    jobs: HashMap<TaskId, Job>,
    /// Metadata fetched for resolutions not yet finished (a scrape may still be running).
    fetched: HashMap<ResolveId, Metadata>,
}

impl Driver {
    pub(crate) fn new(ctx: Arc<Ctx>, planner: Planner) -> Self {
        Self {
            ctx,
            planner,
            sampling: FuturesUnordered::new(),
            queries: FuturesUnordered::new(),
            work: JoinSet::new(),
            jobs: HashMap::new(),
            fetched: HashMap::new(),
        }
    }

    /// Runs until `stop`, then until the candidates in resolution are done.
    pub(crate) async fn run(
        mut self,
        routing: watch::Receiver<usize>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    self.sampling.clear();
                    self.planner.handle_shutdown();
                }
                Some((job, done)) = self.sampling.next(), if !self.sampling.is_empty() => {
                    self.settled(job, done);
                }
                Some((job, done)) = self.queries.next(), if !self.queries.is_empty() => {
                    self.settled(job, done);
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
            if stopping && self.planner.is_idle() && self.work.is_empty() && self.queries.is_empty()
            {
                return;
            }
        }
    }

    /// A task of `work` ended: its result, or (panicked, cancelled) its job reported aborted.
    fn joined(&mut self, r: Result<(TaskId, Done), tokio::task::JoinError>) {
        match r {
            Ok((tid, done)) => {
                if let Some(job) = self.jobs.remove(&tid) {
                    self.settled(job, Some(done));
                }
            }
            Err(e) => {
                if e.is_panic() {
                    tracing::warn!("a crawler task panicked: {e}");
                }
                if let Some(job) = self.jobs.remove(&e.id()) {
                    self.settled(job, None);
                }
            }
        }
    }

    /// Reports an action's result to the planner; `None`: it died without one.
    fn settled(&mut self, job: Job, done: Option<Done>) {
        let now = Instant::now();
        let p = &mut self.planner;
        let Some(done) = done else {
            tracing::warn!(?job, "a crawler action died without an answer");
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
            match a {
                Action::FindNode { addr, target } => {
                    self.sampling.push(waiting(Job::FindNode(addr), async move {
                        let r = timed_query(&ctx.metrics, "find_node", || {
                            node.find_node_at(addr, target)
                        })
                        .await;
                        Done::FindNode(addr, r)
                    }));
                }
                Action::Sample { addr, target } => {
                    self.sampling.push(waiting(Job::Sample(addr), async move {
                        let r = timed_query(&ctx.metrics, "sample_infohashes", || {
                            node.sample(addr, target)
                        })
                        .await;
                        Done::Sample(addr, r)
                    }));
                }
                Action::ReadRoutingTable => {
                    self.sampling.push(waiting(Job::Other, async move {
                        Done::RoutingTable(node.routing_table().await.unwrap_or_default())
                    }));
                }
                Action::CheckStored { hashes } => {
                    self.sampling.push(waiting(Job::Stored, async move {
                        Done::Stored(ctx.writer.known(hashes).await.ok())
                    }));
                }
                Action::Touch { hashes, at } => {
                    self.sampling.push(waiting(Job::Other, async move {
                        let _ = ctx.writer.touch(hashes, at).await;
                        Done::Nothing
                    }));
                }
                Action::GetPeers {
                    id,
                    source,
                    info_hash,
                } => {
                    self.queries.push(waiting(Job::Resolve(id), async move {
                        let peers = timed_query(&ctx.metrics, "get_peers", || {
                            node.get_peers_at(source, info_hash, false)
                        })
                        .await
                        .map(|r| r.reply.peers)
                        .unwrap_or_default();
                        Done::Peers(id, peers)
                    }));
                }
                Action::Scrape {
                    id,
                    source,
                    info_hash,
                } => {
                    self.queries.push(waiting(Job::Resolve(id), async move {
                        let swarm = timed_query(&ctx.metrics, "scrape", || {
                            node.get_peers_at(source, info_hash, true)
                        })
                        .await
                        .ok()
                        .and_then(|r| {
                            Some((r.reply.scrape_seeds?, r.reply.scrape_peers.unwrap_or(0.0)))
                        });
                        Done::Scrape(id, swarm)
                    }));
                }
                Action::Lookup {
                    id,
                    info_hash,
                    seed,
                } => {
                    self.queries.push(waiting(Job::Resolve(id), async move {
                        Done::Lookup(id, lookup(&ctx, info_hash, seed).await)
                    }));
                }
                Action::Fetch {
                    id,
                    info_hash,
                    peers,
                } => self.spawn_work(Job::Resolve(id), async move {
                    let (report, meta) = fetch(&ctx, info_hash, &peers).await;
                    Done::Fetch(id, report, meta)
                }),
                Action::Finish {
                    id,
                    candidate,
                    swarm,
                    took,
                } => {
                    ctx.metrics.fetch_duration.observe(took);
                    let meta = self.fetched.remove(&id);
                    self.spawn_work(Job::Resolve(id), async move {
                        if let Some(meta) = meta {
                            finish(&ctx, candidate, &meta, swarm).await;
                        }
                        Done::Finished(id)
                    });
                }
            }
        }
    }

    /// Runs `f` as a task of its own (real work: a fetch, the post-fetch stage), remembered as
    /// `job` so that a panic is reported.
    fn spawn_work(&mut self, job: Job, f: impl Future<Output = Done> + Send + 'static) {
        let handle = self.work.spawn(f);
        self.jobs.insert(handle.id(), job);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use lab::swarm::{Lab, LabConfig};
    use net::Node;

    use crate::filter::{AllowAll, PostFetch, PostVerdict};
    use crate::{Crawler, CrawlerConfig};

    use super::*;

    /// An action the driver polls itself and that panics settles as "died without an
    /// answer" (so the planner frees its slots) instead of taking the driver down.
    #[tokio::test]
    async fn a_panicking_waiting_action_settles_as_died() {
        let (job, done) = waiting(Job::Resolve(7), async {
            panic!("the action panics (on purpose)");
        })
        .await;
        assert!(matches!(job, Job::Resolve(7)));
        assert!(done.is_none());
        let (_, done) = waiting(Job::Other, async { Done::Nothing }).await;
        assert!(matches!(done, Some(Done::Nothing)));
    }

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
