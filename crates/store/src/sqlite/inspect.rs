//! Inspection: counts, sizes and consistency checks (`bitagent stats`, `/healthz`).

use rusqlite::OptionalExtension;

use super::{SqliteStore, from_sql};
use crate::{Error, Result, StoreStats, TableSize};

/// The full-text index's statistics row: FTS5 keeps the number of rows it indexes (a varint
/// at the start of the "averages" record, `id = 1` of its `_data` table) up to date in every
/// transaction that writes it, for bm25. Every stored torrent has exactly one index row, in
/// the same transaction ([`Store::integrity_check`](crate::Store::integrity_check) checks
/// both), so it is the torrent count, read with one primary-key lookup instead of a count
/// over a million-row index.
const INDEX_STATS: &str = "SELECT block FROM torrents_fts_data WHERE id = 1";

/// An SQLite varint (big-endian, 7 bits a byte with the high bit for "more"; the ninth byte
/// carries 8 bits), as FTS5 writes them.
fn sqlite_varint(bytes: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return Some((v << 8) | u64::from(b));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// [`Store::torrent_count`](crate::Store::torrent_count): the index's row count (see
/// [`INDEX_STATS`]); a count of the table if the statistics row is missing or unreadable
/// (an index never written).
pub(super) fn torrent_count(s: &SqliteStore) -> Result<u64> {
    let block: Option<Vec<u8>> = s
        .conn
        .prepare_cached(INDEX_STATS)?
        .query_row([], |r| r.get(0))
        .optional()?;
    match block.as_deref().and_then(sqlite_varint) {
        Some(n) => Ok(n),
        None => s.count("SELECT count(*) FROM torrents"),
    }
}

impl SqliteStore {
    pub(super) fn count(&self, sql: &str) -> Result<u64> {
        Ok(from_sql(self.conn.query_row(sql, [], |r| r.get(0))?))
    }

    pub(super) fn pragma_u64(&self, name: &str) -> Result<u64> {
        let v: i64 = self.conn.pragma_query_value(None, name, |r| r.get(0))?;
        Ok(from_sql(v))
    }

    /// Bytes in pages that hold data (free pages excluded).
    pub(super) fn used_bytes(&self) -> Result<u64> {
        let pages = self.pragma_u64("page_count")?;
        let free = self.pragma_u64("freelist_count")?;
        Ok(pages.saturating_sub(free) * self.pragma_u64("page_size")?)
    }

    /// Bytes on disk (main file and WAL), or all pages in memory.
    pub(super) fn file_bytes(&self) -> Result<u64> {
        Ok(match &self.path {
            Some(p) => {
                let main = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                main + self.wal_bytes()
            }
            None => self.pragma_u64("page_count")? * self.pragma_u64("page_size")?,
        })
    }

    pub(super) fn wal_bytes(&self) -> u64 {
        match &self.path {
            Some(p) => {
                let mut wal = p.clone().into_os_string();
                wal.push("-wal");
                std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
            }
            None => 0,
        }
    }
}

pub(super) fn stats(s: &SqliteStore) -> Result<StoreStats> {
    let tx = s.conn.unchecked_transaction()?;
    let (torrents, files_total, scraped, file_rows): (i64, i64, i64, i64) = tx.query_row(
        "SELECT count(*), coalesce(sum(file_count), 0), count(scraped_at), \
             coalesce(sum(stored_files), 0) \
         FROM torrents",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let file_rows = from_sql(file_rows);
    let blocked = s.count("SELECT count(*) FROM blocked")?;
    let page_count = s.pragma_u64("page_count")?;
    let page_size = s.pragma_u64("page_size")?;
    let free_pages = s.pragma_u64("freelist_count")?;
    tx.commit()?;
    Ok(StoreStats {
        torrents: from_sql(torrents),
        file_rows,
        files_total: from_sql(files_total),
        blocked,
        scraped: from_sql(scraped),
        schema_version: s.schema_version()?,
        db_bytes: page_count * page_size,
        wal_bytes: s.wal_bytes(),
        page_count,
        page_size,
        free_pages,
    })
}

pub(super) fn table_sizes(s: &SqliteStore) -> Result<Vec<TableSize>> {
    let mut stmt = s.conn.prepare(
        "SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE schema = 'main' \
         GROUP BY name ORDER BY bytes DESC, name",
    )?;
    let sizes = stmt
        .query_map([], |r| {
            Ok(TableSize {
                name: r.get(0)?,
                bytes: from_sql(r.get(1)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(sizes)
}

pub(super) fn integrity_check(s: &SqliteStore) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    {
        let mut stmt = s.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            let row = row?;
            if row != "ok" {
                problems.push(format!("integrity_check: {row}"));
            }
        }
    }
    {
        let mut stmt = s.conn.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |r| {
            Ok(format!(
                "foreign_key_check: {} row {:?} -> {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?
            ))
        })?;
        for row in rows {
            problems.push(row?);
        }
    }
    if let Err(e) = s.conn.execute(
        "INSERT INTO torrents_fts (torrents_fts) VALUES ('integrity-check')",
        [],
    ) {
        match e {
            rusqlite::Error::SqliteFailure(..) => problems.push(format!("fts: {e}")),
            e => return Err(Error::Sqlite(e)),
        }
    }
    let unindexed = s.count(
        "SELECT count(*) FROM torrents AS t \
         WHERE NOT EXISTS (SELECT 1 FROM torrents_fts_docsize AS d WHERE d.id = t.id)",
    )?;
    if unindexed > 0 {
        problems.push(format!("fts: {unindexed} torrents missing from the index"));
    }
    let orphans = s.count(
        "SELECT count(*) FROM torrents_fts_docsize AS d \
         WHERE NOT EXISTS (SELECT 1 FROM torrents AS t WHERE t.id = d.id)",
    )?;
    if orphans > 0 {
        problems.push(format!("fts: {orphans} index entries without a torrent"));
    }
    let bad_files = s.count(
        "SELECT count(*) FROM torrents AS t \
         LEFT JOIN torrent_files AS f ON f.torrent_id = t.id \
         WHERE t.stored_files IS NOT coalesce( \
             CASE WHEN json_valid(f.files) THEN json_array_length(f.files) END, \
             CASE WHEN f.files IS NULL THEN 0 END)",
    )?;
    if bad_files > 0 {
        problems.push(format!(
            "{bad_files} torrents whose stored files are missing, not a JSON array or \
             not as many as recorded"
        ));
    }
    let bad_attributes = s.count(
        "SELECT count(*) FROM torrents \
         WHERE attributes IS NOT NULL \
         AND CASE WHEN json_valid(attributes) THEN json_type(attributes) END IS NOT 'object'",
    )?;
    if bad_attributes > 0 {
        problems.push(format!(
            "{bad_attributes} torrents with attributes that are not a JSON object"
        ));
    }
    Ok(problems)
}

pub(super) fn counts_by_content_type(s: &SqliteStore) -> Result<Vec<(Option<String>, u64)>> {
    let counts = s
        .conn
        .prepare_cached(
            "SELECT content_type, count(*) AS n FROM torrents \
             GROUP BY content_type ORDER BY n DESC, content_type",
        )?
        .query_map([], |r| Ok((r.get(0)?, from_sql(r.get(1)?))))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(counts)
}

pub(super) fn pending_reclassify(s: &SqliteStore, rev: &str) -> Result<u64> {
    let n: i64 = s
        .conn
        .prepare_cached("SELECT count(*) FROM torrents WHERE classified_rev IS NOT ?1")?
        .query_row([rev], |r| r.get(0))?;
    Ok(from_sql(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode() {
        assert_eq!(sqlite_varint(&[0]), Some(0));
        assert_eq!(sqlite_varint(&[0x7f, 0xff]), Some(127));
        assert_eq!(sqlite_varint(&[0x81, 0x00]), Some(128));
        assert_eq!(sqlite_varint(&[0xbd, 0x84, 0x40]), Some(1_000_000));
        assert_eq!(sqlite_varint(&[0xff; 9]), Some(u64::MAX));
        assert_eq!(sqlite_varint(&[0x81]), None);
        assert_eq!(sqlite_varint(&[]), None);
    }

    /// The count is one lookup by key, not a scan of the table or an index.
    #[test]
    fn torrent_count_reads_one_row() {
        let store = SqliteStore::open_in_memory().unwrap();
        let plan: String = store
            .conn
            .query_row(&format!("EXPLAIN QUERY PLAN {INDEX_STATS}"), [], |r| {
                r.get(3)
            })
            .unwrap();
        assert!(plan.contains("USING INTEGER PRIMARY KEY"), "{plan}");
    }
}
