//! The TOML file layer: where the file is found, and applying it through the knob table with
//! `<path>:<line>:<column>: <reason>` errors.
//!
//! The file is deserialized with serde into a map of spanned keys rather than a struct with
//! `#[serde(deny_unknown_fields)]`: that keeps the key's own position for every error (an
//! out-of-range value points at its key, as the tests pin) and lets an unknown key get a
//! "did you mean" from the table. Unknown keys are still an error.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use toml::{Spanned, Value};

use super::knobs::{KNOBS, knob};
use super::values::Raw;
use super::{ConfigError, Overrides, Settings};

/// `$<var>/bitagent`, else `$HOME/<home_rel>/bitagent`. Relative XDG values are ignored, as
/// the XDG Base Directory spec asks.
pub(super) fn xdg_dir(
    var: &dyn Fn(&str) -> Option<String>,
    xdg: &str,
    home_rel: &str,
) -> Option<PathBuf> {
    if let Some(base) = var(xdg).map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Some(base.join("bitagent"));
    }
    var("HOME").map(|home| Path::new(&home).join(home_rel).join("bitagent"))
}

/// The config file's path and text, or `None` when no file applies.
pub(super) fn find_config_file(
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
pub(super) struct FileLayer<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
}

impl FileLayer<'_> {
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

    /// Apply every key of the file to `settings`, in file order. Returns whether the file set
    /// `data_dir`.
    pub(super) fn apply(&self, settings: &mut Settings) -> Result<bool, ConfigError> {
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

        // Paths in the file are relative to the file, not to wherever bitagent was started.
        let base = self.path.parent();
        let mut set_data_dir = false;
        for (key, value) in &table {
            let name = key.get_ref().as_str();
            let Some(k) = knob(name) else {
                return Err(self.error(key.span().start, unknown_key(name)));
            };
            if (k.set)(settings, Raw::Toml(value), base).is_none() {
                let reason = format!("{} must be {}, got {}", k.key, k.expected, show(value));
                return Err(self.error(key.span().start, reason));
            }
            set_data_dir |= k.key == "data_dir";
        }
        Ok(set_data_dir)
    }
}

/// "unknown key `x`", with the closest known key when one is close.
pub(super) fn unknown_key(key: &str) -> String {
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
