//! A real server over a real SQLite file on loopback, for the web crate's tests.
//!
//! `TestServer::start(records, open_reads)` writes the records, binds 127.0.0.1:0 and serves;
//! writes go straight to a writable connection (what `bitagent serve` does through its writer
//! thread). Each test binary uses what it needs.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;
use store::{Classification, FileEntry, InfoHash, SqliteStore, Store, Torrent, TorrentRecord};
use web::{
    AppState, CrawlerStatus, Data, Explanation, HttpMetrics, Ops, OpsError, OpsFuture, Options,
    ReclassifyReport,
};

pub const KEY: &str = "test-key-0123456789";

/// Writes through one writable connection, on the blocking pool.
#[derive(Debug)]
pub struct DirectOps {
    store: Arc<Mutex<SqliteStore>>,
    pub crawler: Mutex<Option<CrawlerStatus>>,
}

impl Ops for DirectOps {
    fn delete_and_block(&self, hashes: Vec<InfoHash>) -> OpsFuture<usize> {
        let store = self.store.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.lock().unwrap().block(&hashes, 1_000))
                .await
                .unwrap()
                .map_err(|e| OpsError::Unavailable(e.to_string()))
        })
    }

    fn set_tags(&self, hash: InfoHash, tags: Vec<String>) -> OpsFuture<bool> {
        let store = self.store.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut s = store.lock().unwrap();
                let Some(t) = s.get(&hash)? else {
                    return Ok(false);
                };
                s.set_classification(&[Classification {
                    info_hash: hash,
                    content_type: t.content_type,
                    tags,
                    attributes: t.attributes,
                    rev: t.classified_rev.unwrap_or_default(),
                }])?;
                Ok(true)
            })
            .await
            .unwrap()
            .map_err(|e: store::Error| OpsError::Unavailable(e.to_string()))
        })
    }

    fn reclassify(&self) -> OpsFuture<ReclassifyReport> {
        Box::pin(async {
            Ok(ReclassifyReport {
                reclassified: 0,
                dropped: 0,
                rules_rev: "test".into(),
            })
        })
    }

    fn explain(&self, t: &Torrent) -> Explanation {
        Explanation {
            rules_rev: "test".into(),
            content_type: t.content_type.clone(),
            tags: t.tags.clone(),
            fired: vec!["test_rule".into()],
            drop: None,
            errors: Vec::new(),
        }
    }

    fn crawler(&self) -> Option<CrawlerStatus> {
        self.crawler.lock().unwrap().clone()
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub ops: Arc<DirectOps>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Stores `records` and serves them. `open_reads`: reads without a key.
    pub async fn start(records: &[TorrentRecord], open_reads: bool) -> Self {
        let mut options = Options::new(KEY);
        options.open_reads = open_reads;
        Self::start_with(records, options).await
    }

    pub async fn start_with(records: &[TorrentRecord], options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bitagent.sqlite3");
        let mut writer = SqliteStore::open(&path).unwrap();
        for chunk in records.chunks(500) {
            writer.put_batch(chunk).unwrap();
        }
        let ops = Arc::new(DirectOps {
            store: Arc::new(Mutex::new(writer)),
            crawler: Mutex::new(None),
        });
        let open_path = path.clone();
        let data = Data::new(
            Arc::new(move || Ok(Box::new(SqliteStore::open(&open_path)?) as Box<dyn Store>)),
            options.max_readers,
        );
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry);
        let state = AppState::new(data, ops.clone(), options, Arc::new(registry), http);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            web::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            dir,
            ops,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

/// A torrent record with the given name, size, seeders and classification.
pub fn record(
    n: u8,
    name: &str,
    size: u64,
    seeders: Option<u32>,
    content_type: Option<&str>,
) -> TorrentRecord {
    let mut h = [0u8; 20];
    h[0] = n;
    h[19] = 0xAB;
    TorrentRecord {
        info_hash: InfoHash::from_v1_slice(&h).unwrap(),
        name: name.to_owned(),
        total_size: size,
        files: vec![FileEntry {
            path: format!("{name}/file {n}.bin"),
            size,
        }],
        file_count: 1,
        private: false,
        piece_length: Some(1 << 18),
        meta_version: Some(1),
        seen_at: 1_700_000_000 + i64::from(n) * 3_600,
        seeders,
        leechers: seeders.map(|s| s / 2),
        scraped_at: seeders.map(|_| 1_700_000_000 + i64::from(n) * 3_600),
        content_type: content_type.map(str::to_owned),
        tags: Vec::new(),
        attributes: Vec::new(),
        classified_rev: Some("test".into()),
    }
}

/// A dozen torrents with hostile names among them (markup, quotes, CDATA end, RTL override).
pub fn corpus() -> Vec<TorrentRecord> {
    let mut v = vec![
        record(
            1,
            "Big Buck Bunny 1080p",
            700 << 20,
            Some(40),
            Some("movie"),
        ),
        record(
            2,
            "Big Buck Bunny 720p trailer",
            90 << 20,
            Some(3),
            Some("movie"),
        ),
        record(3, "Sintel 2160p HDR", 4 << 30, None, Some("movie")),
        record(
            4,
            "Ubuntu 24.04 desktop amd64",
            5 << 30,
            Some(900),
            Some("software"),
        ),
        record(
            5,
            "Debian 12 netinst",
            600 << 20,
            Some(120),
            Some("software"),
        ),
        record(
            6,
            "Some Show S01E02 720p",
            400 << 20,
            Some(12),
            Some("tv_show"),
        ),
        record(
            7,
            "Some Show S01E03 1080p",
            1 << 30,
            Some(0),
            Some("tv_show"),
        ),
        record(8, "<img src=x onerror=alert(1)>", 1 << 20, Some(1), None),
        record(9, "\"><svg onload=alert(2)>", 2 << 20, Some(2), None),
        record(
            10,
            "]]> & <details open ontoggle=alert(3)>",
            3 << 20,
            None,
            Some("music"),
        ),
        record(
            11,
            "evil\u{202e}4pm.exe 'quoted'",
            4 << 20,
            Some(5),
            Some("music"),
        ),
        record(
            12,
            "Jazz Collection FLAC",
            900 << 20,
            Some(7),
            Some("music"),
        ),
    ];
    v[0].attributes = vec![
        ("resolution".into(), "1080p".into()),
        ("year".into(), "2008".into()),
    ];
    v[5].attributes = vec![
        ("episode".into(), "2".into()),
        ("resolution".into(), "720p".into()),
        ("season".into(), "1".into()),
    ];
    v[0].tags = vec!["hd".into()];
    v
}
