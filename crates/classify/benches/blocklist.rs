//! Pre-fetch blocklist checks on one core: a 1,000,000-entry list, 1,000,000 infohashes
//! (1 in 16 blocked), each check including the SHA-256 of the infohash, as the crawler does it.
//!
//! Run: `cargo bench -p classify --bench blocklist`. Criterion groups first (`sha256 only`,
//! `lookup only`, `contains_infohash` one at a time and `contains_infohashes` in batches of
//! 100), then plain timed passes printing `RATES ... hashes/s` (target: at least
//! 1,000,000/s). `-- --test` runs a quick version.

use std::hint::black_box;
use std::time::{Duration, Instant};

use classify::blocklist::{BlockDigest, Blocklist, digest_of, hex_digest_line};
use criterion::{Criterion, Throughput};
use rand::{RngCore as _, SeedableRng as _};

/// Infohash number `n`: ChaCha8 (the generator of `testkit::seeded`, used directly because
/// classify is a leaf even in its benches) seeded with `n`, so the data is the same every run.
fn infohash(n: u64) -> [u8; 20] {
    let mut out = [0u8; 20];
    rand_chacha::ChaCha8Rng::seed_from_u64(n).fill_bytes(&mut out);
    out
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let entries: u64 = if quick { 10_000 } else { 1_000_000 };
    let lookups: u64 = if quick { 10_000 } else { 1_000_000 };

    // The list goes through the real text path: write a file, load it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    let mut text = String::with_capacity(entries as usize * 65 + 64);
    text.push_str("# benchmark list\n");
    for n in 0..entries {
        text.push_str(&hex_digest_line(&infohash(n)));
        text.push('\n');
    }
    std::fs::write(&path, &text).unwrap();
    drop(text);
    let started = Instant::now();
    let list = Blocklist::load(&[path]).unwrap();
    let load = started.elapsed();
    assert_eq!(list.len() as u64, entries);

    // 1 in 16 queried hashes is on the list; the rest are not.
    let queries: Vec<[u8; 20]> = (0..lookups)
        .map(|i| {
            if i % 16 == 0 {
                infohash((i * 7919) % entries)
            } else {
                infohash(u64::MAX / 2 + i)
            }
        })
        .collect();
    let digests: Vec<BlockDigest> = queries.iter().map(digest_of).collect();
    let expected_hits = queries.len().div_ceil(16);
    assert_eq!(
        queries.iter().filter(|q| list.contains_infohash(q)).count(),
        expected_hits
    );

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .configure_from_args();
    let mut g = c.benchmark_group("blocklist");
    g.throughput(Throughput::Elements(lookups));
    g.bench_function("sha256 only", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(digest_of(q));
            }
        })
    });
    g.bench_function("lookup only (digest given)", |b| {
        b.iter(|| digests.iter().filter(|d| list.contains_digest(d)).count())
    });
    g.bench_function(format!("contains_infohash, {entries}-entry list"), |b| {
        b.iter(|| queries.iter().filter(|q| list.contains_infohash(q)).count())
    });
    g.bench_function("contains_infohashes, batches of 100", |b| {
        b.iter(|| {
            queries
                .chunks(100)
                .map(|c| list.contains_infohashes(c).iter().filter(|&&x| x).count())
                .sum::<usize>()
        })
    });
    g.finish();
    c.final_summary();

    // One plain timed pass, for BENCHMARKS.md.
    let reps = if quick { 1 } else { 5 };
    let mut best = Duration::MAX;
    for _ in 0..reps {
        let started = Instant::now();
        let hits = queries
            .iter()
            .filter(|q| list.contains_infohash(black_box(q)))
            .count();
        best = best.min(started.elapsed());
        assert_eq!(hits, expected_hits);
    }
    let mut best_batch = Duration::MAX;
    for _ in 0..reps {
        let started = Instant::now();
        let hits: usize = queries
            .chunks(100)
            .map(|c| {
                list.contains_infohashes(black_box(c))
                    .iter()
                    .filter(|&&x| x)
                    .count()
            })
            .sum();
        best_batch = best_batch.min(started.elapsed());
        assert_eq!(hits, expected_hits);
    }
    println!(
        "RATES blocklist batches of 100: {:.2} M hashes/s ({:.0} ns each)",
        lookups as f64 / best_batch.as_secs_f64() / 1e6,
        best_batch.as_nanos() as f64 / lookups as f64
    );
    let rate = lookups as f64 / best.as_secs_f64();
    println!(
        "RATES blocklist: {entries} entries loaded in {:.0} ms; {lookups} checks (SHA-256 + \
         lookup, 1 in 16 blocked) in {:.0} ms on one core: {:.2} M hashes/s ({:.0} ns each); \
         target >= 1 M/s: {}",
        load.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e3,
        rate / 1e6,
        best.as_nanos() as f64 / lookups as f64,
        if rate >= 1e6 { "met" } else { "MISSED" }
    );
}
