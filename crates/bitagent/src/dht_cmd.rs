//! `bitagent dht ...`: one-shot debugging queries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use dht::Id20;
use infohash::InfoHash;
use net::{DirectQuery, Node, NodeConfig};
use serde_json::{Value, json};

use crate::render;
use clap::{ArgAction, Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum DhtCommand {
    /// Send a ping to ADDR and print its id, version and where it sees us.
    Ping {
        /// The node to ask.
        #[arg(value_name = "ADDR")]
        addr: String,
        #[command(flatten)]
        opts: QueryOpts,
    },
    /// Ask ADDR for the nodes it knows closest to a target.
    FindNode {
        /// The node to ask.
        #[arg(value_name = "ADDR")]
        addr: String,
        /// Target id (40 hex digits); random if absent.
        #[arg(long, value_name = "HEX")]
        target: Option<Id20>,
        #[command(flatten)]
        opts: QueryOpts,
    },
    /// Ask ADDR for a BEP-51 sample of the infohashes it stores.
    Sample {
        /// The node to ask.
        #[arg(value_name = "ADDR")]
        addr: String,
        /// Target id selecting the nodes returned alongside (40 hex digits); random if absent.
        #[arg(long, value_name = "HEX")]
        target: Option<Id20>,
        #[command(flatten)]
        opts: QueryOpts,
    },
    /// Join through --bootstrap, then run an iterative get_peers lookup for INFOHASH.
    GetPeers {
        /// The torrent's infohash (40 hex digits).
        #[arg(value_name = "INFOHASH")]
        info_hash: InfoHash,
        /// Node to start from (repeatable; required).
        #[arg(long, value_name = "HOST:PORT", required = true)]
        bootstrap: Vec<String>,
        /// Ask for BEP-33 swarm-size estimates too.
        #[arg(long)]
        scrape: bool,
        #[command(flatten)]
        opts: QueryOpts,
    },
}

/// Flags shared by the one-shot queries.
#[derive(Debug, Args)]
pub(crate) struct QueryOpts {
    /// Local UDP address (default `0.0.0.0:0`, or `[::]:0` for an IPv6 ADDR).
    #[arg(long, value_name = "IP:PORT")]
    pub bind: Option<SocketAddr>,

    /// Seconds to wait: for the answer (ping, find-node, sample; default 10), or for the whole
    /// bootstrap and lookup (get-peers; default 60).
    #[arg(long, value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub timeout: Option<f64>,

    /// Query as a BEP-43 read-only node (ro=1), so the remote does not add us to its table.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub read_only: bool,

    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

const DEFAULT_QUERY_TIMEOUT: f64 = 10.0;
const DEFAULT_LOOKUP_TIMEOUT: f64 = 60.0;

impl crate::Cmd for DhtCommand {
    fn json(&self) -> bool {
        match self {
            Self::Ping { opts, .. }
            | Self::FindNode { opts, .. }
            | Self::Sample { opts, .. }
            | Self::GetPeers { opts, .. } => opts.json,
        }
    }

    /// Runs one `dht` subcommand, printing its result on stdout.
    async fn run(self, _: &crate::Context) -> anyhow::Result<()> {
        match self {
            Self::Ping { addr, opts } => direct(&addr, DirectQuery::Ping, opts).await,
            Self::FindNode { addr, target, opts } => {
                let target = target.unwrap_or_else(crate::random_id);
                direct(&addr, DirectQuery::FindNode { target }, opts).await
            }
            Self::Sample { addr, target, opts } => {
                let target = target.unwrap_or_else(crate::random_id);
                direct(&addr, DirectQuery::Sample { target }, opts).await
            }
            Self::GetPeers {
                info_hash,
                bootstrap,
                scrape,
                opts,
            } => get_peers(info_hash, &bootstrap, scrape, opts).await,
        }
    }
}

/// One address from the command line: `IP:PORT` or `HOST:PORT` (resolved).
async fn target_addr(addr: &str, bind: Option<SocketAddr>) -> anyhow::Result<SocketAddr> {
    let all = net::resolve(addr)
        .await
        .with_context(|| format!("bad ADDR {addr:?}"))?;
    let pick = match bind {
        Some(b) => all.iter().find(|a| a.is_ipv6() == b.is_ipv6()),
        None => all.first(),
    };
    match pick {
        Some(a) => Ok(*a),
        None => bail!(
            "{addr} has no IPv{} address to reach from --bind",
            if bind.is_some_and(|b| b.is_ipv6()) {
                6
            } else {
                4
            }
        ),
    }
}

fn default_bind(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }
}

fn node_config(opts: &QueryOpts, query_timeout: Option<Duration>, wait: Duration) -> NodeConfig {
    let mut cfg = NodeConfig::default();
    cfg.dht.seed = crate::random_u64();
    cfg.dht.read_only = opts.read_only;
    if let Some(t) = query_timeout {
        cfg.dht.query_timeout = t;
    }
    cfg.max_wait = wait;
    cfg.event_capacity = 16;
    cfg.recv_buffer_bytes = None;
    cfg
}

async fn bind(bind: SocketAddr, cfg: NodeConfig) -> anyhow::Result<(Node, Value)> {
    let node = Node::bind(bind, cfg).await?;
    let id = node.id().await?;
    let local = json!({ "addr": node.local_addr().to_string(), "id": id.to_hex() });
    tracing::debug!(addr = %node.local_addr(), %id, "bound");
    Ok((node, local))
}

async fn direct(addr: &str, query: DirectQuery, opts: QueryOpts) -> anyhow::Result<()> {
    let to = target_addr(addr, opts.bind).await?;
    let bind_addr = opts.bind.unwrap_or_else(|| default_bind(to.is_ipv6()));
    if bind_addr.is_ipv6() != to.is_ipv6() {
        bail!("cannot reach {to} from a socket bound to {bind_addr}");
    }
    let timeout = Duration::from_secs_f64(opts.timeout.unwrap_or(DEFAULT_QUERY_TIMEOUT));
    let cfg = node_config(&opts, Some(timeout), timeout + Duration::from_secs(5));
    let (node, local) = bind(bind_addr, cfg).await?;
    let method = query.method();
    let result = node.query(to, query).await;
    node.shutdown().await;
    let r = match result {
        Ok(r) => r,
        Err(net::Error::Timeout { to }) => {
            bail!("no answer from {to} to {method} within {:?}", timeout)
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("{method} {to} failed"))),
    };
    if opts.json {
        outln!("{}", render::reply_json(method, to, &local, &r));
    } else {
        out!("{}", render::reply_text(method, &r));
    }
    Ok(())
}

async fn get_peers(
    info_hash: InfoHash,
    bootstrap: &[String],
    scrape: bool,
    opts: QueryOpts,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let total = Duration::from_secs_f64(opts.timeout.unwrap_or(DEFAULT_LOOKUP_TIMEOUT));
    let mut resolved = Vec::new();
    for name in bootstrap {
        let addrs = net::resolve(name)
            .await
            .with_context(|| format!("bad --bootstrap {name:?}"))?;
        resolved.extend(addrs);
    }
    let bind_addr = opts.bind.unwrap_or_else(|| {
        // IPv4 unless every router is IPv6.
        default_bind(!resolved.is_empty() && resolved.iter().all(SocketAddr::is_ipv6))
    });
    let mut routers: Vec<SocketAddr> = Vec::new();
    for a in resolved {
        if a.is_ipv6() == bind_addr.is_ipv6() && !routers.contains(&a) {
            routers.push(a);
        }
    }
    if routers.is_empty() {
        bail!("no --bootstrap address of the same IP family as {bind_addr}");
    }
    let cfg = node_config(&opts, None, total);
    let (node, local) = bind(bind_addr, cfg).await?;
    let work = async {
        let joined = node.bootstrap(routers.clone()).await?;
        let table = node.stats().await?.routing_table_nodes;
        tracing::info!(answers = joined.responses, nodes = table, "bootstrap done");
        let found = node
            .lookup_peers(info_hash, scrape, routers.clone())
            .await?;
        anyhow::Ok((joined, table, found))
    };
    let outcome = tokio::time::timeout(total, work).await;
    node.shutdown().await;
    let (joined, table, found) = match outcome {
        Ok(r) => r?,
        Err(_) => bail!("get_peers lookup did not finish within {total:?}"),
    };
    if found.responses == 0 {
        bail!(
            "no node answered (bootstrap {}: {} answers)",
            routers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            joined.responses
        );
    }
    let elapsed = started.elapsed();
    if opts.json {
        let boot = json!({
            "routers": routers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "queries": joined.queries,
            "responses": joined.responses,
            "routing_table_nodes": table,
        });
        outln!("{}", render::lookup_json(&boot, &found, elapsed, &local));
    } else {
        outln!(
            "bootstrap: {} answers from {} queries, {} nodes in the table",
            joined.responses,
            joined.queries,
            table
        );
        out!("{}", render::lookup_text(&found, elapsed));
    }
    Ok(())
}
