//! Reads by key: dedup lookups, one torrent, paging by infohash.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, cursor_blob, from_sql, hash_from_blob, limit_sql, opt_u32};
use crate::{FileEntry, InfoHash, Result, Torrent};

/// `id` and every column [`read_torrent`] maps, in its order.
const TORRENT_COLUMNS: &str = "id, info_hash, name, total_size, file_count, private, \
     piece_length, meta_version, first_seen, last_seen, seeders, leechers, scraped_at, \
     content_type, attributes, classified_rev";

/// A row of [`TORRENT_COLUMNS`]: the id, the torrent without files, tags and attributes, and
/// the attributes' JSON (see [`fill_torrent`]).
fn read_torrent(r: &Row<'_>) -> rusqlite::Result<(i64, Torrent, Option<String>)> {
    Ok((
        r.get(0)?,
        Torrent {
            info_hash: hash_from_blob(r.get(1)?)?,
            name: r.get(2)?,
            total_size: from_sql(r.get(3)?),
            file_count: from_sql(r.get(4)?),
            private: r.get(5)?,
            piece_length: r.get::<_, Option<i64>>(6)?.map(from_sql),
            meta_version: r.get(7)?,
            first_seen: r.get(8)?,
            last_seen: r.get(9)?,
            seeders: opt_u32(r.get(10)?),
            leechers: opt_u32(r.get(11)?),
            scraped_at: r.get(12)?,
            content_type: r.get(13)?,
            classified_rev: r.get(15)?,
            files: Vec::new(),
            tags: Vec::new(),
            attributes: Vec::new(),
        },
        r.get(14)?,
    ))
}

pub(super) fn read_tags(conn: &Connection, id: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT tag FROM torrent_tags WHERE torrent_id = ?1 ORDER BY tag")?
        .query_map([id], |r| r.get(0))?
        .collect()
}

/// Loads what [`read_torrent`] leaves out: files, tags, attributes.
fn fill_torrent(
    conn: &Connection,
    id: i64,
    attributes: Option<String>,
    t: &mut Torrent,
) -> rusqlite::Result<()> {
    t.files = conn
        .prepare_cached(
            "SELECT j.value ->> 0, j.value ->> 1 \
             FROM torrent_files AS f, json_each(f.files) AS j \
             WHERE f.torrent_id = ?1 ORDER BY j.key",
        )?
        .query_map([id], |r| {
            Ok(FileEntry {
                path: r.get(0)?,
                size: from_sql(r.get(1)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    t.tags = read_tags(conn, id)?;
    if let Some(json) = attributes {
        t.attributes = conn
            .prepare_cached("SELECT key, value FROM json_each(?1) ORDER BY key")?
            .query_map([json], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(())
}

/// Torrents not at a revision, after a cursor, in infohash order.
pub(super) fn reclassify_sql() -> String {
    format!(
        "SELECT {TORRENT_COLUMNS} FROM torrents \
         WHERE info_hash > ?1 AND classified_rev IS NOT ?2 \
         ORDER BY info_hash LIMIT ?3"
    )
}

/// Stored hashes after a cursor, in order.
pub(super) const HASHES_AFTER: &str =
    "SELECT info_hash FROM torrents WHERE info_hash > ?1 ORDER BY info_hash LIMIT ?2";

pub(super) fn known(s: &SqliteStore, hashes: &[InfoHash]) -> Result<Vec<bool>> {
    let mut out = vec![false; hashes.len()];
    if hashes.is_empty() {
        return Ok(out);
    }
    // Probe in key order so consecutive lookups share B-tree pages; one read transaction
    // for a consistent snapshot and one lock acquisition.
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_unstable_by_key(|&i| hashes[i]);
    let tx = s.conn.unchecked_transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM torrents WHERE info_hash = ?1) \
             OR EXISTS (SELECT 1 FROM blocked WHERE info_hash = ?1)",
        )?;
        for i in order {
            out[i] = stmt.query_row([hashes[i].as_bytes()], |r| r.get(0))?;
        }
    }
    tx.commit()?;
    Ok(out)
}

pub(super) fn get(s: &SqliteStore, hash: &InfoHash) -> Result<Option<Torrent>> {
    let tx = s.conn.unchecked_transaction()?;
    let row = tx
        .prepare_cached(&format!(
            "SELECT {TORRENT_COLUMNS} FROM torrents WHERE info_hash = ?1"
        ))?
        .query_row([hash.as_bytes()], read_torrent)
        .optional()?;
    let Some((id, mut torrent, attributes)) = row else {
        return Ok(None);
    };
    fill_torrent(&tx, id, attributes, &mut torrent)?;
    tx.commit()?;
    Ok(Some(torrent))
}

pub(super) fn reclassify_batch(
    s: &SqliteStore,
    rev: &str,
    after: Option<InfoHash>,
    limit: usize,
) -> Result<Vec<Torrent>> {
    let tx = s.conn.unchecked_transaction()?;
    let rows: Vec<(i64, Torrent, Option<String>)> = tx
        .prepare_cached(&reclassify_sql())?
        .query_map(
            params![cursor_blob(after), rev, limit_sql(limit)],
            read_torrent,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, mut torrent, attributes) in rows {
        fill_torrent(&tx, id, attributes, &mut torrent)?;
        out.push(torrent);
    }
    tx.commit()?;
    Ok(out)
}

pub(super) fn hashes_after(
    s: &SqliteStore,
    after: Option<InfoHash>,
    limit: usize,
) -> Result<Vec<InfoHash>> {
    let hashes = s
        .conn
        .prepare_cached(HASHES_AFTER)?
        .query_map(params![cursor_blob(after), limit_sql(limit)], |r| {
            hash_from_blob(r.get(0)?)
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(hashes)
}

pub(super) fn is_blocked(s: &SqliteStore, hash: &InfoHash) -> Result<bool> {
    Ok(s.conn
        .prepare_cached("SELECT 1 FROM blocked WHERE info_hash = ?1")?
        .exists([hash.as_bytes()])?)
}
