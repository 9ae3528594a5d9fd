//! The BitTorrent peer wire, sans IO: fetch one torrent's info dictionary from one peer.
//!
//! [`MetadataFetch`] runs the whole exchange over a byte stream the caller owns: the BEP-3
//! handshake (with the BEP-10 extension bit), the BEP-10 extension handshake, and BEP-9
//! `ut_metadata` requests, assembling 16 KiB pieces into a buffer that is SHA-1 checked
//! against the info hash and parsed into an [`InfoDict`]. It reads no clock (time is a
//! parameter), opens no socket and draws no randomness (the caller supplies the peer id).
//! [`MetadataServe`] is the seeding side, for the offline lab and tests.
//!
//! One concept per module:
//! [`handshake`] (68-byte handshake), [`message`] (length-prefixed framing),
//! [`extension`] (BEP-10 extension handshake), [`metadata`] (BEP-9 messages and assembly),
//! [`info_dict`] (v1/v2/hybrid info dictionaries), `fetch` ([`MetadataFetch`]), `serve`
//! ([`MetadataServe`]), `error` ([`FetchError`]).
//!
//! Nothing here panics on network input; `fuzz/` has targets for the fetch state machine and
//! the info-dict parser.

#![warn(missing_docs)]
// Sans-IO, enforced: no clock, socket, lock, thread or OS randomness (the list and the reasons
// are in the root clippy.toml). Unit tests are exempt: they may take `Instant::now()` as an
// arbitrary epoch.
#![cfg_attr(not(test), deny(clippy::disallowed_methods, clippy::disallowed_types))]

mod error;
pub mod extension;
mod fetch;
pub mod handshake;
pub mod info_dict;
pub mod message;
pub mod metadata;
mod serve;

pub use error::{FetchError, HandshakeError, ProtocolError, TimeoutPhase};
pub use fetch::{FetchConfig, Metadata, MetadataFetch, OUR_UT_METADATA_ID, Outcome};
pub use info_dict::{File, InfoDict, InfoDictError, MetaVersion};
pub use serve::{MetadataServe, SERVE_UT_METADATA_ID};
