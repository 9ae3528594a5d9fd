//! Filters and classification.
//!
//! - [`blocklist`]: the double-hash blocklist checked before any TCP connection (entries are
//!   SHA-256 of the raw 20-byte infohash, so a published list never reveals what it blocks).
//! - [`rules`]: CEL rules in YAML: pre-fetch, post-fetch (content type, tags, attributes,
//!   drop) and retention, with built-in defaults merged under the user's file.
//! - [`stages`]: both plugged into the crawler's pre- and post-fetch stages, with their
//!   metrics, the blocklist reload (file change, SIGHUP) and the purge of stored matches.

pub mod attrs;
pub mod blocklist;
pub mod rules;
pub mod stages;
