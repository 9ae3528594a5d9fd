//! Filters and classification.
//!
//! - [`blocklist`]: the double-hash blocklist checked before any TCP connection (entries are
//!   SHA-256 of the raw 20-byte infohash, so a published list never reveals what it blocks).
//! - [`rules`]: CEL rules in YAML: pre-fetch, post-fetch (content type, tags, attributes,
//!   drop) and retention, with built-in defaults merged under the user's file.

pub mod blocklist;
pub mod rules;
pub mod attrs;
