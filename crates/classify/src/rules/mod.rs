//! CEL rules in YAML: pre-fetch (drop before any connection), post-fetch (content type,
//! tags, attributes, drop) and retention (what is kept).
//!
//! A rules file is YAML: either a list of rules, or a mapping with `rules:` (that list) and
//! `disable:` (names of rules to turn off). Each rule:
//!
//! ```yaml
//! - name: tv-episode            # unique; a user rule with a default's name replaces it
//!   stage: post_fetch           # pre_fetch | post_fetch | retention
//!   when: season > 0 && share.video > 0.5   # a CEL expression, must be a bool
//!   enabled: true               # optional, default true
//!   actions:
//!     set_content_type: tv_show # post_fetch only; the first rule that sets it wins
//!     add_tag: [hd]             # post_fetch only; a tag or a list of tags
//!     set: {season: season}     # post_fetch only; attribute -> CEL expression
//!     drop: true                # any stage: do not fetch / store / keep (and block)
//! ```
//!
//! The built-in defaults (`defaults.yaml`, embedded) are loaded first; a user file is merged
//! over them (see [`RuleSet::load`]). Every expression is compiled, checked against the
//! variables of its stage, cost-bounded and evaluated once against sample inputs at load:
//! a bad file stops startup with `file:line` and the reason, never runs half-filtered.
//!
//! The variables are listed in [`VARIABLES`] and in `docs/rules.md`.
//!
//! # Cost bound
//!
//! Every expression is at most [`MAX_EXPR_LEN`] bytes, [`MAX_NODES`] AST nodes, [`MAX_DEPTH`]
//! levels deep and [`MAX_BRACKETS`] nested brackets (files are parsed on a large-stack
//! thread: the CEL parser recurses deeply), and its
//! worst-case cost is estimated statically from the AST and the caps of the collections it
//! may touch (`files` is capped at [`MAX_FILES`] entries, `words` at 64...): a comprehension
//! costs its range's size times its body. An expression whose estimate exceeds [`MAX_COST`]
//! (e.g. `files.all(f, files.all(g, ...))`, a million steps) is refused at load. `matches`
//! takes only literal patterns, compiled once at load (linear-time `regex`).
//!
//! # Built-in banned keywords
//!
//! Before any post-fetch rule, the name and file paths are checked against a short built-in
//! list of CSAM indicator codewords ([`BANNED_RULE`]). A match drops the torrent (the caller
//! also blocks it). It cannot be replaced or disabled by a user file: naming it there is an
//! error.

mod banned;
mod cost;
mod eval;
mod load;
mod rev;
mod vars;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use cel::{Env, Program};

pub use banned::{BANNED_KEYWORDS, has_banned_keyword};
pub use vars::VARIABLES;
use vars::{POST, PRE, RET};

/// The embedded default rules (`crates/classify/src/defaults.yaml`, compiled into the binary):
/// the base of every [`RuleSet`], with the user's file merged over it.
pub const DEFAULTS_YAML: &str = include_str!("../defaults.yaml");
/// How the defaults are named in errors and listings.
pub const DEFAULTS_ORIGIN: &str = "<defaults.yaml>";
/// The name of the built-in banned-keyword rule (cannot be replaced or disabled).
pub const BANNED_RULE: &str = "builtin-banned-keywords";
/// Most bytes in one expression.
pub const MAX_EXPR_LEN: usize = 4096;
/// Most AST nodes in one expression (after macro expansion).
pub const MAX_NODES: usize = 400;
/// Deepest AST (evaluation recurses once per level, on the caller's stack).
pub const MAX_DEPTH: usize = 32;
/// Deepest nesting of brackets in the source (the parser recurses deeply per bracket).
pub const MAX_BRACKETS: usize = 24;
/// Most estimated evaluation steps for one expression (see the module doc).
pub const MAX_COST: u64 = 100_000;
/// Most files exposed to rules in `files` (and used for the extension statistics).
pub const MAX_FILES: usize = 1000;
/// Most distinct extensions exposed in `exts`, `ext_sizes`, `ext_counts`.
pub const MAX_EXTS: usize = 64;

/// When a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Before any connection: only what the DHT told ([`PrefetchFacts`]).
    PreFetch,
    /// After the metadata is verified ([`TorrentFacts`]): classify, tag, drop.
    PostFetch,
    /// Whether a classified torrent is kept ([`TorrentFacts`] + content type + seeders).
    Retention,
}

impl Stage {
    /// The name used in rules files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreFetch => "pre_fetch",
            Self::PostFetch => "post_fetch",
            Self::Retention => "retention",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "pre_fetch" => Some(Self::PreFetch),
            "post_fetch" => Some(Self::PostFetch),
            "retention" => Some(Self::Retention),
            _ => None,
        }
    }

    pub(super) fn bit(self) -> u8 {
        match self {
            Self::PreFetch => PRE,
            Self::PostFetch => POST,
            Self::Retention => RET,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rules file that cannot be used. The `Display` form is what startup prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{file}: {reason}")]
    Io {
        /// The path.
        file: String,
        /// The OS error.
        reason: String,
    },
    /// Not YAML, or YAML of the wrong shape.
    #[error("{file}:{line}:{col}: {reason}")]
    Yaml {
        /// The file (or `<defaults.yaml>`).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        reason: String,
    },
    /// An expression that does not compile or does not type-check.
    #[error("{file}:{line}: rule `{rule}`: CEL error: {message}")]
    Cel {
        /// The file.
        file: String,
        /// 1-based line of the expression.
        line: usize,
        /// The rule's name.
        rule: String,
        /// The CEL parser's or evaluator's message.
        message: String,
    },
    /// A rule that is well-formed YAML and CEL but not acceptable (unknown variable, action
    /// not allowed at its stage, cost above the bound, duplicate name...).
    #[error("{file}:{line}: rule `{rule}`: {reason}")]
    Rule {
        /// The file.
        file: String,
        /// 1-based line of the rule (or of the offending field).
        line: usize,
        /// The rule's name.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where a rule in the merged set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Built in (the embedded defaults or the banned-keyword rule).
    Default,
    /// A user rule with a new name.
    User,
    /// A user rule that replaced the default of the same name.
    Replaced,
}

impl Origin {
    /// `default`, `user` or `replaced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::User => "user",
            Self::Replaced => "replaced",
        }
    }
}

/// What a post-fetch torrent looks like to the rules: its verified metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TorrentFacts {
    /// The torrent's name.
    pub name: String,
    /// Sum of all file sizes, in bytes.
    pub total_size: u64,
    /// BEP-27 private flag.
    pub private: bool,
    /// Files as (path with `/` separators, size in bytes); may be a capped prefix of the list.
    pub files: Vec<(String, u64)>,
    /// The true number of files (at least `files.len()`).
    pub file_count: u64,
}

impl TorrentFacts {
    /// Facts from a name and a complete file list (size and count computed).
    pub fn new(name: impl Into<String>, files: Vec<(String, u64)>) -> Self {
        Self {
            name: name.into(),
            total_size: files.iter().map(|f| f.1).sum(),
            private: false,
            file_count: files.len() as u64,
            files,
        }
    }
}

/// What is known about an infohash before any fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefetchFacts {
    /// The infohash, 40 lowercase hex digits.
    pub info_hash_hex: String,
    /// The node that sampled it, if known.
    pub source_ip: Option<IpAddr>,
    /// How many times it has been seen in samples.
    pub times_seen: u32,
    /// Peers returned by `get_peers`, if asked.
    pub peers: Option<u32>,
    /// Seeders from the BEP-33 scrape, if any.
    pub seeders: Option<u32>,
    /// Leechers from the BEP-33 scrape, if any.
    pub leechers: Option<u32>,
}

/// What the post-fetch rules decided about a torrent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The rule that dropped it (do not store, block), if any.
    pub drop: Option<String>,
    /// The content type: set by the first rule that sets one; `unknown` when none did (and
    /// when dropped before any did).
    pub content_type: Option<String>,
    /// Tags added by the rules that fired, in order, distinct.
    pub tags: Vec<String>,
    /// Attributes set by the rules that fired (the first rule to set a key wins).
    pub attributes: BTreeMap<String, String>,
    /// Names of the rules whose condition was true, in evaluation order.
    pub fired: Vec<String>,
    /// Rules that failed at run time (`rule: message`); a failing rule does not fire.
    pub errors: Vec<String>,
}

impl Verdict {
    /// The content type, `unknown` when none was set.
    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or("unknown")
    }
}

/// One variable exposed to rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarDoc {
    /// The CEL name.
    pub name: &'static str,
    /// The CEL type.
    pub ty: &'static str,
    /// Stages where it is defined: `pre_fetch`, `post_fetch`, `retention`.
    pub stages: &'static [&'static str],
    /// What it holds.
    pub doc: &'static str,
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) stage: Stage,
    pub(super) when_src: String,
    pub(super) when: Program,
    pub(super) drop: bool,
    pub(super) content_type: Option<String>,
    pub(super) tags: Vec<String>,
    pub(super) set: Vec<(String, String, Program)>,
    pub(super) origin: Origin,
    pub(super) file: Arc<str>,
    pub(super) line: usize,
    pub(super) enabled: bool,
    /// Only sets a content type: skipped once one is set.
    pub(super) only_type: bool,
}

/// A rule as listed by [`RuleSet::rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule's name, unique in the merged set (a user rule of the same name replaces the
    /// default).
    pub name: String,
    /// When it runs.
    pub stage: Stage,
    /// Whether it is built in, a new user rule or a user rule replacing a default.
    pub origin: Origin,
    /// The CEL condition as written in its file (for the built-in banned-keyword rule, a
    /// description instead).
    pub when: String,
    /// The actions, as `drop`, `set_content_type: movie`, `add_tag: hd`, `set: year=year`.
    pub actions: Vec<String>,
    /// Whether it runs: false when its file says `enabled: false` or the user's file lists it
    /// under `disable`.
    pub enabled: bool,
    /// The file it was read from: the user's path, [`DEFAULTS_ORIGIN`] for a default, or
    /// `<built in>` for the banned-keyword rule.
    pub file: String,
    /// Its 1-based line in `file` (0 for the built-in banned-keyword rule).
    pub line: usize,
}

/// An ordered, compiled, merged set of rules. Cheap to share (`Arc` it); evaluation takes
/// `&self`.
pub struct RuleSet {
    pub(super) env: Arc<Env>,
    pub(super) rules: Vec<Rule>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl RuleSet {
    /// The merged rules in evaluation order (the built-in banned-keyword rule first),
    /// disabled ones included.
    pub fn rules(&self) -> Vec<RuleInfo> {
        let mut out = vec![RuleInfo {
            name: BANNED_RULE.to_string(),
            stage: Stage::PostFetch,
            origin: Origin::Default,
            when: "built in: name or a file path contains a banned keyword".into(),
            actions: vec!["drop".into()],
            enabled: true,
            file: "<built in>".into(),
            line: 0,
        }];
        for r in &self.rules {
            let mut actions = Vec::new();
            if r.drop {
                actions.push("drop".to_string());
            }
            if let Some(t) = &r.content_type {
                actions.push(format!("set_content_type: {t}"));
            }
            for t in &r.tags {
                actions.push(format!("add_tag: {t}"));
            }
            for (k, src, _) in &r.set {
                actions.push(format!("set: {k} = {src}"));
            }
            out.push(RuleInfo {
                name: r.name.clone(),
                stage: r.stage,
                origin: r.origin,
                when: r.when_src.clone(),
                actions,
                enabled: r.enabled,
                file: r.file.to_string(),
                line: r.line,
            });
        }
        out
    }
}
