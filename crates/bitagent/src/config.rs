//! The effective configuration: built-in defaults < a TOML file < environment variables <
//! command-line flags (flags win).
//!
//! [`load`] is pure apart from reading the config file: the environment comes in as a lookup
//! closure and the flags as [`Overrides`], so every rule here is unit-tested without touching
//! the process environment.
//!
//! Where the TOML file comes from, first match wins:
//!
//! 1. `--config FILE` ([`Overrides::config`]); the file must exist;
//! 2. `$BITAGENT_CONFIG`; the file must exist;
//! 3. `<data_dir>/config.toml`, if it exists (`data_dir` from the flag, the environment or the
//!    XDG default; a `data_dir` set inside the file does not move the file);
//! 4. `$XDG_CONFIG_HOME/bitagent/config.toml`, else `$HOME/.config/bitagent/config.toml`, if
//!    it exists.
//!
//! The keys of the file are the field names of [`Settings`]; an unknown key is an error naming
//! it, and every error in the file is reported as `<path>:<line>:<column>: <reason>`.
//! [`documented_defaults`] is a commented example file listing every key at its default.

// Until `main` wires `load` into the commands, parts of this API have no caller yet.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use toml::{Spanned, Value};

/// The default DHT routers, used when no `bootstrap` is configured anywhere.
pub const DEFAULT_BOOTSTRAP: [&str; 3] = [
    "dht.transmissionbt.com:6881",
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
];

/// Default address of the HTTP API.
pub const DEFAULT_HTTP: &str = "127.0.0.1:3333";

/// Default address of the DHT's UDP socket.
pub const DEFAULT_BIND: &str = "0.0.0.0:6881";

/// Default [`Settings::max_metadata_size`]: 10 MiB.
pub const DEFAULT_MAX_METADATA_SIZE: u64 = 10 << 20;

/// Largest accepted [`Settings::max_metadata_size`]: 1 GiB (the fetch buffers it in memory).
pub const MAX_METADATA_SIZE_LIMIT: u64 = 1 << 30;

/// Every knob, resolved: what the commands run with.
///
/// Serializes (JSON, TOML) so `bitagent stats` and the startup log can show the effective
/// configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Where the index and the node's state live (`--data-dir`, `BITAGENT_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Address of the HTTP API; `None` when disabled with `"off"`.
    pub http: Option<SocketAddr>,
    /// Address of the DHT's UDP socket.
    pub bind: SocketAddr,
    /// DHT routers to join through, each `HOST:PORT` (validated, not resolved).
    pub bootstrap: Vec<String>,
    /// 1..=100: scales the crawl-table size and the concurrency of sampling and fetching.
    pub scaling_factor: u32,
    /// TCP port we announce for peer connections.
    pub peer_port: u16,
    /// Routing-table nodes needed before BEP-51 sampling starts.
    pub sample_threshold: usize,
    /// Start sampling anyway once the routing table has not grown for this many seconds.
    pub stall_after_secs: u64,
    /// Largest metadata (info dictionary) we fetch, in bytes.
    pub max_metadata_size: u64,
    /// Files kept per torrent (the true count is always recorded).
    pub file_cap: usize,
    /// Seconds to wait for a peer's TCP connection.
    pub connect_timeout_secs: f64,
    /// Seconds to wait for one whole metadata fetch.
    pub fetch_timeout_secs: f64,
    /// DHT-starvation warning: fewer routing-table nodes than this...
    pub starvation_nodes: usize,
    /// ...this many seconds after startup.
    pub starvation_after_secs: u64,
    /// How progress is shown.
    pub status: Status,
    /// Seconds between status log lines (when the status is not a live terminal line).
    pub status_interval_secs: u64,
    /// A rules file (YAML) merged over the built-in rules.
    pub rules: Option<PathBuf>,
    /// Double-hash blocklist files (SHA-256 of infohashes, one per line).
    pub blocklist: Vec<PathBuf>,
    /// Disk budget of the database in bytes; `None`: unlimited.
    pub max_db_size: Option<u64>,
    /// The TOML file that was read, if any (informational: not a knob).
    pub config_file: Option<PathBuf>,
}

impl Settings {
    /// The built-in defaults, with `data_dir` given (its default depends on the environment).
    pub fn defaults(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            http: Some(DEFAULT_HTTP.parse().expect("valid default")),
            bind: DEFAULT_BIND.parse().expect("valid default"),
            bootstrap: DEFAULT_BOOTSTRAP.iter().map(|s| s.to_string()).collect(),
            scaling_factor: 1,
            peer_port: 3334,
            sample_threshold: 300,
            stall_after_secs: 30,
            max_metadata_size: DEFAULT_MAX_METADATA_SIZE,
            file_cap: 1000,
            connect_timeout_secs: 5.0,
            fetch_timeout_secs: 30.0,
            starvation_nodes: 100,
            starvation_after_secs: 600,
            status: Status::Auto,
            status_interval_secs: 60,
            rules: None,
            blocklist: Vec::new(),
            max_db_size: None,
            config_file: None,
        }
    }
}

/// How `bitagent` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A live status line on a terminal, periodic log lines otherwise.
    #[default]
    Auto,
    /// Always the live status line.
    Line,
    /// Always periodic log lines.
    Log,
    /// No status output.
    Off,
}

impl Status {
    /// The spelling used in files, environment variables and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Auto => "auto",
            Status::Line => "line",
            Status::Log => "log",
            Status::Off => "off",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    /// `auto`, `line`, `log` or `off`, case-insensitive (usable as a clap `value_parser`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Status::Auto),
            "line" => Ok(Status::Line),
            "log" => Ok(Status::Log),
            "off" => Ok(Status::Off),
            _ => Err(format!("expected {}", STATUS.expected)),
        }
    }
}

/// The command-line layer: `Some` for every flag the user gave. Filled by `main` from clap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--config FILE`: read this TOML file (it must exist).
    pub config: Option<PathBuf>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--http ADDR|off`: `Some(None)` disables the HTTP API (see [`parse_http`]).
    pub http: Option<Option<SocketAddr>>,
    /// `--bind IP:PORT`.
    pub bind: Option<SocketAddr>,
    /// `--bootstrap HOST:PORT` (repeatable). An empty list counts as not given.
    pub bootstrap: Option<Vec<String>>,
    /// `--scaling-factor N`.
    pub scaling_factor: Option<u32>,
    /// `--peer-port PORT`.
    pub peer_port: Option<u16>,
    /// `--sample-threshold N`.
    pub sample_threshold: Option<usize>,
    /// `--stall-after SECS`.
    pub stall_after_secs: Option<u64>,
    /// `--max-metadata-size SIZE` (see [`parse_size`]).
    pub max_metadata_size: Option<u64>,
    /// `--file-cap N`.
    pub file_cap: Option<usize>,
    /// `--connect-timeout SECS`.
    pub connect_timeout_secs: Option<f64>,
    /// `--fetch-timeout SECS`.
    pub fetch_timeout_secs: Option<f64>,
    /// `--starvation-nodes N`.
    pub starvation_nodes: Option<usize>,
    /// `--starvation-after SECS`.
    pub starvation_after_secs: Option<u64>,
    /// `--status auto|line|log|off`.
    pub status: Option<Status>,
    /// `--status-interval SECS`.
    pub status_interval_secs: Option<u64>,
    /// `--rules FILE`.
    pub rules: Option<PathBuf>,
    /// `--blocklist FILE` (repeatable). An empty list counts as not given.
    pub blocklist: Option<Vec<PathBuf>>,
    /// `--max-db-size SIZE|off`: `Some(None)` is unlimited.
    pub max_db_size: Option<Option<u64>>,
}

/// Why the configuration could not be loaded. Every message names the source (file and line,
/// environment variable, or flag) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A problem inside the TOML file: syntax, an unknown key, a bad value.
    #[error("{}:{line}:{column}: {reason}", path.display())]
    File {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// The config file could not be read (for `--config` and `BITAGENT_CONFIG`: also when it
    /// does not exist).
    #[error("cannot read the config file {} ({origin}): {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Where the path came from, e.g. `given by --config`.
        origin: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// An environment variable with a value that does not parse or is out of range.
    #[error("environment variable {name}={value:?}: expected {expected}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A flag with a value out of range.
    #[error("{flag} {value}: expected {expected}")]
    Flag {
        /// The flag, e.g. `--scaling-factor`.
        flag: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// No data directory: no flag, no variable, no config-file entry, and no XDG default.
    #[error(
        "no data directory: neither XDG_DATA_HOME nor HOME is set; pass --data-dir DIR \
         (or set BITAGENT_DATA_DIR)"
    )]
    NoDataDir,
}

/// The process environment as a lookup for [`load`]: unset and non-UTF-8 variables are `None`.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Resolve the effective [`Settings`]: defaults < TOML file < environment (`env`) < flags
/// (`overrides`). Reads the config file (see the module docs for where it is looked for) and
/// nothing else; the environment is only seen through `env`.
pub fn load(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    // Empty (or blank) variables count as unset.
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());

    // The data dir before the file: it locates `<data_dir>/config.toml`.
    let early_data_dir = match &overrides.data_dir {
        Some(dir) => Some(dir.clone()),
        None => var("BITAGENT_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| xdg_dir(&var, "XDG_DATA_HOME", ".local/share")),
    };

    let mut settings = Settings::defaults(early_data_dir.clone().unwrap_or_default());
    let mut data_dir_known = early_data_dir.is_some();

    if let Some((path, text)) = find_config_file(overrides, &var, early_data_dir.as_deref())? {
        let file = FileLayer {
            path: &path,
            text: &text,
        };
        if file.apply(&mut settings)? {
            data_dir_known = true;
        }
        settings.config_file = Some(path);
    }

    apply_env(&mut settings, &var)?;
    if overrides.data_dir.is_none()
        && let Some(dir) = var("BITAGENT_DATA_DIR")
    {
        settings.data_dir = PathBuf::from(dir);
        data_dir_known = true;
    }
    apply_flags(&mut settings, overrides)?;
    if let Some(dir) = &overrides.data_dir {
        settings.data_dir = dir.clone();
        data_dir_known = true;
    }

    if !data_dir_known {
        return Err(ConfigError::NoDataDir);
    }
    Ok(settings)
}

/// Parse an `--http` value: `IP:PORT`, or `off` (or empty) to disable. For clap's
/// `value_parser`.
pub fn parse_http(s: &str) -> Result<Option<SocketAddr>, String> {
    http_from(Raw::Str(s)).ok_or_else(|| format!("expected {}", HTTP.expected))
}

/// Parse a size: integer bytes, or a number with a `B`, `KiB`, `MiB` or `GiB` suffix
/// (case-insensitive), from 1 byte to 1 GiB. For clap's `value_parser`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    size_from(Raw::Str(s)).ok_or_else(|| format!("expected {}", MAX_METADATA_SIZE.expected))
}

/// A commented example `config.toml`: every key at its default, with a one-line meaning. It
/// parses to exactly [`Settings::defaults`] (a unit test keeps it so).
pub fn documented_defaults() -> &'static str {
    EXAMPLE
}

const EXAMPLE: &str = r#"# BitAgent configuration (TOML). Every key is shown at its default value.
#
# Precedence: built-in defaults < this file < environment variables < command-line flags.
# The file is read from --config FILE, else $BITAGENT_CONFIG, else <data_dir>/config.toml,
# else $XDG_CONFIG_HOME/bitagent/config.toml (default ~/.config/bitagent/config.toml).
# Unknown keys are an error.

# Where the index and the node's state live; a relative path is relative to this file.
# Default: $XDG_DATA_HOME/bitagent, else ~/.local/share/bitagent.  [BITAGENT_DATA_DIR, --data-dir]
# data_dir = "/var/lib/bitagent"

# Address of the HTTP API; "off" disables it.  [BITAGENT_HTTP, --http]
http = "127.0.0.1:3333"

# UDP address of the DHT socket.  [BITAGENT_BIND, --bind]
bind = "0.0.0.0:6881"

# DHT routers to join through, HOST:PORT.  [BITAGENT_BOOTSTRAP (comma-separated), --bootstrap]
bootstrap = ["dht.transmissionbt.com:6881", "router.bittorrent.com:6881", "router.utorrent.com:6881"]

# 1 to 100: scales the crawl-table size and the concurrency of sampling and fetching.
# [DHT_SCALING_FACTOR, --scaling-factor]
scaling_factor = 1

# TCP port we announce for peer connections, 1 to 65535.  [BITAGENT_PEER_PORT, --peer-port]
peer_port = 3334

# Routing-table nodes needed before BEP-51 sampling starts.
# [BITAGENT_SAMPLE_THRESHOLD, --sample-threshold]
sample_threshold = 300

# Start sampling anyway once the routing table has not grown for this many seconds.
# [--stall-after]
stall_after_secs = 30

# Largest torrent metadata (info dictionary) we fetch: bytes, or "512KiB", "10MiB", "1GiB".
# [BITAGENT_MAX_METADATA_SIZE, --max-metadata-size]
max_metadata_size = "10MiB"

# Files kept per torrent; the true file count is always recorded.  [BITAGENT_FILE_CAP, --file-cap]
file_cap = 1000

# Seconds to wait for a peer's TCP connection.  [--connect-timeout]
connect_timeout_secs = 5.0

# Seconds to wait for one whole metadata fetch.  [--fetch-timeout]
fetch_timeout_secs = 30.0

# Warn that the DHT is starving when the routing table holds fewer than starvation_nodes
# nodes starvation_after_secs seconds after startup.  [--starvation-nodes, --starvation-after]
starvation_nodes = 100
starvation_after_secs = 600

# Status output: "auto" (a live line on a terminal, log lines otherwise), "line", "log" or
# "off".  [BITAGENT_STATUS, --status]
status = "auto"

# Seconds between status log lines when the status is not a live terminal line.
# [--status-interval]
status_interval_secs = 60

# A rules file (YAML) merged over the built-in classification rules; "" for none.
# `bitagent rules check FILE` validates one.  [BITAGENT_RULES, --rules]
rules = ""

# Double-hash blocklists: files of SHA-256(infohash) in hex, one per line. Reloaded on SIGHUP
# and when a file changes.  [BITAGENT_BLOCKLIST (comma-separated), --blocklist]
blocklist = []

# Disk budget of the database: "off", or a size such as "20GiB". Over it, the torrents with
# the fewest seeders, then the oldest last seen, are evicted.  [BITAGENT_MAX_DB_SIZE, --max-db-size]
max_db_size = "off"
"#;

// ---------------------------------------------------------------------------------------------
// Knobs: one description each, shared by the file, environment and flag layers.

/// One configurable setting: its names in each layer and what a valid value looks like.
#[derive(Debug)]
struct Knob {
    /// The TOML key (the `Settings` field name).
    key: &'static str,
    /// The environment variable, if the knob has one.
    env: Option<&'static str>,
    /// The flag the lead's CLI uses, for error messages.
    flag: &'static str,
    /// What a valid value is, completing "expected ...".
    expected: &'static str,
}

const DATA_DIR: Knob = Knob {
    key: "data_dir",
    env: Some("BITAGENT_DATA_DIR"),
    flag: "--data-dir",
    expected: "a non-empty directory path",
};
const HTTP: Knob = Knob {
    key: "http",
    env: Some("BITAGENT_HTTP"),
    flag: "--http",
    expected: "an address IP:PORT, or \"off\" to disable the HTTP API",
};
const BIND: Knob = Knob {
    key: "bind",
    env: Some("BITAGENT_BIND"),
    flag: "--bind",
    expected: "a UDP address IP:PORT, such as 0.0.0.0:6881",
};
const BOOTSTRAP: Knob = Knob {
    key: "bootstrap",
    env: Some("BITAGENT_BOOTSTRAP"),
    flag: "--bootstrap",
    expected: "one or more HOST:PORT routers with ports from 1 to 65535",
};
const SCALING_FACTOR: Knob = Knob {
    key: "scaling_factor",
    env: Some("DHT_SCALING_FACTOR"),
    flag: "--scaling-factor",
    expected: "an integer from 1 to 100",
};
const PEER_PORT: Knob = Knob {
    key: "peer_port",
    env: Some("BITAGENT_PEER_PORT"),
    flag: "--peer-port",
    expected: "a port number from 1 to 65535",
};
const SAMPLE_THRESHOLD: Knob = Knob {
    key: "sample_threshold",
    env: Some("BITAGENT_SAMPLE_THRESHOLD"),
    flag: "--sample-threshold",
    expected: "an integer from 0 to 1000000",
};
const STALL_AFTER_SECS: Knob = Knob {
    key: "stall_after_secs",
    env: None,
    flag: "--stall-after",
    expected: "a whole number of seconds from 0 to 86400",
};
const MAX_METADATA_SIZE: Knob = Knob {
    key: "max_metadata_size",
    env: Some("BITAGENT_MAX_METADATA_SIZE"),
    flag: "--max-metadata-size",
    expected: "a size from 1 byte to 1 GiB: integer bytes, or a number with a B, KiB, MiB or \
               GiB suffix such as \"10MiB\"",
};
const FILE_CAP: Knob = Knob {
    key: "file_cap",
    env: Some("BITAGENT_FILE_CAP"),
    flag: "--file-cap",
    expected: "an integer from 1 to 1000000",
};
const CONNECT_TIMEOUT_SECS: Knob = Knob {
    key: "connect_timeout_secs",
    env: None,
    flag: "--connect-timeout",
    expected: "a number of seconds greater than 0 and at most 3600",
};
const FETCH_TIMEOUT_SECS: Knob = Knob {
    key: "fetch_timeout_secs",
    env: None,
    flag: "--fetch-timeout",
    expected: "a number of seconds greater than 0 and at most 3600",
};
const STARVATION_NODES: Knob = Knob {
    key: "starvation_nodes",
    env: None,
    flag: "--starvation-nodes",
    expected: "an integer from 0 to 1000000",
};
const STARVATION_AFTER_SECS: Knob = Knob {
    key: "starvation_after_secs",
    env: None,
    flag: "--starvation-after",
    expected: "a whole number of seconds from 1 to 86400",
};
const STATUS: Knob = Knob {
    key: "status",
    env: Some("BITAGENT_STATUS"),
    flag: "--status",
    expected: "one of \"auto\", \"line\", \"log\" or \"off\"",
};
const STATUS_INTERVAL_SECS: Knob = Knob {
    key: "status_interval_secs",
    env: None,
    flag: "--status-interval",
    expected: "a whole number of seconds from 1 to 86400",
};

const RULES: Knob = Knob {
    key: "rules",
    env: Some("BITAGENT_RULES"),
    flag: "--rules",
    expected: "a file path",
};
const BLOCKLIST: Knob = Knob {
    key: "blocklist",
    env: Some("BITAGENT_BLOCKLIST"),
    flag: "--blocklist",
    expected: "a list of file paths (comma-separated in the environment)",
};
const MAX_DB_SIZE: Knob = Knob {
    key: "max_db_size",
    env: Some("BITAGENT_MAX_DB_SIZE"),
    flag: "--max-db-size",
    expected: "\"off\", or a size of at least 1 MiB: integer bytes, or a number with a B, KiB, \
               MiB, GiB or TiB suffix such as \"20GiB\"",
};

/// Every knob, in the order of [`Settings`].
const KNOBS: [&Knob; 19] = [
    &DATA_DIR,
    &HTTP,
    &BIND,
    &BOOTSTRAP,
    &SCALING_FACTOR,
    &PEER_PORT,
    &SAMPLE_THRESHOLD,
    &STALL_AFTER_SECS,
    &MAX_METADATA_SIZE,
    &FILE_CAP,
    &CONNECT_TIMEOUT_SECS,
    &FETCH_TIMEOUT_SECS,
    &STARVATION_NODES,
    &STARVATION_AFTER_SECS,
    &STATUS,
    &STATUS_INTERVAL_SECS,
    &RULES,
    &BLOCKLIST,
    &MAX_DB_SIZE,
];

/// A raw value from any layer: a TOML value, or a string (environment variable, or a flag's
/// value rendered back to text for validation).
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Toml(&'a Value),
    Str(&'a str),
}

fn int_from<T: TryFrom<i64>>(raw: Raw<'_>, lo: i64, hi: i64) -> Option<T> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => *n,
        Raw::Toml(_) => return None,
        Raw::Str(s) => s.trim().parse().ok()?,
    };
    if (lo..=hi).contains(&n) {
        T::try_from(n).ok()
    } else {
        None
    }
}

fn secs_from(raw: Raw<'_>) -> Option<f64> {
    let x = match raw {
        Raw::Toml(Value::Integer(n)) => *n as f64,
        Raw::Toml(Value::Float(x)) => *x,
        Raw::Toml(_) => return None,
        Raw::Str(s) => s.trim().parse().ok()?,
    };
    (x > 0.0 && x <= 3600.0).then_some(x)
}

fn str_of(raw: Raw<'_>) -> Option<&str> {
    match raw {
        Raw::Toml(Value::String(s)) => Some(s),
        Raw::Toml(_) => None,
        Raw::Str(s) => Some(s),
    }
}

fn addr_from(raw: Raw<'_>) -> Option<SocketAddr> {
    str_of(raw)?.trim().parse().ok()
}

fn http_from(raw: Raw<'_>) -> Option<Option<SocketAddr>> {
    if let Raw::Toml(Value::Boolean(false)) = raw {
        return Some(None);
    }
    let s = str_of(raw)?.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("off") {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

fn size_from(raw: Raw<'_>) -> Option<u64> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => u64::try_from(*n).ok()?,
        Raw::Toml(Value::String(s)) => size_str(s)?,
        Raw::Toml(_) => return None,
        Raw::Str(s) => size_str(s)?,
    };
    (1..=MAX_METADATA_SIZE_LIMIT).contains(&n).then_some(n)
}

/// `"123"`, `"123B"`, `"512 KiB"`, `"10MiB"`, `"1gib"`.
fn size_str(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kib" => 10,
        "mib" => 20,
        "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// `HOST:PORT` or `[IPv6]:PORT` with a port from 1 to 65535; returned trimmed.
fn host_port(s: &str) -> Option<String> {
    let s = s.trim();
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || "/:[]".contains(c))
    };
    (port != 0 && host_ok).then(|| s.to_string())
}

fn bootstrap_from(raw: Raw<'_>) -> Option<Vec<String>> {
    let list: Vec<String> = match raw {
        Raw::Toml(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().and_then(host_port))
            .collect::<Option<_>>()?,
        Raw::Toml(_) => return None,
        Raw::Str(s) => s
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(host_port)
            .collect::<Option<_>>()?,
    };
    (!list.is_empty()).then_some(list)
}

fn status_from(raw: Raw<'_>) -> Option<Status> {
    str_of(raw)?.parse().ok()
}

/// `""` is no rules file.
fn rules_from(raw: Raw<'_>) -> Option<Option<PathBuf>> {
    let s = str_of(raw)?;
    Some((!s.trim().is_empty()).then(|| PathBuf::from(s.trim())))
}

fn paths_from(raw: Raw<'_>) -> Option<Vec<PathBuf>> {
    match raw {
        Raw::Toml(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(PathBuf::from)
            })
            .collect(),
        Raw::Toml(_) => None,
        Raw::Str(s) => Some(
            s.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| PathBuf::from(p.trim()))
                .collect(),
        ),
    }
}

/// `"off"` (unlimited) or a size of at least 1 MiB.
fn db_size_from(raw: Raw<'_>) -> Option<Option<u64>> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => u64::try_from(*n).ok()?,
        Raw::Toml(_) | Raw::Str(_) => {
            let s = str_of(raw)?;
            if s.trim().eq_ignore_ascii_case("off") {
                return Some(None);
            }
            big_size_str(s)?
        }
    };
    (n >= 1 << 20).then_some(Some(n))
}

/// [`size_str`] plus a TiB suffix.
fn big_size_str(s: &str) -> Option<u64> {
    let t = s.trim();
    match t.to_ascii_lowercase().strip_suffix("tib") {
        Some(n) => n.trim().parse::<u64>().ok()?.checked_mul(1 << 40),
        None => size_str(t),
    }
}

/// `--max-db-size` as a clap value parser.
pub fn parse_db_size(s: &str) -> Result<Option<u64>, String> {
    db_size_from(Raw::Str(s)).ok_or_else(|| format!("expected {}", MAX_DB_SIZE.expected))
}

fn path_from(raw: Raw<'_>) -> Option<PathBuf> {
    let s = str_of(raw)?;
    (!s.trim().is_empty()).then(|| PathBuf::from(s))
}

// ---------------------------------------------------------------------------------------------
// The file layer.

/// `$<var>/bitagent`, else `$HOME/<home_rel>/bitagent`. Relative XDG values are ignored, as
/// the XDG Base Directory spec asks.
fn xdg_dir(var: &dyn Fn(&str) -> Option<String>, xdg: &str, home_rel: &str) -> Option<PathBuf> {
    if let Some(base) = var(xdg).map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Some(base.join("bitagent"));
    }
    var("HOME").map(|home| Path::new(&home).join(home_rel).join("bitagent"))
}

/// The config file's path and text, or `None` when no file applies.
fn find_config_file(
    overrides: &Overrides,
    var: &dyn Fn(&str) -> Option<String>,
    data_dir: Option<&Path>,
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    if let Some(path) = &overrides.config {
        return read_required(path, "given by --config").map(Some);
    }
    if let Some(path) = var("BITAGENT_CONFIG") {
        return read_required(Path::new(&path), "given by BITAGENT_CONFIG").map(Some);
    }
    let candidates = [
        data_dir.map(|d| (d.join("config.toml"), "in the data directory")),
        xdg_dir(var, "XDG_CONFIG_HOME", ".config")
            .map(|d| (d.join("config.toml"), "in the config directory")),
    ];
    for (path, origin) in candidates.into_iter().flatten() {
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok(Some((path, text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ConfigError::Read {
                    path,
                    origin,
                    source,
                });
            }
        }
    }
    Ok(None)
}

fn read_required(path: &Path, origin: &'static str) -> Result<(PathBuf, String), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((path.to_path_buf(), text)),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            origin,
            source,
        }),
    }
}

/// A config file being applied.
#[derive(Debug)]
struct FileLayer<'a> {
    path: &'a Path,
    text: &'a str,
}

impl FileLayer<'_> {
    /// A path from the file, relative to the file's own directory.
    fn relative(&self, p: PathBuf) -> PathBuf {
        match self.path.parent() {
            Some(parent) if p.is_relative() => parent.join(p),
            _ => p,
        }
    }

    /// An error at byte `offset` of the file.
    fn error(&self, offset: usize, reason: String) -> ConfigError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfigError::File {
            path: self.path.to_path_buf(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            reason,
        }
    }

    /// Parse `raw` for `knob`, or an error pointing at the key's line.
    fn value<T>(
        &self,
        knob: &Knob,
        key: &Spanned<String>,
        value: &Value,
        parse: fn(Raw<'_>) -> Option<T>,
    ) -> Result<T, ConfigError> {
        parse(Raw::Toml(value)).ok_or_else(|| {
            self.error(
                key.span().start,
                format!(
                    "{} must be {}, got {}",
                    knob.key,
                    knob.expected,
                    show(value)
                ),
            )
        })
    }

    /// Apply every key of the file to `settings`. Returns whether the file set `data_dir`.
    fn apply(&self, settings: &mut Settings) -> Result<bool, ConfigError> {
        type Table = BTreeMap<Spanned<String>, Value>;
        let mut table: Vec<(Spanned<String>, Value)> = match toml::from_str::<Table>(self.text) {
            Ok(map) => map.into_iter().collect(),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let mut reason = format!("invalid TOML: {}", e.message().trim());
                // toml says "duplicate key" without the key; the span covers it.
                if reason.ends_with("duplicate key")
                    && let Some(key) = self.text.get(span.clone())
                {
                    reason = format!("{reason} `{}`", key.trim());
                }
                return Err(self.error(span.start, reason));
            }
        };
        // Report problems in file order.
        table.sort_by_key(|(k, _)| k.span().start);

        let mut set_data_dir = false;
        for (key, v) in &table {
            match key.get_ref().as_str() {
                "data_dir" => {
                    let dir = self.value(&DATA_DIR, key, v, path_from)?;
                    // Relative to the file, not to wherever bitagent was started.
                    settings.data_dir = match self.path.parent() {
                        Some(parent) if dir.is_relative() => parent.join(dir),
                        _ => dir,
                    };
                    set_data_dir = true;
                }
                "http" => settings.http = self.value(&HTTP, key, v, http_from)?,
                "bind" => settings.bind = self.value(&BIND, key, v, addr_from)?,
                "bootstrap" => {
                    settings.bootstrap = self.value(&BOOTSTRAP, key, v, bootstrap_from)?
                }
                "scaling_factor" => {
                    settings.scaling_factor =
                        self.value(&SCALING_FACTOR, key, v, |r| int_from(r, 1, 100))?
                }
                "peer_port" => {
                    settings.peer_port =
                        self.value(&PEER_PORT, key, v, |r| int_from(r, 1, 65535))?
                }
                "sample_threshold" => {
                    settings.sample_threshold =
                        self.value(&SAMPLE_THRESHOLD, key, v, |r| int_from(r, 0, 1_000_000))?
                }
                "stall_after_secs" => {
                    settings.stall_after_secs =
                        self.value(&STALL_AFTER_SECS, key, v, |r| int_from(r, 0, 86_400))?
                }
                "max_metadata_size" => {
                    settings.max_metadata_size =
                        self.value(&MAX_METADATA_SIZE, key, v, size_from)?
                }
                "file_cap" => {
                    settings.file_cap =
                        self.value(&FILE_CAP, key, v, |r| int_from(r, 1, 1_000_000))?
                }
                "connect_timeout_secs" => {
                    settings.connect_timeout_secs =
                        self.value(&CONNECT_TIMEOUT_SECS, key, v, secs_from)?
                }
                "fetch_timeout_secs" => {
                    settings.fetch_timeout_secs =
                        self.value(&FETCH_TIMEOUT_SECS, key, v, secs_from)?
                }
                "starvation_nodes" => {
                    settings.starvation_nodes =
                        self.value(&STARVATION_NODES, key, v, |r| int_from(r, 0, 1_000_000))?
                }
                "starvation_after_secs" => {
                    settings.starvation_after_secs =
                        self.value(&STARVATION_AFTER_SECS, key, v, |r| int_from(r, 1, 86_400))?
                }
                "status" => settings.status = self.value(&STATUS, key, v, status_from)?,
                "status_interval_secs" => {
                    settings.status_interval_secs =
                        self.value(&STATUS_INTERVAL_SECS, key, v, |r| int_from(r, 1, 86_400))?
                }
                "rules" => {
                    let rules = self.value(&RULES, key, v, rules_from)?;
                    settings.rules = rules.map(|p| self.relative(p));
                }
                "blocklist" => {
                    let list = self.value(&BLOCKLIST, key, v, paths_from)?;
                    settings.blocklist = list.into_iter().map(|p| self.relative(p)).collect();
                }
                "max_db_size" => {
                    settings.max_db_size = self.value(&MAX_DB_SIZE, key, v, db_size_from)?
                }
                other => return Err(self.error(key.span().start, unknown_key(other))),
            }
        }
        Ok(set_data_dir)
    }
}

/// "unknown key `x`", with the closest known key when one is close.
fn unknown_key(key: &str) -> String {
    let closest = KNOBS
        .iter()
        .map(|k| (edit_distance(key, k.key), k.key))
        .min()
        .filter(|&(d, _)| d <= 3);
    match closest {
        Some((_, known)) => format!("unknown key `{key}`; did you mean `{known}`?"),
        None => {
            let known: Vec<&str> = KNOBS.iter().map(|k| k.key).collect();
            format!("unknown key `{key}`; known keys: {}", known.join(", "))
        }
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A TOML value as the user wrote it, roughly, for "got ..." in messages.
fn show(value: &Value) -> String {
    match value {
        Value::Table(_) => "a table".to_string(),
        Value::Array(items) if items.iter().any(|v| v.is_table() || v.is_array()) => {
            "a nested array".to_string()
        }
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The environment and flag layers.

fn apply_env(
    settings: &mut Settings,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    fn get<T>(
        var: &dyn Fn(&str) -> Option<String>,
        knob: &Knob,
        parse: fn(Raw<'_>) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(name) = knob.env else {
            return Ok(None);
        };
        let Some(value) = var(name) else {
            return Ok(None);
        };
        match parse(Raw::Str(&value)) {
            Some(v) => Ok(Some(v)),
            None => Err(ConfigError::Env {
                name,
                value,
                expected: knob.expected.to_string(),
            }),
        }
    }
    // BITAGENT_DATA_DIR is applied by `load` (it also decides whether a data dir is known).
    if let Some(v) = get(var, &HTTP, http_from)? {
        settings.http = v;
    }
    if let Some(v) = get(var, &BIND, addr_from)? {
        settings.bind = v;
    }
    if let Some(v) = get(var, &BOOTSTRAP, bootstrap_from)? {
        settings.bootstrap = v;
    }
    if let Some(v) = get(var, &SCALING_FACTOR, |r| int_from(r, 1, 100))? {
        settings.scaling_factor = v;
    }
    if let Some(v) = get(var, &PEER_PORT, |r| int_from(r, 1, 65535))? {
        settings.peer_port = v;
    }
    if let Some(v) = get(var, &SAMPLE_THRESHOLD, |r| int_from(r, 0, 1_000_000))? {
        settings.sample_threshold = v;
    }
    if let Some(v) = get(var, &MAX_METADATA_SIZE, size_from)? {
        settings.max_metadata_size = v;
    }
    if let Some(v) = get(var, &FILE_CAP, |r| int_from(r, 1, 1_000_000))? {
        settings.file_cap = v;
    }
    if let Some(v) = get(var, &STATUS, status_from)? {
        settings.status = v;
    }
    if let Some(v) = get(var, &RULES, rules_from)? {
        settings.rules = v;
    }
    if let Some(v) = get(var, &BLOCKLIST, paths_from)? {
        settings.blocklist = v;
    }
    if let Some(v) = get(var, &MAX_DB_SIZE, db_size_from)? {
        settings.max_db_size = v;
    }
    Ok(())
}

/// Validate a flag's value by rendering it back to text and parsing it like an environment
/// variable, so the three layers share one set of rules.
fn flag<T: ToString, U>(
    value: &Option<T>,
    knob: &Knob,
    parse: fn(Raw<'_>) -> Option<U>,
) -> Result<Option<U>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.to_string();
    match parse(Raw::Str(&text)) {
        Some(v) => Ok(Some(v)),
        None => Err(ConfigError::Flag {
            flag: knob.flag,
            value: text,
            expected: knob.expected.to_string(),
        }),
    }
}

fn apply_flags(settings: &mut Settings, o: &Overrides) -> Result<(), ConfigError> {
    if let Some(http) = o.http {
        settings.http = http;
    }
    if let Some(bind) = o.bind {
        settings.bind = bind;
    }
    if let Some(list) = o.bootstrap.as_ref().filter(|l| !l.is_empty()) {
        let mut checked = Vec::with_capacity(list.len());
        for item in list {
            checked.push(host_port(item).ok_or_else(|| ConfigError::Flag {
                flag: BOOTSTRAP.flag,
                value: item.clone(),
                expected: "HOST:PORT with a port from 1 to 65535".to_string(),
            })?);
        }
        settings.bootstrap = checked;
    }
    if let Some(v) = flag(&o.scaling_factor, &SCALING_FACTOR, |r| int_from(r, 1, 100))? {
        settings.scaling_factor = v;
    }
    if let Some(v) = flag(&o.peer_port, &PEER_PORT, |r| int_from(r, 1, 65535))? {
        settings.peer_port = v;
    }
    if let Some(v) = flag(&o.sample_threshold, &SAMPLE_THRESHOLD, |r| {
        int_from(r, 0, 1_000_000)
    })? {
        settings.sample_threshold = v;
    }
    if let Some(v) = flag(&o.stall_after_secs, &STALL_AFTER_SECS, |r| {
        int_from(r, 0, 86_400)
    })? {
        settings.stall_after_secs = v;
    }
    if let Some(v) = flag(&o.max_metadata_size, &MAX_METADATA_SIZE, size_from)? {
        settings.max_metadata_size = v;
    }
    if let Some(v) = flag(&o.file_cap, &FILE_CAP, |r| int_from(r, 1, 1_000_000))? {
        settings.file_cap = v;
    }
    if let Some(v) = flag(&o.connect_timeout_secs, &CONNECT_TIMEOUT_SECS, secs_from)? {
        settings.connect_timeout_secs = v;
    }
    if let Some(v) = flag(&o.fetch_timeout_secs, &FETCH_TIMEOUT_SECS, secs_from)? {
        settings.fetch_timeout_secs = v;
    }
    if let Some(v) = flag(&o.starvation_nodes, &STARVATION_NODES, |r| {
        int_from(r, 0, 1_000_000)
    })? {
        settings.starvation_nodes = v;
    }
    if let Some(v) = flag(&o.starvation_after_secs, &STARVATION_AFTER_SECS, |r| {
        int_from(r, 1, 86_400)
    })? {
        settings.starvation_after_secs = v;
    }
    if let Some(status) = o.status {
        settings.status = status;
    }
    if let Some(v) = flag(&o.status_interval_secs, &STATUS_INTERVAL_SECS, |r| {
        int_from(r, 1, 86_400)
    })? {
        settings.status_interval_secs = v;
    }
    if let Some(rules) = &o.rules {
        settings.rules = Some(rules.clone());
    }
    if let Some(list) = o.blocklist.as_ref().filter(|l| !l.is_empty()) {
        settings.blocklist = list.clone();
    }
    if let Some(size) = o.max_db_size {
        settings.max_db_size = size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A temporary directory removed on drop (no tempfile dependency in this crate).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "bitagent-config-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        /// Write `text` to `rel` (creating parent directories) and return its path.
        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An environment with exactly these variables.
    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// Load with a config file containing `text` (via --config) and the given environment.
    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = TempDir::new();
        let path = dir.write("config.toml", text);
        let overrides = Overrides {
            config: Some(path),
            data_dir: Some(dir.0.join("data")),
            ..Overrides::default()
        };
        load(&overrides, &env_of(env))
    }

    /// The `(line, column, reason)` of a file error, or a panic.
    fn file_error(result: Result<Settings, ConfigError>) -> (usize, usize, String) {
        match result {
            Err(ConfigError::File {
                line,
                column,
                reason,
                ..
            }) => (line, column, reason),
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_under_xdg_data_home() {
        let s = load(
            &Overrides::default(),
            &env_of(&[("XDG_DATA_HOME", "/x/data")]),
        )
        .unwrap();
        assert_eq!(s, Settings::defaults(PathBuf::from("/x/data/bitagent")));
        assert_eq!(s.http, Some("127.0.0.1:3333".parse().unwrap()));
        assert_eq!(s.bind, "0.0.0.0:6881".parse().unwrap());
        assert_eq!(s.scaling_factor, 1);
        assert_eq!(s.peer_port, 3334);
        assert_eq!(s.max_metadata_size, 10 * 1024 * 1024);
        assert_eq!(s.bootstrap, DEFAULT_BOOTSTRAP);
    }

    #[test]
    fn data_dir_falls_back_to_home_then_errors() {
        let env = env_of(&[("HOME", "/home/u")]);
        let s = load(&Overrides::default(), &env).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/home/u/.local/share/bitagent"));

        // A relative XDG_DATA_HOME is ignored, per the XDG spec; an empty one too.
        let env = env_of(&[("HOME", "/home/u"), ("XDG_DATA_HOME", "rel")]);
        let s = load(&Overrides::default(), &env).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/home/u/.local/share/bitagent"));

        let err = load(&Overrides::default(), &env_of(&[("XDG_DATA_HOME", "")])).unwrap_err();
        assert!(matches!(err, ConfigError::NoDataDir));
        assert!(err.to_string().contains("--data-dir"), "{err}");

        // BITAGENT_DATA_DIR and --data-dir each suffice, and the flag wins.
        let env = env_of(&[("BITAGENT_DATA_DIR", "/env/dir")]);
        assert_eq!(
            load(&Overrides::default(), &env).unwrap().data_dir,
            PathBuf::from("/env/dir")
        );
        let flags = Overrides {
            data_dir: Some(PathBuf::from("/flag/dir")),
            ..Overrides::default()
        };
        assert_eq!(
            load(&flags, &env).unwrap().data_dir,
            PathBuf::from("/flag/dir")
        );
    }

    #[test]
    fn precedence_file_then_env_then_flag() {
        let text = "scaling_factor = 2\npeer_port = 4000\nstatus = \"log\"\nfile_cap = 10\n";
        let s = load_text(text, &[]).unwrap();
        assert_eq!(
            (s.scaling_factor, s.peer_port, s.status, s.file_cap),
            (2, 4000, Status::Log, 10)
        );

        let env = [
            ("DHT_SCALING_FACTOR", "3"),
            ("BITAGENT_PEER_PORT", "5000"),
            ("BITAGENT_STATUS", "off"),
        ];
        let s = load_text(text, &env).unwrap();
        assert_eq!(
            (s.scaling_factor, s.peer_port, s.status, s.file_cap),
            (3, 5000, Status::Off, 10)
        );

        let dir = TempDir::new();
        let flags = Overrides {
            config: Some(dir.write("c.toml", text)),
            data_dir: Some(dir.0.clone()),
            scaling_factor: Some(4),
            status: Some(Status::Line),
            ..Overrides::default()
        };
        let s = load(&flags, &env_of(&env)).unwrap();
        assert_eq!(
            (s.scaling_factor, s.peer_port, s.status, s.file_cap),
            (4, 5000, Status::Line, 10)
        );
        assert_eq!(s.config_file.as_deref(), flags.config.as_deref());
    }

    #[test]
    fn every_env_variable_applies() {
        let env = [
            ("BITAGENT_HTTP", "off"),
            ("BITAGENT_BIND", "127.0.0.1:7000"),
            ("BITAGENT_BOOTSTRAP", "a.example:1, [::1]:2,,"),
            ("BITAGENT_SAMPLE_THRESHOLD", "0"),
            ("BITAGENT_MAX_METADATA_SIZE", "512KiB"),
            ("BITAGENT_FILE_CAP", "7"),
            ("DHT_SCALING_FACTOR", "100"),
            ("BITAGENT_PEER_PORT", "65535"),
            ("BITAGENT_STATUS", "LINE"),
            // Empty values are ignored.
            ("BITAGENT_DATA_DIR", ""),
        ];
        let s = load_text("", &env).unwrap();
        assert_eq!(s.http, None);
        assert_eq!(s.bind, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(s.bootstrap, ["a.example:1", "[::1]:2"]);
        assert_eq!(s.sample_threshold, 0);
        assert_eq!(s.max_metadata_size, 512 * 1024);
        assert_eq!(s.file_cap, 7);
        assert_eq!(s.scaling_factor, 100);
        assert_eq!(s.peer_port, 65535);
        assert_eq!(s.status, Status::Line);
        assert!(s.data_dir.ends_with("data"));
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = load_text("", &[("DHT_SCALING_FACTOR", "abc")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DHT_SCALING_FACTOR=\"abc\": expected an integer from 1 to 100"
        );
        for (name, value) in [
            ("DHT_SCALING_FACTOR", "0"),
            ("BITAGENT_PEER_PORT", "0"),
            ("BITAGENT_PEER_PORT", "70000"),
            ("BITAGENT_HTTP", "localhost"),
            ("BITAGENT_BOOTSTRAP", "router.example"),
            ("BITAGENT_BOOTSTRAP", "router.example:0"),
            ("BITAGENT_MAX_METADATA_SIZE", "10MB"),
            ("BITAGENT_MAX_METADATA_SIZE", "2GiB"),
            ("BITAGENT_STATUS", "loud"),
        ] {
            match load_text("", &[(name, value)]) {
                Err(ConfigError::Env {
                    name: n, value: v, ..
                }) => {
                    assert_eq!((n, v.as_str()), (name, value));
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_flag_value_names_the_flag() {
        let flags = Overrides {
            data_dir: Some(PathBuf::from("/d")),
            scaling_factor: Some(0),
            ..Overrides::default()
        };
        let err = load(&flags, &env_of(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--scaling-factor 0: expected an integer from 1 to 100"
        );

        let flags = Overrides {
            data_dir: Some(PathBuf::from("/d")),
            bootstrap: Some(vec!["ok.example:1".into(), "nope".into()]),
            ..Overrides::default()
        };
        let err = load(&flags, &env_of(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--bootstrap nope: expected HOST:PORT"),
            "{err}"
        );

        // An empty --bootstrap list (clap's "not given") keeps the lower layers.
        let flags = Overrides {
            data_dir: Some(PathBuf::from("/d")),
            bootstrap: Some(vec![]),
            connect_timeout_secs: Some(0.5),
            ..Overrides::default()
        };
        let s = load(&flags, &env_of(&[])).unwrap();
        assert_eq!(s.bootstrap, DEFAULT_BOOTSTRAP);
        assert_eq!(s.connect_timeout_secs, 0.5);
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let (line, column, reason) =
            file_error(load_text("peer_port = 1\n\n  scaling_facter = 2\n", &[]));
        assert_eq!((line, column), (3, 3));
        assert_eq!(
            reason,
            "unknown key `scaling_facter`; did you mean `scaling_factor`?"
        );

        let (line, _, reason) = file_error(load_text("[server]\nport = 1\n", &[]));
        assert_eq!(line, 1);
        assert!(
            reason.starts_with("unknown key `server`; known keys: data_dir, http"),
            "{reason}"
        );
    }

    #[test]
    fn out_of_range_value_points_at_its_key() {
        let dir = TempDir::new();
        let path = dir.write(
            "config.toml",
            "# comment\nbind = \"0.0.0.0:1\"\nscaling_factor = 0\n",
        );
        let overrides = Overrides {
            config: Some(path.clone()),
            data_dir: Some(dir.0.clone()),
            ..Overrides::default()
        };
        let err = load(&overrides, &env_of(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:3:1: scaling_factor must be an integer from 1 to 100, got 0",
                path.display()
            )
        );

        let (line, _, reason) = file_error(load_text("status = 3\n", &[]));
        assert_eq!(line, 1);
        assert_eq!(
            reason,
            "status must be one of \"auto\", \"line\", \"log\" or \"off\", got 3"
        );

        let (line, _, reason) = file_error(load_text("\nbootstrap = [\"a:1\", \"b\"]\n", &[]));
        assert_eq!(line, 2);
        assert!(
            reason.starts_with("bootstrap must be one or more HOST:PORT"),
            "{reason}"
        );

        let (_, _, reason) = file_error(load_text("max_metadata_size = \"10 GiB\"\n", &[]));
        assert!(
            reason.starts_with("max_metadata_size must be a size"),
            "{reason}"
        );
        let (_, _, reason) = file_error(load_text("fetch_timeout_secs = -1\n", &[]));
        assert!(reason.contains("got -1"), "{reason}");
        let (_, _, reason) = file_error(load_text("http = { a = 1 }\n", &[]));
        assert!(reason.ends_with("got a table"), "{reason}");
    }

    #[test]
    fn bad_toml_syntax_has_line_and_column() {
        let (line, column, reason) = file_error(load_text("peer_port = 1\nfile_cap = = 3\n", &[]));
        assert_eq!(line, 2);
        assert!(column > 1, "column {column}");
        assert!(reason.starts_with("invalid TOML: "), "{reason}");

        let (line, _, reason) = file_error(load_text("peer_port = 1\npeer_port = 2\n", &[]));
        assert_eq!(line, 2);
        assert_eq!(reason, "invalid TOML: duplicate key `peer_port`");
    }

    #[test]
    fn file_values_of_every_kind() {
        let text = r#"
            data_dir = "rel/data"
            http = "off"
            bind = "[::]:6882"
            bootstrap = ["localhost:6881"]
            max_metadata_size = 1048576
            connect_timeout_secs = 2
            fetch_timeout_secs = 12.5
            starvation_nodes = 0
            starvation_after_secs = 5
            stall_after_secs = 0
            status_interval_secs = 1
        "#;
        let dir = TempDir::new();
        let path = dir.write("etc/config.toml", text);
        let overrides = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        let s = load(&overrides, &env_of(&[])).unwrap();
        // Relative to the file's directory; no XDG needed once the file names a data dir.
        assert_eq!(s.data_dir, dir.0.join("etc/rel/data"));
        assert_eq!(s.http, None);
        assert_eq!(s.bind, "[::]:6882".parse().unwrap());
        assert_eq!(s.bootstrap, ["localhost:6881"]);
        assert_eq!(s.max_metadata_size, 1 << 20);
        assert_eq!((s.connect_timeout_secs, s.fetch_timeout_secs), (2.0, 12.5));
        assert_eq!((s.starvation_nodes, s.starvation_after_secs), (0, 5));
        assert_eq!((s.stall_after_secs, s.status_interval_secs), (0, 1));

        assert_eq!(load_text("http = \"\"\n", &[]).unwrap().http, None);
        assert_eq!(load_text("http = false\n", &[]).unwrap().http, None);
        assert_eq!(
            load_text("http = \"0.0.0.0:80\"\n", &[]).unwrap().http,
            Some("0.0.0.0:80".parse().unwrap())
        );
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let dir = TempDir::new();
        let missing = dir.0.join("nope.toml");
        let flags = Overrides {
            config: Some(missing.clone()),
            data_dir: Some(dir.0.clone()),
            ..Overrides::default()
        };
        let err = load(&flags, &env_of(&[])).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, ConfigError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
        );
        assert!(
            msg.contains(&missing.display().to_string()) && msg.contains("--config"),
            "{msg}"
        );

        let env = env_of(&[("BITAGENT_CONFIG", missing.to_str().unwrap())]);
        let flags = Overrides {
            data_dir: Some(dir.0.clone()),
            ..Overrides::default()
        };
        let msg = load(&flags, &env).unwrap_err().to_string();
        assert!(msg.contains("BITAGENT_CONFIG"), "{msg}");
    }

    #[test]
    fn config_file_search_order() {
        let dir = TempDir::new();
        let root = dir.0.to_str().unwrap().to_string();
        let data_home = format!("{root}/data");
        let config_home = format!("{root}/config");

        // Nothing anywhere: defaults, no file.
        let env = env_of(&[
            ("XDG_DATA_HOME", &data_home),
            ("XDG_CONFIG_HOME", &config_home),
        ]);
        let s = load(&Overrides::default(), &env).unwrap();
        assert_eq!(s.config_file, None);

        // The XDG config dir.
        let xdg = dir.write("config/bitagent/config.toml", "scaling_factor = 2\n");
        assert_eq!(load(&Overrides::default(), &env).unwrap().scaling_factor, 2);

        // $HOME/.config when XDG_CONFIG_HOME is unset.
        dir.write("home/.config/bitagent/config.toml", "scaling_factor = 5\n");
        let home_env = env_of(&[("HOME", &format!("{root}/home"))]);
        let s = load(&Overrides::default(), &home_env).unwrap();
        assert_eq!(s.scaling_factor, 5);
        assert_eq!(s.data_dir, dir.0.join("home/.local/share/bitagent"));

        // The data dir beats the XDG config dir.
        let in_data = dir.write("data/bitagent/config.toml", "scaling_factor = 3\n");
        let s = load(&Overrides::default(), &env).unwrap();
        assert_eq!((s.scaling_factor, s.config_file), (3, Some(in_data)));

        // BITAGENT_CONFIG beats both; --config beats it.
        let env_file = dir.write("env.toml", "scaling_factor = 4\n");
        let env = env_of(&[
            ("XDG_DATA_HOME", &data_home),
            ("BITAGENT_CONFIG", env_file.to_str().unwrap()),
        ]);
        assert_eq!(load(&Overrides::default(), &env).unwrap().scaling_factor, 4);
        let flags = Overrides {
            config: Some(xdg),
            ..Overrides::default()
        };
        assert_eq!(load(&flags, &env).unwrap().scaling_factor, 2);
    }

    #[test]
    fn sizes_and_http_parsers() {
        assert_eq!(parse_size("1"), Ok(1));
        assert_eq!(parse_size("300 B"), Ok(300));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("10mib"), Ok(10 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        for bad in [
            "0",
            "",
            "KiB",
            "1.5MiB",
            "10MB",
            "2GiB",
            "-1",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_http("off"), Ok(None));
        assert_eq!(parse_http("OFF"), Ok(None));
        assert_eq!(parse_http(""), Ok(None));
        assert_eq!(
            parse_http("127.0.0.1:80"),
            Ok(Some("127.0.0.1:80".parse().unwrap()))
        );
        assert!(parse_http("localhost:80").is_err());
        assert_eq!("Log".parse::<Status>(), Ok(Status::Log));
        assert!("x".parse::<Status>().is_err());
    }

    #[test]
    fn host_port_validation() {
        for ok in [
            "a:1",
            "router.utorrent.com:6881",
            "1.2.3.4:65535",
            "[::1]:6881",
        ] {
            assert_eq!(host_port(ok).as_deref(), Some(ok));
        }
        for bad in [
            "a",
            ":1",
            "a:0",
            "a:65536",
            "a:x",
            "::1:6881",
            "[::1:6881",
            "[x]:1",
            "a b:1",
        ] {
            assert_eq!(host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn documented_defaults_parse_to_the_defaults() {
        let text = documented_defaults();
        let s = load_text(text, &[]).unwrap();
        let expected = Settings {
            config_file: s.config_file.clone(),
            ..Settings::defaults(s.data_dir.clone())
        };
        assert_eq!(s, expected);
        // Every key is listed: all set, except data_dir (platform-dependent), commented out.
        for knob in KNOBS {
            let line = if knob.key == "data_dir" {
                format!("\n# {} = ", knob.key)
            } else {
                format!("\n{} = ", knob.key)
            };
            assert!(
                text.contains(&line),
                "{} missing from the example",
                knob.key
            );
            if let Some(env) = knob.env {
                assert!(text.contains(env), "{env} missing from the example");
            }
            assert!(
                text.contains(knob.flag),
                "{} missing from the example",
                knob.flag
            );
        }
    }

    #[test]
    fn settings_serialize_for_stats() {
        let s = Settings::defaults(PathBuf::from("/d"));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["http"], "127.0.0.1:3333");
        assert_eq!(json["status"], "auto");
        assert_eq!(json["data_dir"], "/d");
        assert_eq!(json["config_file"], serde_json::Value::Null);
    }
}
