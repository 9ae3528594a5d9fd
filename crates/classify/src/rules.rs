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

use crate::attrs::{self, GROUPS, NameAttrs};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString, CelUInt,
};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, ExecutionError, IdedExpr, Program, Value};
use regex::{Regex, RegexBuilder};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

/// The embedded default rules.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");
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
/// Stack of the thread that parses and compiles rules files.
const LOAD_STACK: usize = 256 << 20;
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
            Stage::PreFetch => "pre_fetch",
            Stage::PostFetch => "post_fetch",
            Stage::Retention => "retention",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        match s {
            "pre_fetch" => Some(Stage::PreFetch),
            "post_fetch" => Some(Stage::PostFetch),
            "retention" => Some(Stage::Retention),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Stage::PreFetch => PRE,
            Stage::PostFetch => POST,
            Stage::Retention => RET,
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
            Origin::Default => "default",
            Origin::User => "user",
            Origin::Replaced => "replaced",
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
    pub fn new(name: impl Into<String>, files: Vec<(String, u64)>) -> TorrentFacts {
        TorrentFacts {
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

const PRE: u8 = 1;
const POST: u8 = 2;
const RET: u8 = 4;
const PR: u8 = POST | RET;

/// Size bound of a collection variable for the cost estimate (1 for scalars).
const ELEMENT_SIZE: u64 = 4;

macro_rules! variables {
    ($( $id:ident = $name:literal : $ty:literal, $stages:expr, $bound:expr, $doc:literal; )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        enum Var { $($id),* }
        const VAR_COUNT: usize = [$($name),*].len();
        const VAR_STAGES: [u8; VAR_COUNT] = [$($stages),*];
        const VAR_BOUNDS: [u64; VAR_COUNT] = [$($bound),*];
        /// Every variable rules can use, with its type, stages and meaning.
        pub const VARIABLES: &[VarDoc] = &[$(VarDoc {
            name: $name,
            ty: $ty,
            stages: stage_names($stages),
            doc: $doc,
        }),*];
        fn var_of(name: &str) -> Option<Var> {
            match name { $($name => Some(Var::$id),)* _ => None }
        }
    };
}

const fn stage_names(bits: u8) -> &'static [&'static str] {
    match bits {
        PRE => &["pre_fetch"],
        POST => &["post_fetch"],
        RET => &["retention"],
        PR => &["post_fetch", "retention"],
        _ => &["pre_fetch", "post_fetch", "retention"],
    }
}

variables! {
    name = "name": "string", PR, 1, "The torrent name as given.";
    name_lower = "name_lower": "string", PR, 1, "The name, lowercased.";
    words = "words": "list(string)", PR, 64, "Lowercase alphanumeric words of the name (at most 64): `'flac' in words`.";
    total_size = "total_size": "int", PR, 1, "Total size in bytes.";
    private = "private": "bool", PR, 1, "BEP-27 private flag.";
    file_count = "file_count": "int", PR, 1, "Number of files (the true count, even when `files` is capped).";
    files = "files": "list(map)", PR, MAX_FILES as u64, "The first 1,000 files, each `{path: string, size: int, ext: string}`.";
    ext = "ext": "string", PR, 1, "Lowercase extension (no dot) of the largest file; `''` if none.";
    exts = "exts": "list(string)", PR, MAX_EXTS as u64, "Distinct lowercase extensions, largest total first (at most 64).";
    ext_sizes = "ext_sizes": "map(string, int)", PR, MAX_EXTS as u64, "Extension -> total bytes (absent extensions are absent keys: use `'mkv' in ext_sizes`).";
    ext_counts = "ext_counts": "map(string, int)", PR, MAX_EXTS as u64, "Extension -> number of files.";
    share = "share": "map(string, double)", PR, GROUPS.len() as u64, "Group -> fraction of the bytes (0..1), for every group: video, audio, lossless, audiobook, ebook, document, comic, image, subtitle, archive, executable, disk_image, rom, other.";
    counts = "counts": "map(string, int)", PR, GROUPS.len() as u64, "Group -> number of files, for every group of `share`.";
    resolution = "resolution": "string", PR, 1, "`2160p`, `1440p`, `1080p`, `720p`, `576p`, `480p`, `360p` from the name; `''` if none.";
    year = "year": "int", PR, 1, "Year (1920-2039) from the name; 0 if none.";
    season = "season": "int", PR, 1, "Season from `S02`, `S02E03`, `2x03`, `Season 2`, `Saison 2`, `Staffel 2`, `Сезон 2`, `第2季`...; 0 if none.";
    episode = "episode": "int", PR, 1, "Episode from `S02E03`, `2x03`, `E03`, `第3集`, anime `- 03 [..]`; 0 if none.";
    languages = "languages": "list(string)", PR, 32, "ISO 639-1 codes from language words and scripts of the name, plus `multi`.";
    codec = "codec": "string", PR, 1, "Video codec: `h264`, `h265`, `av1`, `xvid`, `vp9`, `mpeg2`, `vc1`; `''` if none.";
    audio = "audio": "string", PR, 1, "Audio format: `flac`, `alac`, `ape`, `wav`, `dsd`, `mp3`, `aac`, `ogg`, `opus`, `ac3`, `eac3`, `dts`, `truehd`, `atmos`; `''` if none.";
    source = "source": "string", PR, 1, "`bluray`, `remux`, `web-dl`, `webrip`, `web`, `hdtv`, `dvd`, `cam`, `telesync`, `hdrip`, `vinyl`, `cd`; `''` if none.";
    hdr = "hdr": "bool", PR, 1, "HDR markers in the name (`HDR`, `HDR10`, `DV`, `Dolby Vision`...).";
    bitrate = "bitrate": "int", PR, 1, "Audio bit rate in kbit/s from `320kbps`, `320k`, `V0`; 0 if none.";
    bit_depth = "bit_depth": "int", PR, 1, "Audio bit depth from `24bit`, `24-96`; 0 if none.";
    version = "version": "string", PR, 1, "Software version (`v1.2`, `3.0.20`), without `v`; `''` if none.";
    group = "group": "string", PR, 1, "Release group (`-GROUP` suffix or leading `[Group]`); `''` if none.";
    complete = "complete": "bool", PR, 1, "`Complete`, `Intégrale`, `Komplett`, `Completa`... in the name.";
    content_type = "content_type": "string", PR, 1, "Post-fetch: the type set by an earlier rule, `''` until then. Retention: the torrent's type.";
    seeders_ret = "seeders": "int", PRE | RET, 1, "Seeders from the scrape; -1 if unknown.";
    kb = "KB": "int", PR, 1, "1024.";
    mb = "MB": "int", PR, 1, "1024 * 1024.";
    gb = "GB": "int", PR, 1, "1024 * 1024 * 1024.";
    tb = "TB": "int", PR, 1, "1024^4.";
    info_hash = "info_hash": "string", PRE, 1, "The infohash, 40 lowercase hex digits.";
    source_ip = "source_ip": "string", PRE, 1, "The IP of the node that sampled it; `''` if unknown.";
    times_seen = "times_seen": "int", PRE, 1, "How many times it was seen in samples.";
    peers = "peers": "int", PRE, 1, "Peers from `get_peers`; -1 if unknown.";
    leechers = "leechers": "int", PRE, 1, "Leechers from the scrape; -1 if unknown.";
}

/// Type names CEL resolves as identifiers (`type(x) == int`).
const TYPE_IDENTS: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
];

// ---------------------------------------------------------------------------------------------
// Banned keywords.

/// Well-known CSAM indicator codewords used in published P2P abuse filters. Deliberately
/// short and high-precision (no everyday words): matched as whole words, case-insensitive,
/// in the name and every file path.
pub const BANNED_KEYWORDS: &[&str] = &[
    "pthc",
    "ptsc",
    "hussyfan",
    "r@ygold",
    "raygold",
    "babyshivid",
    "kingpass",
    "qqaazz",
    "childlover",
];

static BANNED: LazyLock<Regex> = LazyLock::new(|| {
    let alts: Vec<String> = BANNED_KEYWORDS.iter().map(|w| regex::escape(w)).collect();
    Regex::new(&format!(
        r"(?i)(?:^|[^\p{{L}}\p{{N}}@])(?:{})(?:[^\p{{L}}\p{{N}}@]|$)",
        alts.join("|")
    ))
    .expect("banned regex")
});

/// Whether a name or one of the (first [`MAX_FILES`]) paths contains a banned keyword.
pub fn has_banned_keyword(facts: &TorrentFacts) -> bool {
    BANNED.is_match(&facts.name)
        || facts
            .files
            .iter()
            .take(MAX_FILES)
            .any(|(p, _)| BANNED.is_match(p))
}

// ---------------------------------------------------------------------------------------------
// Regexes for `matches`: compiled at load, shared.

static REGEX_CACHE: LazyLock<RwLock<HashMap<String, Arc<Regex>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
const REGEX_CACHE_MAX: usize = 4096;

fn compile_regex(pattern: &str) -> Result<Arc<Regex>, String> {
    if let Some(r) = REGEX_CACHE
        .read()
        .ok()
        .and_then(|c| c.get(pattern).cloned())
    {
        return Ok(r);
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex '{pattern}': {e}"))?;
    let re = Arc::new(re);
    if let Ok(mut c) = REGEX_CACHE.write()
        && c.len() < REGEX_CACHE_MAX
    {
        c.insert(pattern.to_string(), Arc::clone(&re));
    }
    Ok(re)
}

fn matches(this: &CelString<'_>, re: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let re = compile_regex(re.inner()).map_err(|m| ExecutionError::function_error("matches", m))?;
    Ok(CelBool::from(re.is_match(this.inner())))
}

fn new_env() -> Arc<Env> {
    let mut env = Env::stdlib();
    // The stdlib's `matches` (regex feature) compiles its pattern on every call; ours uses the
    // patterns compiled at load.
    cel::add_member_overload!(env, fn matches: (CelString<'_>, CelString<'_>) -> Result<CelBool>)
        .expect("matches overload");
    cel::add_overload!(env, fn matches: (CelString<'_>, CelString<'_>) -> Result<CelBool>)
        .expect("matches overload");
    Arc::new(env)
}

// ---------------------------------------------------------------------------------------------
// Rules.

#[derive(Debug)]
struct Rule {
    name: String,
    stage: Stage,
    when_src: String,
    when: Program,
    drop: bool,
    content_type: Option<String>,
    tags: Vec<String>,
    set: Vec<(String, String, Program)>,
    origin: Origin,
    file: Arc<str>,
    line: usize,
    enabled: bool,
    /// Only sets a content type: skipped once one is set.
    only_type: bool,
}

/// A rule as listed by [`RuleSet::rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule's name.
    pub name: String,
    /// Its stage.
    pub stage: Stage,
    /// Default, user or replaced.
    pub origin: Origin,
    /// The `when` expression.
    pub when: String,
    /// The actions, as `drop`, `set_content_type: movie`, `add_tag: hd`, `set: year=year`.
    pub actions: Vec<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// The file it comes from.
    pub file: String,
    /// Its line there.
    pub line: usize,
}

/// An ordered, compiled, merged set of rules. Cheap to share (`Arc` it); evaluation takes
/// `&self`.
pub struct RuleSet {
    env: Arc<Env>,
    rules: Vec<Rule>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

struct Parsed {
    rules: Vec<Rule>,
    disable: Vec<(String, usize)>,
}

fn yaml_err(file: &str, node: &MarkedYaml<'_>, reason: impl Into<String>) -> RulesError {
    RulesError::Yaml {
        file: file.to_string(),
        line: node.span.start.line(),
        col: node.span.start.col() + 1,
        reason: reason.into(),
    }
}

fn scalar_str<'a>(node: &'a MarkedYaml<'_>) -> Option<std::borrow::Cow<'a, str>> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(std::borrow::Cow::Borrowed(s.as_ref())),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string().into()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string().into()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string().into()),
        _ => None,
    }
}

fn need_str(file: &str, node: &MarkedYaml<'_>, what: &str) -> Result<String, RulesError> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        _ => Err(yaml_err(file, node, format!("{what} must be a string"))),
    }
}

fn str_list(file: &str, node: &MarkedYaml<'_>, what: &str) -> Result<Vec<String>, RulesError> {
    match &node.data {
        YamlData::Sequence(items) => items.iter().map(|i| need_str(file, i, what)).collect(),
        _ => Ok(vec![need_str(file, node, what)?]),
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses and compiles a rules file on a thread with a large stack: the CEL parser recurses
/// deeply (debug builds need about 100 KB per nested bracket), and loading happens once.
fn parse_file(text: &str, file: &str, origin: Origin) -> Result<Parsed, RulesError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("rules-load".into())
            .stack_size(LOAD_STACK)
            .spawn_scoped(scope, || parse_file_inner(text, file, origin))
            .map_err(|e| RulesError::Io {
                file: file.to_string(),
                reason: format!("cannot start the loader thread: {e}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(RulesError::Io {
                    file: file.to_string(),
                    reason: "the rules loader panicked".into(),
                })
            })
    })
}

fn parse_file_inner(text: &str, file: &str, origin: Origin) -> Result<Parsed, RulesError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| RulesError::Yaml {
        file: file.to_string(),
        line: e.marker().line(),
        col: e.marker().col() + 1,
        reason: e.info().to_string(),
    })?;
    let mut out = Parsed {
        rules: Vec::new(),
        disable: Vec::new(),
    };
    let Some(doc) = docs.first() else {
        return Ok(out);
    };
    if docs.len() > 1 {
        return Err(yaml_err(file, &docs[1], "one YAML document expected"));
    }
    let file_arc: Arc<str> = Arc::from(file);
    let list = match &doc.data {
        YamlData::Value(Scalar::Null) => return Ok(out),
        YamlData::Sequence(_) => Some(doc),
        YamlData::Mapping(m) => {
            let mut list = None;
            for (k, v) in m.iter() {
                match scalar_str(k).as_deref() {
                    Some("rules") => list = Some(v),
                    Some("disable") => {
                        let names = match &v.data {
                            YamlData::Sequence(items) => items.as_slice(),
                            _ => {
                                return Err(yaml_err(
                                    file,
                                    v,
                                    "`disable` must be a list of rule names",
                                ));
                            }
                        };
                        for n in names {
                            out.disable
                                .push((need_str(file, n, "a rule name")?, n.span.start.line()));
                        }
                    }
                    _ => {
                        return Err(yaml_err(
                            file,
                            k,
                            "unknown top-level key (expected `rules` or `disable`)",
                        ));
                    }
                }
            }
            list
        }
        _ => {
            return Err(yaml_err(
                file,
                doc,
                "expected a list of rules or a mapping with `rules`",
            ));
        }
    };
    let Some(list) = list else { return Ok(out) };
    let items = match &list.data {
        YamlData::Sequence(items) => items.as_slice(),
        YamlData::Value(Scalar::Null) => &[],
        _ => return Err(yaml_err(file, list, "`rules` must be a list")),
    };
    let env = new_env();
    for item in items {
        let rule = parse_rule(&env, item, file, &file_arc, origin)?;
        if out.rules.iter().any(|r| r.name == rule.name) {
            return Err(RulesError::Rule {
                file: file.to_string(),
                line: rule.line,
                rule: rule.name,
                reason: "a rule with this name is already defined in this file".into(),
            });
        }
        out.rules.push(rule);
    }
    Ok(out)
}

fn parse_rule(
    env: &Arc<Env>,
    item: &MarkedYaml<'_>,
    file: &str,
    file_arc: &Arc<str>,
    origin: Origin,
) -> Result<Rule, RulesError> {
    let YamlData::Mapping(m) = &item.data else {
        return Err(yaml_err(
            file,
            item,
            "a rule must be a mapping with name, stage, when, actions",
        ));
    };
    let line = item.span.start.line();
    let mut name = None;
    let mut stage = None;
    let mut when = None;
    let mut enabled = true;
    let mut actions = None;
    for (k, v) in m.iter() {
        match scalar_str(k).as_deref() {
            Some("name") => name = Some(need_str(file, v, "`name`")?),
            Some("stage") => stage = Some(v),
            Some("when") => when = Some(v),
            Some("enabled") => match &v.data {
                YamlData::Value(Scalar::Boolean(b)) => enabled = *b,
                _ => return Err(yaml_err(file, v, "`enabled` must be true or false")),
            },
            Some("actions") => actions = Some(v),
            Some(other) => {
                return Err(yaml_err(
                    file,
                    k,
                    format!(
                        "unknown rule key `{other}` (expected name, stage, when, enabled, actions)"
                    ),
                ));
            }
            None => return Err(yaml_err(file, k, "rule keys must be strings")),
        }
    }
    let name = name.ok_or_else(|| yaml_err(file, item, "rule without a `name`"))?;
    let rule_err = |line: usize, reason: String| RulesError::Rule {
        file: file.to_string(),
        line,
        rule: name.clone(),
        reason,
    };
    if !is_ident(&name) {
        return Err(rule_err(
            line,
            "a name is 1-64 of a-z, 0-9, `_`, `-`".into(),
        ));
    }
    let stage_node = stage.ok_or_else(|| rule_err(line, "missing `stage`".into()))?;
    let stage_s = need_str(file, stage_node, "`stage`")?;
    let stage = Stage::parse(&stage_s).ok_or_else(|| {
        rule_err(
            stage_node.span.start.line(),
            format!("unknown stage `{stage_s}` (expected pre_fetch, post_fetch or retention)"),
        )
    })?;
    let when_node = when.ok_or_else(|| rule_err(line, "missing `when`".into()))?;
    let when_src = need_str(file, when_node, "`when`")?;
    let when_line = when_node.span.start.line();
    let when_prog = compile_checked(env, &when_src, stage, true, file, when_line, &name)?;

    let mut rule = Rule {
        name: name.clone(),
        stage,
        when_src,
        when: when_prog,
        drop: false,
        content_type: None,
        tags: Vec::new(),
        set: Vec::new(),
        origin,
        file: Arc::clone(file_arc),
        line,
        enabled,
        only_type: false,
    };
    let actions = actions.ok_or_else(|| rule_err(line, "missing `actions`".into()))?;
    let YamlData::Mapping(am) = &actions.data else {
        return Err(yaml_err(file, actions, "`actions` must be a mapping"));
    };
    for (k, v) in am.iter() {
        let key = scalar_str(k).unwrap_or_default().into_owned();
        let kline = k.span.start.line();
        if key != "drop" && stage != Stage::PostFetch {
            return Err(rule_err(
                kline,
                format!("action `{key}` is not allowed at stage {stage} (only `drop`)"),
            ));
        }
        match key.as_str() {
            "drop" => match &v.data {
                YamlData::Value(Scalar::Boolean(b)) => rule.drop = *b,
                _ => return Err(yaml_err(file, v, "`drop` must be true or false")),
            },
            "set_content_type" => {
                let t = need_str(file, v, "`set_content_type`")?;
                if !is_ident(&t) {
                    return Err(rule_err(
                        kline,
                        format!("bad content type `{t}` (a-z, 0-9, _, -)"),
                    ));
                }
                rule.content_type = Some(t);
            }
            "add_tag" => {
                for t in str_list(file, v, "a tag")? {
                    if !is_ident(&t) {
                        return Err(rule_err(kline, format!("bad tag `{t}` (a-z, 0-9, _, -)")));
                    }
                    rule.tags.push(t);
                }
            }
            "set" => {
                let YamlData::Mapping(sm) = &v.data else {
                    return Err(yaml_err(
                        file,
                        v,
                        "`set` must be a mapping of attribute: CEL expression",
                    ));
                };
                for (sk, sv) in sm.iter() {
                    let attr = need_str(file, sk, "an attribute name")?;
                    if !is_ident(&attr) {
                        return Err(rule_err(kline, format!("bad attribute name `{attr}`")));
                    }
                    let src = scalar_str(sv)
                        .ok_or_else(|| {
                            yaml_err(file, sv, "an attribute value is a CEL expression")
                        })?
                        .into_owned();
                    let prog = compile_checked(
                        env,
                        &src,
                        stage,
                        false,
                        file,
                        sv.span.start.line(),
                        &name,
                    )?;
                    rule.set.push((attr, src, prog));
                }
            }
            other => {
                return Err(rule_err(
                    kline,
                    format!(
                        "unknown action `{other}` (expected drop, set_content_type, add_tag, set)"
                    ),
                ));
            }
        }
    }
    if !rule.drop && rule.content_type.is_none() && rule.tags.is_empty() && rule.set.is_empty() {
        return Err(rule_err(line, "a rule needs at least one action".into()));
    }
    rule.only_type = !rule.drop && rule.tags.is_empty() && rule.set.is_empty();
    Ok(rule)
}

// ---------------------------------------------------------------------------------------------
// Load-time checks: size, variables, cost, literal regexes, a sample evaluation.

struct Estimate {
    cost: u64,
    size: u64,
}

struct Checker<'a> {
    stage: Stage,
    nodes: usize,
    depth: usize,
    scope: Vec<(&'a str, u64)>,
}

impl<'a> Checker<'a> {
    fn walk(&mut self, e: &'a IdedExpr) -> Result<Estimate, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "expression nested too deeply (more than {MAX_DEPTH} levels): split it"
            ));
        }
        let r = self.walk_node(e);
        self.depth -= 1;
        r
    }

    fn walk_node(&mut self, e: &'a IdedExpr) -> Result<Estimate, String> {
        use cel::common::ast::{EntryExpr, Expr};
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!(
                "expression too large (more than {MAX_NODES} nodes): split it into several rules"
            ));
        }
        Ok(match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => Estimate { cost: 1, size: 1 },
            Expr::Ident(name) => {
                let size = if let Some((_, s)) = self.scope.iter().rev().find(|(n, _)| n == name) {
                    *s
                } else if let Some(v) = var_of(name) {
                    if VAR_STAGES[v as usize] & self.stage.bit() == 0 {
                        return Err(format!(
                            "variable `{name}` is not available at stage {}",
                            self.stage
                        ));
                    }
                    VAR_BOUNDS[v as usize]
                } else if TYPE_IDENTS.contains(&name.as_str()) {
                    1
                } else {
                    return Err(format!(
                        "unknown variable `{name}` at stage {} (known: {})",
                        self.stage,
                        known_vars(self.stage).join(", ")
                    ));
                };
                Estimate { cost: 1, size }
            }
            Expr::Select(s) => {
                let o = self.walk(&s.operand)?;
                Estimate {
                    cost: o.cost + 1,
                    size: 1,
                }
            }
            Expr::List(l) => {
                let mut cost = 1;
                for el in &l.elements {
                    cost += self.walk(el)?.cost;
                }
                Estimate {
                    cost,
                    size: l.elements.len().max(1) as u64,
                }
            }
            Expr::Map(m) => {
                let mut cost = 1;
                for en in &m.entries {
                    if let EntryExpr::MapEntry(me) = &en.expr {
                        cost += self.walk(&me.key)?.cost + self.walk(&me.value)?.cost;
                    }
                }
                Estimate {
                    cost,
                    size: m.entries.len().max(1) as u64,
                }
            }
            Expr::Struct(_) => return Err("struct literals are not supported".into()),
            Expr::Call(c) => {
                if c.func_name == "matches" {
                    let pat = if c.target.is_some() {
                        c.args.first()
                    } else {
                        c.args.get(1)
                    };
                    match pat.map(|p| &p.expr) {
                        Some(Expr::Literal(cel::common::ast::LiteralValue::String(s))) => {
                            compile_regex(s.inner())?;
                        }
                        _ => {
                            return Err(
                                "matches() needs a string literal pattern (compiled once at load)"
                                    .into(),
                            );
                        }
                    }
                }
                let mut cost = 1;
                let mut sizes = Vec::with_capacity(c.args.len() + 1);
                if let Some(t) = &c.target {
                    let t = self.walk(t)?;
                    cost += t.cost;
                    sizes.push(t.size);
                }
                for a in &c.args {
                    let a = self.walk(a)?;
                    cost += a.cost;
                    sizes.push(a.size);
                }
                let max = sizes.iter().copied().max().unwrap_or(1);
                match c.func_name.as_str() {
                    "@in" => {
                        cost += sizes.last().copied().unwrap_or(1);
                        Estimate { cost, size: 1 }
                    }
                    "_+_" => {
                        let sum: u64 = sizes.iter().sum();
                        Estimate {
                            cost: cost + sum,
                            size: sum,
                        }
                    }
                    "_==_" | "_!=_" => Estimate {
                        cost: cost + max,
                        size: 1,
                    },
                    "size" | "_<_" | "_<=_" | "_>_" | "_>=_" | "_&&_" | "_||_" | "!_" => {
                        Estimate { cost, size: 1 }
                    }
                    _ => Estimate { cost, size: max },
                }
            }
            Expr::Comprehension(c) => {
                let range = self.walk(&c.iter_range)?;
                let init = self.walk(&c.accu_init)?;
                let mark = self.scope.len();
                let element = if range.size > 1 { ELEMENT_SIZE } else { 1 };
                self.scope.push((c.iter_var.as_str(), element));
                if let Some(v2) = &c.iter_var2 {
                    self.scope.push((v2.as_str(), element));
                }
                // map()/filter() append in place (cel-go's optimisation, also in cel-rust):
                // the accumulator costs one step per element.
                self.scope.push((c.accu_var.as_str(), 1));
                let cond = self.walk(&c.loop_cond)?;
                let step = self.walk(&c.loop_step)?;
                self.scope.truncate(mark);
                self.scope.push((c.accu_var.as_str(), range.size));
                let result = self.walk(&c.result)?;
                self.scope.truncate(mark);
                let body = range.size.saturating_mul(cond.cost + step.cost + 1);
                Estimate {
                    cost: range.cost + init.cost + body + result.cost,
                    size: range.size,
                }
            }
        })
    }
}

/// The deepest nesting of `(`, `[` and `{` outside string literals.
fn bracket_depth(src: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in src.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

fn known_vars(stage: Stage) -> Vec<&'static str> {
    VARIABLES
        .iter()
        .enumerate()
        .filter(|(i, _)| VAR_STAGES[*i] & stage.bit() != 0)
        .map(|(_, v)| v.name)
        .collect()
}

/// Compiles `src`, checks it against `stage`'s variables and the cost bound, and evaluates it
/// on sample inputs so type errors surface at load. `boolean`: must evaluate to a bool.
fn compile_checked(
    env: &Arc<Env>,
    src: &str,
    stage: Stage,
    boolean: bool,
    file: &str,
    line: usize,
    rule: &str,
) -> Result<Program, RulesError> {
    let rule_err = |reason: String| RulesError::Rule {
        file: file.to_string(),
        line,
        rule: rule.to_string(),
        reason,
    };
    if src.len() > MAX_EXPR_LEN {
        return Err(rule_err(format!(
            "expression too long ({} bytes, at most {MAX_EXPR_LEN})",
            src.len()
        )));
    }
    if bracket_depth(src) > MAX_BRACKETS {
        return Err(rule_err(format!(
            "brackets nested too deeply (more than {MAX_BRACKETS} levels)"
        )));
    }
    let program = env.compile(src).map_err(|e| {
        let (msg, l) = match e.errors.first() {
            Some(pe) => (
                format!("{} (at column {})", pe.msg, pe.pos.1.max(1)),
                (pe.pos.0.max(1) - 1) as usize,
            ),
            None => (e.to_string(), 0),
        };
        RulesError::Cel {
            file: file.to_string(),
            line: line + l,
            rule: rule.to_string(),
            message: msg,
        }
    })?;
    let mut checker = Checker {
        stage,
        nodes: 0,
        depth: 0,
        scope: Vec::new(),
    };
    let est = checker.walk(program.expression()).map_err(rule_err)?;
    if est.cost > MAX_COST {
        return Err(rule_err(format!(
            "too costly: estimated {} steps in the worst case, at most {MAX_COST} \
             (files is capped at {MAX_FILES}: a comprehension inside a comprehension over \
             files costs their product)",
            est.cost
        )));
    }
    // Sample evaluation: type errors (no such overload, undeclared reference, wrong type)
    // are errors whatever the input; data-dependent ones (missing map key, division by zero)
    // are not.
    for sample in samples() {
        let result = match stage {
            Stage::PreFetch => {
                let vars = PreVars::new(&sample.pre);
                let mut ctx = Context::with_env(Arc::clone(env));
                ctx.set_variable_resolver(&vars);
                Value::resolve_val(program.expression(), &ctx).map(|v| kind_of(&v))
            }
            _ => {
                let d = Derived::new(&sample.facts, Some(-1));
                let vars = PostVars::new(&d);
                if stage == Stage::Retention {
                    let _ = vars
                        .content_type
                        .set(Box::new(CelString::from("movie".to_string())));
                }
                let mut ctx = Context::with_env(Arc::clone(env));
                ctx.set_variable_resolver(&vars);
                Value::resolve_val(program.expression(), &ctx).map(|v| kind_of(&v))
            }
        };
        match result {
            Ok(kind) if boolean && kind != "bool" => {
                return Err(rule_err(format!(
                    "`when` must evaluate to a bool, not {kind}"
                )));
            }
            Ok(_) => {}
            Err(
                e @ (ExecutionError::UndeclaredReference(_)
                | ExecutionError::NoSuchOverload(_)
                | ExecutionError::UnexpectedType { .. }
                | ExecutionError::UnsupportedBinaryOperator(..)
                | ExecutionError::InvalidArgumentCount { .. }
                | ExecutionError::NotSupportedAsMethod { .. }
                | ExecutionError::FunctionError { .. }),
            ) => {
                return Err(RulesError::Cel {
                    file: file.to_string(),
                    line,
                    rule: rule.to_string(),
                    message: e.to_string(),
                });
            }
            Err(_) => {}
        }
    }
    Ok(program)
}

fn kind_of(v: &CowVal<'_, '_>) -> String {
    v.get_type().name().to_string()
}

struct Sample {
    facts: TorrentFacts,
    pre: PrefetchFacts,
}

fn samples() -> &'static [Sample] {
    static S: LazyLock<Vec<Sample>> = LazyLock::new(|| {
        vec![
            Sample {
                facts: TorrentFacts::new(
                    "Some.Show.S01E02.1080p.WEB-DL.x264-GRP",
                    vec![
                        (
                            "Some.Show.S01E02.1080p.WEB-DL.x264-GRP.mkv".into(),
                            1_500_000_000,
                        ),
                        ("Subs/English.srt".into(), 50_000),
                    ],
                ),
                pre: PrefetchFacts {
                    info_hash_hex: "0123456789abcdef0123456789abcdef01234567".into(),
                    source_ip: Some(IpAddr::from([127, 0, 0, 1])),
                    times_seen: 3,
                    peers: Some(10),
                    seeders: Some(5),
                    leechers: Some(2),
                },
            },
            Sample {
                facts: TorrentFacts::default(),
                pre: PrefetchFacts::default(),
            },
        ]
    });
    &S
}

// ---------------------------------------------------------------------------------------------
// Variables.

/// Everything computed in Rust once per torrent, from which CEL values are built on demand.
#[derive(Debug)]
struct Derived<'a> {
    facts: &'a TorrentFacts,
    attrs: NameAttrs,
    /// (ext, bytes, files), largest bytes first, at most MAX_EXTS.
    exts: Vec<(String, u64, u64)>,
    largest_ext: String,
    group_bytes: [u64; GROUPS.len()],
    group_files: [u64; GROUPS.len()],
    seeders: i64,
}

impl<'a> Derived<'a> {
    fn new(facts: &'a TorrentFacts, seeders: Option<i64>) -> Derived<'a> {
        let mut exts: Vec<(String, u64, u64)> = Vec::new();
        let mut group_bytes = [0u64; GROUPS.len()];
        let mut group_files = [0u64; GROUPS.len()];
        let mut largest = (0u64, String::new());
        let mut first = true;
        for (path, size) in facts.files.iter().take(MAX_FILES) {
            let e = attrs::extension(path);
            let g = attrs::ext_group(&e);
            for (i, (b, f)) in group_bytes
                .iter_mut()
                .zip(group_files.iter_mut())
                .enumerate()
            {
                if g & (1 << i) != 0 {
                    *b += size;
                    *f += 1;
                }
            }
            if first || *size > largest.0 {
                largest = (*size, e.clone());
                first = false;
            }
            match exts.iter_mut().find(|x| x.0 == e) {
                Some(x) => {
                    x.1 += size;
                    x.2 += 1;
                }
                None => exts.push((e, *size, 1)),
            }
        }
        exts.retain(|x| !x.0.is_empty());
        exts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        exts.truncate(MAX_EXTS);
        Derived {
            facts,
            attrs: attrs::parse_name(&facts.name),
            exts,
            largest_ext: largest.1,
            group_bytes,
            group_files,
            seeders: seeders.unwrap_or(-1),
        }
    }
}

type BoxVal = Box<dyn Val + 'static>;

fn s(v: impl Into<String>) -> BoxVal {
    Box::new(CelString::from(v.into()))
}
fn i(v: i64) -> BoxVal {
    Box::new(CelInt::from(v))
}
fn u2i(v: u64) -> BoxVal {
    i(i64::try_from(v).unwrap_or(i64::MAX))
}
fn b(v: bool) -> BoxVal {
    Box::new(CelBool::from(v))
}
fn list(items: impl IntoIterator<Item = BoxVal>) -> BoxVal {
    Box::new(CelList::from(items.into_iter().collect::<Vec<_>>()))
}
fn map(items: impl IntoIterator<Item = (String, BoxVal)>) -> BoxVal {
    let m: HashMap<CelMapKey<'static>, BoxVal> = items
        .into_iter()
        .map(|(k, v)| (CelMapKey::from(k), v))
        .collect();
    Box::new(CelMap::from(m))
}

/// The post-fetch and retention variables, built lazily from [`Derived`].
struct PostVars<'a> {
    d: &'a Derived<'a>,
    vals: [OnceLock<BoxVal>; VAR_COUNT],
    content_type: OnceLock<BoxVal>,
}

static EMPTY_STRING: LazyLock<CelString<'static>> =
    LazyLock::new(|| CelString::from(String::new()));

impl<'a> PostVars<'a> {
    fn new(d: &'a Derived<'a>) -> PostVars<'a> {
        PostVars {
            d,
            vals: std::array::from_fn(|_| OnceLock::new()),
            content_type: OnceLock::new(),
        }
    }

    fn build(&self, v: Var) -> BoxVal {
        let d = self.d;
        let a = &d.attrs;
        let opt = |x: Option<&str>| s(x.unwrap_or_default());
        match v {
            Var::name => s(d.facts.name.clone()),
            Var::name_lower => s(d.facts.name.to_lowercase()),
            Var::words => list(a.words.iter().map(|w| s(w.clone()))),
            Var::total_size => u2i(d.facts.total_size),
            Var::private => b(d.facts.private),
            Var::file_count => u2i(d.facts.file_count.max(d.facts.files.len() as u64)),
            Var::files => list(d.facts.files.iter().take(MAX_FILES).map(|(p, sz)| {
                map([
                    ("path".to_string(), s(p.clone())),
                    ("size".to_string(), u2i(*sz)),
                    ("ext".to_string(), s(attrs::extension(p))),
                ])
            })),
            Var::ext => s(d.largest_ext.clone()),
            Var::exts => list(d.exts.iter().map(|x| s(x.0.clone()))),
            Var::ext_sizes => map(d.exts.iter().map(|x| (x.0.clone(), u2i(x.1)))),
            Var::ext_counts => map(d.exts.iter().map(|x| (x.0.clone(), u2i(x.2)))),
            Var::share => {
                let total: u64 = d.facts.files.iter().take(MAX_FILES).map(|f| f.1).sum();
                map(GROUPS.iter().enumerate().map(|(i, g)| {
                    let share = if total == 0 {
                        0.0
                    } else {
                        d.group_bytes[i] as f64 / total as f64
                    };
                    (g.to_string(), Box::new(CelDouble::from(share)) as BoxVal)
                }))
            }
            Var::counts => map(GROUPS
                .iter()
                .enumerate()
                .map(|(i, g)| (g.to_string(), u2i(d.group_files[i])))),
            Var::resolution => opt(a.resolution),
            Var::year => i(a.year.map_or(0, i64::from)),
            Var::season => i(a.season.map_or(0, i64::from)),
            Var::episode => i(a.episode.map_or(0, i64::from)),
            Var::languages => list(a.languages.iter().map(|l| s(*l))),
            Var::codec => opt(a.codec),
            Var::audio => opt(a.audio),
            Var::source => opt(a.source),
            Var::hdr => b(a.hdr),
            Var::bitrate => i(a.bitrate.map_or(0, i64::from)),
            Var::bit_depth => i(a.bit_depth.map_or(0, i64::from)),
            Var::version => opt(a.version.as_deref()),
            Var::group => opt(a.group.as_deref()),
            Var::complete => b(a.complete),
            Var::seeders_ret => i(d.seeders),
            Var::kb => i(1 << 10),
            Var::mb => i(1 << 20),
            Var::gb => i(1 << 30),
            Var::tb => i(1 << 40),
            // Not post-fetch variables (refused at load); never reached.
            Var::content_type
            | Var::info_hash
            | Var::source_ip
            | Var::times_seen
            | Var::peers
            | Var::leechers => s(""),
        }
    }
}

impl VariableResolver for PostVars<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let v = var_of(variable)?;
        if VAR_STAGES[v as usize] & PR == 0 {
            return None;
        }
        if v == Var::content_type {
            return Some(match self.content_type.get() {
                Some(ct) => CowVal::Borrowed(ct.as_ref()),
                None => CowVal::Borrowed(&*EMPTY_STRING),
            });
        }
        let val = self.vals[v as usize].get_or_init(|| self.build(v));
        Some(CowVal::Borrowed(val.as_ref()))
    }
}

/// The pre-fetch variables (few and cheap: built eagerly).
struct PreVars {
    vals: Vec<(Var, BoxVal)>,
}

impl PreVars {
    fn new(p: &PrefetchFacts) -> PreVars {
        let opt = |x: Option<u32>| i(x.map_or(-1, i64::from));
        PreVars {
            vals: vec![
                (Var::info_hash, s(p.info_hash_hex.to_ascii_lowercase())),
                (
                    Var::source_ip,
                    s(p.source_ip.map(|ip| ip.to_string()).unwrap_or_default()),
                ),
                (Var::times_seen, i(i64::from(p.times_seen))),
                (Var::peers, opt(p.peers)),
                (Var::seeders_ret, opt(p.seeders)),
                (Var::leechers, opt(p.leechers)),
            ],
        }
    }
}

impl VariableResolver for PreVars {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let v = var_of(variable)?;
        self.vals
            .iter()
            .find(|(k, _)| *k == v)
            .map(|(_, val)| CowVal::Borrowed(val.as_ref()))
    }
}

/// An attribute value as text: strings as they are, numbers in decimal, lists joined with
/// `,`; empty strings, zero, false, null and empty lists are "not set".
fn attribute_text(v: &dyn Val) -> Option<String> {
    if let Some(s) = v.downcast_ref::<CelString<'_>>() {
        return (!s.inner().is_empty()).then(|| s.inner().to_string());
    }
    if let Some(n) = v.downcast_ref::<CelInt>() {
        return (*n.inner() != 0).then(|| n.inner().to_string());
    }
    if let Some(n) = v.downcast_ref::<CelUInt>() {
        return (*n.inner() != 0).then(|| n.inner().to_string());
    }
    if let Some(n) = v.downcast_ref::<CelDouble>() {
        return (*n.inner() != 0.0).then(|| n.inner().to_string());
    }
    if let Some(x) = v.downcast_ref::<CelBool>() {
        return x.inner().then(|| "true".to_string());
    }
    if let Some(l) = v.downcast_ref::<CelList<'_>>() {
        let parts: Vec<String> = l
            .inner()
            .iter()
            .filter_map(|e| attribute_text(e.as_ref()))
            .collect();
        return (!parts.is_empty()).then(|| parts.join(","));
    }
    None
}

fn truth(r: Result<CowVal<'_, '_>, ExecutionError>) -> Result<bool, String> {
    match r {
        Ok(v) => v
            .downcast_ref::<CelBool>()
            .map(|b| *b.inner())
            .ok_or_else(|| format!("not a bool: {}", v.get_type().name())),
        Err(e) => Err(e.to_string()),
    }
}

impl RuleSet {
    /// The defaults merged with the user file at `user`, if any: a user rule with a default's
    /// name replaces it in place; new user rules run before the defaults, in file order;
    /// `disable: [names]` and `enabled: false` turn rules off. Naming [`BANNED_RULE`], or
    /// disabling a rule that does not exist, is an error.
    pub fn load(user: Option<&Path>) -> Result<RuleSet, RulesError> {
        match user {
            None => Self::merged(None),
            Some(path) => {
                let file = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| RulesError::Io {
                    file: file.clone(),
                    reason: e.to_string(),
                })?;
                Self::merged(Some((&text, &file)))
            }
        }
    }

    /// The defaults merged with `user` = (YAML text, file name for messages), as
    /// [`RuleSet::load`].
    pub fn merged(user: Option<(&str, &str)>) -> Result<RuleSet, RulesError> {
        let defaults = parse_file(DEFAULTS_YAML, DEFAULTS_ORIGIN, Origin::Default)?;
        let mut rules = defaults.rules;
        let Some((text, file)) = user else {
            return Ok(RuleSet {
                env: new_env(),
                rules,
            });
        };
        let user = parse_file(text, file, Origin::User)?;
        let mut new_rules = Vec::new();
        for mut r in user.rules {
            if r.name == BANNED_RULE {
                return Err(RulesError::Rule {
                    file: file.to_string(),
                    line: r.line,
                    rule: r.name,
                    reason: "this rule is built in and cannot be replaced".into(),
                });
            }
            match rules.iter_mut().find(|d| d.name == r.name) {
                Some(d) => {
                    r.origin = Origin::Replaced;
                    *d = r;
                }
                None => new_rules.push(r),
            }
        }
        new_rules.append(&mut rules);
        let mut rules = new_rules;
        for (name, line) in user.disable {
            if name == BANNED_RULE {
                return Err(RulesError::Rule {
                    file: file.to_string(),
                    line,
                    rule: name,
                    reason: "this rule is built in and cannot be disabled".into(),
                });
            }
            match rules.iter_mut().find(|r| r.name == name) {
                Some(r) => r.enabled = false,
                None => {
                    return Err(RulesError::Rule {
                        file: file.to_string(),
                        line,
                        rule: name,
                        reason: "`disable` names no rule".into(),
                    });
                }
            }
        }
        Ok(RuleSet {
            env: new_env(),
            rules,
        })
    }

    /// Only the rules in `text` (no defaults; the banned-keyword rule still applies).
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<RuleSet, RulesError> {
        let parsed = parse_file(text, origin, Origin::User)?;
        if let Some(r) = parsed.rules.iter().find(|r| r.name == BANNED_RULE) {
            return Err(RulesError::Rule {
                file: origin.to_string(),
                line: r.line,
                rule: r.name.clone(),
                reason: "this rule is built in and cannot be replaced".into(),
            });
        }
        let mut rules = parsed.rules;
        for (name, line) in parsed.disable {
            match rules.iter_mut().find(|r| r.name == name) {
                Some(r) => r.enabled = false,
                None => {
                    return Err(RulesError::Rule {
                        file: origin.to_string(),
                        line,
                        rule: name,
                        reason: "`disable` names no rule".into(),
                    });
                }
            }
        }
        Ok(RuleSet {
            env: new_env(),
            rules,
        })
    }

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

    fn active(&self, stage: Stage) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .filter(move |r| r.enabled && r.stage == stage)
    }

    /// Post-fetch: runs the banned-keyword check, then every enabled post-fetch rule in
    /// order. The first rule that sets a content type wins (later type-only rules are
    /// skipped); tags accumulate; the first rule to set an attribute wins; a `drop` stops
    /// evaluation. A rule whose evaluation fails does not fire (see [`Verdict::errors`]).
    pub fn classify(&self, facts: &TorrentFacts) -> Verdict {
        let mut v = Verdict::default();
        if has_banned_keyword(facts) {
            v.drop = Some(BANNED_RULE.to_string());
            v.fired.push(BANNED_RULE.to_string());
            v.content_type = Some("unknown".into());
            return v;
        }
        let d = Derived::new(facts, None);
        let vars = PostVars::new(&d);
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        for r in self.active(Stage::PostFetch) {
            if r.only_type && v.content_type.is_some() {
                continue;
            }
            match truth(Value::resolve_val(r.when.expression(), &ctx)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    v.errors.push(format!("{}: {e}", r.name));
                    continue;
                }
            }
            v.fired.push(r.name.clone());
            if r.drop {
                v.drop = Some(r.name.clone());
                break;
            }
            if let Some(t) = &r.content_type
                && v.content_type.is_none()
            {
                v.content_type = Some(t.clone());
                let _ = vars.content_type.set(s(t.clone()));
            }
            for t in &r.tags {
                if !v.tags.contains(t) {
                    v.tags.push(t.clone());
                }
            }
            for (k, _, prog) in &r.set {
                if v.attributes.contains_key(k) {
                    continue;
                }
                match Value::resolve_val(prog.expression(), &ctx) {
                    Ok(val) => {
                        if let Some(text) = attribute_text(val.as_ref()) {
                            v.attributes.insert(k.clone(), text);
                        }
                    }
                    Err(e) => v.errors.push(format!("{} (set {k}): {e}", r.name)),
                }
            }
        }
        if v.content_type.is_none() {
            v.content_type = Some("unknown".into());
        }
        v
    }

    /// Pre-fetch: the name of the first enabled pre-fetch rule that drops this infohash.
    pub fn prefetch(&self, facts: &PrefetchFacts) -> Option<String> {
        let mut rules = self.active(Stage::PreFetch).filter(|r| r.drop).peekable();
        rules.peek()?;
        let vars = PreVars::new(facts);
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        rules
            .find(|r| truth(Value::resolve_val(r.when.expression(), &ctx)) == Ok(true))
            .map(|r| r.name.clone())
    }

    /// Retention: `Err(rule name)` from the first enabled retention rule that drops this
    /// torrent, `Ok(())` if it is kept. `seeders`: from the scrape, if known.
    pub fn keep(
        &self,
        facts: &TorrentFacts,
        content_type: &str,
        seeders: Option<u32>,
    ) -> Result<(), String> {
        let mut rules = self.active(Stage::Retention).filter(|r| r.drop).peekable();
        if rules.peek().is_none() {
            return Ok(());
        }
        let d = Derived::new(facts, Some(seeders.map_or(-1, i64::from)));
        let vars = PostVars::new(&d);
        let _ = vars.content_type.set(s(content_type));
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        match rules.find(|r| truth(Value::resolve_val(r.when.expression(), &ctx)) == Ok(true)) {
            Some(r) => Err(r.name.clone()),
            None => Ok(()),
        }
    }

    /// Whether any enabled rule runs at `stage` (a caller can skip building facts if not).
    pub fn has_stage(&self, stage: Stage) -> bool {
        self.active(stage).next().is_some()
    }
}
