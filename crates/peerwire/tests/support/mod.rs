//! Shared helpers of the peerwire integration tests: a seeded RNG, the fixtures, scripted peer
//! bytes and a fetch/serve pair driven over randomly fragmented streams.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use infohash::InfoHash;
use peerwire::handshake::{encode_handshake, encode_handshake_with};
use peerwire::{FetchConfig, MetadataFetch, MetadataServe, OUR_UT_METADATA_ID, Outcome};
use sha1::{Digest, Sha1};

/// The workspace's seeded test RNG, with the draws these tests make.
#[derive(Debug, Clone)]
pub(crate) struct Rng(testkit::TestRng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(testkit::seeded(seed))
    }
    pub(crate) fn next(&mut self) -> u64 {
        testkit::rng::RngCore::next_u64(&mut self.0)
    }
    /// Uniform-ish in `1..=max`.
    pub(crate) fn chunk(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }
}

pub(crate) const OUR_ID: [u8; 20] = *b"-BA0001-ourpeerid000";
pub(crate) const SEED_ID: [u8; 20] = *b"-BA0001-seedpeerid00";

pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The libtorrent-made info dictionaries (see fixtures/generate.py).
pub(crate) const FIXTURES: [&str; 6] = [
    "single_v1.info",
    "single_v2.info",
    "single_hybrid.info",
    "multi_v1.info",
    "multi_v2.info",
    "multi_hybrid.info",
];

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).unwrap()
}

pub(crate) fn sha1(b: &[u8]) -> [u8; 20] {
    Sha1::digest(b).into()
}

/// A v1 multi-file info dictionary of `files` files, large enough to span several metadata
/// pieces (about 60 bytes per file).
pub(crate) fn big_info_dict(files: usize) -> Vec<u8> {
    let mut out = b"d5:filesl".to_vec();
    for i in 0..files {
        let name = format!("file-{i:06}.bin");
        out.extend_from_slice(
            format!("d6:lengthi{}e4:pathl3:dir{}:{name}ee", 1000 + i, name.len()).as_bytes(),
        );
    }
    out.extend_from_slice(b"e4:name7:big-dir12:piece lengthi16384e6:pieces20:");
    out.extend_from_slice(&[0xab; 20]);
    out.push(b'e');
    out
}

/// Feeds `bytes` to `fetch` in random fragments of 1..=max_chunk bytes.
pub(crate) fn feed(
    fetch: &mut MetadataFetch,
    now: Instant,
    bytes: &[u8],
    rng: &mut Rng,
    max_chunk: usize,
) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.chunk(max_chunk).min(rest.len());
        fetch.handle_input(now, &rest[..n]);
        assert!(fetch.buffered_len() <= fetch.max_buffered_len());
        rest = &rest[n..];
    }
}

/// Runs a fetch against a [`MetadataServe`] of `info`, both directions fragmented at random.
/// Returns the outcome and every byte the seeder sent (a recorded session).
pub(crate) fn run_pair(
    info: &[u8],
    seed: u64,
    max_chunk: usize,
    config: FetchConfig,
) -> (Outcome, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let t0 = Instant::now();
    let mut now = t0;
    let mut fetch = MetadataFetch::new(InfoHash::v1(sha1(info)), OUR_ID, config, now);
    let mut serve = MetadataServe::new(info.to_vec(), SEED_ID);
    let mut recorded = Vec::new();
    for _round in 0..100_000 {
        now += Duration::from_millis(1);
        let mut progressed = false;
        while let Some(out) = fetch.poll_transmit() {
            progressed = true;
            let mut rest = &out[..];
            while !rest.is_empty() {
                let n = rng.chunk(max_chunk).min(rest.len());
                serve.handle_input(&rest[..n]).unwrap();
                rest = &rest[n..];
            }
        }
        if let Some(o) = fetch.poll_outcome() {
            assert!(fetch.poll_timeout().is_none());
            return (o, recorded);
        }
        while let Some(out) = serve.poll_transmit() {
            progressed = true;
            recorded.extend_from_slice(&out);
            feed(&mut fetch, now, &out, &mut rng, max_chunk);
        }
        assert!(progressed, "seed {seed}: stalled");
        if let Some(t) = fetch.poll_timeout() {
            assert!(t > now, "seed {seed}: deadline in the past");
        }
    }
    panic!("seed {seed}: no outcome");
}

/// The seeding peer's half of a scripted exchange.
#[derive(Debug, Default)]
pub(crate) struct Script {
    pub bytes: Vec<u8>,
}

impl Script {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn handshake(mut self, info_hash: &[u8; 20]) -> Self {
        self.bytes
            .extend_from_slice(&encode_handshake(info_hash, &SEED_ID));
        self
    }
    pub(crate) fn handshake_without_extensions(mut self, info_hash: &[u8; 20]) -> Self {
        self.bytes
            .extend_from_slice(&encode_handshake_with(info_hash, &SEED_ID, false));
        self
    }
    pub(crate) fn ext_handshake(mut self, ut: u8, size: Option<u64>) -> Self {
        peerwire::extension::encode_ext_handshake(&mut self.bytes, ut, size, Some(b"script"));
        self
    }
    /// Raw extended payload (after the message id 20), framed.
    pub(crate) fn extended(mut self, payload: &[u8]) -> Self {
        peerwire::message::encode_message(&mut self.bytes, 20, payload);
        self
    }
    pub(crate) fn message(mut self, id: u8, payload: &[u8]) -> Self {
        peerwire::message::encode_message(&mut self.bytes, id, payload);
        self
    }
    /// Every piece of `info`, sent to our `ut_metadata` id.
    pub(crate) fn all_pieces(mut self, info: &[u8]) -> Self {
        for (i, chunk) in info.chunks(peerwire::metadata::PIECE_SIZE).enumerate() {
            self = self.piece(i as u32, info.len() as u64, chunk);
        }
        self
    }
    pub(crate) fn piece(mut self, i: u32, total: u64, data: &[u8]) -> Self {
        peerwire::metadata::encode_data(&mut self.bytes, OUR_UT_METADATA_ID, i, total, data);
        self
    }
    pub(crate) fn reject(mut self, i: u32) -> Self {
        peerwire::metadata::encode_reject(&mut self.bytes, OUR_UT_METADATA_ID, i);
        self
    }
    pub(crate) fn raw(mut self, b: &[u8]) -> Self {
        self.bytes.extend_from_slice(b);
        self
    }
}

/// Plays `script` to a fresh fetch of `info_hash` in fragments (`max_chunk`), then EOF when
/// `eof`; returns the fetch (for inspection) and its outcome.
pub(crate) fn play(
    info_hash: [u8; 20],
    script: &Script,
    config: FetchConfig,
    seed: u64,
    max_chunk: usize,
    eof: bool,
) -> (MetadataFetch, Option<Outcome>) {
    let mut rng = Rng::new(seed);
    let now = Instant::now();
    let mut fetch = MetadataFetch::new(InfoHash::v1(info_hash), OUR_ID, config, now);
    let _ = fetch.poll_transmit();
    feed(&mut fetch, now, &script.bytes, &mut rng, max_chunk);
    if eof {
        fetch.handle_eof();
    }
    let o = fetch.poll_outcome();
    (fetch, o)
}
