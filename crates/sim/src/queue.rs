//! The discrete-event queue: datagrams in flight and engine timers, ordered by
//! `(time, sequence number)` so that simultaneous events keep their insertion order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

/// What happens at a scheduled time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A datagram arrives at node `to`.
    Datagram {
        /// Sending node.
        from: usize,
        /// Its address (the datagram's source address).
        from_addr: SocketAddr,
        /// Receiving node.
        to: usize,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Node `node`'s timer fires (if it has not been superseded).
    Timer {
        /// The node.
        node: usize,
    },
}

/// A heap entry: 16 bytes of ordering key plus a slot index, so that sifting moves small
/// values; payloads stay put in a slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scheduled {
    at_nanos: u64,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so the max-heap pops the earliest `(at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_nanos, other.seq).cmp(&(self.at_nanos, self.seq))
    }
}

/// A min-queue of payloads by `(time, insertion sequence)`.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    slab: Vec<Option<Payload>>,
    free: Vec<u32>,
    seq: u64,
    datagrams: usize,
}

impl EventQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `payload` at virtual time `at` (nanosecond resolution, up to ~584 years).
    pub fn push(&mut self, at: Duration, payload: Payload) {
        if matches!(payload, Payload::Datagram { .. }) {
            self.datagrams += 1;
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(payload);
                s
            }
            None => {
                self.slab.push(Some(payload));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 queued events")
            }
        };
        self.seq += 1;
        self.heap.push(Scheduled {
            at_nanos: u64::try_from(at.as_nanos()).unwrap_or(u64::MAX),
            seq: self.seq,
            slot,
        });
    }

    /// Removes the earliest entry.
    pub fn pop(&mut self) -> Option<(Duration, Payload)> {
        let s = self.heap.pop()?;
        let payload = self.slab[s.slot as usize]
            .take()
            .expect("scheduled slot is full");
        self.free.push(s.slot);
        if matches!(payload, Payload::Datagram { .. }) {
            self.datagrams -= 1;
        }
        Some((Duration::from_nanos(s.at_nanos), payload))
    }

    /// Time of the earliest entry.
    pub fn peek_time(&self) -> Option<Duration> {
        self.heap.peek().map(|s| Duration::from_nanos(s.at_nanos))
    }

    /// Entries queued (datagrams and timers, including superseded timers).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Datagrams in flight.
    pub fn datagrams_in_flight(&self) -> usize {
        self.datagrams
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_fifo() {
        let mut q = EventQueue::new();
        let t = |ms| Duration::from_millis(ms);
        q.push(t(5), Payload::Timer { node: 1 });
        q.push(t(1), Payload::Timer { node: 2 });
        q.push(t(5), Payload::Timer { node: 3 });
        q.push(t(1), Payload::Timer { node: 4 });
        let order: Vec<_> = std::iter::from_fn(|| q.pop())
            .map(|(at, p)| match p {
                Payload::Timer { node } => (at, node),
                Payload::Datagram { .. } => unreachable!(),
            })
            .collect();
        assert_eq!(order, vec![(t(1), 2), (t(1), 4), (t(5), 1), (t(5), 3)]);
    }
}
