//! The store at scale: ingest throughput, bytes per torrent and search latency over realistic
//! synthetic torrents (`synth`: release-style names and file trees, 1 to ~100 files,
//! now and then a few hundred), at 100 k and 1 M torrents, on disk (WAL,
//! `synchronous=NORMAL`) as the crawler runs it.
//!
//! ```sh
//! bench/store.sh                                   # 100 k, then the same database grown to 1 M
//! cargo bench -p store --bench scale -- --sizes 100000
//! cargo bench -p store --bench scale -- --sizes 100000 --only one,type
//! ```
//!
//! Options (after `--`): `--sizes N,M,..` (ascending; the database grows from one to the
//! next), `--batch N` (records per `put_batch`, default 1,000), `--queries N` (per kind,
//! default 200), `--repeat N` (timed runs per query, default 3), `--only
//! ingest,one,two,three,type,words_type` (what to print), `--seed N`, `--json FILE` (default
//! `bench/results/store.json`; `-` for none), `--tables` (per-table sizes), `--mmap MIB`
//! (the searching connection's `SqliteOptions::mmap_mib`), `--wal-kib KIB` (the writer's
//! `SqliteOptions::wal_autocheckpoint_kib`), `--crawler-segment N` (see below; 0: none).
//! For profiling: `--db /abs/path.db` keeps the database, and a later run with the same
//! path reuses it instead of ingesting again (`--vocab N`: query words from the first N
//! torrents only). Without `--bench` (as `cargo test --benches` runs it) it does a quick
//! 2,000/5,000 pass.
//!
//! **Ingest.** Torrents are generated on a second thread (never timed) and written with
//! `put_batch` in batches of `--batch`, one transaction each; only `put_batch` is timed.
//! Content type = the generator's `kind`; tags and a `resolution` attribute are derived from
//! the name the way the default rules would (`4k`, `hd`, `lossless`, `season_pack`,
//! `private`); infohashes are uniformly random (as real ones are). While growing to the
//! second size, the first 100,000 torrents go in batches of 256 (what the crawler's writer
//! uses), reported on their own line.
//!
//! **Size.** `(main file + WAL) / torrents` after a `TRUNCATE` checkpoint.
//!
//! **Search.** A separate connection (as `bitagent search` or an HTTP reader has), default
//! options, limit 20, `--queries` queries per kind. Each query runs once untimed (warm
//! cache), then `--repeat` times; its best time counts (the bench shares its machine, and
//! other work only ever adds time). The kinds:
//! - `one`: half the time a word drawn from a random stored name (so frequency-weighted:
//!   `1080p`, `x264`, `the` come up often), half the time a word drawn uniformly from the
//!   names' vocabulary (mostly rare: titles, groups, artists, CJK words);
//! - `two`, `three`: that many distinct words of one random stored name, in order (someone
//!   looking for a release they know);
//! - `type`: no words, a content type (the newest 20 of that type);
//! - `words_type`: a `one`-style word plus a content type (half the time the type of the
//!   torrent the word came from, else a random one).
//!
//! Query words come from the names of the first `min(size)` torrents, so every size holds
//! them.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::{FileEntry, InfoHash, SearchFilter, SqliteOptions, SqliteStore, Store, TorrentRecord};
use synth::{KINDS, SynthTorrent};

/// The crawler writer's batch size.
const CRAWLER_BATCH: usize = 256;
/// Hits per search, as `bitagent search` asks by default.
const LIMIT: usize = 20;
/// Base of `seen_at`.
const EPOCH: i64 = 1_700_000_000;

const SEARCH_KINDS: &[&str] = &["one", "two", "three", "type", "words_type"];

/// Issue 5's targets: ingest rate, and search p95 at a million torrents.
const INGEST_TARGET: f64 = 20_000.0;
const P95_TARGET_MS: f64 = 20.0;
const P95_TARGET_AT: u64 = 1_000_000;

/// What each search kind is, for the summary rows.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "one" => "one word",
        "two" => "two words",
        "three" => "three words",
        "type" => "content type only",
        _ => "one word + content type",
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line of the suite's summary (`bench/report.py` reads `rows`).
fn summary_row(
    figure: String,
    value: String,
    target: Option<(&str, bool)>,
    command: String,
) -> Value {
    let met = target.map(|(_, met)| met);
    if let Some((t, met)) = target {
        println!("   target {t}: {}", if met { "met" } else { "MISSED" });
    }
    json!({
        "figure": figure,
        "value": value,
        "target": target.map_or("-", |(t, _)| t),
        "met": met,
        "command": command,
    })
}

#[derive(Debug)]
struct Args {
    sizes: Vec<u64>,
    batch: usize,
    queries: usize,
    seed: u64,
    only: Vec<String>,
    json: Option<PathBuf>,
    db: Option<PathBuf>,
    tables: bool,
    /// Query words come from the first this many torrents (default: the first size).
    vocab: Option<u64>,
    /// Torrents written in crawler-sized batches when growing past the first size.
    crawler_segment: u64,
    /// Timed runs per query (its best counts).
    repeat: usize,
    /// `SqliteOptions::mmap_mib` of the searching connection.
    mmap_mib: u32,
    /// `SqliteOptions::wal_autocheckpoint_kib` of the writer (default: the store's).
    wal_kib: Option<u32>,
    /// The arguments as given (for the reproduce lines).
    given: Vec<String>,
}

impl Args {
    fn parse() -> Self {
        let mut bench = false;
        let mut a = Self {
            sizes: Vec::new(),
            batch: 1_000,
            queries: 200,
            seed: 5,
            only: Vec::new(),
            json: Some(PathBuf::from("bench/results/store.json")),
            db: None,
            tables: false,
            vocab: None,
            crawler_segment: 100_000,
            repeat: 3,
            mmap_mib: 0,
            wal_kib: None,
            given: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value =
                |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match arg.as_str() {
                "--bench" => {
                    bench = true;
                    continue;
                }
                "--sizes" => {
                    a.sizes = value("--sizes")
                        .split(',')
                        .map(|s| s.trim().replace('_', "").parse().expect("--sizes N,M"))
                        .collect();
                    a.given.push(format!("--sizes {}", join(&a.sizes)));
                }
                "--batch" => {
                    a.batch = value("--batch").parse().expect("--batch N");
                    a.given.push(format!("--batch {}", a.batch));
                }
                "--queries" => {
                    a.queries = value("--queries").parse().expect("--queries N");
                    a.given.push(format!("--queries {}", a.queries));
                }
                "--seed" => {
                    a.seed = value("--seed").parse().expect("--seed N");
                    a.given.push(format!("--seed {}", a.seed));
                }
                "--only" => {
                    a.only = value("--only").split(',').map(str::to_owned).collect();
                }
                "--json" => {
                    let v = value("--json");
                    a.json = (v != "-").then(|| PathBuf::from(v));
                }
                "--db" => a.db = Some(PathBuf::from(value("--db"))),
                "--tables" => a.tables = true,
                "--crawler-segment" => {
                    a.crawler_segment = value("--crawler-segment").parse().expect("N");
                    a.given
                        .push(format!("--crawler-segment {}", a.crawler_segment));
                }
                "--repeat" => {
                    a.repeat = value("--repeat").parse().expect("--repeat N");
                    a.given.push(format!("--repeat {}", a.repeat));
                }
                "--mmap" => {
                    a.mmap_mib = value("--mmap").parse().expect("--mmap MIB");
                    a.given.push(format!("--mmap {}", a.mmap_mib));
                }
                "--wal-kib" => {
                    let v: u32 = value("--wal-kib").parse().expect("--wal-kib KIB");
                    a.wal_kib = Some(v);
                    a.given.push(format!("--wal-kib {v}"));
                }
                "--vocab" => {
                    let v: u64 = value("--vocab").parse().expect("--vocab N");
                    a.vocab = Some(v);
                    a.given.push(format!("--vocab {v}"));
                }
                // Criterion-style flags cargo or users may pass.
                _ => {}
            }
        }
        if a.sizes.is_empty() {
            a.sizes = if bench {
                vec![100_000, 1_000_000]
            } else {
                vec![2_000, 5_000]
            };
        }
        if !bench {
            a.queries = a.queries.min(20);
            a.json = None;
        }
        assert!(
            a.sizes.windows(2).all(|w| w[0] < w[1]) && a.sizes[0] > 0,
            "--sizes must ascend"
        );
        assert!(a.batch > 0, "--batch must be positive");
        a
    }

    fn wants(&self, what: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == what)
    }

    /// The command that reproduces one figure alone.
    fn reproduce(&self, sizes: &[u64], only: &str) -> String {
        let mut cmd = format!("bench/store.sh --sizes {}", join(sizes));
        for g in &self.given {
            if !g.starts_with("--sizes") {
                cmd.push(' ');
                cmd.push_str(g);
            }
        }
        // Alone: print the figure, leave the suite's JSON as it is.
        cmd.push_str(" --json - --only ");
        cmd.push_str(only);
        cmd
    }
}

fn join(sizes: &[u64]) -> String {
    sizes
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// SplitMix64: the bench's own deterministic randomness.
#[derive(Debug, Clone)]
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A uniformly random infohash for torrent `n` of the run.
fn hash_of(seed: u64, n: u64) -> InfoHash {
    let mut m = Mix(seed.rotate_left(32) ^ n.wrapping_mul(0xd6e8_feb8_6659_fd93));
    let mut out = [0u8; 20];
    for chunk in out.chunks_mut(8) {
        let r = m.next().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    InfoHash::v1(out)
}

/// Tags and attributes the default rules would give (enough to make the tag and attribute
/// writes as costly as the crawler's).
fn classify(t: &SynthTorrent) -> (Vec<String>, Vec<(String, String)>) {
    let name = t.name.to_ascii_lowercase();
    let mut tags = Vec::new();
    let mut attributes = Vec::new();
    for (res, tag) in [
        ("2160p", "4k"),
        ("1080p", "hd"),
        ("720p", "hd"),
        ("480p", ""),
    ] {
        if name.contains(res) {
            if !tag.is_empty() {
                tags.push(tag.to_owned());
            }
            attributes.push(("resolution".to_owned(), res.to_owned()));
            break;
        }
    }
    if name.contains("flac") {
        tags.push("lossless".to_owned());
    }
    if t.kind == "tv" && t.files.len() > 3 {
        tags.push("season_pack".to_owned());
    }
    if t.private {
        tags.push("private".to_owned());
    }
    (tags, attributes)
}

fn record(seed: u64, n: u64, t: &SynthTorrent) -> TorrentRecord {
    let mut m = Mix(seed ^ n.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let (tags, attributes) = classify(t);
    // Seeders: heavy-tailed like real swarms (10^(4u²) - 1: median 9, 1 in 10 above 400,
    // a few near 10,000); a quarter never measured.
    let scraped = m.below(4) != 0;
    let u = (m.next() >> 11) as f64 / (1u64 << 53) as f64;
    let seeders = 10f64.powf(4.0 * u * u) as u64 - 1;
    TorrentRecord {
        info_hash: hash_of(seed, n),
        name: t.name.clone(),
        total_size: t.total_size(),
        file_count: t.files.len() as u64,
        files: t
            .files
            .iter()
            .map(|(path, size)| FileEntry {
                path: path.clone(),
                size: *size,
            })
            .collect(),
        private: t.private,
        piece_length: Some(t.piece_length),
        meta_version: None,
        seen_at: EPOCH + n as i64,
        seeders: scraped.then_some(seeders as u32),
        leechers: scraped.then_some((seeders / 3) as u32),
        scraped_at: scraped.then_some(EPOCH + n as i64),
        content_type: Some(t.kind.to_owned()),
        tags,
        attributes,
        classified_rev: Some("synth".to_owned()),
    }
}

/// What the generator thread hands over: records `first..first + len`, plus the names and
/// kinds of those below the vocabulary bound.
struct Batch {
    records: Vec<TorrentRecord>,
    names: Vec<(String, &'static str)>,
}

/// Generates torrents `from..to` in batches (sizes from `batch_of`, never crossing a mark)
/// on a second thread.
fn generator(
    seed: u64,
    from: u64,
    to: u64,
    vocab_below: u64,
    batch_of: impl Fn(u64) -> usize + Send + 'static,
    marks: Vec<u64>,
) -> mpsc::Receiver<Batch> {
    let (tx, rx) = mpsc::sync_channel(8);
    std::thread::spawn(move || {
        let mut g = synth::Generator::new(seed);
        for _ in 0..from {
            g.next_torrent();
        }
        let mut n = from;
        while n < to {
            let next_mark = marks.iter().copied().filter(|&m| m > n).min().unwrap_or(to);
            let len = (batch_of(n) as u64).min(next_mark.min(to) - n);
            let mut records = Vec::with_capacity(len as usize);
            let mut names = Vec::new();
            for i in n..n + len {
                let t = g.next_torrent();
                if i < vocab_below {
                    names.push((t.name.clone(), t.kind));
                }
                records.push(record(seed, i, &t));
            }
            n += len;
            if tx.send(Batch { records, names }).is_err() {
                return;
            }
        }
    });
    rx
}

/// One ingest segment's figures.
#[derive(Debug, Clone)]
struct Ingest {
    from: u64,
    to: u64,
    batch: usize,
    torrents: u64,
    file_rows: u64,
    put_secs: f64,
    wall_secs: f64,
}

impl Ingest {
    fn rate(&self) -> f64 {
        self.torrents as f64 / self.put_secs
    }

    fn json(&self) -> Value {
        json!({
            "from": self.from,
            "to": self.to,
            "batch": self.batch,
            "torrents": self.torrents,
            "file_rows": self.file_rows,
            "put_batch_seconds": round(self.put_secs, 3),
            "wall_seconds": round(self.wall_secs, 3),
            "torrents_per_sec": self.rate().round(),
            "file_rows_per_sec": (self.file_rows as f64 / self.put_secs).round(),
        })
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

/// Writes `from..to` into `store`, timing `put_batch` per segment boundary in `marks`.
#[allow(clippy::too_many_arguments)]
fn ingest(
    store: &mut SqliteStore,
    seed: u64,
    from: u64,
    to: u64,
    vocab_below: u64,
    batch_of: impl Fn(u64) -> usize + Send + Copy + 'static,
    marks: &[u64],
    names: &mut Vec<(String, &'static str)>,
) -> Vec<Ingest> {
    let rx = generator(seed, from, to, vocab_below, batch_of, marks.to_vec());
    let mut segments = Vec::new();
    let mut seg = Ingest {
        from,
        to: from,
        batch: batch_of(from),
        torrents: 0,
        file_rows: 0,
        put_secs: 0.0,
        wall_secs: 0.0,
    };
    let mut wall = Instant::now();
    let cap = store.file_cap();
    let mut n = from;
    let started = Instant::now();
    for b in rx {
        let t = Instant::now();
        let out = store.put_batch(&b.records).expect("put_batch");
        seg.put_secs += t.elapsed().as_secs_f64();
        assert_eq!(out.inserted, b.records.len(), "every torrent is new");
        seg.torrents += b.records.len() as u64;
        seg.file_rows += b
            .records
            .iter()
            .map(|r| r.files.len().min(cap) as u64)
            .sum::<u64>();
        names.extend(b.names);
        n += b.records.len() as u64;
        if n == to {
            // What the batches left in the WAL is part of their cost: write it back too.
            let t = Instant::now();
            store.checkpoint().expect("checkpoint");
            seg.put_secs += t.elapsed().as_secs_f64();
        }
        if marks.contains(&n) || n == to {
            seg.to = n;
            seg.wall_secs = wall.elapsed().as_secs_f64();
            segments.push(seg.clone());
            eprintln!(
                "  ingested {}..{} in batches of {}: {:.0} torrents/s ({:.1} s in put_batch, \
                 {:.1} s wall; {:.0} s so far)",
                seg.from,
                seg.to,
                seg.batch,
                seg.rate(),
                seg.put_secs,
                seg.wall_secs,
                started.elapsed().as_secs_f64()
            );
            seg = Ingest {
                from: n,
                to: n,
                batch: batch_of(n),
                torrents: 0,
                file_rows: 0,
                put_secs: 0.0,
                wall_secs: 0.0,
            };
            wall = Instant::now();
        }
    }
    assert_eq!(n, to, "generator stopped early");
    segments
}

/// Lowercased runs of letters and digits: close to FTS5's `unicode61` tokens (which also fold
/// diacritics; the store does that to queries too).
fn tokens(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// One query of a kind: words and an optional content type.
#[derive(Debug, Clone)]
struct Query {
    text: String,
    content_type: Option<String>,
}

/// `n` queries of each search kind, drawn from `names`.
fn queries(
    seed: u64,
    names: &[(String, &'static str)],
    n: usize,
) -> Vec<(&'static str, Vec<Query>)> {
    let mut m = Mix(seed ^ 0x0051_5545_5259);
    let vocab: Vec<String> = names
        .iter()
        .flat_map(|(name, _)| tokens(name))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let one = |m: &mut Mix| -> (String, &'static str) {
        let (name, kind) = &names[m.below(names.len())];
        if m.below(2) == 0 {
            let t = tokens(name);
            (t[m.below(t.len())].clone(), kind)
        } else {
            (
                vocab[m.below(vocab.len())].clone(),
                KINDS[m.below(KINDS.len())],
            )
        }
    };
    let words = |m: &mut Mix, k: usize| -> String {
        loop {
            let (name, _) = &names[m.below(names.len())];
            let mut t = tokens(name);
            let mut seen = std::collections::HashSet::new();
            t.retain(|w| seen.insert(w.clone()));
            if t.len() < k {
                continue;
            }
            // k distinct words in name order.
            let mut pick: Vec<usize> = Vec::new();
            while pick.len() < k {
                let i = m.below(t.len());
                if !pick.contains(&i) {
                    pick.push(i);
                }
            }
            pick.sort_unstable();
            return pick
                .iter()
                .map(|&i| t[i].as_str())
                .collect::<Vec<_>>()
                .join(" ");
        }
    };
    let mut out = Vec::new();
    for kind in SEARCH_KINDS {
        let qs: Vec<Query> = (0..n)
            .map(|_| match *kind {
                "one" => Query {
                    text: one(&mut m).0,
                    content_type: None,
                },
                "two" => Query {
                    text: words(&mut m, 2),
                    content_type: None,
                },
                "three" => Query {
                    text: words(&mut m, 3),
                    content_type: None,
                },
                "type" => Query {
                    text: String::new(),
                    content_type: Some(KINDS[m.below(KINDS.len())].to_owned()),
                },
                _ => {
                    let (w, kind) = one(&mut m);
                    let kind = if m.below(2) == 0 {
                        kind
                    } else {
                        KINDS[m.below(KINDS.len())]
                    };
                    Query {
                        text: w,
                        content_type: Some(kind.to_owned()),
                    }
                }
            })
            .collect();
        out.push((*kind, qs));
    }
    out
}

/// Latency figures of one kind at one size.
#[derive(Debug)]
struct Latency {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
    full: usize,
    slowest: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn run_queries(reader: &SqliteStore, qs: &[Query], repeat: usize) -> Latency {
    let run = |q: &Query| {
        let filter = SearchFilter {
            content_type: q.content_type.clone(),
            tag: None,
        };
        reader
            .search_filtered(&q.text, &filter, LIMIT)
            .expect("search")
    };
    for q in qs {
        std::hint::black_box(run(q));
    }
    // Each query's best of `repeat` timed runs: other work on a shared machine only ever
    // adds time, and a query is timed in several rounds so one noisy moment does not decide.
    let mut best = vec![Duration::MAX; qs.len()];
    let mut full = 0;
    for round in 0..repeat.max(1) {
        for (i, q) in qs.iter().enumerate() {
            let t = Instant::now();
            let hits = std::hint::black_box(run(q));
            best[i] = best[i].min(t.elapsed());
            if round == 0 {
                full += usize::from(hits.len() == LIMIT);
            }
        }
    }
    let times: Vec<(Duration, &Query)> = best.into_iter().zip(qs).collect();
    let mean = times.iter().map(|(d, _)| *d).sum::<Duration>() / times.len() as u32;
    let (slowest, q) = *times.iter().max_by_key(|(d, _)| *d).unwrap();
    let slowest = format!(
        "{:?}{} ({:.1} ms)",
        q.text,
        q.content_type
            .as_ref()
            .map(|t| format!(" type={t}"))
            .unwrap_or_default(),
        ms(slowest)
    );
    let mut sorted: Vec<Duration> = times.iter().map(|(d, _)| *d).collect();
    sorted.sort_unstable();
    Latency {
        p50: percentile(&sorted, 50.0),
        p95: percentile(&sorted, 95.0),
        p99: percentile(&sorted, 99.0),
        max: *sorted.last().unwrap(),
        mean,
        full,
        slowest,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

fn main() {
    let args = Args::parse();
    let total_started = Instant::now();
    let tmp;
    let db: PathBuf = match &args.db {
        Some(p) => p.clone(),
        None => {
            tmp = tempfile::tempdir().expect("tempdir");
            tmp.path().join("scale.db")
        }
    };
    let reuse = args.db.is_some() && db.exists();
    let defaults = SqliteOptions::default();
    let mut store = SqliteStore::open_with(
        &db,
        SqliteOptions {
            wal_autocheckpoint_kib: args.wal_kib.unwrap_or(defaults.wal_autocheckpoint_kib),
            ..defaults.clone()
        },
    )
    .expect("open");
    let mut have = store.stats().expect("stats").torrents;
    if have > 0 && !reuse {
        panic!("{} is not empty", db.display());
    }
    eprintln!(
        "store scale bench: sizes {}, batch {}, {} queries per kind, database {}{}",
        join(&args.sizes),
        args.batch,
        args.queries,
        db.display(),
        if reuse {
            format!(" (reused: {have} torrents)")
        } else {
            String::new()
        }
    );
    let vocab_below = args.vocab.unwrap_or(args.sizes[0]).min(args.sizes[0]);
    let mut names: Vec<(String, &'static str)> = Vec::new();
    if reuse {
        // The query vocabulary without ingesting: the same generator, names only.
        let mut g = synth::Generator::new(args.seed);
        names = (0..vocab_below)
            .map(|_| {
                let t = g.next_torrent();
                (t.name, t.kind)
            })
            .collect();
    }
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut table = Vec::new();
    let batch = args.batch;
    for (i, &size) in args.sizes.iter().enumerate() {
        let mut ingests = Vec::new();
        if have < size {
            assert!(
                !reuse || have == args.sizes[..i].last().copied().unwrap_or(0),
                "a reused database must hold exactly an earlier size ({have})"
            );
            // Growing past the first size: the first 100 k in crawler-sized batches.
            let crawler_to = if i > 0 {
                (have + args.crawler_segment).min(size)
            } else {
                have
            };
            let last_100k = size.saturating_sub(100_000).max(crawler_to);
            let mut marks = vec![crawler_to, last_100k];
            marks.retain(|&m| m > have && m < size);
            ingests = ingest(
                &mut store,
                args.seed,
                have,
                size,
                vocab_below,
                move |n| if n < crawler_to { CRAWLER_BATCH } else { batch },
                &marks,
                &mut names,
            );
            have = size;
        }
        store.checkpoint().expect("checkpoint");
        let stats = store.stats().expect("stats");
        assert_eq!(stats.torrents, size);
        let bytes = stats.db_bytes + stats.wal_bytes;
        let per_torrent = bytes as f64 / size as f64;
        let mut entry = json!({
            "torrents": size,
            "file_rows": stats.file_rows,
            "db_bytes": stats.db_bytes,
            "wal_bytes": stats.wal_bytes,
            "bytes_per_torrent": per_torrent.round(),
            "ingest": ingests.iter().map(Ingest::json).collect::<Vec<_>>(),
        });
        println!(
            "\n== {size} torrents: {} file rows, database {:.1} MiB = {:.0} bytes per torrent",
            stats.file_rows,
            mib(bytes),
            per_torrent
        );
        println!(
            "   reproduce: {}",
            args.reproduce(&args.sizes[..=i], "ingest")
        );
        if args.wants("ingest") {
            for s in &ingests {
                println!(
                    "   ingest {}..{} (batches of {}): {:.0} torrents/s, {:.0} file rows/s \
                     ({:.1} s in put_batch)",
                    s.from,
                    s.to,
                    s.batch,
                    s.rate(),
                    s.file_rows as f64 / s.put_secs,
                    s.put_secs
                );
                rows.push(summary_row(
                    format!(
                        "ingest {}..{} torrents, batches of {}",
                        thousands(s.from),
                        thousands(s.to),
                        thousands(s.batch as u64)
                    ),
                    format!(
                        "{} torrents/s ({} file rows/s)",
                        thousands(s.rate() as u64),
                        thousands((s.file_rows as f64 / s.put_secs) as u64)
                    ),
                    Some((">= 20,000/s", s.rate() >= INGEST_TARGET)),
                    args.reproduce(&args.sizes[..=i], "ingest"),
                ));
            }
            rows.push(summary_row(
                format!("database bytes per torrent at {}", thousands(size)),
                format!(
                    "{} B ({:.0} MiB, {} file rows)",
                    thousands(per_torrent as u64),
                    mib(bytes),
                    thousands(stats.file_rows)
                ),
                None,
                args.reproduce(&args.sizes[..=i], "ingest"),
            ));
        }
        if args.tables {
            let sizes = store.table_sizes().expect("table sizes");
            let tables: Vec<Value> = sizes
                .iter()
                .map(|t| {
                    println!(
                        "   {:<28} {:>8.1} MiB  {:>5.0} B/torrent",
                        t.name,
                        mib(t.bytes),
                        t.bytes as f64 / size as f64
                    );
                    json!({"name": t.name, "bytes": t.bytes})
                })
                .collect();
            entry["tables"] = Value::Array(tables);
        }
        // Searches through their own connection, as a reader process would.
        let reader = SqliteStore::open_with(
            &db,
            SqliteOptions {
                mmap_mib: args.mmap_mib,
                ..SqliteOptions::default()
            },
        )
        .expect("open reader");
        let mut search = serde_json::Map::new();
        let mut row = vec![size.to_string(), String::new(), format!("{per_torrent:.0}")];
        if let Some(last) = ingests.last() {
            row[1] = format!("{:.0}", last.rate());
        }
        for (kind, qs) in queries(args.seed, &names, args.queries) {
            if !args.wants(kind) {
                row.push(String::from("-"));
                continue;
            }
            let l = run_queries(&reader, &qs, args.repeat);
            println!(
                "   search {kind:<10} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.1} \
                 ms  mean {:>5.2} ms  ({} of {} full pages; slowest {})",
                ms(l.p50),
                ms(l.p95),
                ms(l.p99),
                ms(l.max),
                ms(l.mean),
                l.full,
                qs.len(),
                l.slowest
            );
            println!(
                "     reproduce: {}",
                args.reproduce(&args.sizes[..=i], kind)
            );
            row.push(format!(
                "{:.1} / {:.1} / {:.1}",
                ms(l.p50),
                ms(l.p95),
                ms(l.p99)
            ));
            rows.push(summary_row(
                format!(
                    "search, {} at {} torrents: p50 / p95 / p99",
                    kind_label(kind),
                    thousands(size)
                ),
                format!("{:.1} / {:.1} / {:.1} ms", ms(l.p50), ms(l.p95), ms(l.p99)),
                (size >= P95_TARGET_AT).then(|| ("p95 < 20 ms", ms(l.p95) < P95_TARGET_MS)),
                args.reproduce(&args.sizes[..=i], kind),
            ));
            search.insert(
                (*kind).to_owned(),
                json!({
                    "queries": qs.len(),
                    "p50_ms": round(ms(l.p50), 3),
                    "p95_ms": round(ms(l.p95), 3),
                    "p99_ms": round(ms(l.p99), 3),
                    "max_ms": round(ms(l.max), 3),
                    "mean_ms": round(ms(l.mean), 3),
                    "full_pages": l.full,
                    "slowest": l.slowest,
                }),
            );
        }
        entry["search"] = Value::Object(search);
        results.push(entry);
        table.push(row);
    }
    println!(
        "\n| torrents | ingest/s (last segment) | bytes/torrent | one word | two words | three \
         words | type only | word + type |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &table {
        println!("| {} |", row.join(" | "));
    }
    println!("(search cells: p50 / p95 / p99 ms, limit {LIMIT})");
    let total = total_started.elapsed().as_secs_f64();
    println!("total {total:.0} s");
    if let Some(path) = &args.json {
        write_json(
            path,
            &json!({
                "bench": "store scale",
                "command": format!("bench/store.sh {}", args.given.join(" "))
                    .trim_end()
                    .to_owned(),
                "batch": args.batch,
                "crawler_batch": CRAWLER_BATCH,
                "crawler_segment": args.crawler_segment,
                "search_window": store::sqlite::DEFAULT_SEARCH_WINDOW,
                "wal_autocheckpoint_kib": args.wal_kib.unwrap_or(defaults.wal_autocheckpoint_kib),
                "reader_mmap_mib": args.mmap_mib,
                "repeat": args.repeat,
                "cpus": std::thread::available_parallelism().map_or(0, usize::from),
                "queries_per_kind": args.queries,
                "limit": LIMIT,
                "seed": args.seed,
                "total_seconds": round(total, 1),
                "sizes": results,
                "rows": rows,
            }),
        );
    }
}

fn write_json(path: &Path, v: &Value) {
    // `cargo bench` runs in the crate's directory; a relative path is from the workspace.
    let path = if path.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    } else {
        path.to_path_buf()
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create results directory");
    }
    std::fs::write(&path, serde_json::to_string_pretty(v).expect("json") + "\n")
        .expect("write json");
    let path = path.canonicalize().unwrap_or(path);
    eprintln!("wrote {}", path.display());
}
