//! Shared scenario helpers for the simulator tests.
#![allow(dead_code)]

use std::time::Duration;

use dht::LookupResult;
use sim::{LinkConfig, Network, Score, SimConfig};

/// The seed of the scenario `test`: `BITAGENT_TEST_SEED` if set (to replay a failure), else
/// `default`; hold the guard for the test's duration (it prints the seed if the test fails).
pub(crate) fn seed(test: &str, default: u64) -> (u64, testkit::SeedGuard) {
    let seed = testkit::rng::seed_or(default);
    (seed, testkit::SeedGuard::new(test, seed))
}

/// A config for `nodes` nodes with the given loss.
pub(crate) fn config(nodes: usize, seed: u64, loss: f64) -> SimConfig {
    let mut c = SimConfig::new(nodes, seed);
    c.link = LinkConfig {
        loss,
        ..LinkConfig::default()
    };
    c
}

/// Builds, bootstraps and lets the network settle for `settle` of virtual time.
pub(crate) fn bootstrapped(cfg: SimConfig, settle: Duration) -> Network {
    let mut net = Network::new(cfg);
    net.bootstrap_all();
    net.run_for(settle);
    net
}

/// Runs `count` `find_node` lookups for random targets from random full nodes, all at once,
/// and returns each (origin, result, score). Panics (with the seed) if one does not finish.
pub(crate) fn lookups(net: &mut Network, count: usize) -> Vec<(usize, LookupResult, Score)> {
    let origins: Vec<usize> = (0..count).map(|_| net.random_full_node()).collect();
    lookups_from(net, &origins)
}

/// One `find_node` lookup for a random target from each of `origins`, all at once.
pub(crate) fn lookups_from(
    net: &mut Network,
    origins: &[usize],
) -> Vec<(usize, LookupResult, Score)> {
    let seed = net.config().seed;
    let mut pending = Vec::new();
    for &from in origins {
        let target = net.random_id();
        let id = net
            .command(from, |e, now| e.find_node(now, target))
            .unwrap_or_else(|e| panic!("seed {seed}: find_node refused: {e}"));
        pending.push((from, id));
    }
    let deadline = net.now() + Duration::from_secs(120);
    let results = net.wait_lookups(&pending, deadline);
    pending
        .iter()
        .zip(results)
        .map(|(&(from, id), r)| {
            let r = r
                .unwrap_or_else(|| panic!("seed {seed}: lookup {id:?} from {from} never finished"));
            let s = net.score(from, &r);
            (from, r, s)
        })
        .collect()
}

/// (exact fraction, mean overlap ratio, min overlap ratio)
pub(crate) fn summary(results: &[(usize, LookupResult, Score)]) -> (f64, f64, f64) {
    let n = results.len().max(1) as f64;
    let exact = results.iter().filter(|r| r.2.exact).count() as f64 / n;
    let mean = results.iter().map(|r| r.2.ratio()).sum::<f64>() / n;
    let min = results.iter().map(|r| r.2.ratio()).fold(1.0, f64::min);
    (exact, mean, min)
}
