//! Bencode, the BitTorrent serialisation format, without copies.
//!
//! * [`decode`] validates a whole buffer once and returns a [`Value`] that borrows from it.
//!   Lists and dictionaries are kept as validated byte spans and iterated lazily, so decoding a
//!   KRPC datagram allocates nothing.
//! * [`Encoder`] writes bencode into a caller-owned [`Sink`] (a reused `Vec<u8>` or a fixed
//!   [`SliceSink`]), so encoding allocates nothing either.
//!
//! Decoding never panics on any input: nesting depth, integer range and string lengths are all
//! checked, and every failure is a typed [`Error`] carrying the byte offset.

#![warn(missing_docs)]
// Sans-IO, enforced: no clock, socket, lock, thread or OS randomness (the list and the reasons
// are in the root clippy.toml). Unit tests are exempt: they may take `Instant::now()` as an
// arbitrary epoch.
#![cfg_attr(not(test), deny(clippy::disallowed_methods, clippy::disallowed_types))]

mod decode;
mod encode;

pub use decode::{
    Dict, DictIter, Error, ErrorKind, List, ListIter, MAX_DEPTH, Value, decode, decode_prefix,
};
pub use encode::{Encoder, Overflow, Sink, SliceSink};
