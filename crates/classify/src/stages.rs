//! The crawler's decision points ([`crawler::filter`]) filled with BitAgent's filters: the double-hash blocklist
//! and the CEL rules (`classify`), plus the metrics they keep (drops by stage and rule,
//! torrents by content type, blocklist size and hits).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash as _, Hasher as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use crate::blocklist::{Blocklist, BlocklistWatcher};
use crate::rules::{PrefetchFacts, RuleSet, Stage, TorrentFacts, Verdict as RulesVerdict};
use crawler::filter::{Candidate, PostFetch, PostVerdict, PreFetchFilter, SwarmFacts, Verdict};
use store::{InfoHash, Store, TorrentRecord};

/// Drops, hits and classifications, for `/metrics`.
#[derive(Debug, Default)]
pub struct FilterMetrics {
    drops: Mutex<BTreeMap<(&'static str, String), u64>>,
    types: Mutex<BTreeMap<String, u64>>,
    blocklist_entries: AtomicU64,
    blocklist_hits: AtomicU64,
    blocklist_purged: AtomicU64,
    rule_errors: AtomicU64,
}

impl FilterMetrics {
    fn dropped(&self, stage: &'static str, rule: &str) {
        *self
            .drops
            .lock()
            .expect("metrics lock")
            .entry((stage, rule.to_owned()))
            .or_default() += 1;
    }

    /// Prometheus text for these metrics (appended to the crawler's).
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP bitagent_filter_drops_total Infohashes or torrents dropped, by stage and rule.\n# TYPE bitagent_filter_drops_total counter"
        );
        for ((stage, rule), n) in self.drops.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                o,
                "bitagent_filter_drops_total{{stage=\"{stage}\",rule=\"{}\"}} {n}",
                escape(rule)
            );
        }
        let _ = writeln!(
            o,
            "# HELP bitagent_classified_total Torrents classified since start, by content type.\n# TYPE bitagent_classified_total counter"
        );
        for (t, n) in self.types.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                o,
                "bitagent_classified_total{{content_type=\"{}\"}} {n}",
                escape(t)
            );
        }
        for (name, help, kind, v) in [
            (
                "bitagent_blocklist_entries",
                "Entries in the loaded double-hash blocklists.",
                "gauge",
                &self.blocklist_entries,
            ),
            (
                "bitagent_blocklist_hits_total",
                "Sampled infohashes that matched the blocklist (never fetched).",
                "counter",
                &self.blocklist_hits,
            ),
            (
                "bitagent_blocklist_purged_total",
                "Stored torrents deleted because a newly loaded blocklist names them.",
                "counter",
                &self.blocklist_purged,
            ),
            (
                "bitagent_rule_errors_total",
                "Rule evaluations that failed at run time (the rule did not fire).",
                "counter",
                &self.rule_errors,
            ),
        ] {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Relaxed)
            );
        }
        o
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A revision id of a rule set: changes when any rule changes (for `reclassify`).
pub fn rules_rev(rules: &RuleSet) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{:?}", rules.rules()).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The torrent as the rules see it.
pub fn facts_of(record: &TorrentRecord) -> TorrentFacts {
    let files = record
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size))
        .collect();
    let mut facts = TorrentFacts::new(record.name.clone(), files);
    facts.total_size = record.total_size;
    facts.private = record.private;
    facts.file_count = record.file_count.max(record.files.len() as u64);
    facts
}

/// Writes a verdict's classification into a record.
pub fn annotate(record: &mut TorrentRecord, v: &RulesVerdict, rev: &str) {
    record.content_type = Some(v.content_type().to_owned());
    record.tags = v.tags.clone();
    record.attributes = v
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    record.classified_rev = Some(rev.to_owned());
}

/// The blocklist and the rules, as the crawler's pre- and post-fetch stages.
#[derive(Debug)]
pub struct Filters {
    blocklist: RwLock<Arc<Blocklist>>,
    rules: Arc<RuleSet>,
    rev: String,
    prefetch_rules: bool,
    /// The metrics.
    pub metrics: Arc<FilterMetrics>,
}

impl Filters {
    /// Filters over a loaded blocklist and rule set.
    pub fn new(blocklist: Blocklist, rules: RuleSet) -> Filters {
        let metrics = Arc::new(FilterMetrics::default());
        metrics
            .blocklist_entries
            .store(blocklist.len() as u64, Relaxed);
        Filters {
            blocklist: RwLock::new(Arc::new(blocklist)),
            prefetch_rules: rules.has_stage(Stage::PreFetch),
            rev: rules_rev(&rules),
            rules: Arc::new(rules),
            metrics,
        }
    }

    /// The current blocklist.
    pub fn blocklist(&self) -> Arc<Blocklist> {
        self.blocklist.read().expect("blocklist lock").clone()
    }

    /// Replaces the blocklist (after a reload).
    pub fn set_blocklist(&self, b: Blocklist) {
        self.metrics
            .blocklist_entries
            .store(b.len() as u64, Relaxed);
        *self.blocklist.write().expect("blocklist lock") = Arc::new(b);
    }

    /// Deletes every stored torrent the blocklist names. Returns how many. (Deleted, not
    /// blocked in the store: that would write the raw infohashes a double-hash list exists to
    /// hide; the pre-fetch check keeps them from being fetched again.)
    pub fn purge(&self, store: &mut dyn Store) -> store::Result<u64> {
        let list = self.blocklist();
        if list.is_empty() {
            return Ok(0);
        }
        let mut cursor = None;
        let mut hits = Vec::new();
        loop {
            let batch = store.hashes_after(cursor, 10_000)?;
            let Some(last) = batch.last().copied() else {
                break;
            };
            let raw: Vec<[u8; 20]> = batch.iter().map(|h| h.0).collect();
            let found = list.contains_infohashes(&raw);
            hits.extend(
                batch
                    .into_iter()
                    .zip(found)
                    .filter_map(|(h, hit)| hit.then_some(h)),
            );
            cursor = Some(last);
        }
        if hits.is_empty() {
            return Ok(0);
        }
        let n = store.delete(&hits)? as u64;
        self.metrics.blocklist_purged.fetch_add(n, Relaxed);
        Ok(n)
    }
}

impl PreFetchFilter for Filters {
    fn check(&self, c: &Candidate) -> Verdict {
        if self.blocklist().contains_infohash(&c.info_hash) {
            self.metrics.blocklist_hits.fetch_add(1, Relaxed);
            self.metrics.dropped("prefetch", "blocklist");
            return Verdict::Drop("blocklist".into());
        }
        Verdict::Pass
    }

    fn wants_swarm(&self) -> bool {
        self.prefetch_rules
    }

    fn check_swarm(&self, c: &Candidate, s: &SwarmFacts) -> Verdict {
        if !self.prefetch_rules {
            return Verdict::Pass;
        }
        let facts = PrefetchFacts {
            info_hash_hex: InfoHash(c.info_hash).to_string(),
            source_ip: Some(c.source.ip()),
            times_seen: s.times_seen,
            peers: Some(u32::try_from(s.peers).unwrap_or(u32::MAX)),
            seeders: s.seeders,
            leechers: s.leechers,
        };
        match self.rules.prefetch(&facts) {
            Some(rule) => {
                self.metrics.dropped("prefetch", &rule);
                Verdict::Drop(rule)
            }
            None => Verdict::Pass,
        }
    }
}

impl PostFetch for Filters {
    fn decide(&self, record: &mut TorrentRecord) -> PostVerdict {
        let facts = facts_of(record);
        let v = self.rules.classify(&facts);
        if !v.errors.is_empty() {
            self.metrics
                .rule_errors
                .fetch_add(v.errors.len() as u64, Relaxed);
        }
        if let Some(rule) = v.drop {
            self.metrics.dropped("postfetch", &rule);
            return PostVerdict::Drop { rule, block: true };
        }
        if let Err(rule) = self.rules.keep(&facts, v.content_type(), record.seeders) {
            self.metrics.dropped("retention", &rule);
            return PostVerdict::Drop { rule, block: false };
        }
        annotate(record, &v, &self.rev);
        *self
            .metrics
            .types
            .lock()
            .expect("metrics lock")
            .entry(v.content_type().to_owned())
            .or_default() += 1;
        PostVerdict::Keep
    }
}

/// Loads the blocklists named in the settings (none: an empty list).
pub fn load_blocklist(paths: &[PathBuf]) -> Result<Blocklist, crate::blocklist::BlocklistError> {
    if paths.is_empty() {
        return Ok(Blocklist::empty());
    }
    Blocklist::load(paths)
}

/// Watches the blocklist files: reload when one changes or on SIGHUP, then purge what the
/// new list names from the store. Runs until the crawler's writer is gone.
pub async fn watch_blocklist(
    paths: Vec<PathBuf>,
    filters: Arc<Filters>,
    writer: crawler::writer::WriterHandle,
) {
    let mut watcher = BlocklistWatcher::new(paths);
    let _ = watcher.changed(); // Record the current state.
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<()>();
        let why = tokio::select! {
            _ = tick.tick() => {
                if watcher.paths().is_empty() || !watcher.changed() { continue; }
                "a blocklist file changed"
            }
            () = signalled => "SIGHUP",
        };
        match watcher.load() {
            Ok(list) => {
                tracing::info!(entries = list.len(), why, "blocklist reloaded");
                filters.set_blocklist(list);
                let f = filters.clone();
                let sent = writer
                    .run(move |store| match f.purge(store) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(
                            purged = n,
                            "stored torrents named by the blocklist deleted"
                        ),
                        Err(e) => tracing::error!("blocklist purge failed: {e}"),
                    })
                    .await;
                if sent.is_err() {
                    return;
                }
            }
            // Keep the old list: never run unfiltered because of a bad edit.
            Err(e) => tracing::error!("blocklist reload failed, keeping the previous list: {e}"),
        }
    }
}
