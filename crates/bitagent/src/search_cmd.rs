//! `bitagent search` and `bitagent stats`: read-only views of the store (safe while a crawl
//! runs: SQLite's WAL lets readers work beside the writer).

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use store::{SqliteStore, Store, Torrent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::cli::{SearchArgs, StatsArgs};
use crate::config::Settings;
use crate::run_cmd::db_path;

fn open(settings: &Settings) -> anyhow::Result<SqliteStore> {
    let db = db_path(&settings.data_dir);
    if !db.exists() {
        anyhow::bail!(
            "no database at {} (run `bitagent run` first, or pass the --data-dir it used)",
            db.display()
        );
    }
    SqliteStore::open(&db).with_context(|| format!("cannot open the database {}", db.display()))
}

fn torrent_json(t: &Torrent, score: Option<f64>) -> Value {
    json!({
        "info_hash": t.info_hash.to_string(),
        "name": t.name,
        "total_size": t.total_size,
        "file_count": t.file_count,
        "private": t.private,
        "piece_length": t.piece_length,
        "meta_version": t.meta_version,
        "first_seen": t.first_seen,
        "last_seen": t.last_seen,
        "seeders": t.seeders,
        "leechers": t.leechers,
        "scraped_at": t.scraped_at,
        "score": score.filter(|s| s.is_finite()),
        "magnet": format!("magnet:?xt=urn:btih:{}", t.info_hash),
        "files": t.files.iter().map(|f| json!({"path": f.path, "size": f.size})).collect::<Vec<_>>(),
    })
}

pub fn search(settings: &Settings, args: SearchArgs) -> anyhow::Result<()> {
    let store = open(settings)?;
    let query = args.query.join(" ");
    let hits = store
        .search(&query, args.limit.clamp(1, 10_000))
        .with_context(|| format!("search for {query:?} failed"))?;
    if args.json {
        let mut out = Vec::with_capacity(hits.len());
        for h in &hits {
            if let Some(t) = store.get(&h.info_hash)? {
                out.push(torrent_json(&t, Some(h.score)));
            }
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no torrent matches {query:?}");
        return Ok(());
    }
    for h in &hits {
        let swarm = match (h.seeders, h.leechers) {
            (Some(s), Some(l)) => format!("  S:{s} L:{l}"),
            _ => String::new(),
        };
        println!(
            "{}  {:>10}  {:>5} files{}  {}",
            h.info_hash,
            crate::render::human_bytes(h.total_size),
            h.file_count,
            swarm,
            h.name
        );
    }
    Ok(())
}

/// The running crawler's status from its /healthz, if one answers on the configured address.
async fn live_status(settings: &Settings) -> Option<Value> {
    let addr = settings.http?;
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bitagent\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        s.take(64 << 10).read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out);
        let body = text.split("\r\n\r\n").nth(1)?;
        serde_json::from_str::<Value>(body).ok()
    };
    tokio::time::timeout(Duration::from_secs(2), fetch)
        .await
        .ok()
        .flatten()
}

pub async fn stats(settings: &Settings, args: StatsArgs) -> anyhow::Result<()> {
    let store = open(settings)?;
    let s = store.stats()?;
    let tables = store.table_sizes().unwrap_or_default();
    let problems = if args.check {
        Some(store.integrity_check()?)
    } else {
        None
    };
    let live = live_status(settings).await;
    if args.json {
        let doc = json!({
            "database": db_path(&settings.data_dir).display().to_string(),
            "torrents": s.torrents,
            "files_total": s.files_total,
            "file_rows": s.file_rows,
            "blocked": s.blocked,
            "scraped": s.scraped,
            "schema_version": s.schema_version,
            "db_bytes": s.db_bytes,
            "wal_bytes": s.wal_bytes,
            "bytes_per_torrent": s.db_bytes.checked_div(s.torrents),
            "tables": tables.iter().map(|t| json!({"name": t.name, "bytes": t.bytes})).collect::<Vec<_>>(),
            "integrity": problems.as_ref().map(|p| if p.is_empty() { json!("ok") } else { json!(p) }),
            "crawler": live,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("database     {}", db_path(&settings.data_dir).display());
        println!("torrents     {}", s.torrents);
        println!("files        {} ({} rows kept)", s.files_total, s.file_rows);
        println!("scraped      {}", s.scraped);
        println!("blocked      {}", s.blocked);
        println!(
            "size         {} (+ {} WAL)",
            crate::render::human_bytes(s.db_bytes),
            crate::render::human_bytes(s.wal_bytes)
        );
        for t in &tables {
            println!("  {:<24} {}", t.name, crate::render::human_bytes(t.bytes));
        }
        if let Some(p) = &problems {
            if p.is_empty() {
                println!("integrity    ok");
            } else {
                println!("integrity    {} problem(s):", p.len());
                for line in p {
                    println!("  {line}");
                }
            }
        }
        match &live {
            Some(v) => println!("crawler      running: {v}"),
            None => println!("crawler      not reachable on the HTTP address (not running?)"),
        }
    }
    if problems.is_some_and(|p| !p.is_empty()) {
        anyhow::bail!("the database failed its integrity check");
    }
    Ok(())
}
