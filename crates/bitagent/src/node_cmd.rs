//! `bitagent node`: a long-running DHT node.

use std::time::Duration;

use anyhow::Context as _;
use dht::Event;
use net::{DEFAULT_ROUTERS, Node, NodeConfig};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use std::net::SocketAddr;
use std::str::FromStr;

use crate::render;
use clap::Args;
use infohash::InfoHash;

#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// UDP address to listen on.
    #[arg(long, value_name = "IP:PORT", default_value = "0.0.0.0:6881")]
    pub bind: SocketAddr,

    /// Router to join the DHT through (repeatable). Without any, the public default routers
    /// dht.transmissionbt.com, router.bittorrent.com and router.utorrent.com (port 6881).
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap: Vec<String>,

    /// BEP-43 read-only: send ro=1 and answer no queries.
    #[arg(long)]
    pub read_only: bool,

    /// Seed of the engine's randomness (node id, transaction ids, tokens); random if absent.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Stop by itself after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub duration: Option<f64>,

    /// Seconds between status lines.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = crate::cli::parse_secs)]
    pub status_interval: f64,

    /// Store a peer for an infohash as if it had announced (repeatable; for labs and tests).
    #[arg(long, value_name = "INFOHASH@IP:PORT")]
    pub local_peer: Vec<LocalPeer>,

    /// JSON lines on stdout: {"event":"listening",...} first, then "bootstrap", "status" and
    /// a final "shutdown" object.
    #[arg(long)]
    pub json: bool,
}

/// `INFOHASH@IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalPeer {
    pub info_hash: InfoHash,
    pub peer: SocketAddr,
}

impl FromStr for LocalPeer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (h, a) = s
            .split_once('@')
            .ok_or_else(|| "expected INFOHASH@IP:PORT".to_string())?;
        Ok(Self {
            info_hash: h.parse().map_err(|e| format!("{e}"))?,
            peer: a
                .parse()
                .map_err(|e| format!("bad peer address {a:?}: {e}"))?,
        })
    }
}

/// What the background bootstrap reports back.
type BootstrapOutcome = Result<(Vec<SocketAddr>, dht::LookupResult), net::Error>;

impl crate::Cmd for NodeArgs {
    const LOGS_PROGRESS: bool = true;

    fn json(&self) -> bool {
        self.json
    }

    async fn run(self, _: &crate::Context) -> anyhow::Result<()> {
        let args = self;
        let mut cfg = NodeConfig::default();
        cfg.dht.seed = args.seed.unwrap_or_else(crate::random_u64);
        cfg.dht.read_only = args.read_only;
        let node = Node::bind(args.bind, cfg).await?;
        let mut events = node.subscribe().await?;
        let id = node.id().await?;
        let addr = node.local_addr();
        if args.json {
            let line = json!({
                "event": "listening",
                "addr": addr.to_string(),
                "id": id.to_hex(),
                "read_only": args.read_only,
            });
            outln!("{line}");
        } else {
            outln!("listening on {addr} as {id}");
        }
        tracing::info!(%addr, %id, read_only = args.read_only, "DHT node running");

        for lp in &args.local_peer {
            let ok = node.add_local_peer(lp.info_hash, lp.peer, false).await?;
            tracing::info!(info_hash = %lp.info_hash, peer = %lp.peer, stored = ok, "local peer");
        }

        let names: Vec<String> = if args.bootstrap.is_empty() {
            DEFAULT_ROUTERS.iter().map(ToString::to_string).collect()
        } else {
            args.bootstrap.clone()
        };
        let (boot_tx, mut boot_rx) = mpsc::channel::<BootstrapOutcome>(1);
        let boot = tokio::spawn({
            let node = node.clone();
            let v6 = addr.is_ipv6();
            async move {
                tracing::info!(routers = ?names, "bootstrapping");
                let outcome = match net::resolve_routers(&names, v6).await {
                    Ok(routers) => node.bootstrap(routers.clone()).await.map(|r| (routers, r)),
                    Err(e) => Err(e),
                };
                let _ = boot_tx.send(outcome).await;
            }
        });

        let every = Duration::from_secs_f64(args.status_interval);
        let mut status = tokio::time::interval_at(Instant::now() + every, every);
        let stop_at = args
            .duration
            .map(|d| Instant::now() + Duration::from_secs_f64(d));
        let until = async {
            match stop_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(until);
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let mut boot_open = true;

        let reason = loop {
            tokio::select! {
                s = &mut signal => break s?,
                () = &mut until => break "duration elapsed",
                _ = status.tick() => {
                    let st = node.stats().await?;
                    if args.json {
                        outln!("{}", render::status_json("status", &st));
                    } else {
                        outln!("{}", render::status_text(&st));
                    }
                }
                outcome = boot_rx.recv(), if boot_open => {
                    boot_open = false;
                    report_bootstrap(&node, outcome, args.json).await?;
                }
                e = events.recv() => match e {
                    Some(e) => log_event(&e),
                    None => anyhow::bail!("the DHT node stopped unexpectedly"),
                },
            }
        };
        tracing::info!(reason, "shutting down");
        boot.abort();
        let st = node.stats().await?;
        node.shutdown().await;
        if args.json {
            let mut line = render::status_json("shutdown", &st);
            line["reason"] = json!(reason);
            outln!("{line}");
        } else {
            outln!("{}", render::status_text(&st));
            outln!("stopped ({reason})");
        }
        Ok(())
    }
}

async fn report_bootstrap(
    node: &Node,
    outcome: Option<BootstrapOutcome>,
    as_json: bool,
) -> anyhow::Result<()> {
    let Some(outcome) = outcome else {
        return Ok(());
    };
    let nodes = node.stats().await?.routing_table_nodes;
    match outcome {
        Ok((routers, r)) => {
            if r.responses == 0 {
                tracing::warn!(
                    routers = ?routers,
                    "bootstrap: no router answered; will retry while the table is empty"
                );
            } else {
                tracing::info!(answers = r.responses, nodes, "bootstrap done");
            }
            if as_json {
                let line = json!({
                    "event": "bootstrap",
                    "routers": routers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "queries": r.queries,
                    "responses": r.responses,
                    "routing_table_nodes": nodes,
                });
                outln!("{line}");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "bootstrap failed; the node keeps serving queries");
            if as_json {
                let line = json!({ "event": "bootstrap", "error": e.to_string() });
                outln!("{line}");
            }
        }
    }
    Ok(())
}

fn log_event(e: &Event) {
    match e {
        Event::NodeAdded(n) => tracing::debug!(id = %n.id, addr = %n.addr, "node added"),
        Event::Samples { from, hashes, .. } => {
            tracing::debug!(from = %from.addr, count = hashes.len(), "samples")
        }
        Event::Announced { info_hash, peer } => {
            tracing::info!(%info_hash, %peer, "peer announced")
        }
        Event::LookupDone(r) => tracing::debug!(
            target = %r.target,
            responses = r.responses,
            peers = r.peers.len(),
            "lookup done"
        ),
        // Replies belong to their callers; the driver logs ExternalIp itself.
        Event::Reply { .. } | Event::QueryFailed { .. } | Event::ExternalIp { .. } => {}
        #[allow(unreachable_patterns)] // events the engine may add later
        other => tracing::trace!(?other, "event"),
    }
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
pub(crate) async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => { r.context("cannot watch SIGINT")?; Ok("SIGINT") }
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot watch Ctrl-C")?;
        Ok("Ctrl-C")
    }
}
