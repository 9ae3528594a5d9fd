//! The search functions (`t=search|tvsearch|movie|music|book`): parameters, filters, and
//! offset paging over the store's keyset pages.

use std::collections::VecDeque;

use store::{Hit, MAX_PAGE, SearchRequest, SortKey, Store};

use super::categories::CatFilter;
use super::{DEFAULT_LIMIT, MAX_DEPTH, MAX_LIMIT, MAX_SCAN_PAGES, TorznabError};
use crate::params::{MAX_Q_BYTES, last, parse_int};

/// An episode filter: a number, or a date for daily shows (`season=YYYY&ep=MM/DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Episode {
    /// `ep=N`: the torrent's `episode` attribute.
    Number(u32),
    /// `season=YYYY&ep=MM/DD`: the name holds the date (`2024.03.15`, `2024-03-15`, ...).
    Date { year: u32, month: u32, day: u32 },
}

/// A search as a Torznab client asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Search {
    /// The words: `q`, plus `artist`/`album` (music) or `author`/`title` (books).
    pub(crate) text: String,
    /// `cat=`; `None`: every category.
    pub(crate) cats: Option<CatFilter>,
    /// A year ending the words (Radarr sends `q=Title 2008`): searched without it, and a
    /// torrent must have this `year` attribute, no year attribute, or the number among its
    /// name's words (`Blade Runner 2049`).
    pub(crate) year: Option<u32>,
    /// `season=` (not in the daily form).
    pub(crate) season: Option<u32>,
    /// `ep=`.
    pub(crate) episode: Option<Episode>,
    /// Only ids we do not have (`imdbid`, `tmdbid`, `tvdbid`, ...) and no words: nothing can
    /// match.
    pub(crate) ids_only: bool,
    /// Items to skip.
    pub(crate) offset: usize,
    /// Items to return.
    pub(crate) limit: usize,
}

/// Id parameters we accept and ignore (we have no such ids).
const ID_PARAMS: &[&str] = &["imdbid", "tmdbid", "tvdbid", "rid", "tvmazeid", "traktid"];

fn nonempty<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    last(pairs, key).map(str::trim).filter(|v| !v.is_empty())
}

impl Search {
    /// Parses a search's parameters; a bad one is error 201 naming it.
    pub(crate) fn parse(pairs: &[(String, String)], function: &str) -> Result<Self, TorznabError> {
        let mut words: Vec<&str> = nonempty(pairs, "q").into_iter().collect();
        let extra: &[&str] = match function {
            "music" => &["artist", "album"],
            "book" => &["author", "title"],
            _ => &[],
        };
        words.extend(extra.iter().filter_map(|k| nonempty(pairs, k)));
        let mut text = words.join(" ");
        if text.len() > MAX_Q_BYTES {
            return Err(TorznabError::invalid(
                "q",
                format!("longer than {MAX_Q_BYTES} bytes"),
            ));
        }
        let year = trailing_year(&text).map(|(rest, y)| (rest.len(), y));
        if let Some((len, _)) = year {
            text.truncate(len);
        }
        let year = year.map(|(_, y)| y);
        let cats = match nonempty(pairs, "cat") {
            Some(v) => CatFilter::parse(v).map_err(|e| TorznabError::invalid("cat", e))?,
            None => None,
        };
        let ids_only = text.is_empty() && ID_PARAMS.iter().any(|k| nonempty(pairs, k).is_some());
        let season_raw = nonempty(pairs, "season");
        let ep_raw = nonempty(pairs, "ep");
        let (mut season, mut episode) = (None, None);
        if let Some(ep) = ep_raw.filter(|e| e.contains('/')) {
            let bad = || TorznabError::invalid("ep", "a number, or MM/DD with season=YYYY");
            let (m, d) = ep.split_once('/').ok_or_else(bad)?;
            let (month, day): (u32, u32) = (
                m.trim().parse().map_err(|_| bad())?,
                d.trim().parse().map_err(|_| bad())?,
            );
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                return Err(bad());
            }
            let year: u32 = season_raw
                .ok_or_else(|| {
                    TorznabError::missing("season", "the daily form ep=MM/DD needs season=YYYY")
                })?
                .parse()
                .ok()
                .filter(|y| (1900..=2999).contains(y))
                .ok_or_else(|| TorznabError::invalid("season", "a year (YYYY) with ep=MM/DD"))?;
            episode = Some(Episode::Date { year, month, day });
        } else {
            if let Some(s) = season_raw {
                season = Some(season_number(s).map_err(|e| TorznabError::invalid("season", e))?);
            }
            if let Some(e) = ep_raw {
                let n = season_number(e).map_err(|e| TorznabError::invalid("ep", e))?;
                episode = Some(Episode::Number(n));
            }
        }
        let limit = match nonempty(pairs, "limit") {
            None => DEFAULT_LIMIT,
            Some(v) => {
                let l: usize = parse_int(v).map_err(|e| TorznabError::invalid("limit", e))?;
                if l == 0 {
                    return Err(TorznabError::invalid("limit", format!("1 to {MAX_LIMIT}")));
                }
                l.min(MAX_LIMIT)
            }
        };
        let offset = match nonempty(pairs, "offset") {
            None => 0,
            Some(v) => parse_int(v).map_err(|e| TorznabError::invalid("offset", e))?,
        };
        Ok(Self {
            text,
            year,
            cats,
            season,
            episode,
            ids_only,
            offset,
            limit,
        })
    }

    /// Whether a torrent passes the filters the store does not apply.
    fn matches(&self, hit: &Hit) -> bool {
        if self.cats.as_ref().is_some_and(|c| !c.matches(hit)) {
            return false;
        }
        if let Some(y) = self.year {
            let attr = crate::rss::number_attr(hit, "year");
            if attr.is_some_and(|a| a != y) && !has_word(&hit.name, y) {
                return false;
            }
        }
        if self
            .season
            .is_some_and(|s| crate::rss::number_attr(hit, "season") != Some(s))
        {
            return false;
        }
        match self.episode {
            None => true,
            Some(Episode::Number(n)) => crate::rss::number_attr(hit, "episode") == Some(n),
            Some(Episode::Date { year, month, day }) => has_date(&hit.name, year, month, day),
        }
    }

    /// The page asked for: walks the store's pages (100 hits each, at most
    /// [`MAX_SCAN_PAGES`] in all) through the filters, skips `offset` matches and keeps
    /// `limit`. Items past [`MAX_DEPTH`] are never returned.
    ///
    /// Categories of one or several content types are searched one content type at a time
    /// (the store filters, so a rare type is not drowned by common ones) and merged in the
    /// answer's order; with Other (which is many content types) or no `cat`, one unfiltered
    /// search is filtered here.
    pub(crate) fn run(&self, store: &dyn Store) -> store::Result<Vec<Hit>> {
        if self.ids_only || self.offset >= MAX_DEPTH {
            return Ok(Vec::new());
        }
        let want = self.limit.min(MAX_DEPTH - self.offset);
        // No words: the newest first (what the clients' test and RSS sync expect).
        let newest = self.text.trim().is_empty();
        let base = SearchRequest {
            text: self.text.clone(),
            limit: MAX_PAGE,
            sort: if newest {
                SortKey::FirstSeen
            } else {
                SortKey::Relevance
            },
            ..SearchRequest::default()
        };
        let types: Vec<Option<&str>> = match &self.cats {
            None => vec![None],
            Some(c) => {
                let classes = c.classes();
                if classes.is_empty() {
                    return Ok(Vec::new());
                }
                let types: Option<Vec<&str>> = classes.iter().map(|c| c.content_type()).collect();
                types.map_or_else(|| vec![None], |t| t.into_iter().map(Some).collect())
            }
        };
        let mut streams: Vec<Stream> = types
            .into_iter()
            .map(|t| Stream {
                req: SearchRequest {
                    content_type: t.map(str::to_owned),
                    ..base.clone()
                },
                buf: VecDeque::new(),
                done: false,
            })
            .collect();
        let mut budget = MAX_SCAN_PAGES;
        let mut skip = self.offset;
        let mut out = Vec::with_capacity(want);
        while out.len() < want {
            for s in &mut streams {
                s.fill(store, self, &mut budget)?;
            }
            // A stream cut short by the budget would come out of order: stop there.
            if streams.iter().any(|s| s.buf.is_empty() && !s.done) {
                break;
            }
            let best = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.buf.front().map(|h| (i, h)))
                .max_by(|(_, a), (_, b)| {
                    if newest {
                        a.first_seen.cmp(&b.first_seen)
                    } else {
                        a.score.total_cmp(&b.score)
                    }
                    // Ties: the earlier stream first.
                    .then(std::cmp::Ordering::Greater)
                })
                .map(|(i, _)| i);
            let Some(hit) = best.and_then(|i| streams[i].buf.pop_front()) else {
                break;
            };
            if skip > 0 {
                skip -= 1;
            } else {
                out.push(hit);
            }
        }
        Ok(out)
    }
}

/// One content type's pages, filtered, waiting to be merged.
struct Stream {
    req: SearchRequest,
    buf: VecDeque<Hit>,
    done: bool,
}

impl Stream {
    /// Reads pages until a match is waiting, the store has no more, or the budget is spent.
    fn fill(
        &mut self,
        store: &dyn Store,
        search: &Search,
        budget: &mut usize,
    ) -> store::Result<()> {
        while self.buf.is_empty() && !self.done && *budget > 0 {
            *budget -= 1;
            let page = store.search_page(&self.req)?;
            self.buf
                .extend(page.hits.into_iter().filter(|h| search.matches(h)));
            match page.next_cursor {
                Some(c) => self.req.cursor = Some(c),
                None => self.done = true,
            }
        }
        Ok(())
    }
}

/// A season or episode number: digits, optionally after `S`/`E` (`1`, `01`, `S01`).
fn season_number(v: &str) -> Result<u32, String> {
    let digits = v.trim_start_matches(['s', 'S', 'e', 'E']);
    digits
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= 100_000)
        .ok_or_else(|| format!("{v:?} is not a season or episode number"))
}

/// `text` without its last word when that word is a year (1900–2099) and others precede
/// it, and the year.
fn trailing_year(text: &str) -> Option<(&str, u32)> {
    let trimmed = text.trim_end();
    let (rest, last) = trimmed.rsplit_once(char::is_whitespace)?;
    let year: u32 = last.parse().ok().filter(|y| (1900..=2099).contains(y))?;
    let rest = rest.trim_end();
    // Not when it is part of the query syntax (`a OR 2008`, `"... 2008"`).
    let syntax = rest.ends_with(" OR") || rest == "OR" || text.contains('"');
    (last.len() == 4 && !rest.is_empty() && !syntax).then_some((rest, year))
}

/// Whether the number is one of the name's words.
fn has_word(name: &str, n: u32) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| !w.is_empty() && w.parse::<u32>().ok() == Some(n))
}

/// Whether the name's words hold the date as year, month, day in a row (`2024.03.15`,
/// `2024-03-15`, `2024 03 15`).
fn has_date(name: &str, year: u32, month: u32, day: u32) -> bool {
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let num = |w: &str| w.parse::<u32>().ok();
    words.windows(3).any(|w| {
        w[0].len() == 4
            && num(w[0]) == Some(year)
            && num(w[1]) == Some(month)
            && num(w[2]) == Some(day)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn parameters() {
        let s = Search::parse(
            &pairs(&[
                ("q", "Show"),
                ("season", "2"),
                ("ep", "03"),
                ("limit", "500"),
            ]),
            "tvsearch",
        )
        .unwrap();
        assert_eq!(
            (s.season, s.episode, s.limit, s.offset),
            (Some(2), Some(Episode::Number(3)), MAX_LIMIT, 0)
        );
        let d = Search::parse(&pairs(&[("season", "2024"), ("ep", "03/15")]), "tvsearch").unwrap();
        assert_eq!(
            (d.season, d.episode),
            (
                None,
                Some(Episode::Date {
                    year: 2024,
                    month: 3,
                    day: 15
                })
            )
        );
        let y = Search::parse(&pairs(&[("q", "Blade Runner 2049 2017")]), "movie").unwrap();
        assert_eq!((y.text.as_str(), y.year), ("Blade Runner 2049", Some(2017)));
        for q in [
            "2012",
            "Show 12345",
            "Show 1800",
            "Show 2008x",
            "Show OR 2008",
            "\"Show 2008\"",
        ] {
            let s = Search::parse(&pairs(&[("q", q)]), "search").unwrap();
            assert_eq!((s.text.as_str(), s.year), (q, None), "{q}");
        }
        let m = Search::parse(&pairs(&[("artist", "Miles"), ("album", "Kind")]), "music").unwrap();
        assert_eq!(m.text, "Miles Kind");
        assert!(
            Search::parse(&pairs(&[("imdbid", "tt0111161")]), "movie")
                .unwrap()
                .ids_only
        );
        assert!(
            !Search::parse(&pairs(&[("q", "x"), ("imdbid", "tt1")]), "movie")
                .unwrap()
                .ids_only
        );
        for (k, v) in [
            ("season", "one"),
            ("ep", "x"),
            ("ep", "13/01"),
            ("limit", "0"),
            ("limit", "-5"),
            ("offset", "many"),
            ("cat", "tv"),
        ] {
            let e = Search::parse(&pairs(&[("season", "2024"), (k, v)]), "tvsearch").unwrap_err();
            assert_eq!((e.code, e.param.as_deref()), (201, Some(k)), "{k}={v}");
        }
        let e = Search::parse(&pairs(&[("ep", "03/15")]), "tvsearch").unwrap_err();
        assert_eq!((e.code, e.param.as_deref()), (200, Some("season")));
    }

    #[test]
    fn dates_in_names() {
        assert!(has_date("Show.2024.03.15.720p", 2024, 3, 15));
        assert!(has_date("Show 2024-03-15 [x]", 2024, 3, 15));
        assert!(!has_date("Show.2024.03.16", 2024, 3, 15));
        assert!(
            !has_date("Show.24.03.15", 24, 3, 15),
            "a year has four digits"
        );
    }
}
