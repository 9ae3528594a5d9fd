//! With invariant checking on, every routing table stays well-formed after every single
//! input, through bootstrap and lookups. A violation panics inside the simulator with the seed
//! and the step number.

use crate::common;

use std::time::Duration;

#[test]
fn invariants_hold_every_step() {
    let (seed, _seed) = common::seed("invariants_hold_every_step", 0x5eed_0002);
    let mut cfg = common::config(200, seed, 0.02);
    cfg.check_invariants = true;
    cfg.read_only_fraction = 0.05;
    let mut net = common::bootstrapped(cfg, Duration::from_secs(20));
    let results = common::lookups(&mut net, 20);
    // Some churn: a tenth of the nodes leave, lookups continue, they come back.
    let gone: Vec<usize> = (0..20).map(|_| net.random_full_node()).collect();
    for &i in &gone {
        net.set_online(i, false);
    }
    let during = common::lookups(&mut net, 20);
    for &i in &gone {
        net.set_online(i, true);
    }
    net.run_for(Duration::from_secs(30));
    let (exact, mean, _) = common::summary(&results);
    let (exact2, mean2, _) = common::summary(&during);
    println!(
        "seed {seed}: {} steps checked, {} messages; lookups exact {:.0}% (mean overlap {mean:.3}), \
         under churn exact {:.0}% (mean overlap {mean2:.3}); {:?}",
        net.stats().steps,
        net.messages_delivered(),
        exact * 100.0,
        exact2 * 100.0,
        net.stats()
    );
    for i in 0..net.len() {
        net.engine(i)
            .routing_table()
            .check_invariants()
            .unwrap_or_else(|v| panic!("seed {seed}: node {i} at the end: {v}"));
    }
    assert!(
        net.stats().steps > 50_000,
        "seed {seed}: too few steps to mean anything"
    );
}
