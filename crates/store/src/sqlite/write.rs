//! The write path: batched upserts with their index entries, swarm numbers, touches,
//! classification, deletes and blocks ("Write path" in the [module docs](super)).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{SqliteStore, to_sql};
use crate::{
    Classification, InfoHash, PutOutcome, Result, SwarmUpdate, TorrentRecord, UnixSeconds,
};

fn torrent_id(conn: &Connection, hash: &InfoHash) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM torrents WHERE info_hash = ?1")?
        .query_row([hash.as_bytes()], |r| r.get(0))
        .optional()
}

/// Deletes one torrent by id: its index entry, then the row (files and tags cascade).
pub(super) fn delete_id(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM torrents_fts WHERE rowid = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM torrents WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Deletes one torrent, its files, tags and index entry. Returns whether it existed.
fn delete_one(tx: &Transaction<'_>, hash: &InfoHash) -> rusqlite::Result<bool> {
    let Some(id) = torrent_id(tx, hash)? else {
        return Ok(false);
    };
    delete_id(tx, id)?;
    Ok(true)
}

/// A content type as stored: an empty one is none.
fn norm_type(content_type: Option<&String>) -> Option<&str> {
    content_type.map(String::as_str).filter(|t| !t.is_empty())
}

/// Tags as stored: sorted, distinct, no empty ones.
fn norm_tags(tags: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Attributes as stored: a JSON object, keys sorted and distinct (the last value given for a
/// key wins); `None` when there are none.
fn attributes_json(attributes: &[(String, String)]) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let map: BTreeMap<&str, &str> = attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = String::from("{");
    for (i, (k, v)) in map.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(&mut out, k);
        out.push(':');
        json_string(&mut out, v);
    }
    out.push('}');
    Some(out)
}

/// Appends `s` as a JSON string (RFC 8259: quote, backslash and control characters escaped).
fn json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Everything that needs escaping is ASCII, so byte positions are char boundaries: copy the
    // runs between them whole (this runs for every stored file path).
    let mut rest = s;
    while let Some(i) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Replaces a torrent's tags (`replace`: it may have some already).
fn write_tags(tx: &Transaction<'_>, id: i64, tags: &[String], replace: bool) -> Result<()> {
    if replace {
        tx.prepare_cached("DELETE FROM torrent_tags WHERE torrent_id = ?1")?
            .execute([id])?;
    }
    let tags = norm_tags(tags);
    if !tags.is_empty() {
        let mut insert =
            tx.prepare_cached("INSERT INTO torrent_tags (torrent_id, tag) VALUES (?1, ?2)")?;
        for tag in tags {
            insert.execute(params![id, tag])?;
        }
    }
    Ok(())
}

/// Upserts one record's rows (not its index entry: see [`put_batch`](Store::put_batch)).
/// `None`: blocked; else whether it was inserted (not updated), its id and its stored paths
/// newline-joined, for the index.
fn put_one(
    tx: &Transaction<'_>,
    file_cap: usize,
    rec: &TorrentRecord,
) -> Result<Option<(bool, i64, String)>> {
    let hash = rec.info_hash.as_bytes();
    let blocked = tx
        .prepare_cached("SELECT 1 FROM blocked WHERE info_hash = ?1")?
        .exists([hash])?;
    if blocked {
        return Ok(None);
    }
    let stored = &rec.files[..rec.files.len().min(file_cap)];
    let stored_files = stored.len() as i64;
    let file_count = to_sql(rec.file_count.max(rec.files.len() as u64));
    // Swarm numbers count only with the time they were measured.
    let (seeders, leechers) = match rec.scraped_at {
        Some(_) => (rec.seeders, rec.leechers),
        None => (None, None),
    };
    let content_type = norm_type(rec.content_type.as_ref());
    let attributes = attributes_json(&rec.attributes);
    let (total_size, piece_length) = (to_sql(rec.total_size), rec.piece_length.map(to_sql));
    let mut values: Vec<&dyn ToSql> = vec![
        &hash,
        &rec.name,
        &total_size,
        &file_count,
        &rec.private,
        &piece_length,
        &rec.meta_version,
        &rec.seen_at,
        &seeders,
        &leechers,
        &rec.scraped_at,
        &content_type,
        &attributes,
        &rec.classified_rev,
        &stored_files,
    ];
    // A new torrent (the common case) costs one insert: the unique index finds a known one.
    // Not an upsert: an upsert runs with a statement journal, which copies every page it
    // touches.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO torrents (info_hash, name, total_size, file_count, private, \
                 piece_length, meta_version, first_seen, last_seen, seeders, leechers, \
                 scraped_at, content_type, attributes, classified_rev, stored_files) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (info_hash) DO NOTHING",
        )?
        .execute(values.as_slice())?
        == 1;
    let existing = if inserted {
        None
    } else {
        // DO NOTHING happened: the hash is stored.
        Some(torrent_id(tx, &rec.info_hash)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?)
    };
    let id = match existing {
        None => tx.last_insert_rowid(),
        Some(id) => {
            // A known one keeps its first sighting and takes swarm numbers only from a
            // measurement at least as new (every right-hand side sees the row as it was).
            values.push(&id);
            tx.prepare_cached(
                "UPDATE torrents SET name = ?2, total_size = ?3, \
                     file_count = ?4, private = ?5, piece_length = ?6, meta_version = ?7, \
                     first_seen = min(first_seen, ?8), last_seen = max(last_seen, ?8), \
                     seeders  = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?9 ELSE seeders END, \
                     leechers = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?10 ELSE leechers END, \
                     scraped_at = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?11 ELSE scraped_at END, \
                     content_type = ?12, attributes = ?13, classified_rev = ?14, \
                     stored_files = ?15 \
                 WHERE id = ?16",
            )?
            .execute(values.as_slice())?;
            id
        }
    };
    write_tags(tx, id, &rec.tags, existing.is_some())?;
    let text: usize = stored.iter().map(|f| f.path.len()).sum();
    let mut paths = String::with_capacity(text + stored.len());
    let mut json = String::with_capacity(text + 24 * stored.len() + 2);
    json.push('[');
    for (idx, f) in stored.iter().enumerate() {
        if idx > 0 {
            paths.push('\n');
            json.push(',');
        }
        paths.push_str(&f.path);
        json.push('[');
        json_string(&mut json, &f.path);
        let _ = write!(json, ",{}]", to_sql(f.size));
    }
    json.push(']');
    match (stored.is_empty(), existing.is_some()) {
        (true, false) => {}
        (true, true) => {
            tx.prepare_cached("DELETE FROM torrent_files WHERE torrent_id = ?1")?
                .execute([id])?;
        }
        (false, false) => {
            tx.prepare_cached("INSERT INTO torrent_files (torrent_id, files) VALUES (?1, ?2)")?
                .execute(params![id, json])?;
        }
        (false, true) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO torrent_files (torrent_id, files) VALUES (?1, ?2)",
            )?
            .execute(params![id, json])?;
        }
    }
    Ok(Some((existing.is_none(), id, paths)))
}

pub(super) fn put_batch(s: &mut SqliteStore, records: &[TorrentRecord]) -> Result<PutOutcome> {
    let tx = s
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcome = PutOutcome::default();
    // The index entries go last, after every table write of the batch: a write statement
    // that may need a statement journal (an insert checked by a foreign key, an upsert)
    // makes FTS5 flush its pending terms to a new segment, so interleaving them gave one
    // segment per torrent and merge work to match.
    let mut index = Vec::with_capacity(records.len());
    for rec in records {
        match put_one(&tx, s.file_cap, rec)? {
            None => outcome.blocked += 1,
            Some((inserted, id, paths)) => {
                if inserted {
                    outcome.inserted += 1;
                } else {
                    outcome.updated += 1;
                }
                index.push((id, &rec.name, paths));
            }
        }
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO torrents_fts (rowid, name, paths) VALUES (?1, ?2, ?3)",
        )?;
        for (id, name, paths) in index {
            insert.execute(params![id, name, paths])?;
        }
    }
    tx.commit()?;
    Ok(outcome)
}

pub(super) fn update_swarm(s: &mut SqliteStore, updates: &[SwarmUpdate]) -> Result<usize> {
    let tx = s
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut changed = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE torrents SET seeders = ?2, leechers = ?3, scraped_at = ?4 \
             WHERE info_hash = ?1 AND coalesce(scraped_at, ?4) <= ?4",
        )?;
        for u in updates {
            changed += stmt.execute(params![
                u.info_hash.as_bytes(),
                u.seeders,
                u.leechers,
                u.scraped_at
            ])?;
        }
    }
    tx.commit()?;
    Ok(changed)
}

pub(super) fn touch(
    s: &mut SqliteStore,
    hashes: &[InfoHash],
    seen_at: UnixSeconds,
) -> Result<usize> {
    let tx = s
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut changed = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE torrents SET last_seen = ?2 WHERE info_hash = ?1 AND last_seen < ?2",
        )?;
        for h in hashes {
            changed += stmt.execute(params![h.as_bytes(), seen_at])?;
        }
    }
    tx.commit()?;
    Ok(changed)
}

pub(super) fn set_classification(s: &mut SqliteStore, updates: &[Classification]) -> Result<usize> {
    let tx = s
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut changed = 0;
    for u in updates {
        let Some(id) = torrent_id(&tx, &u.info_hash)? else {
            continue;
        };
        tx.prepare_cached(
            "UPDATE torrents SET content_type = ?2, attributes = ?3, classified_rev = ?4 \
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            norm_type(u.content_type.as_ref()),
            attributes_json(&u.attributes),
            u.rev
        ])?;
        write_tags(&tx, id, &u.tags, true)?;
        changed += 1;
    }
    tx.commit()?;
    Ok(changed)
}

pub(super) fn delete(s: &mut SqliteStore, hashes: &[InfoHash]) -> Result<usize> {
    let tx = s
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut n = 0;
    for h in hashes {
        n += usize::from(delete_one(&tx, h)?);
    }
    tx.commit()?;
    Ok(n)
}

pub(super) fn block(s: &mut SqliteStore, hashes: &[InfoHash], at: UnixSeconds) -> Result<usize> {
    let tx = s
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut n = 0;
    for h in hashes {
        delete_one(&tx, h)?;
        n += tx
            .prepare_cached(
                "INSERT OR IGNORE INTO blocked (info_hash, blocked_at) VALUES (?1, ?2)",
            )?
            .execute(params![h.as_bytes(), at])?;
    }
    tx.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_json_objects() {
        let attrs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        };
        assert_eq!(attributes_json(&[]), None);
        assert_eq!(
            attributes_json(&attrs(&[("b", "2"), ("a", "1"), ("b", "3")])).unwrap(),
            r#"{"a":"1","b":"3"}"#
        );
        assert_eq!(
            attributes_json(&attrs(&[("q", "\"\\\n\u{1}\u{7f}é")])).unwrap(),
            "{\"q\":\"\\\"\\\\\\n\\u0001\u{7f}é\"}"
        );
    }
}
