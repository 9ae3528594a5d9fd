//! The crawler's decision points ([`crate::filter`]) filled with BitAgent's filters: the
//! double-hash blocklist and the CEL rules of the `classify` crate.
//!
//! - [`Filters`]: both, as the crawler's [`PreFetchFilter`] and [`PostFetch`] stages;
//! - [`facts`]: the one mapping from a stored or fetched torrent to the rules' facts, and the
//!   classification written back into the record;
//! - [`metrics`]: what the filters count (drops by stage and rule, torrents by content type,
//!   blocklist size, hits and purges, rule errors);
//! - [`reload`]: loading the blocklists and reloading them (file change, SIGHUP);
//! - [`purge`]: deleting what a newly loaded list names from the store, a page per writer job.

pub mod facts;
pub mod metrics;
pub mod purge;
pub mod reload;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};

use classify::blocklist::Blocklist;
use classify::rules::{PrefetchFacts, RuleSet, Stage};
use store::TorrentRecord;

use crate::filter::{Candidate, PostFetch, PostVerdict, PreFetchFilter, SwarmFacts, Verdict};
pub use facts::{annotate, facts_of, stored_record};
pub use metrics::FilterMetrics;
pub use purge::{PURGE_PAGE, Purge, PurgeError, PurgeOutcome};
pub use reload::{load_blocklist, watch_blocklist};

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
    pub fn new(blocklist: Blocklist, rules: RuleSet) -> Self {
        let metrics = Arc::new(FilterMetrics::default());
        metrics
            .blocklist_entries
            .store(blocklist.len() as u64, Relaxed);
        Self {
            blocklist: RwLock::new(Arc::new(blocklist)),
            prefetch_rules: rules.has_stage(Stage::PreFetch),
            rev: rules.rev(),
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
}

impl PreFetchFilter for Filters {
    fn check(&self, c: &Candidate) -> Verdict {
        if self.blocklist().contains_infohash(&c.info_hash.dht_key()) {
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
            info_hash_hex: c.info_hash.to_string(),
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
        self.metrics.classified(v.content_type());
        PostVerdict::Keep
    }
}
