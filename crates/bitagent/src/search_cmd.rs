//! `bitagent search` and `bitagent stats`: read-only views of the store (safe while a crawl
//! runs: SQLite's WAL lets readers work beside the writer).

use std::time::Duration;

use anyhow::Context as _;
use crawler::stages;
use serde_json::{Value, json};
use store::{Classification, SearchFilter, SqliteStore, Store, Torrent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::cli::{BlockArgs, ExplainArgs, ReclassifyArgs, RulesCmd, SearchArgs, StatsArgs};
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
        "content_type": t.content_type,
        "tags": t.tags,
        "attributes": t.attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "score": score.filter(|s| s.is_finite()),
        "magnet": format!("magnet:?xt=urn:btih:{}", t.info_hash),
        "files": t.files.iter().map(|f| json!({"path": f.path, "size": f.size})).collect::<Vec<_>>(),
    })
}

pub(crate) fn search(settings: &Settings, args: SearchArgs) -> anyhow::Result<()> {
    let store = open(settings)?;
    let query = args.query.join(" ");
    let filter = SearchFilter {
        content_type: args.content_type.clone(),
        tag: args.tag.clone(),
    };
    if query.trim().is_empty() && filter.is_empty() {
        anyhow::bail!("give words to search for, an infohash, or --type/--tag");
    }
    let hits = store
        .search_filtered(&query, &filter, args.limit.clamp(1, 10_000))
        .with_context(|| format!("search for {query:?} failed"))?;
    if args.json {
        let mut out = Vec::with_capacity(hits.len());
        for h in &hits {
            if let Some(t) = store.get(&h.info_hash)? {
                out.push(torrent_json(&t, Some(h.score)));
            }
        }
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if hits.is_empty() {
        outln!("no torrent matches {query:?}");
        return Ok(());
    }
    for h in &hits {
        let swarm = match (h.seeders, h.leechers) {
            (Some(s), Some(l)) => format!("  S:{s} L:{l}"),
            _ => String::new(),
        };
        outln!(
            "{}  {:>10}  {:>5} files  {:<9}{}  {}",
            h.info_hash,
            crate::render::human_bytes(h.total_size),
            h.file_count,
            h.content_type.as_deref().unwrap_or("-"),
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

pub(crate) async fn stats(settings: &Settings, args: StatsArgs) -> anyhow::Result<()> {
    let store = open(settings)?;
    let s = store.stats()?;
    let tables = store.table_sizes().unwrap_or_default();
    let problems = if args.check {
        Some(store.integrity_check()?)
    } else {
        None
    };
    let live = live_status(settings).await;
    let types = store.counts_by_content_type().unwrap_or_default();
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
            "content_types": types
                .iter()
                .map(|(t, n)| (t.clone().unwrap_or_else(|| "unclassified".into()), json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "integrity": problems.as_ref().map(|p| if p.is_empty() { json!("ok") } else { json!(p) }),
            "crawler": live,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!("database     {}", db_path(&settings.data_dir).display());
        outln!("torrents     {}", s.torrents);
        outln!("files        {} ({} rows kept)", s.files_total, s.file_rows);
        outln!("scraped      {}", s.scraped);
        outln!("blocked      {}", s.blocked);
        outln!(
            "size         {} (+ {} WAL)",
            crate::render::human_bytes(s.db_bytes),
            crate::render::human_bytes(s.wal_bytes)
        );
        for t in &tables {
            outln!("  {:<24} {}", t.name, crate::render::human_bytes(t.bytes));
        }
        outln!("by type");
        for (t, n) in &types {
            outln!("  {:<24} {n}", t.as_deref().unwrap_or("unclassified"));
        }
        if let Some(p) = &problems {
            if p.is_empty() {
                outln!("integrity    ok");
            } else {
                outln!("integrity    {} problem(s):", p.len());
                for line in p {
                    outln!("  {line}");
                }
            }
        }
        match &live {
            Some(v) => outln!("crawler      running: {v}"),
            None => outln!("crawler      not reachable on the HTTP address (not running?)"),
        }
    }
    if problems.is_some_and(|p| !p.is_empty()) {
        anyhow::bail!("the database failed its integrity check");
    }
    Ok(())
}

/// `bitagent rules check|classify|explain`.
pub(crate) fn rules(settings: &Settings, cmd: RulesCmd) -> anyhow::Result<()> {
    let configured = settings.rules.as_deref();
    match cmd {
        RulesCmd::Check(a) => crate::rules_cmd::check(a.file.as_deref().or(configured)),
        RulesCmd::Classify(a) => crate::rules_cmd::classify(
            a.rules.as_deref().or(configured),
            crate::rules_cmd::ClassifyInput::from_arg(&a.input),
            a.json,
        ),
        RulesCmd::Explain(a) => explain(settings, &a),
    }
}

fn explain(settings: &Settings, a: &ExplainArgs) -> anyhow::Result<()> {
    let rules = crate::rules_cmd::load(a.rules.as_deref().or(settings.rules.as_deref()))?;
    let store = open(settings)?;
    let Some(t) = store.get(&a.info_hash)? else {
        anyhow::bail!("{} is not in the store", a.info_hash);
    };
    let facts = stages::facts_of(&stages::stored_record(&t));
    let v = rules.classify(&facts);
    let keep = rules.keep(&facts, v.content_type(), t.seeders);
    if a.json {
        let mut doc = crate::rules_cmd::verdict_json(&v);
        doc["info_hash"] = json!(t.info_hash.to_string());
        doc["name"] = json!(t.name);
        doc["stored_content_type"] = json!(t.content_type);
        doc["stored_tags"] = json!(t.tags);
        doc["retention"] = match &keep {
            Ok(()) => json!("keep"),
            Err(rule) => json!({"evict": rule}),
        };
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    outln!("{}  {}", t.info_hash, t.name);
    outln!(
        "stored as    {} {:?}",
        t.content_type.as_deref().unwrap_or("(unclassified)"),
        t.tags
    );
    outln!("classified   {}", v.content_type());
    outln!("tags         {:?}", v.tags);
    for (k, val) in &v.attributes {
        outln!("  {k:<10} {val}");
    }
    match &v.drop {
        Some(rule) => outln!("verdict      drop (rule {rule})"),
        None => outln!("verdict      keep"),
    }
    if let Err(rule) = keep {
        outln!("retention    not kept (rule {rule})");
    }
    outln!("fired        {}", v.fired.join(", "));
    for e in &v.errors {
        outln!("error        {e}");
    }
    Ok(())
}

/// `bitagent reclassify`: pages through the torrents not classified by the current rules.
pub(crate) fn reclassify(settings: &Settings, a: ReclassifyArgs) -> anyhow::Result<()> {
    let rules = crate::rules_cmd::load(a.rules.as_deref().or(settings.rules.as_deref()))?;
    let rev = rules.rev();
    let mut store = open(settings)?;
    let total = store.pending_reclassify(&rev)?;
    let started = std::time::Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (mut done, mut dropped, mut cursor) = (0u64, 0u64, None);
    loop {
        let batch = store.reclassify_batch(&rev, cursor, a.batch.clamp(1, 100_000))?;
        let Some(last) = batch.last() else { break };
        cursor = Some(last.info_hash);
        let mut updates = Vec::with_capacity(batch.len());
        let mut drops = Vec::new();
        for t in &batch {
            let mut record = stages::stored_record(t);
            let v = rules.classify(&stages::facts_of(&record));
            if v.drop.is_some() {
                drops.push(t.info_hash);
                continue;
            }
            stages::annotate(&mut record, &v, &rev);
            updates.push(Classification {
                info_hash: t.info_hash,
                content_type: record.content_type,
                tags: record.tags,
                attributes: record.attributes,
                rev: rev.clone(),
            });
        }
        // Each batch is one transaction: an interruption loses at most this batch's work.
        store.set_classification(&updates)?;
        if !drops.is_empty() {
            dropped += drops.len() as u64;
            store.block(&drops, crawler::unix_now())?;
        }
        done += batch.len() as u64;
        if tty {
            let pct = if total == 0 {
                100.0
            } else {
                done as f64 * 100.0 / total as f64
            };
            eprint!("\r\x1b[2Kreclassify {done}/{total} ({pct:.0}%)");
        }
    }
    if tty {
        eprintln!();
    }
    outln!(
        "reclassified {done} torrents in {:.1?} ({dropped} dropped and blocked by the rules); rules revision {rev}",
        started.elapsed()
    );
    for (t, n) in store.counts_by_content_type()? {
        outln!("  {:<10} {n}", t.as_deref().unwrap_or("(none)"));
    }
    Ok(())
}

/// `bitagent block INFOHASH...`.
pub(crate) fn block(settings: &Settings, a: BlockArgs) -> anyhow::Result<()> {
    let db = db_path(&settings.data_dir);
    let mut store = SqliteStore::open(&db)
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    let existed = a
        .info_hashes
        .iter()
        .filter(|h| store.get(h).ok().flatten().is_some())
        .count();
    let newly = store.block(&a.info_hashes, crawler::unix_now())?;
    outln!(
        "blocked {} infohash(es) ({newly} newly; {existed} stored torrent(s) deleted). They will never be fetched or stored again.",
        a.info_hashes.len()
    );
    Ok(())
}

impl crate::Cmd for SearchArgs {
    fn json(&self) -> bool {
        self.json
    }

    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        search(&ctx.settings()?, self)
    }
}

impl crate::Cmd for StatsArgs {
    fn json(&self) -> bool {
        self.json
    }

    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        stats(&ctx.settings()?, self).await
    }
}

impl crate::Cmd for RulesCmd {
    fn json(&self) -> bool {
        match self {
            Self::Check(_) => false,
            Self::Classify(a) => a.json,
            Self::Explain(a) => a.json,
        }
    }

    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        rules(&ctx.settings()?, self)
    }
}

impl crate::Cmd for ReclassifyArgs {
    const LOGS_PROGRESS: bool = true;

    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        reclassify(&ctx.settings()?, self)
    }
}

impl crate::Cmd for BlockArgs {
    async fn run(self, ctx: &crate::Context) -> anyhow::Result<()> {
        block(&ctx.settings()?, self)
    }
}
