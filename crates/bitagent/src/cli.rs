//! The command line, as clap types. Raw flags only; `main` turns them into actions.

use std::net::SocketAddr;
use std::str::FromStr;

use clap::{ArgAction, Args, Parser, Subcommand};
use dht::Id20;

/// BitAgent: a BitTorrent mainline-DHT crawler.
#[derive(Debug, Parser)]
#[command(name = "bitagent", version)]
pub struct Cli {
    /// More log output on stderr: -v debug, -vv trace (RUST_LOG, if set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a DHT node until SIGINT/SIGTERM (or --duration), printing a status line every
    /// --status-interval seconds.
    Node(NodeArgs),
    /// One-shot DHT queries for debugging: send, print what came back, exit.
    #[command(subcommand)]
    Dht(DhtCommand),
    /// Fetch one torrent's info dictionary from peers over TCP (BEP-9) and print its name,
    /// sizes and files.
    Metadata(MetadataArgs),
}

#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// The torrent's infohash (40 hex digits).
    #[arg(value_name = "INFOHASH")]
    pub info_hash: Id20,

    /// A peer that has the torrent (repeatable; required). Up to 4 are tried at once; the
    /// first verified answer wins.
    #[arg(long, value_name = "HOST:PORT", required = true)]
    pub peer: Vec<String>,

    /// Seconds to wait for the whole fetch (default 30).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<f64>,

    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
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
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<f64>,

    /// Seconds between status lines.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub status_interval: f64,

    /// Store a peer for an infohash as if it had announced (repeatable; for labs and tests).
    #[arg(long, value_name = "INFOHASH@IP:PORT")]
    pub local_peer: Vec<LocalPeer>,

    /// JSON lines on stdout: {"event":"listening",...} first, then "bootstrap", "status" and
    /// a final "shutdown" object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DhtCommand {
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
        info_hash: Id20,
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
pub struct QueryOpts {
    /// Local UDP address (default `0.0.0.0:0`, or `[::]:0` for an IPv6 ADDR).
    #[arg(long, value_name = "IP:PORT")]
    pub bind: Option<SocketAddr>,

    /// Seconds to wait: for the answer (ping, find-node, sample; default 10), or for the whole
    /// bootstrap and lookup (get-peers; default 60).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
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

/// `INFOHASH@IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalPeer {
    pub info_hash: Id20,
    pub peer: SocketAddr,
}

impl FromStr for LocalPeer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (h, a) = s
            .split_once('@')
            .ok_or_else(|| "expected INFOHASH@IP:PORT".to_string())?;
        Ok(LocalPeer {
            info_hash: h.parse().map_err(|e| format!("{e}"))?,
            peer: a
                .parse()
                .map_err(|e| format!("bad peer address {a:?}: {e}"))?,
        })
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(v),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}
