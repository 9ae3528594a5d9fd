//! The properties of the peerwire fuzz targets, shared with the plain `cargo test` run over
//! their corpus (`tests/fuzz_corpus.rs`); the targets in `fuzz/fuzz_targets/` include this
//! file by path. Each function panics when a property fails, whatever the input.

#![allow(dead_code)] // each fuzz target uses one of the properties

use std::time::{Duration, Instant};

use peerwire::{FetchConfig, InfoDict, MetadataFetch, MetadataServe};

/// Layout of a `peerwire_fetch` input: the info hash to fetch, one byte seeding the
/// fragmentation, then the bytes the peer sends.
pub(crate) const FETCH_HEADER: usize = 21;

/// Limits of the fuzzed fetch: the default message bound, a smaller metadata cap so an
/// input announcing a large `metadata_size` stays cheap.
pub(crate) fn fetch_config() -> FetchConfig {
    FetchConfig {
        max_metadata_size: 1 << 20,
        ..FetchConfig::default()
    }
}

/// Feeds the peer bytes of `data` (see [`FETCH_HEADER`]) to a [`MetadataFetch`] in fragments
/// of 1 to 64 bytes (and whole, for seed byte 0), then EOF:
/// * never panics; the input buffer stays within its bound, the metadata allocation within
///   the cap;
/// * exactly one outcome, after which nothing is transmitted and no timer is asked for;
/// * a success is exactly bytes whose SHA-1 is the info hash, parsed as `InfoDict::parse`
///   parses them.
pub(crate) fn fetch_session(data: &[u8]) {
    let Some((head, peer)) = data.split_first_chunk::<FETCH_HEADER>() else {
        return;
    };
    let mut info_hash = [0u8; 20];
    info_hash.copy_from_slice(&head[..20]);
    let mut x = u64::from(head[20]);
    let whole = x == 0;
    let config = fetch_config();
    let max_meta = config.max_metadata_size;
    let t0 = Instant::now();
    let mut f = MetadataFetch::new(info_hash.into(), [7; 20], config, t0);
    let _ = f.poll_transmit();
    let mut outcome = None;
    let mut rest = peer;
    while !rest.is_empty() {
        let n = if whole {
            rest.len()
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + (x % 64) as usize
        }
        .min(rest.len());
        f.handle_input(t0, &rest[..n]);
        rest = &rest[n..];
        assert!(
            f.buffered_len() <= f.max_buffered_len(),
            "input buffer over bound"
        );
        assert!(f.metadata_allocated() <= max_meta, "metadata over cap");
        let _ = f.poll_transmit();
        // A timer that fires early changes nothing.
        if let Some(t) = f.poll_timeout() {
            assert!(t > t0);
            f.handle_timeout(t0 + Duration::from_millis(1));
        }
        if let Some(o) = f.poll_outcome() {
            assert!(outcome.is_none(), "two outcomes");
            outcome = Some(o);
        }
    }
    f.handle_eof();
    if let Some(o) = f.poll_outcome() {
        assert!(outcome.is_none(), "two outcomes");
        outcome = Some(o);
    }
    let o = outcome.expect("EOF always ends the fetch");
    assert!(f.is_finished());
    assert!(f.poll_transmit().is_none() && f.poll_timeout().is_none());
    assert!(f.poll_outcome().is_none());
    f.handle_input(t0, b"more");
    assert!(f.poll_outcome().is_none() && f.buffered_len() == 0);
    if let Ok(m) = o {
        // MetadataServe computes the SHA-1 of what it serves: an independent hash here.
        assert_eq!(
            MetadataServe::new(m.info_bytes.clone(), [0; 20])
                .info_hash()
                .dht_key(),
            info_hash
        );
        assert_eq!(InfoDict::parse(&m.info_bytes).as_ref(), Ok(&m.info));
    }
}

/// `InfoDict::parse` never panics; what it accepts is valid bencode whose file sizes add up,
/// with non-empty bounded paths.
pub(crate) fn info_dict_parse(data: &[u8]) {
    let Ok(d) = InfoDict::parse(data) else {
        return;
    };
    assert!(bencode::decode(data).is_ok());
    assert!(d.file_count() <= peerwire::info_dict::MAX_FILES);
    assert_eq!(d.total_size, d.files.iter().map(|f| f.length).sum::<u64>());
    for f in &d.files {
        assert!(!f.path.is_empty());
        assert!(f.path.len() <= peerwire::info_dict::MAX_PATH_COMPONENTS);
    }
    if d.single_file {
        assert_eq!(d.file_count(), 1);
    }
}
