//! `bitagent run`: the crawler, with its status line, metrics endpoint and clean shutdown.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crawler::{Crawler, CrawlerConfig, Status as CrawlStatus};
use net::Node;
use serde_json::json;
use store::{SqliteOptions, SqliteStore};

use crate::cli::RunArgs;
use crate::config::{Overrides, Settings, Status};

/// The crawler's page cache: 2 MiB per step of the scaling factor, at most the store's
/// default (32 MiB). Once the database outgrows it (about 2,000 torrents per MiB) the cache
/// stays full for the life of the process, so it is part of the steady-state memory the
/// factor buys: at factor 1 the store's default would have doubled it (55 MiB instead of
/// 24 MiB with a 200,000-torrent database, `bench/scaling-factor.sh`). The writer commits
/// a few hundred torrents a second at most; pages it misses come from the OS's file cache.
pub fn writer_cache_kib(scaling_factor: u32) -> u32 {
    (2048 * scaling_factor.max(1)).min(SqliteOptions::default().cache_kib)
}

/// The database file inside the data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bitagent.sqlite3")
}

/// The saved routing table inside the data directory.
pub fn nodes_path(data_dir: &Path) -> PathBuf {
    data_dir.join("dht_nodes.txt")
}

/// The flags of `run` as config overrides.
pub fn overrides(base: Overrides, a: &RunArgs) -> Overrides {
    Overrides {
        bootstrap: (!a.bootstrap.is_empty()).then(|| a.bootstrap.clone()),
        http: a.http.map(|h| h.0),
        bind: a.bind,
        scaling_factor: a.scaling_factor,
        peer_port: a.peer_port,
        sample_threshold: a.sample_threshold,
        stall_after_secs: a.stall_after,
        max_metadata_size: a.max_metadata_size,
        file_cap: a.file_cap,
        connect_timeout_secs: a.connect_timeout,
        fetch_timeout_secs: a.fetch_timeout,
        starvation_nodes: a.starvation_nodes,
        starvation_after_secs: a.starvation_after,
        status: a.status,
        status_interval_secs: a.status_interval,
        rules: a.rules.clone(),
        blocklist: (!a.blocklist.is_empty()).then(|| a.blocklist.clone()),
        max_db_size: a.max_db_size,
        ..base
    }
}

/// The crawler configuration for these settings.
pub fn crawler_config(s: &Settings) -> CrawlerConfig {
    let mut c = CrawlerConfig::scaled(s.scaling_factor);
    c.bootstrap = s.bootstrap.clone();
    c.nodes_file = Some(nodes_path(&s.data_dir));
    c.sample_threshold = s.sample_threshold;
    c.stall_after = Duration::from_secs(s.stall_after_secs);
    c.fetch.max_metadata_size = usize::try_from(s.max_metadata_size).unwrap_or(usize::MAX);
    c.fetch.total_timeout = Duration::from_secs_f64(s.fetch_timeout_secs);
    c.fetch.listen_port = Some(s.peer_port);
    c.connect_timeout = Duration::from_secs_f64(s.connect_timeout_secs);
    c.file_cap = s.file_cap;
    c.peer_port = s.peer_port;
    c.diagnosis.starvation_nodes = s.starvation_nodes;
    c.diagnosis.starvation_after = Duration::from_secs(s.starvation_after_secs);
    c
}

pub async fn run(settings: Settings, args: RunArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    // Rules and blocklists first: a bad file stops startup before anything runs unfiltered.
    let rules = crate::rules_cmd::load(settings.rules.as_deref())?;
    let blocklist = classify::stages::load_blocklist(&settings.blocklist)?;
    let filters = Arc::new(classify::stages::Filters::new(blocklist, rules));
    let db = db_path(&settings.data_dir);
    let mut store = SqliteStore::open_with(
        &db,
        SqliteOptions {
            file_cap: settings.file_cap,
            cache_kib: writer_cache_kib(settings.scaling_factor),
            ..SqliteOptions::default()
        },
    )
    .with_context(|| format!("cannot open the database {}", db.display()))?;
    // A list that arrived since the last run purges what it names before crawling resumes.
    let purged = filters.purge(&mut store)?;
    if purged > 0 {
        tracing::info!(
            purged,
            "stored torrents named by the blocklist deleted and blocked"
        );
    }
    let cfg = crawler_config(&settings);
    let seed = args.seed.unwrap_or_else(crate::random_u64);
    let node = Node::bind(settings.bind, cfg.node_config(seed))
        .await
        .with_context(|| format!("cannot listen for DHT traffic on {}", settings.bind))?;
    let http = match settings.http {
        Some(addr) => Some(crawler::http::bind(addr).await.with_context(|| {
            format!("cannot serve HTTP on {addr} (use --http off or another address)")
        })?),
        None => None,
    };
    tracing::info!(
        data_dir = %settings.data_dir.display(),
        dht = %node.local_addr(),
        http = ?settings.http,
        scaling_factor = settings.scaling_factor,
        config_file = ?settings.config_file,
        "BitAgent crawling"
    );
    let crawler =
        Crawler::start_with(node, Box::new(store), filters.clone(), filters.clone(), cfg).await;
    let metrics = crawler.metrics();
    let writer = crawler.writer().expect("a running crawler has a writer");
    tokio::spawn(classify::stages::watch_blocklist(
        settings.blocklist.clone(),
        filters.clone(),
        writer.clone(),
    ));
    if let Some(max) = settings.max_db_size {
        tokio::spawn(crawler::retention::enforce_disk_budget(
            writer.clone(),
            max,
            Duration::from_secs(60),
        ));
    }
    let started = Instant::now();
    let (stop_http, stop_http_rx) = tokio::sync::watch::channel(false);
    if let Some(listener) = http {
        let m = metrics.clone();
        let h = metrics.clone();
        let fm = filters.metrics.clone();
        tokio::spawn(crawler::http::serve(
            listener,
            Arc::new(move || m.render() + &fm.render()),
            Arc::new(move || status_json(&crawler::status_of(&h, started)).to_string()),
            stop_http_rx,
        ));
    }

    let mode = match settings.status {
        Status::Auto if std::io::stderr().is_terminal() => Status::Line,
        Status::Auto => Status::Log,
        m => m,
    };
    let every = match mode {
        Status::Line => Duration::from_secs(1),
        _ => Duration::from_secs(settings.status_interval_secs.max(1)),
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let stop_at = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let until = async {
        match stop_at {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let signal = crate::node_cmd::shutdown_signal();
    tokio::pin!(signal);
    let mut rate = Rate::default();
    let reason = loop {
        tokio::select! {
            s = &mut signal => break s?,
            () = &mut until => break "duration",
            _ = tick.tick() => {
                let st = crawler.status();
                let per_min = rate.update(st.persisted);
                match mode {
                    Status::Line => {
                        let mut e = std::io::stderr().lock();
                        let _ = write!(e, "\r\x1b[2K{}", status_text(&st, per_min));
                        let _ = e.flush();
                    }
                    Status::Log => tracing::info!("{}", status_text(&st, per_min)),
                    _ => {}
                }
            }
        }
    };
    if mode == Status::Line {
        eprintln!();
    }
    tracing::info!(
        reason,
        "shutting down: finishing fetches in flight and writing what is queued"
    );
    let _ = stop_http.send(true);
    let st = crawler.status();
    let store = crawler.shutdown(Duration::from_secs(5)).await;
    let stats = store.stats().ok();
    tracing::info!(
        persisted = st.persisted,
        stored = stats.as_ref().map(|s| s.torrents),
        "stopped"
    );
    Ok(())
}

/// Persisted-per-minute over the last minute, from status samples.
#[derive(Debug, Default)]
struct Rate {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl Rate {
    fn update(&mut self, persisted: u64) -> f64 {
        let now = Instant::now();
        self.samples.push_back((now, persisted));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now - *t > Duration::from_secs(60))
        {
            self.samples.pop_front();
        }
        let (t0, p0) = self.samples[0];
        let secs = (now - t0).as_secs_f64();
        if secs < 1.0 {
            return 0.0;
        }
        (persisted - p0) as f64 * 60.0 / secs
    }
}

fn status_text(s: &CrawlStatus, per_min: f64) -> String {
    format!(
        "table {} · crawl {} (bep51 {}) · {} · sampled {} · new {} · fetching {} · queued {} · persisted {} ({:.0}/min) · failed {}",
        s.routing_table,
        s.crawl_table.iter().sum::<i64>(),
        s.crawl_table[0],
        if s.sampling {
            "sampling"
        } else {
            "discovering"
        },
        s.sampled,
        s.new_hashes,
        s.fetching,
        s.queued,
        s.persisted,
        per_min,
        s.failed,
    )
}

/// The status as JSON (served at /healthz and read by `bitagent stats`).
pub fn status_json(s: &CrawlStatus) -> serde_json::Value {
    json!({
        "uptime_secs": s.uptime.as_secs(),
        "routing_table_nodes": s.routing_table,
        "crawl_table": {"bep51_yes": s.crawl_table[0], "bep51_no": s.crawl_table[1], "unknown": s.crawl_table[2]},
        "sampling": s.sampling,
        "sampled": s.sampled,
        "new_hashes": s.new_hashes,
        "fetching": s.fetching,
        "queued": s.queued,
        "persisted": s.persisted,
        "persisted_per_min": (s.persisted as f64 * 60.0 / s.uptime.as_secs_f64().max(1.0)).round(),
        "new_hashes_per_min": (s.new_hashes as f64 * 60.0 / s.uptime.as_secs_f64().max(1.0)).round(),
        "stored": s.stored,
        "failed": s.failed,
    })
}
