//! Learning our external IP from the BEP-42 `ip` field of replies, by vote.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A bounded tally: one vote per voter IP, a fixed number of voters remembered.
#[derive(Debug)]
pub(crate) struct IpVote {
    needed: usize,
    max_voters: usize,
    /// voter -> the IP it reported for us
    votes: BTreeMap<IpAddr, IpAddr>,
    /// reported IP -> number of voters reporting it (kept in step with `votes`)
    counts: BTreeMap<IpAddr, usize>,
    current: Option<IpAddr>,
}

impl IpVote {
    /// Accepts an IP once `needed` distinct voters agree on it and it leads the tally.
    pub(crate) fn new(needed: usize, max_voters: usize) -> Self {
        Self {
            needed: needed.max(1),
            max_voters: max_voters.max(needed),
            votes: BTreeMap::new(),
            counts: BTreeMap::new(),
            current: None,
        }
    }

    /// The accepted external IP.
    pub(crate) fn current(&self) -> Option<IpAddr> {
        self.current
    }

    /// Records that `voter` sees us at `seen`. Returns the new external IP if it changed.
    pub(crate) fn add(&mut self, voter: IpAddr, seen: IpAddr) -> Option<IpAddr> {
        if self.votes.get(&voter) == Some(&seen) {
            return None;
        }
        if !self.votes.contains_key(&voter) && self.votes.len() >= self.max_voters {
            // Forget the lowest-sorting voter; votes are a sliding sample, not a history.
            if let Some((_, old)) = self.votes.pop_first() {
                self.uncount(old);
            }
        }
        if let Some(old) = self.votes.insert(voter, seen) {
            self.uncount(old);
        }
        *self.counts.entry(seen).or_default() += 1;
        // Few distinct addresses are ever reported: this scan covers a handful of entries.
        let (best, n) = self
            .counts
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(ip, n)| (*ip, *n))?;
        let cur_n = self
            .current
            .and_then(|c| self.counts.get(&c).copied())
            .unwrap_or(0);
        if n >= self.needed && Some(best) != self.current && n > cur_n {
            self.current = Some(best);
            return Some(best);
        }
        None
    }

    fn uncount(&mut self, ip: IpAddr) {
        if let Some(n) = self.counts.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn needs_distinct_voters() {
        let mut v = IpVote::new(3, 16);
        assert_eq!(v.add(ip("1.1.1.1"), ip("9.9.9.9")), None);
        assert_eq!(v.add(ip("1.1.1.1"), ip("9.9.9.9")), None);
        assert_eq!(v.add(ip("1.1.1.2"), ip("9.9.9.9")), None);
        assert_eq!(v.add(ip("1.1.1.3"), ip("9.9.9.9")), Some(ip("9.9.9.9")));
        assert_eq!(v.current(), Some(ip("9.9.9.9")));
    }

    #[test]
    fn changes_when_majority_moves() {
        let mut v = IpVote::new(2, 4);
        v.add(ip("1.0.0.1"), ip("9.9.9.9"));
        v.add(ip("1.0.0.2"), ip("9.9.9.9"));
        assert_eq!(v.current(), Some(ip("9.9.9.9")));
        // Four new voters push the old ones out and agree on a new address.
        let mut changed = None;
        for i in 3..7 {
            changed = changed.or(v.add(IpAddr::from([1, 0, 0, i]), ip("8.8.8.8")));
        }
        assert_eq!(changed, Some(ip("8.8.8.8")));
    }
}
