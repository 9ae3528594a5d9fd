//! Filters and classification, with no IO beyond reading their files: no async runtime, no
//! store, no network. The crawler plugs them into its pipeline (`crawler::stages`).
//!
//! - [`blocklist`]: the double-hash blocklist checked before any TCP connection (entries are
//!   SHA-256 of the raw 20-byte infohash, so a published list never reveals what it blocks).
//! - [`rules`]: CEL rules in YAML: pre-fetch, post-fetch (content type, tags, attributes,
//!   drop) and retention, with built-in defaults merged under the user's file.
//! - [`attrs`]: the attributes parsed from a torrent's name (year, season, resolution...).

pub mod attrs;
pub mod blocklist;
pub mod rules;
