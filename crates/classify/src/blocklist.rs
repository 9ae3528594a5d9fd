//! The double-hash blocklist, checked before any TCP connection is made.
//!
//! # Format
//!
//! A list is a text file with one entry per line: the **lowercase hex SHA-256 of the raw
//! 20-byte infohash** (64 hex digits; uppercase is accepted too). Because only the hash of the
//! infohash is published, a list never reveals the infohashes it blocks (and cannot be turned
//! into a download list), yet anyone holding an infohash can check it. `#` starts a comment,
//! on its own line or after an entry; blank lines and surrounding whitespace are ignored.
//!
//! ```text
//! # abuse list, 2024-06-01
//! 6d2055f823a7142c5e943c355f4beac770c5c168cd707603ad6b459edccb147e
//! DE47C9B27EB8D300DBB5F2C353E632C393262CF06340C4FA7F1B40C4CBD36F90  # reported twice
//! ```
//!
//! [`hex_digest_line`] turns an infohash into its entry, e.g. to publish a list:
//! `python3 -c 'import hashlib,sys;print(hashlib.sha256(bytes.fromhex(sys.argv[1])).hexdigest())' <40-hex infohash>`
//! does the same.
//!
//! # Lookup
//!
//! [`Blocklist::load`] reads any number of files into one set (their union). A lookup is O(1):
//! the digests are kept sorted in one flat array, and a table indexed by the top bits of the
//! digest (uniformly distributed for real SHA-256 outputs) points at the few entries sharing
//! them (about one per bucket); the bucket is then searched by full 32-byte comparison, by
//! binary search, so even a list crafted to crowd one bucket costs O(log n), never O(n).
//! Memory is 32 bytes per entry plus at most 8 bytes per entry of index.
//! [`Blocklist::contains_infohash`] includes the SHA-256 of the infohash (hardware SHA
//! extensions are used when the CPU has them); see `benches/blocklist.rs` for the rate.
//!
//! # Reloading
//!
//! A [`BlocklistWatcher`] remembers each file's (modification time, length, inode) and says
//! when any of them changed; the caller then loads a fresh [`Blocklist`] and swaps it in (an
//! `Arc` behind a lock), on a timer and on SIGHUP. A failed reload should keep the old list.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

/// SHA-256 of a raw infohash: what a list entry holds.
pub type BlockDigest = [u8; 32];

/// Why a list could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlocklistError {
    /// The file could not be read.
    #[error("blocklist {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line is neither blank, a comment, nor 64 hex digits.
    #[error("blocklist {}:{line}: {reason}: {text:?}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
        /// The entry as found (comment stripped, trimmed, cut to 80 characters).
        text: String,
    },
}

/// A set of blocked SHA-256(infohash) digests with O(1) lookup.
#[derive(Clone, Default)]
pub struct Blocklist {
    /// Sorted, deduplicated.
    digests: Vec<BlockDigest>,
    /// `index[b]..index[b + 1]` is the range of `digests` whose top `bits` bits equal `b`.
    /// Empty when `digests` is.
    index: Vec<u32>,
    /// Bits of the digest prefix that select a bucket (0..=MAX_BITS).
    bits: u32,
}

/// Buckets are at most 2^26 (256 MiB of index would be silly; 64M entries per list is
/// beyond any published list).
const MAX_BITS: u32 = 26;

impl fmt::Debug for Blocklist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocklist")
            .field("len", &self.digests.len())
            .field("index_bits", &self.bits)
            .finish()
    }
}

impl Blocklist {
    /// An empty list: blocks nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads and merges the given list files. Fails on the first unreadable file or malformed
    /// line, naming it (`file:line`). No paths is an empty list.
    pub fn load(paths: &[PathBuf]) -> Result<Self, BlocklistError> {
        let mut digests = Vec::new();
        for path in paths {
            let bytes = std::fs::read(path).map_err(|source| BlocklistError::Io {
                path: path.clone(),
                source,
            })?;
            parse_into(path, &bytes, &mut digests)?;
        }
        Ok(Self::from_digests(digests))
    }

    /// A list of the given digests (in any order, duplicates allowed).
    pub fn from_digests(mut digests: Vec<BlockDigest>) -> Self {
        digests.sort_unstable();
        digests.dedup();
        digests.shrink_to_fit();
        let n = digests.len();
        if n == 0 {
            return Self::default();
        }
        // About one entry per bucket: 2^bits >= n.
        let bits = (usize::BITS - (n - 1).leading_zeros()).min(MAX_BITS);
        let buckets = 1usize << bits;
        let mut index = vec![0u32; buckets + 1];
        // Count, then prefix-sum into start offsets (`digests` is sorted, so each bucket's
        // entries are contiguous).
        for d in &digests {
            index[bucket(d, bits) + 1] += 1;
        }
        for b in 0..buckets {
            index[b + 1] += index[b];
        }
        debug_assert_eq!(index[buckets] as usize, n);
        Self {
            digests,
            index,
            bits,
        }
    }

    /// Distinct entries.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether the list blocks nothing.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether the list holds this SHA-256 digest.
    #[inline]
    pub fn contains_digest(&self, digest: &BlockDigest) -> bool {
        if self.digests.is_empty() {
            return false;
        }
        let b = bucket(digest, self.bits);
        let range = &self.digests[self.index[b] as usize..self.index[b + 1] as usize];
        match range.len() {
            0 => false,
            1 => range[0] == *digest,
            _ => range.binary_search(digest).is_ok(),
        }
    }

    /// Whether the list blocks this infohash (hashes it with SHA-256, then looks it up).
    #[inline]
    pub fn contains_infohash(&self, info_hash: &[u8; 20]) -> bool {
        !self.digests.is_empty() && self.contains_digest(&digest_of(info_hash))
    }

    /// [`contains_infohash`](Self::contains_infohash) for many hashes at once (a BEP-51
    /// sample's worth), in order. Hashes all of them first and then looks them up, so the
    /// lookups' cache misses overlap: 2–3x the single-hash rate on a large list.
    pub fn contains_infohashes(&self, info_hashes: &[[u8; 20]]) -> Vec<bool> {
        if self.digests.is_empty() {
            return vec![false; info_hashes.len()];
        }
        let digests: Vec<BlockDigest> = info_hashes.iter().map(digest_of).collect();
        digests.iter().map(|d| self.contains_digest(d)).collect()
    }

    /// The entries, sorted.
    pub fn digests(&self) -> &[BlockDigest] {
        &self.digests
    }
}

/// The bucket of a digest: its top `bits` bits.
#[inline]
fn bucket(digest: &BlockDigest, bits: u32) -> usize {
    let prefix = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    // `bits` is at most MAX_BITS (< 64); `checked_shr` covers bits == 0 (shift by 64).
    prefix.checked_shr(64 - bits).unwrap_or(0) as usize
}

/// SHA-256 of the raw 20-byte infohash: the value a list entry holds.
pub fn digest_of(info_hash: &[u8; 20]) -> BlockDigest {
    Sha256::digest(info_hash).into()
}

/// The list entry for an infohash: 64 lowercase hex digits, no newline.
pub fn hex_digest_line(info_hash: &[u8; 20]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest_of(info_hash) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses one file's bytes, appending its entries.
fn parse_into(path: &Path, bytes: &[u8], out: &mut Vec<BlockDigest>) -> Result<(), BlocklistError> {
    // A rough reservation: an entry line is at least 65 bytes.
    out.reserve(bytes.len() / 65);
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let entry = match raw.iter().position(|&b| b == b'#') {
            Some(at) => &raw[..at],
            None => raw,
        }
        .trim_ascii();
        if entry.is_empty() {
            continue;
        }
        let malformed = |reason| BlocklistError::Malformed {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
            text: String::from_utf8_lossy(entry).chars().take(80).collect(),
        };
        if entry.len() != 64 {
            let looks_raw = entry.len() == 40 && entry.iter().all(|&c| hex_val(c).is_some());
            return Err(malformed(if looks_raw {
                "40 hex digits is a raw infohash; an entry is the SHA-256 of the infohash \
                 (64 hex digits)"
            } else {
                "an entry is 64 hex digits (SHA-256 of the infohash)"
            }));
        }
        let mut digest = [0u8; 32];
        for (d, pair) in digest.iter_mut().zip(entry.chunks_exact(2)) {
            match (hex_val(pair[0]), hex_val(pair[1])) {
                (Some(hi), Some(lo)) => *d = hi << 4 | lo,
                _ => return Err(malformed("not a hex digit")),
            }
        }
        out.push(digest);
    }
    Ok(())
}

/// What identifies one version of a list file: modification time, length and inode (a file
/// replaced by rename gets a new inode even within the clock's resolution). `None`: missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Fingerprint {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// Notices when any of a set of list files changed (or appeared, or vanished), so the caller
/// can poll it every few seconds and reload.
///
/// ```no_run
/// # use classify::blocklist::{Blocklist, BlocklistWatcher};
/// # use std::sync::{Arc, RwLock};
/// # fn demo(paths: Vec<std::path::PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
/// let mut watcher = BlocklistWatcher::new(paths);
/// let current = Arc::new(RwLock::new(Arc::new(watcher.load()?)));
/// // every few seconds, and with `force = true` on SIGHUP:
/// # let force = false;
/// if force || watcher.changed() {
///     match watcher.load() {
///         Ok(list) => *current.write().unwrap() = Arc::new(list),
///         Err(e) => eprintln!("keeping the previous blocklist: {e}"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BlocklistWatcher {
    paths: Vec<PathBuf>,
    seen: Vec<Option<Fingerprint>>,
}

impl BlocklistWatcher {
    /// Watches `paths`, taking their current state as the baseline.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        let seen = paths.iter().map(|p| fingerprint(p)).collect();
        Self { paths, seen }
    }

    /// The watched files.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Whether any file changed since the baseline; the current state becomes the baseline.
    /// Cheap (one `stat` per file).
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        for (path, seen) in self.paths.iter().zip(self.seen.iter_mut()) {
            let now = fingerprint(path);
            if now != *seen {
                *seen = now;
                changed = true;
            }
        }
        changed
    }

    /// Takes the current state as the baseline, then loads the files. Baseline first: a file
    /// rewritten during the load is seen as changed by the next [`changed`](Self::changed).
    pub fn load(&mut self) -> Result<Blocklist, BlocklistError> {
        self.changed();
        Blocklist::load(&self.paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_digest_space() {
        let mut d = [0u8; 32];
        assert_eq!(bucket(&d, 0), 0);
        assert_eq!(bucket(&d, 26), 0);
        d[0] = 0xff;
        assert_eq!(bucket(&d, 1), 1);
        assert_eq!(bucket(&d, 8), 0xff);
        d = [0xff; 32];
        assert_eq!(bucket(&d, 26), (1 << 26) - 1);
    }

    #[test]
    fn every_size_finds_its_entries() {
        for n in [0usize, 1, 2, 3, 4, 5, 100, 1000, 4097] {
            let digests: Vec<BlockDigest> = (0..n as u32)
                .map(|i| {
                    let mut ih = [0u8; 20];
                    ih[..4].copy_from_slice(&i.to_le_bytes());
                    digest_of(&ih)
                })
                .collect();
            let list = Blocklist::from_digests(digests.clone());
            assert_eq!(list.len(), n);
            assert!(digests.iter().all(|d| list.contains_digest(d)), "n={n}");
            assert!(!list.contains_digest(&[0x55; 32]));
            assert!(!list.contains_digest(&[0; 32]));
            assert!(!list.contains_digest(&[0xff; 32]));
        }
    }

    #[test]
    fn a_crowded_bucket_still_works() {
        // Crafted entries sharing their first 8 bytes: one bucket holds them all.
        let digests: Vec<BlockDigest> = (0..1000u32)
            .map(|i| {
                let mut d = [7u8; 32];
                d[28..].copy_from_slice(&i.to_be_bytes());
                d
            })
            .collect();
        let list = Blocklist::from_digests(digests.clone());
        assert!(digests.iter().all(|d| list.contains_digest(d)));
        let mut miss = [7u8; 32];
        miss[28..].copy_from_slice(&5000u32.to_be_bytes());
        assert!(!list.contains_digest(&miss));
    }
}
