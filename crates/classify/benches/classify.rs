//! Post-fetch classification throughput with the default rules on one core, over the labelled
//! corpus (cycled). Target: at least 20,000 torrents/s.
//!
//! `cargo bench -p classify --bench classify`

use classify::rules::{RuleSet, TorrentFacts};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;

fn corpus() -> Vec<TorrentFacts> {
    include_str!("../tests/corpus.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let files = v["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| {
                    (
                        f["path"].as_str().expect("path").to_string(),
                        f["size"].as_u64().expect("size"),
                    )
                })
                .collect();
            TorrentFacts::new(v["name"].as_str().expect("name"), files)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::load(None).expect("defaults");
    let corpus = corpus();

    // A plain figure too, printed once: torrents/s over several passes of the corpus.
    let passes = 20;
    let start = Instant::now();
    for _ in 0..passes {
        for t in &corpus {
            black_box(rules.classify(black_box(t)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "classify (default rules): {:.0} torrents/s ({} torrents in {:.3} s, target 20,000/s)",
        (passes * corpus.len()) as f64 / secs,
        passes * corpus.len(),
        secs
    );

    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(corpus.len() as u64));
    g.bench_function("default_rules_corpus", |b| {
        b.iter(|| {
            for t in &corpus {
                black_box(rules.classify(black_box(t)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
