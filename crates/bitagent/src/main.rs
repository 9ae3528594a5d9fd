//! `bitagent`: the BitTorrent mainline-DHT crawler's command line.
//!
//! * `bitagent run`: the crawler (BEP-51 sampling → BEP-9 metadata → SQLite), `/metrics`.
//! * `bitagent search`, `bitagent stats`: what the crawler stored.
//! * `bitagent lab`: an offline loopback swarm to crawl.
//! * `bitagent config`: an example config file.
//! * `bitagent node`: a long-running DHT node with periodic status lines.
//! * `bitagent dht ping|find-node|sample|get-peers`: one-shot debugging queries.
//! * `bitagent metadata`: one torrent's info dictionary, fetched from peers over TCP.
//!
//! Every subcommand has `--json` for scripts: `node` prints JSON lines, the `dht` queries one
//! JSON document (an `{"error": ..., "kind": ...}` object on failure). Logs go to stderr.

/// `println!` for command output: writes through stdout and returns the error with `?` from
/// the enclosing function instead of panicking, so a closed pipe (`bitagent search x | head
/// -1`) ends the command quietly (see [`is_broken_pipe`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        writeln!(::std::io::stdout().lock(), $($arg)*)?
    }};
}

/// `print!` for command output; see [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        write!(::std::io::stdout().lock(), $($arg)*)?
    }};
}

mod cli;
mod config;
mod dht_cmd;
mod lab_cmd;
mod metadata_cmd;
mod node_cmd;
mod render;
mod rules_cmd;
mod run_cmd;
mod search_cmd;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;
use dht::Id20;
use serde_json::json;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let json = match &cli.command {
        Command::Node(a) => a.json,
        Command::Dht(d) => dht_cmd::wants_json(d),
        Command::Metadata(a) => a.json,
        Command::Search(a) => a.json,
        Command::Stats(a) => a.json,
        Command::Classify(a) => a.json,
        Command::Rules(cli::RulesCmd::Classify(a)) => a.json,
        Command::Rules(cli::RulesCmd::Explain(a)) => a.json,
        Command::Run(_)
        | Command::Lab(_)
        | Command::Config
        | Command::Rules(_)
        | Command::Reclassify(_)
        | Command::Block(_) => false,
    };
    let base = config::Overrides {
        config: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        ..config::Overrides::default()
    };
    let overrides = match &cli.command {
        Command::Run(a) => run_cmd::overrides(base, a),
        _ => base,
    };
    let needs_settings = matches!(
        cli.command,
        Command::Run(_)
            | Command::Search(_)
            | Command::Stats(_)
            | Command::Rules(_)
            | Command::Classify(_)
            | Command::Reclassify(_)
            | Command::Block(_)
    );
    let settings = if needs_settings {
        match config::load(&overrides, &config::process_env) {
            Ok(s) => Some(s),
            Err(e) => {
                if json {
                    print_json(&json!({ "error": e.to_string(), "kind": "config" }));
                }
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Node(args) => node_cmd::run(args).await,
            Command::Dht(cmd) => dht_cmd::run(cmd).await,
            Command::Metadata(args) => metadata_cmd::run(args).await,
            Command::Run(args) => run_cmd::run(settings.expect("loaded"), args).await,
            Command::Search(args) => search_cmd::search(settings.as_ref().expect("loaded"), args),
            Command::Stats(args) => {
                search_cmd::stats(settings.as_ref().expect("loaded"), args).await
            }
            Command::Lab(args) => lab_cmd::run(args).await,
            Command::Config => {
                out!("{}", config::documented_defaults());
                Ok(())
            }
            Command::Rules(cmd) => {
                let s = settings.as_ref().expect("loaded");
                search_cmd::rules(s, cmd)
            }
            Command::Classify(a) => {
                let s = settings.as_ref().expect("loaded");
                rules_cmd::classify(
                    a.rules.as_deref().or(s.rules.as_deref()),
                    rules_cmd::ClassifyInput::from_arg(&a.input),
                    a.json,
                )
            }
            Command::Reclassify(a) => search_cmd::reclassify(settings.as_ref().expect("loaded"), a),
            Command::Block(a) => search_cmd::block(settings.as_ref().expect("loaded"), a),
        }
    });
    // Background tasks (a stuck DNS lookup, say) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head -1`): a normal end, as for ripgrep.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}");
            if let Some(f) = e.downcast_ref::<metadata_cmd::Failed>().filter(|_| json) {
                print_json(&f.to_json());
            } else if json {
                print_json(&json!({ "error": message, "kind": error_kind(&e) }));
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` is a write to a stdout whose reader has gone away.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// An error document on stdout, best effort: the error itself goes to stderr anyway.
fn print_json(doc: &serde_json::Value) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{doc}");
}

/// A short machine-readable name for what went wrong.
fn error_kind(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if let Some(n) = cause.downcast_ref::<net::Error>() {
            return match n {
                net::Error::Timeout { .. } => "timeout",
                net::Error::Remote { .. } => "remote_error",
                net::Error::Resolve { .. } => "bad_address",
                net::Error::Bind { .. } => "bind",
                net::Error::Busy(_) => "busy",
                _ => "internal",
            };
        }
    }
    let text = e.to_string();
    if text.starts_with("no answer") || text.contains("did not finish within") {
        "timeout"
    } else {
        "error"
    }
}

fn init_logging(cli: &Cli) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => EnvFilter::new(s),
        _ => {
            let quiet = matches!(
                cli.command,
                Command::Dht(_)
                    | Command::Metadata(_)
                    | Command::Search(_)
                    | Command::Stats(_)
                    | Command::Config
                    | Command::Rules(_)
                    | Command::Classify(_)
                    | Command::Block(_)
            );
            EnvFilter::new(match (cli.verbose, quiet) {
                (0, true) => "warn",
                (0, false) => "warn,bitagent=info,net=info,dht=info,crawler=info,lab=info",
                (1, _) => "info,bitagent=debug,net=debug,dht=debug",
                _ => "trace",
            })
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// A random u64 from the OS-seeded hasher keys (the engine itself never touches the OS RNG).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// A random 160-bit id.
pub(crate) fn random_id() -> Id20 {
    let mut id = [0u8; 20];
    for chunk in id.chunks_mut(8) {
        let r = random_u64().to_be_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    Id20(id)
}
