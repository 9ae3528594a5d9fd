//! An offline DHT lab on loopback, for users trying BitAgent safely and for our tests and
//! benchmarks.
//!
//! - [`swarm`]: many full DHT nodes in one process, each on its own loopback address,
//!   seeding synthetic torrents (answering `sample_infohashes`, `get_peers`, and serving
//!   `ut_metadata` over TCP). The torrents come from the `synth` crate (a deterministic
//!   generator of realistic torrents, shared with the store's benches).
//! - [`hostile`]: misbehaving metadata peers (huge `metadata_size`, wrong pieces, stalls,
//!   hang-ups mid-piece, garbage) for robustness tests.

#![warn(missing_docs)]

pub mod hostile;
pub mod swarm;
