//! `bitagent rules check|classify`: validate a rules file, and see what the rules make of one
//! torrent.
//!
//! * `bitagent rules check [FILE]`: loads the built-in defaults merged with FILE (or the
//!   configured rules file), prints every rule (name, stage, source default/user/replaced,
//!   `when`, actions), and fails with `file:line: reason` on a bad file.
//! * `bitagent rules classify FILE.torrent|- [--rules FILE] [--json]`: parses a `.torrent`
//!   (or JSON `{"name": ..., "files": [{"path": ..., "size": ...}]}` on stdin for `-`) and
//!   prints its content type, tags, attributes, verdict (keep/drop and the rule) and the rules
//!   that fired.
//!
//! [`facts_from_json`] and [`verdict_json`] are shared with `rules explain INFOHASH`.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use classify::rules::{RuleSet, TorrentFacts, Verdict};
use infohash::InfoHash;
use serde_json::{Value, json};

/// `bitagent rules check` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The rules file to check (default: the configured one; none: the defaults alone).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `bitagent rules classify` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ClassifyArgs {
    /// A `.torrent` file, or `-` for JSON on stdin:
    /// `{"name": "...", "files": [{"path": "...", "size": 123}], "private": false}`.
    #[arg(value_name = "TORRENT|-")]
    pub input: String,

    /// Rules file merged over the defaults (default: the configured one).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `bitagent classify` (the same as `bitagent rules classify`).
impl crate::Cmd for ClassifyArgs {
    fn json(&self) -> bool {
        self.json
    }

    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        let settings = ctx.settings()?;
        classify(
            self.rules.as_deref().or(settings.rules.as_deref()),
            ClassifyInput::from_arg(&self.input),
            self.json,
        )
    }
}

/// What `rules classify` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClassifyInput {
    /// A `.torrent` file.
    Torrent(PathBuf),
    /// JSON on standard input.
    Stdin,
}

impl ClassifyInput {
    /// `-` is stdin, anything else a `.torrent` path.
    pub(crate) fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Self::Stdin
        } else {
            Self::Torrent(PathBuf::from(arg))
        }
    }
}

/// Loads the defaults merged with `file`, with the error as startup prints it.
pub(crate) fn load(file: Option<&Path>) -> anyhow::Result<RuleSet> {
    RuleSet::load(file).map_err(|e| anyhow!("{e}"))
}

/// `rules check`: validates `file` (merged over the defaults) and prints the merged rules.
/// Fails, with `file:line: reason`, on a bad file.
pub(crate) fn check(file: Option<&Path>) -> anyhow::Result<()> {
    let rules = load(file)?;
    let mut out = std::io::stdout().lock();
    write_check(&rules, file, &mut out)?;
    Ok(())
}

/// The `rules check` listing.
pub(crate) fn write_check(
    rules: &RuleSet,
    file: Option<&Path>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let list = rules.rules();
    for (i, r) in list.iter().enumerate() {
        let state = if r.enabled { "" } else { ", disabled" };
        writeln!(
            out,
            "{:>3}. {}  [{}, {}{state}]",
            i + 1,
            r.name,
            r.stage,
            r.origin.as_str()
        )?;
        let when: Vec<&str> = r.when.split_whitespace().collect();
        writeln!(out, "     when: {}", when.join(" "))?;
        writeln!(out, "     then: {}", r.actions.join("; "))?;
    }
    let enabled = list.iter().filter(|r| r.enabled).count();
    match file {
        Some(f) => writeln!(
            out,
            "{} rules ({enabled} enabled): the defaults merged with {}: OK",
            list.len(),
            f.display()
        ),
        None => writeln!(
            out,
            "{} rules ({enabled} enabled): the defaults: OK",
            list.len()
        ),
    }
}

/// `rules classify`: classifies one torrent with the defaults merged with `rules_file` and
/// prints the result (text, or one JSON object).
pub(crate) fn classify(
    rules_file: Option<&Path>,
    input: ClassifyInput,
    json: bool,
) -> anyhow::Result<()> {
    let rules = load(rules_file)?;
    let facts = read_facts(input)?;
    let mut out = std::io::stdout().lock();
    write_classify(&rules, &facts, json, &mut out)?;
    Ok(())
}

/// Reads the torrent facts of a `rules classify` input.
pub(crate) fn read_facts(input: ClassifyInput) -> anyhow::Result<TorrentFacts> {
    match input {
        ClassifyInput::Torrent(path) => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            facts_from_torrent(&bytes).with_context(|| format!("{}", path.display()))
        }
        ClassifyInput::Stdin => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading stdin")?;
            facts_from_json(&text).context("stdin")
        }
    }
}

/// The classification of `facts` as `rules classify` prints it.
pub(crate) fn write_classify(
    rules: &RuleSet,
    facts: &TorrentFacts,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let verdict = rules.classify(facts);
    let retention = match &verdict.drop {
        Some(_) => None,
        None => rules.keep(facts, verdict.content_type(), None).err(),
    };
    if json {
        let mut v = verdict_json(&verdict);
        v["name"] = json!(facts.name);
        v["retention_drop_rule"] = json!(retention);
        if retention.is_some() {
            v["verdict"] = json!("drop");
        }
        return writeln!(out, "{v}");
    }
    let none = |s: String| if s.is_empty() { "-".to_string() } else { s };
    writeln!(out, "name:         {}", facts.name)?;
    writeln!(
        out,
        "size:         {} bytes in {} files",
        facts.total_size, facts.file_count
    )?;
    writeln!(out, "content type: {}", verdict.content_type())?;
    writeln!(out, "tags:         {}", none(verdict.tags.join(", ")))?;
    let attrs: Vec<String> = verdict
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    writeln!(out, "attributes:   {}", none(attrs.join(", ")))?;
    match (&verdict.drop, &retention) {
        (Some(rule), _) => writeln!(out, "verdict:      drop (post_fetch rule `{rule}`)")?,
        (None, Some(rule)) => writeln!(out, "verdict:      drop (retention rule `{rule}`)")?,
        (None, None) => writeln!(out, "verdict:      keep")?,
    }
    writeln!(out, "fired:        {}", none(verdict.fired.join(", ")))?;
    for e in &verdict.errors {
        writeln!(out, "error:        {e}")?;
    }
    Ok(())
}

/// A verdict as JSON: `{"verdict": "keep"|"drop", "drop_rule", "content_type", "tags",
/// "attributes", "fired", "errors"}`.
pub(crate) fn verdict_json(v: &Verdict) -> Value {
    json!({
        "verdict": if v.drop.is_some() { "drop" } else { "keep" },
        "drop_rule": v.drop,
        "content_type": v.content_type(),
        "tags": v.tags,
        "attributes": v.attributes,
        "fired": v.fired,
        "errors": v.errors,
    })
}

/// Torrent facts from JSON: `{"name": "...", "files": [{"path": "...", "size": 123}],
/// "private": false, "file_count": 2}`; `files`, `private` and `file_count` are optional
/// (`file_count` defaults to the number of files, the total size to their sum).
pub(crate) fn facts_from_json(text: &str) -> anyhow::Result<TorrentFacts> {
    let v: Value = serde_json::from_str(text).context("not JSON")?;
    let name = v["name"]
        .as_str()
        .ok_or_else(|| anyhow!("`name` (a string) is required"))?;
    let mut files = Vec::new();
    if let Some(list) = v.get("files") {
        let list = list
            .as_array()
            .ok_or_else(|| anyhow!("`files` must be a list"))?;
        for (i, f) in list.iter().enumerate() {
            let path = f["path"]
                .as_str()
                .ok_or_else(|| anyhow!("files[{i}].path (a string) is required"))?;
            let size = f["size"]
                .as_u64()
                .ok_or_else(|| anyhow!("files[{i}].size (a non-negative integer) is required"))?;
            files.push((path.to_string(), size));
        }
    }
    let mut facts = TorrentFacts::new(name, files);
    if let Some(p) = v.get("private") {
        facts.private = p
            .as_bool()
            .ok_or_else(|| anyhow!("`private` must be true or false"))?;
    }
    if let Some(n) = v.get("file_count") {
        let n = n
            .as_u64()
            .ok_or_else(|| anyhow!("`file_count` must be a non-negative integer"))?;
        facts.file_count = n.max(facts.files.len() as u64);
    }
    Ok(facts)
}

/// Torrent facts from a `.torrent` file's bytes: the raw `info` dictionary is parsed with
/// [`peerwire::InfoDict::parse`].
pub(crate) fn facts_from_torrent(bytes: &[u8]) -> anyhow::Result<TorrentFacts> {
    let raw = raw_info_dict(bytes)?;
    let info = peerwire::InfoDict::parse(raw).map_err(|e| anyhow!("bad info dictionary: {e:?}"))?;
    Ok(facts_from_info(&info))
}

/// Torrent facts from a parsed info dictionary: the record the crawler would store
/// ([`crawler::to_record`], every file kept), as the rules see it ([`crawler::stages::facts_of`]).
pub(crate) fn facts_from_info(info: &peerwire::InfoDict) -> TorrentFacts {
    let record = crawler::to_record(InfoHash::default(), info, usize::MAX, 0, None, 0);
    crawler::stages::facts_of(&record)
}

/// The encoded bytes of the top-level `info` value of a `.torrent`.
fn raw_info_dict(bytes: &[u8]) -> anyhow::Result<&[u8]> {
    let top = bencode::decode(bytes).map_err(|e| anyhow!("not a bencoded torrent: {e:?}"))?;
    if top.as_dict().is_none() {
        bail!("not a torrent: the top level is not a dictionary");
    }
    // Walk the top-level entries to find the span of `info`'s value.
    let mut pos = 1; // after 'd'
    while pos < bytes.len() && bytes[pos] != b'e' {
        let (key, used) =
            bencode::decode_prefix(&bytes[pos..]).map_err(|e| anyhow!("bad torrent key: {e:?}"))?;
        pos += used;
        let (_, used) = bencode::decode_prefix(&bytes[pos..])
            .map_err(|e| anyhow!("bad torrent value: {e:?}"))?;
        if key.as_bytes() == Some(b"info") {
            return Ok(&bytes[pos..pos + used]);
        }
        pos += used;
    }
    bail!("not a torrent: no `info` dictionary")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torrent(info: &[u8]) -> Vec<u8> {
        let mut t = b"d8:announce9:udp://x:17:comment3:abc4:info".to_vec();
        t.extend_from_slice(info);
        t.extend_from_slice(b"e");
        t
    }

    #[test]
    fn a_torrent_file_is_classified() {
        let info = b"d5:filesld6:lengthi3000000000e4:pathl27:Movie.2019.1080p.BluRay.mkveed6:lengthi2000e4:pathl4:Subs7:eng.srteee4:name25:Movie.2019.1080p.BluRay-X12:piece lengthi262144e6:pieces0:e";
        let facts = facts_from_torrent(&torrent(info)).unwrap();
        assert_eq!(facts.name, "Movie.2019.1080p.BluRay-X");
        assert_eq!(facts.files[1], ("Subs/eng.srt".to_string(), 2000));
        assert_eq!(facts.total_size, 3_000_002_000);
        let rules = load(None).unwrap();
        let mut out = Vec::new();
        write_classify(&rules, &facts, true, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["content_type"], "movie");
        assert_eq!(v["verdict"], "keep");
        assert_eq!(v["attributes"]["year"], "2019");
        let mut out = Vec::new();
        write_classify(&rules, &facts, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content type: movie\n"), "{text}");
        assert!(text.contains("verdict:      keep\n"), "{text}");
    }

    #[test]
    fn not_a_torrent() {
        assert!(facts_from_torrent(b"i3e").is_err());
        assert!(facts_from_torrent(b"d3:fooi1ee").is_err());
        assert!(facts_from_torrent(b"garbage").is_err());
    }

    #[test]
    fn json_input() {
        let f = facts_from_json(
            r#"{"name": "Album (2020) [FLAC]", "files": [{"path": "01.flac", "size": 30000000}], "private": true}"#,
        )
        .unwrap();
        assert!(f.private);
        assert_eq!(f.file_count, 1);
        let v = verdict_json(&load(None).unwrap().classify(&f));
        assert_eq!(v["content_type"], "music");
        assert!(v["tags"].as_array().unwrap().contains(&json!("lossless")));
        assert!(facts_from_json(r#"{"files": []}"#).is_err());
        assert!(facts_from_json(r#"{"name": "x", "files": [{"path": 1}]}"#).is_err());
    }

    #[test]
    fn check_lists_the_merged_rules() {
        let mut out = Vec::new();
        write_check(&load(None).unwrap(), None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("  1. builtin-banned-keywords  [post_fetch, default]\n"),
            "{text}"
        );
        assert!(
            text.contains("movie-video  [post_fetch, default]"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("the defaults: OK"), "{text}");
    }
}
