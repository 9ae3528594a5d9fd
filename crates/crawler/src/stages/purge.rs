//! Deleting the stored torrents a newly loaded blocklist names, a page at a time.
//!
//! A purge walks every stored infohash. On a large store that is many pages, so it runs as
//! one writer job per page ([`PURGE_PAGE`] hashes read, then the delete of that page's hits),
//! and the task driving it yields between jobs: the crawler's writes and lookups queued in
//! the meantime go through between two pages instead of waiting for the whole walk.
//!
//! Matches are deleted, not blocked in the store: that would write the raw infohashes a
//! double-hash list exists to hide. The pre-fetch check keeps them from being fetched again.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use classify::blocklist::Blocklist;
use infohash::InfoHash;
use store::Store;
use tokio::sync::oneshot;

use super::Filters;
use crate::writer::{WriterGone, WriterHandle};

/// Stored infohashes read per purge job.
pub const PURGE_PAGE: usize = 10_000;

/// A purge in progress: a cursor over the stored infohashes, checked against one blocklist.
#[derive(Debug)]
pub struct Purge {
    list: Arc<Blocklist>,
    page: usize,
    cursor: Option<InfoHash>,
    done: bool,
    outcome: PurgeOutcome,
}

/// What a finished purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// Stored torrents deleted.
    pub deleted: u64,
    /// Steps (writer jobs) it took.
    pub jobs: u64,
}

impl fmt::Display for PurgeOutcome {
    /// The log line of a purge (it deletes; it does not block, see the module doc).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deleted {} stored torrents named by the blocklist",
            self.deleted
        )
    }
}

/// Why a purge stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The store failed.
    #[error("blocklist purge failed: {0}")]
    Store(#[from] store::Error),
    /// The writer stopped.
    #[error("blocklist purge stopped: {0}")]
    Writer(#[from] WriterGone),
}

impl Purge {
    /// A purge of what `list` names, reading `page` hashes per step (at least 1).
    pub fn new(list: Arc<Blocklist>, page: usize) -> Self {
        let done = list.is_empty();
        Self {
            list,
            page: page.max(1),
            cursor: None,
            done,
            outcome: PurgeOutcome::default(),
        }
    }

    /// Whether the walk is over.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What it did so far.
    pub fn outcome(&self) -> PurgeOutcome {
        self.outcome
    }

    /// One bounded step: the next page of stored hashes and the delete of its hits. Returns
    /// how many were deleted. A no-op once [`Purge::is_done`].
    pub fn step(&mut self, store: &mut dyn Store) -> store::Result<u64> {
        if self.done {
            return Ok(0);
        }
        self.outcome.jobs += 1;
        let batch = store.hashes_after(self.cursor, self.page)?;
        self.done = batch.len() < self.page;
        let Some(last) = batch.last().copied() else {
            return Ok(0);
        };
        self.cursor = Some(last);
        let raw: Vec<[u8; 20]> = batch.iter().map(InfoHash::dht_key).collect();
        let hits: Vec<InfoHash> = batch
            .into_iter()
            .zip(self.list.contains_infohashes(&raw))
            .filter_map(|(h, hit)| hit.then_some(h))
            .collect();
        if hits.is_empty() {
            return Ok(0);
        }
        let n = store.delete(&hits)? as u64;
        self.outcome.deleted += n;
        Ok(n)
    }
}

impl Filters {
    /// Deletes every stored torrent the current blocklist names, one writer job per
    /// [`PURGE_PAGE`] stored hashes, yielding between jobs (see the module doc).
    pub async fn purge(&self, writer: &WriterHandle) -> Result<PurgeOutcome, PurgeError> {
        self.purge_in_pages(writer, PURGE_PAGE).await
    }

    async fn purge_in_pages(
        &self,
        writer: &WriterHandle,
        page: usize,
    ) -> Result<PurgeOutcome, PurgeError> {
        let mut purge = Purge::new(self.blocklist(), page);
        while !purge.is_done() {
            let (tx, rx) = oneshot::channel();
            writer
                .run(move |store| {
                    let r = purge.step(store);
                    let _ = tx.send((purge, r));
                })
                .await?;
            let (back, r) = rx.await.map_err(|_| WriterGone)?;
            purge = back;
            let n = r?;
            self.metrics.blocklist_purged.fetch_add(n, Relaxed);
            // Let what queued up behind this job reach the writer before the next page.
            tokio::task::yield_now().await;
        }
        Ok(purge.outcome())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metrics;
    use crate::writer::{Writer, WriterConfig};
    use classify::blocklist::digest_of;
    use classify::rules::RuleSet;
    use std::time::Duration;
    use store::{SqliteStore, TorrentRecord};

    fn record(i: u8) -> TorrentRecord {
        TorrentRecord {
            info_hash: InfoHash::v1([i; 20]),
            name: format!("torrent {i}"),
            total_size: 1,
            ..TorrentRecord::default()
        }
    }

    #[test]
    fn a_purge_says_it_deleted_and_does_not_claim_it_blocked() {
        let line = PurgeOutcome {
            deleted: 3,
            jobs: 1,
        }
        .to_string();
        assert_eq!(line, "deleted 3 stored torrents named by the blocklist");
        assert!(!line.contains("blocked"), "{line}");
    }

    #[tokio::test]
    async fn a_purge_runs_in_bounded_jobs_that_other_writer_commands_pass_between() {
        const PAGE: usize = 10;
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("db.sqlite3")).unwrap();
        // 45 torrents: pages of 10, 10, 10, 10, 5; every third one blocked (hits in each page).
        let records: Vec<TorrentRecord> = (1..=45).map(record).collect();
        store.put_batch(&records).unwrap();
        let blocked: Vec<InfoHash> = records
            .iter()
            .map(|r| r.info_hash)
            .filter(|h| h.as_bytes()[0] % 3 == 0)
            .collect();
        let list =
            Blocklist::from_digests(blocked.iter().map(|h| digest_of(&h.dht_key())).collect());
        let filters = Arc::new(Filters::new(list, RuleSet::load(None).unwrap()));
        let (thread, writer) = Writer::spawn(
            Box::new(store),
            WriterConfig::default(),
            Arc::new(Metrics::default()),
        );

        let purge = tokio::spawn({
            let (filters, writer) = (filters.clone(), writer.clone());
            async move { filters.purge_in_pages(&writer, PAGE).await }
        });
        // Ask the writer, again and again while the purge runs, how many blocked torrents are
        // still stored: an answer strictly between all and none came between two purge jobs.
        let mut between = Vec::new();
        testkit::within(Duration::from_secs(30), "the purge", async {
            loop {
                let known = writer.known(blocked.clone()).await.unwrap();
                let left = known.iter().filter(|k| **k).count();
                if left == 0 {
                    break;
                }
                if left < blocked.len() {
                    between.push(left);
                }
            }
        })
        .await;
        let outcome = purge.await.unwrap().unwrap();

        assert!(
            !between.is_empty(),
            "no writer command got through between the purge's jobs"
        );
        assert_eq!(outcome.jobs, 5, "one job per page of {PAGE}");
        assert_eq!(outcome.deleted, blocked.len() as u64);
        assert!(filters.metrics.render().contains(&format!(
            "bitagent_blocklist_purged_total {}\n",
            blocked.len()
        )));
        drop(writer);
        let store = thread.join();
        for r in &records {
            let stored = store.get(&r.info_hash).unwrap().is_some();
            assert_eq!(stored, !blocked.contains(&r.info_hash), "{}", r.name);
            assert!(
                !store.is_blocked(&r.info_hash).unwrap(),
                "deleted, not blocked"
            );
        }
    }
}
