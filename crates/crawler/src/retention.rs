//! The disk budget (`--max-db-size`): eviction run on the writer thread in bounded jobs.
//!
//! One eviction can delete tens of thousands of torrents; run as one writer job it would hold
//! up every batch behind it. [`evict_to_budget`] instead sends jobs of at most
//! [`EVICT_ROWS_PER_JOB`] torrents ([`Store::evict_to_size`](store::Store::evict_to_size)
//! with a row bound), yielding between them so batches queued meanwhile are committed, until
//! the store reports nothing more to do. [`enforce_disk_budget`] does that every minute.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use store::EvictOutcome;
use tokio::sync::oneshot;

use crate::writer::{WriterGone, WriterHandle};

/// Torrents one eviction job deletes at most (about 0.2 s of writer time at a million
/// torrents, most of it the scan that picks them).
pub const EVICT_ROWS_PER_JOB: u64 = 2_000;

/// What one [`evict_to_budget`] round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictRound {
    /// Writer jobs sent.
    pub jobs: u32,
    /// Torrents evicted in all of them.
    pub evicted: u64,
    /// The last job's outcome (`None` if a job failed; the error is logged).
    pub last: Option<EvictOutcome>,
}

/// Evicts (fewest seeders, then oldest last seen) until the store fits `max_bytes`, in writer
/// jobs of at most `rows_per_job` torrents ([`EVICT_ROWS_PER_JOB`] in the crawler), yielding
/// between jobs. `compacted` remembers across rounds that a database that cannot shrink in
/// place (created before schema 2) was compacted once already.
pub async fn evict_to_budget(
    writer: &WriterHandle,
    max_bytes: u64,
    rows_per_job: u64,
    compacted: &AtomicBool,
) -> Result<EvictRound, WriterGone> {
    let mut round = EvictRound::default();
    let mut resume = false;
    loop {
        let (reply, outcome) = oneshot::channel();
        writer
            .run(move |store| {
                let result = store.evict_to_size(max_bytes, rows_per_job, resume);
                if let Err(e) = &result {
                    tracing::error!("eviction failed: {e}");
                }
                let _ = reply.send(result.ok());
            })
            .await?;
        let out = outcome.await.map_err(|_| WriterGone)?;
        round.jobs += 1;
        round.last = out;
        let Some(o) = out else {
            return Ok(round);
        };
        round.evicted += o.evicted;
        if !o.more {
            break;
        }
        resume = true;
        // Let the batches queued behind this job in.
        tokio::task::yield_now().await;
    }
    let Some(o) = round.last else {
        return Ok(round);
    };
    if round.evicted > 0 {
        tracing::info!(
            evicted = round.evicted,
            jobs = round.jobs,
            bytes_after = o.bytes_after,
            budget = max_bytes,
            "database over its disk budget: evicted the torrents with the fewest seeders, oldest first"
        );
    }
    if o.needs_compact && !compacted.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            file_bytes = o.file_bytes,
            "the database file cannot shrink in place (created before schema 2): compacting it once"
        );
        writer
            .run(|store| {
                if let Err(e) = store.compact() {
                    tracing::error!("compaction failed: {e}");
                }
            })
            .await?;
    }
    if o.evicted == 0 && !o.within_budget {
        tracing::warn!(
            budget = max_bytes,
            bytes = o.bytes_after,
            "--max-db-size is below what cannot be evicted: raise it"
        );
    }
    Ok(round)
}

/// Every `every`, [`evict_to_budget`] with [`EVICT_ROWS_PER_JOB`]; returns when the writer
/// stops.
pub async fn enforce_disk_budget(writer: WriterHandle, max_bytes: u64, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let compacted = AtomicBool::new(false);
    loop {
        tick.tick().await;
        if evict_to_budget(&writer, max_bytes, EVICT_ROWS_PER_JOB, &compacted)
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::{SqliteStore, Store, TorrentRecord};
    use testkit::store_conformance::test_record;

    use super::*;
    use crate::metrics::Metrics;
    use crate::writer::{Writer, WriterConfig};

    /// A budget far below the data is reached in several bounded jobs, none deleting more
    /// than its bound, and the torrent gauge ends at what is left.
    #[tokio::test]
    async fn eviction_runs_in_bounded_jobs_until_within_budget() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let recs: Vec<TorrentRecord> = (0..1_000u64)
            .map(|n| {
                let path = format!("some directory/a file named {n} with a long name.bin");
                test_record(n, &format!("torrent number {n}"), &[(&path, 1)], 1)
            })
            .collect();
        store.put_batch(&recs).unwrap();
        let budget = store.stats().unwrap().db_bytes / 3;
        let metrics = Arc::new(Metrics::default());
        let (writer, h) = Writer::spawn(Box::new(store), WriterConfig::default(), metrics.clone());
        let compacted = AtomicBool::new(false);
        let round = evict_to_budget(&h, budget, 50, &compacted).await.unwrap();
        let last = round.last.unwrap();
        assert!(round.jobs > 2, "{round:?}");
        assert!(round.evicted <= 50 * u64::from(round.jobs), "{round:?}");
        assert!(last.within_budget && !last.more, "{round:?}");
        // Within budget: another round sends one job that does nothing.
        let again = evict_to_budget(&h, budget, 50, &compacted).await.unwrap();
        assert_eq!((again.jobs, again.evicted), (1, 0), "{again:?}");
        drop(h);
        let store = writer.join();
        let left = store.torrent_count().unwrap();
        assert_eq!(left + round.evicted, 1_000);
        assert_eq!(metrics.store_torrents.get(), left as i64);
        assert!(store.integrity_check().unwrap().is_empty());
    }
}
