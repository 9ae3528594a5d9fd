//! `bitagent lab`: an offline DHT swarm on loopback to crawl without the internet.
//!
//! Starts a [`lab::swarm::Lab`] (N full DHT nodes, each on its own 127.x.y.z address, seeding
//! M synthetic torrents), writes the optional `--json-out` inventory, prints one JSON `ready`
//! line on stdout (after the inventory is written, so a script can read it as soon as it sees
//! the line) and a hint on stderr, then runs until SIGINT or SIGTERM and shuts down cleanly.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use lab::swarm::{Lab, LabConfig, LabTorrent};
use serde_json::{Value, json};

/// `bitagent lab` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct LabArgs {
    /// Number of DHT nodes (one loopback address each).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub nodes: usize,

    /// Number of synthetic torrents seeded in the swarm.
    #[arg(long, value_name = "M", default_value_t = 1000)]
    pub torrents: usize,

    /// Address of the first node; node i gets FIRST_IP + i (skipping .0 and .255). Must be in
    /// 127.0.0.0/8.
    #[arg(long, value_name = "IP", default_value = "127.0.0.10")]
    pub first_ip: Ipv4Addr,

    /// UDP and TCP port, the same on every address (0: the OS picks one per node).
    #[arg(long, value_name = "PORT", default_value_t = 6881)]
    pub port: u16,

    /// Seed of the node ids, the torrents and their placement.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// BEP-51 interval the nodes advertise (and redraw their samples with), in seconds.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub sample_interval: f64,

    /// Write the swarm's inventory here as pretty JSON: the bootstrap address, the nodes, and
    /// every torrent with its name, sizes, files and seeders.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (1.0..=1e9).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a number of seconds of at least 1, got {s:?}"
        )),
    }
}

impl crate::Cmd for LabArgs {
    const LOGS_PROGRESS: bool = true;

    /// Runs the lab until SIGINT/SIGTERM.
    async fn run(self, _: &crate::Context) -> anyhow::Result<()> {
        let args = self;
        let cfg = LabConfig {
            nodes: args.nodes,
            torrents: args.torrents,
            first_ip: args.first_ip,
            port: args.port,
            seed: args.seed,
            sample_interval: Duration::from_secs_f64(args.sample_interval),
            ..LabConfig::default()
        };
        tracing::info!(nodes = cfg.nodes, torrents = cfg.torrents, first_ip = %cfg.first_ip, port = cfg.port, "starting the lab");
        let lab = Lab::start(cfg).await.context("cannot start the lab")?;
        let startup = lab.startup().total;

        if let Some(path) = &args.json_out {
            let text = serde_json::to_string_pretty(&inventory(&lab))?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let hashes: Vec<String> = lab
            .torrents()
            .iter()
            .map(|t| t.info_hash.to_string())
            .collect();
        // Built by hand so that `event` comes first, as documented (serde_json sorts keys).
        let ready = format!(
            "{{\"event\":\"ready\",\"bootstrap\":{},\"nodes\":{},\"torrents\":{},\"infohashes\":{},\"startup_ms\":{}}}",
            json!(lab.bootstrap().to_string()),
            lab.node_addrs().len(),
            lab.torrents().len(),
            json!(hashes),
            startup.as_millis()
        );
        outln!("{ready}");
        eprintln!(
            "lab ready in {:.1} s: {} nodes, {} torrents. Crawl it with:\n  bitagent run --bootstrap {}",
            startup.as_secs_f64(),
            lab.node_addrs().len(),
            lab.torrents().len(),
            lab.bootstrap()
        );

        let outcome = crate::node_cmd::shutdown_signal().await;
        match &outcome {
            Ok(sig) => tracing::info!(signal = sig, "stopping the lab"),
            Err(e) => tracing::warn!(error = %e, "cannot watch signals; stopping the lab"),
        }
        let served = (lab.total_connects(), lab.pieces_served());
        lab.shutdown().await;
        tracing::info!(
            connections = served.0,
            pieces_served = served.1,
            "lab stopped"
        );
        outcome.map(|_| ())
    }
}

/// The `--json-out` document.
fn inventory(lab: &Lab) -> Value {
    let nodes: Vec<String> = lab.node_addrs().iter().map(ToString::to_string).collect();
    let torrents: Vec<Value> = lab.torrents().iter().map(torrent_json).collect();
    json!({
        "bootstrap": lab.bootstrap().to_string(),
        "nodes": nodes,
        "torrents": torrents,
    })
}

fn torrent_json(t: &LabTorrent) -> Value {
    let files: Vec<Value> = t
        .files
        .iter()
        .map(|(path, size)| json!({ "path": path, "size": size }))
        .collect();
    let addrs =
        |v: &[std::net::SocketAddr]| -> Vec<String> { v.iter().map(ToString::to_string).collect() };
    json!({
        "info_hash": t.info_hash.to_string(),
        "name": t.name,
        "total_size": t.total_size,
        "piece_length": t.piece_length,
        "private": t.private,
        "kind": t.kind,
        "lang": t.lang,
        "files": files,
        "seeders": addrs(&t.seeders),
        "replicas": addrs(&t.replicas),
    })
}
