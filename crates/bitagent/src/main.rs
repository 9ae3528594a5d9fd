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
//!
//! Every command has one shape: a clap `Args` type in its `*_cmd.rs` (or `cli.rs`) that
//! implements [`Cmd`] (`run(self, &Context)`, where [`Context::settings`] loads the
//! configuration on demand); `main` has one `match` dispatching to them.

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
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dht::Id20;
use serde_json::json;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};
use config::{ConfigError, KnobFlags, Overrides, Settings};

/// The one shape of a command: its flags are the implementing type (clap `Args`), and
/// [`Cmd::run`] runs it. `main` dispatches with one `match` and handles the rest the same way
/// for every command: logging, the runtime, errors (`--json` ones on stdout too), a closed
/// stdout.
pub(crate) trait Cmd: Sized {
    /// Long-running commands log progress (`info`) by default; the others only warnings.
    const LOGS_PROGRESS: bool = false;

    /// Whether stdout is JSON: an error is then also printed there, as
    /// `{"error": ..., "kind": ...}`.
    fn json(&self) -> bool {
        false
    }

    /// Runs the command. `ctx` gives the global flags and, on demand, the settings.
    async fn run(self, ctx: &Context) -> anyhow::Result<()>;
}

/// What every command gets besides its own flags.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// `--config`.
    config: Option<PathBuf>,
    /// `--data-dir`.
    data_dir: Option<PathBuf>,
}

impl Context {
    /// The effective settings: defaults < config file < environment < flags (the global
    /// ones, plus `knobs` for `run`).
    pub(crate) fn settings_with(&self, knobs: &KnobFlags) -> Result<Settings, ConfigError> {
        let overrides = Overrides {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            flags: knobs.clone(),
        };
        config::load(&overrides, &config::process_env)
    }

    /// The effective settings of a command without knob flags.
    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        self.settings_with(&KnobFlags::default())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context {
        config: cli.config,
        data_dir: cli.data_dir,
    };
    let v = cli.verbose;
    match cli.command {
        Command::Run(a) => execute(a, v, &ctx),
        Command::Search(a) => execute(a, v, &ctx),
        Command::Stats(a) => execute(a, v, &ctx),
        Command::Lab(a) => execute(a, v, &ctx),
        Command::Config(a) => execute(a, v, &ctx),
        Command::Rules(a) => execute(a, v, &ctx),
        Command::Classify(a) => execute(a, v, &ctx),
        Command::Reclassify(a) => execute(a, v, &ctx),
        Command::Block(a) => execute(a, v, &ctx),
        Command::Node(a) => execute(a, v, &ctx),
        Command::Dht(a) => execute(a, v, &ctx),
        Command::Metadata(a) => execute(a, v, &ctx),
    }
}

/// Runs one command on a fresh runtime and turns its outcome into the exit code.
fn execute<C: Cmd>(cmd: C, verbose: u8, ctx: &Context) -> ExitCode {
    init_logging(verbose, C::LOGS_PROGRESS);
    let json = cmd.json();
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
    let result = runtime.block_on(cmd.run(ctx));
    // Background tasks (a stuck DNS lookup, say) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head -1`): a normal end, as for ripgrep.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // A config error's message already includes its cause.
            let message = match e.downcast_ref::<ConfigError>() {
                Some(c) => c.to_string(),
                None => format!("{e:#}"),
            };
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
    if e.downcast_ref::<ConfigError>().is_some() {
        return "config";
    }
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

fn init_logging(verbose: u8, logs_progress: bool) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => EnvFilter::new(s),
        _ => EnvFilter::new(match (verbose, logs_progress) {
            (0, false) => "warn",
            (0, true) => "warn,bitagent=info,net=info,dht=info,crawler=info,lab=info",
            (1, _) => "info,bitagent=debug,net=debug,dht=debug",
            _ => "trace",
        }),
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
