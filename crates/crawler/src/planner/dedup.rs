//! The in-memory "seen" filter: two rotating bloom generations over infohashes.
//!
//! A hash is *seen* if either generation has it. New hashes go into the current generation;
//! when it holds `capacity` hashes, the older generation is dropped and a fresh one becomes
//! current. Memory is fixed (two bit arrays sized for `capacity` at the target false-positive
//! rate), and a hash seen long ago ages out after between one and two generations, after
//! which the store's `known()` lookup still keeps it from being fetched twice.
//!
//! Infohashes are SHA-1 outputs, uniformly distributed: the k bit positions are taken from the
//! hash's own bytes (double hashing over two 64-bit words), no extra hashing needed.

use infohash::InfoHash;

/// A bloom filter with fixed size over infohashes (positions from their first 16 bytes).
#[derive(Debug, Clone)]
struct Bloom {
    bits: Vec<u64>,
    mask: u64,
    k: u32,
    len: usize,
}

impl Bloom {
    fn new(bits_log2: u32, k: u32) -> Self {
        let words = 1usize << bits_log2.saturating_sub(6);
        Self {
            bits: vec![0; words],
            mask: (1u64 << bits_log2) - 1,
            k,
            len: 0,
        }
    }

    fn positions(&self, h: &InfoHash) -> impl Iterator<Item = u64> + use<> {
        let h = h.as_bytes();
        let a = u64::from_le_bytes(h[0..8].try_into().expect("8 bytes"));
        // Odd, so successive positions differ.
        let b = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes")) | 1;
        let mask = self.mask;
        (0..u64::from(self.k)).map(move |i| a.wrapping_add(i.wrapping_mul(b)) & mask)
    }

    fn contains(&self, h: &InfoHash) -> bool {
        self.positions(h)
            .all(|p| self.bits[(p >> 6) as usize] & (1 << (p & 63)) != 0)
    }

    /// Inserts; returns whether it was (probably) absent.
    fn insert(&mut self, h: &InfoHash) -> bool {
        let mut fresh = false;
        for p in self.positions(h) {
            let w = &mut self.bits[(p >> 6) as usize];
            let bit = 1 << (p & 63);
            if *w & bit == 0 {
                fresh = true;
                *w |= bit;
            }
        }
        if fresh {
            self.len += 1;
        }
        fresh
    }

    fn clear(&mut self) {
        self.bits.fill(0);
        self.len = 0;
    }

    fn bytes(&self) -> usize {
        self.bits.len() * 8
    }
}

/// Two rotating bloom generations. See the module docs.
#[derive(Debug, Clone)]
pub struct SeenFilter {
    current: Bloom,
    previous: Bloom,
    capacity: usize,
    rotations: u64,
}

impl SeenFilter {
    /// A filter for `capacity` hashes per generation at about 0.1% false positives per
    /// generation (about 14.4 bits per hash, rounded up to a power of two; k = 10).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(64);
        let bits = (capacity as f64 * 14.4).ceil() as u64;
        let bits_log2 = bits.next_power_of_two().trailing_zeros().max(6);
        Self {
            current: Bloom::new(bits_log2, 10),
            previous: Bloom::new(bits_log2, 10),
            capacity,
            rotations: 0,
        }
    }

    /// Whether `h` was (probably) seen in the last one or two generations.
    pub fn contains(&self, h: &InfoHash) -> bool {
        self.current.contains(h) || self.previous.contains(h)
    }

    /// Marks `h` seen. Returns `true` if it was not seen before (a new hash).
    pub fn check_and_insert(&mut self, h: &InfoHash) -> bool {
        if self.previous.contains(h) {
            return false;
        }
        if !self.current.insert(h) {
            return false;
        }
        if self.current.len >= self.capacity {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
            self.rotations += 1;
        }
        true
    }

    /// Hashes in the current generation.
    pub fn current_len(&self) -> usize {
        self.current.len
    }

    /// How many times a generation was dropped.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// Bytes of both bit arrays.
    pub fn bytes(&self) -> usize {
        self.current.bytes() + self.previous.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    fn hash(i: u64) -> InfoHash {
        InfoHash::v1(Sha1::digest(i.to_le_bytes()).into())
    }

    #[test]
    fn new_hashes_pass_once() {
        let mut f = SeenFilter::new(1000);
        assert!(f.check_and_insert(&hash(1)));
        assert!(!f.check_and_insert(&hash(1)));
        assert!(f.contains(&hash(1)));
        assert!(!f.contains(&hash(2)));
    }

    #[test]
    fn false_positive_rate_is_low_at_capacity() {
        let cap = 50_000;
        let mut f = SeenFilter::new(cap);
        for i in 0..cap as u64 - 1 {
            f.check_and_insert(&hash(i));
        }
        assert_eq!(f.rotations(), 0);
        let fp = (1_000_000..1_100_000u64)
            .filter(|&i| f.contains(&hash(i)))
            .count();
        // Target 0.1% per generation; allow 0.3% for the power-of-two rounding and chance.
        assert!(fp < 300, "{fp} false positives in 100,000");
    }

    #[test]
    fn old_hashes_age_out_after_two_generations_and_memory_is_fixed() {
        let cap = 1000;
        let mut f = SeenFilter::new(cap);
        let bytes = f.bytes();
        f.check_and_insert(&hash(0));
        // Fill one generation: hash 0 is now in the previous generation, still seen.
        for i in 1..cap as u64 {
            f.check_and_insert(&hash(i));
        }
        assert_eq!(f.rotations(), 1);
        assert!(f.contains(&hash(0)));
        assert!(!f.check_and_insert(&hash(0)));
        // Another generation: hash 0 is gone.
        let mut i = 10_000u64;
        while f.rotations() < 2 {
            f.check_and_insert(&hash(i));
            i += 1;
        }
        assert!(!f.contains(&hash(0)));
        assert_eq!(f.bytes(), bytes);
    }
}
