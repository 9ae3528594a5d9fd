//! `bitagent metadata INFOHASH --peer HOST:PORT ...`: fetch one torrent's info dictionary
//! over TCP (BEP-9 over BEP-10) and print what it describes.

use std::fmt;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use net::peerwire::{FetchConfig, MetaVersion, Metadata};
use serde_json::{Value, json};

use clap::Args;
use infohash::InfoHash;

#[derive(Debug, Args)]
pub(crate) struct MetadataArgs {
    /// The torrent's infohash (40 hex digits).
    #[arg(value_name = "INFOHASH")]
    pub info_hash: InfoHash,

    /// A peer that has the torrent (repeatable; required). Up to 4 are tried at once; the
    /// first verified answer wins.
    #[arg(long, value_name = "HOST:PORT", required = true)]
    pub peer: Vec<String>,

    /// Seconds to wait for the whole fetch (default 30).
    #[arg(long, value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub timeout: Option<f64>,

    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Default `--timeout`, seconds.
const DEFAULT_TIMEOUT: f64 = 30.0;
/// Longest wait for one TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Peers tried at once.
const MAX_CONCURRENT: usize = 4;

/// No peer gave the metadata: why, per peer.
#[derive(Debug)]
pub(crate) struct Failed {
    /// The overall cause label (one of `peerwire::FetchError::CAUSES`).
    pub cause: &'static str,
    /// Each peer tried, with its cause label and message.
    pub peers: Vec<(SocketAddr, &'static str, String)>,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no metadata ({})", self.cause)?;
        for (i, (peer, cause, msg)) in self.peers.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{peer}: {cause}: {msg}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failed {}

impl Failed {
    /// The `--json` error document.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "error": self.to_string(),
            "cause": self.cause,
            "peers": self.peers.iter().map(|(p, c, m)| json!({
                "peer": p.to_string(), "cause": c, "error": m,
            })).collect::<Vec<_>>(),
        })
    }
}

impl crate::Cmd for MetadataArgs {
    fn json(&self) -> bool {
        self.json
    }

    /// Runs the command, printing the result on stdout.
    async fn run(self, _: &crate::Context) -> anyhow::Result<()> {
        let args = self;
        let mut peers = Vec::new();
        for p in &args.peer {
            let addrs = net::resolve(p)
                .await
                .with_context(|| format!("bad --peer {p:?}"))?;
            peers.extend(addrs.into_iter().take(1));
        }
        let timeout = Duration::from_secs_f64(args.timeout.unwrap_or(DEFAULT_TIMEOUT));
        let cfg = FetchConfig {
            total_timeout: timeout,
            ..FetchConfig::default()
        };
        let info_hash = args.info_hash;
        let start = Instant::now();
        let fetch = net::fetch_from_any(
            &peers,
            MAX_CONCURRENT,
            info_hash,
            net::peer_id(),
            cfg,
            CONNECT_TIMEOUT.min(timeout),
        );
        // A hard bound over all peers together (each one is bounded by the config already).
        let Ok(outcome) = tokio::time::timeout(timeout + Duration::from_secs(1), fetch).await
        else {
            return Err(Failed {
                cause: "timeout",
                peers: Vec::new(),
            }
            .into());
        };
        let elapsed = start.elapsed();
        let Some((from, m)) = outcome.metadata else {
            let peers: Vec<_> = outcome
                .failures
                .iter()
                .map(|(p, e)| (*p, e.cause(), e.to_string()))
                .collect();
            // The peer that got furthest says most: any cause but "connect" wins.
            let cause = peers
                .iter()
                .map(|(_, c, _)| *c)
                .find(|c| *c != "connect")
                .unwrap_or("connect");
            return Err(Failed { cause, peers }.into());
        };
        if args.json {
            outln!("{}", to_json(&args.info_hash.to_hex(), from, elapsed, &m));
        } else {
            out!("{}", to_text(&args.info_hash.to_hex(), from, elapsed, &m));
        }
        Ok(())
    }
}

fn version(v: MetaVersion) -> &'static str {
    match v {
        MetaVersion::V1 => "v1",
        MetaVersion::V2 => "v2",
        MetaVersion::Hybrid => "hybrid",
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One JSON document with everything the info dictionary says.
pub(crate) fn to_json(info_hash: &str, from: SocketAddr, elapsed: Duration, m: &Metadata) -> Value {
    let i = &m.info;
    json!({
        "infohash": info_hash,
        "peer": from.to_string(),
        "elapsed_ms": ms(elapsed),
        "metadata_size": m.info_bytes.len(),
        "name": i.name,
        "total_size": i.total_size,
        "piece_length": i.piece_length,
        "private": i.private,
        "version": version(i.version),
        "single_file": i.single_file,
        "padding": i.padding,
        "file_count": i.file_count(),
        "files": i.files.iter().map(|f| json!({ "path": f.path, "size": f.length })).collect::<Vec<_>>(),
    })
}

/// The same for people.
pub(crate) fn to_text(
    info_hash: &str,
    from: SocketAddr,
    elapsed: Duration,
    m: &Metadata,
) -> String {
    let i = &m.info;
    let mut s = String::new();
    let _ = writeln!(s, "infohash      {info_hash}");
    let _ = writeln!(
        s,
        "from          {from} in {:.1} ms ({} bytes of metadata, verified against the infohash)",
        ms(elapsed),
        m.info_bytes.len()
    );
    let _ = writeln!(s, "name          {}", i.name);
    let _ = writeln!(s, "total size    {} bytes", i.total_size);
    match i.piece_length {
        Some(p) => {
            let _ = writeln!(s, "piece length  {p}");
        }
        None => {
            let _ = writeln!(s, "piece length  -");
        }
    }
    let _ = writeln!(s, "private       {}", if i.private { "yes" } else { "no" });
    let _ = writeln!(s, "version       {}", version(i.version));
    let _ = writeln!(s, "files         {}", i.file_count());
    for f in &i.files {
        let _ = writeln!(s, "  {:>14}  {}", f.length, f.path.join("/"));
    }
    s
}
