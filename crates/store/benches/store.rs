//! Store throughput on the SQLite backend, on disk (WAL, synchronous=NORMAL) as the crawler
//! runs it.
//!
//! Run: `cargo bench -p store --bench store`. Criterion groups first, then one plain timed
//! pass per operation printing per-op rates:
//! - `put_batch`: 1,000 new torrents × 10 files per transaction;
//! - `known`: 10,000 hashes (half stored) against 100,000 torrents;
//! - `search`: common-word queries (each ranks ~35% of the torrents: a worst case) and
//!   rare-word queries, limit 20, over 100,000 torrents;
//! - `search_filtered`: the same words restricted to a content type (1 in 5 torrents) or a
//!   tag (1 in 7), and filter-only listings (newest 20 of a type or a tag);
//! - `reclassify_batch`: pages of 500 torrents with files, as `bitagent reclassify` reads them;
//! - `evict_to_size` (plain pass only): one call evicting toward 80% of the read database's
//!   size, at the end (it changes the database).
//!
//! `cargo bench -p store -- --test` runs everything once on a 2,000-torrent database.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use store::{FileEntry, InfoHash, SearchFilter, SqliteStore, Store, TorrentRecord};
use testkit::TestRng;
use testkit::rng::{Rng as _, RngCore as _};
use testkit::store_conformance::test_hash;

const WORDS: &[&str] = &[
    "ubuntu",
    "debian",
    "linux",
    "desktop",
    "server",
    "amd64",
    "arm64",
    "iso",
    "live",
    "install",
    "album",
    "flac",
    "mp3",
    "live",
    "remaster",
    "deluxe",
    "edition",
    "season",
    "episode",
    "1080p",
    "720p",
    "2160p",
    "hdr",
    "x264",
    "x265",
    "web",
    "bluray",
    "documentary",
    "nature",
    "ocean",
    "space",
    "history",
    "lecture",
    "course",
    "python",
    "rust",
    "book",
    "epub",
    "pdf",
    "guide",
    "collection",
    "complete",
    "anthology",
    "vol",
    "part",
    "archive",
    "backup",
    "dataset",
    "photos",
    "wallpapers",
    "game",
    "soundtrack",
    "original",
    "classic",
    "jazz",
    "piano",
    "orchestra",
    "opera",
    "drama",
    "comedy",
    "thriller",
    "mystery",
    "science",
    "fiction",
    "fantasy",
    "adventure",
    "kids",
    "cartoon",
    "anime",
    "manga",
    "sports",
    "football",
    "tennis",
    "chess",
    "cooking",
    "travel",
];

/// A word of [`WORDS`], drawn from the bench's seeded RNG (the data is the same every run).
fn word(rng: &mut TestRng) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

fn record(n: u64, rng: &mut TestRng) -> TorrentRecord {
    // Three common words (each in ~4% of names) and one rare one (`r0`..`r9999`).
    let name = format!(
        "{} {} {} r{} {n}",
        word(rng),
        word(rng),
        word(rng),
        rng.next_u64() % 10_000
    );
    let files: Vec<FileEntry> = (0..10)
        .map(|i| FileEntry {
            path: format!("{}/{} {i:02}.{}", word(rng), word(rng), word(rng)),
            size: rng.next_u64() % (1 << 30),
        })
        .collect();
    TorrentRecord {
        info_hash: test_hash(n),
        name,
        total_size: files.iter().map(|f| f.size).sum(),
        file_count: files.len() as u64,
        files,
        private: false,
        piece_length: Some(1 << 20),
        meta_version: None,
        seen_at: 1_700_000_000 + n as i64,
        seeders: Some((n % 50) as u32),
        leechers: Some((n % 7) as u32),
        scraped_at: Some(1_700_000_000),
        content_type: Some(TYPES[(n % TYPES.len() as u64) as usize].to_owned()),
        tags: [(n.is_multiple_of(3), "hd"), (n.is_multiple_of(7), "new")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, t)| (*t).to_owned())
            .collect(),
        classified_rev: Some("bench".into()),
        ..TorrentRecord::default()
    }
}

/// Content types, one in five torrents each.
const TYPES: &[&str] = &["movie", "tv", "music", "software", "book"];

fn by(content_type: Option<&str>, tag: Option<&str>) -> SearchFilter {
    SearchFilter {
        content_type: content_type.map(str::to_owned),
        tag: tag.map(str::to_owned),
    }
}

fn batch(from: u64, len: u64, rng: &mut TestRng) -> Vec<TorrentRecord> {
    (from..from + len).map(|n| record(n, rng)).collect()
}

/// A store at `dir` holding torrents 0..n.
fn filled(dir: &std::path::Path, n: u64) -> SqliteStore {
    let mut store = SqliteStore::open(dir.join("bench.db")).unwrap();
    let mut rng = testkit::seeded(0x5eed);
    let started = Instant::now();
    for from in (0..n).step_by(1_000) {
        store
            .put_batch(&batch(from, 1_000.min(n - from), &mut rng))
            .unwrap();
    }
    let s = store.stats().unwrap();
    eprintln!(
        "filled {n} torrents in {:.1?}: {} file rows, {:.1} MiB",
        started.elapsed(),
        s.file_rows,
        s.db_bytes as f64 / (1 << 20) as f64
    );
    store
}

/// Half stored (even numbers below `stored`), half not.
fn known_query(stored: u64) -> Vec<InfoHash> {
    (0..10_000u64)
        .map(|i| {
            if i % 2 == 0 {
                test_hash((i * 7) % stored)
            } else {
                test_hash(10_000_000 + i)
            }
        })
        .collect()
}

/// Common words: each in about a third of the torrents (names and paths share a 77-word
/// vocabulary), so every query ranks tens of thousands of matches; a worst case.
const COMMON: &[&str] = &["ubuntu", "flac album", "season 1080p", "classic jazz piano"];
/// Rare words (`rN` is in ~10 names): what a real query over real names mostly looks like.
const RARE: &[&str] = &["r1234", "r42 flac", "r9876", "r5000 r5001"];

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    let started = Instant::now();
    for _ in 0..reps {
        black_box(f());
    }
    started.elapsed() / reps as u32
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let size: u64 = if quick { 2_000 } else { 100_000 };
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(10)
        .configure_from_args();

    // Writes go to their own database, so reads always see exactly `size` torrents.
    let put_dir = tempfile::tempdir().unwrap();
    let mut writer = SqliteStore::open(put_dir.path().join("put.db")).unwrap();
    let read_dir = tempfile::tempdir().unwrap();
    let store = filled(read_dir.path(), size);
    let mut rng = testkit::seeded(0xfeed);
    let mut next = 1_000_000_000u64;

    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("put_batch 1000x10 files", |b| {
        b.iter_batched(
            || {
                next += 1_000;
                batch(next, 1_000, &mut rng)
            },
            |recs| writer.put_batch(&recs).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    let query = known_query(size);
    g.throughput(Throughput::Elements(query.len() as u64));
    g.bench_function("known 10000", |b| {
        b.iter(|| black_box(store.known(&query).unwrap()))
    });
    for (label, queries) in [("common", COMMON), ("rare", RARE)] {
        g.throughput(Throughput::Elements(queries.len() as u64));
        g.bench_function(format!("search {label} limit 20"), |b| {
            b.iter(|| {
                for q in queries {
                    black_box(store.search(q, 20).unwrap());
                }
            })
        });
    }
    let filters = [
        ("type", by(Some("movie"), None)),
        ("tag", by(None, Some("new"))),
    ];
    for (label, queries) in [("common", COMMON), ("rare", RARE)] {
        for (what, filter) in &filters {
            g.throughput(Throughput::Elements(queries.len() as u64));
            g.bench_function(format!("search_filtered {label} + {what} limit 20"), |b| {
                b.iter(|| {
                    for q in queries {
                        black_box(store.search_filtered(q, filter, 20).unwrap());
                    }
                })
            });
        }
    }
    g.throughput(Throughput::Elements(1));
    for (what, filter) in &filters {
        g.bench_function(format!("list newest 20 by {what}"), |b| {
            b.iter(|| black_box(store.search_filtered("", filter, 20).unwrap()))
        });
    }
    g.throughput(Throughput::Elements(500));
    g.bench_function("reclassify_batch 500", |b| {
        b.iter(|| black_box(store.reclassify_batch("other", None, 500).unwrap()))
    });
    g.finish();
    c.final_summary();

    // One plain timed pass each, for BENCHMARKS-style numbers.
    let reps = if quick { 1 } else { 10 };
    // Records are made before the clock starts: only put_batch is timed.
    let mut batches: Vec<Vec<TorrentRecord>> = (0..reps)
        .map(|_| {
            next += 1_000;
            batch(next, 1_000, &mut rng)
        })
        .collect();
    let put = time(reps, || writer.put_batch(&batches.pop().unwrap()).unwrap());
    let known = time(reps, || store.known(&query).unwrap());
    let common = time(reps, || {
        for q in COMMON {
            black_box(store.search(q, 20).unwrap());
        }
    }) / COMMON.len() as u32;
    let rare = time(reps, || {
        for q in RARE {
            black_box(store.search(q, 20).unwrap());
        }
    }) / RARE.len() as u32;
    let filtered_common = time(reps, || {
        for q in COMMON {
            black_box(store.search_filtered(q, &filters[0].1, 20).unwrap());
        }
    }) / COMMON.len() as u32;
    let filtered_rare = time(reps, || {
        for q in RARE {
            black_box(store.search_filtered(q, &filters[1].1, 20).unwrap());
        }
    }) / RARE.len() as u32;
    let listing = time(reps, || {
        store.search_filtered("", &filters[1].1, 20).unwrap()
    });
    let stats = store.stats().unwrap();
    println!(
        "RATES search_filtered common + type {:.1} ms, rare + tag {:.2} ms, list newest 20 \
         by tag {:.2} ms",
        filtered_common.as_secs_f64() * 1e3,
        filtered_rare.as_secs_f64() * 1e3,
        listing.as_secs_f64() * 1e3,
    );
    println!(
        "RATES put_batch {:.0} torrents/s ({:.1} ms per 1000x10 files); on {} torrents \
         ({:.0} MiB): known {:.0} hashes/s ({:.1} ms per 10000), search common {:.1} ms \
         ({:.0}/s), search rare {:.2} ms ({:.0}/s)",
        1_000.0 / put.as_secs_f64(),
        put.as_secs_f64() * 1e3,
        stats.torrents,
        stats.db_bytes as f64 / (1 << 20) as f64,
        10_000.0 / known.as_secs_f64(),
        known.as_secs_f64() * 1e3,
        common.as_secs_f64() * 1e3,
        1.0 / common.as_secs_f64(),
        rare.as_secs_f64() * 1e3,
        1.0 / rare.as_secs_f64(),
    );
    let mut store = store;
    let started = Instant::now();
    let out = store
        .evict_to_size(stats.db_bytes / 5 * 4, 20_000, false)
        .unwrap();
    let took = started.elapsed();
    println!(
        "RATES evict_to_size: {} torrents in {:.0} ms ({:.0} torrents/s), data {:.1} -> {:.1} \
         MiB, file {:.1} MiB",
        out.evicted,
        took.as_secs_f64() * 1e3,
        out.evicted as f64 / took.as_secs_f64(),
        out.bytes_before as f64 / (1 << 20) as f64,
        out.bytes_after as f64 / (1 << 20) as f64,
        out.file_bytes as f64 / (1 << 20) as f64,
    );
}
