//! The trace hash: a 64-bit FNV-1a digest of every delivered datagram, in delivery order.
//!
//! Two runs with the same seed and the same driver calls deliver the same datagrams at the
//! same virtual times, so they end with the same hash; any divergence (an engine reading
//! ambient state, a non-deterministic iteration order, a driver bug) changes it.

use std::net::SocketAddr;
use std::time::Duration;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running FNV-1a 64 hash over `(time, src, dst, bytes)` of delivered datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHash(u64);

impl TraceHash {
    /// The hash of an empty trace.
    pub fn new() -> Self {
        Self(OFFSET)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    fn write_addr(&mut self, a: &SocketAddr) {
        match a {
            SocketAddr::V4(v4) => self.write(&v4.ip().octets()),
            SocketAddr::V6(v6) => self.write(&v6.ip().octets()),
        }
        self.write(&a.port().to_le_bytes());
    }

    /// Folds one delivered datagram into the hash.
    pub fn record(&mut self, at: Duration, src: &SocketAddr, dst: &SocketAddr, bytes: &[u8]) {
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.write(&nanos.to_le_bytes());
        self.write_addr(src);
        self.write_addr(dst);
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }

    /// The digest so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

impl Default for TraceHash {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_and_sensitivity() {
        let mut h = TraceHash::new();
        h.write(b"a");
        assert_eq!(h.value(), 0xaf63_dc4c_8601_ec8c, "FNV-1a 64 of \"a\"");
        let a: SocketAddr = "10.0.0.1:6881".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:6881".parse().unwrap();
        let mut x = TraceHash::new();
        let mut y = TraceHash::new();
        x.record(Duration::from_millis(1), &a, &b, b"hi");
        y.record(Duration::from_millis(1), &b, &a, b"hi");
        assert_ne!(x.value(), y.value());
    }
}
