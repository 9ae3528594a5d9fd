//! The housekeeper task: bootstrap, the node's gauges, the diagnosis, routing-table saves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dht::NodeInfo;
use net::Node;
use tokio::sync::watch;

use crate::crawler::Ctx;
use crate::diagnosis::Diagnosis;
use crate::nodes_file;

/// Runs until `stop`: bootstraps (saved nodes of our family and the seeds), refreshes the
/// node's gauges every second (publishing the routing table's size on `routing`), runs the
/// diagnosis, and saves the routing table every `save_nodes_every`.
pub(crate) async fn housekeeper(
    ctx: Arc<Ctx>,
    saved: Vec<NodeInfo>,
    routing: watch::Sender<usize>,
    mut stop: watch::Receiver<bool>,
) {
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
                    routing.send_replace(s.routing_table_nodes);
                    m.routing_table_nodes.set(s.routing_table_nodes as i64);
                    m.dht_packets_in.set_to(s.engine.rx_datagrams);
                    m.dht_packets_out.set_to(s.engine.tx_datagrams);
                    m.dht_malformed.set_to(s.engine.malformed);
                }
                m.queue_depth.with("writer").set(ctx.writer.depth() as i64);
                let now = Instant::now();
                let hist = m.request_duration.merged_snapshot();
                let routing_nodes = *routing.borrow();
                for w in diagnosis.tick(
                    now,
                    routing_nodes,
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

/// Saves the node's routing table to `path` (nothing when it is empty).
pub(crate) async fn save_routing_table(node: &Node, path: &std::path::Path) {
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
