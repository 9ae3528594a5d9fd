//! Regression tests for `dht::Engine` bugs found with the simulator (bugs 1–3 fixed in
//! 79ac575, "Fix three engine bugs the simulator found"; bug 4 fixed in the commit that
//! rounds `TokenBucket::next_ready` up).
//!
//! Bugs 1 and 2 were the same contract violation: right after `handle_timeout(now)`,
//! `poll_timeout()` returned an instant `<= now` although the engine could do nothing at
//! `now`. A driver that sleeps until `poll_timeout()` (the `net` crate, or tokio's
//! `sleep_until`) then wakes at once, calls `handle_timeout`, gets the same answer and spins at
//! 100% CPU until the condition clears by itself (up to 1 s for bug 1, up to `query_timeout -
//! lookup_slow_after` = 3 s per unanswered lookup query for bug 2). In a 300-node simulation
//! that was ~240,000 useless wake-ups per 37 virtual seconds (`NetStats::timer_spins`).
//! Bug 3 left a node whose bootstrap was lost nearly isolated for half an hour.

use std::time::{Duration, Instant};

use dht::Rate;
use dht::rate_limit::TokenBucket;
use sim::{Network, SimConfig};

/// Bug 1 (before 79ac575): a queued maintenance ping whose destination has used up its per-IP budget.
///
/// `Engine::poll_timeout` (crates/dht/src/engine.rs, the `if !self.pending.is_empty() ||
/// !self.to_ping.is_empty()` block) only looks at the global budget and the per-IP budget of
/// `pending.front()`. When `pending` is empty and `to_ping.front()`'s IP has no token,
/// `flush_pending` stops ("Maintenance pings use leftover budget only" loop: `!out_ip.ready`
/// → break) but `poll_timeout` returns `out_global.next_ready()`, which is the last refill
/// time, i.e. `now`.
///
/// Fixed in 79ac575; the fix proposed was: when `pending` is empty, take `when = when.max(out_ip.next_ready(to_ping.front().ip()))`
/// (and only count `to_ping` at all while `txns.len() < max_transactions / 2`; likewise only
/// count `pending` while `txns.len() < max_transactions`, since otherwise nothing can be sent
/// before a transaction ends, which the transaction deadlines and incoming datagrams cover).
#[test]
fn poll_timeout_spins_on_rate_limited_maintenance_ping() {
    let seed = 11;
    let mut net = Network::new(SimConfig::new(3, seed));
    let (a, b, c) = (0, 1, 2);
    // C learns B.
    net.bootstrap_node(c, &[b]);
    net.run_for(Duration::from_secs(1));
    assert!(net.engine(c).routing_table().len() == 1, "seed {seed}");
    // B goes silent; A uses up its per-IP budget for B (burst 4) with pings that will time out.
    net.set_online(b, false);
    let b_addr = net.addr(b);
    for _ in 0..4 {
        net.command(a, |e, now| e.ping(now, b_addr)).unwrap();
    }
    // A asks C, whose answer names B: A would like to ping B (room in its table) but may not
    // before B's IP earns a token again (~1 s).
    let c_addr = net.addr(c);
    let target = net.random_id();
    net.command(a, |e, now| e.find_node_at(now, c_addr, target))
        .unwrap();
    net.run_for(Duration::from_millis(200));
    let now = net.instant();
    net.command(a, |e, now| e.handle_timeout(now));
    let next = net.engine(a).poll_timeout().unwrap();
    assert!(
        next > now,
        "seed {seed}: after handle_timeout(now) the engine asks to be woken {:?} before now",
        now - next
    );
}

/// Bug 2 (before 79ac575): a lookup query that has turned slow but not yet timed out.
///
/// `Lookup::next_slow` (crates/dht/src/lookup.rs) returns `min(sent + slow_after)` over all
/// in-flight candidates, including those already slow. Once a query has been outstanding for
/// `lookup_slow_after` (1 s), `Engine::poll_timeout` (crates/dht/src/engine.rs, `for l in
/// self.lookups.values() { min(l.next_slow(..)) }`) returns that past instant until the query
/// times out (`query_timeout`, 4 s).
///
/// Fixed in 79ac575; the fix proposed was: let `next_slow` skip candidates already slow as of the lookup's last step (e.g. record
/// `now` in `Lookup::next_queries` and filter `sent + slow_after > last_step`): their turning
/// slow has already been acted upon, and their timeout is covered by the transaction
/// deadline.
#[test]
fn poll_timeout_spins_on_slow_lookup_query() {
    let seed = 12;
    let mut net = Network::new(SimConfig::new(2, seed));
    let (a, b) = (0, 1);
    net.bootstrap_node(a, &[b]);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.engine(a).routing_table().len(), 1, "seed {seed}");
    // B goes silent; A's lookup asks B, which never answers.
    net.set_online(b, false);
    let target = net.random_id();
    net.command(a, |e, now| e.find_node(now, target)).unwrap();
    net.run_for(Duration::from_millis(1500));
    // Our lookup (and possibly some of the join's, throttled by B's budget) still runs.
    assert!(net.engine(a).active_lookups() >= 1, "seed {seed}");
    let now = net.instant();
    net.command(a, |e, now| e.handle_timeout(now));
    let next = net.engine(a).poll_timeout().unwrap();
    assert!(
        next > now,
        "seed {seed}: after handle_timeout(now) the engine asks to be woken {:?} before now",
        now - next
    );
}

/// Bug 3 (before 79ac575): a node whose bootstrap got no answer never bootstraps again once its table holds a
/// single contact.
///
/// `Engine::maintenance` (crates/dht/src/engine.rs, "An empty table with nothing running: go
/// back to the routers") re-bootstraps only while `table.is_empty()`. If every bootstrap
/// query is lost, the bootstrap lookup ends with `responses: 0` (and the refreshes it
/// triggers finish at once with nobody to ask, doubling every bucket's refresh interval). If
/// one node then happens to query us before the next maintenance tick, we ping it back and
/// keep it: the table is no longer empty, so maintenance never goes back to the routers, and
/// nothing widens the table until a bucket refresh falls due, 30 minutes later. With 10%
/// loss, about 0.19^3 = 0.7% of the nodes joining through three routers lose every bootstrap
/// query (seen in `lossy_network`: a node with a 1-entry table whose lookups found nothing).
///
/// Fixed in 79ac575; the fix proposed was: in `maintenance`, also re-bootstrap (from the remembered routers plus the table's
/// contacts, which `bootstrap` already merges) while `table.len() < k` and no bootstrap is
/// running, with a backoff (e.g. doubling from `maintenance_interval` up to
/// `bucket_refresh`) so that a genuinely tiny network is not hammered; and do not count a
/// refresh that had nobody to ask as a "silent segment".
#[test]
fn failed_bootstrap_is_retried_when_table_is_nearly_empty() {
    let seed = 13;
    let mut net = Network::new(SimConfig::new(30, seed));
    net.bootstrap_all();
    net.run_for(Duration::from_secs(20));
    let (router, helper) = (3, 7);
    // The newcomer's only router is unreachable: its bootstrap fails after the query timeout.
    let newcomer = net.add_node(false);
    net.set_online(router, false);
    net.bootstrap_node(newcomer, &[router]);
    net.run_for(Duration::from_millis(4500));
    assert_eq!(
        net.engine(newcomer).active_lookups(),
        0,
        "seed {seed}: bootstrap over"
    );
    assert!(
        net.engine(newcomer).routing_table().is_empty(),
        "seed {seed}"
    );
    // Before the next maintenance tick, one node happens to reach the newcomer, which pings
    // it back and keeps it. The router is back too.
    let a = net.addr(newcomer);
    net.command(helper, |e, now| e.ping(now, a)).unwrap();
    net.set_online(router, true);
    net.run_for(Duration::from_millis(400));
    assert_eq!(net.engine(newcomer).routing_table().len(), 1, "seed {seed}");
    // A minute later the newcomer should know a fair share of the 30 nodes.
    net.run_for(Duration::from_secs(60));
    let len = net.engine(newcomer).routing_table().len();
    assert!(
        len >= 10,
        "seed {seed}: newcomer still knows only {len} node(s) after a minute"
    );
}

/// Bug 4 (fixed): `TokenBucket::next_ready` could name an instant at which the bucket still has no
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
    assert!(
        at >= t0 + Duration::from_secs(1) && at <= t0 + Duration::from_millis(1001),
        "next_ready() = t0 + {:?}",
        at - t0
    );
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
