//! 160-bit identifiers: node ids and infohashes share one keyspace.
//!
//! A torrent is named by [`InfoHash`] everywhere; [`Id20`] is the keyspace (node ids, lookup
//! targets, XOR distance). The two conversions between them live here and nowhere else.

use std::fmt;
use std::str::FromStr;

use infohash::InfoHash;

/// A 160-bit DHT key: a node id or a lookup target (a torrent's key is
/// [`InfoHash::dht_key`], converted with `Id20::from(info_hash)`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id20(pub [u8; 20]);

/// A string that is not 40 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 40 hex digits, got {0:?}")]
pub struct ParseIdError(pub String);

impl Id20 {
    /// The all-zero id.
    pub const ZERO: Self = Self([0; 20]);
    /// The all-ones id.
    pub const MAX: Self = Self([0xff; 20]);

    /// The id from a 20-byte slice, or `None` for any other length.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 20]>::try_from(b).ok().map(Id20)
    }

    /// XOR distance to `other` (the Kademlia metric), as an id.
    pub fn distance(&self, other: &Self) -> Self {
        let mut out = [0u8; 20];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.0[i] ^ other.0[i];
        }
        Self(out)
    }

    /// Number of leading bits `self` shares with `other` (160 when equal).
    pub fn common_prefix_len(&self, other: &Self) -> u32 {
        for i in 0..20 {
            let x = self.0[i] ^ other.0[i];
            if x != 0 {
                return i as u32 * 8 + x.leading_zeros();
            }
        }
        160
    }

    /// Bit `i` counted from the most significant bit (0..160).
    pub fn bit(&self, i: u32) -> bool {
        let byte = self.0[(i / 8) as usize];
        (byte >> (7 - (i % 8))) & 1 == 1
    }

    /// A copy with bit `i` (from the most significant) set to `v`.
    pub fn with_bit(mut self, i: u32, v: bool) -> Self {
        let mask = 1u8 << (7 - (i % 8));
        let b = &mut self.0[(i / 8) as usize];
        if v {
            *b |= mask;
        } else {
            *b &= !mask;
        }
        self
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(40);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
        }
        s
    }
}

impl FromStr for Id20 {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, ParseIdError> {
        let b = s.as_bytes();
        if b.len() != 40 {
            return Err(ParseIdError(s.to_string()));
        }
        let mut out = [0u8; 20];
        for i in 0..20 {
            let hi = (b[2 * i] as char).to_digit(16);
            let lo = (b[2 * i + 1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
                _ => return Err(ParseIdError(s.to_string())),
            }
        }
        Ok(Self(out))
    }
}

/// The point of the keyspace a torrent lives at: its [`InfoHash::dht_key`].
impl From<InfoHash> for Id20 {
    fn from(info_hash: InfoHash) -> Self {
        Self(info_hash.dht_key())
    }
}

/// A 20-byte DHT key read as a torrent. Only BitTorrent v1 exists today, so the key is read as
/// a v1 infohash; once v2 exists, a key alone cannot tell a v1 hash from a truncated v2 one.
impl From<Id20> for InfoHash {
    fn from(id: Id20) -> Self {
        Self::v1(id.0)
    }
}

impl fmt::Debug for Id20 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Id20 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let s = "0123456789abcdef0123456789abcdef01234567";
        let id: Id20 = s.parse().unwrap();
        assert_eq!(id.to_hex(), s);
        assert!("xyz".parse::<Id20>().is_err());
        assert!(
            "g123456789abcdef0123456789abcdef01234567"
                .parse::<Id20>()
                .is_err()
        );
    }

    #[test]
    fn distance_and_prefix() {
        let a = Id20::ZERO;
        let b = Id20::ZERO.with_bit(3, true);
        assert_eq!(a.common_prefix_len(&b), 3);
        assert_eq!(a.common_prefix_len(&a), 160);
        assert!(b.bit(3) && !b.bit(2));
        assert_eq!(a.distance(&b), b);
        assert!(a.distance(&b) < a.distance(&Id20::MAX));
    }

    #[test]
    fn infohash_converts_through_its_dht_key() {
        let h = InfoHash::v1([9; 20]);
        assert_eq!(Id20::from(h), Id20([9; 20]));
        assert_eq!(InfoHash::from(Id20([9; 20])), h);
    }
}
