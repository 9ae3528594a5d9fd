//! The filters' counters and their Prometheus text (appended to the crawler's `/metrics`;
//! every metric is described in `docs/metrics.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Drops, hits and classifications, for `/metrics`.
#[derive(Debug, Default)]
pub struct FilterMetrics {
    drops: Mutex<BTreeMap<(&'static str, String), u64>>,
    types: Mutex<BTreeMap<String, u64>>,
    pub(super) blocklist_entries: AtomicU64,
    pub(super) blocklist_hits: AtomicU64,
    pub(super) blocklist_purged: AtomicU64,
    pub(super) rule_errors: AtomicU64,
}

impl FilterMetrics {
    pub(super) fn dropped(&self, stage: &'static str, rule: &str) {
        *self
            .drops
            .lock()
            .expect("metrics lock")
            .entry((stage, rule.to_owned()))
            .or_default() += 1;
    }

    pub(super) fn classified(&self, content_type: &str) {
        *self
            .types
            .lock()
            .expect("metrics lock")
            .entry(content_type.to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_metric_is_documented() {
        let doc = include_str!("../../../../docs/metrics.md");
        let m = FilterMetrics::default();
        m.dropped("prefetch", "blocklist");
        m.classified("movie");
        let text = m.render();
        let mut families = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
                let row = doc
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{name}")))
                    .unwrap_or_else(|| panic!("{name} is missing from docs/metrics.md"));
                assert!(
                    row.contains(&format!("| {kind} |")),
                    "{name} is documented with another type than {kind}: {row}"
                );
                families += 1;
            }
        }
        assert_eq!(families, 6);
    }
}
