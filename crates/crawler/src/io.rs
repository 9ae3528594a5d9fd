//! The IO the driver performs for the planner: direct DHT queries (with the request metrics
//! and the planner's busy retries), lookups, metadata fetches, and the post-fetch stage with
//! the store write.

use std::net::SocketAddr;
use std::time::Instant;

use infohash::InfoHash;
use peerwire::Metadata;

use crate::crawler::{Ctx, unix_now};
use crate::filter::{Candidate, PostVerdict};
use crate::metrics::Metrics;
use crate::planner::{FetchReport, QueryError, Swarm, busy_retry};
use crate::record::to_record;

/// The reply, or why there is none, as the planner takes it.
pub(crate) fn reply(r: &Result<net::Response, net::Error>) -> Result<&dht::Reply, QueryError> {
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
pub(crate) async fn timed_query<F, Fut>(
    m: &Metrics,
    kind: &'static str,
    f: F,
) -> Result<net::Response, net::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<net::Response, net::Error>>,
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
pub(crate) async fn lookup(
    ctx: &Ctx,
    hash: InfoHash,
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
pub(crate) async fn fetch(
    ctx: &Ctx,
    info_hash: InfoHash,
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
pub(crate) async fn finish(ctx: &Ctx, c: Candidate, meta: &Metadata, swarm: Option<Swarm>) {
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
            tracing::debug!(info_hash = %c.info_hash, %rule, block, "dropped after fetch");
            if block {
                let _ = ctx.writer.block(vec![record.info_hash], unix_now()).await;
            }
        }
    }
}
