//! BEP-43: read-only nodes never enter anyone's routing table (nor replacement cache), yet
//! they bootstrap and complete lookups like anyone else.

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

#[test]
fn read_only_nodes_stay_out_of_tables() {
    let (seed, _seed) = common::seed("read_only_nodes_stay_out_of_tables", 0x5eed_0006);
    let mut cfg = common::config(200, seed, 0.0);
    cfg.read_only_fraction = 0.1;
    let mut net = common::bootstrapped(cfg, Duration::from_secs(20));
    let ro: Vec<usize> = (0..net.len()).filter(|&i| net.is_read_only(i)).collect();
    assert_eq!(ro.len(), 20, "seed {seed}");
    // Lookups from read-only and from full nodes.
    let from_ro = common::lookups_from(&mut net, &ro);
    let from_full = common::lookups(&mut net, 10);
    net.run_for(Duration::from_secs(10));
    let ro_addrs: BTreeSet<SocketAddr> = ro.iter().map(|&i| net.addr(i)).collect();
    let mut leaks = 0;
    for i in 0..net.len() {
        for b in net.engine(i).routing_table().buckets() {
            for e in b.nodes.iter().chain(&b.replacements) {
                if ro_addrs.contains(&e.addr) {
                    leaks += 1;
                    println!("seed {seed}: node {i} holds read-only {}", e.addr);
                }
            }
        }
    }
    let ro_answered: u64 = ro
        .iter()
        .map(|&i| net.engine(i).stats().queries_answered)
        .sum();
    let ro_table: usize = ro
        .iter()
        .map(|&i| net.engine(i).routing_table().len())
        .sum();
    let (exact, mean, _) = common::summary(&from_ro);
    let (exact_f, _, _) = common::summary(&from_full);
    println!(
        "seed {seed}: {} read-only nodes (mean table {}), lookups from them exact {:.0}% (mean \
         overlap {mean:.3}), from full nodes exact {:.0}%; {leaks} leaks",
        ro.len(),
        ro_table / ro.len(),
        exact * 100.0,
        exact_f * 100.0
    );
    assert_eq!(leaks, 0, "seed {seed}: read-only nodes in routing tables");
    assert_eq!(ro_answered, 0, "seed {seed}: a read-only node answered");
    assert!(
        exact >= 0.9,
        "seed {seed}: read-only lookups exact {:.2}",
        exact
    );
}
