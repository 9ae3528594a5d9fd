//! The store writer: one thread owns the [`Store`] and commits records in batched
//! transactions; async tasks talk to it over a bounded channel.
//!
//! A batch is committed when it reaches `batch_size` records, when its oldest record has
//! waited `max_delay`, on [`WriterHandle::flush`], and when the last handle is dropped (the
//! thread then drains the channel, commits and exits: a SIGINT/SIGTERM loses nothing that
//! reached the writer). A failed batch is retried once, then dropped, counted and logged.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use infohash::InfoHash;
use store::{Store, SwarmUpdate, TorrentRecord, UnixSeconds};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// A maintenance job run on the writer thread.
type StoreJob = Box<dyn FnOnce(&mut dyn Store) + Send>;

enum Cmd {
    Known {
        hashes: Vec<InfoHash>,
        reply: oneshot::Sender<Vec<bool>>,
    },
    Put(Box<TorrentRecord>),
    Touch(Vec<InfoHash>, UnixSeconds),
    Swarm(SwarmUpdate),
    Block(Vec<InfoHash>, UnixSeconds),
    Run(StoreJob),
    Flush(oneshot::Sender<()>),
    Stop,
}

/// Tuning of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Records per transaction.
    pub batch_size: usize,
    /// Longest a record waits for its batch.
    pub max_delay: Duration,
    /// Commands queued before senders wait.
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            batch_size: 256,
            max_delay: Duration::from_millis(500),
            queue: 4096,
        }
    }
}

/// A cheap handle on the writer thread.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Cmd>,
    capacity: usize,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Known { .. } => "Known",
            Self::Put(_) => "Put",
            Self::Touch(..) => "Touch",
            Self::Swarm(_) => "Swarm",
            Self::Block(..) => "Block",
            Self::Run(_) => "Run",
            Self::Stop => "Stop",
            Self::Flush(_) => "Flush",
        })
    }
}

/// The writer thread; [`Writer::join`] waits for it to commit everything and exit.
#[derive(Debug)]
pub struct Writer {
    thread: JoinHandle<Box<dyn Store>>,
}

/// The writer thread has stopped (its store failed fatally or it was joined).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the store writer has stopped")]
pub struct WriterGone;

impl Writer {
    /// Starts the thread. `rt` is the runtime whose channel the thread waits on.
    pub fn spawn(
        store: Box<dyn Store>,
        cfg: WriterConfig,
        metrics: Arc<Metrics>,
    ) -> (Self, WriterHandle) {
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let handle = WriterHandle {
            tx,
            capacity: cfg.queue.max(1),
        };
        let thread = std::thread::Builder::new()
            .name("bitagent-writer".into())
            .spawn(move || run(store, rx, cfg, metrics))
            .expect("spawn the writer thread");
        (Self { thread }, handle)
    }

    /// Waits until every handle is dropped and the thread has committed what it had; returns
    /// the store.
    pub fn join(self) -> Box<dyn Store> {
        match self.thread.join() {
            Ok(s) => s,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

impl WriterHandle {
    /// For each hash, whether it is stored or blocked (no fetch needed).
    pub async fn known(&self, hashes: Vec<InfoHash>) -> Result<Vec<bool>, WriterGone> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Known { hashes, reply }).await?;
        rx.await.map_err(|_| WriterGone)
    }

    /// Queues a verified torrent for the next batch.
    pub async fn put(&self, record: TorrentRecord) -> Result<(), WriterGone> {
        self.send(Cmd::Put(Box::new(record))).await
    }

    /// Raises `last_seen` of stored torrents sampled again.
    pub async fn touch(&self, hashes: Vec<InfoHash>, at: UnixSeconds) -> Result<(), WriterGone> {
        self.send(Cmd::Touch(hashes, at)).await
    }

    /// Records a swarm measurement of a stored torrent.
    pub async fn swarm(&self, update: SwarmUpdate) -> Result<(), WriterGone> {
        self.send(Cmd::Swarm(update)).await
    }

    /// Deletes and blocks infohashes forever (after the batch queued before them).
    pub async fn block(&self, hashes: Vec<InfoHash>, at: UnixSeconds) -> Result<(), WriterGone> {
        self.send(Cmd::Block(hashes, at)).await
    }

    /// Runs `f` on the store in the writer thread, after committing what is queued (for
    /// maintenance: purges, eviction). `f` must be short: it holds up the writer.
    pub async fn run<F>(&self, f: F) -> Result<(), WriterGone>
    where
        F: FnOnce(&mut dyn Store) + Send + 'static,
    {
        self.send(Cmd::Run(Box::new(f))).await
    }

    /// Asks the thread to commit what was queued before this command and exit, even while
    /// other handles exist (they get [`WriterGone`] from then on).
    pub async fn stop(&self) -> Result<(), WriterGone> {
        self.send(Cmd::Stop).await
    }

    /// Commits everything queued so far and waits for it.
    pub async fn flush(&self) -> Result<(), WriterGone> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Flush(reply)).await?;
        rx.await.map_err(|_| WriterGone)
    }

    /// Commands waiting in the channel.
    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    async fn send(&self, cmd: Cmd) -> Result<(), WriterGone> {
        self.tx.send(cmd).await.map_err(|_| WriterGone)
    }
}

struct Pending {
    records: Vec<TorrentRecord>,
    touches: Vec<(InfoHash, UnixSeconds)>,
    swarms: Vec<SwarmUpdate>,
    since: Option<Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.touches.is_empty() && self.swarms.is_empty()
    }
    fn note(&mut self) {
        self.since.get_or_insert_with(Instant::now);
    }
}

fn run(
    mut store: Box<dyn Store>,
    mut rx: mpsc::Receiver<Cmd>,
    cfg: WriterConfig,
    metrics: Arc<Metrics>,
) -> Box<dyn Store> {
    count_torrents(store.as_ref(), &metrics);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a timer runtime for the writer thread");
    let mut p = Pending {
        records: Vec::with_capacity(cfg.batch_size),
        touches: Vec::new(),
        swarms: Vec::new(),
        since: None,
    };
    loop {
        let cmd = match p.since {
            None => rx.blocking_recv(),
            Some(since) => {
                let left = cfg.max_delay.saturating_sub(since.elapsed());
                if left.is_zero() {
                    commit(store.as_mut(), &mut p, &metrics);
                    continue;
                }
                match recv_timeout(&rt, &mut rx, left) {
                    Ok(c) => c,
                    Err(()) => {
                        commit(store.as_mut(), &mut p, &metrics);
                        continue;
                    }
                }
            }
        };
        let Some(cmd) = cmd else {
            break;
        };
        match cmd {
            Cmd::Known { hashes, reply } => {
                let r = store.known(&hashes).unwrap_or_else(|e| {
                    metrics.store_errors.inc();
                    tracing::error!("store lookup failed: {e}");
                    // Treat as unknown: worst case a torrent is fetched twice.
                    vec![false; hashes.len()]
                });
                let _ = reply.send(r);
            }
            Cmd::Put(r) => {
                p.records.push(*r);
                p.note();
                if p.records.len() >= cfg.batch_size {
                    commit(store.as_mut(), &mut p, &metrics);
                }
            }
            Cmd::Touch(hashes, at) => {
                p.touches.extend(hashes.into_iter().map(|h| (h, at)));
                p.note();
                if p.touches.len() >= cfg.batch_size * 8 {
                    commit(store.as_mut(), &mut p, &metrics);
                }
            }
            Cmd::Swarm(u) => {
                p.swarms.push(u);
                p.note();
            }
            Cmd::Block(hashes, at) => {
                commit(store.as_mut(), &mut p, &metrics);
                if let Err(e) = store.block(&hashes, at) {
                    metrics.store_errors.inc();
                    tracing::error!("store block failed: {e}");
                }
                count_torrents(store.as_ref(), &metrics);
            }
            Cmd::Run(f) => {
                commit(store.as_mut(), &mut p, &metrics);
                f(store.as_mut());
                // A job may delete (purges, eviction) or insert.
                count_torrents(store.as_ref(), &metrics);
            }
            Cmd::Flush(reply) => {
                commit(store.as_mut(), &mut p, &metrics);
                let _ = reply.send(());
            }
            Cmd::Stop => break,
        }
    }
    commit(store.as_mut(), &mut p, &metrics);
    store
}

/// Waits up to `d` for a command, on the thread's own single-threaded timer runtime.
fn recv_timeout(
    rt: &tokio::runtime::Runtime,
    rx: &mut mpsc::Receiver<Cmd>,
    d: Duration,
) -> Result<Option<Cmd>, ()> {
    rt.block_on(async { tokio::time::timeout(d, rx.recv()).await })
        .map_err(|_| ())
}

/// Sets the `bitagent_store_torrents` gauge from the store's exact count, after every command
/// that can change it (inserts, blocks, maintenance jobs): deletions by other paths (eviction,
/// purges, `bitagent block` in another process) lower it too.
fn count_torrents(store: &dyn Store, metrics: &Metrics) {
    match store.torrent_count() {
        Ok(n) => metrics
            .store_torrents
            .set(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => {
            metrics.store_errors.inc();
            tracing::warn!("store count failed: {e}");
        }
    }
}

fn commit(store: &mut dyn Store, p: &mut Pending, metrics: &Metrics) {
    p.since = None;
    if p.is_empty() {
        return;
    }
    if !p.records.is_empty() {
        let mut result = store.put_batch(&p.records);
        if let Err(e) = &result {
            tracing::warn!("store batch of {} failed, retrying: {e}", p.records.len());
            metrics.store_errors.inc();
            result = store.put_batch(&p.records);
        }
        match result {
            Ok(out) => {
                metrics.store_batches.inc();
                let written = out.inserted + out.updated;
                metrics.persisted.with("torrent").add(written as u64);
                let cap = store.file_cap();
                let files: usize = p.records.iter().map(|r| r.files.len().min(cap)).sum();
                metrics.persisted.with("file").add(files as u64);
                if out.inserted > 0 {
                    count_torrents(store, metrics);
                }
            }
            Err(e) => {
                metrics.store_errors.inc();
                tracing::error!("store batch of {} records dropped: {e}", p.records.len());
            }
        }
        p.records.clear();
    }
    if !p.touches.is_empty() {
        // Group by time (one call per distinct second; usually one or two).
        p.touches.sort_unstable_by_key(|(_, t)| *t);
        for chunk in p.touches.chunk_by(|a, b| a.1 == b.1) {
            let hashes: Vec<InfoHash> = chunk.iter().map(|(h, _)| *h).collect();
            match store.touch(&hashes, chunk[0].1) {
                Ok(n) => metrics.touched.add(n as u64),
                Err(e) => {
                    metrics.store_errors.inc();
                    tracing::warn!("store touch failed: {e}");
                }
            }
        }
        p.touches.clear();
    }
    if !p.swarms.is_empty() {
        match store.update_swarm(&p.swarms) {
            Ok(_) => {}
            Err(e) => {
                metrics.store_errors.inc();
                tracing::warn!("store swarm update failed: {e}");
            }
        }
        p.swarms.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::SqliteStore;

    fn record(i: u8) -> TorrentRecord {
        TorrentRecord {
            info_hash: InfoHash::v1([i; 20]),
            name: format!("torrent {i}"),
            total_size: 10,
            files: vec![store::FileEntry {
                path: format!("torrent {i}"),
                size: 10,
            }],
            file_count: 1,
            private: false,
            piece_length: Some(16384),
            meta_version: None,
            seen_at: 1_700_000_000,
            seeders: None,
            leechers: None,
            scraped_at: None,
            ..TorrentRecord::default()
        }
    }

    #[tokio::test]
    async fn batches_commit_on_size_time_flush_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        let metrics = Arc::new(Metrics::default());
        let cfg = WriterConfig {
            batch_size: 3,
            max_delay: Duration::from_millis(50),
            queue: 16,
        };
        let (writer, h) = Writer::spawn(Box::new(store), cfg, metrics.clone());
        let reader = SqliteStore::open(&path).unwrap();
        // Size: three records make a batch.
        for i in 1..=3 {
            h.put(record(i)).await.unwrap();
        }
        // Known answers only what is committed; wait for the batch with a flush.
        h.flush().await.unwrap();
        assert_eq!(metrics.persisted.with("torrent").get(), 3);
        assert_eq!(
            h.known(vec![InfoHash::v1([1; 20]), InfoHash::v1([9; 20])])
                .await
                .unwrap(),
            vec![true, false]
        );
        // Time: one record commits by itself after max_delay (awaited via a reader poll,
        // bounded).
        h.put(record(4)).await.unwrap();
        let mut seen = false;
        for _ in 0..200 {
            if reader.get(&InfoHash::v1([4; 20])).unwrap().is_some() {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(seen, "a lone record was committed by the max_delay timer");
        // Drop: the last record is committed when the handle goes away.
        h.put(record(5)).await.unwrap();
        drop(h);
        let store = writer.join();
        assert!(store.get(&InfoHash::v1([5; 20])).unwrap().is_some());
        assert_eq!(metrics.persisted.with("torrent").get(), 5);
        assert_eq!(metrics.store_torrents.get(), 5);
        assert!(store.integrity_check().unwrap().is_empty());
    }

    /// The gauge follows every change of the count, down as well as up: blocks and
    /// maintenance jobs (purges, eviction) lower it (it used to only grow).
    #[tokio::test]
    async fn store_torrents_gauge_follows_deletions() {
        let metrics = Arc::new(Metrics::default());
        let store = SqliteStore::open_in_memory().unwrap();
        let (writer, h) = Writer::spawn(Box::new(store), WriterConfig::default(), metrics.clone());
        for i in 1..=5 {
            h.put(record(i)).await.unwrap();
        }
        h.flush().await.unwrap();
        assert_eq!(metrics.store_torrents.get(), 5);
        h.block(vec![InfoHash::v1([1; 20])], 1).await.unwrap();
        h.flush().await.unwrap();
        assert_eq!(metrics.store_torrents.get(), 4);
        h.run(|store| {
            store
                .delete(&[InfoHash::v1([2; 20]), InfoHash::v1([3; 20])])
                .unwrap();
        })
        .await
        .unwrap();
        h.flush().await.unwrap();
        assert_eq!(metrics.store_torrents.get(), 2);
        // Eviction in a job: the gauge ends at what is left.
        h.run(|store| {
            store.evict_to_size(0, 1, false).unwrap();
        })
        .await
        .unwrap();
        h.flush().await.unwrap();
        assert_eq!(metrics.store_torrents.get(), 1);
        drop(h);
        assert_eq!(writer.join().torrent_count().unwrap(), 1);
    }
}
