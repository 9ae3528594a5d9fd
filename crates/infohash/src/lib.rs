//! A torrent's identity: the one infohash type of the workspace.
//!
//! `krpc` (samples, `get_peers` targets), `store` (the primary key) and the `crawler` (candidates,
//! dedup, fetches) all name a torrent by [`InfoHash`]. The DHT keyspace type (`krpc::Id20`)
//! stays separate, since node ids and lookup targets are not torrents; the conversions between
//! the two live in one place, `krpc`'s `id.rs`.
//!
//! Only BitTorrent v1 exists today: the SHA-1 of the info dictionary, 20 bytes. The
//! representation is private and [`InfoHash::version`] is an enum so that v2 (BEP-52: the
//! SHA-256 of the info dictionary, 32 bytes, announced on the DHT truncated to 20 bytes) can be
//! added as a variant: code that needs the 20 bytes of the wire calls [`InfoHash::dht_key`],
//! code that stores or prints the full hash calls [`InfoHash::as_bytes`] / `Display`.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

/// Which BitTorrent version's hash an [`InfoHash`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// BitTorrent v1: SHA-1 of the bencoded info dictionary (20 bytes).
    V1,
}

/// A torrent's infohash (see the crate docs). Ordered and hashed by its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InfoHash(Repr);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    V1([u8; 20]),
}

impl Default for Repr {
    fn default() -> Self {
        Self::V1([0; 20])
    }
}

/// A string that is not an infohash in hex (40 hex digits for v1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an infohash of 40 hex digits, got {0:?}")]
pub struct ParseInfoHashError(pub String);

impl InfoHash {
    /// The v1 infohash with these 20 bytes.
    pub const fn v1(bytes: [u8; 20]) -> Self {
        Self(Repr::V1(bytes))
    }

    /// A v1 infohash from a 20-byte slice (a database column, a wire field); `None` for any
    /// other length.
    pub fn from_v1_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 20]>::try_from(bytes).ok().map(Self::v1)
    }

    /// Which version's hash this is.
    pub const fn version(&self) -> Version {
        match self.0 {
            Repr::V1(_) => Version::V1,
        }
    }

    /// The full hash: 20 bytes for v1. What the store keys a torrent by.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::V1(b) => b,
        }
    }

    /// The 20 bytes the DHT and the peer handshake carry: the v1 hash itself (for v2, BEP-52's
    /// truncation to 20 bytes).
    pub const fn dht_key(&self) -> [u8; 20] {
        match self.0 {
            Repr::V1(b) => b,
        }
    }

    /// Lowercase hex of the full hash.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl From<[u8; 20]> for InfoHash {
    fn from(bytes: [u8; 20]) -> Self {
        Self::v1(bytes)
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({self})")
    }
}

impl FromStr for InfoHash {
    type Err = ParseInfoHashError;

    /// 40 hex digits (either case) → a v1 infohash.
    fn from_str(s: &str) -> Result<Self, ParseInfoHashError> {
        let err = || ParseInfoHashError(s.to_string());
        let b = s.as_bytes();
        if b.len() != 40 {
            return Err(err());
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let hi = hex_digit(pair[0]).ok_or_else(err)?;
            let lo = hex_digit(pair[1]).ok_or_else(err)?;
            *o = hi << 4 | lo;
        }
        Ok(Self::v1(out))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_is_lowercase() {
        let h: InfoHash = "0123456789ABCDEFabcdef0123456789abcdef01".parse().unwrap();
        assert_eq!(h.to_string(), "0123456789abcdefabcdef0123456789abcdef01");
        assert_eq!(h.to_hex().parse::<InfoHash>().unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("InfoHash({h})"));
    }

    #[test]
    fn bad_hex_is_an_error_naming_the_input() {
        for s in ["", "00", &"0".repeat(41), &"g".repeat(40), &"é".repeat(20)] {
            let e = s.parse::<InfoHash>().unwrap_err();
            assert_eq!(e.0, s);
        }
    }

    #[test]
    fn v1_bytes_are_the_dht_key_and_the_stored_bytes() {
        let h = InfoHash::v1([7; 20]);
        assert_eq!(h.version(), Version::V1);
        assert_eq!(h.as_bytes(), &[7; 20]);
        assert_eq!(h.dht_key(), [7; 20]);
        assert_eq!(InfoHash::from_v1_slice(&[7; 20]), Some(h));
        assert_eq!(InfoHash::from_v1_slice(&[7; 32]), None);
        assert_eq!(InfoHash::from([7; 20]), h);
    }

    #[test]
    fn ordered_by_bytes() {
        let mut v = [
            InfoHash::v1([2; 20]),
            InfoHash::v1([1; 20]),
            InfoHash::v1([3; 20]),
        ];
        v.sort();
        assert_eq!(v[0].as_bytes()[0], 1);
        assert_eq!(v[2].as_bytes()[0], 3);
    }
}
