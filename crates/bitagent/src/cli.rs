//! The command line, as clap types. Raw flags only; `main` turns them into actions.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use infohash::InfoHash;

/// BitAgent: a BitTorrent mainline-DHT crawler.
#[derive(Debug, Parser)]
#[command(name = "bitagent", version)]
pub(crate) struct Cli {
    /// More log output on stderr: -v debug, -vv trace (RUST_LOG, if set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Data directory (database, saved routing table). Default: $XDG_DATA_HOME/bitagent or
    /// ~/.local/share/bitagent; env BITAGENT_DATA_DIR.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Config file (TOML). Default: config.toml in the data directory, else
    /// $XDG_CONFIG_HOME/bitagent/config.toml, if present; env BITAGENT_CONFIG.
    /// `bitagent config` prints an example with every key.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Crawl the DHT: sample infohashes (BEP-51), fetch their metadata from peers (BEP-9) and
    /// store them, until SIGINT/SIGTERM. Metrics on --http (default 127.0.0.1:3333/metrics).
    Run(RunArgs),
    /// Search the stored torrents: words (ranked by relevance) or a 40-hex infohash.
    Search(SearchArgs),
    /// Counts and sizes of the store, and the live status of a running crawl.
    Stats(StatsArgs),
    /// An offline DHT swarm on loopback seeding synthetic torrents, to crawl with no internet:
    /// `bitagent run --bootstrap ADDR` with the address it prints.
    Lab(crate::lab_cmd::LabArgs),
    /// Print an example config file with every key, its default and meaning.
    Config(crate::config::ConfigArgs),
    /// Rules: validate a file, classify a torrent, explain a stored torrent's classification.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Classify a .torrent file, or JSON {"name":..,"files":[{"path":..,"size":..}]} on stdin
    /// (`-`): content type, tags, attributes, verdict, and which rules fired.
    Classify(crate::rules_cmd::ClassifyArgs),
    /// Re-run the post-fetch rules over the whole store (after a rule change). Resumable:
    /// torrents already classified by the current rules are skipped.
    Reclassify(ReclassifyArgs),
    /// Delete torrents (if stored) and block their infohashes forever.
    Block(BlockArgs),
    /// Run a DHT node until SIGINT/SIGTERM (or --duration), printing a status line every
    /// --status-interval seconds.
    Node(crate::node_cmd::NodeArgs),
    /// One-shot DHT queries for debugging: send, print what came back, exit.
    #[command(subcommand)]
    Dht(crate::dht_cmd::DhtCommand),
    /// Fetch one torrent's info dictionary from peers over TCP (BEP-9) and print its name,
    /// sizes and files.
    Metadata(crate::metadata_cmd::MetadataArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The knob flags (`--http`, `--scaling-factor`, `--max-db-size`, ...), from the knob
    /// table in `config`.
    #[command(flatten)]
    pub knobs: crate::config::KnobFlags,

    /// Stop by itself after this many seconds (for trials and benchmarks).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<f64>,

    /// Seed of the DHT engine's randomness; random if absent.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCmd {
    /// Validate a rules file and print the merged rule list (defaults + the file).
    Check(crate::rules_cmd::CheckArgs),
    /// Classify one torrent (same as `bitagent classify`).
    Classify(crate::rules_cmd::ClassifyArgs),
    /// Classify a stored torrent with the current rules and show which rules fired.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The torrent's infohash (40 hex digits).
    #[arg(value_name = "INFOHASH")]
    pub info_hash: InfoHash,
    /// Rules file merged over the defaults (default: the configured one).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReclassifyArgs {
    /// Rules file merged over the defaults (default: the configured one).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Torrents per transaction.
    #[arg(long, value_name = "N", default_value = "500")]
    pub batch: usize,
}

#[derive(Debug, Args)]
pub(crate) struct BlockArgs {
    /// Infohashes (40 hex digits each).
    #[arg(value_name = "INFOHASH", required = true, num_args = 1..)]
    pub info_hashes: Vec<InfoHash>,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Words to look for (all must match), or a 40-hex infohash.
    #[arg(value_name = "QUERY", num_args = 0..)]
    pub query: Vec<String>,

    /// Most results (default 20).
    #[arg(long, value_name = "N", default_value = "20")]
    pub limit: usize,

    /// Only torrents of this content type (movie, tv_show, music, audiobook, ebook, comic,
    /// software, game, xxx, unknown).
    #[arg(long = "type", value_name = "TYPE")]
    pub content_type: Option<String>,

    /// Only torrents with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Print JSON on stdout (an array of torrents, with files).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Also run the database integrity check (reads the whole file).
    #[arg(long)]
    pub check: bool,

    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(v),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse_into_their_types() {
        let cli = Cli::try_parse_from([
            "bitagent",
            "run",
            "--data-dir",
            "/tmp/x",
            "--http",
            "off",
            "--bootstrap",
            "127.0.0.1:6881",
            "--scaling-factor",
            "2",
            "--max-metadata-size",
            "4MiB",
            "--status",
            "log",
        ])
        .unwrap();
        assert_eq!(
            cli.data_dir.as_deref(),
            Some(std::path::Path::new("/tmp/x"))
        );
        // The knob flags are text until `config::load` types them with the knob table.
        let settings = |a: RunArgs| {
            let o = crate::config::Overrides {
                data_dir: Some("/tmp/x".into()),
                flags: a.knobs,
                ..Default::default()
            };
            crate::config::load(&o, &|_| None).unwrap()
        };
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        let s = settings(a);
        assert_eq!(s.http, None);
        assert_eq!(s.scaling_factor, 2);
        assert_eq!(s.max_metadata_size, 4 << 20);
        let cli = Cli::try_parse_from(["bitagent", "run", "--http", "127.0.0.1:9"]).unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(settings(a).http, Some("127.0.0.1:9".parse().unwrap()));
        assert!(Cli::try_parse_from(["bitagent", "run", "--http", "nowhere"]).is_err());
        for args in [
            &[
                "bitagent",
                "search",
                "--data-dir",
                "/d",
                "big",
                "buck",
                "--json",
            ][..],
            &["bitagent", "stats", "--check", "--json"],
            &["bitagent", "lab", "--nodes", "3", "--torrents", "5"],
            &["bitagent", "config"],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
