//! After bootstrap, iterative `find_node` lookups return exactly the true K closest nodes.

use crate::common;

use std::time::{Duration, Instant};

#[test]
fn lookups_converge() {
    let (seed, _seed) = common::seed("lookups_converge", 0x5eed_0001);
    let wall = Instant::now();
    let mut net = common::bootstrapped(common::config(300, seed, 0.0), Duration::from_secs(30));
    let results = common::lookups(&mut net, 20);
    let (exact, mean, min) = common::summary(&results);
    println!(
        "seed {seed}: {} lookups, exact {:.1}%, mean overlap {:.3}, min overlap {:.3}; \
         {} messages, {:?} virtual, {:?} wall",
        results.len(),
        exact * 100.0,
        mean,
        min,
        net.messages_delivered(),
        net.now(),
        wall.elapsed()
    );
    println!("{:?}", net.stats());
    for (from, r, s) in &results {
        if !s.exact {
            println!(
                "  inexact: from {from} target {} overlap {}/{} queries {} responses {}",
                r.target, s.overlap, s.expected, r.queries, r.responses
            );
        }
    }
    assert!(
        exact >= 0.95,
        "seed {seed}: only {:.1}% of lookups exact",
        exact * 100.0
    );
}
