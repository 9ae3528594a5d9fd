//! A read-only crawler walks the network with BEP-51 `sample_infohashes`, following the
//! `nodes` of every reply and revisiting nodes that store more than one sample shows once
//! their advertised `interval` has passed, and collects (nearly) every stored infohash.

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use infohash::InfoHash;
use sim::Bep51Walk;

#[test]
fn bep51_walk_finds_stored_hashes() {
    let (seed, _seed) = common::seed("bep51_walk_finds_stored_hashes", 0x5eed_0004);
    let mut cfg = common::config(200, seed, 0.0);
    // A short sample interval so that revisits happen within the test.
    cfg.engine.sample_interval = Duration::from_secs(10);
    let mut net = common::bootstrapped(cfg, Duration::from_secs(20));
    // 70 nodes store 1..=10 infohashes each (one sample shows them all); 5 store 40 (two
    // samples' worth at least: the walk must come back after `interval`).
    let mut stored = BTreeSet::new();
    let peer = SocketAddr::from(([192, 0, 2, 1], 51413));
    let mut holders = BTreeSet::new();
    for h in 0..75 {
        let i = net.random_full_node();
        holders.insert(i);
        let count = if h < 5 {
            40
        } else {
            1 + (net.random_id().0[0] % 10) as usize
        };
        for _ in 0..count {
            let ih = InfoHash::from(net.random_id());
            stored.insert(ih);
            assert!(net.command(i, |e, now| e.add_local_peer(now, ih, peer, false)));
        }
    }
    let crawler = net.add_node(true);
    let routers = [net.random_full_node()];
    net.bootstrap_node(crawler, &routers);
    net.run_for(Duration::from_secs(5));
    let mut walk = Bep51Walk::new(&net, crawler, 16);
    let deadline = net.now() + Duration::from_secs(150);
    walk.run(&mut net, deadline);
    let found: BTreeSet<InfoHash> = walk.found().intersection(&stored).copied().collect();
    let coverage = found.len() as f64 / stored.len() as f64;
    let st = walk.stats();
    println!(
        "seed {seed}: coverage {:.1}% ({}/{} infohashes on {} nodes); walk saw {} of {} nodes, \
         {} queries, {} replies, {} failures, {} revisits; {:?} virtual",
        coverage * 100.0,
        found.len(),
        stored.len(),
        holders.len(),
        st.nodes_seen,
        net.len() - 1,
        st.queries,
        st.replies,
        st.failures,
        st.revisits,
        net.now()
    );
    assert_eq!(
        walk.found().len(),
        found.len(),
        "seed {seed}: hashes nobody stored"
    );
    assert!(coverage >= 0.98, "seed {seed}: coverage {:.3}", coverage);
    assert!(
        !net.engine(1)
            .routing_table()
            .iter()
            .any(|e| e.addr == net.addr(crawler))
    );
}
