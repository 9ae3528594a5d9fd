//! The virtual clock: one real [`Instant`] captured at start plus a virtual offset.
//!
//! Engines only ever subtract instants from each other, so the absolute value of the base
//! never influences a run; everything the simulator schedules is expressed as a [`Duration`]
//! since the base, which makes runs reproducible.

use std::time::{Duration, Instant};

/// Virtual time: `base + now`, advanced only by the event loop.
#[derive(Debug, Clone)]
pub struct Clock {
    base: Instant,
    now: Duration,
}

impl Clock {
    /// A clock at virtual time zero.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            now: Duration::ZERO,
        }
    }

    /// Virtual time elapsed since the start.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The current virtual time as an `Instant` for the engines.
    pub fn instant(&self) -> Instant {
        self.base + self.now
    }

    /// The virtual offset of an `Instant` handed back by an engine (clamped at zero).
    pub fn offset_of(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.base)
    }

    /// Moves time forward to `t`. Time never goes backwards.
    pub fn advance_to(&mut self, t: Duration) {
        debug_assert!(
            t >= self.now,
            "clock went backwards: {t:?} < {:?}",
            self.now
        );
        self.now = self.now.max(t);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
