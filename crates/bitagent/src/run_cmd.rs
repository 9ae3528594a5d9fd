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
use crate::config::{Settings, Status};

/// The crawler's page cache: 2 MiB per step of the scaling factor, at most the store's
/// default (32 MiB). Once the database outgrows it (about 2,000 torrents per MiB) the cache
/// stays full for the life of the process, so it is part of the steady-state memory the
/// factor buys: at factor 1 the store's default would have doubled it (55 MiB instead of
/// 24 MiB with a 200,000-torrent database, `bench/scaling-factor.sh`). The writer commits
/// a few hundred torrents a second at most; pages it misses come from the OS's file cache.
pub(crate) fn writer_cache_kib(scaling_factor: u32) -> u32 {
    (2048 * scaling_factor.max(1)).min(SqliteOptions::default().cache_kib)
}

/// The database file inside the data directory.
pub(crate) fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bitagent.sqlite3")
}

/// The saved routing table inside the data directory.
pub(crate) fn nodes_path(data_dir: &Path) -> PathBuf {
    data_dir.join("dht_nodes.txt")
}

/// The crawler configuration for these settings.
pub(crate) fn crawler_config(s: &Settings) -> CrawlerConfig {
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

pub(crate) async fn run(settings: Settings, args: RunArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    // Rules and blocklists first: a bad file stops startup before anything runs unfiltered.
    let rules = crate::rules_cmd::load(settings.rules.as_deref())?;
    let blocklist = crawler::stages::load_blocklist(&settings.blocklist)?;
    let filters = Arc::new(crawler::stages::Filters::new(blocklist, rules));
    let db = db_path(&settings.data_dir);
    let store = SqliteStore::open_with(
        &db,
        SqliteOptions {
            file_cap: settings.file_cap,
            cache_kib: writer_cache_kib(settings.scaling_factor),
            ..SqliteOptions::default()
        },
    )
    .with_context(|| format!("cannot open the database {}", db.display()))?;
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
    // First purges what a list that arrived since the last run names, a page per writer job.
    tokio::spawn(crawler::stages::watch_blocklist(
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
                let per_min = rate.update(Instant::now(), st.persisted);
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

impl crate::Cmd for RunArgs {
    const LOGS_PROGRESS: bool = true;

    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        let settings = ctx.settings_with(&self.knobs)?;
        run(settings, self).await
    }
}

/// Persisted-per-minute over the last minute, from status samples. With a status interval of
/// a minute or more the window holds one sample only, so the oldest sample older than the
/// window is kept as the baseline: the rate is then over the last interval.
#[derive(Debug, Default)]
struct Rate {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl Rate {
    fn update(&mut self, now: Instant, persisted: u64) -> f64 {
        const WINDOW: Duration = Duration::from_secs(60);
        self.samples.push_back((now, persisted));
        while self
            .samples
            .get(1)
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.samples.pop_front();
        }
        let (t0, p0) = self.samples[0];
        let secs = now.saturating_duration_since(t0).as_secs_f64();
        if secs < 1.0 {
            return 0.0;
        }
        persisted.saturating_sub(p0) as f64 * 60.0 / secs
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
pub(crate) fn status_json(s: &CrawlStatus) -> serde_json::Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_with_a_status_interval_of_a_minute_or_more() {
        for interval in [60, 61, 90, 300] {
            let t0 = Instant::now();
            let mut rate = Rate::default();
            assert_eq!(rate.update(t0, 0), 0.0);
            let every = Duration::from_secs(interval);
            // 120 persisted per interval.
            let per_min = 120.0 * 60.0 / interval as f64;
            assert_eq!(rate.update(t0 + every, 120), per_min, "interval {interval}");
            assert_eq!(
                rate.update(t0 + 2 * every, 240),
                per_min,
                "interval {interval}"
            );
        }
    }

    #[test]
    fn rate_over_the_last_minute_with_short_intervals() {
        let t0 = Instant::now();
        let mut rate = Rate::default();
        // 10 per second for two minutes, then 1 per second: the rate follows within a minute.
        for s in 0..=120u64 {
            rate.update(t0 + Duration::from_secs(s), s * 10);
        }
        let mut last = 0.0;
        for s in 121..=180u64 {
            last = rate.update(t0 + Duration::from_secs(s), 1200 + (s - 120));
        }
        assert_eq!(last, 60.0);
    }
}
