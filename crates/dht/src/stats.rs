//! Counters the engine keeps about itself. Cheap to read at any time.

/// Per-method counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerMethod {
    /// `ping`
    pub ping: u64,
    /// `find_node`
    pub find_node: u64,
    /// `get_peers`
    pub get_peers: u64,
    /// `announce_peer`
    pub announce_peer: u64,
    /// `sample_infohashes`
    pub sample_infohashes: u64,
    /// anything else
    pub other: u64,
}

impl PerMethod {
    pub(crate) fn bump(&mut self, name: &[u8]) {
        match name {
            b"ping" => self.ping += 1,
            b"find_node" => self.find_node += 1,
            b"get_peers" => self.get_peers += 1,
            b"announce_peer" => self.announce_peer += 1,
            b"sample_infohashes" => self.sample_infohashes += 1,
            _ => self.other += 1,
        }
    }

    /// Sum over methods.
    pub fn total(&self) -> u64 {
        self.ping
            + self.find_node
            + self.get_peers
            + self.announce_peer
            + self.sample_infohashes
            + self.other
    }
}

/// Upper bounds (milliseconds) of the reply round-trip histogram buckets; a last bucket
/// counts everything slower.
pub const RTT_BUCKETS_MS: [u64; 9] = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/// A fixed-bucket histogram of reply round-trip times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RttHistogram {
    /// Counts per bucket of [`RTT_BUCKETS_MS`], plus one overflow bucket.
    pub counts: [u64; 10],
    /// Sum of all observations in microseconds.
    pub sum_micros: u64,
}

impl RttHistogram {
    pub(crate) fn observe(&mut self, d: std::time::Duration) {
        let ms = d.as_millis() as u64;
        let i = RTT_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(RTT_BUCKETS_MS.len());
        self.counts[i] += 1;
        self.sum_micros += d.as_micros() as u64;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Engine counters (monotonic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to `handle_datagram`.
    pub rx_datagrams: u64,
    /// Bytes handed to `handle_datagram`.
    pub rx_bytes: u64,
    /// Datagrams produced by `poll_transmit`.
    pub tx_datagrams: u64,
    /// Bytes produced by `poll_transmit`.
    pub tx_bytes: u64,
    /// Datagrams that were not valid KRPC (counted and dropped).
    pub malformed: u64,
    /// Replies that matched no transaction, or came from the wrong address.
    pub unsolicited: u64,
    /// Queries we sent, by method.
    pub queries_sent: PerMethod,
    /// Queries we received, by method.
    pub queries_received: PerMethod,
    /// Queries we answered (with a reply or an error).
    pub queries_answered: u64,
    /// Queries dropped because their source exceeded its answer budget.
    pub queries_rate_limited: u64,
    /// Queries left unanswered because we are read-only.
    pub queries_ignored_read_only: u64,
    /// Replies received.
    pub replies: u64,
    /// Error replies received.
    pub errors_received: u64,
    /// Our queries that timed out.
    pub timeouts: u64,
    /// Queries held back by a query budget before being sent.
    pub queries_deferred: u64,
    /// Queries refused because the transaction table or pending queue was full.
    pub queries_refused: u64,
    /// Outgoing datagrams dropped because the transmit queue was full.
    pub transmits_dropped: u64,
    /// Events dropped because the application did not drain them.
    pub events_dropped: u64,
    /// Remote ids failing the BEP-42 check.
    pub bep42_invalid: u64,
    /// Lookups started.
    pub lookups_started: u64,
    /// Lookups finished.
    pub lookups_done: u64,
    /// Times our id changed after an external-IP vote.
    pub id_changes: u64,
    /// Round-trip times of replies to our queries.
    pub rtt: RttHistogram,
}
