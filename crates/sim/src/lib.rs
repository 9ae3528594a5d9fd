//! A deterministic discrete-event simulator for the sans-IO DHT [`dht::Engine`].
//!
//! # Model
//!
//! * **Nodes.** [`Network`] holds N engines. Node `i` has the virtual address
//!   `10.0.0.0 + i + 1:6881` ([`node_addr`]); nothing is ever bound or sent on a real
//!   socket. Addresses in 10/8 are BEP-42-exempt, so engines keep the random ids drawn from
//!   their seeds. Each engine's seed is [`derive_seed`]`(network seed, i)`.
//! * **Clock.** One real `Instant` is captured at start; virtual time is a `Duration` offset
//!   from it ([`Clock`]). Engines only subtract instants, so the base never matters.
//! * **Event queue.** A binary heap of datagrams in flight and engine timers, ordered by
//!   `(delivery time, sequence number)` ([`EventQueue`]): simultaneous events run in the
//!   order they were scheduled.
//! * **Link.** Each datagram gets `latency + uniform(0..=jitter)` one-way delay and is lost
//!   with probability `loss` ([`Link`], a `ChaCha8Rng` seeded from the network seed).
//!   Datagrams to addresses no node has are dropped and counted; so are datagrams that reach
//!   a node taken offline.
//! * **Driving.** After every input (`handle_datagram`, `handle_timeout`) or command the
//!   engine is drained in its documented order: `poll_transmit` until empty (each datagram
//!   routed through the link), `poll_event` until empty (kept per node, bounded), then
//!   `poll_timeout` (scheduled, rounded up to a 1 ms timer granularity). A timer entry that
//!   comes due after the engine's deadline moved later is re-armed without calling
//!   `handle_timeout`, as a real driver re-arming its sleep would do. An engine that asks to
//!   be woken at or before the instant it was just woken at (a *spin*, counted in
//!   [`NetStats::timer_spins`]) is woken after a back-off instead, 1 ms doubling up to
//!   [`SimConfig::spin_backoff_max`], since a virtual clock would otherwise never advance.
//! * **Invariants.** With [`SimConfig::check_invariants`], the routing table of the engine
//!   that just handled an input is checked after every step; a violation panics with the
//!   seed and step number.
//! * **Oracle.** [`Network::true_closest`] computes the true K closest live full nodes by
//!   brute force; [`Network::score`] compares a lookup result with it.
//!
//! # Determinism
//!
//! A run is a pure function of the [`SimConfig`] (including its seed) and of the sequence of
//! driver calls: engine randomness comes from per-node seeds, link fates and workload choices
//! from separate seeded streams, all maps that are iterated are ordered, and the queue breaks
//! time ties by insertion order. [`Network::trace_hash`] digests every delivered datagram
//! (time, source, destination, bytes), so two runs can be compared in one number.
//! Wall-clock time never enters the simulation.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sim::{Network, SimConfig};
//!
//! let mut net = Network::new(SimConfig::new(50, 7));
//! net.bootstrap_all();
//! net.run_for(Duration::from_secs(20));
//! let from = net.random_full_node();
//! let target = net.random_id();
//! let id = net.command(from, |e, now| e.find_node(now, target)).unwrap();
//! let done = net.wait_lookups(&[(from, id)], net.now() + Duration::from_secs(60));
//! let result = done[0].as_ref().expect("lookup finished");
//! assert!(net.score(from, result).ratio() > 0.5);
//! ```

#![warn(missing_docs)]

mod clock;
mod config;
mod link;
mod network;
mod oracle;
mod queue;
mod trace;
mod walk;

pub use clock::Clock;
pub use config::SimConfig;
pub use link::{Link, LinkConfig};
pub use network::{NetStats, Network, PORT, Step, derive_seed, node_addr, node_index};
pub use oracle::{Score, k_closest, score};
pub use queue::{EventQueue, Payload};
pub use trace::TraceHash;
pub use walk::{Bep51Walk, WalkStats};
