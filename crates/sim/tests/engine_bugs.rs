//! Open `dht` bugs found with the simulator, as minimal failing tests. They are `#[ignore]`d
//! so the suite stays green; run them with
//! `cargo test -p sim --test engine_bugs -- --ignored`. (Fixed ones move to
//! `engine_regressions.rs`.)

use std::time::{Duration, Instant};

use dht::Rate;
use dht::rate_limit::TokenBucket;

/// Bug 4: `TokenBucket::next_ready` can name an instant at which the bucket still has no
/// token.
///
/// `TokenBucket::next_ready` (crates/dht/src/rate_limit.rs) computes the wait as
/// `(1.0 - tokens) / per_second` seconds and converts it with `Duration::from_secs_f64`,
/// which truncates to whole nanoseconds; `refill` then adds `dt * per_second` in floating
/// point. At the returned instant the bucket can hold 0.99999999… tokens, so `try_take`
/// fails, and `next_ready` now returns `updated` itself (the remaining wait truncates to
/// 0 ns): an engine whose queued query waits on that bucket reports `poll_timeout() == now`
/// right after `handle_timeout(now)`. On a real clock this costs one or two extra wake-ups;
/// on the simulator's virtual clock it is, as far as we can tell, the remaining source of
/// `NetStats::timer_spins` (~150 per 300-node run, each delaying a query by one timer tick).
///
/// Fix: round the wait up (`Duration::from_nanos((wait * 1e9).ceil() as u64 + 1)`), and/or
/// compare with a tolerance in `ready`/`try_take` (`tokens >= 1.0 - 1e-9`); or keep the
/// tokens in integer nano-tokens so refills are exact.
#[test]
#[ignore = "dht bug: TokenBucket::next_ready can return an instant at which no token is ready"]
fn token_bucket_is_ready_at_next_ready() {
    // The engine's default per-IP query budget: 1/s, burst 4.
    let t0 = Instant::now();
    let rate = Rate {
        per_second: 1.0,
        burst: 4.0,
    };
    let mut b = TokenBucket::new(rate, t0);
    for _ in 0..4 {
        assert!(b.try_take(t0));
    }
    // Two early attempts refill the bucket in three floating-point steps...
    assert!(!b.try_take(t0 + Duration::from_millis(141)));
    assert!(!b.try_take(t0 + Duration::from_millis(428)));
    // ...so that at the promised instant (t0 + 1 s) it holds 0.999999999... tokens,
    let at = b.next_ready();
    assert_eq!(at, t0 + Duration::from_secs(1));
    let taken = b.try_take(at);
    // and, if it fails, it promises that same instant again: a spin.
    let again = b.next_ready();
    assert!(
        taken,
        "no token at next_ready() = t0 + {:?}; next_ready() is now t0 + {:?}",
        at - t0,
        again - t0
    );
}
