//! The flag layer: `bitagent run`'s knob flags, built from the knob table at runtime (clap's
//! builder API), so a knob's flag, value name, help line and validation are its table entry.
//! `--data-dir` is the exception: it is global (every command has it), declared on `Cli`.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches};

use super::knobs::{KNOBS, Knob};
use super::values::Raw;
use super::{ConfigError, Settings};

/// The knob flags given on the command line, as text, in the order of the table. Values are
/// validated by clap with the knob's parser and applied by `load` (last layer, so they win).
#[derive(Debug, Clone, Default)]
pub(crate) struct KnobFlags {
    given: Vec<(&'static Knob, Vec<String>)>,
}

impl KnobFlags {
    /// The flag of knob `key` given with `values` (one for a single-valued flag, one per
    /// occurrence for a repeatable one), as clap would have parsed it.
    ///
    /// # Panics
    ///
    /// When `key` is not a knob: a programming error.
    #[cfg(test)]
    pub(crate) fn set(mut self, key: &str, values: &[&str]) -> Self {
        let k = super::knobs::knob(key).unwrap_or_else(|| panic!("no knob {key}"));
        self.given.retain(|(g, _)| g.key != key);
        self.given
            .push((k, values.iter().map(|v| v.to_string()).collect()));
        self
    }

    /// Apply the flags to `settings`. An empty list counts as not given.
    pub(crate) fn apply(&self, settings: &mut Settings) -> Result<(), ConfigError> {
        for (k, values) in &self.given {
            let error = |value: &str, expected: &str| ConfigError::Flag {
                flag: k.flag,
                value: value.to_string(),
                expected: expected.to_string(),
            };
            match k.each {
                Some(each) => {
                    if values.is_empty() {
                        continue;
                    }
                    // Name the one bad item.
                    if let Some(bad) = values.iter().find(|v| check(k, v).is_err()) {
                        return Err(error(bad, each));
                    }
                    (k.set)(settings, Raw::Items(values), None)
                        .ok_or_else(|| error(&values.join(","), k.expected))?;
                }
                None => {
                    let Some(value) = values.last() else {
                        continue;
                    };
                    (k.set)(settings, Raw::Str(value), None)
                        .ok_or_else(|| error(value, k.expected))?;
                }
            }
        }
        Ok(())
    }
}

/// The knobs with a flag on `bitagent run`: all but `data_dir` (global).
fn run_knobs() -> impl Iterator<Item = &'static Knob> {
    KNOBS.iter().filter(|k| k.key != "data_dir")
}

/// Whether one flag value is valid for `k` (one item, for a list).
fn check(k: &'static Knob, value: &str) -> Result<String, String> {
    let mut scratch = Settings::defaults(PathBuf::new());
    let items = [value.to_string()];
    let raw = match k.each {
        Some(_) => Raw::Items(&items),
        None => Raw::Str(value),
    };
    match (k.set)(&mut scratch, raw, None) {
        Some(()) => Ok(value.to_string()),
        None => Err(format!("expected {}", k.each.unwrap_or(k.expected))),
    }
}

/// A knob's flag for clap.
fn arg(k: &'static Knob) -> Arg {
    let mut help = k.meaning();
    if let Some(env) = k.env {
        help.push_str(&format!(" [env {env}]"));
    }
    if let Some(default) = k.default {
        help.push_str(&format!(" [default {default}]"));
    }
    Arg::new(k.key)
        .long(k.flag.trim_start_matches("--"))
        .value_name(k.value_name)
        .help(help)
        .value_parser(move |s: &str| check(k, s))
        .action(if k.each.is_some() {
            ArgAction::Append
        } else {
            ArgAction::Set
        })
}

impl clap::FromArgMatches for KnobFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for k in run_knobs() {
            if let Some(values) = matches.get_many::<String>(k.key) {
                self.given.retain(|(g, _)| g.key != k.key);
                self.given.push((k, values.cloned().collect()));
            }
        }
        Ok(())
    }
}

impl clap::Args for KnobFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        run_knobs().fold(cmd, |cmd, k| cmd.arg(arg(k)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
