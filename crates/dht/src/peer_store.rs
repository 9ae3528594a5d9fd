//! Peers announced to us (BEP-5 `announce_peer`), bounded, with the BEP-51 sample we serve.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use infohash::InfoHash;
use krpc::ScrapeFilter;
use rand::RngCore;

/// Most hashes in one BEP-51 sample (20 x 20 bytes keeps the reply well inside one datagram).
pub(crate) const MAX_SAMPLES: usize = 20;

#[derive(Debug, Clone)]
struct StoredPeer {
    addr: SocketAddr,
    seed: bool,
    expires: Instant,
}

/// Announced peers per infohash, capped in torrents and peers per torrent.
#[derive(Debug)]
pub(crate) struct PeerStore {
    torrents: BTreeMap<InfoHash, Vec<StoredPeer>>,
    max_torrents: usize,
    max_peers: usize,
    ttl: Duration,
    sample: Vec<InfoHash>,
    sample_until: Option<Instant>,
    sample_interval: Duration,
}

impl PeerStore {
    /// An empty store.
    pub(crate) fn new(
        max_torrents: usize,
        max_peers: usize,
        ttl: Duration,
        sample_interval: Duration,
    ) -> Self {
        Self {
            torrents: BTreeMap::new(),
            max_torrents,
            max_peers,
            ttl,
            sample: Vec::new(),
            sample_until: None,
            sample_interval,
        }
    }

    /// Number of infohashes with peers.
    pub(crate) fn len(&self) -> usize {
        self.torrents.len()
    }

    /// Records `peer` for `info_hash`. Returns false when the store is full.
    pub(crate) fn announce(
        &mut self,
        info_hash: InfoHash,
        peer: SocketAddr,
        seed: bool,
        now: Instant,
    ) -> bool {
        if !self.torrents.contains_key(&info_hash) && self.torrents.len() >= self.max_torrents {
            self.expire(now);
            if self.torrents.len() >= self.max_torrents {
                return false;
            }
        }
        let expires = now + self.ttl;
        let peers = self.torrents.entry(info_hash).or_default();
        if let Some(p) = peers.iter_mut().find(|p| p.addr == peer) {
            p.expires = expires;
            p.seed = seed;
            return true;
        }
        if peers.len() >= self.max_peers {
            // Replace the one closest to expiry.
            if let Some(i) = peers
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| p.expires)
                .map(|(i, _)| i)
            {
                peers.swap_remove(i);
            }
        }
        peers.push(StoredPeer {
            addr: peer,
            seed,
            expires,
        });
        true
    }

    /// Up to `max` peers of `info_hash` (leaving out seeds when `noseed`).
    pub(crate) fn peers(
        &self,
        info_hash: &InfoHash,
        noseed: bool,
        max: usize,
        now: Instant,
    ) -> Vec<SocketAddr> {
        self.torrents
            .get(info_hash)
            .map(|ps| {
                ps.iter()
                    .filter(|p| p.expires > now && !(noseed && p.seed))
                    .take(max)
                    .map(|p| p.addr)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// BEP-33 filters (seeds, downloaders) for `info_hash`.
    pub(crate) fn scrape(
        &self,
        info_hash: &InfoHash,
        now: Instant,
    ) -> Option<(ScrapeFilter, ScrapeFilter)> {
        let ps = self.torrents.get(info_hash)?;
        let mut seeds = ScrapeFilter::default();
        let mut peers = ScrapeFilter::default();
        for p in ps.iter().filter(|p| p.expires > now) {
            if p.seed {
                seeds.insert(p.addr.ip());
            } else {
                peers.insert(p.addr.ip());
            }
        }
        Some((seeds, peers))
    }

    /// Drops expired peers and empty torrents.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.torrents.retain(|_, ps| {
            ps.retain(|p| p.expires > now);
            !ps.is_empty()
        });
    }

    /// The current BEP-51 sample: up to 20 random stored infohashes, redrawn once per interval.
    pub(crate) fn sample(&mut self, now: Instant, rng: &mut impl RngCore) -> &[InfoHash] {
        let stale = self.sample_until.is_none_or(|t| now >= t)
            || (self.sample.is_empty() && !self.torrents.is_empty());
        if stale {
            self.sample.clear();
            let n = self.torrents.len();
            if n <= MAX_SAMPLES {
                self.sample.extend(self.torrents.keys().copied());
            } else {
                // Reservoir sampling over the ordered keys.
                for (i, k) in self.torrents.keys().enumerate() {
                    if i < MAX_SAMPLES {
                        self.sample.push(*k);
                    } else {
                        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                        if j < MAX_SAMPLES {
                            self.sample[j] = *k;
                        }
                    }
                }
            }
            self.sample_until = Some(now + self.sample_interval);
        }
        &self.sample
    }

    /// All stored infohashes.
    pub(crate) fn infohashes(&self) -> impl Iterator<Item = &InfoHash> {
        self.torrents.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bounded_and_expiring() {
        let now = Instant::now();
        let mut s = PeerStore::new(2, 2, Duration::from_secs(10), Duration::from_secs(60));
        let p = |i: u8| SocketAddr::from(([10, 0, 0, i], 1000));
        assert!(s.announce(InfoHash::v1([1; 20]), p(1), false, now));
        assert!(s.announce(InfoHash::v1([2; 20]), p(1), true, now));
        assert!(
            !s.announce(InfoHash::v1([3; 20]), p(1), false, now),
            "torrent cap"
        );
        for i in 2..10 {
            s.announce(InfoHash::v1([1; 20]), p(i), false, now);
        }
        assert_eq!(
            s.peers(&InfoHash::v1([1; 20]), false, 50, now).len(),
            2,
            "peer cap"
        );
        assert_eq!(
            s.peers(&InfoHash::v1([2; 20]), true, 50, now).len(),
            0,
            "noseed"
        );
        s.expire(now + Duration::from_secs(11));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn sample_is_bounded_and_stable_within_interval() {
        let now = Instant::now();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut s = PeerStore::new(1000, 10, Duration::from_secs(3600), Duration::from_secs(60));
        for i in 0..100u8 {
            s.announce(
                InfoHash::v1([i; 20]),
                SocketAddr::from(([10, 0, 0, 1], 1)),
                false,
                now,
            );
        }
        let a = s.sample(now, &mut rng).to_vec();
        assert_eq!(a.len(), MAX_SAMPLES);
        assert_eq!(s.sample(now + Duration::from_secs(59), &mut rng), &a[..]);
        let b = s.sample(now + Duration::from_secs(60), &mut rng).to_vec();
        assert_ne!(a, b);
    }
}
