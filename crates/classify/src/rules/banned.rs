//! The built-in banned keywords: checked before any post-fetch rule, in the name and every
//! file path; a match drops the torrent (see [`super::BANNED_RULE`]).

use std::sync::LazyLock;

use regex::Regex;

use super::{MAX_FILES, TorrentFacts};

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
