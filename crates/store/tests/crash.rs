//! kill -9 at random moments leaves a consistent database that resumes.
//!
//! The parent test re-executes this test binary as a child (`crash_child`, a no-op unless
//! `BITAGENT_STORE_CRASH_DB` is set) that writes batches to an on-disk database in a loop and
//! prints `COMMITTED <batch>` after each commit. The parent SIGKILLs the child (by the pid it
//! spawned) after a seeded random delay, then opens the database: `integrity_check` must be
//! clean, every reported batch must be present and complete, and the batch in flight must be
//! all there or not at all. The next round resumes writing into the same file.
//!
//! Seed: a new one each run (from the clock: every run tries other kill moments), printed
//! either way; `BITAGENT_TEST_SEED=<n>` replays one (`testkit::rng`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store::{FileEntry, InfoHash, SqliteStore, Store, SwarmUpdate, TorrentRecord};
use testkit::rng::Rng as _;
use testkit::store_conformance::test_hash;

const DB_ENV: &str = "BITAGENT_STORE_CRASH_DB";
const START_ENV: &str = "BITAGENT_STORE_CRASH_START";
const ROUNDS: usize = 6;
const PER_BATCH: u64 = 40;
const FILES: usize = 20;

fn item_hash(batch: u64, j: u64) -> InfoHash {
    test_hash(batch * 1_000 + j)
}

fn batch(b: u64) -> Vec<TorrentRecord> {
    (0..PER_BATCH)
        .map(|j| TorrentRecord {
            info_hash: item_hash(b, j),
            name: format!("crash batch {b} item {j}"),
            total_size: FILES as u64 * 1000,
            files: (0..FILES)
                .map(|f| FileEntry {
                    path: format!("dir {b}/file {j}-{f}.bin"),
                    size: 1000,
                })
                .collect(),
            file_count: FILES as u64,
            private: false,
            piece_length: Some(16_384),
            meta_version: None,
            seen_at: 1_000 + b as i64,
            seeders: None,
            leechers: None,
            scraped_at: None,
            ..TorrentRecord::default()
        })
        .collect()
}

/// The child: write batches from `START` on until killed (or 60 s, as a safety net).
#[test]
fn crash_child() {
    let Ok(db) = std::env::var(DB_ENV) else {
        return;
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let mut store = SqliteStore::open(&db).unwrap();
    let began = Instant::now();
    for b in start.. {
        store.put_batch(&batch(b)).unwrap();
        let swarm: Vec<SwarmUpdate> = (0..PER_BATCH)
            .map(|j| SwarmUpdate {
                info_hash: item_hash(b, j),
                seeders: j as u32,
                leechers: 1,
                scraped_at: 2_000 + b as i64,
            })
            .collect();
        store.update_swarm(&swarm).unwrap();
        println!("COMMITTED {b}");
        if began.elapsed() > Duration::from_secs(60) {
            return;
        }
    }
}

/// Spawns the child on `db` from batch `start`, kills it after `delay`, returns the last batch
/// it reported committed.
fn run_child(db: &Path, start: u64, delay: Duration) -> Option<u64> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(DB_ENV, db)
        .env(START_ENV, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut last = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(Ok(n)) = line
                .strip_prefix("COMMITTED ")
                .map(|n| n.trim().parse::<u64>())
            {
                last = Some(n);
            }
        }
        last
    });
    std::thread::sleep(delay);
    // SIGKILL on Unix, to the pid we spawned.
    let _ = child.kill();
    let status = child.wait().unwrap();
    let last = reader.join().unwrap();
    eprintln!(
        "  child from batch {start}, killed after {delay:?} ({status}); last reported {last:?}"
    );
    last
}

fn present(store: &SqliteStore, b: u64) -> usize {
    let hashes: Vec<InfoHash> = (0..PER_BATCH).map(|j| item_hash(b, j)).collect();
    store.known(&hashes).unwrap().iter().filter(|k| **k).count()
}

#[test]
fn kill_9_leaves_a_consistent_database() {
    let seed = testkit::rng::seed_or(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    eprintln!("crash test seed: {seed} (replay with BITAGENT_TEST_SEED={seed})");
    let _guard = testkit::SeedGuard::new("kill_9_leaves_a_consistent_database", seed);
    let mut rng = testkit::seeded(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut next = 0u64; // first batch not yet known to be complete
    let mut kills_mid_batch = 0;
    for round in 0..ROUNDS {
        // Round 0 may die during creation and migration; later rounds mid-stream.
        let delay = Duration::from_millis(if round == 0 {
            rng.random_range(0..60)
        } else {
            rng.random_range(100..500)
        });
        let reported = run_child(&db, next, delay);
        if !db.exists() {
            continue;
        }
        let store = SqliteStore::open(&db).unwrap();
        let problems = store.integrity_check().unwrap();
        assert!(
            problems.is_empty(),
            "seed {seed} round {round}: {problems:?}"
        );
        let done = reported.map_or(next, |r| r + 1);
        for b in 0..done {
            assert_eq!(
                present(&store, b),
                PER_BATCH as usize,
                "seed {seed}: reported batch {b} incomplete"
            );
        }
        // The batch in flight: all or nothing.
        let in_flight = present(&store, done);
        assert!(
            in_flight == 0 || in_flight == PER_BATCH as usize,
            "seed {seed}: batch {done} half-written ({in_flight})"
        );
        if in_flight == 0 {
            kills_mid_batch += 1;
        }
        // Complete means complete: files and swarm of every reported batch.
        for b in 0..done {
            let t = store.get(&item_hash(b, PER_BATCH - 1)).unwrap().unwrap();
            assert_eq!((t.files.len(), t.file_count), (FILES, FILES as u64));
            assert_eq!(
                t.scraped_at,
                Some(2_000 + b as i64),
                "seed {seed}: batch {b} swarm lost"
            );
        }
        let stats = store.stats().unwrap();
        assert!(stats.torrents >= done * PER_BATCH);
        drop(store);
        // Resume after the last reported batch; a committed-but-unreported one is re-upserted.
        next = done;
    }
    eprintln!(
        "crash test: {ROUNDS} kills, {next} batches verified, {kills_mid_batch} rounds with the in-flight batch absent"
    );
    assert!(next > 0, "seed {seed}: the child never committed anything");
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.search("crash batch", 5).unwrap().len(), 5);
}
