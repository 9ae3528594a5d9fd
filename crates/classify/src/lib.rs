//! Filters and classification: the blocklist, the CEL rules and the name attributes that decide
//! what the crawler fetches, keeps, labels and evicts.
//!
//! A leaf: no IO beyond reading the files it is handed, no async runtime, no store, no network
//! and no other BitAgent crate; facts come in as plain values and verdicts go out. The crawler
//! plugs it into its pipeline (`crawler::stages`). `scripts/check-deps.sh` fails if tokio,
//! crawler, store, lab, net or bitagent enter its dependency graph.
//!
//! - [`blocklist`]: the double-hash blocklist checked before any TCP connection (entries are
//!   SHA-256 of the raw 20-byte infohash, so a published list never reveals what it blocks).
//! - [`rules`]: CEL rules in YAML: pre-fetch, post-fetch (content type, tags, attributes,
//!   drop) and retention, with built-in defaults merged under the user's file.
//! - [`attrs`]: the attributes parsed from a torrent's name (year, season, resolution...).

#![warn(missing_docs)]

pub mod attrs;
pub mod blocklist;
pub mod rules;
