//! Search: query building, the windowed (broad) search, filters, listings ("Search at
//! scale" in the [module docs](super)).

use std::collections::HashSet;

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use super::read::read_tags;
use super::{SqliteStore, from_sql, hash_from_blob, limit_sql, opt_u32};
use crate::query::{SearchQuery, fts5_match};
use crate::{Error, Hit, InfoHash, Result, SearchFilter};

/// The columns a [`Hit`] is read from ([`read_hit`]), for a `torrents AS t` in the query.
const HIT_COLUMNS: &str = "t.id, t.info_hash, t.name, t.total_size, t.file_count, t.seeders, \
     t.leechers, t.last_seen, t.content_type, t.first_seen, t.scraped_at, t.attributes";

/// A row of [`HIT_COLUMNS`] followed by a score column, as the id and a hit without tags.
fn read_hit(r: &Row<'_>, score: impl FnOnce(Option<f64>) -> f64) -> rusqlite::Result<(i64, Hit)> {
    Ok((
        r.get(0)?,
        Hit {
            info_hash: hash_from_blob(r.get(1)?)?,
            name: r.get(2)?,
            total_size: from_sql(r.get(3)?),
            file_count: from_sql(r.get(4)?),
            seeders: opt_u32(r.get(5)?),
            leechers: opt_u32(r.get(6)?),
            last_seen: r.get(7)?,
            content_type: r.get(8)?,
            first_seen: r.get(9)?,
            scraped_at: r.get(10)?,
            attributes: parse_attributes(r.get(11)?),
            score: score(r.get(12)?),
            tags: Vec::new(),
        },
    ))
}

/// The attributes' JSON object (string values, keys sorted) as pairs; anything else: none.
fn parse_attributes(json: Option<String>) -> Vec<(String, String)> {
    let Some(json) = json else {
        return Vec::new();
    };
    match serde_json::from_str::<std::collections::BTreeMap<String, String>>(&json) {
        Ok(map) => map.into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// Runs a hit query: ids and hits without tags.
fn hit_rows(
    conn: &Connection,
    sql: &str,
    values: Vec<Value>,
    score: fn(Option<f64>) -> f64,
) -> Result<Vec<(i64, Hit)>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params_from_iter(values), |r| read_hit(r, score))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Fills in each hit's tags.
fn with_tags(conn: &Connection, rows: Vec<(i64, Hit)>) -> Result<Vec<Hit>> {
    let mut hits = Vec::with_capacity(rows.len());
    for (id, mut hit) in rows {
        hit.tags = read_tags(conn, id)?;
        hits.push(hit);
    }
    Ok(hits)
}

/// A word search ranked by bm25: the SQL (hit columns, then the rank) and its parameters.
///
/// `rank` is bm25 with the name weighted 10x the paths (configured in the migration); lower
/// is better. Unfiltered: rank and cut inside FTS5, then join the few survivors. Filtered:
/// rank every match, keep those that pass, cut.
fn words_query(words: &[String], filter: &SearchFilter, limit: Value) -> (String, Vec<Value>) {
    let mut values = vec![Value::Text(fts5_match(words))];
    let sql = if filter.is_empty() {
        values.push(limit);
        format!(
            "SELECT {HIT_COLUMNS}, m.rank \
             FROM (SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ? \
                   ORDER BY rank LIMIT ?) AS m \
             JOIN torrents AS t ON t.id = m.rowid \
             ORDER BY m.rank, coalesce(t.seeders, -1) DESC, t.id"
        )
    } else {
        let mut sql = format!(
            "SELECT {HIT_COLUMNS}, m.rank \
             FROM (SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ?) AS m \
             JOIN torrents AS t ON t.id = m.rowid WHERE 1"
        );
        filter_sql(filter, &mut sql, &mut values);
        sql.push_str(" ORDER BY m.rank, coalesce(t.seeders, -1) DESC, t.id LIMIT ?");
        values.push(limit);
        sql
    };
    (sql, values)
}

/// Appends the filter's conditions on `torrents AS t` (and their values).
fn filter_sql(filter: &SearchFilter, sql: &mut String, values: &mut Vec<Value>) {
    if let Some(ct) = &filter.content_type {
        sql.push_str(" AND t.content_type = ?");
        values.push(Value::Text(ct.clone()));
    }
    if let Some(tag) = &filter.tag {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM torrent_tags AS g \
             WHERE g.torrent_id = t.id AND g.tag = ?)",
        );
        values.push(Value::Text(tag.clone()));
    }
}

/// How many torrents an FTS5 expression matches, counted up to a bound (`?2`): a cost
/// proportional to the bound, however common the words.
const COUNT_UP_TO: &str = "SELECT count(*) FROM \
     (SELECT 1 FROM torrents_fts WHERE torrents_fts MATCH ?1 LIMIT ?2)";

/// The newest `?2` torrents an FTS5 expression matches, newest first.
const NEWEST_MATCHES: &str = "SELECT rowid FROM torrents_fts WHERE torrents_fts MATCH ?1 \
     ORDER BY rowid DESC LIMIT ?2";

/// One tier of a broad search: those of `ids` that pass the filter, most seeders first
/// (unmeasured last), then newest, as hits scored `score`.
fn broad_rows(
    conn: &Connection,
    ids: &[i64],
    filter: &SearchFilter,
    limit: usize,
    score: f64,
) -> Result<Vec<(i64, Hit)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The ids travel as one JSON array: no statement per id, no temporary table.
    let mut json = String::with_capacity(ids.len() * 8);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    let (sql, values) = broad_rows_query(json, filter, limit);
    let mut rows = hit_rows(conn, &sql, values, |_| 0.0)?;
    for (_, hit) in &mut rows {
        hit.score = score;
    }
    Ok(rows)
}

/// [`broad_rows`]' SQL and parameters, for `ids` as a JSON array.
fn broad_rows_query(ids: String, filter: &SearchFilter, limit: usize) -> (String, Vec<Value>) {
    let mut values = vec![Value::Text(ids)];
    // CROSS JOIN keeps this order: the ids drive, each torrent is found by primary key (left
    // to itself the planner may walk a filter's index over the whole table instead).
    let mut sql = format!(
        "SELECT {HIT_COLUMNS}, NULL FROM json_each(?) AS j \
         CROSS JOIN torrents AS t ON t.id = j.value WHERE 1"
    );
    filter_sql(filter, &mut sql, &mut values);
    sql.push_str(" ORDER BY coalesce(t.seeders, -1) DESC, t.id DESC LIMIT ?");
    values.push(Value::Integer(limit_sql(limit)));
    (sql, values)
}

/// Score of a broad search's hits whose every word is in the name.
pub const BROAD_NAME_SCORE: f64 = 2.0;
/// Score of a broad search's other hits (some word only in file paths).
pub const BROAD_PATHS_SCORE: f64 = 1.0;

/// A listing without words, newest (highest id) first, walking the filter's index backwards:
/// the SQL (hit columns, then a NULL score) and its parameters. `filter` is not empty.
fn listing_query(filter: &SearchFilter, limit: Value) -> (String, Vec<Value>) {
    let mut values = Vec::new();
    let sql = match (&filter.tag, &filter.content_type) {
        (Some(tag), content_type) => {
            values.push(Value::Text(tag.clone()));
            let mut sql = format!(
                "SELECT {HIT_COLUMNS}, NULL FROM torrent_tags AS g \
                 JOIN torrents AS t ON t.id = g.torrent_id WHERE g.tag = ?"
            );
            if let Some(ct) = content_type {
                sql.push_str(" AND t.content_type = ?");
                values.push(Value::Text(ct.clone()));
            }
            sql.push_str(" ORDER BY g.torrent_id DESC LIMIT ?");
            sql
        }
        (None, content_type) => {
            // An empty filter never gets here; if it did, it would list everything.
            values.extend(content_type.clone().map(Value::Text));
            format!(
                "SELECT {HIT_COLUMNS}, NULL FROM torrents AS t WHERE {} \
                 ORDER BY t.id DESC LIMIT ?",
                if content_type.is_some() {
                    "t.content_type = ?"
                } else {
                    "1"
                }
            )
        }
    };
    values.push(limit);
    (sql, values)
}

impl SqliteStore {
    /// Runs a hit query and fills in each hit's tags.
    fn hits(
        &self,
        sql: &str,
        values: Vec<Value>,
        score: fn(Option<f64>) -> f64,
    ) -> Result<Vec<Hit>> {
        let tx = self.conn.unchecked_transaction()?;
        let rows = hit_rows(&tx, sql, values, score)?;
        let hits = with_tags(&tx, rows)?;
        tx.commit()?;
        Ok(hits)
    }

    /// A word search (see "Search at scale" in the module docs).
    fn search_words(
        &self,
        words: &[String],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let tx = self.conn.unchecked_transaction()?;
        let window = self.search_window;
        // Each word's number of torrents, counted up to one past the window.
        let mut counts: Vec<(String, i64)> = Vec::with_capacity(words.len());
        for word in words {
            let phrase = fts5_match(std::slice::from_ref(word));
            if counts.iter().any(|(p, _)| *p == phrase) {
                continue;
            }
            let n = tx
                .prepare_cached(COUNT_UP_TO)?
                .query_row(params![phrase, window + 1], |r| r.get(0))?;
            counts.push((phrase, n));
        }
        let rows = if counts.iter().all(|(_, n)| *n <= window) {
            // Selective: bm25 over every match (at most the window of them).
            let (sql, values) = words_query(words, filter, Value::Integer(limit_sql(limit)));
            hit_rows(&tx, &sql, values, |rank| -rank.unwrap_or(0.0))?
        } else {
            // Broad: the newest `window` torrents with every word in the name (all of them
            // if there are fewer), most seeded first; if they are not enough, then the other
            // matches among the newest `window`, likewise.
            let all = fts5_match(words);
            let names: Vec<i64> = tx
                .prepare_cached(NEWEST_MATCHES)?
                .query_map(params![format!("name : ({all})"), window], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut rows = broad_rows(&tx, &names, filter, limit, BROAD_NAME_SCORE)?;
            if rows.len() < limit {
                let in_name: HashSet<i64> = names.into_iter().collect();
                let paths: Vec<i64> = tx
                    .prepare_cached(NEWEST_MATCHES)?
                    .query_map(params![all, window], |r| r.get(0))?
                    .filter(|id| id.as_ref().map_or(true, |id| !in_name.contains(id)))
                    .collect::<rusqlite::Result<_>>()?;
                let rest = broad_rows(&tx, &paths, filter, limit - rows.len(), BROAD_PATHS_SCORE)?;
                rows.extend(rest);
            }
            rows
        };
        let hits = with_tags(&tx, rows)?;
        tx.commit()?;
        Ok(hits)
    }

    fn hit_by_hash(&self, hash: &InfoHash, filter: &SearchFilter) -> Result<Vec<Hit>> {
        let mut hits = self.hits(
            &format!("SELECT {HIT_COLUMNS}, NULL FROM torrents AS t WHERE t.info_hash = ?1"),
            vec![Value::Blob(hash.as_bytes().to_vec())],
            |_| f64::INFINITY,
        )?;
        hits.retain(|h| {
            filter
                .content_type
                .as_ref()
                .is_none_or(|ct| h.content_type.as_ref() == Some(ct))
                && filter.tag.as_ref().is_none_or(|tag| h.tags.contains(tag))
        });
        Ok(hits)
    }
}

pub(super) fn search_filtered(
    s: &SqliteStore,
    query: &str,
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Hit>> {
    let words = match SearchQuery::parse(query) {
        Ok(SearchQuery::InfoHash(h)) => return s.hit_by_hash(&h, filter),
        Ok(SearchQuery::Words(w)) => Some(w),
        Err(Error::EmptyQuery) if !filter.is_empty() => None,
        Err(e) => return Err(e),
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    match words {
        Some(words) => s.search_words(&words, filter, limit),
        None => {
            let (sql, values) = listing_query(filter, Value::Integer(limit_sql(limit)));
            s.hits(&sql, values, |_| 0.0)
        }
    }
}

/// INTERIM (replaced by the windowed keyset implementation): the old search, filtered and
/// sorted in memory over at most the search window, paged by offset.
pub(super) fn search_page(
    s: &SqliteStore,
    req: &crate::SearchRequest,
) -> Result<crate::SearchPage> {
    use crate::{Order, SortKey};
    let offset: usize = match &req.cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("o")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::BadCursor(c.clone()))?,
    };
    let filter = SearchFilter {
        content_type: req.content_type.clone(),
        tag: req.tag.clone(),
    };
    let window = s.search_window as usize;
    let mut hits = if req.text.trim().is_empty() {
        let (sql, values) = if filter.is_empty() {
            (
                format!("SELECT {HIT_COLUMNS}, NULL FROM torrents AS t ORDER BY t.id DESC LIMIT ?"),
                vec![Value::Integer(limit_sql(window))],
            )
        } else {
            listing_query(&filter, Value::Integer(limit_sql(window)))
        };
        s.hits(&sql, values, |_| 0.0)?
    } else {
        search_filtered(s, &req.text, &filter, window)?
    };
    hits.retain(|h| {
        req.min_size.is_none_or(|v| h.total_size >= v)
            && req.max_size.is_none_or(|v| h.total_size <= v)
            && req
                .min_seeders
                .is_none_or(|v| v == 0 || h.seeders.unwrap_or(0) >= v)
            && req.min_files.is_none_or(|v| h.file_count >= v)
            && req.max_files.is_none_or(|v| h.file_count <= v)
            && req.since.is_none_or(|v| h.first_seen >= v)
            && req.until.is_none_or(|v| h.first_seen <= v)
    });
    let order = req.order.unwrap_or(req.sort.default_order());
    if req.sort != SortKey::Relevance || order == Order::Asc {
        hits.sort_by(|a, b| {
            let o = match req.sort {
                SortKey::Relevance => a.score.total_cmp(&b.score),
                SortKey::Seeders => a.seeders.cmp(&b.seeders),
                SortKey::Size => a.total_size.cmp(&b.total_size),
                SortKey::Files => a.file_count.cmp(&b.file_count),
                SortKey::FirstSeen => a.first_seen.cmp(&b.first_seen),
                SortKey::LastSeen => a.last_seen.cmp(&b.last_seen),
                SortKey::Name => a.name.cmp(&b.name),
            };
            if order == Order::Asc { o } else { o.reverse() }
        });
    }
    let total = hits.len() as u64;
    let mut facets: Vec<(Option<String>, u64)> = Vec::new();
    if req.count {
        for h in &hits {
            match facets.iter_mut().find(|(t, _)| *t == h.content_type) {
                Some((_, n)) => *n += 1,
                None => facets.push((h.content_type.clone(), 1)),
            }
        }
        facets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    let limit = req.limit.clamp(1, crate::MAX_PAGE);
    let page: Vec<Hit> = hits.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    Ok(crate::SearchPage {
        next_cursor: (page.len() == limit && (next as u64) < total).then(|| format!("o{next}")),
        hits: page,
        total: if req.count { total } else { 0 },
        estimated: total as usize >= window,
        facets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::read::{HASHES_AFTER, reclassify_sql};

    /// `EXPLAIN QUERY PLAN` of `sql`, one detail line per step.
    fn plan(store: &SqliteStore, sql: &str) -> String {
        let params = store.conn.prepare(sql).unwrap().parameter_count();
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt
            .query_map(params_from_iter(vec![Value::Null; params]), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    /// The classification and listing queries walk an index, never the whole table or a
    /// sort of it: they run on millions of rows. (Eviction scans on purpose, once per call.)
    #[test]
    fn queries_use_their_indexes() {
        let store = SqliteStore::open_in_memory().unwrap();
        let limit = Value::Integer(10);
        let by_tag = filter(None, Some("hd"));
        let by_both = filter(Some("movie"), Some("hd"));
        let by_type = filter(Some("movie"), None);
        for (what, sql, want) in [
            (
                "reclassify",
                reclassify_sql(),
                "sqlite_autoindex_torrents_1 (info_hash>?)",
            ),
            (
                "hashes_after",
                HASHES_AFTER.to_owned(),
                "sqlite_autoindex_torrents_1 (info_hash>?)",
            ),
            (
                "list by tag",
                listing_query(&by_tag, limit.clone()).0,
                "torrent_tags_tag (tag=?)",
            ),
            (
                "list by both",
                listing_query(&by_both, limit.clone()).0,
                "torrent_tags_tag (tag=?)",
            ),
            (
                "list by type",
                listing_query(&by_type, limit.clone()).0,
                "torrents_content_type (content_type=?)",
            ),
        ] {
            let p = plan(&store, &sql);
            assert!(p.contains(want), "{what}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{what} sorts: {p}");
        }
        let words = ["ubuntu".to_owned()];
        let p = plan(&store, &words_query(&words, &by_both, limit).0);
        // FTS5 drives; torrents are looked up by id.
        assert!(
            p.starts_with("SCAN torrents_fts VIRTUAL TABLE INDEX"),
            "{p}"
        );
        assert!(p.contains("SEARCH t USING INTEGER PRIMARY KEY"), "{p}");
    }

    /// The broad search's statements: FTS5 walks its doclists newest first (no sort), the
    /// ids drive the torrent lookups by primary key.
    #[test]
    fn broad_search_plans() {
        let store = SqliteStore::open_in_memory().unwrap();
        let p = plan(&store, NEWEST_MATCHES);
        assert!(
            p.starts_with("SCAN torrents_fts VIRTUAL TABLE INDEX"),
            "{p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(&store, COUNT_UP_TO);
        assert!(p.contains("SCAN torrents_fts VIRTUAL TABLE INDEX"), "{p}");
        for f in [filter(None, None), filter(Some("movie"), Some("hd"))] {
            let p = plan(&store, &broad_rows_query("[1]".into(), &f, 20).0);
            assert!(p.starts_with("SCAN j VIRTUAL TABLE"), "{p}");
            assert!(p.contains("SEARCH t USING INTEGER PRIMARY KEY"), "{p}");
        }
    }

    fn filter(content_type: Option<&str>, tag: Option<&str>) -> SearchFilter {
        SearchFilter {
            content_type: content_type.map(str::to_owned),
            tag: tag.map(str::to_owned),
        }
    }
}
