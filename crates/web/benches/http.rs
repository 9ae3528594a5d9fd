//! Search through HTTP at a million torrents: latency by query kind (API and Torznab) next to
//! the same query in process, and throughput at 16 concurrent clients.
//!
//! ```sh
//! bench/http.sh                                         # builds/reuses the 1 M database
//! cargo bench -p web --bench http -- --db /abs/store.db --queries 200 --clients 16
//! ```
//!
//! The database comes from the store's scale bench (`--db`: built once, then reused). The
//! server runs in this process on 127.0.0.1 with the production router and layers (auth
//! open, the per-IP search rate lifted: every client here is 127.0.0.1), reading through
//! its pool of connections; clients are reqwest with keep-alive.
//!
//! **Latency.** For each kind, `--queries` queries; each runs once untimed (warm cache) and
//! then `--repeat` times, best time kept (the machine is shared: other work only adds time),
//! in process (`Store::search_page` on a connection of its own, counts on, as the API asks)
//! and through HTTP (`GET /api/v1/search`, and Torznab `t=search` for the word kinds). The
//! kinds: `one`, `two`, `three` words of a stored name; `type` (one word + a content type);
//! `range` (one word + `min_size=1G`); `seeders` (one word, sorted by seeders). Targets: HTTP
//! p95 < 25 ms, and at most 1.3x the same kind's in-process p95 (a ratio measured in the same
//! run, since machines differ by 2x).
//!
//! **Throughput.** `--clients` tasks each send one search after another (words drawn from the
//! same pool, all kinds mixed) for `--duration` seconds; searches/s over the whole run.
//! Target: at least 2,000/s on 2 cores.
//!
//! Results: a table on stdout and `--json FILE` (default `bench/results/http.json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use store::{InfoHash, SearchRequest, SortKey, SqliteStore, Store, Torrent};
use web::{
    AppState, CrawlerStatus, Data, Explanation, HttpMetrics, Ops, OpsError, OpsFuture, Options,
    ReclassifyReport,
};

const P95_TARGET_MS: f64 = 25.0;
const RATIO_TARGET: f64 = 1.3;
const THROUGHPUT_TARGET: f64 = 2_000.0;
const KINDS: [&str; 6] = ["one", "two", "three", "type", "range", "seeders"];

/// The bench serves reads only.
#[derive(Debug)]
struct ReadOnly;

impl Ops for ReadOnly {
    fn delete_and_block(&self, _: Vec<InfoHash>) -> OpsFuture<usize> {
        Box::pin(async { Err(OpsError::Unsupported("read-only bench".into())) })
    }
    fn set_tags(&self, _: InfoHash, _: Vec<String>) -> OpsFuture<bool> {
        Box::pin(async { Err(OpsError::Unsupported("read-only bench".into())) })
    }
    fn reclassify(&self) -> OpsFuture<ReclassifyReport> {
        Box::pin(async { Err(OpsError::Unsupported("read-only bench".into())) })
    }
    fn explain(&self, _: &Torrent) -> Explanation {
        Explanation::default()
    }
    fn crawler(&self) -> Option<CrawlerStatus> {
        None
    }
}

struct Args {
    db: Option<PathBuf>,
    queries: usize,
    repeat: usize,
    clients: usize,
    duration: f64,
    seed: u64,
    json: Option<PathBuf>,
    /// Load-generator mode: search this running server (e.g. `bitagent run`'s) for
    /// `--duration` seconds with `--clients` clients, print searches/s and exit.
    load: Option<String>,
    key: Option<String>,
}

impl Args {
    fn parse() -> Self {
        let mut a = Self {
            db: None,
            queries: 200,
            repeat: 3,
            clients: 16,
            duration: 10.0,
            seed: 1,
            load: None,
            key: None,
            json: Some(PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../bench/results/http.json"
            ))),
        };
        let mut it = std::env::args().skip(1);
        while let Some(k) = it.next() {
            let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
            match k.as_str() {
                "--db" => a.db = Some(PathBuf::from(v())),
                "--queries" => a.queries = v().parse().expect("--queries N"),
                "--repeat" => a.repeat = v().parse().expect("--repeat N"),
                "--clients" => a.clients = v().parse().expect("--clients N"),
                "--duration" => a.duration = v().parse().expect("--duration SECS"),
                "--seed" => a.seed = v().parse().expect("--seed N"),
                "--load" => a.load = Some(v()),
                "--key" => a.key = Some(v()),
                "--json" => {
                    let p = v();
                    a.json = (p != "-").then(|| PathBuf::from(p));
                }
                // cargo bench passes --bench; cargo test --benches passes nothing special.
                _ => {}
            }
        }
        a
    }
}

/// Words of stored names, to build queries from: the names of up to 4,000 stored torrents.
fn vocabulary(store: &SqliteStore) -> (Vec<Vec<String>>, Vec<String>) {
    let mut names = Vec::new();
    let mut types = Vec::new();
    let mut after = None;
    while names.len() < 4_000 {
        let page = store.hashes_after(after, 1_000).expect("hashes_after");
        let Some(last) = page.last() else { break };
        after = Some(*last);
        for h in page.iter().step_by(7) {
            if let Some(t) = store.get(h).expect("get") {
                let words: Vec<String> = t
                    .name
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() >= 3)
                    .map(str::to_lowercase)
                    .collect();
                if words.len() >= 3 {
                    names.push(words);
                }
                if let Some(ct) = t.content_type
                    && !types.contains(&ct)
                {
                    types.push(ct);
                }
            }
        }
    }
    assert!(!names.is_empty(), "the database has no names to query");
    (names, types)
}

/// One query of a kind: the request and its query string.
fn query(
    kind: &str,
    rng: &mut rand_chacha::ChaCha8Rng,
    names: &[Vec<String>],
    types: &[String],
) -> (SearchRequest, String) {
    let name = &names[rng.random_range(0..names.len())];
    let start = rng.random_range(0..name.len().saturating_sub(2).max(1));
    let words = match kind {
        "two" => name[start..start + 2].join(" "),
        "three" => name[start..(start + 3).min(name.len())].join(" "),
        _ => name[start].clone(),
    };
    let mut req = SearchRequest {
        text: words.clone(),
        limit: 20,
        count: true,
        ..SearchRequest::default()
    };
    let mut qs = format!("q={}&limit=20", words.replace(' ', "+"));
    match kind {
        "type" if !types.is_empty() => {
            let t = &types[rng.random_range(0..types.len())];
            req.content_type = Some(t.clone());
            qs.push_str(&format!("&type={t}"));
        }
        "range" => {
            req.min_size = Some(1 << 30);
            qs.push_str("&min_size=1G");
        }
        "seeders" => {
            req.sort = SortKey::Seeders;
            qs.push_str("&sort=seeders");
        }
        _ => {}
    }
    (req, qs)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        percentile(&v, 0.99),
    )
}

/// Best of `repeat` timings (ms) after one untimed run.
async fn best_of<F, Fut>(repeat: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    f().await;
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        f().await;
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

/// `clients` tasks searching `base` (all kinds mixed) for `duration` seconds: searches/s,
/// seconds, failures.
async fn throughput(
    base: &str,
    key: Option<String>,
    names: Vec<Vec<String>>,
    types: Vec<String>,
    clients: usize,
    duration: f64,
    seed: u64,
) -> (f64, f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let names = Arc::new(names);
    let types = Arc::new(types);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
        let (names, types, base, key) =
            (names.clone(), types.clone(), base.to_owned(), key.clone());
        let seed = seed + 1 + c as u64;
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            while !stop.load(Ordering::Relaxed) {
                let kind = KINDS[rng.random_range(0..KINDS.len())];
                let (_, qs) = query(kind, &mut rng, &names, &types);
                let mut req = client.get(format!("{base}/api/v1/search?{qs}"));
                if let Some(k) = &key {
                    req = req.header("x-api-key", k);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(duration)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    (
        done.load(Ordering::Relaxed) as f64 / secs,
        secs,
        failed.load(Ordering::Relaxed),
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = Args::parse();
    let Some(db) = args.db.clone() else {
        // `cargo test --benches` runs every bench target without arguments: nothing to do
        // without a database (bench/http.sh makes one).
        eprintln!("http bench: no --db given (bench/http.sh builds one); skipping");
        return;
    };
    if let Some(base) = args.load.clone() {
        let store = SqliteStore::open(&db).expect("open db");
        let (names, types) = vocabulary(&store);
        drop(store);
        let (per_sec, secs, failed) = throughput(
            &base,
            args.key.clone(),
            names,
            types,
            args.clients,
            args.duration,
            args.seed,
        )
        .await;
        println!(
            "load: {per_sec:.0} searches/s at {} clients over {secs:.1} s ({failed} failed)",
            args.clients
        );
        return;
    }
    let mut options = Options::new("bench-key");
    options.open_reads = true;
    options.searches_per_sec = std::num::NonZeroU32::new(1_000_000).unwrap();
    let path = db.clone();
    let data = Data::new(
        Arc::new(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Store>)),
        options.max_readers,
    );
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry);
    let state = AppState::new(data, Arc::new(ReadOnly), options, Arc::new(registry), http);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(listener, state, async {
        let _ = stop_rx.await;
    }));

    let local = Arc::new(std::sync::Mutex::new(
        SqliteStore::open(&db).expect("open db"),
    ));
    let torrents = local.lock().unwrap().torrent_count().unwrap();
    let (names, types) = vocabulary(&local.lock().unwrap());
    println!(
        "http bench: {torrents} torrents in {}, {} names to draw queries from, {} queries per kind, best of {}",
        db.display(),
        names.len(),
        args.queries,
        args.repeat
    );
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "kind", "proc p50", "proc p95", "http p50", "http p95", "http p99", "tz p95", "ratio"
    );
    for kind in KINDS {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
        let (mut proc_ms, mut http_ms, mut tz_ms) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..args.queries {
            let (req, qs) = query(kind, &mut rng, &names, &types);
            let store = local.clone();
            proc_ms.push(
                best_of(args.repeat, || {
                    let (store, req) = (store.clone(), req.clone());
                    async move {
                        let s = store.lock().unwrap();
                        std::hint::black_box(s.search_page(&req).ok());
                    }
                })
                .await,
            );
            let url = format!("{base}/api/v1/search?{qs}");
            http_ms.push(
                best_of(args.repeat, || {
                    let (client, url) = (client.clone(), url.clone());
                    async move {
                        let r = client.get(&url).send().await.expect("GET search");
                        assert!(
                            r.status().is_success() || r.status() == 400,
                            "{url}: {}",
                            r.status()
                        );
                        std::hint::black_box(r.bytes().await.ok());
                    }
                })
                .await,
            );
            if matches!(kind, "one" | "two" | "three") {
                let url = format!("{base}/torznab/api?t=search&{qs}");
                tz_ms.push(
                    best_of(args.repeat, || {
                        let (client, url) = (client.clone(), url.clone());
                        async move {
                            let r = client.get(&url).send().await.expect("GET torznab");
                            std::hint::black_box(r.bytes().await.ok());
                        }
                    })
                    .await,
                );
            }
        }
        let (p50, p95, p99) = stats(proc_ms);
        let (h50, h95, h99) = stats(http_ms);
        let tz95 = (!tz_ms.is_empty()).then(|| stats(tz_ms).1);
        let ratio = h95 / p95.max(1e-6);
        println!(
            "{kind:<8} {p50:>10.2} {p95:>10.2} {h50:>10.2} {h95:>10.2} {h99:>10.2} {:>10} {ratio:>8.2}",
            tz95.map_or("-".into(), |v| format!("{v:.2}"))
        );
        rows.push(json!({
            "kind": kind, "in_process_ms": {"p50": p50, "p95": p95, "p99": p99},
            "http_ms": {"p50": h50, "p95": h95, "p99": h99},
            "torznab_p95_ms": tz95, "http_over_in_process_p95": ratio,
            "p95_target_ms": P95_TARGET_MS, "ratio_target": RATIO_TARGET,
            "met": h95 < P95_TARGET_MS && ratio <= RATIO_TARGET,
        }));
    }

    let (per_sec, secs, failed) = throughput(
        &base,
        None,
        names,
        types,
        args.clients,
        args.duration,
        args.seed,
    )
    .await;
    println!(
        "throughput: {per_sec:.0} searches/s at {} clients over {secs:.1} s ({failed} failed); target >= {THROUGHPUT_TARGET:.0}",
        args.clients
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    let out = json!({
        "torrents": torrents,
        "queries_per_kind": args.queries,
        "repeat": args.repeat,
        "kinds": rows,
        "throughput": {"clients": args.clients, "seconds": secs, "searches_per_sec": per_sec,
                        "failed": failed, "target": THROUGHPUT_TARGET,
                        "met": per_sec >= THROUGHPUT_TARGET},
        "reproduce": format!("bench/http.sh --queries {} --clients {}", args.queries, args.clients),
    });
    if let Some(path) = args.json {
        let mut all: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| json!({}));
        all["search"] = out;
        std::fs::write(&path, serde_json::to_string_pretty(&all).unwrap() + "\n")
            .expect("write json");
        println!("wrote {}", path.display());
    }
}
