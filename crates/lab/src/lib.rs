//! An offline DHT lab on loopback, for users trying BitAgent safely and for our tests and
//! benchmarks.
//!
//! - [`swarm`]: many full DHT nodes in one process, each on its own loopback address,
//!   seeding synthetic torrents (answering `sample_infohashes`, `get_peers`, and serving
//!   `ut_metadata` over TCP).
//! - [`synth`]: a deterministic generator of realistic torrents (release-style names and
//!   file trees) and their bencoded info dicts.
//! - [`hostile`]: misbehaving metadata peers (huge `metadata_size`, wrong pieces, stalls,
//!   hang-ups mid-piece, garbage) for robustness tests.

#![warn(missing_docs)]

pub mod hostile;
pub mod swarm;
pub mod synth;
