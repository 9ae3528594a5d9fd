//! A search as the HTTP API, the web UI, Torznab and RSS ask for it: query syntax, filters,
//! ranges, a sort, and a page of bounded size with an opaque keyset cursor.
//!
//! [`Store::search_page`](crate::Store::search_page) answers it with a [`SearchPage`]: the
//! hits, the cursor of the next page, facet counts by content type and a total that may be an
//! estimate (it says so). Every backend bounds the work of one request (SQLite: the search
//! window of the most recent matches), so a page costs the same at a million torrents as at a
//! thousand.

use crate::{Hit, UnixSeconds};

/// Most hits one page may hold.
pub const MAX_PAGE: usize = 100;

/// What a page is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Best match first (without words: newest first).
    #[default]
    Relevance,
    /// Seeders (never scraped counts as fewest).
    Seeders,
    /// Total size.
    Size,
    /// File count.
    Files,
    /// First seen.
    FirstSeen,
    /// Last seen.
    LastSeen,
    /// Name (byte order).
    Name,
}

impl SortKey {
    /// Every key, as users spell them.
    pub const ALL: [(&'static str, Self); 7] = [
        ("relevance", Self::Relevance),
        ("seeders", Self::Seeders),
        ("size", Self::Size),
        ("files", Self::Files),
        ("first_seen", Self::FirstSeen),
        ("last_seen", Self::LastSeen),
        ("name", Self::Name),
    ];

    /// Parses a key as users spell it (`seeders`, `first_seen`, ...).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }

    /// The key as users spell it.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("relevance", |(n, _)| n)
    }

    /// The direction used when the request gives none: ascending for the name, descending
    /// (most, largest, newest, best first) for every other key.
    pub fn default_order(self) -> Order {
        match self {
            Self::Name => Order::Asc,
            _ => Order::Desc,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

impl Order {
    /// Parses `asc` or `desc`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }
}

/// One search, as [`Store::search_page`](crate::Store::search_page) takes it. The default is
/// "the newest torrents, one page of 20".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// What the user typed, in the query syntax of `docs/search.md` (`"exact phrase"`,
    /// `-exclude`, `a OR b`, `prefix*`; 40 hex digits: that infohash). Empty: no word
    /// condition (a listing by the other conditions).
    pub text: String,
    /// Only this content type.
    pub content_type: Option<String>,
    /// Only torrents carrying this tag.
    pub tag: Option<String>,
    /// Total size at least this many bytes.
    pub min_size: Option<u64>,
    /// Total size at most this many bytes.
    pub max_size: Option<u64>,
    /// At least this many seeders (excludes never-scraped torrents when above 0).
    pub min_seeders: Option<u32>,
    /// At least this many files.
    pub min_files: Option<u64>,
    /// At most this many files.
    pub max_files: Option<u64>,
    /// First seen at or after.
    pub since: Option<UnixSeconds>,
    /// First seen at or before.
    pub until: Option<UnixSeconds>,
    /// Order of the page.
    pub sort: SortKey,
    /// Direction; `None`: [`SortKey::default_order`].
    pub order: Option<Order>,
    /// Hits per page, 1 to [`MAX_PAGE`] (larger values are clamped).
    pub limit: usize,
    /// Where the page starts: the [`SearchPage::next_cursor`] of the previous page of the
    /// same request. Opaque; a cursor that does not parse is
    /// [`Error::BadCursor`](crate::Error::BadCursor).
    pub cursor: Option<String>,
    /// Whether to count [`SearchPage::facets`] and [`SearchPage::total`] (costs a bounded
    /// extra query; RSS and Torznab skip it).
    pub count: bool,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            text: String::new(),
            content_type: None,
            tag: None,
            min_size: None,
            max_size: None,
            min_seeders: None,
            min_files: None,
            max_files: None,
            since: None,
            until: None,
            sort: SortKey::Relevance,
            order: None,
            limit: 20,
            cursor: None,
            count: false,
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchPage {
    /// The hits, in the requested order.
    pub hits: Vec<Hit>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// How many torrents match (with [`SearchRequest::count`]; otherwise 0).
    pub total: u64,
    /// Whether [`total`](Self::total) and the facets are estimates (counted over a bounded
    /// window of the matches, or from statistics) rather than exact.
    pub estimated: bool,
    /// Matching torrents per content type (ignoring the request's own content type, so the
    /// facets offer the other types), most first; `None` counts the unclassified. Empty
    /// without [`SearchRequest::count`].
    pub facets: Vec<(Option<String>, u64)>,
}
