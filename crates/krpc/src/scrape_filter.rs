//! BEP-33 scrape bloom filters (`BFsd`, `BFpe`).

use std::net::IpAddr;

use sha1::{Digest, Sha1};

/// A 2048-bit bloom filter of peer IPs with k = 2, as BEP-33 defines.
#[derive(Clone, PartialEq, Eq)]
pub struct ScrapeFilter(pub [u8; 256]);

impl Default for ScrapeFilter {
    fn default() -> Self {
        Self([0; 256])
    }
}

impl std::fmt::Debug for ScrapeFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScrapeFilter(~{:.0})", self.estimate())
    }
}

const M: f64 = 2048.0;
const K: f64 = 2.0;

impl ScrapeFilter {
    /// Adds an IP: SHA-1 of its bytes, two 11-bit indexes from the first four bytes.
    pub fn insert(&mut self, ip: IpAddr) {
        let digest = match ip {
            IpAddr::V4(v4) => Sha1::digest(v4.octets()),
            IpAddr::V6(v6) => Sha1::digest(v6.octets()),
        };
        let i1 = (usize::from(digest[0]) | usize::from(digest[1]) << 8) % 2048;
        let i2 = (usize::from(digest[2]) | usize::from(digest[3]) << 8) % 2048;
        for i in [i1, i2] {
            self.0[i / 8] |= 1 << (i % 8);
        }
    }

    /// Merges another filter (union), as when combining replies of several nodes.
    pub fn union(&mut self, other: &[u8; 256]) {
        for (a, b) in self.0.iter_mut().zip(other.iter()) {
            *a |= b;
        }
    }

    /// BEP-33's estimate of the number of distinct IPs inserted:
    /// `ln(c / m) / (k * ln(1 - 1/m))` with `c` the count of zero bits.
    /// A full filter (`c = 0`) saturates at the largest representable estimate (~6,000).
    pub fn estimate(&self) -> f64 {
        estimate(&self.0)
    }
}

/// The BEP-33 size estimate of a raw 256-byte filter.
pub fn estimate(bits: &[u8; 256]) -> f64 {
    let set: u32 = bits.iter().map(|b| b.count_ones()).sum();
    let zeros = (M - f64::from(set)).max(1.0); // a full filter saturates (BEP-33: c = m - 1)
    (zeros / M).ln() / (K * (1.0 - 1.0 / M).ln())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// BEP-33's own test vector: 192.0.2.0 ..= 192.0.2.255 and 2001:db8::0 ..= 2001:db8::3e7
    /// inserted into one filter give this exact bit pattern and an estimate of 1224.93.
    #[test]
    fn bep33_test_vector() {
        let mut f = ScrapeFilter::default();
        for i in 0..=255u8 {
            f.insert(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)));
        }
        for i in 0..0x3e8u16 {
            f.insert(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)));
        }
        let expected = "f6c3f5eaa07ffd91bde89f777f26fb2bff37bdb8fb2bbaa2fd3ddde7bacfff75\
                        ee7ccbaefe5eedb1fbfaff67f6abff5e43ddbca3fd9b9ffdf4ffd3e9dff12d1b\
                        df59db53dbe9fa5b7ff3b8fdfcde1afb8bedd7be2f3ee71ebbbfe93bcdeefe14\
                        8246c2bc5dbff7e7efdcf24fd8dc7adffd8fffdfddfff7a4bbeedf5cb95ce81f\
                        c7fcff1ff4ffffdfe5f7fdcbb7fd79b3fa1fc77bfe07fff905b7b7ffc7fefeff\
                        e0b8370bb0cd3f5b7f2bd93feb4386cfdd6f7fd5bfaf2e9ebffffeecd67adbf7\
                        c67f17efd5d75eba6ffeba7fff47a91eb1bfbb53e8abfb5762abe8ff237279bf\
                        efbfeef5ffc5febfdfe5adffadfee1fb737ffffbfd9f6aeffeee76b6fd8f72ef";
        assert_eq!(hex::encode(f.0), expected);
        let est = f.estimate();
        assert!((est - 1224.93).abs() < 0.01, "estimate {est}");
    }

    #[test]
    fn empty_and_full() {
        assert_eq!(ScrapeFilter::default().estimate(), 0.0);
        let full = ScrapeFilter([0xff; 256]);
        assert!(full.estimate() > 5000.0 && full.estimate().is_finite());
    }
}
