//! The Kademlia routing table: prefix buckets of K contacts with BEP-5 node states, a
//! replacement cache per bucket, and per-bucket refresh with exponential backoff.
//!
//! Bucket `i` holds the nodes whose id shares exactly `i` leading bits with ours; the last
//! bucket holds every node sharing at least as many bits. When the last bucket overflows it
//! splits (up to 160 buckets), so the table is a set of prefix buckets ever finer around our
//! own id, as BEP-5 describes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krpc::{Id20, NodeInfo};
use rand::RngCore;

/// BEP-5 node quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Answered us within the last 15 minutes, or answered once and queried us since.
    Good,
    /// Nothing heard for 15 minutes.
    Questionable,
    /// Failed several queries in a row.
    Bad,
}

/// One contact in the table.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id.
    pub id: Id20,
    /// Its address.
    pub addr: SocketAddr,
    /// Last answer to one of our queries.
    pub last_response: Option<Instant>,
    /// Last query it sent us.
    pub last_query: Option<Instant>,
    /// When it entered the table (or the cache).
    pub added: Instant,
    /// Unanswered queries in a row.
    pub failures: u8,
    /// Whether its id is valid for its IP under BEP-42 (exempt addresses count as verified).
    pub verified: bool,
}

impl Entry {
    fn new(id: Id20, addr: SocketAddr, now: Instant, verified: bool) -> Self {
        Self {
            id,
            addr,
            last_response: Some(now),
            last_query: None,
            added: now,
            failures: 0,
            verified,
        }
    }

    /// Most recent sign of life (a query only counts once it has answered us at least once).
    pub fn last_seen(&self) -> Option<Instant> {
        match (self.last_response, self.last_query) {
            (Some(r), Some(q)) => Some(r.max(q)),
            (Some(r), None) => Some(r),
            _ => None,
        }
    }

    /// The BEP-5 state at `now`.
    pub fn state(&self, now: Instant, questionable_after: Duration, max_failures: u8) -> NodeState {
        if self.failures >= max_failures {
            return NodeState::Bad;
        }
        match self.last_seen() {
            Some(t) if now.saturating_duration_since(t) < questionable_after => NodeState::Good,
            _ => NodeState::Questionable,
        }
    }

    /// As a wire contact.
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            id: self.id,
            addr: self.addr,
        }
    }
}

/// One prefix bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Up to K live contacts.
    pub nodes: Vec<Entry>,
    /// Contacts waiting for a slot, oldest first.
    pub replacements: Vec<Entry>,
    /// Last time a node in this bucket answered or was added.
    pub last_changed: Instant,
    /// Current refresh interval (doubles while the segment does not answer).
    pub refresh_interval: Duration,
}

/// What became of a node offered to [`RoutingTable::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// It was already there; its timestamps were updated.
    Updated,
    /// It took a free slot (possibly after a split) or replaced a bad node.
    Added,
    /// Its bucket is full of live nodes; it waits in the replacement cache. If `ping` is set,
    /// the caller should ping that questionable node: if it fails, the newcomer takes its slot.
    Cached {
        /// A questionable node worth checking.
        ping: Option<(Id20, SocketAddr)>,
    },
    /// Refused (our own id, an id claimed from a different address, or the id check).
    Rejected,
}

/// The table's tunables (a subset of the engine config).
#[derive(Debug, Clone, Copy)]
pub struct TableConfig {
    /// K
    pub k: usize,
    /// Replacement-cache entries per bucket.
    pub replacements: usize,
    /// BEP-5 15-minute rule.
    pub questionable_after: Duration,
    /// Unanswered queries in a row before a node is bad.
    pub max_failures: u8,
    /// Base refresh interval.
    pub refresh: Duration,
    /// Refresh backoff ceiling.
    pub max_refresh: Duration,
    /// Let a BEP-42-verified node displace an unverified one in a full bucket.
    pub prefer_verified: bool,
}

/// The routing table.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    own: Id20,
    cfg: TableConfig,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    /// An empty table around `own`.
    pub fn new(own: Id20, cfg: TableConfig, now: Instant) -> Self {
        let mut t = Self {
            own,
            cfg,
            buckets: Vec::new(),
        };
        t.buckets.push(t.empty_bucket(now));
        t
    }

    fn empty_bucket(&self, now: Instant) -> Bucket {
        Bucket {
            nodes: Vec::new(),
            replacements: Vec::new(),
            last_changed: now,
            refresh_interval: self.cfg.refresh,
        }
    }

    /// Our id.
    pub fn own_id(&self) -> Id20 {
        self.own
    }

    /// The buckets, from farthest (index 0) to the one holding our own id (last).
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Number of contacts (not counting replacement caches).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// Whether the table has no contacts.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.nodes.is_empty())
    }

    /// Number of contacts waiting in replacement caches.
    pub fn replacement_len(&self) -> usize {
        self.buckets.iter().map(|b| b.replacements.len()).sum()
    }

    /// All contacts.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// Index of the bucket `id` belongs in.
    pub fn bucket_index(&self, id: &Id20) -> usize {
        (self.own.common_prefix_len(id) as usize).min(self.buckets.len() - 1)
    }

    /// The entry for `id`, if present.
    pub fn get(&self, id: &Id20) -> Option<&Entry> {
        let b = &self.buckets[self.bucket_index(id)];
        b.nodes.iter().find(|e| e.id == *id)
    }

    /// The state of `e` under this table's rules.
    pub fn state(&self, e: &Entry, now: Instant) -> NodeState {
        e.state(now, self.cfg.questionable_after, self.cfg.max_failures)
    }

    fn find_addr(&self, addr: &SocketAddr) -> Option<(usize, usize)> {
        for (bi, b) in self.buckets.iter().enumerate() {
            if let Some(ni) = b.nodes.iter().position(|e| e.addr == *addr) {
                return Some((bi, ni));
            }
        }
        None
    }

    fn split_last(&mut self, now: Instant) {
        let last = self.buckets.len() - 1;
        let new = self.empty_bucket(now);
        self.buckets.push(new);
        let own = self.own;
        let old = std::mem::take(&mut self.buckets[last].nodes);
        let (stay, go): (Vec<_>, Vec<_>) = old
            .into_iter()
            .partition(|e| own.common_prefix_len(&e.id) as usize == last);
        self.buckets[last].nodes = stay;
        self.buckets[last + 1].nodes = go;
        let old_r = std::mem::take(&mut self.buckets[last].replacements);
        let (stay, go): (Vec<_>, Vec<_>) = old_r
            .into_iter()
            .partition(|e| own.common_prefix_len(&e.id) as usize == last);
        self.buckets[last].replacements = stay;
        self.buckets[last + 1].replacements = go;
        // Refill from the caches where the split freed room.
        for bi in [last, last + 1] {
            self.promote_replacements(bi);
        }
    }

    fn promote_replacements(&mut self, bi: usize) {
        let k = self.cfg.k;
        let b = &mut self.buckets[bi];
        while b.nodes.len() < k {
            match b.replacements.pop() {
                Some(r) => b.nodes.push(r),
                None => break,
            }
        }
    }

    fn can_split(&self, bi: usize) -> bool {
        bi == self.buckets.len() - 1 && self.buckets.len() < 160
    }

    /// Offers a node that just answered one of our queries.
    pub fn insert(&mut self, id: Id20, addr: SocketAddr, verified: bool, now: Instant) -> Insert {
        if id == self.own {
            return Insert::Rejected;
        }
        let bi = self.bucket_index(&id);
        if let Some(e) = self.buckets[bi].nodes.iter_mut().find(|e| e.id == id) {
            if e.addr != addr {
                // Someone else claims a known id: keep the one we know.
                return Insert::Rejected;
            }
            e.last_response = Some(now);
            e.failures = 0;
            self.buckets[bi].last_changed = now;
            return Insert::Updated;
        }
        // The same address under a new id: the node restarted. Forget the old identity.
        if let Some((obi, oni)) = self.find_addr(&addr) {
            self.buckets[obi].nodes.remove(oni);
            self.promote_replacements(obi);
        }
        let mut bi = self.bucket_index(&id);
        loop {
            if self.buckets[bi].nodes.len() < self.cfg.k {
                let b = &mut self.buckets[bi];
                b.replacements.retain(|e| e.id != id && e.addr != addr);
                b.nodes.push(Entry::new(id, addr, now, verified));
                b.last_changed = now;
                return Insert::Added;
            }
            if self.can_split(bi) {
                self.split_last(now);
                bi = self.bucket_index(&id);
                continue;
            }
            break;
        }
        let (qa, mf) = (self.cfg.questionable_after, self.cfg.max_failures);
        let b = &mut self.buckets[bi];
        if let Some(slot) = b
            .nodes
            .iter()
            .position(|e| e.state(now, qa, mf) == NodeState::Bad)
        {
            b.nodes[slot] = Entry::new(id, addr, now, verified);
            b.last_changed = now;
            return Insert::Added;
        }
        if self.cfg.prefer_verified
            && verified
            && let Some(slot) = b.nodes.iter().position(|e| !e.verified)
        {
            let old = std::mem::replace(&mut b.nodes[slot], Entry::new(id, addr, now, verified));
            Self::cache(b, old, self.cfg.replacements);
            b.last_changed = now;
            return Insert::Added;
        }
        let ping = b
            .nodes
            .iter()
            .filter(|e| e.state(now, qa, mf) == NodeState::Questionable)
            .min_by_key(|e| e.last_seen())
            .map(|e| (e.id, e.addr));
        Self::cache(
            b,
            Entry::new(id, addr, now, verified),
            self.cfg.replacements,
        );
        Insert::Cached { ping }
    }

    fn cache(b: &mut Bucket, e: Entry, cap: usize) {
        b.replacements.retain(|r| r.id != e.id && r.addr != e.addr);
        if cap == 0 {
            return;
        }
        if b.replacements.len() >= cap {
            b.replacements.remove(0);
        }
        b.replacements.push(e);
    }

    /// Whether a node with `id` we have only heard about would get a slot if it answered (a
    /// free slot, a split, or a bad node to replace). Used to decide whether to ping it.
    pub fn has_room_for(&self, id: &Id20, now: Instant) -> bool {
        if *id == self.own {
            return false;
        }
        let bi = self.bucket_index(id);
        let b = &self.buckets[bi];
        if b.nodes.iter().any(|e| e.id == *id) {
            return false;
        }
        b.nodes.len() < self.cfg.k
            || self.can_split(bi)
            || b.nodes.iter().any(|e| self.state(e, now) == NodeState::Bad)
    }

    /// Records that a known node queried us (keeps it good per BEP-5).
    pub fn heard_query(&mut self, id: &Id20, addr: &SocketAddr, now: Instant) {
        let bi = self.bucket_index(id);
        if let Some(e) = self.buckets[bi]
            .nodes
            .iter_mut()
            .find(|e| e.id == *id && e.addr == *addr)
        {
            e.last_query = Some(now);
        }
    }

    /// Records an unanswered query to `addr`. A node that turns bad is replaced from the cache.
    pub fn failed(&mut self, addr: &SocketAddr, now: Instant) {
        let Some((bi, ni)) = self.find_addr(addr) else {
            for b in &mut self.buckets {
                b.replacements.retain(|e| e.addr != *addr);
            }
            return;
        };
        let (qa, mf) = (self.cfg.questionable_after, self.cfg.max_failures);
        let b = &mut self.buckets[bi];
        let e = &mut b.nodes[ni];
        e.failures = e.failures.saturating_add(1);
        if e.state(now, qa, mf) == NodeState::Bad && !b.replacements.is_empty() {
            b.nodes.remove(ni);
            self.promote_replacements(bi);
        }
    }

    /// Removes the contact at `addr` outright (e.g. an id that changed under enforcement).
    pub fn remove_addr(&mut self, addr: &SocketAddr) {
        if let Some((bi, ni)) = self.find_addr(addr) {
            self.buckets[bi].nodes.remove(ni);
            self.promote_replacements(bi);
        }
    }

    /// The `n` contacts closest to `target` by XOR distance, closest first, skipping bad ones.
    pub fn closest(&self, target: &Id20, n: usize, now: Instant) -> Vec<NodeInfo> {
        let mut out: Vec<NodeInfo> = Vec::with_capacity(n + self.cfg.k);
        let i = self.bucket_index(target);
        let ok = |e: &&Entry| self.state(e, now) != NodeState::Bad;
        let by_dist =
            |a: &NodeInfo, b: &NodeInfo| a.id.distance(target).cmp(&b.id.distance(target));
        // Bucket i first (all closer than anything else), then every bucket above it (sharing
        // exactly i bits with the target), then lower buckets from near to far.
        out.extend(self.buckets[i].nodes.iter().filter(ok).map(Entry::info));
        out.sort_by(by_dist);
        if out.len() < n {
            let start = out.len();
            for b in &self.buckets[i + 1..] {
                out.extend(b.nodes.iter().filter(ok).map(Entry::info));
            }
            out[start..].sort_by(by_dist);
        }
        for j in (0..i).rev() {
            if out.len() >= n {
                break;
            }
            let start = out.len();
            out.extend(self.buckets[j].nodes.iter().filter(ok).map(Entry::info));
            out[start..].sort_by(by_dist);
        }
        out.truncate(n);
        out
    }

    /// A random id inside bucket `bi`'s range, as a refresh target.
    pub fn random_id_in_bucket(&self, bi: usize, rng: &mut impl RngCore) -> Id20 {
        if bi < self.buckets.len() - 1 {
            return self.random_id_at_prefix(bi as u32, rng);
        }
        // The last bucket holds every id sharing at least `bi` bits with ours.
        self.random_id_sharing(bi as u32, rng)
    }

    /// A random id whose first `bits` bits are ours.
    fn random_id_sharing(&self, bits: u32, rng: &mut impl RngCore) -> Id20 {
        let mut id = Id20::ZERO;
        rng.fill_bytes(&mut id.0);
        for bit in 0..bits.min(160) {
            id = id.with_bit(bit, self.own.bit(bit));
        }
        id
    }

    /// A random id sharing exactly `cpl` leading bits with ours (`cpl` < 160), whether or not
    /// the table has split that far: the would-be bucket `cpl`.
    pub fn random_id_at_prefix(&self, cpl: u32, rng: &mut impl RngCore) -> Id20 {
        let cpl = cpl.min(159);
        self.random_id_sharing(cpl, rng)
            .with_bit(cpl, !self.own.bit(cpl))
    }

    /// Buckets due for a refresh at `now`.
    pub fn due_refreshes(&self, now: Instant) -> Vec<usize> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| now.saturating_duration_since(b.last_changed) >= b.refresh_interval)
            .map(|(i, _)| i)
            .collect()
    }

    /// When the next bucket refresh is due.
    pub fn next_refresh(&self) -> Option<Instant> {
        self.buckets
            .iter()
            .map(|b| b.last_changed + b.refresh_interval)
            .min()
    }

    /// Marks bucket `bi` as refreshed at `now`. If the refresh got no answers from that segment
    /// the interval doubles (up to the ceiling); an answer resets it.
    pub fn refreshed(&mut self, bi: usize, answered: bool, now: Instant) {
        let (base, max) = (self.cfg.refresh, self.cfg.max_refresh);
        if let Some(b) = self.buckets.get_mut(bi) {
            b.refresh_interval = if answered {
                base
            } else {
                (b.refresh_interval * 2).min(max)
            };
            b.last_changed = now;
        }
    }

    /// Questionable nodes (longest unheard first), to ping during maintenance.
    pub fn questionable(&self, now: Instant, max: usize) -> Vec<(Id20, SocketAddr)> {
        let mut q: Vec<&Entry> = self
            .iter()
            .filter(|e| self.state(e, now) == NodeState::Questionable)
            .collect();
        q.sort_by_key(|e| e.last_seen());
        q.into_iter().take(max).map(|e| (e.id, e.addr)).collect()
    }

    /// A table around `own` holding this table's contacts (for when our id changes).
    pub fn rebuilt(&self, own: Id20, now: Instant) -> Self {
        let mut t = Self::new(own, self.cfg, now);
        for b in &self.buckets {
            for e in b.nodes.iter().chain(b.replacements.iter()) {
                if t.insert(e.id, e.addr, e.verified, now) == Insert::Added {
                    let bi = t.bucket_index(&e.id);
                    if let Some(n) = t.buckets[bi].nodes.iter_mut().find(|n| n.id == e.id) {
                        *n = e.clone();
                    }
                }
            }
        }
        t
    }

    /// Checks the structural invariants; used by tests and the simulator after every step.
    pub fn check_invariants(&self) -> Result<(), String> {
        let last = self.buckets.len() - 1;
        if self.buckets.len() > 160 {
            return Err(format!("{} buckets", self.buckets.len()));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut addrs = std::collections::BTreeSet::new();
        for (bi, b) in self.buckets.iter().enumerate() {
            if b.nodes.len() > self.cfg.k {
                return Err(format!(
                    "bucket {bi} holds {} > k={}",
                    b.nodes.len(),
                    self.cfg.k
                ));
            }
            if b.replacements.len() > self.cfg.replacements {
                return Err(format!(
                    "bucket {bi} caches {} replacements",
                    b.replacements.len()
                ));
            }
            for e in b.nodes.iter().chain(b.replacements.iter()) {
                let cpl = self.own.common_prefix_len(&e.id) as usize;
                if (bi < last && cpl != bi) || (bi == last && cpl < bi) {
                    return Err(format!("node {} (cpl {cpl}) in bucket {bi}", e.id));
                }
                if e.id == self.own {
                    return Err("own id in table".into());
                }
            }
            for e in &b.nodes {
                if !ids.insert(e.id) {
                    return Err(format!("duplicate id {}", e.id));
                }
                if !addrs.insert(e.addr) {
                    return Err(format!("duplicate addr {}", e.addr));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn cfg() -> TableConfig {
        TableConfig {
            k: 8,
            replacements: 4,
            questionable_after: Duration::from_secs(900),
            max_failures: 2,
            refresh: Duration::from_secs(900),
            max_refresh: Duration::from_secs(3600),
            prefer_verified: false,
        }
    }

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 6881))
    }

    fn random_id(rng: &mut ChaCha8Rng) -> Id20 {
        let mut id = Id20::ZERO;
        rng.fill_bytes(&mut id.0);
        id
    }

    #[test]
    fn fills_and_splits_and_keeps_invariants() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let now = Instant::now();
        let own = random_id(&mut rng);
        let mut t = RoutingTable::new(own, cfg(), now);
        let mut all = Vec::new();
        for i in 0..2000 {
            let id = random_id(&mut rng);
            all.push(id);
            t.insert(id, addr(i), true, now);
            t.check_invariants().unwrap();
        }
        assert!(t.buckets().len() > 5, "{}", t.buckets().len());
        // Far buckets are full, near ones are sparse: the classic shape.
        assert_eq!(t.buckets()[0].nodes.len(), 8);
        // closest() agrees with a brute-force sort over the table's own contents.
        for _ in 0..50 {
            let target = random_id(&mut rng);
            let mut brute: Vec<NodeInfo> = t.iter().map(Entry::info).collect();
            brute.sort_by_key(|n| n.id.distance(&target));
            brute.truncate(8);
            assert_eq!(t.closest(&target, 8, now), brute);
        }
    }

    #[test]
    fn bad_nodes_are_replaced_from_cache() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let now = Instant::now();
        let own = Id20::ZERO;
        let mut t = RoutingTable::new(own, cfg(), now);
        // Fill bucket 0 (ids with the top bit set) beyond K.
        let mut ids = Vec::new();
        for i in 0..12 {
            let mut id = random_id(&mut rng);
            id.0[0] |= 0x80;
            ids.push(id);
            t.insert(id, addr(i), false, now);
        }
        // Force more buckets so bucket 0 cannot split.
        for i in 12..40 {
            let mut id = random_id(&mut rng);
            id.0[0] &= 0x7f;
            t.insert(id, addr(i), false, now);
        }
        assert_eq!(t.buckets()[0].nodes.len(), 8);
        assert!(!t.buckets()[0].replacements.is_empty());
        let victim = t.buckets()[0].nodes[0].addr;
        t.failed(&victim, now);
        assert!(t.find_addr(&victim).is_some(), "one failure is not bad yet");
        t.failed(&victim, now);
        assert!(
            t.find_addr(&victim).is_none(),
            "two failures make it bad and replaced"
        );
        assert_eq!(t.buckets()[0].nodes.len(), 8);
        t.check_invariants().unwrap();
    }

    #[test]
    fn node_states_follow_bep5() {
        let now = Instant::now();
        let mut e = Entry::new(Id20::MAX, addr(1), now, false);
        let qa = Duration::from_secs(900);
        assert_eq!(e.state(now, qa, 2), NodeState::Good);
        assert_eq!(e.state(now + qa, qa, 2), NodeState::Questionable);
        e.last_query = Some(now + qa);
        assert_eq!(e.state(now + qa, qa, 2), NodeState::Good);
        e.failures = 2;
        assert_eq!(e.state(now, qa, 2), NodeState::Bad);
    }

    #[test]
    fn full_bucket_asks_to_ping_questionable() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1000);
        let mut t = RoutingTable::new(Id20::ZERO, cfg(), now);
        for i in 0..40u32 {
            let mut id = Id20::ZERO;
            id.0[0] = 0x80;
            id.0[19] = i as u8;
            t.insert(id, addr(i), false, now);
        }
        let mut near = Id20::ZERO;
        near.0[19] = 1;
        t.insert(near, addr(999), false, now);
        let mut id = Id20::ZERO;
        id.0[0] = 0x80;
        id.0[18] = 1;
        match t.insert(id, addr(1000), false, later) {
            Insert::Cached { ping: Some(_) } => {}
            other => panic!("{other:?}"),
        }
        t.check_invariants().unwrap();
    }

    #[test]
    fn refresh_backs_off_when_silent() {
        let now = Instant::now();
        let mut t = RoutingTable::new(Id20::ZERO, cfg(), now);
        assert_eq!(t.next_refresh(), Some(now + Duration::from_secs(900)));
        t.refreshed(0, false, now);
        assert_eq!(t.buckets()[0].refresh_interval, Duration::from_secs(1800));
        t.refreshed(0, false, now);
        t.refreshed(0, false, now);
        assert_eq!(t.buckets()[0].refresh_interval, Duration::from_secs(3600));
        t.refreshed(0, true, now);
        assert_eq!(t.buckets()[0].refresh_interval, Duration::from_secs(900));
    }

    #[test]
    fn random_id_at_prefix_has_that_prefix() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let t = RoutingTable::new(random_id(&mut rng), cfg(), Instant::now());
        for cpl in [0, 1, 7, 8, 100, 159] {
            let id = t.random_id_at_prefix(cpl, &mut rng);
            assert_eq!(t.own_id().common_prefix_len(&id), cpl);
        }
    }

    #[test]
    fn random_id_lands_in_its_bucket() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let now = Instant::now();
        let own = random_id(&mut rng);
        let mut t = RoutingTable::new(own, cfg(), now);
        for i in 0..500 {
            t.insert(random_id(&mut rng), addr(i), false, now);
        }
        for bi in 0..t.buckets().len() {
            for _ in 0..10 {
                let id = t.random_id_in_bucket(bi, &mut rng);
                assert_eq!(t.bucket_index(&id), bi);
            }
        }
    }
}
