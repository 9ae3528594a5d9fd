//! Retention: eviction to a disk budget and compaction ("Retention" in the
//! [module docs](super)).

use rusqlite::TransactionBehavior;

use super::write::delete_id;
use super::{SqliteStore, to_sql};
use crate::{EvictOutcome, Result};

/// Torrents deleted per eviction transaction.
const EVICT_BATCH: u64 = 1_000;

/// The next torrents to evict, in policy order: a scan of the table and a bounded sort.
const EVICT_SELECT: &str = "SELECT id FROM torrents ORDER BY seeders, last_seen, id LIMIT ?1";

impl SqliteStore {
    /// `PRAGMA auto_vacuum`: 0 none, 1 full, 2 incremental.
    pub fn auto_vacuum(&self) -> Result<u8> {
        Ok(u8::try_from(self.pragma_u64("auto_vacuum")?).unwrap_or(0))
    }

    /// The first `n` torrents in eviction order: one scan of the table (no index keeps
    /// this order: it would cost every insert a random leaf, see schema v4).
    fn eviction_candidates(&self, n: u64) -> Result<Vec<i64>> {
        let ids = self
            .conn
            .prepare_cached(EVICT_SELECT)?
            .query_map([to_sql(n)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// Deletes these torrents (those still there) in one transaction.
    fn evict_batch(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for &id in ids {
            delete_id(&tx, id)?;
        }
        tx.commit()?;
        Ok(())
    }
}

pub(super) fn evict_to_size(
    s: &mut SqliteStore,
    max_bytes: u64,
    max_rows: u64,
    resume: bool,
) -> Result<EvictOutcome> {
    let bytes_before = s.used_bytes()?;
    let low_water = max_bytes - max_bytes / 20;
    let mut evicted = 0;
    let mut torrents = super::inspect::torrent_count(s)?;
    if bytes_before > max_bytes || (resume && bytes_before > low_water) {
        // This call's candidates, in order, from one scan; consumed from the front.
        let mut candidates = s.eviction_candidates(max_rows)?.into_iter();
        while evicted < max_rows && torrents > 0 {
            let used = s.used_bytes()?;
            if used <= low_water {
                break;
            }
            // As many torrents as the excess holds at the average size; deleting frees
            // less than the average (pages stay partly used), so re-measure and repeat.
            let per_torrent = (used / torrents).max(1);
            let n = (used - low_water)
                .div_ceil(per_torrent)
                .clamp(1, EVICT_BATCH)
                .min(max_rows - evicted);
            let ids: Vec<i64> = candidates.by_ref().take(n as usize).collect();
            s.evict_batch(&ids)?;
            let deleted = ids.len() as u64;
            evicted += deleted;
            torrents = torrents.saturating_sub(deleted);
            if deleted < n {
                break;
            }
        }
    }
    let vacuumed = s.auto_vacuum()? == 2 && s.pragma_u64("freelist_count")? > 0;
    if vacuumed {
        // Moves the free pages to the end and truncates them off (at the checkpoint in
        // WAL mode). It frees one page per step: step it to the end.
        let mut stmt = s.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
    }
    if (evicted > 0 || vacuumed) && s.path.is_some() {
        // Shrinks the main file and empties the WAL, unless a reader holds it (then the
        // next checkpoint does).
        s.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let bytes_after = s.used_bytes()?;
    let within_budget = bytes_after <= max_bytes;
    let file_bytes = s.file_bytes()?;
    Ok(EvictOutcome {
        evicted,
        more: evicted > 0 && evicted == max_rows && torrents > 0 && bytes_after > low_water,
        bytes_before,
        bytes_after,
        file_bytes,
        within_budget,
        needs_compact: within_budget
            && s.auto_vacuum()? != 2
            && s.pragma_u64("page_count")? * s.pragma_u64("page_size")? > max_bytes,
    })
}

pub(super) fn compact(s: &mut SqliteStore) -> Result<()> {
    // Switching NONE -> INCREMENTAL takes effect with the VACUUM that rewrites the file.
    s.conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    s.conn.execute_batch("VACUUM")?;
    if s.path.is_some() {
        s.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(())
}
