//! Brute-force ground truth: the true K closest nodes to a target, computed over every live
//! full node's current id, and comparisons of lookup results against it.

use krpc::Id20;

/// How a lookup's closest set compares with the true closest set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Ids in both sets.
    pub overlap: usize,
    /// Size of the true set (K, or fewer in a tiny network).
    pub expected: usize,
    /// Whether the sets are equal.
    pub exact: bool,
}

impl Score {
    /// `overlap / expected` (1.0 when nothing was expected).
    pub fn ratio(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            self.overlap as f64 / self.expected as f64
        }
    }
}

/// The `k` ids of `ids` closest to `target` by XOR distance, closest first.
pub fn k_closest(ids: impl IntoIterator<Item = Id20>, target: &Id20, k: usize) -> Vec<Id20> {
    let mut v: Vec<(Id20, Id20)> = ids.into_iter().map(|i| (i.distance(target), i)).collect();
    if v.len() > k && k > 0 {
        v.select_nth_unstable(k - 1);
        v.truncate(k);
    } else if k == 0 {
        v.clear();
    }
    v.sort_unstable();
    v.into_iter().map(|(_, id)| id).collect()
}

/// Compares a lookup result (`got`) with the truth (`want`), as sets.
pub fn score(got: &[Id20], want: &[Id20]) -> Score {
    let mut a: Vec<Id20> = got.to_vec();
    a.sort_unstable();
    a.dedup();
    let overlap = want.iter().filter(|w| a.binary_search(w).is_ok()).count();
    Score {
        overlap,
        expected: want.len(),
        exact: overlap == want.len() && a.len() == want.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> Id20 {
        let mut i = Id20::ZERO;
        i.0[0] = b;
        i
    }

    #[test]
    fn closest_by_xor() {
        let ids = (0..=255u8).map(id);
        let got = k_closest(ids, &id(0b1010_0000), 3);
        assert_eq!(got, vec![id(0b1010_0000), id(0b1010_0001), id(0b1010_0010)]);
        assert_eq!(k_closest([id(1)], &id(0), 5), vec![id(1)]);
    }

    #[test]
    fn scores() {
        let s = score(&[id(1), id(2)], &[id(2), id(1)]);
        assert!(s.exact);
        let s = score(&[id(1), id(3)], &[id(2), id(1)]);
        assert_eq!((s.overlap, s.exact), (1, false));
        assert!((s.ratio() - 0.5).abs() < 1e-9);
    }
}
