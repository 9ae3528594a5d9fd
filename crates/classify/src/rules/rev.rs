//! The revision of a rule set: what `classified_rev` records on every classified torrent, so
//! `bitagent reclassify` finds the torrents the current rules have not seen.
//!
//! It is the SHA-256 of the set's [canonical text](RuleSet::canonical_text), which holds what
//! decides a verdict (each rule's name, stage, enabled flag, expressions and actions, in
//! evaluation order, and the built-in banned keywords) and nothing else: two loads of the
//! same files give the same revision on any toolchain, a changed rule changes it, and moving
//! or re-indenting a file (its name and line numbers) does not.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

use super::{BANNED_KEYWORDS, RuleSet};

/// First line of the canonical text: a new format of the text gets a new version here.
const FORMAT: &str = "bitagent-rules 1";

impl RuleSet {
    /// The rules as one deterministic text, one `key value` per line: `FORMAT`, the banned
    /// keywords, then per rule in evaluation order `rule`, `stage`, `enabled`, `when`, `drop`,
    /// `set_content_type` (if set), `add_tag` per tag, `set attribute expression` per
    /// attribute. Expressions are kept verbatim, with `\`, newline and carriage return escaped
    /// so every field stays on its line.
    pub fn canonical_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "{FORMAT}");
        for w in BANNED_KEYWORDS {
            let _ = writeln!(t, "banned {}", escape(w));
        }
        for r in &self.rules {
            let _ = writeln!(t, "rule {}", escape(&r.name));
            let _ = writeln!(t, "stage {}", r.stage);
            let _ = writeln!(t, "enabled {}", r.enabled);
            let _ = writeln!(t, "when {}", escape(&r.when_src));
            let _ = writeln!(t, "drop {}", r.drop);
            if let Some(ct) = &r.content_type {
                let _ = writeln!(t, "set_content_type {}", escape(ct));
            }
            for tag in &r.tags {
                let _ = writeln!(t, "add_tag {}", escape(tag));
            }
            for (k, src, _) in &r.set {
                let _ = writeln!(t, "set {} {}", escape(k), escape(src));
            }
        }
        t
    }

    /// The revision: the first 16 hex digits of the SHA-256 of [`RuleSet::canonical_text`].
    pub fn rev(&self) -> String {
        let digest = Sha256::digest(self.canonical_text().as_bytes());
        digest[..8]
            .iter()
            .fold(String::with_capacity(16), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}
