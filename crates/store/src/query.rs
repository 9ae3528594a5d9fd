//! User search text to a backend-neutral query: an exact infohash, or words.
//!
//! Users type anything, including FTS5 syntax (`"`, `*`, `-`, `AND`, `NEAR(`, `:`). None of it
//! is passed through as syntax: the text is split on whitespace and every chunk becomes one
//! quoted phrase (inner `"` doubled; control characters count as whitespace), so `foo-bar` matches the adjacent words `foo bar` and
//! `AND` is just the word "and". Chunks without a letter or digit would tokenize to nothing and
//! are dropped; a query left with no chunk is [`Error::EmptyQuery`]. Phrases are ANDed.

use crate::{Error, InfoHash, Result};

/// At most this many words are searched; the rest of a long query is ignored.
pub const MAX_QUERY_WORDS: usize = 32;

/// What a user's search text asks for, as every backend's `search` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchQuery {
    /// The query was exactly 40 hex digits (surrounding whitespace ignored).
    InfoHash(InfoHash),
    /// Whitespace-separated chunks, each to be matched as a phrase; never empty.
    Words(Vec<String>),
}

impl SearchQuery {
    /// Parses what a user typed: exactly 40 hex digits is an infohash lookup, anything else is
    /// split into at most [`MAX_QUERY_WORDS`] words as the module docs describe. Fails with
    /// [`Error::EmptyQuery`] when no chunk has a letter or digit (a backend may still list by
    /// filter alone, as [`SqliteStore`](crate::SqliteStore) does).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Ok(hash) = text.parse::<InfoHash>() {
            return Ok(Self::InfoHash(hash));
        }
        let words: Vec<String> = text
            // Control characters (NUL ends an FTS5 string early) separate words like spaces.
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .take(MAX_QUERY_WORDS)
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Err(Error::EmptyQuery);
        }
        Ok(Self::Words(words))
    }
}

/// An FTS5 MATCH expression: each word a quoted phrase, implicitly ANDed.
pub(crate) fn fts5_match(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('"');
        out.push_str(&w.replace('"', "\"\""));
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_an_infohash_either_case() {
        let h = "0123456789abcdefABCDEF0123456789abcdef01";
        assert!(matches!(
            SearchQuery::parse(h),
            Ok(SearchQuery::InfoHash(_))
        ));
        assert!(matches!(
            SearchQuery::parse(&format!("  {h}\n")),
            Ok(SearchQuery::InfoHash(_))
        ));
        // 39 or 41 digits are words.
        assert!(matches!(
            SearchQuery::parse(&h[..39]),
            Ok(SearchQuery::Words(_))
        ));
    }

    #[test]
    fn syntax_is_quoted_not_interpreted() {
        let q = SearchQuery::parse(r#"a"b* -c AND ( NEAR(x y) - * ""#).unwrap();
        let SearchQuery::Words(w) = q else { panic!() };
        assert_eq!(w, ["a\"b*", "-c", "AND", "NEAR(x", "y)"]);
        assert_eq!(fts5_match(&w), r#""a""b*" "-c" "AND" "NEAR(x" "y)""#);
    }

    #[test]
    fn nothing_searchable_is_an_error() {
        for q in ["", "   ", "- * ( ) \"", "\u{3000}", "\0\x01"] {
            assert!(
                matches!(SearchQuery::parse(q), Err(Error::EmptyQuery)),
                "{q:?}"
            );
        }
    }

    #[test]
    fn long_queries_are_capped() {
        let q = vec!["w"; 100].join(" ");
        let SearchQuery::Words(w) = SearchQuery::parse(&q).unwrap() else {
            panic!()
        };
        assert_eq!(w.len(), MAX_QUERY_WORDS);
    }
}
