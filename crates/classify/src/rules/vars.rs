//! The variables rules see: their names, types, stages and cost bounds ([`VARIABLES`]), and
//! their values, computed once per torrent in Rust ([`Derived`]) and turned into CEL values on
//! demand ([`PostVars`], [`PreVars`]).

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;

use super::{MAX_EXTS, MAX_FILES, PrefetchFacts, TorrentFacts, VarDoc};
use crate::attrs::{self, GROUPS, NameAttrs};

pub(super) const PRE: u8 = 1;
pub(super) const POST: u8 = 2;
pub(super) const RET: u8 = 4;
pub(super) const PR: u8 = POST | RET;

/// Size bound of a collection variable for the cost estimate (1 for scalars).
pub(super) const ELEMENT_SIZE: u64 = 4;

macro_rules! variables {
    ($( $id:ident = $name:literal : $ty:literal, $stages:expr, $bound:expr, $doc:literal; )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub(super) enum Var { $($id),* }
        pub(super) const VAR_COUNT: usize = [$($name),*].len();
        pub(super) const VAR_STAGES: [u8; VAR_COUNT] = [$($stages),*];
        pub(super) const VAR_BOUNDS: [u64; VAR_COUNT] = [$($bound),*];
        /// Every variable rules can use, with its type, stages and meaning.
        pub const VARIABLES: &[VarDoc] = &[$(VarDoc {
            name: $name,
            ty: $ty,
            stages: stage_names($stages),
            doc: $doc,
        }),*];
        pub(super) fn var_of(name: &str) -> Option<Var> {
            match name { $($name => Some(Var::$id),)* _ => None }
        }
    };
}

pub(super) const fn stage_names(bits: u8) -> &'static [&'static str] {
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
pub(super) const TYPE_IDENTS: &[&str] = &[
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

/// Everything computed in Rust once per torrent, from which CEL values are built on demand.
#[derive(Debug)]
pub(super) struct Derived<'a> {
    pub(super) facts: &'a TorrentFacts,
    pub(super) attrs: NameAttrs,
    /// (ext, bytes, files), largest bytes first, at most MAX_EXTS.
    pub(super) exts: Vec<(String, u64, u64)>,
    pub(super) largest_ext: String,
    pub(super) group_bytes: [u64; GROUPS.len()],
    pub(super) group_files: [u64; GROUPS.len()],
    pub(super) seeders: i64,
}

impl<'a> Derived<'a> {
    pub(super) fn new(facts: &'a TorrentFacts, seeders: Option<i64>) -> Self {
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

pub(super) type BoxVal = Box<dyn Val + 'static>;

pub(super) fn s(v: impl Into<String>) -> BoxVal {
    Box::new(CelString::from(v.into()))
}
pub(super) fn i(v: i64) -> BoxVal {
    Box::new(CelInt::from(v))
}
pub(super) fn u2i(v: u64) -> BoxVal {
    i(i64::try_from(v).unwrap_or(i64::MAX))
}
pub(super) fn b(v: bool) -> BoxVal {
    Box::new(CelBool::from(v))
}
pub(super) fn list(items: impl IntoIterator<Item = BoxVal>) -> BoxVal {
    Box::new(CelList::from(items.into_iter().collect::<Vec<_>>()))
}
pub(super) fn map(items: impl IntoIterator<Item = (String, BoxVal)>) -> BoxVal {
    let m: HashMap<CelMapKey<'static>, BoxVal> = items
        .into_iter()
        .map(|(k, v)| (CelMapKey::from(k), v))
        .collect();
    Box::new(CelMap::from(m))
}

/// The post-fetch and retention variables, built lazily from [`Derived`].
pub(super) struct PostVars<'a> {
    pub(super) d: &'a Derived<'a>,
    pub(super) vals: [OnceLock<BoxVal>; VAR_COUNT],
    pub(super) content_type: OnceLock<BoxVal>,
}

pub(super) static EMPTY_STRING: LazyLock<CelString<'static>> =
    LazyLock::new(|| CelString::from(String::new()));

impl<'a> PostVars<'a> {
    pub(super) fn new(d: &'a Derived<'a>) -> Self {
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
pub(super) struct PreVars {
    pub(super) vals: Vec<(Var, BoxVal)>,
}

impl PreVars {
    pub(super) fn new(p: &PrefetchFacts) -> Self {
        let opt = |x: Option<u32>| i(x.map_or(-1, i64::from));
        Self {
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
