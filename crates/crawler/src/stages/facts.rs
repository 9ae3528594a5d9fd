//! The one mapping from a torrent, as stored or as fetched, to what the rules see.
//!
//! A fetched info dictionary becomes a [`TorrentRecord`] with [`crate::to_record`] first;
//! a stored [`Torrent`] with [`stored_record`]; then [`facts_of`] gives the rules' facts. The
//! crawler's post-fetch stage, `bitagent rules classify|explain` and `bitagent reclassify` all
//! go this way, so a torrent classifies the same wherever it comes from.

use classify::rules::{TorrentFacts, Verdict};
use store::{Torrent, TorrentRecord};

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

/// A stored torrent as the record the rules see (what the crawler would have stored: the
/// fields [`facts_of`] and retention read, with the seeders).
pub fn stored_record(t: &Torrent) -> TorrentRecord {
    TorrentRecord {
        info_hash: t.info_hash,
        name: t.name.clone(),
        total_size: t.total_size,
        files: t.files.clone(),
        file_count: t.file_count,
        private: t.private,
        seeders: t.seeders,
        ..TorrentRecord::default()
    }
}

/// Writes a verdict's classification into a record, with the rules revision `rev`
/// ([`classify::rules::RuleSet::rev`]).
pub fn annotate(record: &mut TorrentRecord, v: &Verdict, rev: &str) {
    record.content_type = Some(v.content_type().to_owned());
    record.tags = v.tags.clone();
    record.attributes = v
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    record.classified_rev = Some(rev.to_owned());
}
