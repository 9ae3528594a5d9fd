//! A verified info dict as a store record.

use infohash::InfoHash;
use peerwire::InfoDict;
use store::{FileEntry, TorrentRecord};

/// Maps a verified info dict to a store record.
pub fn to_record(
    info_hash: InfoHash,
    info: &InfoDict,
    file_cap: usize,
    seen_at: i64,
    swarm: Option<(f64, f64)>,
    now: i64,
) -> TorrentRecord {
    let files = info
        .files
        .iter()
        .take(file_cap)
        .map(|f| FileEntry {
            path: f.path.join("/"),
            size: f.length,
        })
        .collect();
    let round = |x: f64| x.round().clamp(0.0, f64::from(u32::MAX)) as u32;
    TorrentRecord {
        info_hash,
        name: info.name.clone(),
        total_size: info.total_size,
        files,
        file_count: info.files.len() as u64,
        private: info.private,
        piece_length: info.piece_length,
        meta_version: info.meta_version.and_then(|v| u8::try_from(v).ok()),
        seen_at,
        seeders: swarm.map(|s| round(s.0)),
        leechers: swarm.map(|s| round(s.1)),
        scraped_at: swarm.map(|_| now),
        ..TorrentRecord::default()
    }
}
