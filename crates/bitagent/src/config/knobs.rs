//! The knob table: every setting defined once, with its name, type, default, environment
//! variable, flag, meaning and validation. [`Settings`] (the struct), the TOML file's keys,
//! the environment and flag layers, `bitagent run`'s flags ([`super::flags`]), the example
//! file `bitagent config` prints ([`example`]) and the README's configuration table
//! (`readme_table`, test-only) are all generated from it.
//!
//! To add a knob: one entry in the `knobs!` invocation below (the `///` lines are its meaning
//! everywhere), then use the new `Settings` field. `data_dir` is the one knob outside the
//! macro: its default depends on the environment and it locates the config file, so `load`
//! resolves it by itself; its row is [`DATA_DIR`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Status;
use super::values::{
    Raw, addr_from, bootstrap_from, db_size_from, http_from, int_from, paths_from, rules_from,
    secs_from, size_from, status_from,
};

/// One configurable setting: its names in each layer, its default and what a valid value is.
#[derive(Debug)]
pub(super) struct Knob {
    /// The TOML key (the `Settings` field name).
    pub key: &'static str,
    /// What it means (the field's doc comment, one line per source line).
    pub doc: &'static str,
    /// The default as a TOML value; `None` only for `data_dir` (see [`DATA_DIR`]).
    pub default: Option<&'static str>,
    /// The environment variable, if the knob has one.
    pub env: Option<&'static str>,
    /// The command-line flag, e.g. `--max-db-size`.
    pub flag: &'static str,
    /// The flag's value name in `--help`.
    pub value_name: &'static str,
    /// What a valid value is, completing "expected ...".
    pub expected: &'static str,
    /// For a list: the flag is repeatable, one item each, and this is what one item is.
    pub each: Option<&'static str>,
    /// Parse `raw` (paths in the file relative to `base`) into the setting; `None` when the
    /// value is malformed or out of range.
    pub set: fn(&mut Settings, Raw<'_>, Option<&Path>) -> Option<()>,
}

impl Knob {
    /// The meaning on one line.
    pub(super) fn meaning(&self) -> String {
        self.doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Declares the knobs: the [`Settings`] struct, `Settings::defaults` and [`KNOBS`], from one
/// entry per knob: `/// meaning`, `name: Type = parser, { default, env, flag, value_name,
/// expected[, each] }`.
macro_rules! knobs {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $parse:expr, {
            default: $default:literal,
            env: $env:expr,
            flag: $flag:literal,
            value_name: $value_name:literal,
            expected: $expected:literal
            $(, each: $each:literal)? $(,)?
        }
    )*) => {
        /// Every knob, resolved: what the commands run with.
        ///
        /// Serializes (JSON, TOML) so `bitagent stats` and the startup log can show the
        /// effective configuration.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub(crate) struct Settings {
            /// Where the index and the node's state live (`--data-dir`, `BITAGENT_DATA_DIR`).
            pub data_dir: PathBuf,
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
            /// The TOML file that was read, if any (informational: not a knob).
            pub config_file: Option<PathBuf>,
        }

        impl Settings {
            /// The built-in defaults (each knob's `default`), with `data_dir` given (its
            /// default depends on the environment).
            pub(crate) fn defaults(data_dir: PathBuf) -> Self {
                Self {
                    data_dir,
                    $( $field: parse_default(stringify!($field), $default, $parse), )*
                    config_file: None,
                }
            }
        }

        /// Every knob, in the order of [`Settings`].
        pub(crate) const KNOBS: &[Knob] = &[
            DATA_DIR,
            $(
                Knob {
                    key: stringify!($field),
                    doc: concat!($($doc, "\n"),*),
                    default: Some($default),
                    env: $env,
                    flag: $flag,
                    value_name: $value_name,
                    expected: $expected,
                    each: knobs!(@each $($each)?),
                    set: |s, raw, base| {
                        s.$field = ($parse)(raw, base)?;
                        Some(())
                    },
                },
            )*
        ];
    };
    (@each) => { None };
    (@each $each:literal) => { Some($each) };
}

/// `data_dir`: resolved by `load` itself (it locates `<data_dir>/config.toml`, its default
/// comes from the XDG variables, and it must end up known).
pub(super) const DATA_DIR: Knob = Knob {
    key: "data_dir",
    doc: "Where the index and the node's state live; in the file, a relative path is relative \
          to the file.\nDefault: $XDG_DATA_HOME/bitagent, else ~/.local/share/bitagent.",
    default: None,
    env: Some("BITAGENT_DATA_DIR"),
    flag: "--data-dir",
    value_name: "DIR",
    expected: "a non-empty directory path",
    each: None,
    set: |s, raw, base| {
        s.data_dir = super::values::path_from(raw, base)?;
        Some(())
    },
};

/// The example value of `data_dir` (commented out in the example file).
const DATA_DIR_EXAMPLE: &str = "\"/var/lib/bitagent\"";

knobs! {
    /// Address of the HTTP server for /metrics and /healthz; "off" disables it.
    http: Option<SocketAddr> = |r, _| http_from(r), {
        default: "\"127.0.0.1:3333\"",
        env: Some("BITAGENT_HTTP"),
        flag: "--http",
        value_name: "IP:PORT|off",
        expected: "an address IP:PORT, or \"off\" to disable the HTTP server",
    }
    /// UDP address of the DHT socket.
    bind: SocketAddr = |r, _| addr_from(r), {
        default: "\"0.0.0.0:6881\"",
        env: Some("BITAGENT_BIND"),
        flag: "--bind",
        value_name: "IP:PORT",
        expected: "a UDP address IP:PORT, such as 0.0.0.0:6881",
    }
    /// DHT routers to join through, HOST:PORT (validated, not resolved); comma-separated in
    /// the environment, repeatable as a flag.
    bootstrap: Vec<String> = |r, _| bootstrap_from(r), {
        default: "[\"dht.transmissionbt.com:6881\", \"router.bittorrent.com:6881\", \"router.utorrent.com:6881\"]",
        env: Some("BITAGENT_BOOTSTRAP"),
        flag: "--bootstrap",
        value_name: "HOST:PORT",
        expected: "one or more HOST:PORT routers with ports from 1 to 65535",
        each: "HOST:PORT with a port from 1 to 65535",
    }
    /// 1 to 100: scales the crawl table, the seen filter and the concurrency of sampling and
    /// fetching (the README's DHT_SCALING_FACTOR section says what each step costs and buys).
    scaling_factor: u32 = |r, _| int_from(r, 1, 100), {
        default: "1",
        env: Some("DHT_SCALING_FACTOR"),
        flag: "--scaling-factor",
        value_name: "N",
        expected: "an integer from 1 to 100",
    }
    /// TCP port we advertise to peers (BEP-10 `p`).
    peer_port: u16 = |r, _| int_from(r, 1, 65535), {
        default: "3334",
        env: Some("BITAGENT_PEER_PORT"),
        flag: "--peer-port",
        value_name: "PORT",
        expected: "a port number from 1 to 65535",
    }
    /// Routing-table nodes needed before BEP-51 sampling starts.
    sample_threshold: usize = |r, _| int_from(r, 0, 1_000_000), {
        default: "300",
        env: Some("BITAGENT_SAMPLE_THRESHOLD"),
        flag: "--sample-threshold",
        value_name: "N",
        expected: "an integer from 0 to 1000000",
    }
    /// Start sampling anyway once the routing table has not grown for this many seconds.
    stall_after_secs: u64 = |r, _| int_from(r, 0, 86_400), {
        default: "30",
        env: None,
        flag: "--stall-after",
        value_name: "SECS",
        expected: "a whole number of seconds from 0 to 86400",
    }
    /// Largest torrent metadata (info dictionary) we fetch: bytes, or "512KiB", "10MiB",
    /// "1GiB".
    max_metadata_size: u64 = |r, _| size_from(r), {
        default: "\"10MiB\"",
        env: Some("BITAGENT_MAX_METADATA_SIZE"),
        flag: "--max-metadata-size",
        value_name: "SIZE",
        expected: "a size from 1 byte to 1 GiB: integer bytes, or a number with a B, KiB, MiB \
                   or GiB suffix such as \"10MiB\"",
    }
    /// Files kept per torrent; the true file count is always recorded.
    file_cap: usize = |r, _| int_from(r, 1, 1_000_000), {
        default: "1000",
        env: Some("BITAGENT_FILE_CAP"),
        flag: "--file-cap",
        value_name: "N",
        expected: "an integer from 1 to 1000000",
    }
    /// Seconds to wait for a peer's TCP connection.
    connect_timeout_secs: f64 = |r, _| secs_from(r), {
        default: "5.0",
        env: None,
        flag: "--connect-timeout",
        value_name: "SECS",
        expected: "a number of seconds greater than 0 and at most 3600",
    }
    /// Seconds to wait for one whole metadata fetch from a peer.
    fetch_timeout_secs: f64 = |r, _| secs_from(r), {
        default: "30.0",
        env: None,
        flag: "--fetch-timeout",
        value_name: "SECS",
        expected: "a number of seconds greater than 0 and at most 3600",
    }
    /// Warn that the DHT is starving when the routing table holds fewer nodes than this
    /// starvation_after_secs seconds after startup.
    starvation_nodes: usize = |r, _| int_from(r, 0, 1_000_000), {
        default: "100",
        env: None,
        flag: "--starvation-nodes",
        value_name: "N",
        expected: "an integer from 0 to 1000000",
    }
    /// When to check for DHT starvation (see starvation_nodes), in seconds after startup.
    starvation_after_secs: u64 = |r, _| int_from(r, 1, 86_400), {
        default: "600",
        env: None,
        flag: "--starvation-after",
        value_name: "SECS",
        expected: "a whole number of seconds from 1 to 86400",
    }
    /// Status output: "auto" (a live line on a terminal, log lines otherwise), "line", "log"
    /// or "off".
    status: Status = |r, _| status_from(r), {
        default: "\"auto\"",
        env: Some("BITAGENT_STATUS"),
        flag: "--status",
        value_name: "MODE",
        expected: "one of \"auto\", \"line\", \"log\" or \"off\"",
    }
    /// Seconds between status log lines when the status is not a live terminal line.
    status_interval_secs: u64 = |r, _| int_from(r, 1, 86_400), {
        default: "60",
        env: None,
        flag: "--status-interval",
        value_name: "SECS",
        expected: "a whole number of seconds from 1 to 86400",
    }
    /// A rules file (YAML) merged over the built-in classification rules; "" for none.
    /// `bitagent rules check FILE` validates one.
    rules: Option<PathBuf> = rules_from, {
        default: "\"\"",
        env: Some("BITAGENT_RULES"),
        flag: "--rules",
        value_name: "FILE",
        expected: "a file path",
    }
    /// Double-hash blocklists: files of SHA-256(infohash) in hex, one per line; reloaded on
    /// SIGHUP and when a file changes. Comma-separated in the environment, repeatable as a
    /// flag.
    blocklist: Vec<PathBuf> = paths_from, {
        default: "[]",
        env: Some("BITAGENT_BLOCKLIST"),
        flag: "--blocklist",
        value_name: "FILE",
        expected: "a list of file paths (comma-separated in the environment)",
        each: "a file path",
    }
    /// Disk budget of the database: "off", or a size such as "20GiB". Over it, the torrents
    /// with the fewest seeders, then the oldest last seen, are evicted.
    max_db_size: Option<u64> = |r, _| db_size_from(r), {
        default: "\"off\"",
        env: Some("BITAGENT_MAX_DB_SIZE"),
        flag: "--max-db-size",
        value_name: "SIZE|off",
        expected: "\"off\", or a size of at least 1 MiB: integer bytes, or a number with a B, \
                   KiB, MiB, GiB or TiB suffix such as \"20GiB\"",
    }
}

/// A knob's default, parsed from its TOML text by its own parser (so the default shown in the
/// example file and the README is the default used).
fn parse_default<T>(key: &str, text: &str, parse: fn(Raw<'_>, Option<&Path>) -> Option<T>) -> T {
    let doc: toml::Table = toml::from_str(&format!("v = {text}"))
        .unwrap_or_else(|e| panic!("the default of {key} is not TOML: {e}"));
    parse(Raw::Toml(&doc["v"]), None)
        .unwrap_or_else(|| panic!("the default of {key} does not pass its own parser"))
}

/// The knob named `key`.
pub(super) fn knob(key: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|k| k.key == key)
}

/// Where a knob is set besides the file, e.g. `[BITAGENT_MAX_DB_SIZE, --max-db-size]`.
fn names(k: &Knob) -> String {
    match k.env {
        Some(env) => format!("[{env}, {}]", k.flag),
        None => format!("[{}]", k.flag),
    }
}

/// The example config file `bitagent config` prints: every knob at its default with its
/// meaning. It parses to exactly `Settings::defaults` (a unit test keeps it so).
pub(super) fn example() -> String {
    let mut out = String::from(
        "# BitAgent configuration (TOML). Every key is shown at its default value.\n\
         #\n\
         # Precedence: built-in defaults < this file < environment variables < command-line flags.\n\
         # The file is read from --config FILE, else $BITAGENT_CONFIG, else <data_dir>/config.toml,\n\
         # else $XDG_CONFIG_HOME/bitagent/config.toml (default ~/.config/bitagent/config.toml).\n\
         # Unknown keys are an error.\n",
    );
    for k in KNOBS {
        out.push('\n');
        for line in k.doc.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "# {}", names(k));
        match k.default {
            Some(default) => {
                let _ = writeln!(out, "{} = {default}", k.key);
            }
            None => {
                let _ = writeln!(out, "# {} = {DATA_DIR_EXAMPLE}", k.key);
            }
        }
    }
    out
}

/// The README's configuration table (Markdown), between its `knobs` markers (a test keeps the
/// README identical to it).
#[cfg(test)]
pub(super) fn readme_table() -> String {
    let mut out = String::from(
        "| key | default | environment | flag | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for k in KNOBS {
        let default = match k.default {
            Some(d) => format!("`{d}`"),
            None => "see meaning".to_string(),
        };
        let env = k.env.map_or(String::new(), |e| format!("`{e}`"));
        // A `|` inside a cell, even in backticks, ends the cell unless escaped.
        let flag = format!("{} {}", k.flag, k.value_name).replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{}` | {default} | {env} | `{flag}` | {} |",
            k.key,
            k.meaning()
        );
    }
    out
}
