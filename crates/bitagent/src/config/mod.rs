//! The effective configuration: built-in defaults < a TOML file < environment variables <
//! command-line flags (flags win).
//!
//! Every knob is defined once, in the table in [`knobs`]: its `Settings` field, default,
//! environment variable, flag, meaning and validation. The layers walk that table: the file
//! ([`mod@file`]), the environment ([`apply_env`]) and the flags ([`flags`]); `bitagent config`
//! ([`documented_defaults`]) and the README's table are rendered from it.
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

mod file;
mod flags;
mod knobs;
#[cfg(test)]
mod tests;
mod values;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

pub(crate) use flags::KnobFlags;
pub(crate) use knobs::Settings;

use file::{FileLayer, find_config_file, xdg_dir};
use knobs::{KNOBS, knob};
use values::Raw;

/// How `bitagent` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Line => "line",
            Self::Log => "log",
            Self::Off => "off",
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
            "auto" => Ok(Self::Auto),
            "line" => Ok(Self::Line),
            "log" => Ok(Self::Log),
            "off" => Ok(Self::Off),
            _ => Err(format!(
                "expected {}",
                knob("status").map_or("", |k| k.expected)
            )),
        }
    }
}

/// The command-line layer, filled by `main` from clap.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// `--config FILE`: read this TOML file (it must exist).
    pub config: Option<PathBuf>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// The knob flags of `bitagent run` (empty for the other commands).
    pub flags: KnobFlags,
}

/// Why the configuration could not be loaded. Every message names the source (file and line,
/// environment variable, or flag) and what was expected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
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
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Resolve the effective [`Settings`]: defaults < TOML file < environment (`env`) < flags
/// (`overrides`). Reads the config file (see the module docs for where it is looked for) and
/// nothing else; the environment is only seen through `env`.
pub(crate) fn load(
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
    overrides.flags.apply(&mut settings)?;
    if let Some(dir) = &overrides.data_dir {
        settings.data_dir = dir.clone();
        data_dir_known = true;
    }

    if !data_dir_known {
        return Err(ConfigError::NoDataDir);
    }
    Ok(settings)
}

/// `bitagent config`: no flags of its own.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {}

impl crate::Cmd for ConfigArgs {
    /// Prints the example config file.
    async fn run(self, _: &crate::Context) -> anyhow::Result<()> {
        out!("{}", documented_defaults());
        Ok(())
    }
}

/// A commented example `config.toml`: every key at its default, with its meaning. It parses
/// to exactly [`Settings::defaults`] (a unit test keeps it so).
pub(crate) fn documented_defaults() -> String {
    knobs::example()
}

/// The environment layer: every knob with a variable, set and non-blank, through its parser.
/// (`BITAGENT_DATA_DIR` is applied by `load`: it also decides whether a data dir is known.)
fn apply_env(
    settings: &mut Settings,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for k in KNOBS.iter().filter(|k| k.key != "data_dir") {
        let Some(name) = k.env else {
            continue;
        };
        let Some(value) = var(name) else {
            continue;
        };
        if (k.set)(settings, Raw::Str(&value), None).is_none() {
            return Err(ConfigError::Env {
                name,
                value,
                expected: k.expected.to_string(),
            });
        }
    }
    Ok(())
}
